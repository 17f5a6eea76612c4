// The clustered outbox end to end: two processes share a PgOutboxStore on a real PostgreSQL and
// send to a real storescp. One (a child process) claims the entry, sends part of it and is
// SIGKILLed mid-send; the other takes the entry over once its lease has run out and sends every
// file not recorded as acknowledged. Every file arrives at least once, byte-identical.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import winston from 'winston';
import { openDb, type Db } from '../../src/cluster/db.js';
import { PgOutboxStore } from '../../src/cluster/pg-outbox-store.js';
import { readPart10, str } from '../../src/dicom/dcmjs.js';
import { sendFiles } from '../../src/send/destination.js';
import { Outbox, type OutboxDestination } from '../../src/send/outbox.js';
import { datasetBytes, MR_DIR, startStorescp, type Storescp } from '../helpers/peers.js';
import { noPostgres, startPostgres, type Postgres } from '../helpers/postgres.js';
import { ROOT, until } from '../helpers/serve.js';
import type { WorkerArgs } from '../helpers/outbox-worker.js';

const quiet = winston.createLogger({ silent: true });
const PCASL = join(MR_DIR, 'philips-pcasl-oblique-4mm');
const sopUid = async (f: string) => str((await readPart10(f, { headerOnly: true })).dataset.SOPInstanceUID)!;

describe('clustered outbox: a sender SIGKILLed mid-send is taken over', { skip: noPostgres() }, () => {
  let work: string;
  let pg: Postgres;
  let db: Db;
  let pacs: Storescp;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'interslice-outbox-cluster-'));
    pg = await startPostgres();
    db = openDb(pg.url, quiet);
    pacs = await startStorescp(await mkdtemp(join(work, 'pacs-')), { aeTitle: 'PACS', args: ['+B'] }); // +B: stores the bytes received
  });
  after(async () => {
    await pacs?.stop();
    await db?.close();
    await pg?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  it('delivers every file at least once, identical, after the first sender dies', async () => {
    const files = (await readdir(PCASL)).filter((f) => f.endsWith('.dcm')).sort().slice(0, 8).map((f) => join(PCASL, f));
    const destination: OutboxDestination = { name: 'pacs', aeTitle: 'PACS', host: '127.0.0.1', port: pacs.port, callingAeTitle: 'INTERSLICE' };
    const calls: string[][] = [];
    const survivor = new Outbox({
      store: new PgOutboxStore(db), destinations: [destination], log: quiet, pollMs: 50, leaseMs: 1000,
      send: async (d, f) => {
        calls.push(f);
        return sendFiles(d, f);
      },
    });
    await survivor.enqueue('1.2.840.99.1', files, ['pacs']);

    const args: WorkerArgs = { url: pg.url, destination, leaseMs: 1000, before: 3 };
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/outbox-worker.ts'), JSON.stringify(args)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.once('exit', r));
    await until(() => out.includes('acknowledged'), 30_000, `the worker's partial send: ${out}`);
    const acknowledged = (JSON.parse(out.trim().split('\n').find((l) => l.includes('acknowledged'))!) as { acknowledged: string[] }).acknowledged;
    assert.deepEqual(acknowledged, files.slice(0, 3));
    const [held] = await survivor.list();
    assert.equal(held.state, 'sending');
    assert.notEqual(held.lease, undefined);

    survivor.start(); // waits for the lease: the worker is alive and renews it
    child.kill('SIGKILL');
    await exited;
    await until(async () => (await survivor.list())[0].state === 'done', 30_000, 'taken over and delivered');
    await survivor.stop();

    // Nothing was recorded as acknowledged by the dead worker: the survivor sent all of it again.
    assert.deepEqual(calls, [files]);
    const [entry] = await survivor.list();
    assert.equal(entry.sent.length, files.length);
    const received = new Map<string, string>();
    for (const n of await readdir(pacs.outDir)) received.set(await sopUid(join(pacs.outDir, n)), join(pacs.outDir, n));
    for (const f of files) {
      const got = received.get(await sopUid(f));
      assert.ok(got, `${f} arrived`);
      assert.ok(datasetBytes(got).equals(datasetBytes(f)), `${f} arrived identical`);
    }
  });
});
