// storeFiles / echo / Outbox against a real DCMTK storescp playing the PACS.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import winston from 'winston';
import { readPart10 } from '../../src/dicom/dcmjs.js';
import { backoffDelay, Outbox, type OutboxDestination } from '../../src/send/outbox.js';
import { echo, storeFiles } from '../../src/send/scu.js';
import { sendFiles } from '../../src/send/destination.js';
import { datasetBytes, freePort, MR_DIR, startStorescp, type Storescp } from '../helpers/peers.js';

const HOST = '127.0.0.1';
const PCASL = join(MR_DIR, 'philips-pcasl-oblique-4mm');
const quiet = winston.createLogger({ silent: true });

async function sources(n: number): Promise<string[]> {
  return (await readdir(PCASL)).filter((f) => f.endsWith('.dcm')).sort().slice(0, n).map((f) => join(PCASL, f));
}

async function sopUids(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const uids = await Promise.all(names.map(async (n) => String((await readPart10(join(dir, n), { headerOnly: true })).dataset.SOPInstanceUID)));
  return uids.sort();
}

async function expectedUids(files: string[]): Promise<string[]> {
  return (await Promise.all(files.map(async (f) => String((await readPart10(f, { headerOnly: true })).dataset.SOPInstanceUID)))).sort();
}

describe('C-STORE / C-ECHO SCU and the outbox with DCMTK storescp', () => {
  let dir: string;
  const peers: Storescp[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'interslice-send-'));
  });
  after(async () => {
    for (const p of peers) await p.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function pacs(name: string, port?: number, args?: string[]): Promise<Storescp> {
    const out = join(dir, name);
    await mkdir(out, { recursive: true });
    const p = await startStorescp(out, { aeTitle: 'PACS', port, args });
    peers.push(p);
    return p;
  }

  it('sends a batch in one association and storescp stores every file', async () => {
    const p = await pacs('batch', undefined, ['+B']); // bit-preserving: writes what it received
    const files = await sources(10);
    const results = await storeFiles({ aeTitle: 'PACS', host: HOST, port: p.port, callingAeTitle: 'INTERSLICE' }, files);
    assert.deepEqual(results.map((r) => r.ok), files.map(() => true), JSON.stringify(results));
    assert.ok(results.every((r) => r.status === 0));
    assert.deepEqual(await sopUids(p.outDir), await expectedUids(files));
    // Sent as stored: storescp's files hold the very dataset bytes (private tags included).
    for (const f of files) {
      const uid = String((await readPart10(f, { headerOnly: true })).dataset.SOPInstanceUID);
      const got = (await readdir(p.outDir)).find((n) => n.endsWith(uid));
      assert.ok(got, uid);
      assert.ok(datasetBytes(join(p.outDir, got)).equals(datasetBytes(f)), `dataset bytes of ${f}`);
    }
  });

  it('reports a per-file failure when nobody listens, without throwing', async () => {
    const port = await freePort();
    const files = await sources(2);
    const results = await storeFiles({ aeTitle: 'PACS', host: HOST, port, callingAeTitle: 'INTERSLICE' }, [...files, join(dir, 'missing.dcm')]);
    assert.ok(results.every((r) => !r.ok && r.error));
    assert.match(results[2].error!, /cannot read/);
  });

  it('echoes', async () => {
    const p = await pacs('echo');
    assert.deepEqual(await echo(HOST, p.port, { callingAeTitle: 'INTERSLICE', calledAeTitle: 'PACS' }), { ok: true, status: 0 });
    const down = await echo(HOST, await freePort(), { callingAeTitle: 'INTERSLICE', calledAeTitle: 'PACS' });
    assert.equal(down.ok, false);
    assert.ok(down.error);
  });

  it('backoff grows by the factor and stops at the cap', () => {
    const b = { baseMs: 100, factor: 3, maxMs: 1000 };
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(n, b)), [100, 300, 900, 1000]);
  });

  it('outbox retries while the PACS is down, survives a restart, delivers once it is up', async () => {
    const port = await freePort();
    const outDir = join(dir, 'late');
    await mkdir(outDir, { recursive: true });
    const dest: OutboxDestination = { name: 'pacs', aeTitle: 'PACS', host: HOST, port, callingAeTitle: 'INTERSLICE' };
    const backoff = { baseMs: 50, factor: 2, maxMs: 200, maxAttempts: 50 };
    const files = await sources(5);
    const outboxDir = join(dir, 'outbox-late');

    const first = new Outbox({ dir: outboxDir, destinations: [dest], log: quiet, backoff });
    await first.enqueue('1.2.3.4', files, ['pacs']);
    await first.drain();
    let [entry] = await first.list();
    assert.equal(entry.state, 'queued');
    assert.equal(entry.attempts, 1);
    assert.match(entry.lastError ?? '', /5 of 5 failed/);
    assert.ok(entry.nextAttemptAt > Date.now() - 1000);
    await first.stop();

    // A new Outbox on the same directory (a restart) sees the entry and its attempts.
    const second = new Outbox({ dir: outboxDir, destinations: [dest], log: quiet, backoff, pollMs: 20 });
    [entry] = await second.list();
    assert.equal(entry.state, 'queued');
    assert.equal(entry.attempts, 1);

    const p = await pacs('late', port);
    assert.equal(p.outDir, outDir);
    second.start();
    const deadline = Date.now() + 10_000;
    while ((await second.list())[0].state !== 'done') {
      assert.ok(Date.now() < deadline, 'delivered in time');
      await new Promise((r) => setTimeout(r, 50));
    }
    await second.stop();
    [entry] = await second.list();
    assert.equal(entry.sent.length, 5);
    assert.equal(entry.lastError, undefined);
    assert.deepEqual(await sopUids(outDir), await expectedUids(files));
  });

  it('re-sends only what failed', async () => {
    const p = await pacs('partial');
    const files = await sources(3);
    const missing = join(dir, 'not-yet.dcm');
    const calls: string[][] = [];
    const dest: OutboxDestination = { name: 'pacs', aeTitle: 'PACS', host: HOST, port: p.port, callingAeTitle: 'INTERSLICE' };
    const outbox = new Outbox({
      dir: join(dir, 'outbox-partial'),
      destinations: [dest],
      log: quiet,
      backoff: { baseMs: 1, maxAttempts: 2 },
      send: async (d, f) => {
        calls.push(f);
        return sendFiles(d, f);
      },
    });
    await outbox.enqueue('1.2.3.5', [...files, missing], ['pacs']);
    await outbox.drain();
    await new Promise((r) => setTimeout(r, 5));
    await outbox.drain();
    assert.equal(calls.length, 2);
    assert.equal(calls[0].length, 4);
    assert.deepEqual(calls[1], [missing]);
    const [entry] = await outbox.list();
    assert.equal(entry.state, 'dead');
    assert.equal(entry.attempts, 2);
    assert.equal(entry.sent.length, 3);
    assert.match(entry.lastError ?? '', /cannot read/);
  });

  it('goes dead after maxAttempts and stays listed', async () => {
    const dest: OutboxDestination = { name: 'pacs', aeTitle: 'PACS', host: HOST, port: await freePort(), callingAeTitle: 'INTERSLICE' };
    const outboxDir = join(dir, 'outbox-dead');
    const outbox = new Outbox({ dir: outboxDir, destinations: [dest], log: quiet, backoff: { baseMs: 1, maxMs: 5, maxAttempts: 3 } });
    await outbox.enqueue('1.2.3.6', await sources(1), ['pacs']);
    for (let i = 0; i < 3; i++) {
      await outbox.drain();
      await new Promise((r) => setTimeout(r, 10));
    }
    const [entry] = await outbox.list();
    assert.equal(entry.state, 'dead');
    assert.equal(entry.attempts, 3);
    assert.ok(entry.lastError);
    // Still dead (and visible) after a restart.
    const again = new Outbox({ dir: outboxDir, destinations: [dest], log: quiet });
    assert.equal((await again.list())[0].state, 'dead');
  });
});
