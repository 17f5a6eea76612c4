// Where the outbox keeps its entries. The Outbox (outbox.ts) decides what to send and when;
// a store only keeps entries and arbitrates between workers: a worker claims a due entry with a
// lease (renewed while it sends), every change is a compare-and-set on the entry's revision (a
// change made meanwhile by another worker, a re-enqueue or a takeover, wins), and at most
// `limit` entries of one destination are 'sending' under a live lease at once.
//
// FsOutboxStore: one JSON manifest per entry under <storage.dir>/outbox, all held in memory; one
// process only. Revisions and leases live in memory (a restart turns 'sending' back into
// 'queued', as the sender is gone). The clustered store is src/cluster/pg-outbox-store.ts.
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../core/durable-fs.js';
import type { Logger } from '../core/log.js';
import type { AuditStudy } from '../core/audit.js';

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

/** Who sends an entry now, and until when (epoch ms) unless renewed. */
export interface OutboxLease {
  owner: string;
  until: number;
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
  /** Set by the store: bumped by every save and claim; a save names the revision it read. */
  revision?: number;
  /** Set by the store while the entry is 'sending'. */
  lease?: OutboxLease;
}

export interface OutboxStore {
  /** Every entry, oldest first. */
  list(): Promise<OutboxEntry[]>;
  get(id: string): Promise<OutboxEntry | undefined>;
  /**
   * Compare-and-set: writes the entry if the stored one still has entry.revision (no revision:
   * only if there is no entry with that id). The write drops any lease. Resolves to the entry
   * as stored (its new revision), or undefined when it changed meanwhile (nothing written).
   */
  save(entry: OutboxEntry): Promise<OutboxEntry | undefined>;
  /** What a worker has to look at: queued and due at `now`, 'sending' under an expired lease, 'committing'. */
  pending(now: number): Promise<OutboxEntry[]>;
  /**
   * Atomically takes the destination's longest-due entry (queued and due at `now`, or 'sending'
   * under an expired lease: a sender that died) and makes it 'sending' under a lease of `owner`
   * for leaseMs, unless `limit` entries of the destination are already 'sending' under live leases.
   */
  claim(destination: string, owner: string, leaseMs: number, limit: number, now: number): Promise<OutboxEntry | undefined>;
  /** Extends the lease of a claimed entry; false when it is no longer this claim (saved, taken over). */
  renew(claimed: OutboxEntry, leaseMs: number): Promise<boolean>;
  /** The entry waiting in 'committing' for this storage commitment Transaction UID. */
  committing(transactionUid: string): Promise<OutboxEntry | undefined>;
  /** Deletes a done or dead entry; false (nothing deleted) otherwise. */
  remove(id: string): Promise<boolean>;
}

/** What a store keeps of an entry: all but the revision and lease it manages itself. */
export function entryData(e: OutboxEntry): OutboxEntry {
  const data = { ...e };
  delete data.revision;
  delete data.lease;
  return data;
}

const byAge = (a: OutboxEntry, b: OutboxEntry) => a.createdAt - b.createdAt;

/** The single-process store: manifests on disk, the in-memory map the source of truth. */
export class FsOutboxStore implements OutboxStore {
  private readonly entries = new Map<string, OutboxEntry>();
  private loaded?: Promise<void>;
  /** Writes one after another, so a compare-and-set's check and write are not interleaved. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly dir: string, private readonly log: Logger) {}

  async list(): Promise<OutboxEntry[]> {
    await this.load();
    return [...this.entries.values()].sort(byAge).map((e) => structuredClone(e));
  }

  async get(id: string): Promise<OutboxEntry | undefined> {
    await this.load();
    const e = this.entries.get(id);
    return e && structuredClone(e);
  }

  save(entry: OutboxEntry): Promise<OutboxEntry | undefined> {
    return this.serial(async () => {
      const current = this.entries.get(entry.id);
      if (current?.revision !== entry.revision) return undefined;
      return this.write({ ...entryData(entry), revision: (current?.revision ?? 0) + 1 });
    });
  }

  async pending(now: number): Promise<OutboxEntry[]> {
    await this.load();
    return [...this.entries.values()].filter((e) => isPending(e, now)).map((e) => structuredClone(e));
  }

  claim(destination: string, owner: string, leaseMs: number, limit: number, now: number): Promise<OutboxEntry | undefined> {
    return this.serial(async () => {
      const t = Date.now();
      const mine = [...this.entries.values()].filter((e) => e.destination === destination);
      if (mine.filter((e) => e.state === 'sending' && e.lease && e.lease.until > t).length >= limit) return undefined;
      const next = mine.filter((e) => isClaimable(e, now, t)).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)[0];
      if (!next) return undefined;
      return this.write({ ...next, state: 'sending', updatedAt: now, revision: next.revision! + 1, lease: { owner, until: t + leaseMs } });
    });
  }

  async renew(claimed: OutboxEntry, leaseMs: number): Promise<boolean> {
    await this.load();
    const e = this.entries.get(claimed.id);
    if (!e || e.state !== 'sending' || e.revision !== claimed.revision || e.lease?.owner !== claimed.lease?.owner) return false;
    e.lease = { owner: e.lease!.owner, until: Date.now() + leaseMs }; // in memory only: not in the manifest
    return true;
  }

  async committing(transactionUid: string): Promise<OutboxEntry | undefined> {
    await this.load();
    const e = [...this.entries.values()].find((x) => x.state === 'committing' && x.commitment?.transactionUid === transactionUid);
    return e && structuredClone(e);
  }

  remove(id: string): Promise<boolean> {
    return this.serial(async () => {
      const e = this.entries.get(id);
      if (!e || (e.state !== 'done' && e.state !== 'dead')) return false;
      this.entries.delete(id);
      await unlink(join(this.dir, `${id}.json`)).catch(() => undefined);
      return true;
    });
  }

  /** Durable first, then visible; the manifest has neither revision nor lease (same format as ever). */
  private async write(e: OutboxEntry): Promise<OutboxEntry> {
    await writeFileDurable(join(this.dir, `${e.id}.json`), JSON.stringify(entryData(e), null, 1));
    this.entries.set(e.id, e);
    return structuredClone(e);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => this.load()).then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      for (const name of await readdir(this.dir)) {
        if (name.endsWith('.tmp')) { // left by a crash mid-write (src/core/durable-fs.ts)
          await unlink(join(this.dir, name)).catch(() => undefined);
          continue;
        }
        if (!name.endsWith('.json')) continue;
        try {
          const e = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as OutboxEntry;
          // A crash during a send: send the unacknowledged files again.
          if (e.state === 'sending') e.state = 'queued';
          this.entries.set(e.id, { ...entryData(e), revision: 1 });
        } catch (err) {
          this.log.error('unreadable outbox entry', { event: 'send-bad-entry', file: name, error: String(err) });
        }
      }
    })();
    return this.loaded;
  }
}

/** 'sending' under no lease, or one that ran out at `t` (epoch ms): its sender is gone. */
const leaseExpired = (e: OutboxEntry, t: number) => e.state === 'sending' && (!e.lease || e.lease.until <= t);
const isClaimable = (e: OutboxEntry, now: number, t: number) => (e.state === 'queued' && e.nextAttemptAt <= now) || leaseExpired(e, t);
const isPending = (e: OutboxEntry, now: number) => isClaimable(e, now, Date.now()) || e.state === 'committing';
