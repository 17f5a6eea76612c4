// What this node has derived, per study: every derived series with its content key, SeriesNumber,
// creation time and source, and which later series superseded it; plus the SeriesNumbers of
// the series the node received for the study. One JSON file per study under
// <storage.dir>/registry/, written crash-consistently; the series job runner is its only writer.
//
// It answers three questions: the creation time (and number) to reuse so that the same content
// gives byte-identical instances; the SeriesNumbers the study already uses, our own earlier
// outputs included (also superseded ones, which a PACS may still hold); and which series a new
// derivation of the same stack supersedes.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../core/durable-fs.js';

export interface DerivedRecord {
  /** contentKey(): what the pixels depend on. */
  contentKey: string;
  stackId: string;
  sourceSeriesInstanceUid: string;
  seriesInstanceUid: string;
  seriesNumber: number;
  /** Epoch ms; reused for the same content so its instances are byte-identical. */
  createdAt: number;
  sliceCount?: number;
  spacingMm?: number;
  /** Set once every file of the series is written. */
  complete?: boolean;
  supersededBy?: string;
  supersededAt?: number;
  /** Why: "late instances", "new model", "series number taken by an acquired series", ... */
  supersededReason?: string;
}

export interface StudyRecord {
  studyInstanceUid: string;
  /** Received series -> SeriesNumber (absent when the series had none). */
  received: Record<string, number | null>;
  derived: DerivedRecord[];
}

export class DerivedRegistry {
  constructor(private readonly dir: string) {}

  private file(studyUid: string): string {
    return join(this.dir, `${createHash('sha256').update(studyUid).digest('hex').slice(0, 32)}.json`);
  }

  async get(studyUid: string): Promise<StudyRecord> {
    try {
      return JSON.parse(await readFile(this.file(studyUid), 'utf8')) as StudyRecord;
    } catch {
      return { studyInstanceUid: studyUid, received: {}, derived: [] };
    }
  }

  async put(rec: StudyRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileDurable(this.file(rec.studyInstanceUid), JSON.stringify(rec));
  }

  async all(): Promise<StudyRecord[]> {
    const out: StudyRecord[] = [];
    for (const n of (await readdir(this.dir).catch(() => [] as string[])).filter((x) => x.endsWith('.json'))) {
      try {
        out.push(JSON.parse(await readFile(join(this.dir, n), 'utf8')) as StudyRecord);
      } catch {
        /* a torn temp file is not a record */
      }
    }
    return out;
  }
}

/** Every SeriesNumber the study uses: received series and all our derived ones, superseded too. */
export function usedSeriesNumbers(rec: StudyRecord, alsoReceived: Iterable<number> = []): Set<number> {
  const used = new Set<number>(alsoReceived);
  for (const n of Object.values(rec.received)) if (n !== null) used.add(n);
  for (const d of rec.derived) used.add(d.seriesNumber);
  return used;
}

/** The live (not superseded) record of this content, if any. */
export function liveRecordOf(rec: StudyRecord, contentKey: string): DerivedRecord | undefined {
  return rec.derived.find((d) => d.contentKey === contentKey && !d.supersededBy);
}

/**
 * Marks the live records of the same stack with other content as superseded by `next`; returns
 * the UIDs it superseded. Pure (mutates `rec`).
 */
export function supersede(rec: StudyRecord, next: DerivedRecord, reason: string, now: number): string[] {
  const out: string[] = [];
  for (const d of rec.derived) {
    if (d.stackId !== next.stackId || d.supersededBy || d.seriesInstanceUid === next.seriesInstanceUid) continue;
    d.supersededBy = next.seriesInstanceUid;
    d.supersededAt = now;
    d.supersededReason = reason;
    out.push(d.seriesInstanceUid);
  }
  return out;
}

