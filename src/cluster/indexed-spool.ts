// The clustered Spool: files stay where the embedded spool puts them (storage.dir, now a shared
// filesystem), and PostgreSQL holds the instance index. store() answers only after the file is
// durable AND indexed AND its series job is queued (afterStore, the quiet period), so nothing a
// receiver acknowledged depends on that receiver's memory: with PostgreSQL down the store
// fails and the SCP refuses the instance with A700 (out of resources); the sender retries.
// The instance count and the files of a series come from the index, whichever receiver took
// each instance.
import { join, relative } from 'node:path';
import type { Spool, SpoolInput, SpoolStored } from '../core/seams.js';
import type { Db } from './db.js';

const DDL = `
CREATE TABLE IF NOT EXISTS interslice_instances (
  study_uid text NOT NULL,
  series_uid text NOT NULL,
  sop_uid text NOT NULL,
  path text NOT NULL,
  bytes bigint NOT NULL,
  calling_ae text,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (study_uid, series_uid, sop_uid)
);`;

/** The embedded spool's operations this one builds on. */
type FileSpool = Spool & { readonly root: string };

export class DatabaseUnavailableError extends Error {}

export class IndexedSpool implements Spool {
  /** Queues the series job (quiet period) before the instance is acknowledged. */
  afterStore?: (input: SpoolInput, stored: SpoolStored) => Promise<void>;

  constructor(
    private readonly files: FileSpool,
    private readonly db: Db,
  ) {}

  get root(): string {
    return this.files.root;
  }

  async store(input: SpoolInput): Promise<SpoolStored> {
    const stored = await this.files.store(input);
    try {
      await this.db.ensure('instances', DDL);
      // A resend (duplicate file) is indexed too: its first copy may have failed right here.
      await this.db.query(
        `INSERT INTO interslice_instances (study_uid, series_uid, sop_uid, path, bytes, calling_ae) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING`,
        [input.studyInstanceUid, input.seriesInstanceUid, input.sopInstanceUid, relative(this.root, stored.path), stored.bytes, input.callingAeTitle ?? null],
      );
      await this.afterStore?.(input, stored);
    } catch (e) {
      throw new DatabaseUnavailableError(`instance index: ${(e as Error).message}`);
    }
    return stored;
  }

  async listSeries(studyUid: string, seriesUid: string): Promise<string[]> {
    await this.db.ensure('instances', DDL);
    const r = await this.db.query<{ path: string }>('SELECT path FROM interslice_instances WHERE study_uid = $1 AND series_uid = $2 ORDER BY path', [studyUid, seriesUid]);
    return r.rows.map((x) => join(this.root, x.path));
  }

  /** Instances indexed for a series (the admin API's count, from every receiver). */
  async count(studyUid: string, seriesUid: string): Promise<number> {
    await this.db.ensure('instances', DDL);
    const r = await this.db.query<{ n: string }>('SELECT count(*) AS n FROM interslice_instances WHERE study_uid = $1 AND series_uid = $2', [studyUid, seriesUid]);
    return Number(r.rows[0].n);
  }

  async removeSeries(studyUid: string, seriesUid: string): Promise<void> {
    await this.db.ensure('instances', DDL);
    await this.db.query('DELETE FROM interslice_instances WHERE study_uid = $1 AND series_uid = $2', [studyUid, seriesUid]);
    await this.files.removeSeries(studyUid, seriesUid);
  }

  seriesKey(studyUid: string, seriesUid: string): string {
    return this.files.seriesKey(studyUid, seriesUid);
  }

  studySeriesSamples(studyUid: string): Promise<string[]> {
    return this.files.studySeriesSamples(studyUid);
  }

  storedSeries(): Promise<{ key: string; files: string[] }[]> {
    return this.files.storedSeries();
  }

  close(): void {
    this.files.close();
  }
}
