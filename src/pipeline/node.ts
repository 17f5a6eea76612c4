// The thin orchestrator of `interslice serve`: wires receive -> (quiet period) -> series job ->
// assemble/select/interpolate/derive -> outbox. Stages talk through the spool and the job
// queue only, so a shared-storage spool and a networked queue can replace the embedded ones.
import { mkdir, cp, readdir, rm, rename } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { Interpolator, SpacingTarget } from '../core/types.js';
import type { JobQueue, Spool } from '../core/seams.js';
import { FsJobQueue } from '../queue/fs-queue.js';
import { FsSpool } from '../receive/spool-fs.js';
import { startDicomListener } from '../receive/scp.js';
import { INSTANCE_META_KEYWORDS, parseInstanceMeta, readInstanceMeta } from '../assemble/instance-meta.js';
import { Outbox } from '../send/outbox.js';
import { storeFiles } from '../send/scu.js';
import { runStacks, type RunResult } from './run-stacks.js';
import { rulesFromConfig } from './rules-from-config.js';
import { createInterpolator } from './interpolator.js';
import { failpoint } from '../core/failpoints.js';
import { readBasicMeta } from '../receive/read-meta.js';
import { ProcessedMarkers } from './processed.js';
import { startRetention } from '../core/retention.js';
import { loadTlsFiles } from '../core/tls-profile.js';

export interface SeriesJob {
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

export interface JobRecord {
  id: string;
  seriesInstanceUid: string;
  state: 'waiting' | 'running' | 'done' | 'failed';
  instances: number;
  startedAt?: number;
  finishedAt?: number;
  result?: RunResult;
  error?: string;
}

export interface RunningNode {
  port: number;
  spool: Spool;
  queue: JobQueue;
  outbox: Outbox;
  /** Recent jobs, newest last (for logs, tests and the later admin API). */
  jobs: Map<string, JobRecord>;
  /** True while the DICOM listener is bound (for /readyz). */
  listening(): boolean;
  /** Resolves when no series job is waiting or running and the outbox has nothing due. */
  idle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Job records kept in memory for the admin API; older ones are in the logs. */
const MAX_JOB_RECORDS = 200;

export function targetFromConfig(cfg: Config): SpacingTarget {
  return cfg.pipeline.factor ? { factor: cfg.pipeline.factor } : { spacingMm: cfg.pipeline.targetSpacingMm };
}

export function seriesJobId(studyUid: string, seriesUid: string): string {
  return `${studyUid}/${seriesUid}`;
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

export async function startNode(cfg: Config, log: Logger, interpolatorIn?: Interpolator): Promise<RunningNode> {
  const dir = cfg.storage.dir;
  await mkdir(dir, { recursive: true });
  const spool = new FsSpool({ root: join(dir, 'spool'), minFreeBytes: cfg.storage.minFreeMb * 1024 * 1024, log: log.child({ stage: 'spool' }) });
  const queue = new FsJobQueue(join(dir, 'jobs'));
  const markers = new ProcessedMarkers(join(dir, 'processed'), spool.root);
  const baseInterpolator = interpolatorIn ?? (await createInterpolator(cfg, log));
  // The same interpolator with the crash harness's 'mid-series-job' fail point after it.
  const interpolator: Interpolator = {
    method: baseInterpolator.method,
    // A getter: after a SIGHUP model reload the derived series must name the new model.
    get description() {
      return baseInterpolator.description;
    },
    interpolate: async (volume, plan) => {
      const out = await baseInterpolator.interpolate(volume, plan);
      failpoint('mid-series-job');
      return out;
    },
  };
  const rules = rulesFromConfig(cfg);
  const target = targetFromConfig(cfg);
  const stableMs = cfg.pipeline.stableSeconds * 1000;
  const jobs = new Map<string, JobRecord>();

  const outbox = new Outbox({
    dir: join(dir, 'outbox'),
    destinations: cfg.destinations.map((d) => ({
      ...d,
      callingAeTitle: cfg.send.callingAeTitle ?? cfg.dicom.aeTitle,
      tls: d.tls ? loadTlsFiles(d.tls, `destinations.${d.name}.tls`) : undefined,
    })),
    send: (d, files) => storeFiles(d, files, { associationMs: cfg.send.timeoutSeconds * 1000, pduMs: cfg.send.timeoutSeconds * 1000 }),
    log: log.child({ stage: 'send' }),
    backoff: {
      baseMs: cfg.send.baseDelaySeconds * 1000,
      maxMs: cfg.send.maxDelaySeconds * 1000,
      maxAttempts: cfg.send.maxAttempts,
    },
  });

  // Quiet period: every instance pushes its series job's start time out to now + stableSeconds.
  // The durable job is rewritten at most once a second per series; the extra second keeps the
  // rule "no instance for stableSeconds" true for instances in between.
  const lastEnqueued = new Map<string, number>();
  const touchSeries = async (study: string, series: string) => {
    const id = seriesJobId(study, series);
    const now = Date.now();
    const rec = jobs.get(id);
    if (!rec || rec.state !== 'waiting') {
      jobs.set(id, { id, seriesInstanceUid: series, state: 'waiting', instances: rec?.instances ?? 0 });
    }
    const record = jobs.get(id)!;
    record.instances += 1;
    if ((lastEnqueued.get(id) ?? 0) > now - 1000 && rec?.state === 'waiting') return;
    lastEnqueued.set(id, now);
    await queue.enqueue<SeriesJob>('series', id, { studyInstanceUid: study, seriesInstanceUid: series }, { notBefore: now + stableMs + 1000 });
  };

  const listener = await startDicomListener({
    aeTitle: cfg.dicom.aeTitle,
    host: cfg.dicom.host,
    port: cfg.dicom.port,
    tls: cfg.dicom.tls
      ? { port: cfg.dicom.tls.port, requireClientCert: cfg.dicom.tls.requireClientCert, ...(loadTlsFiles(cfg.dicom.tls, 'dicom.tls') as { cert: Buffer; key: Buffer; ca?: Buffer }) }
      : undefined,
    allowedCallers: cfg.dicom.allowedCallers,
    maxPduLength: cfg.dicom.maxPduLength,
    maxAssociations: cfg.dicom.maxAssociations,
    timeouts: {
      associationMs: cfg.dicom.timeouts.associationSeconds * 1000,
      pduMs: cfg.dicom.timeouts.pduSeconds * 1000,
      idleMs: cfg.dicom.timeouts.idleSeconds * 1000,
    },
    maxInstanceBytes: Math.round(cfg.dicom.maxInstanceMb * 1024 * 1024),
    spool,
    readMeta: readInstanceMeta,
    parseMeta: parseInstanceMeta,
    parseMetaKeywords: INSTANCE_META_KEYWORDS,
    log: log.child({ stage: 'receive' }),
    onInstance: (meta, info) => {
      if (info.duplicate) return;
      failpoint('after-ack-before-enqueue');
      touchSeries(meta.studyInstanceUid, meta.seriesInstanceUid).catch((e) =>
        log.error('cannot queue series job', { seriesInstanceUid: meta.seriesInstanceUid, error: (e as Error).message }),
      );
    },
  });

  const processLog = log.child({ stage: 'pipeline' });

  // Start-up recovery: a spool series with no processed marker, or with instances the marker
  // did not see, and no job waiting lost its series job in a crash (after the acknowledgement,
  // before the enqueue): queue it. Unacknowledged jobs are still in the durable queue and
  // 'sending' outbox entries resume by themselves.
  async function recoverSpool(): Promise<void> {
    let queued = 0;
    for (const seriesDir of await spool.seriesDirs()) {
      const files = (await readdir(seriesDir)).filter((n) => n.endsWith('.dcm')).sort().map((n) => join(seriesDir, n));
      if (files.length === 0) continue;
      const marker = await markers.get(markers.keyOf(seriesDir));
      if (marker && marker.instances >= files.length) continue;
      let meta;
      try {
        meta = await readBasicMeta(files[0]);
      } catch (e) {
        processLog.warn('spool series unreadable at recovery', { event: 'recovery-unreadable', dir: markers.keyOf(seriesDir), error: (e as Error).message });
        continue;
      }
      const id = seriesJobId(meta.studyInstanceUid, meta.seriesInstanceUid);
      if (await queue.has('series', id)) continue;
      await queue.enqueue<SeriesJob>('series', id, { studyInstanceUid: meta.studyInstanceUid, seriesInstanceUid: meta.seriesInstanceUid }, { notBefore: Date.now() + stableMs });
      jobs.set(id, { id, seriesInstanceUid: meta.seriesInstanceUid, state: 'waiting', instances: files.length });
      queued++;
    }
    if (queued) processLog.info('recovered series jobs lost in a crash', { event: 'recovery-queued', series: queued });
  }
  let running = false;
  let stopped = false;

  const runJob = async (job: { id: string; payload: SeriesJob }) => {
    const { studyInstanceUid, seriesInstanceUid } = job.payload;
    const rec: JobRecord = jobs.get(job.id) ?? { id: job.id, seriesInstanceUid, state: 'waiting', instances: 0 };
    rec.state = 'running';
    rec.startedAt = Date.now();
    jobs.delete(job.id);
    jobs.set(job.id, rec); // re-inserted: the Map's order stays oldest -> newest
    while (jobs.size > MAX_JOB_RECORDS) jobs.delete(jobs.keys().next().value as string);
    const files = await spool.listSeries(studyInstanceUid, seriesInstanceUid);
    const metas = [];
    for (const f of files) {
      try {
        metas.push(await readInstanceMeta(f));
      } catch (e) {
        processLog.warn('stored instance unreadable', { file: f, error: (e as Error).message });
      }
    }
    rec.instances = metas.length;
    processLog.info('series job started', { jobId: job.id, seriesInstanceUid, instances: metas.length });
    const outDir = join(dir, 'derived', shortHash(job.id));
    // Derive into a scratch folder and swap it in, so a crash mid-derive never leaves a half
    // series where the outbox looks; a re-run rebuilds the same UIDs (deterministic).
    const building = `${outDir}.building`;
    await rm(building, { recursive: true, force: true });
    // SeriesNumbers other series of the study use (as far as this node has seen them), so the
    // derived series gets a number of its own.
    const usedSeriesNumbers: number[] = [];
    for (const f of await spool.studySeriesSamples(studyInstanceUid)) {
      const n = await readInstanceMeta(f).then((m) => m.seriesNumber).catch(() => undefined);
      if (n !== undefined) usedSeriesNumbers.push(n);
    }
    const result = await runStacks(metas, { target, interpolator, rules, outDir: building, log: processLog, usedSeriesNumbers });
    await rm(outDir, { recursive: true, force: true });
    await rename(building, outDir).catch((e) => (result.stacks.some((x) => x.derived) ? Promise.reject(e) : undefined));
    for (const s of result.stacks) {
      if (s.derived) s.derived.files = s.derived.files.map((f) => join(outDir, relative(building, f)));
    }
    for (const s of result.stacks) {
      if (!s.derived) continue;
      if (cfg.destinations.length === 0) {
        const dest = join(dir, 'out', shortHash(s.derived.seriesInstanceUid));
        await rm(dest, { recursive: true, force: true });
        await cp(dirname(s.derived.files[0]), dest, { recursive: true });
        processLog.info('derived series kept locally (no destinations)', { derivedSeriesInstanceUid: s.derived.seriesInstanceUid, dir: dest });
      } else {
        await outbox.enqueue(s.derived.seriesInstanceUid, s.derived.files, cfg.destinations.map((d) => d.name));
        failpoint('after-outbox-enqueue');
      }
    }
    await markers.write({
      jobId: job.id,
      studyInstanceUid,
      seriesInstanceUid,
      spoolKey: markers.keyOf(spool.seriesDir(studyInstanceUid, seriesInstanceUid)),
      instances: files.length,
      derivedDir: shortHash(job.id),
      derivedSeries: result.stacks.flatMap((x) => (x.derived ? [x.derived.seriesInstanceUid] : [])),
      finishedAt: Date.now(),
    });
    rec.result = result;
    rec.state = result.stacks.some((s) => s.error) ? 'failed' : 'done';
    rec.finishedAt = Date.now();
    processLog.info('series job finished', {
      jobId: job.id,
      seriesInstanceUid,
      stacks: result.stacks.length,
      processed: result.stacks.filter((s) => s.derived).length,
      seconds: (rec.finishedAt - rec.startedAt!) / 1000,
    });
  };

  const tick = async () => {
    if (running || stopped) return;
    running = true;
    try {
      for (;;) {
        const job = await queue.lease<SeriesJob>('series');
        if (!job) break;
        try {
          await runJob(job);
          await queue.ack(job);
        } catch (e) {
          const error = (e as Error).message;
          processLog.error('series job failed', { jobId: job.id, error });
          const rec = jobs.get(job.id);
          if (rec) Object.assign(rec, { state: 'failed', error, finishedAt: Date.now() });
          if (job.attempts + 1 >= 3) {
            await queue.deadLetter(job, error);
            const { studyInstanceUid: st, seriesInstanceUid: se } = job.payload;
            const spoolKey = markers.keyOf(spool.seriesDir(st, se));
            const instances = (await spool.listSeries(st, se)).length;
            await markers.write({ jobId: job.id, studyInstanceUid: st, seriesInstanceUid: se, spoolKey, instances, derivedDir: shortHash(job.id), derivedSeries: [], failed: true, finishedAt: Date.now() });
          } else await queue.retry(job, Date.now() + 30_000 * (job.attempts + 1), error);
        }
      }
    } finally {
      running = false;
    }
  };
  await recoverSpool();
  const timer = setInterval(() => void tick(), 250);
  outbox.start();
  const stopRetention = startRetention({
    markers,
    outbox,
    spool,
    derivedRoot: join(dir, 'derived'),
    retentionMs: cfg.storage.retentionHours * 3_600_000,
    jobWaiting: (st, se) => queue.has('series', seriesJobId(st, se)),
    log: log.child({ stage: 'retention' }),
  });
  log.info('node started', {
    aeTitle: cfg.dicom.aeTitle,
    host: cfg.dicom.host,
    port: listener.port,
    ...(listener.tlsPort !== undefined ? { plainPort: listener.plainPort ?? null, tlsPort: listener.tlsPort } : {}),
    method: interpolator.method,
    interpolator: interpolator.description,
    destinations: cfg.destinations.map((d) => d.name),
    stableSeconds: cfg.pipeline.stableSeconds,
  });

  let listening = true;
  return {
    port: listener.port,
    listening: () => listening,
    spool,
    queue,
    outbox,
    jobs,
    async idle(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const depth = await queue.depth();
        const waiting = (depth.series?.queued ?? 0) + (depth.series?.leased ?? 0);
        if (waiting === 0 && !running) {
          await outbox.drain();
          return;
        }
        if (Date.now() > deadline) throw new Error('node did not become idle in time');
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      stopRetention();
      listening = false;
      await listener.close();
      spool.close();
      await outbox.stop();
      while (running) await new Promise((r) => setTimeout(r, 50));
      log.info('node stopped');
    },
  };
}
