// "This spool series was processed" markers, one JSON file per spool series under
// <storage.dir>/processed/. They are what start-up recovery and retention read:
//  - recovery: a spool series without a marker (or with fewer instances than the spool now
//    holds) lost its series job in a crash between acknowledgement and enqueue -> queue it;
//  - retention: a marker older than storage.retentionHours lets the spool series and its
//    derived series go once the outbox has delivered them.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../core/durable-fs.js';

export interface ProcessedMarker {
  jobId: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /** The spool's key of the series (Spool.seriesKey). */
  spoolKey: string;
  /** Spool files the job saw. */
  instances: number;
  /** Folder of the job's derived series (under <storage.dir>/derived), before one folder per series. */
  derivedDir?: string;
  /** Derived SeriesInstanceUIDs (outbox series ids), superseded ones and IOCM rejection notes included; each has its own
   * folder <storage.dir>/derived/<derivedFolder(uid)>. */
  derivedSeries: string[];
  /** The job gave up (dead letter) rather than finished. */
  failed?: boolean;
  finishedAt: number;
}

export class ProcessedMarkers {
  constructor(private readonly dir: string) {}

  private file(spoolKey: string): string {
    return join(this.dir, `${createHash('sha256').update(spoolKey).digest('hex').slice(0, 32)}.json`);
  }

  async write(m: ProcessedMarker): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileDurable(this.file(m.spoolKey), JSON.stringify(m));
  }

  async get(spoolKey: string): Promise<ProcessedMarker | undefined> {
    try {
      return JSON.parse(await readFile(this.file(spoolKey), 'utf8')) as ProcessedMarker;
    } catch {
      return undefined;
    }
  }

  async remove(spoolKey: string): Promise<void> {
    await rm(this.file(spoolKey), { force: true });
  }

  async list(): Promise<ProcessedMarker[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const out: ProcessedMarker[] = [];
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      try {
        out.push(JSON.parse(await readFile(join(this.dir, n), 'utf8')) as ProcessedMarker);
      } catch {
        /* a torn temp file is not a marker */
      }
    }
    return out;
  }
}
