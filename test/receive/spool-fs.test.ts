import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import winston from 'winston';
import { readPart10, SopClass, TransferSyntax } from '../../src/dicom/dcmjs.js';
import { FsSpool, OutOfSpaceError, uidFileName } from '../../src/receive/spool/spool-fs.js';
import type { SpoolInput } from '../../src/core/seams.js';
import { datasetBytes, MR_DIR } from '../helpers/peers.js';
import { tempLeftovers } from '../helpers/spool.js';

const SOURCE = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');

describe('FsSpool', () => {
  let dir: string;
  let src: string;
  let input: () => SpoolInput;
  const warnings: string[] = [];
  const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
  log.on('data', (i: { event?: string }) => i.event && warnings.push(i.event));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'interslice-spool-'));
    src = join(SOURCE, (await readdir(SOURCE)).sort()[0]);
    const { dataset } = await readPart10(src, { headerOnly: true });
    input = () => ({
      studyInstanceUid: dataset.StudyInstanceUID,
      seriesInstanceUid: dataset.SeriesInstanceUID,
      sopInstanceUid: dataset.SOPInstanceUID,
      sopClassUid: SopClass.MRImageStorage,
      transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
      // Streamed in small chunks, as the network delivers it.
      dataset: Readable.from(chunks(datasetBytes(src), 1000)),
      callingAeTitle: 'MODALITY',
    });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  function* chunks(b: Buffer, n: number) {
    for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
  }

  it('writes a Part-10 file under study/series/sop and lists it', async () => {
    const spool = new FsSpool({ root: join(dir, 'a'), log });
    const i = input();
    const r = await spool.store(i);
    assert.equal(r.duplicate, false);
    assert.equal(r.path, join(dir, 'a', i.studyInstanceUid, i.seriesInstanceUid, `${i.sopInstanceUid}.dcm`));
    assert.ok(datasetBytes(r.path).equals(datasetBytes(src)));
    assert.equal(r.bytes, (await readFile(r.path)).length);
    const parsed = await readPart10(r.path);
    assert.equal(parsed.meta.SourceApplicationEntityTitle, 'MODALITY');
    assert.deepEqual(await spool.listSeries(i.studyInstanceUid, i.seriesInstanceUid), [r.path]);
    assert.deepEqual(await tempLeftovers(join(dir, 'a')), []);
  });

  it('keeps one copy of a resend and says duplicate', async () => {
    const spool = new FsSpool({ root: join(dir, 'b'), log });
    const [first, second, third] = await Promise.all([spool.store(input()), spool.store(input()), spool.store(input())]);
    assert.equal([first, second, third].filter((r) => !r.duplicate).length, 1, 'exactly one stored even when concurrent');
    assert.equal(first.path, second.path);
    const i = input();
    assert.equal((await spool.listSeries(i.studyInstanceUid, i.seriesInstanceUid)).length, 1);
    // A new process sees the stored copy too.
    assert.equal((await new FsSpool({ root: join(dir, 'b'), log }).store(input())).duplicate, true);
  });

  it('keeps the same SOP UID in another series as a separate instance and warns', async () => {
    const spool = new FsSpool({ root: join(dir, 'c'), log });
    await spool.store(input());
    const other = await spool.store({ ...input(), seriesInstanceUid: '1.2.3.999' });
    assert.equal(other.duplicate, false);
    assert.ok(warnings.includes('spool-sop-uid-conflict'));
    assert.equal((await spool.listSeries(input().studyInstanceUid, '1.2.3.999')).length, 1);
  });

  it('hashes UIDs that are not safe as file names', () => {
    assert.equal(uidFileName('1.2.840.113619.2'), '1.2.840.113619.2');
    for (const bad of ['../../etc', '1.2/3', '..', '', 'x'.repeat(10)]) assert.match(uidFileName(bad), /^h[0-9a-f]{40}$/);
  });

  it('removes a series', async () => {
    const spool = new FsSpool({ root: join(dir, 'd'), log });
    const i = input();
    await spool.store(i);
    await spool.removeSeries(i.studyInstanceUid, i.seriesInstanceUid);
    assert.deepEqual(await spool.listSeries(i.studyInstanceUid, i.seriesInstanceUid), []);
    assert.equal((await spool.store(input())).duplicate, false);
  });

  it('leaves nothing behind when the stream fails mid-way', async () => {
    const spool = new FsSpool({ root: join(dir, 'e'), log });
    const failing = new Readable({ read() {} });
    // On a loaded machine the spool may start reading after the destroy: the error must then
    // reach store() through the stream, not the process as an unhandled 'error' event.
    failing.on('error', () => undefined);
    failing.push(Buffer.alloc(100));
    setTimeout(() => failing.destroy(new Error('association aborted')), 10);
    await assert.rejects(spool.store({ ...input(), dataset: failing }), /aborted/);
    assert.deepEqual(await tempLeftovers(join(dir, 'e')), []);
    const i = input();
    assert.deepEqual(await spool.listSeries(i.studyInstanceUid, i.seriesInstanceUid), []);
  });

  it('writes a batch of more buffers than one writev call takes (IOV_MAX) in full', async () => {
    const spool = new FsSpool({ root: join(dir, 'g'), log });
    const bytes = datasetBytes(src);
    const parts = [...chunks(bytes, Math.ceil(bytes.length / 3000))];
    assert.ok(parts.length > 2048);
    const r = await spool.store({ ...input(), dataset: (async function* () { yield parts; })() });
    assert.ok(datasetBytes(r.path).equals(bytes));
    assert.equal(r.bytes, (await readFile(r.path)).length);
  });

  it('flushes blocking when alone, in the thread pool beside other stores or after a slow flush', async () => {
    const spool = new FsSpool({ root: join(dir, 'h'), log });
    const one = (uid: string) => spool.store({ ...input(), sopInstanceUid: uid });
    await one('1.2.3.1');
    assert.deepEqual(spool.flushes, { blocking: 1, pool: 0 });
    await Promise.all([one('1.2.3.2'), one('1.2.3.3'), one('1.2.3.4')]);
    assert.ok(spool.flushes.pool >= 2, `concurrent stores flushed in the pool: ${JSON.stringify(spool.flushes)}`);
    // Every blocking flush counts as slow here: the next store, alone, still goes to the pool.
    const slow = new FsSpool({ root: join(dir, 'i'), log, slowFlushMs: 0 });
    await slow.store({ ...input(), sopInstanceUid: '1.2.3.5' });
    await slow.store({ ...input(), sopInstanceUid: '1.2.3.6' });
    assert.deepEqual(slow.flushes, { blocking: 1, pool: 1 });
    const i = input();
    assert.equal((await slow.listSeries(i.studyInstanceUid, i.seriesInstanceUid)).length, 2);
    assert.equal((await spool.listSeries(i.studyInstanceUid, i.seriesInstanceUid)).length, 4);
  });

  it('keeps spare temp files ready after a store and removes them on close', async () => {
    const spool = new FsSpool({ root: join(dir, 'j'), log });
    await spool.store(input());
    const incoming = join(dir, 'j', '.incoming');
    for (let i = 0; i < 100 && (await readdir(incoming)).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await readdir(incoming)).length, 2, 'two spares made in the background');
    assert.deepEqual(await tempLeftovers(join(dir, 'j')), []);
    spool.close();
    assert.deepEqual(await readdir(incoming), []);
    // Still stores after close (without spares).
    assert.equal((await spool.store({ ...input(), sopInstanceUid: '1.2.3.7' })).duplicate, false);
    assert.deepEqual(await readdir(incoming), []);
  });

  it('refuses below the free-space watermark', async () => {
    const spool = new FsSpool({ root: join(dir, 'f'), log, minFreeBytes: Number.MAX_SAFE_INTEGER });
    await assert.rejects(spool.store(input()), OutOfSpaceError);
  });
});
