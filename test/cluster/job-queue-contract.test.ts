// One contract for every JobQueue backend: the embedded FsJobQueue and the clustered
// PgJobQueue (a real PostgreSQL) must behave the same to the pipeline. "Another process" is a
// second queue object on the same folder or database; for the embedded queue a process that
// dies is one that restarts, for the clustered one its lease runs out.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { JobQueue } from '../../src/core/seams.js';
import { FsJobQueue } from '../../src/queue/fs-queue.js';
import { PgJobQueue } from '../../src/cluster/pg-queue.js';
import { lazyPostgres, noPostgres } from '../helpers/postgres.js';

interface Backend {
  /** A queue on fresh, empty storage, and a factory for more processes sharing it. */
  fresh(): Promise<{ q: JobQueue; other(): JobQueue }>;
  /** What it takes for a leased job of a process that died to be leased by another. */
  afterDeath(dead: JobQueue): Promise<void>;
  /** Several processes may share the storage (the embedded queue is its folder's only user). */
  shared: boolean;
}

function contract(name: string, backend: () => Backend, skip?: string) {
  describe(`JobQueue contract: ${name}`, { skip }, () => {
    let b: Backend;
    before(() => (b = backend()));

    it('holds a job back until notBefore, then leases it once', async () => {
      const { q } = await b.fresh();
      await q.enqueue('series', 'S1', { n: 1 }, { notBefore: 1000 });
      assert.equal(await q.lease('series', 999), undefined);
      const job = await q.lease<{ n: number }>('series', 1000);
      assert.equal(job?.payload.n, 1);
      assert.equal(await q.lease('series', 2000), undefined, 'a leased job is not leased twice');
      await q.ack(job!);
      assert.equal(await q.lease('series', 2000), undefined);
      assert.equal(await q.has('series', 'S1'), false);
    });

    it('concurrent leases (two processes where the backend is shared) never get the same job', async () => {
      const { q, other } = await b.fresh();
      const p2 = b.shared ? other() : q;
      for (let i = 0; i < 6; i++) await q.enqueue('series', `S${i}`, { i }, { notBefore: 0 });
      const got = await Promise.all([...Array(8)].map((_, i) => (i % 2 ? p2 : q).lease<{ i: number }>('series', 10)));
      const ids = got.filter((j) => j).map((j) => j!.id);
      assert.equal(ids.length, 6);
      assert.equal(new Set(ids).size, 6);
    });

    it('an enqueue while the job runs survives the ack of the running job (late instances re-run it)', async () => {
      const { q, other } = await b.fresh();
      await q.enqueue('series', 'S1', { n: 1 }, { notBefore: 0 });
      const running = (await q.lease('series', 10))!;
      await other().enqueue('series', 'S1', { n: 2 }, { notBefore: 50 }); // a receiver elsewhere
      await q.ack(running);
      const again = await q.lease<{ n: number }>('series', 100);
      assert.equal(again?.payload.n, 2);
    });

    it('every enqueue pushes the start out (the quiet period), and one id stays one job', async () => {
      const { q, other } = await b.fresh();
      const r2 = other();
      for (const t of [100, 200, 300]) await (t === 200 ? r2 : q).enqueue('series', 'S1', { t }, { notBefore: t + 1000 });
      assert.equal(await q.lease('series', 1299), undefined);
      assert.equal((await q.list('series')).length, 1);
      assert.ok(await q.lease('series', 1300));
    });

    it("a dead process's leased job is leased by another", async () => {
      const { q, other } = await b.fresh();
      await q.enqueue('series', 'S1', { n: 1 }, { notBefore: 0 });
      assert.ok(await q.lease('series', 1)); // leased, then the process "dies"
      await b.afterDeath(q);
      const again = await other().lease('series', 1);
      assert.equal(again?.id, 'S1', 'the job runs again');
    });

    it('retry counts attempts and backs off; deadLetter keeps the job visible; requeueDead brings it back', async () => {
      const { q } = await b.fresh();
      await q.enqueue('series', 'S1', { k: 1 }, { notBefore: 0 });
      const j1 = (await q.lease('series', 0))!;
      await q.retry(j1, 500, 'boom');
      assert.equal(await q.lease('series', 499), undefined);
      const j2 = (await q.lease('series', 500))!;
      assert.equal(j2.attempts, 1);
      await q.deadLetter(j2, 'boom again');
      assert.equal(await q.lease('series', 10_000), undefined);
      assert.equal(await q.has('series', 'S1'), false);
      const dead = await q.list('series', true);
      assert.equal(dead.length, 1);
      assert.equal(dead[0].lastError, 'boom again');
      assert.equal(dead[0].attempts, 2);
      assert.ok(typeof dead[0].deadAt === 'number');
      assert.deepEqual((await q.depth()).series, { queued: 0, leased: 0, dead: 1 });
      assert.equal(await q.requeueDead('series', 'nope'), false);
      assert.equal(await q.requeueDead('series', 'S1'), true);
      assert.deepEqual((await q.depth()).series, { queued: 1, leased: 0, dead: 0 });
      const j3 = await q.lease<{ k: number }>('series');
      assert.equal(j3?.payload.k, 1);
      assert.equal(j3?.attempts, 0);
    });

    it('a retry of a job enqueued again meanwhile leaves the newer job due', async () => {
      const { q } = await b.fresh();
      await q.enqueue('series', 'S1', { n: 1 }, { notBefore: 0 });
      const j = (await q.lease('series', 0))!;
      await q.enqueue('series', 'S1', { n: 2 }, { notBefore: 100 });
      await q.retry(j, 10_000, 'transient');
      const next = await q.lease<{ n: number }>('series', 100);
      assert.equal(next?.payload.n, 2);
      assert.equal(next?.attempts, 0);
    });

    it('counts queued and leased jobs per kind', async () => {
      const { q } = await b.fresh();
      await q.enqueue('series', 'S1', {}, { notBefore: 0 });
      await q.enqueue('series', 'S2', {}, { notBefore: 5000 });
      await q.enqueue('other', 'O1', {}, { notBefore: 0 });
      await q.lease('series', 10);
      const d = await q.depth();
      assert.deepEqual(d.series, { queued: 1, leased: 1, dead: 0 });
      assert.deepEqual(d.other, { queued: 1, leased: 0, dead: 0 });
    });
  });
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
contract('embedded (FsJobQueue)', () => ({
  async fresh() {
    const dir = mkdtempSync(join(tmpdir(), 'interslice-queue-'));
    dirs.push(dir);
    return { q: new FsJobQueue(dir), other: () => new FsJobQueue(dir) };
  },
  afterDeath: async () => undefined, // a new process on the same folder: its leases are gone
  shared: false,
}));

const pg = lazyPostgres();
const LEASE_MS = 600;
after(() => pg.close());
contract(
  'PostgreSQL (PgJobQueue)',
  () => ({
    async fresh() {
      const url = await pg.database();
      const mk = () => new PgJobQueue(pg.pool(url), { leaseMs: LEASE_MS });
      return { q: mk(), other: mk };
    },
    // The process stops renewing its leases (SIGKILL), and its lease runs out.
    afterDeath: async (dead) => {
      (dead as PgJobQueue).close();
      await new Promise((r) => setTimeout(r, LEASE_MS + 300));
    },
    shared: true,
  }),
  noPostgres(),
);
