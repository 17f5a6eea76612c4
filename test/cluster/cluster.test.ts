// Scale-out over real processes: one PostgreSQL (Debian's), one storage.dir, two receivers
// (`serve --roles receive`) and two workers (`serve --roles process,send`); DCMTK storescu
// pushes a 40-slice series half through each receiver in parallel associations, DCMTK storescp
// (+uf: a file per receipt, so a UID sent twice is kept twice) plays the PACS.
//  - one derived series arrives, with every instance, and no UID with two contents;
//  - the same when the worker sending it is SIGKILLed after its first derived instance arrived;
//  - PostgreSQL down: the receiver refuses with A700 (nothing acknowledged that is not indexed),
//    and once it is back the series is received and derived.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { datasetBytes, MR_DIR, startStorescp, storescu, type Storescp } from '../helpers/peers.js';
import { serve, until, type Served } from '../helpers/serve.js';
import { haveTool } from '../helpers/dicom-tools.js';
import { havePostgres, startPostgres, type Postgres } from '../helpers/postgres.js';
import { openDb } from '../../src/cluster/db.js';
import { logger } from '../../src/core/log.js';
import { readPart10, str } from '../../src/dicom/dcmjs.js';

const PCASL = join(MR_DIR, 'philips-pcasl-oblique-4mm'); // 40 slices, 4 mm apart
const skip = !havePostgres() ? 'PostgreSQL is not installed' : !haveTool('storescu') || !haveTool('storescp') ? 'DCMTK is not installed' : undefined;

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
    for (const c of running) await c.stop();
    await pg?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  /** A fresh database, storage.dir and PACS; receivers and workers started. */
  async function cluster(o: { workers?: number; failpoints?: string } = {}): Promise<Cluster> {
    const name = `c${++n}`;
    const admin = openDb(pg.url, logger('test'));
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.close();
    const dir = join(work, name);
    const pacsDir = join(dir, 'pacs');
    mkdirSync(pacsDir, { recursive: true });
    const pacs = await startStorescp(pacsDir, { args: ['+uf'] });
    const config = [
      'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
      `storage: { dir: ${JSON.stringify(join(dir, 'var'))}, minFreeMb: 0 }`,
      `cluster: { database: ${JSON.stringify(pg.url.replace(/\/postgres$/, `/${name}`))}, leaseSeconds: 3 }`,
      'pipeline: { stableSeconds: 3, method: linear }',
      'send: { baseDelaySeconds: 0.5, maxDelaySeconds: 2, timeoutSeconds: 20 }',
      `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${pacs.port} } ]`,
      'admin: { enabled: false }',
    ];
    const receivers = [await serve({ config, work: dir, args: ['--roles', 'receive'] }), await serve({ config, work: dir, args: ['--roles', 'receive'] })];
    const workers: Served[] = [];
    for (let i = 0; i < (o.workers ?? 2); i++) workers.push(await serve({ config, work: dir, args: ['--roles', 'process,send'], failpoints: o.failpoints }));
    const c: Cluster = {
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
    return c;
  }

  /** Pushes the 40 slices, every other one through each receiver, both associations at once. */
  async function pushHalves(c: Cluster): Promise<void> {
    const files = readdirSync(PCASL).sort().map((f) => join(PCASL, f));
    const halves = [files.filter((_, i) => i % 2 === 0), files.filter((_, i) => i % 2 === 1)];
    const results = await Promise.all(halves.map((h, i) => storescu('127.0.0.1', c.receivers[i].port, h)));
    for (const r of results) assert.equal(r.code, 0, (r.stdout + r.stderr));
  }

  /** Waits for every derived instance the workers report delivered, then a little longer for strays. */
  async function deliveredSeries(c: Cluster): Promise<{ files: Received[]; delivered: number }> {
    const done = await until(
      () => c.workers.flatMap((w) => w.logs).find((l) => l.event === 'send-done'),
      180_000,
      'a worker reports the derived series delivered',
    );
    await new Promise((r) => setTimeout(r, 1500));
    return { files: await received(c.pacsDir), delivered: Number(done.files) };
  }

  it('a 40-slice series pushed half through each receiver gives exactly one derived series with every instance', async () => {
    const c = await cluster();
    await pushHalves(c);
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
  });

  it('the same when the worker sending it is SIGKILLed after its first derived instance was sent', async () => {
    // Both workers armed: whichever sends first kills itself (SIGKILL) once the PACS has
    // acknowledged its first instance; then the test disarms the other.
    const armed = join(work, `kill-${n + 1}`);
    writeFileSync(armed, '');
    const c = await cluster({ failpoints: `mid-send@${armed}` });
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
    assert.ok(arrivedBeforeKill >= 1 && arrivedBeforeKill < 157, `the kill came mid-series (${arrivedBeforeKill} of 157 had arrived)`);
    assert.equal(Number(done.files), 157);
    assert.equal(new Set(files.map((f) => f.series)).size, 1, 'one derived series');
    assert.equal(new Set(files.map((f) => f.sop)).size, 157, 'every derived instance arrived');
    assert.deepEqual(uidsWithTwoContents(files), []);
  });

  it('PostgreSQL down: instances are refused with A700, none acknowledged; back up, the series is received and derived', async () => {
    const c = await cluster({ workers: 1 });
    const files = readdirSync(PCASL).sort().map((f) => join(PCASL, f));
    await pg.stop();
    try {
      const r = await storescu('127.0.0.1', c.receivers[0].port, files.slice(0, 3), { args: ['-v'] });
      const said = r.stdout + r.stderr;
      assert.equal((said.match(/Received Store Response \(Refused: OutOfResources\)/gi) ?? []).length, 3, said);
      assert.ok(c.receivers[0].logs.some((l) => /instance index/.test(JSON.stringify(l))), `the refusal names the index: ${c.receivers[0].raw().slice(-2000)}`);
    } finally {
      await pg.start();
    }
    const r = await storescu('127.0.0.1', c.receivers[1].port, files);
    assert.equal(r.code, 0, (r.stdout + r.stderr));
    const { files: got, delivered } = await deliveredSeries(c);
    assert.equal(delivered, 157);
    assert.equal(new Set(got.map((f) => f.sop)).size, 157);
    assert.equal(c.receivers[0].child.exitCode, null, 'the receiver lived through the outage');
  });
});
