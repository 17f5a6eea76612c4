// The thin orchestrator of `interslice serve`: wires receive -> quiet period (quiet-period.ts) ->
// series job (job-runner.ts: assemble/select/interpolate/derive) -> outbox, with start-up
// recovery (recovery.ts) and retention. Stages talk through the spool and the job queue only,
// so a shared-storage spool and a networked queue can replace the embedded ones.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { Interpolator, SpacingTarget } from '../core/types.js';
import type { JobQueue, Spool } from '../core/seams.js';
import { FsJobQueue } from '../queue/fs-queue.js';
import { ALL_ROLES, type Role } from '../core/roles.js';
import { openDb, type Db } from '../cluster/db.js';
import { PgJobQueue } from '../cluster/pg-queue.js';
import { IndexedSpool } from '../cluster/indexed-spool.js';
import { JobRecordSync } from '../cluster/job-records.js';
import { PgOutboxStore } from '../cluster/pg-outbox-store.js';
import { FsSpool } from '../receive/spool/spool-fs.js';
import { startDicomListener } from '../receive/transport/scp.js';
import { INSTANCE_META_KEYWORDS, parseInstanceMeta, readInstanceMeta } from '../assemble/instance-meta.js';
import { Outbox } from '../send/outbox.js';
import { commitDelivery, outboxDestination, sendFiles } from '../send/destination.js';
import { rulesFromConfig } from './rules-from-config.js';
import { createInterpolators, type Interpolators } from './interpolator.js';
import { StackAdapter, type AdaptationState } from './adapt-stack.js';
import { stackInterpolators } from './stack-interpolator.js';
import { failpoint } from '../core/failpoints.js';
import { ProcessedMarkers } from './processed.js';
import { startRetention } from '../core/retention.js';
import { loadTlsFiles } from '../core/tls-profile.js';
import { JobRunner, type JobRecord } from './job-runner.js';
import { QuietPeriod } from './quiet-period.js';
import { recoverSpool } from './recovery.js';
import { DerivedRegistry } from './derived-registry.js';
import { noAudit, type AuditSink } from '../core/audit.js';

export type { SeriesJob, JobRecord } from './job-runner.js';
export { seriesJobId } from './quiet-period.js';
export type { Role } from '../core/roles.js';

export interface RunningNode {
  /** The DICOM port (undefined without the receive role). */
  port: number | undefined;
  roles: readonly Role[];
  /** The cluster database (cluster.database), for /readyz. */
  db?: Db;
  spool: Spool;
  queue: JobQueue;
  outbox: Outbox;
  /** Recent jobs, newest last (for logs, tests and the admin API). */
  jobs: Map<string, JobRecord>;
  /** Every study's derived series, superseded ones included (admin API). */
  registry: DerivedRegistry;
  /** True while the DICOM listener is bound (for /readyz). */
  listening(): boolean;
  /** Per-series adaptation: configured, available, and if not, why (for /readyz). */
  adaptation(): AdaptationState;
  /** Resolves when no series job is waiting or running and the outbox has nothing due. */
  idle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A process without the process role never interpolates (and loads no model). */
const notInterpolating: Interpolator = {
  method: 'linear',
  description: 'none (this process has no process role)',
  contentId: 'none',
  interpolate: () => Promise.reject(new Error('this process has no process role')),
};

export function targetFromConfig(cfg: Config): SpacingTarget {
  return cfg.pipeline.factor ? { factor: cfg.pipeline.factor } : { spacingMm: cfg.pipeline.targetSpacingMm };
}

export async function startNode(
  cfg: Config,
  log: Logger,
  interpolatorsIn?: Interpolators,
  audit: AuditSink = noAudit,
  roles: readonly Role[] = ALL_ROLES,
): Promise<RunningNode> {
  const dir = cfg.storage.dir;
  await mkdir(dir, { recursive: true });
  const has = (r: Role) => roles.includes(r);
  // Clustered (cluster.database): the index, queue and outbox in PostgreSQL, the files on the shared storage.dir.
  const db = cfg.cluster.database ? openDb(cfg.cluster.database, log.child({ stage: 'database' }), { max: cfg.cluster.poolSize }) : undefined;
  const leaseMs = cfg.cluster.leaseSeconds * 1000;
  const files = new FsSpool({ root: join(dir, 'spool'), minFreeBytes: cfg.storage.minFreeMb * 1024 * 1024, log: log.child({ stage: 'spool' }) });
  const spool = db ? new IndexedSpool(files, db) : files;
  const queue: JobQueue = db ? new PgJobQueue(db, { leaseMs }) : new FsJobQueue(join(dir, 'jobs'));
  const markers = new ProcessedMarkers(join(dir, 'processed'));
  const registry = new DerivedRegistry(join(dir, 'registry'));
  const interpolators: Interpolators = interpolatorsIn ?? (has('process') ? await createInterpolators(cfg, log) : { standard: notInterpolating });
  const baseInterpolator = interpolators.standard;
  // The same interpolator with the crash harness's 'mid-series-job' fail point after it.
  const withFailpoint = (i: Interpolator): Interpolator => ({
    method: i.method,
    // Getters: after a SIGHUP model reload the derived series must name (and be keyed on) the new model.
    get description() {
      return i.description;
    },
    get contentId() {
      return i.contentId;
    },
    get adaptation() {
      return i.adaptation;
    },
    interpolate: async (volume, plan) => {
      const out = await i.interpolate(volume, plan);
      failpoint('mid-series-job');
      return out;
    },
  });
  const interpolator = withFailpoint(baseInterpolator);
  // Per-series adaptation (pipeline.adapt): only where this process interpolates.
  const adapter = has('process') && cfg.pipeline.adapt !== 'none'
    ? new StackAdapter({
      mode: cfg.pipeline.adapt,
      method: baseInterpolator.method,
      seconds: cfg.pipeline.adaptSeconds,
      maxThickness: cfg.pipeline.adaptMaxThickness,
      threads: cfg.pipeline.inferenceThreads,
      storageDir: dir,
      retentionMs: cfg.storage.retentionHours * 3_600_000,
      log: log.child({ stage: 'adapt' }),
    })
    : undefined;
  const forStack = stackInterpolators(interpolators, adapter, withFailpoint, log.child({ stage: 'interpolate' }), targetFromConfig(cfg));
  const adaptationOff: AdaptationState = {
    ok: true,
    mode: cfg.pipeline.adapt,
    available: false,
    reason: cfg.pipeline.adapt === 'none' ? 'not configured (pipeline.adapt: none)' : 'this process has no process role',
  };
  const stableMs = cfg.pipeline.stableSeconds * 1000;
  const jobs = new Map<string, JobRecord>();
  const processLog = log.child({ stage: 'pipeline' });

  const outbox = new Outbox({
    dir: join(dir, 'outbox'),
    // Clustered: every sender claims entries from one table; a dead sender's lease is taken over.
    ...(db ? { store: new PgOutboxStore(db), leaseMs } : {}),
    destinations: cfg.destinations.map((d) => outboxDestination(d, cfg)),
    // DIMSE C-STORE or STOW-RS after the destination's kind.
    send: (d, files) => sendFiles(d, files, cfg.send.timeoutSeconds * 1000),
    commit: (d, uid, refs, onReport) => commitDelivery(d, uid, refs, onReport, cfg.send.timeoutSeconds * 1000),
    commitmentTimeoutMs: cfg.send.commitmentTimeoutSeconds * 1000,
    log: log.child({ stage: 'send' }),
    onFinished: (entry, d, delivered) => {
      if (!entry.subject) return;
      // A STOW-RS destination is named by its URL's host (it has no AE title).
      const to = !d ? { aeTitle: entry.destination } : d.kind === 'stowrs' ? { host: new URL(d.url).host } : { aeTitle: d.aeTitle, host: d.host };
      audit.record({ kind: 'sent', to, study: entry.subject, outcome: delivered ? 0 : 8 });
    },
    backoff: {
      baseMs: cfg.send.baseDelaySeconds * 1000,
      maxMs: cfg.send.maxDelaySeconds * 1000,
      maxAttempts: cfg.send.maxAttempts,
    },
  });

  const waitingRecord = (id: string, seriesUid: string) => {
    const rec = jobs.get(id);
    if (!rec || (rec.state !== 'waiting' && rec.state !== 'retrying')) {
      jobs.set(id, { id, seriesInstanceUid: seriesUid, state: 'waiting', instances: rec?.instances ?? 0 });
    }
    return jobs.get(id)!;
  };
  const quiet = new QuietPeriod({
    queue,
    stableMs,
    late: cfg.pipeline.lateInstances,
    finished: async (st, se) => {
      const m = await markers.get(spool.seriesKey(st, se));
      return !!m && !m.failed;
    },
    // Clustered, other processes finish the jobs: their markers are read again after a second.
    finishedTtlMs: db ? 1000 : undefined,
    onQueued: (id, se) => void waitingRecord(id, se),
    onInstance: (id) => {
      const rec = jobs.get(id);
      if (rec) rec.instances += 1;
    },
    log: processLog,
  });

  const runner = new JobRunner({
    queue,
    spool,
    markers,
    registry,
    // Two workers on two series of one study would both read and write its registry and SeriesNumbers.
    withStudyLock: db ? (study, fn) => db.withLock(`study:${study}`, fn) : undefined,
    interpolator,
    forStack,
    rules: rulesFromConfig(cfg),
    target: targetFromConfig(cfg),
    uidRoot: cfg.dicom.uidRoot,
    retry: cfg.pipeline.retry,
    derivedRoot: join(dir, 'derived'),
    localOutDir: join(dir, 'out'),
    destinations: cfg.destinations.map((d) => d.name),
    rejectDestinations: cfg.destinations.filter((d) => d.rejectSuperseded).map((d) => d.name),
    outbox,
    jobs,
    onSettled: (id, finished) => quiet.markFinished(id, finished),
    audit,
    log: processLog,
  });

  const listener = !has('receive') ? undefined : await startDicomListener({
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
    audit,
    log: log.child({ stage: 'receive' }),
    onCommitmentReport: (report) => outbox.commitmentReport(report),
    onInstance: (meta, info) => {
      if (info.duplicate || db) return; // clustered: queued before the acknowledgement (below)
      failpoint('after-ack-before-enqueue');
      quiet.touch(meta.studyInstanceUid, meta.seriesInstanceUid).catch((e) =>
        log.error('cannot queue series job', { seriesInstanceUid: meta.seriesInstanceUid, error: (e as Error).message }),
      );
    },
  });

  if (spool instanceof IndexedSpool) {
    // Index and job in the database before the success status: no receiver's memory holds the quiet period.
    spool.afterStore = (input) => quiet.touch(input.studyInstanceUid, input.seriesInstanceUid);
  }

  // Embedded only: clustered, an acknowledged instance's job is already in the database.
  if (!db && has('receive')) await recoverSpool({
    spool,
    markers,
    queue,
    stableMs,
    late: cfg.pipeline.lateInstances,
    onQueued: (id, se, instances) => Object.assign(waitingRecord(id, se), { instances }),
    log: processLog,
  });
  // Clustered: the job records go to the database, and the other processes' come back (admin API).
  const records = queue instanceof PgJobQueue && db ? new JobRecordSync(db, jobs, queue.owner, has('process')) : undefined;
  records?.start();
  if (has('process')) runner.start();
  if (has('send')) outbox.start();
  const stopRetention = !has('process') ? () => undefined : startRetention({
    markers,
    outbox,
    spool,
    derivedRoot: join(dir, 'derived'),
    retentionMs: cfg.storage.retentionHours * 3_600_000,
    jobWaiting: (st, se) => queue.has('series', `${st}/${se}`),
    log: log.child({ stage: 'retention' }),
  });
  log.info('node started', {
    roles,
    cluster: db ? 'postgresql' : 'embedded',
    aeTitle: cfg.dicom.aeTitle,
    host: cfg.dicom.host,
    port: listener?.port ?? null,
    ...(listener?.tlsPort !== undefined ? { plainPort: listener.plainPort ?? null, tlsPort: listener.tlsPort } : {}),
    method: interpolator.method,
    interpolator: interpolator.description,
    ...(interpolators.thick ? { thickInterpolator: interpolators.thick.interpolator.description, thickAbove: interpolators.thick.above } : {}),
    refiners: interpolators.refiners?.map((r) => ({ refiner: r.description, factors: r.factors ?? null })) ?? [],
    adapt: cfg.pipeline.adapt,
    destinations: cfg.destinations.map((d) => d.name),
    stableSeconds: cfg.pipeline.stableSeconds,
    lateInstances: cfg.pipeline.lateInstances,
  });

  let listening = !!listener;
  return {
    port: listener?.port,
    roles,
    db,
    listening: () => listening,
    adaptation: () => adapter?.state() ?? adaptationOff,
    spool,
    queue,
    outbox,
    jobs,
    registry,
    async idle(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const depth = await queue.depth();
        const waiting = (depth.series?.queued ?? 0) + (depth.series?.leased ?? 0);
        if (waiting === 0 && !runner.busy) {
          await outbox.drain();
          return;
        }
        if (Date.now() > deadline) throw new Error('node did not become idle in time');
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      stopRetention();
      listening = false;
      await listener?.close();
      spool.close();
      await outbox.stop();
      await runner.stop();
      await records?.stop();
      if (queue instanceof PgJobQueue) queue.close();
      await db?.close();
      log.info('node stopped');
    },
  };
}
