// The embedded Spool: received instances as Part-10 files on local disk,
//   <storage.dir>/spool/<study>/<series>/<sopInstance>.dcm
// written crash-consistently: stream to a temp file, fsync it, link it into place (atomic and
// never overwriting), fsync the directory, and only then resolve (the SCP answers success
// after that). A crash leaves at worst a temp file under .incoming/, never a half file. The
// temp files are created ahead of need (SpareFiles): up to two empty ones wait there.
//
// Duplicates: the same SOP Instance UID again in the same series keeps the first copy and
// reports duplicate: true (a resend counts once). The same SOP Instance UID in a *different*
// series is a sender error (UIDs are globally unique); we keep both, each under its own series,
// and log a warning: refusing would lose data the sender thinks is stored, overwriting would
// corrupt the first series, and the assemble stage groups by series so both stay consistent.
import { fsyncDir, fsyncDirSync } from '../core/durable-fs.js';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fdatasync, fdatasyncSync, linkSync, renameSync, unlinkSync, writevSync } from 'node:fs';
import { mkdir, readdir, rm, rmdir, stat, statfs, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join, relative } from 'node:path';
import type { Spool, SpoolInput, SpoolStored } from '../core/seams.js';
import { logger, type Logger } from '../core/log.js';
import { buildPart10Head } from './part10.js';
import { SpareFiles } from './spare-files.js';

const UID_RE = /^[0-9]+(\.[0-9]+)*$/;
const STALE_TEMP_MS = 60 * 60 * 1000;
/** Free space is re-read at most this often while it is this far above the watermark. */
const SPACE_RECHECK_MS = 1000;
const SPACE_MARGIN = 256 * 1024 * 1024;
const fdatasyncAsync = promisify(fdatasync);
/** A blocking flush slower than this sends the flushes to the thread pool for a while (see storeOne). */
const SLOW_FLUSH_MS = 5;
const SLOW_FLUSH_BACKOFF_MS = 10_000;

/** A file/dir name for a UID: the UID itself when it is a well-formed UID, else a hash. */
export function uidFileName(uid: string): string {
  return UID_RE.test(uid) && uid.length <= 64 ? uid : `h${createHash('sha256').update(uid).digest('hex').slice(0, 40)}`;
}

/** The store was refused before writing because free disk space is below the watermark. */
export class OutOfSpaceError extends Error {}

export interface FsSpoolOptions {
  /** The spool directory itself (the node uses <storage.dir>/spool). */
  root: string;
  /** Refuse new instances when less than this many bytes are free (0 = no check). */
  minFreeBytes?: number;
  /** A blocking flush slower than this (ms) moves flushes to the thread pool for 10 s (default 5). */
  slowFlushMs?: number;
  log?: Logger;
}


function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

async function drain(input: SpoolInput['dataset']): Promise<void> {
  if (Buffer.isBuffer(input)) return;
  for await (const _ of input) {
    /* discard: the first copy is kept */
  }
}

/** Writes buffers at the file position; a short write is an error, never a silent truncation. */
function writeAll(fd: number, parts: Buffer[]): number {
  const want = parts.reduce((n, b) => n + b.length, 0);
  const written = writevSync(fd, parts);
  if (written !== want) throw new Error(`short write: ${written} of ${want} bytes`);
  return want;
}

export class FsSpool implements Spool {
  readonly root: string;
  private readonly incoming: string;
  /** Temp files under .incoming made ahead of need (see SpareFiles). */
  private readonly spares: SpareFiles;
  private readonly minFreeBytes: number;
  private readonly slowFlushMs: number;
  /** How the flushes ran: blocking the event loop, or in the thread pool (see storeOne). */
  readonly flushes = { blocking: 0, pool: 0 };
  private readonly log: Logger;
  /** SOP file name -> "<study>/<series>" it is stored under (conflict detection). */
  private readonly index = new Map<string, string>();
  /** Series folders known to exist (mkdir once per series, not per instance). */
  private readonly dirs = new Set<string>();
  /** Last statfs reading, less what was stored since. */
  private space?: { at: number; free: number };
  /** Stores in progress (see the flushes in storeOne). */
  private storing = 0;
  /** Until then, flushes go to the thread pool even when alone (the disk was slow). */
  private poolFlushUntil = 0;
  private ready?: Promise<void>;

  /** `new FsSpool(dir)` is short for `new FsSpool({ root: dir })`. */
  constructor(rootOrOpts: string | FsSpoolOptions) {
    const opts = typeof rootOrOpts === 'string' ? { root: rootOrOpts } : rootOrOpts;
    this.root = opts.root;
    this.incoming = join(this.root, '.incoming');
    this.spares = new SpareFiles(this.incoming);
    this.minFreeBytes = opts.minFreeBytes ?? 0;
    this.slowFlushMs = opts.slowFlushMs ?? SLOW_FLUSH_MS;
    this.log = opts.log ?? logger('spool');
  }

  seriesDir(studyUid: string, seriesUid: string): string {
    return join(this.root, uidFileName(studyUid), uidFileName(seriesUid));
  }

  async store(input: SpoolInput): Promise<SpoolStored> {
    this.storing++;
    try {
      return await this.storeOne(input);
    } finally {
      this.storing--;
      this.spares.refill();
    }
  }

  private async storeOne(input: SpoolInput): Promise<SpoolStored> {
    await this.init();
    const seriesKey = join(uidFileName(input.studyInstanceUid), uidFileName(input.seriesInstanceUid));
    const dir = join(this.root, seriesKey);
    const name = `${uidFileName(input.sopInstanceUid)}.dcm`;
    const path = join(dir, name);

    // The checks and the folder are started together; in the usual case (known folder, new
    // UID, free space read recently) they settle without a thread-pool round trip.
    // Only a name the index knows can be a duplicate here; one stored by another process is
    // caught by the link below (EEXIST), with the same outcome.
    const knownDir = this.dirs.has(dir);
    const [existing, space, folder] = await Promise.allSettled([
      this.index.get(name) === seriesKey ? stat(path) : Promise.reject(new Error('not stored')),
      this.checkFreeSpace(),
      knownDir ? undefined : mkdir(dir, { recursive: true }),
    ]);
    let created = folder.status === 'fulfilled' ? folder.value : undefined;
    if (existing.status === 'fulfilled') {
      await drain(input.dataset);
      return { path, bytes: existing.value.size, duplicate: true };
    }
    if (space.status === 'rejected') {
      // Refused: leave no empty folder behind (rmdir only removes empty ones).
      if (created) for (const d of [dir, join(dir, '..')]) await rmdir(d).catch(() => undefined);
      throw space.reason;
    }
    // Writes and link are synchronous (page cache and metadata: ~0.5 ms of copying per 512 KB,
    // the rest tens of microseconds). As thread-pool calls, every write trailed the last byte
    // and each round trip added ~0.1 ms before the response. The temp file was made ahead.
    let fd: number | undefined;
    let tmp: string | undefined;
    let bytes = 0;
    try {
      if (folder.status === 'rejected') throw folder.reason;
      ({ fd, path: tmp } = this.spares.take());
      // The head goes out with the first chunk(s): one writev per batch of network chunks.
      let pending: Buffer[] = [
        buildPart10Head({
          sopClassUid: input.sopClassUid,
          sopInstanceUid: input.sopInstanceUid,
          transferSyntaxUid: input.transferSyntaxUid,
          sourceAeTitle: input.callingAeTitle,
        }),
      ];
      const dataset = Buffer.isBuffer(input.dataset) ? [input.dataset] : input.dataset;
      for await (const chunk of dataset) {
        bytes += writeAll(fd, pending.concat(chunk));
        pending = [];
      }
      if (pending.length) bytes += writeAll(fd, pending);
      // The flushes wait for the disk. When this is the only store in progress they block the
      // event loop, which has nothing else to do meanwhile; as thread-pool calls they cost a
      // wake-up each way (receive benchmark, same session: 0.49-0.59x storescp in the pool,
      // 0.64-0.70x blocking). With other stores in progress, or on a disk slow enough to stall
      // the loop noticeably, they go to the pool.
      const alone = this.storing === 1 && Date.now() >= this.poolFlushUntil;
      const flushStart = alone ? performance.now() : 0;
      // Data and the size needed to read it back; the folder fsync below makes the name durable.
      this.flushes[alone ? 'blocking' : 'pool']++;
      if (alone) fdatasyncSync(fd);
      else await fdatasyncAsync(fd);
      closeSync(fd);
      fd = undefined;
      let placed;
      try {
        placed = this.place(tmp, path, alone);
      } catch (e) {
        if (code(e) !== 'ENOENT' || !knownDir) throw e;
        // The folder went away behind our back (removed outside removeSeries): make it again.
        this.dirs.delete(dir);
        created = await mkdir(dir, { recursive: true });
        placed = this.place(tmp, path, alone);
      }
      this.dirs.add(dir);
      if (!placed) {
        const kept = await stat(path);
        if (kept.size !== bytes) {
          this.log.warn('duplicate SOP instance with different size; kept the first copy', {
            event: 'spool-duplicate-differs', sopInstanceUid: input.sopInstanceUid, keptBytes: kept.size, newBytes: bytes,
          });
        }
        return { path, bytes: kept.size, duplicate: true };
      }
      if (alone) {
        fsyncDirSync(dir);
        const ms = performance.now() - flushStart;
        if (ms > this.slowFlushMs) {
          this.poolFlushUntil = Date.now() + SLOW_FLUSH_BACKOFF_MS;
          this.log.debug('slow disk flush: flushing in the thread pool for a while', { event: 'spool-slow-flush', ms: Math.round(ms) });
        }
      } else await Promise.all([fsyncDir(dir), placed.cleanup]);
      if (created) {
        await fsyncDir(join(dir, '..'));
        await fsyncDir(this.root);
      }
    } catch (e) {
      try {
        if (fd !== undefined) closeSync(fd);
      } catch {
        // the write's or flush's error is the one to report
      }
      if (tmp !== undefined) await unlink(tmp).catch(() => undefined);
      throw e;
    }
    const before = this.index.get(name);
    if (before !== undefined && before !== seriesKey) {
      this.log.warn('same SOP Instance UID received in another series; both kept', {
        event: 'spool-sop-uid-conflict', sopInstanceUid: input.sopInstanceUid, seriesInstanceUid: input.seriesInstanceUid, otherSeries: before,
      });
    }
    this.index.set(name, seriesKey);
    if (this.space) this.space.free -= bytes;
    return { path, bytes, duplicate: false };
  }

  /** Removes the spare temp files (the node is stopping). Stores after this still work. */
  close(): void {
    this.spares.close();
  }

  async listSeries(studyUid: string, seriesUid: string): Promise<string[]> {
    const dir = this.seriesDir(studyUid, seriesUid);
    const names = await readdir(dir).catch((e) => (code(e) === 'ENOENT' ? [] : Promise.reject(e)));
    return names.filter((n) => n.endsWith('.dcm')).sort().map((n) => join(dir, n));
  }

  async removeSeries(studyUid: string, seriesUid: string): Promise<void> {
    const dir = this.seriesDir(studyUid, seriesUid);
    const seriesKey = this.seriesKey(studyUid, seriesUid);
    this.dirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
    await rmdir(join(dir, '..')).catch(() => undefined); // only succeeds when the study is empty
    for (const [k, v] of this.index) if (v === seriesKey) this.index.delete(k);
  }

  /** One stored file of every series of a study (e.g. to learn the SeriesNumbers it uses). */
  async studySeriesSamples(studyUid: string): Promise<string[]> {
    const studyDir = join(this.root, uidFileName(studyUid));
    const series = await readdir(studyDir, { withFileTypes: true }).catch(() => []);
    const out: string[] = [];
    for (const d of series) {
      if (!d.isDirectory() || d.name.startsWith('.')) continue;
      const first = (await readdir(join(studyDir, d.name)).catch(() => [] as string[])).find((n) => n.endsWith('.dcm'));
      if (first) out.push(join(studyDir, d.name, first));
    }
    return out;
  }

  seriesKey(studyUid: string, seriesUid: string): string {
    return join(uidFileName(studyUid), uidFileName(seriesUid));
  }

  async storedSeries(): Promise<{ key: string; files: string[] }[]> {
    const out: { key: string; files: string[] }[] = [];
    for (const dir of await this.seriesDirs()) {
      const files = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.dcm')).sort().map((n) => join(dir, n));
      if (files.length) out.push({ key: relative(this.root, dir), files });
    }
    return out;
  }

  /** Every series directory in the spool (start-up recovery and retention walk these). */
  async seriesDirs(): Promise<string[]> {
    await this.init();
    const dirs = async (p: string) =>
      (await readdir(p, { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => join(p, d.name));
    const out: string[] = [];
    for (const study of await dirs(this.root)) out.push(...(await dirs(study)));
    return out.sort();
  }

  /**
   * Moves tmp to path unless path exists; false when it existed (a duplicate). Once placed, the
   * temp name is removed by `cleanup` (not needed for durability: it runs beside the folder fsync),
   * or at once when `now`. Synchronous, like the writes (see store).
   */
  private place(tmp: string, path: string, now: boolean): { cleanup: Promise<void> } | false {
    try {
      linkSync(tmp, path); // atomic create-if-absent, also across processes
      if (!now) return { cleanup: unlink(tmp) };
      unlinkSync(tmp);
      return { cleanup: Promise.resolve() };
    } catch (e) {
      if (code(e) === 'EEXIST') {
        unlinkSync(tmp);
        return false;
      }
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(code(e) ?? '')) throw e;
    }
    // File systems without hard links: check, then rename (atomic, but may replace a copy
    // that raced in from another process: same UID, so the same instance).
    if (existsSync(path)) {
      unlinkSync(tmp);
      return false;
    }
    renameSync(tmp, path);
    return { cleanup: Promise.resolve() };
  }

  private async checkFreeSpace(): Promise<void> {
    if (this.minFreeBytes <= 0) return;
    const now = Date.now();
    if (!this.space || now - this.space.at > SPACE_RECHECK_MS || this.space.free < this.minFreeBytes + SPACE_MARGIN) {
      const s = await statfs(this.root);
      this.space = { at: now, free: s.bavail * s.bsize };
    }
    const free = this.space.free;
    if (free < this.minFreeBytes) throw new OutOfSpaceError(`free disk ${free} bytes below watermark ${this.minFreeBytes}`);
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.incoming, { recursive: true });
      await this.sweepTemp();
      await this.buildIndex();
    })();
    return this.ready;
  }

  /** Removes temp files a crash left behind (never acknowledged: safe to drop). */
  private async sweepTemp(): Promise<void> {
    const now = Date.now();
    for (const n of await readdir(this.incoming)) {
      const p = join(this.incoming, n);
      const s = await stat(p).catch(() => undefined);
      if (s && now - s.mtimeMs > STALE_TEMP_MS) await unlink(p).catch(() => undefined);
    }
  }

  private async buildIndex(): Promise<void> {
    const dirs = async (p: string) =>
      (await readdir(p, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
    for (const study of await dirs(this.root)) {
      for (const series of await dirs(join(this.root, study))) {
        for (const f of await readdir(join(this.root, study, series))) {
          if (f.endsWith('.dcm')) this.index.set(f, join(study, series));
        }
      }
    }
  }
}
