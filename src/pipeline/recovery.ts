// Start-up recovery: a spool series with no processed marker, or with instances its marker did
// not see, and no job waiting, lost its series job in a crash (after the acknowledgement, before
// the enqueue): queue it. Unacknowledged jobs are still in the durable queue and 'sending'
// outbox entries resume by themselves. With pipeline.lateInstances: ignore, a series that was
// processed is not queued again for instances that came after.
import type { Logger } from '../core/log.js';
import type { JobQueue, Spool } from '../core/seams.js';
import { readBasicMeta } from '../receive/read-meta.js';
import type { ProcessedMarkers } from './processed.js';
import { seriesJobId, type LatePolicy } from './quiet-period.js';
import type { SeriesJob } from './job-runner.js';

export interface RecoveryOptions {
  spool: Pick<Spool, 'storedSeries'>;
  markers: ProcessedMarkers;
  queue: Pick<JobQueue, 'has' | 'enqueue'>;
  stableMs: number;
  late: LatePolicy;
  onQueued?(id: string, seriesUid: string, instances: number): void;
  log: Logger;
}

export async function recoverSpool(o: RecoveryOptions): Promise<number> {
  let queued = 0;
  for (const { key, files } of await o.spool.storedSeries()) {
    const marker = await o.markers.get(key);
    if (marker && (marker.instances >= files.length || (o.late === 'ignore' && !marker.failed))) continue;
    let meta;
    try {
      meta = await readBasicMeta(files[0]);
    } catch (e) {
      o.log.warn('spool series unreadable at recovery', { event: 'recovery-unreadable', dir: key, error: (e as Error).message });
      continue;
    }
    const id = seriesJobId(meta.studyInstanceUid, meta.seriesInstanceUid);
    if (await o.queue.has('series', id)) continue;
    await o.queue.enqueue<SeriesJob>('series', id, { studyInstanceUid: meta.studyInstanceUid, seriesInstanceUid: meta.seriesInstanceUid }, { notBefore: Date.now() + o.stableMs });
    o.onQueued?.(id, meta.seriesInstanceUid, files.length);
    queued++;
  }
  if (queued) o.log.info('recovered series jobs lost in a crash', { event: 'recovery-queued', series: queued });
  return queued;
}
