import assert from 'node:assert/strict';
import { closeSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SPARE_FILES, SpareFiles } from '../../src/receive/spool/spare-files.js';

const settle = async (dir: string, want: number) => {
  for (let i = 0; i < 200 && (await readdir(dir)).length !== want; i++) await new Promise((r) => setTimeout(r, 5));
};

describe('SpareFiles', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'interslice-spares-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('hands out a new empty file when none is ready, and makes spares in the background', async () => {
    const d = join(dir, 'a');
    await mkdir(d);
    const spares = new SpareFiles(d);
    const first = spares.take();
    assert.equal((await stat(first.path)).size, 0);
    writeSync(first.fd, Buffer.from('data'));
    closeSync(first.fd);
    assert.equal(await readFile(first.path, 'latin1'), 'data');
    spares.refill();
    await settle(d, 1 + SPARE_FILES);
    assert.equal((await readdir(d)).length, 1 + SPARE_FILES);
    const taken = [spares.take(), spares.take()];
    assert.notEqual(taken[0].path, taken[1].path);
    for (const t of taken) {
      assert.equal((await stat(t.path)).size, 0, 'a spare is empty');
      closeSync(t.fd);
    }
    spares.close();
  });

  it('close removes the ready spares and any still being made', async () => {
    const d = join(dir, 'b');
    await mkdir(d);
    const spares = new SpareFiles(d, 3);
    spares.refill();
    await settle(d, 3);
    spares.refill(); // nothing to do: full
    assert.equal((await readdir(d)).length, 3);
    spares.take(); // one left open by the caller, two ready
    spares.refill(); // one in flight
    spares.close();
    await settle(d, 1);
    assert.equal((await readdir(d)).length, 1, 'only the file the caller took remains');
    spares.refill();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await readdir(d)).length, 1, 'no spares after close');
  });

  it('a folder that is gone: refill fails quietly, take reports the error', async () => {
    const spares = new SpareFiles(join(dir, 'missing'));
    spares.refill();
    await new Promise((r) => setTimeout(r, 50));
    assert.throws(() => spares.take(), /ENOENT/);
  });
});
