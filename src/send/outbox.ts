// Durable outbox: one JSON manifest per (derived series, destination) under <storage.dir>/outbox,
// rewritten crash-consistently (temp file, fsync, rename, fsync dir). A worker sends due
// entries, one association at a time per destination; failures retry with capped exponential
// backoff and only the files not yet acknowledged are re-sent; after maxAttempts an entry is
// 'dead' and stays listed until requeue(). All state is on disk, so retries survive restarts;
// an entry caught in 'sending' by a crash is sent again (at-least-once: the peer sees the
// same SOP Instance UIDs again, which PACS treat as a resend).
//
// A destination with storage commitment: once every file is acknowledged the entry requests
// commitment (N-ACTION, a Transaction UID per request, saved first) and waits in 'committing'
// for the report (commitmentReport(), from the listener or the N-ACTION's own association).
// All committed: done. Some failed: those files are sent again and commitment requested again.
// No report within the commitment timeout, or no N-ACTION success: a failed attempt (backoff,
// dead after maxAttempts), and the next attempt requests commitment again.
import { stageMetrics } from '../core/metrics.js';
import { writeFileDurable } from '../core/durable-fs.js';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { logger, type Logger } from '../core/log.js';
import type { StoreResult } from './scu.js';
import { commitDelivery, sendFiles, type OutboxDestination } from './destination.js';
import type { AuditStudy } from '../core/audit.js';
import { commitmentTransactionUid, matchCommitmentReport, type CommitmentReport, type SopRef } from '../dicom/storage-commitment.js';
import { sopRefsOf, type CommitmentRequestResult, type ReportSink } from './commitment.js';

export type { OutboxDestination } from './destination.js';

/** committing: every file acknowledged, waiting for the destination's storage commitment report. */
export type OutboxState = 'queued' | 'sending' | 'committing' | 'done' | 'dead';

/** The storage commitment transaction of an entry (its latest request). */
export interface CommitmentState {
  transactionUid: string;
  /** Requests made so far (this one included). */
  requests: number;
  /** Epoch ms of the N-ACTION; the report is due within the commitment timeout from here. */
  requestedAt: number;
  /** Instances the destination committed (set when done). */
  committed?: number;
}

export interface OutboxEntry {
  id: string;
  seriesId: string;
  destination: string;
  files: string[];
  /** Files the destination acknowledged (not sent again on retry). */
  sent: string[];
  state: OutboxState;
  /** Failed attempts so far. */
  attempts: number;
  /** Epoch ms; the entry is due when queued and this is in the past. */
  nextAttemptAt: number;
  lastError?: string;
  createdAt: number;
  updatedAt: number;
  /** The study and instances, for the audit record of the transfer (patient identifier included). */
  subject?: AuditStudy;
  /** Storage commitment (destinations with storageCommitment only). */
  commitment?: CommitmentState;
}

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
  /** The outbox directory itself (the node uses <storage.dir>/outbox). */
  dir: string;
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
  /** Told when an entry is delivered (true) or gives up (false): the audit trail's hook. */
  onFinished?(entry: OutboxEntry, destination: OutboxDestination | undefined, delivered: boolean): void;
}

const SAFE = /^[A-Za-z0-9._-]{1,100}$/;
const key = (s: string) => (SAFE.test(s) && !s.startsWith('.') ? s : `h${createHash('sha256').update(s).digest('hex').slice(0, 40)}`);

function summarize(failed: StoreResult[], total: number): string {
  const reasons = [...new Set(failed.map((r) => r.error ?? `status ${r.status}`))];
  return `${failed.length} of ${total} failed: ${reasons.slice(0, 3).join('; ')}`.slice(0, 500);
}

export class Outbox {
  private readonly dir: string;
  private readonly send: SendFn;
  private readonly log: Logger;
  private readonly backoff: Required<BackoffOptions>;
  private readonly destinations: Map<string, OutboxDestination>;
  private readonly pollMs: number;
  private readonly onFinished?: OutboxOptions['onFinished'];
  private readonly commit: CommitFn;
  private readonly commitmentTimeoutMs: number;
  private readonly entries = new Map<string, OutboxEntry>();
  /** Destination name -> the runner sending its due entries. */
  private readonly busy = new Map<string, Promise<void>>();
  private loaded?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(o: OutboxOptions) {
    this.dir = o.dir;
    this.send = o.send ?? sendFiles;
    this.log = o.log ?? logger('send');
    this.backoff = { ...DEFAULT_BACKOFF, ...o.backoff };
    this.destinations = new Map(o.destinations.map((d) => [d.name, d]));
    this.pollMs = o.pollMs ?? 1000;
    this.onFinished = o.onFinished;
    this.commit = o.commit ?? commitDelivery;
    this.commitmentTimeoutMs = o.commitmentTimeoutMs ?? 600_000;
  }

  /** Queues files for each named destination; returns the entries. Unknown names throw. */
  async enqueue(seriesId: string, files: string[], destinationNames: string[], subject?: AuditStudy): Promise<OutboxEntry[]> {
    await this.load();
    const unknown = destinationNames.filter((n) => !this.destinations.has(n));
    if (unknown.length) throw new Error(`unknown destination(s): ${unknown.join(', ')}`);
    const out: OutboxEntry[] = [];
    for (const destination of destinationNames) {
      const id = `${key(seriesId)}--${key(destination)}`;
      const existing = this.entries.get(id);
      const same = existing && existing.state !== 'dead' && existing.files.length === files.length && files.every((f) => existing.files.includes(f));
      if (same) {
        out.push({ ...existing });
        continue;
      }
      const now = Date.now();
      const entry: OutboxEntry = { id, seriesId, destination, files: [...files], sent: [], state: 'queued', attempts: 0, nextAttemptAt: now, createdAt: now, updatedAt: now, ...(subject ? { subject } : {}) };
      await this.save(entry);
      this.log.info('queued for sending', { event: 'send-queued', entry: id, seriesId, destination, files: files.length });
      out.push({ ...entry });
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
  async list(): Promise<OutboxEntry[]> {
    await this.load();
    return [...this.entries.values()].sort((a, b) => a.createdAt - b.createdAt).map((e) => ({ ...e, files: [...e.files], sent: [...e.sent] }));
  }

  /** Operator action: gives a dead entry a fresh set of attempts. */
  async requeue(id: string): Promise<void> {
    await this.load();
    const e = this.entries.get(id);
    if (!e) throw new Error(`no outbox entry ${id}`);
    await this.save({ ...e, state: 'queued', attempts: 0, nextAttemptAt: Date.now(), updatedAt: Date.now() });
  }

  /**
   * A storage commitment result (N-EVENT-REPORT) arrived: applied to the entry waiting for its
   * Transaction UID. Resolves false when no entry waits for it (unknown or already settled).
   */
  async commitmentReport(report: CommitmentReport): Promise<boolean> {
    await this.load();
    const entry = [...this.entries.values()].find((e) => e.state === 'committing' && e.commitment?.transactionUid === report.transactionUid);
    if (!entry) {
      this.log.warn('storage commitment report for no waiting entry', { event: 'commit-unknown', transactionUid: report.transactionUid, eventTypeId: report.eventTypeId });
      return false;
    }
    let refs: { file: string; ref: SopRef }[];
    try {
      refs = sopRefsOf(entry.files).map((ref, i) => ({ file: entry.files[i], ref }));
    } catch (e) {
      await this.fail(entry, `storage commitment: cannot read the files sent: ${e instanceof Error ? e.message : String(e)}`);
      return true;
    }
    const match = matchCommitmentReport(refs.map((r) => r.ref), report);
    const now = Date.now();
    if (match.complete) {
      const done: OutboxEntry = { ...entry, state: 'done', lastError: undefined, updatedAt: now, commitment: { ...entry.commitment!, committed: refs.length } };
      await this.save(done);
      stageMetrics().sendAttempt(entry.destination, 'success');
      stageMetrics().sendResult(entry.destination, 'done');
      this.log.info('series delivered', {
        event: 'send-done', entry: entry.id, destination: entry.destination, files: entry.files.length, attempts: entry.attempts + 1,
        committed: refs.length, transactionUid: report.transactionUid,
      });
      this.onFinished?.(done, this.destinations.get(entry.destination), true);
      return true;
    }
    // The instances not committed are sent again, then commitment is requested again.
    const again = new Set(match.notCommitted);
    const resend = new Set(refs.filter((r) => again.has(r.ref.sopInstanceUid)).map((r) => r.file));
    const sent = entry.sent.filter((f) => !resend.has(f));
    await this.fail({ ...entry, sent }, `storage commitment: ${again.size} of ${refs.length} not committed (${match.reasons.join(', ') || 'not listed'})`);
    return true;
  }

  /** Retention: forgets a delivered (or dead) entry; queued and sending entries stay. */
  async remove(id: string): Promise<boolean> {
    await this.load();
    const e = this.entries.get(id);
    if (!e || (e.state !== 'done' && e.state !== 'dead')) return false;
    this.entries.delete(id);
    await unlink(join(this.dir, `${id}.json`)).catch(() => undefined);
    return true;
  }

  /** Sends everything that is due now, again until nothing is due (tests, shutdown). */
  async drain(): Promise<void> {
    for (;;) {
      await this.runDue(true);
      if (this.busy.size === 0 && !this.hasDue()) return;
    }
  }

  private hasDue(now = Date.now()): boolean {
    for (const e of this.entries.values()) if (e.state === 'queued' && e.nextAttemptAt <= now) return true;
    return false;
  }

  private async runDue(evenIfStopped = false): Promise<void> {
    await this.load();
    if (this.stopped && !evenIfStopped) return;
    const now = Date.now();
    for (const e of this.entries.values()) {
      if (e.state === 'committing' && e.commitment && e.commitment.requestedAt + this.commitmentTimeoutMs <= now) {
        await this.fail(e, `no storage commitment report within ${Math.round(this.commitmentTimeoutMs / 1000)} s`);
      }
    }
    for (const e of this.entries.values()) {
      if (e.state !== 'queued' || e.nextAttemptAt > now || this.busy.has(e.destination)) continue;
      const runner = this.runDestination(e.destination).finally(() => this.busy.delete(e.destination));
      this.busy.set(e.destination, runner);
    }
    await Promise.all(this.busy.values());
  }

  /** Sends the due entries of one destination, one association after another. */
  private async runDestination(destination: string): Promise<void> {
    for (;;) {
      const now = Date.now();
      const next = [...this.entries.values()]
        .filter((e) => e.destination === destination && e.state === 'queued' && e.nextAttemptAt <= now)
        .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)[0];
      if (!next) return;
      await this.attempt(next);
    }
  }

  private async attempt(entry: OutboxEntry): Promise<void> {
    const dest = this.destinations.get(entry.destination);
    if (!dest) {
      await this.save({ ...entry, state: 'dead', lastError: `destination ${entry.destination} is not configured`, updatedAt: Date.now() });
      stageMetrics().sendResult(entry.destination, 'dead');
      this.onFinished?.(entry, undefined, false);
      return;
    }
    const sending: OutboxEntry = { ...entry, state: 'sending', updatedAt: Date.now() };
    await this.save(sending);
    const pending = sending.files.filter((f) => !sending.sent.includes(f));
    let results: StoreResult[] = [];
    try {
      if (pending.length) results = await this.send(dest, pending);
    } catch (e) {
      results = pending.map((file) => ({ file, ok: false, error: e instanceof Error ? e.message : String(e) }));
    }
    if (this.entries.get(entry.id) !== sending) return; // re-enqueued meanwhile: the new entry wins
    const sent = [...sending.sent, ...results.filter((r) => r.ok).map((r) => r.file)];
    const failed = results.filter((r) => !r.ok);
    const now = Date.now();
    if (failed.length === 0 && dest.kind !== 'stowrs' && dest.storageCommitment) {
      await this.requestCommit({ ...sending, sent, lastError: undefined }, dest);
      return;
    }
    if (failed.length === 0) {
      await this.save({ ...sending, sent, state: 'done', lastError: undefined, updatedAt: now });
      stageMetrics().sendAttempt(entry.destination, 'success');
      stageMetrics().sendResult(entry.destination, 'done');
      this.log.info('series delivered', { event: 'send-done', entry: entry.id, destination: entry.destination, files: sending.files.length, attempts: sending.attempts + 1 });
      this.onFinished?.(sending, dest, true);
      return;
    }
    await this.fail({ ...sending, sent }, summarize(failed, pending.length));
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
    // Saved before the N-ACTION: a report may come (on another association) before its response.
    const committing: OutboxEntry = { ...entry, state: 'committing', commitment: { transactionUid, requests, requestedAt: Date.now() }, updatedAt: Date.now() };
    await this.save(committing);
    let r: CommitmentRequestResult;
    try {
      r = await this.commit(dest, transactionUid, refs, (report) => this.commitmentReport(report));
    } catch (e) {
      r = { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    if (r.ok) this.log.info('storage commitment requested', { event: 'commit-requested', entry: entry.id, destination: entry.destination, instances: refs.length, transactionUid, request: requests });
    const now = this.entries.get(entry.id);
    if (now?.state !== 'committing' || now.commitment?.transactionUid !== transactionUid) return; // settled meanwhile (report, re-enqueue)
    if (!r.ok) await this.fail(now, `storage commitment request: ${r.error ?? 'failed'}`);
  }

  /** A failed attempt: queued again with backoff, or dead after maxAttempts. */
  private async fail(entry: OutboxEntry, lastError: string): Promise<void> {
    const now = Date.now();
    const attempts = entry.attempts + 1;
    const dead = attempts >= this.backoff.maxAttempts;
    const nextAttemptAt = dead ? now : now + backoffDelay(attempts, this.backoff);
    const next: OutboxEntry = { ...entry, attempts, lastError: lastError.slice(0, 500), state: dead ? 'dead' : 'queued', nextAttemptAt, updatedAt: now };
    await this.save(next);
    stageMetrics().sendAttempt(entry.destination, 'failure');
    if (dead) {
      stageMetrics().sendResult(entry.destination, 'dead');
      this.log.error('send gave up (dead letter)', { event: 'send-dead', entry: entry.id, destination: entry.destination, attempts, lastError: next.lastError });
      this.onFinished?.(next, this.destinations.get(entry.destination), false);
    } else {
      stageMetrics().sendRetry(entry.destination);
      this.log.warn('send failed, will retry', { event: 'send-failed', entry: entry.id, destination: entry.destination, attempts, retryInMs: nextAttemptAt - now, lastError: next.lastError });
    }
  }

  private async save(e: OutboxEntry): Promise<void> {
    await writeFileDurable(join(this.dir, `${e.id}.json`), JSON.stringify(e, null, 1));
    this.entries.set(e.id, e);
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      for (const name of await readdir(this.dir)) {
        if (name.endsWith('.tmp')) { // left by a crash mid-write (src/core/durable-fs.ts)
          await unlink(join(this.dir, name)).catch(() => undefined); // a crash mid-write
          continue;
        }
        if (!name.endsWith('.json')) continue;
        try {
          const e = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as OutboxEntry;
          // A crash during a send: send the unacknowledged files again.
          if (e.state === 'sending') e.state = 'queued';
          this.entries.set(e.id, e);
        } catch (err) {
          this.log.error('unreadable outbox entry', { event: 'send-bad-entry', file: name, error: String(err) });
        }
      }
    })();
    return this.loaded;
  }
}
