// (e) Cluster: eight 24-slice 256x256 series at 5 mm (series.ts: real anatomy, new UIDs per
// copy) pushed at once, one storescu each, to a clustered node of two receivers
// (`serve --roles receive`, series dealt to them in turn, as a round-robin balancer would) and
// (a) one or (b) two workers (`serve --roles process,send`), all on one real PostgreSQL
// (test/helpers/postgres.ts, a database per configuration) and one storage.dir, delivering to
// DCMTK storescp. Time = from the first push to the last `series delivered` line of any worker
// (the last derived instance acknowledged by storescp). The two configurations run side by
// side (each its own database, storage.dir and storescp) and alternate run by run, so load
// drift hits both alike; each run pushes new series. INTERSLICE_BENCH_LOGS=DIR keeps every
// process's log there (receiver-N.log, worker-N.log per configuration).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../../test/helpers/postgres.js';
import { logTime, startNode, startStorescp, storescu, type Node } from './peers.js';
import { writeSeries } from './series.js';

export const CLUSTER_SERIES = { series: 8, slices: 24, rows: 256, cols: 256, spacingMm: 5, targetMm: 1 };

export interface ClusterRow {
  workers: number;
  receivers: number;
  /** First push to the last derived instance acknowledged, per run. */
  seconds: number[];
  /** First push to the last storescu finished, per run. */
  pushSeconds: number[];
  /** Derived instances storescp received per run. */
  derived: number;
  /** Series jobs each worker finished, over all runs. */
  jobsPerWorker: number[];
}

export interface ClusterResult {
  method: string;
  provider: string;
  /** os.cpus().length */
  cpus: number;
  rows: ClusterRow[];
}

interface Cluster {
  row: ClusterRow;
  dir: string;
  scpDir: string;
  receivers: Node[];
  workers: Node[];
  stop(): Promise<void>;
}

async function startCluster(work: string, databaseUrl: string, workers: number, pipeline: string): Promise<Cluster> {
  const dir = join(work, `cluster-${workers}w`);
  const scpDir = join(work, `cluster-${workers}w-scp`);
  const scp = await startStorescp(scpDir);
  const procs: Node[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await scp.stop();
  };
  try {
    const start = async (roles: string) => {
      const p = await startNode(dir, pipeline, scp.port, { roles, database: databaseUrl });
      procs.push(p);
      return p;
    };
    // One after the other: the first creates the schema (idempotent, but quieter).
    const receivers = [await start('receive'), await start('receive')];
    const ws: Node[] = [];
    for (let i = 0; i < workers; i++) ws.push(await start('process,send'));
    const row: ClusterRow = { workers, receivers: receivers.length, seconds: [], pushSeconds: [], derived: 0, jobsPerWorker: [] };
    return { row, dir, scpDir, receivers, workers: ws, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function runOnce(c: Cluster, data: string[], say: (s: string) => void, label: string): Promise<void> {
  const delivered = (since: number) => c.workers.flatMap((w) => w.logs.filter((l) => l.message === 'series delivered' && logTime(l) >= since));
  const before = readdirSync(c.scpDir).length;
  const t0 = Date.now();
  await Promise.all(data.map((d, i) => storescu(c.receivers[i % c.receivers.length].port, d, 'INTERSLICE')));
  const pushed = Date.now();
  await c.workers[0].waitFor(() => delivered(t0).length >= data.length, 1_800_000, `${data.length} series delivered`);
  const end = Math.max(...delivered(t0).map(logTime));
  const files = delivered(t0).reduce((n, l) => n + Number(l.files ?? 0), 0);
  const got = readdirSync(c.scpDir).length - before;
  if (got !== files) throw new Error(`${label}: storescp holds ${got} new instances, the workers logged ${files} delivered`);
  c.row.seconds.push((end - t0) / 1000);
  c.row.pushSeconds.push((pushed - t0) / 1000);
  c.row.derived = got;
  const r = c.row.seconds.length - 1;
  say(`${label}: ${c.row.seconds[r].toFixed(1)} s (push ${c.row.pushSeconds[r].toFixed(1)} s, ${got} derived instances)`);
}

export async function benchCluster(work: string, method: string, modelPath: string, runs: number, say: (s: string) => void): Promise<ClusterResult> {
  const S = CLUSTER_SERIES;
  const pipeline = `{ stableSeconds: 1, targetSpacingMm: ${S.targetMm}, method: ${method}, modelPath: ${JSON.stringify(modelPath)} }`;
  const postgres = await startPostgres();
  const clusters: Cluster[] = [];
  try {
    for (const workers of [1, 2]) {
      const db = `bench_cluster_${workers}w`;
      const admin = new pg.Client({ connectionString: postgres.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${db}`);
      await admin.end();
      clusters.push(await startCluster(work, postgres.url.replace(/\/[^/]*$/, `/${db}`), workers, pipeline));
      say(`cluster with ${workers} worker(s) and 2 receivers started`);
    }
    const loaded = clusters[0].workers[0].logs.find((l) => l.message === 'interpolation model loaded');
    const result: ClusterResult = {
      method,
      provider: loaded ? String(loaded.executionProvider) : 'js',
      cpus: os.cpus().length,
      rows: clusters.map((c) => c.row),
    };
    for (let r = 0; r < runs; r++) {
      for (const c of clusters) {
        const data: string[] = [];
        for (let i = 0; i < S.series; i++) {
          const d = join(work, `cluster-data-${c.row.workers}w-${r}-${i}`);
          await writeSeries({ dir: d, count: S.slices, rows: S.rows, cols: S.cols, spacingMm: S.spacingMm });
          data.push(d);
        }
        await runOnce(c, data, say, `cluster ${c.row.workers} worker(s) run ${r + 1}/${runs}`);
        for (const d of data) rmSync(d, { recursive: true, force: true });
      }
    }
    for (const c of clusters) c.row.jobsPerWorker = c.workers.map((w) => w.logs.filter((l) => l.message === 'series job finished').length);
    return result;
  } finally {
    const logs = process.env.INTERSLICE_BENCH_LOGS;
    for (const c of clusters) {
      await c.stop();
      if (logs) {
        mkdirSync(logs, { recursive: true });
        const keep = (kind: string, ps: Node[]) => ps.forEach((p, i) => writeFileSync(join(logs, `${c.row.workers}w-${kind}-${i + 1}.log`), p.raw()));
        keep('receiver', c.receivers);
        keep('worker', c.workers);
      }
      rmSync(c.dir, { recursive: true, force: true });
      rmSync(c.scpDir, { recursive: true, force: true });
    }
    await postgres.destroy();
  }
}
