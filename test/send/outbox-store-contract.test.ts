// One contract for both outbox stores: FsOutboxStore (the manifests on disk, one process) and
// PgOutboxStore (a real throw-away PostgreSQL, shared by the processes of a cluster). Two
// "processes" are two Outbox objects: on the one FsOutboxStore, or each on its own
// PgOutboxStore and connection pool over the same database. Sends go to a real storescp.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import winston from 'winston';
import { openDb, type Db } from '../../src/cluster/db.js';
import { PgOutboxStore } from '../../src/cluster/pg-outbox-store.js';
import { sopRefsOf } from '../../src/send/commitment.js';
import { sendFiles } from '../../src/send/destination.js';
import { FsOutboxStore, Outbox, type OutboxDestination, type OutboxEntry, type OutboxOptions, type OutboxStore } from '../../src/send/outbox.js';
import { MR_DIR, startStorescp, type Storescp } from '../helpers/peers.js';
import { noPostgres, startPostgres, type Postgres } from '../helpers/postgres.js';
import { until } from '../helpers/serve.js';

const quiet = winston.createLogger({ silent: true });
const PCASL = join(MR_DIR, 'philips-pcasl-oblique-4mm');

/** A fresh, empty outbox world; open() is the store as one more process sees it. */
interface World {
  open(): OutboxStore;
  close(): Promise<void>;
}

interface Harness {
  name: string;
  skip?: string;
  world(): Promise<World>;
}

let scratch: string;
let pg: Postgres | undefined;

const harnesses: Harness[] = [
  {
    name: 'FsOutboxStore',
    async world() {
      const store = new FsOutboxStore(await mkdtemp(join(scratch, 'fs-')), quiet);
      return { open: () => store, close: async () => undefined };
    },
  },
  {
    name: 'PgOutboxStore',
    skip: noPostgres(),
    async world() {
      pg ??= await startPostgres();
      const url = await pg.createDatabase();
      const pools: Db[] = [];
      return {
        open() {
          const db = openDb(url, quiet);
          pools.push(db);
          return new PgOutboxStore(db);
        },
        close: async () => void (await Promise.all(pools.map((d) => d.close()))),
      };
    },
  },
];

let pacs: Storescp;
let files: string[];
let dest: OutboxDestination & { kind?: 'dimse' };

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'interslice-outbox-contract-'));
  pacs = await startStorescp(await mkdtemp(join(scratch, 'pacs-')), { aeTitle: 'PACS' });
  dest = { name: 'pacs', aeTitle: 'PACS', host: '127.0.0.1', port: pacs.port, callingAeTitle: 'INTERSLICE' };
  files = (await readdir(PCASL)).filter((f) => f.endsWith('.dcm')).sort().slice(0, 6).map((f) => join(PCASL, f));
});

after(async () => {
  await pacs?.stop();
  await pg?.destroy();
  await rm(scratch, { recursive: true, force: true });
});

function entry(id: string, o: Partial<OutboxEntry> = {}): OutboxEntry {
  const now = Date.now();
  return { id, seriesId: id, destination: 'pacs', files: files.slice(0, 2), sent: [], state: 'queued', attempts: 0, nextAttemptAt: now, createdAt: now, updatedAt: now, ...o };
}

/** Sends through sendFiles to the storescp, recording each call's files. */
function recordingSend(calls: string[][]): OutboxOptions['send'] {
  return async (d, f) => {
    calls.push(f);
    return sendFiles(d, f);
  };
}

function outbox(store: OutboxStore, o: Partial<OutboxOptions> = {}): Outbox {
  return new Outbox({ store, destinations: [dest], log: quiet, backoff: { baseMs: 50, maxMs: 200 }, pollMs: 20, ...o });
}

interface Gate {
  /** Resolves when the gated send has been called. */
  entered: Promise<void>;
  open(): void;
  send: NonNullable<OutboxOptions['send']>;
}

/** A send whose first call waits for open() (a sender busy on its association); the rest go straight through. */
function gatedSend(calls: string[][], active = { now: 0, max: 0 }): Gate {
  let enter!: () => void;
  let open!: () => void;
  const entered = new Promise<void>((r) => (enter = r));
  const opened = new Promise<void>((r) => (open = r));
  return {
    entered,
    open,
    async send(d, f) {
      calls.push(f);
      active.max = Math.max(active.max, ++active.now);
      try {
        if (calls.length === 1) {
          enter();
          await opened;
        }
        return await sendFiles(d, f);
      } finally {
        active.now--;
      }
    },
  };
}

const ids = (es: (OutboxEntry | undefined)[]) => es.filter((e): e is OutboxEntry => !!e).map((e) => e.id).sort();

for (const h of harnesses) {
  describe(`outbox store contract: ${h.name}`, { skip: h.skip }, () => {
    let world: World;
    const fresh = async () => {
      await world?.close();
      world = await h.world();
      return world;
    };
    after(() => world?.close());

    it('keeps, lists and removes entries; a save names the revision it read', async () => {
      const w = await fresh();
      const [s1, s2] = [w.open(), w.open()];
      const saved = await s1.save(entry('a'));
      assert.equal(saved?.revision, 1);
      assert.equal(await s2.save(entry('a')), undefined, 'a new entry does not overwrite one that exists');
      assert.deepEqual((await s2.get('a'))?.files, files.slice(0, 2));
      const done = await s2.save({ ...saved!, state: 'done' });
      assert.equal(done?.revision, 2);
      assert.equal(await s1.save({ ...saved!, state: 'dead' }), undefined, 'a stale revision writes nothing');
      await s1.save(entry('b', { createdAt: saved!.createdAt + 1 }));
      assert.deepEqual((await s1.list()).map((e) => [e.id, e.state]), [['a', 'done'], ['b', 'queued']]);
      assert.equal(await s2.remove('b'), false, 'a queued entry stays');
      assert.equal(await s2.remove('a'), true);
      assert.equal(await s1.get('a'), undefined);
    });

    it('claims due entries only, longest due first, under a lease', async () => {
      const w = await fresh();
      const s = w.open();
      const now = Date.now();
      await s.save(entry('due', { nextAttemptAt: now - 1000 }));
      await s.save(entry('longest', { nextAttemptAt: now - 2000 }));
      await s.save(entry('later', { nextAttemptAt: now + 3_600_000 }));
      for (const state of ['done', 'dead', 'committing'] as const) await s.save(entry(state, { state, nextAttemptAt: now - 5000 }));
      assert.deepEqual(ids(await s.pending(now)), ['committing', 'due', 'longest']);
      const first = await s.claim('pacs', 'p1', 60_000, 10, now);
      assert.equal(first?.id, 'longest');
      assert.equal(first?.state, 'sending');
      assert.equal(first?.lease?.owner, 'p1');
      assert.ok(first!.lease!.until > now);
      assert.equal((await s.claim('pacs', 'p1', 60_000, 10, now))?.id, 'due');
      assert.equal(await s.claim('pacs', 'p1', 60_000, 10, now), undefined);
      assert.equal(await s.claim('elsewhere', 'p1', 60_000, 10, now), undefined);
      assert.deepEqual(ids(await s.pending(now)), ['committing'], 'entries sending under a live lease are not pending');
    });

    it('never hands one entry to two workers', async () => {
      const w = await fresh();
      const [s1, s2] = [w.open(), w.open()];
      for (let i = 0; i < 6; i++) await s1.save(entry(`e${i}`, { files: [files[i]] }));
      const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? s1 : s2).claim('pacs', `p${i}`, 60_000, 100, Date.now())));
      assert.deepEqual(ids(claims), ['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);

      // Two Outbox workers draining at once, four associations each allowed: every file sent once.
      const w2 = await fresh();
      const calls: string[][] = [];
      const [a, b] = [outbox(w2.open(), { send: recordingSend(calls), associationsPerDestination: 4 }), outbox(w2.open(), { send: recordingSend(calls), associationsPerDestination: 4 })];
      for (let i = 0; i < 6; i++) await (i % 2 ? a : b).enqueue(`1.2.${i}`, [files[i]], ['pacs']);
      await Promise.all([a.drain(), b.drain()]);
      assert.deepEqual((await b.list()).map((e) => e.state), Array(6).fill('done'));
      assert.deepEqual(calls.flat().sort(), [...files].sort());
    });

    it('takes over an entry whose lease ran out and sends what was not acknowledged', async () => {
      const w = await fresh();
      const s1 = w.open();
      const saved = await s1.save(entry('x', { files: files.slice(0, 3), sent: [files[0]] }));
      // A worker that claims with a long lease and renews it keeps the entry.
      const held = await s1.claim('pacs', 'alive', 60_000, 1, Date.now());
      assert.equal(held?.revision, saved!.revision! + 1);
      assert.equal(await s1.renew(held!, 60_000), true);
      assert.equal(await w.open().claim('pacs', 'other', 60_000, 5, Date.now()), undefined, 'a live lease is not taken');
      await s1.save({ ...held!, state: 'queued' });
      assert.equal(await s1.renew(held!, 60_000), false, 'a claim that was saved over is not renewed');

      // A worker that claims and dies (never renews, never saves): its lease runs out.
      const dead = await s1.claim('pacs', 'dead', 100, 1, Date.now());
      assert.equal(dead?.lease?.owner, 'dead');
      const calls: string[][] = [];
      const b = outbox(w.open(), { send: recordingSend(calls) });
      b.start();
      await until(async () => (await b.list())[0].state === 'done', 20_000, 'taken over and delivered');
      await b.stop();
      assert.deepEqual(calls, [files.slice(1, 3)]);
      assert.equal(await s1.save({ ...dead!, state: 'done' }), undefined, 'the dead worker\'s late save is refused');
    });

    it('holds a destination to its association limit across workers', async () => {
      const w = await fresh();
      const [s1, s2] = [w.open(), w.open()];
      for (const id of ['l1', 'l2', 'l3']) await s1.save(entry(id));
      assert.ok(await s1.claim('pacs', 'p1', 60_000, 1, Date.now()));
      assert.equal(await s2.claim('pacs', 'p2', 60_000, 1, Date.now()), undefined);
      assert.ok(await s2.claim('pacs', 'p2', 60_000, 2, Date.now()));
      assert.equal(await s2.claim('pacs', 'p2', 60_000, 2, Date.now()), undefined);

      // Outbox workers (limit 1): while A sends, B finds the other due entry and may not start it.
      const w2 = await fresh();
      const calls: string[][] = [];
      const active = { now: 0, max: 0 };
      const gate = gatedSend(calls, active);
      let refused!: () => void;
      const bRefused = new Promise<void>((r) => (refused = r));
      const sB = w2.open();
      const watched: OutboxStore = {
        list: () => sB.list(), get: (id) => sB.get(id), save: (e) => sB.save(e), pending: (n) => sB.pending(n), renew: (e, ms) => sB.renew(e, ms),
        committing: (t) => sB.committing(t), remove: (id) => sB.remove(id),
        claim: async (...args) => {
          const got = await sB.claim(...args);
          if (!got) refused();
          return got;
        },
      };
      const a = outbox(w2.open(), { send: gate.send });
      const b = outbox(watched, { send: gate.send });
      await a.enqueue('1.2.1', files.slice(0, 2), ['pacs']);
      await a.enqueue('1.2.2', files.slice(2, 4), ['pacs']);
      const drainA = a.drain();
      await gate.entered;
      const drainB = b.drain();
      await bRefused;
      assert.equal(calls.length, 1, 'B did not send while A held the destination');
      gate.open();
      await Promise.all([drainA, drainB]);
      assert.equal(active.max, 1);
      assert.deepEqual((await a.list()).map((e) => e.state), ['done', 'done']);
      assert.deepEqual(calls.flat().sort(), files.slice(0, 4).sort());
    });

    it('takes a storage commitment report at any worker', async () => {
      const w = await fresh();
      const committing: OutboxDestination = { ...dest, name: 'committing', storageCommitment: true };
      // The N-ACTION's success response; its report then reaches the other worker (as when the
      // destination reports on an association of its own to another process of the cluster).
      const commit: OutboxOptions['commit'] = async () => ({ ok: true, status: 0 });
      const a = outbox(w.open(), { destinations: [committing], commit });
      const b = outbox(w.open(), { destinations: [committing], commit });
      await a.enqueue('1.2.9', files.slice(0, 2), ['committing']);
      await a.drain();
      const [waiting] = await b.list();
      assert.equal(waiting.state, 'committing');
      const report = { transactionUid: waiting.commitment!.transactionUid, eventTypeId: 1, committed: sopRefsOf(files.slice(0, 2)), failed: [] };
      assert.equal(await b.commitmentReport({ ...report, transactionUid: '2.25.1' }), false, 'an unknown transaction');
      assert.equal(await b.commitmentReport(report), true);
      const [done] = await a.list();
      assert.equal(done.state, 'done');
      assert.equal(done.commitment?.committed, 2);
      assert.equal(await a.commitmentReport(report), false, 'already settled');
    });

    it('re-enqueue: the same files keep the entry, other files replace it, even while it is being sent', async () => {
      const w = await fresh();
      const calls: string[][] = [];
      const gate = gatedSend(calls);
      const a = outbox(w.open(), { send: gate.send });
      const b = outbox(w.open(), { send: gate.send });
      const [first] = await a.enqueue('1.2.7', files.slice(0, 2), ['pacs']);
      const [same] = await b.enqueue('1.2.7', files.slice(0, 2).reverse(), ['pacs']);
      assert.equal(same.revision, first.revision, 'the same files: nothing written');
      const [other] = await b.enqueue('1.2.7', files.slice(2, 4), ['pacs']);
      assert.deepEqual(other.files, files.slice(2, 4));
      assert.ok(other.revision! > first.revision!);

      // Re-enqueued by B while A sends: A's result is dropped and the new files are sent.
      const drained = a.drain();
      await gate.entered;
      await b.enqueue('1.2.7', files.slice(4, 6), ['pacs']);
      gate.open();
      await drained;
      const [e] = await b.list();
      assert.equal(e.state, 'done');
      assert.deepEqual(e.files, files.slice(4, 6));
      assert.deepEqual(calls, [files.slice(2, 4), files.slice(4, 6)]);
    });
  });
}
