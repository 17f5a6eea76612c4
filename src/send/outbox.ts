// Durable outbox: one entry per (derived series, destination) in an OutboxStore (outbox-store.ts:
// JSON manifests under <storage.dir>/outbox by default; src/cluster/pg-outbox-store.ts shares
// them between the processes of a cluster). A worker claims due entries, at most
// associationsPerDestination at a time per destination (across the cluster with a shared
// store), and holds each under a lease it renews while sending; failures retry with capped
// exponential backoff and only the files not yet acknowledged are re-sent; after maxAttempts an
// entry is 'dead' and stays listed until requeue(). All state is in the store, so retries survive
// restarts; an entry whose sender died in 'sending' is sent again (at-least-once: the peer sees
// the same SOP Instance UIDs again, which PACS treat as a resend). Every change is a
// compare-and-set on the entry's revision: whoever changed the entry meanwhile wins.
//
// A destination with storage commitment: once every file is acknowledged the entry requests
// commitment (N-ACTION, a Transaction UID per request, saved first) and waits in 'committing'
// for the report (commitmentReport(), from the listener or the N-ACTION's own association).
// All committed: done. Some failed: those files are sent again and commitment requested again.
// No report within the commitment timeout, or no N-ACTION success: a failed attempt (backoff,
// dead after maxAttempts), and the next attempt requests commitment again.
import { stageMetrics } from '../core/metrics.js';
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { logger, type Logger } from '../core/log.js';
import type { StoreResult } from './scu.js';
import { commitDelivery, sendFiles, type OutboxDestination } from './destination.js';
import type { AuditStudy } from '../core/audit.js';
import { commitmentTransactionUid, matchCommitmentReport, type CommitmentReport, type SopRef } from '../dicom/storage-commitment.js';
import { sopRefsOf, type CommitmentRequestResult, type ReportSink } from './commitment.js';
import { FsOutboxStore, type OutboxEntry, type OutboxStore } from './outbox-store.js';

export type { OutboxDestination } from './destination.js';
export type { CommitmentState, OutboxEntry, OutboxLease, OutboxState, OutboxStore } from './outbox-store.js';
export { FsOutboxStore } from './outbox-store.js';

export interface BackoffOptions {
  baseMs?: number;
  factor?: number;
  maxMs?: number;
  /** Failed attempts after which the entry is dead. */
  maxAttempts?: number;
}

/** 10 s, 20 s, 40 s ... capped at 15 min; dead after 30 failures (about 6 h of retrying). */
export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 10_000, factor: 2, maxMs: 15 * 60_000, maxAttempts: 30 };

/** Delay before the next attempt after `failures` failed ones (1 -> baseMs). */
export function backoffDelay(failures: number, b: BackoffOptions = {}): number {
  const o = { ...DEFAULT_BACKOFF, ...b };
  return Math.min(o.maxMs, o.baseMs * o.factor ** Math.max(0, failures - 1));
}

export type SendFn = (dest: OutboxDestination, files: string[]) => Promise<StoreResult[]>;
/** Sends one storage commitment request (N-ACTION); a report on its association goes to onReport. */
export type CommitFn = (dest: OutboxDestination, transactionUid: string, refs: SopRef[], onReport: ReportSink) => Promise<CommitmentRequestResult>;

export interface OutboxOptions {
  /** The outbox directory itself (the node uses <storage.dir>/outbox); the FsOutboxStore's, when no store is given. */
  dir?: string;
  /** Where the entries are kept (default: FsOutboxStore at dir). */
  store?: OutboxStore;
  destinations: OutboxDestination[];
  /** Default: sendFiles (DIMSE or STOW-RS after the destination's kind). */
  send?: SendFn;
  log?: Logger;
  backoff?: BackoffOptions;
  /** How often the worker looks for due entries (default 1 s). */
  pollMs?: number;
  /** Default: requestCommitment (DIMSE N-ACTION). */
  commit?: CommitFn;
  /** Longest wait for a storage commitment report after the N-ACTION (default 600 s). */
  commitmentTimeoutMs?: number;
  /** How long a claimed entry stays ours without a renewal (default 30 s; renewed every third of it while sending). */
  leaseMs?: number;
  /** Entries of one destination sending at once, across every worker on the store (default 1: one association). */
  associationsPerDestination?: number;
  /** Told when an entry is delivered (true) or gives up (false): the audit trail's hook. */
  onFinished?(entry: OutboxEntry, destination: OutboxDestination | undefined, delivered: boolean): void;
}

const SAFE = /^[A-Za-z0-9._-]{1,100}$/;
const key = (s: string) => (SAFE.test(s) && !s.startsWith('.') ? s : `h${createHash('sha256').update(s).digest('hex').slice(0, 40)}`);

function summarize(failed: StoreResult[], total: number): string {
  const reasons = [...new Set(failed.map((r) => r.error ?? `status ${r.status}`))];
  return `${failed.length} of ${total} failed: ${reasons.slice(0, 3).join('; ')}`.slice(0, 500);
}

const sameFiles = (e: OutboxEntry, files: string[]) => e.files.length === files.length && files.every((f) => e.files.includes(f));

export class Outbox {
  private readonly store: OutboxStore;
  private readonly send: SendFn;
  private readonly log: Logger;
  private readonly backoff: Required<BackoffOptions>;
  private readonly destinations: Map<string, OutboxDestination>;
  private readonly pollMs: number;
  private readonly onFinished?: OutboxOptions['onFinished'];
  private readonly commit: CommitFn;
  private readonly commitmentTimeoutMs: number;
  private readonly leaseMs: number;
  private readonly perDestination: number;
  /** This worker's name on its leases: unique per Outbox, readable in list(). */
  private readonly owner = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  /** Destination and slot -> the runner sending its due entries. */
  private readonly busy = new Map<string, Promise<void>>();
  /** Entries this worker claimed (drain() waits when there was none to claim). */
  private claims = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(o: OutboxOptions) {
    this.log = o.log ?? logger('send');
    if (!o.store && !o.dir) throw new Error('an outbox needs a store or a dir');
    this.store = o.store ?? new FsOutboxStore(o.dir!, this.log);
    this.send = o.send ?? sendFiles;
    this.backoff = { ...DEFAULT_BACKOFF, ...o.backoff };
    this.destinations = new Map(o.destinations.map((d) => [d.name, d]));
    this.pollMs = o.pollMs ?? 1000;
    this.onFinished = o.onFinished;
    this.commit = o.commit ?? commitDelivery;
    this.commitmentTimeoutMs = o.commitmentTimeoutMs ?? 600_000;
    this.leaseMs = o.leaseMs ?? 30_000;
    this.perDestination = Math.max(1, o.associationsPerDestination ?? 1);
  }

  /** Queues files for each named destination; returns the entries. Unknown names throw. */
  async enqueue(seriesId: string, files: string[], destinationNames: string[], subject?: AuditStudy): Promise<OutboxEntry[]> {
    const unknown = destinationNames.filter((n) => !this.destinations.has(n));
    if (unknown.length) throw new Error(`unknown destination(s): ${unknown.join(', ')}`);
    const out: OutboxEntry[] = [];
    for (const destination of destinationNames) {
      const id = `${key(seriesId)}--${key(destination)}`;
      for (;;) {
        // The same files again: nothing to do. Other files: the new entry replaces the old one
        // (a sender of the old one finds its revision gone and leaves the entry to the new one).
        const existing = await this.store.get(id);
        if (existing && existing.state !== 'dead' && sameFiles(existing, files)) {
          out.push(existing);
          break;
        }
        const now = Date.now();
        const entry: OutboxEntry = {
          id, seriesId, destination, files: [...files], sent: [], state: 'queued', attempts: 0, nextAttemptAt: now, createdAt: now, updatedAt: now,
          ...(subject ? { subject } : {}), revision: existing?.revision,
        };
        const saved = await this.store.save(entry);
        if (!saved) continue; // changed meanwhile (another process): look again
        this.log.info('queued for sending', { event: 'send-queued', entry: id, seriesId, destination, files: files.length });
        out.push(saved);
        break;
      }
    }
    return out;
  }

  /** Starts the worker (polls for due entries). */
  start(): void {
    this.stopped = false;
    if (this.timer) return;
    this.timer = setInterval(() => void this.runDue().catch((e) => this.log.error('outbox worker failed', { event: 'send-internal-error', error: String(e) })), this.pollMs);
    this.timer.unref();
    void this.runDue().catch(() => undefined);
  }

  /** Stops the worker after the sends in progress finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.busy.values());
  }

  /** Every entry with its state and last error, oldest first. */
  list(): Promise<OutboxEntry[]> {
    return this.store.list();
  }

  /** Operator action: gives a dead entry a fresh set of attempts. */
  async requeue(id: string): Promise<void> {
    for (;;) {
      const e = await this.store.get(id);
      if (!e) throw new Error(`no outbox entry ${id}`);
      if (await this.store.save({ ...e, state: 'queued', attempts: 0, nextAttemptAt: Date.now(), updatedAt: Date.now() })) return;
    }
  }

  /**
   * A storage commitment result (N-EVENT-REPORT) arrived: applied to the entry waiting for its
   * Transaction UID. Resolves false when no entry waits for it (unknown or already settled).
   */
  async commitmentReport(report: CommitmentReport): Promise<boolean> {
    const entry = await this.store.committing(report.transactionUid);
    if (!entry) {
      this.log.warn('storage commitment report for no waiting entry', { event: 'commit-unknown', transactionUid: report.transactionUid, eventTypeId: report.eventTypeId });
      return false;
    }
    let refs: { file: string; ref: SopRef }[];
    try {
      refs = sopRefsOf(entry.files).map((ref, i) => ({ file: entry.files[i], ref }));
    } catch (e) {
      return this.fail(entry, `storage commitment: cannot read the files sent: ${e instanceof Error ? e.message : String(e)}`);
    }
    const match = matchCommitmentReport(refs.map((r) => r.ref), report);
    const now = Date.now();
    if (match.complete) {
      const done = await this.store.save({ ...entry, state: 'done', lastError: undefined, updatedAt: now, commitment: { ...entry.commitment!, committed: refs.length } });
      if (!done) return false; // settled meanwhile (another report, a timeout, a re-enqueue)
      this.delivered(done, { committed: refs.length, transactionUid: report.transactionUid });
      return true;
    }
    // The instances not committed are sent again, then commitment is requested again.
    const again = new Set(match.notCommitted);
    const resend = new Set(refs.filter((r) => again.has(r.ref.sopInstanceUid)).map((r) => r.file));
    const sent = entry.sent.filter((f) => !resend.has(f));
    return this.fail({ ...entry, sent }, `storage commitment: ${again.size} of ${refs.length} not committed (${match.reasons.join(', ') || 'not listed'})`);
  }

  /** Retention: forgets a delivered (or dead) entry; queued and sending entries stay. */
  remove(id: string): Promise<boolean> {
    return this.store.remove(id);
  }

  /**
   * Sends everything that is due now, again until nothing is due (tests, shutdown). An entry
   * due but not claimable (another worker sends to its destination) is waited for, polling.
   */
  async drain(): Promise<void> {
    for (;;) {
      const claims = this.claims;
      await this.runDue(true);
      if (this.busy.size === 0 && !(await this.hasDue())) return;
      if (this.claims === claims) await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  private async hasDue(now = Date.now()): Promise<boolean> {
    return (await this.store.pending(now)).some((e) => e.state !== 'committing');
  }

  private async runDue(evenIfStopped = false): Promise<void> {
    if (this.stopped && !evenIfStopped) return;
    const now = Date.now();
    const pending = await this.store.pending(now);
    for (const e of pending) {
      if (e.state === 'committing' && e.commitment && e.commitment.requestedAt + this.commitmentTimeoutMs <= now) {
        await this.fail(e, `no storage commitment report within ${Math.round(this.commitmentTimeoutMs / 1000)} s`);
      }
    }
    for (const destination of new Set(pending.filter((e) => e.state !== 'committing').map((e) => e.destination))) {
      for (let slot = 0; slot < this.perDestination; slot++) {
        const k = `${destination}#${slot}`;
        if (this.busy.has(k)) continue;
        this.busy.set(k, this.runDestination(destination).finally(() => this.busy.delete(k)));
      }
    }
    await Promise.all(this.busy.values());
  }

  /** Claims and sends due entries of one destination, one association after another. */
  private async runDestination(destination: string): Promise<void> {
    for (;;) {
      const next = await this.store.claim(destination, this.owner, this.leaseMs, this.perDestination, Date.now());
      if (!next) return;
      this.claims++;
      await this.attempt(next);
    }
  }

  private async attempt(entry: OutboxEntry): Promise<void> {
    const dest = this.destinations.get(entry.destination);
    if (!dest) {
      const dead = await this.store.save({ ...entry, state: 'dead', lastError: `destination ${entry.destination} is not configured`, updatedAt: Date.now() });
      if (!dead) return;
      stageMetrics().sendResult(entry.destination, 'dead');
      this.onFinished?.(dead, undefined, false);
      return;
    }
    const pending = entry.files.filter((f) => !entry.sent.includes(f));
    let results: StoreResult[] = [];
    const stopRenewing = this.renewWhileSending(entry);
    try {
      if (pending.length) results = await this.send(dest, pending);
    } catch (e) {
      results = pending.map((file) => ({ file, ok: false, error: e instanceof Error ? e.message : String(e) }));
    } finally {
      stopRenewing();
    }
    const sent = [...entry.sent, ...results.filter((r) => r.ok).map((r) => r.file)];
    const failed = results.filter((r) => !r.ok);
    if (failed.length === 0 && dest.kind !== 'stowrs' && dest.storageCommitment) {
      await this.requestCommit({ ...entry, sent, lastError: undefined }, dest);
      return;
    }
    if (failed.length === 0) {
      // Not saved: re-enqueued or taken over meanwhile, and the stored entry wins.
      const done = await this.store.save({ ...entry, sent, state: 'done', lastError: undefined, updatedAt: Date.now() });
      if (done) this.delivered(done);
      return;
    }
    await this.fail({ ...entry, sent }, summarize(failed, pending.length));
  }

  /** Renews a claimed entry's lease every third of leaseMs until the returned function is called. */
  private renewWhileSending(entry: OutboxEntry): () => void {
    const timer = setInterval(() => {
      this.store.renew(entry, this.leaseMs).then(
        (ok) => {
          if (ok) return;
          clearInterval(timer);
          this.log.warn('outbox entry changed while sending', { event: 'send-lease-lost', entry: entry.id, destination: entry.destination });
        },
        (e) => this.log.warn('cannot renew the outbox lease', { event: 'send-lease-error', entry: entry.id, error: String(e) }),
      );
    }, Math.max(10, Math.floor(this.leaseMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  private delivered(entry: OutboxEntry, extra: Record<string, unknown> = {}): void {
    stageMetrics().sendAttempt(entry.destination, 'success');
    stageMetrics().sendResult(entry.destination, 'done');
    this.log.info('series delivered', { event: 'send-done', entry: entry.id, destination: entry.destination, files: entry.files.length, attempts: entry.attempts + 1, ...extra });
    this.onFinished?.(entry, this.destinations.get(entry.destination), true);
  }

  /** Every file acknowledged: saves the new transaction ('committing'), then sends the N-ACTION. */
  private async requestCommit(entry: OutboxEntry, dest: OutboxDestination): Promise<void> {
    let refs: SopRef[];
    try {
      refs = sopRefsOf(entry.files);
    } catch (e) {
      await this.fail(entry, `storage commitment: cannot read the files sent: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const requests = (entry.commitment?.requests ?? 0) + 1;
    const transactionUid = commitmentTransactionUid(entry.id, requests);
    // Saved before the N-ACTION: a report may come (on another association, to any process) before its response.
    const committing = await this.store.save({ ...entry, state: 'committing', commitment: { transactionUid, requests, requestedAt: Date.now() }, updatedAt: Date.now() });
    if (!committing) return; // re-enqueued or taken over meanwhile
    let r: CommitmentRequestResult;
    try {
      r = await this.commit(dest, transactionUid, refs, (report) => this.commitmentReport(report));
    } catch (e) {
      r = { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    if (r.ok) this.log.info('storage commitment requested', { event: 'commit-requested', entry: entry.id, destination: entry.destination, instances: refs.length, transactionUid, request: requests });
    const now = await this.store.get(entry.id);
    if (now?.state !== 'committing' || now.commitment?.transactionUid !== transactionUid) return; // settled meanwhile (report, re-enqueue)
    if (!r.ok) await this.fail(now, `storage commitment request: ${r.error ?? 'failed'}`);
  }

  /** A failed attempt: queued again with backoff, or dead after maxAttempts. False when the entry changed meanwhile (nothing saved). */
  private async fail(entry: OutboxEntry, lastError: string): Promise<boolean> {
    const now = Date.now();
    const attempts = entry.attempts + 1;
    const dead = attempts >= this.backoff.maxAttempts;
    const nextAttemptAt = dead ? now : now + backoffDelay(attempts, this.backoff);
    const next = await this.store.save({ ...entry, attempts, lastError: lastError.slice(0, 500), state: dead ? 'dead' : 'queued', nextAttemptAt, updatedAt: now });
    if (!next) return false;
    stageMetrics().sendAttempt(entry.destination, 'failure');
    if (dead) {
      stageMetrics().sendResult(entry.destination, 'dead');
      this.log.error('send gave up (dead letter)', { event: 'send-dead', entry: entry.id, destination: entry.destination, attempts, lastError: next.lastError });
      this.onFinished?.(next, this.destinations.get(entry.destination), false);
    } else {
      stageMetrics().sendRetry(entry.destination);
      this.log.warn('send failed, will retry', { event: 'send-failed', entry: entry.id, destination: entry.destination, attempts, retryInMs: nextAttemptAt - now, lastError: next.lastError });
    }
    return true;
  }
}
