// Retention (storage.retentionHours): a processed spool series, its derived series and their
// delivered outbox entries are removed once the series job finished longer ago than the
// retention time. Anything still owed to a destination (queued, sending, dead) is kept, and so
// is a series with a job waiting (a late instance), so retention never loses undelivered work.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from './log.js';
import type { ProcessedMarkers } from '../pipeline/processed.js';
import type { Outbox } from '../send/outbox.js';
import type { Spool } from './seams.js';
import { derivedFolder } from '../pipeline/derive-stack.js';

export interface RetentionDeps {
  markers: ProcessedMarkers;
  outbox: Outbox;
  spool: Pick<Spool, 'removeSeries'>;
  derivedRoot: string;
  retentionMs: number;
  /** A series job is waiting for this series (then it is not removed yet). */
  jobWaiting(studyUid: string, seriesUid: string): Promise<boolean>;
  log: Logger;
}

export interface SweepResult {
  removedSeries: number;
  keptUndelivered: number;
}

/** One pass; returns what it removed. */
export async function sweepRetention(d: RetentionDeps, now = Date.now()): Promise<SweepResult> {
  const result: SweepResult = { removedSeries: 0, keptUndelivered: 0 };
  if (d.retentionMs <= 0) return result;
  const entries = await d.outbox.list();
  for (const m of await d.markers.list()) {
    if (now - m.finishedAt < d.retentionMs) continue;
    const mine = entries.filter((e) => m.derivedSeries.includes(e.seriesId));
    if (mine.some((e) => e.state !== 'done') || (await d.jobWaiting(m.studyInstanceUid, m.seriesInstanceUid))) {
      result.keptUndelivered++;
      continue;
    }
    for (const e of mine) await d.outbox.remove(e.id);
    if (m.derivedDir) await rm(join(d.derivedRoot, m.derivedDir), { recursive: true, force: true });
    for (const uid of m.derivedSeries) await rm(join(d.derivedRoot, derivedFolder(uid)), { recursive: true, force: true });
    await d.spool.removeSeries(m.studyInstanceUid, m.seriesInstanceUid);
    await d.markers.remove(m.spoolKey);
    result.removedSeries++;
    d.log.info('retention removed processed series', {
      event: 'retention-removed', seriesInstanceUid: m.seriesInstanceUid, derivedSeries: m.derivedSeries.length, ageHours: Number(((now - m.finishedAt) / 3_600_000).toFixed(2)),
    });
  }
  return result;
}

/** Runs sweeps every tenth of the retention time (1 s to 10 min); returns a stop function. */
export function startRetention(d: RetentionDeps): () => void {
  if (d.retentionMs <= 0) return () => undefined;
  const every = Math.min(600_000, Math.max(1000, d.retentionMs / 10));
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    sweepRetention(d)
      .catch((e) => d.log.error('retention sweep failed', { event: 'retention-error', error: (e as Error).message }))
      .finally(() => (busy = false));
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
