// Scale-out over real processes: one PostgreSQL (Debian's), one storage.dir, two receivers
// (`serve --roles receive`) and two workers (`serve --roles process,send`); DCMTK storescu
// pushes a 40-slice series half through each receiver in parallel associations, DCMTK storescp
// (+uf: a file per receipt, so a UID sent twice is kept twice) plays the PACS.
//  - one derived series arrives, with every instance, and no UID with two contents;
//  - the same when the worker sending it is SIGKILLed after its first derived instance arrived;
//  - PostgreSQL down: the receiver refuses with A700 (nothing acknowledged that is not indexed),
//    and once it is back the series is received and derived.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { datasetBytes, MR_DIR, startStorescp, storescu, type Storescp } from '../helpers/peers.js';
import { serve, until, type Served } from '../helpers/serve.js';
import { haveTool } from '../helpers/dicom-tools.js';
import { havePostgres, startPostgres, type Postgres } from '../helpers/postgres.js';
import { startHaproxy } from '../helpers/haproxy.js';
import { openDb } from '../../src/cluster/db.js';
import { logger } from '../../src/core/log.js';
import { readPart10, str } from '../../src/dicom/dcmjs.js';

const PCASL = join(MR_DIR, 'philips-pcasl-oblique-4mm'); // 40 slices, 4 mm apart
const skip = !havePostgres()
  ? 'PostgreSQL is not installed'
  : !haveTool('storescu') || !haveTool('storescp') || !haveTool('haproxy')
    ? 'DCMTK or HAProxy is not installed'
    : undefined;

interface Received {
  file: string;
  sop: string;
  series: string;
}

async function received(dir: string): Promise<Received[]> {
  const out: Received[] = [];
  for (const n of readdirSync(dir).filter((x) => !x.startsWith('.'))) {
    const { dataset } = await readPart10(join(dir, n), { headerOnly: true });
    out.push({ file: join(dir, n), sop: str(dataset.SOPInstanceUID) ?? '', series: str(dataset.SeriesInstanceUID) ?? '' });
  }
  return out;
}

function uidsWithTwoContents(files: Received[]): string[] {
  const byUid = new Map<string, Buffer[]>();
  for (const f of files) byUid.set(f.sop, [...(byUid.get(f.sop) ?? []), datasetBytes(f.file)]);
  return [...byUid].filter(([, b]) => b.some((x) => !x.equals(b[0]))).map(([u]) => u);
}

interface Cluster {
  database: string;
  storage: string;
  receivers: Served[];
  workers: Served[];
  pacs: Storescp;
  pacsDir: string;
  stop(): Promise<void>;
}

describe('scale-out: two receivers and two workers on one PostgreSQL', { skip }, () => {
  let pg: Postgres;
  let work: string;
  let n = 0;
  const running: Cluster[] = [];
  before(async () => {
    pg = await startPostgres();
    work = mkdtempSync(join(tmpdir(), 'interslice-cluster-'));
  });
  after(async () => {
    // Every step runs even if one fails; a leftover temp folder is retried, not fatal.
    const errors: unknown[] = [];
    for (const c of running.splice(0)) await c.stop().catch((e) => errors.push(e));
    await pg?.destroy().catch((e) => errors.push(e));
    try {
      rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch (e) {
      console.error(`cluster test: could not remove ${work}: ${(e as Error).message}`);
    }
    if (errors.length) throw new AggregateError(errors, `cluster test teardown: ${errors.map((e) => (e as Error).message).join('; ')}`);
  });

  /** A fresh database, storage.dir and PACS; receivers and workers started. */
  async function cluster(t: TestContext, o: { workers?: number; failpoints?: string; receiverFailpoints?: string; stableSeconds?: number } = {}): Promise<Cluster> {
    const name = `c${++n}`;
    const database = await pg.createDatabase();
    const dir = join(work, name);
    const pacsDir = join(dir, 'pacs');
    mkdirSync(pacsDir, { recursive: true });
    const pacs = await startStorescp(pacsDir, { args: ['+uf'] });
    const config = [
      'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
      `storage: { dir: ${JSON.stringify(join(dir, 'var'))}, minFreeMb: 0 }`,
      `cluster: { database: ${JSON.stringify(database)}, leaseSeconds: 3 }`,
      `pipeline: { stableSeconds: ${o.stableSeconds ?? 3}, method: linear }`,
      'send: { baseDelaySeconds: 0.5, maxDelaySeconds: 2, timeoutSeconds: 20 }',
      `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${pacs.port} } ]`,
      'admin: { enabled: true, host: 127.0.0.1, port: 0 }',
    ];
    const receivers = [
      await serve({ config, work: dir, args: ['--roles', 'receive'], failpoints: o.receiverFailpoints }),
      await serve({ config, work: dir, args: ['--roles', 'receive'] }),
    ];
    const workers: Served[] = [];
    for (let i = 0; i < (o.workers ?? 2); i++) workers.push(await serve({ config, work: dir, args: ['--roles', 'process,send'], failpoints: o.failpoints }));
    const c: Cluster = {
      database,
      storage: join(dir, 'var'),
      receivers,
      workers,
      pacs,
      pacsDir,
      async stop() {
        for (const p of [...receivers, ...workers]) await p.stop();
        await pacs.stop();
      },
    };
    running.push(c);
    t.after(async () => {
      running.splice(running.indexOf(c), 1);
      await c.stop();
    });
    return c;
  }

  /** Pushes the 40 slices, every other one through each receiver (or both through `via`), both associations at once. */
  async function pushHalves(c: Cluster, via?: number): Promise<void> {
    const files = readdirSync(PCASL).sort().map((f) => join(PCASL, f));
    const halves = [files.filter((_, i) => i % 2 === 0), files.filter((_, i) => i % 2 === 1)];
    const results = await Promise.all(halves.map((h, i) => storescu('127.0.0.1', via ?? c.receivers[i].port, h)));
    for (const r of results) assert.equal(r.code, 0, (r.stdout + r.stderr));
  }

  /** Waits for every derived instance the workers report delivered, then a little longer for strays. */
  async function deliveredSeries(c: Cluster): Promise<{ files: Received[]; delivered: number }> {
    const done = await until(
      () => c.workers.flatMap((w) => w.logs).find((l) => l.event === 'send-done'),
      180_000,
      'a worker reports the derived series delivered',
    ).catch((e: Error) => {
      // What every process said last: the reason is in there.
      const tails = [...c.receivers, ...c.workers].map((p, i) => `--- process ${i} (${p.child.pid})\n${p.raw().slice(-4000)}`);
      throw new Error(`${e.message}\n${tails.join('\n')}`);
    });
    await new Promise((r) => setTimeout(r, 1500));
    return { files: await received(c.pacsDir), delivered: Number(done.files) };
  }

  it('a 40-slice series pushed half through each receiver (HAProxy in front) gives exactly one derived series with every instance', async (t) => {
    const c = await cluster(t);
    const lb = await startHaproxy(work, c.receivers.map((r) => r.port));
    try {
      await pushHalves(c, lb.port);
    } finally {
      await lb.stop();
    }
    // Round robin: each receiver took one association of 20 instances. storescu is done when it
    // has the release response; the receiver logs the close a moment later, on another pipe.
    const storedBy = () => c.receivers.map((r) => r.logs.filter((l) => l.event === 'association-close').reduce((n, l) => n + Number(l.stored ?? 0), 0));
    const stored = await until(() => (storedBy().reduce((a, b) => a + b) >= 40 ? storedBy() : undefined), 20_000, 'both associations logged closed')
      .catch((e: Error) => assert.fail(`${e.message}: ${JSON.stringify(storedBy())}`));
    assert.deepEqual(stored, [20, 20]);
    const { files, delivered } = await deliveredSeries(c);
    const series = new Set(files.map((f) => f.series));
    assert.equal(series.size, 1, `one derived series at the PACS, got ${series.size}`);
    // 40 slices 4 mm apart to 1 mm: 39 gaps x 4 + 1 positions.
    assert.equal(delivered, 157);
    assert.equal(new Set(files.map((f) => f.sop)).size, 157, 'every derived instance arrived');
    assert.deepEqual(uidsWithTwoContents(files), []);
    // One series job ran, in one worker, and it saw all 40 instances from both receivers.
    const started = c.workers.flatMap((w) => w.logs).filter((l) => l.message === 'series job started');
    assert.deepEqual(started.map((l) => l.instances), [40]);
    // A receiver's admin API shows the worker's job record (from the database) and its database check.
    const adminPort = Number((await c.receivers[0].waitFor((l) => l.message === 'admin endpoint started')).port);
    let last = "";
    const jobs = await until(async () => {
      const body = (await (await fetch(`http://127.0.0.1:${adminPort}/api/jobs`)).json()) as { jobs: { state: string; instances: number }[] };
      last = JSON.stringify(body.jobs).slice(0, 500);
      return body.jobs.find((j) => j.state === "done") ? body.jobs : undefined;
    }, 10_000, "the worker's job record at a receiver").catch((e) => assert.fail(`${e.message}: ${last}`));
    assert.deepEqual(jobs.map((j) => [j.state, j.instances]), [['done', 40]]);
    const ready = (await (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).json()) as { ready: boolean; checks: { database?: { ok: boolean } } };
    assert.equal(ready.ready, true);
    assert.deepEqual(ready.checks.database, { ok: true });
  });

  it('the same when the worker sending it is SIGKILLed after its first derived instance was sent', async (t) => {
    // Both workers armed: whichever sends first kills itself (SIGKILL) once the PACS has
    // acknowledged its first instance; then the test disarms the other.
    const armed = join(work, `kill-${n + 1}`);
    writeFileSync(armed, '');
    const c = await cluster(t, { failpoints: `mid-send@${armed}` });
    await pushHalves(c);
    const victim = await until(() => c.workers.find((w) => w.child.exitCode !== null || w.child.signalCode !== null), 180_000, 'a worker killed mid-send');
    unlinkSync(armed);
    assert.equal((await victim.exited).signal, 'SIGKILL');
    assert.ok(victim.logs.some((l) => l.message === 'failpoint fired' && l.failpoint === 'mid-send'));
    const arrivedBeforeKill = readdirSync(c.pacsDir).length;
    const survivor = c.workers.find((w) => w !== victim)!;
    const done = await survivor.waitFor((l) => l.event === 'send-done', 180_000, 'the other worker delivers the series');
    await new Promise((r) => setTimeout(r, 1500));
    const files = await received(c.pacsDir);
    t.diagnostic(`before the kill ${arrivedBeforeKill} files at the PACS; in the end ${files.length} files, ${new Set(files.map((f) => f.sop)).size} distinct instances`);
    assert.ok(arrivedBeforeKill >= 1 && arrivedBeforeKill < 157, `the kill came mid-series (${arrivedBeforeKill} of 157 had arrived)`);
    assert.equal(Number(done.files), 157);
    assert.equal(new Set(files.map((f) => f.series)).size, 1, 'one derived series');
    assert.equal(new Set(files.map((f) => f.sop)).size, 157, 'every derived instance arrived');
    assert.deepEqual(uidsWithTwoContents(files), []);
  });

  it('a receiver killed mid-association loses nothing it acknowledged', async (t) => {
    // The 15th instance is durable but the receiver dies (SIGKILL) before its response.
    const c = await cluster(t, { workers: 0, receiverFailpoints: 'store-before-ack:15', stableSeconds: 60 });
    const files = readdirSync(PCASL).sort().map((f) => join(PCASL, f));
    const r = await storescu('127.0.0.1', c.receivers[0].port, files, { args: ['-v'] });
    const said = r.stdout + r.stderr;
    const acked = (said.match(/Received Store Response \(Success\)/g) ?? []).length;
    assert.equal((await c.receivers[0].exited).signal, 'SIGKILL');
    assert.equal(acked, 14, said.slice(-1500));
    // storescu sends in the order given: the first 14 files are the acknowledged ones.
    const ackedUids = await Promise.all(files.slice(0, acked).map(async (f) => str((await readPart10(f, { headerOnly: true })).dataset.SOPInstanceUID)!));
    const db = openDb(c.database, logger('test'));
    try {
      const rows = (await db.query<{ sop_uid: string; path: string }>('SELECT sop_uid, path FROM interslice_instances')).rows;
      const indexed = new Map(rows.map((x) => [x.sop_uid, x.path]));
      assert.deepEqual(ackedUids.filter((u) => !indexed.has(u)), [], 'every acknowledged instance is indexed');
      assert.deepEqual(ackedUids.filter((u) => !existsSync(join(c.storage, 'spool', indexed.get(u)!))), [], 'and its file is in the spool');
      const jobs = (await db.query<{ id: string }>('SELECT id FROM interslice_jobs')).rows;
      assert.equal(jobs.length, 1, 'and its series job is queued');
    } finally {
      await db.close();
    }
    // The sender retries the rest through the other receiver: the series is whole, each instance once.
    const again = await storescu('127.0.0.1', c.receivers[1].port, files);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const db2 = openDb(c.database, logger('test'));
    try {
      assert.equal(Number((await db2.query<{ n: string }>('SELECT count(*) AS n FROM interslice_instances')).rows[0].n), 40);
    } finally {
      await db2.close();
    }
  });

  it('PostgreSQL down: instances are refused with A700, none acknowledged; back up, the series is received and derived', async (t) => {
    const c = await cluster(t, { workers: 1 });
    const files = readdirSync(PCASL).sort().map((f) => join(PCASL, f));
    await pg.stop();
    try {
      const r = await storescu('127.0.0.1', c.receivers[0].port, files.slice(0, 3), { args: ['-v'] });
      const said = r.stdout + r.stderr;
      assert.equal((said.match(/Received Store Response \(Refused: OutOfResources\)/gi) ?? []).length, 3, said);
      // The log line comes on the receiver's own pipe: wait for it rather than race storescu's exit.
      await c.receivers[0].waitFor((l) => /instance index/.test(JSON.stringify(l)), 20_000, 'the refusal naming the index');
    } finally {
      await pg.start();
    }
    const r = await storescu('127.0.0.1', c.receivers[1].port, files);
    assert.equal(r.code, 0, (r.stdout + r.stderr));
    const { files: got, delivered } = await deliveredSeries(c);
    assert.equal(delivered, 157);
    assert.equal(new Set(got.map((f) => f.sop)).size, 157);
    assert.equal(c.receivers[0].child.exitCode, null, 'the receiver lived through the outage');
    for (const p of [...c.receivers, ...c.workers]) {
      assert.equal(p.child.exitCode, null, 'every process lived through the outage');
      assert.deepEqual(p.logs.filter((l) => l.event === 'fatal'), []);
    }
  });
});
