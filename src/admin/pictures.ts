// Renders each finished job's before/after pictures once and keeps them on disk under
// <renderDir>/<job key>-<finished at>/<stack index>/ with a manifest, so a restart or a second
// viewer does not render again and a re-run job (late instances) gets fresh pictures.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import type { StackLoader } from './load-stack.js';
import type { AdminJob, AdminNode } from './node-view.js';
import { PICTURE_KINDS, renderBeforeAfter, type PicturePair } from './render.js';

/** The URL-safe key of a job (its id holds study and series UIDs and a slash). */
export function jobKey(jobId: string): string {
  return createHash('sha256').update(jobId).digest('hex').slice(0, 16);
}

/** Picture names as served: "<stack index>-<cut>-<source|viewer|derived>.png". */
export const PICTURE_NAME = /^(\d{1,4})-(column|row)-(source|viewer|derived)\.png$/;

export type PictureState = { state: 'ready'; pairs: PicturePair[] } | { state: 'failed'; error: string } | { state: 'none' };

export class PictureStore {
  private readonly inFlight = new Map<string, Promise<PictureState>>();
  private readonly failed = new Map<string, string>();
  // One render at a time: pictures are a convenience and must not starve the pipeline of CPU.
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: { dir: string; node: AdminNode; load: StackLoader; log: Logger }) {}

  /** Whether a stack of a job has pictures at all (processed, derived files written). */
  static hasPictures(job: AdminJob, stackIndex: number): boolean {
    const s = job.result?.stacks[stackIndex];
    return job.finishedAt !== undefined && !!s?.derived && s.derived.files.length > 0;
  }

  folder(job: AdminJob, stackIndex: number): string {
    return join(this.opts.dir, `${jobKey(job.id)}-${job.finishedAt ?? 0}`, String(stackIndex));
  }

  /** Renders if needed; resolves with the pictures, the reason there are none, or 'none'. */
  async ensure(job: AdminJob, stackIndex: number): Promise<PictureState> {
    if (!PictureStore.hasPictures(job, stackIndex)) return { state: 'none' };
    const folder = this.folder(job, stackIndex);
    const error = this.failed.get(folder);
    if (error) return { state: 'failed', error };
    try {
      const pairs = JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8')) as PicturePair[];
      // A manifest of an older version (two pictures per cut, no window) is rendered again.
      if (pairs.every((p) => p.window && PICTURE_KINDS.every((k) => p[k]))) return { state: 'ready', pairs };
    } catch {
      // Not rendered yet.
    }
    let p = this.inFlight.get(folder);
    if (!p) {
      p = this.chain.then(() => this.render(job, stackIndex, folder));
      this.chain = p.catch(() => undefined);
      this.inFlight.set(folder, p);
      p.finally(() => this.inFlight.delete(folder)).catch(() => undefined);
    }
    return p;
  }

  private async render(job: AdminJob, stackIndex: number, folder: string): Promise<PictureState> {
    const outcome = job.result!.stacks[stackIndex];
    const started = Date.now();
    try {
      const files = await this.opts.node.sourceFiles(job);
      if (files.length === 0) throw new Error('the received instances are no longer in the spool');
      const source = await this.opts.load(files, outcome.stackId);
      const derived = await this.opts.load(outcome.derived!.files);
      const pairs = await renderBeforeAfter(source, derived, folder);
      await writeFile(join(folder, 'manifest.json'), JSON.stringify(pairs));
      this.opts.log.debug('pictures rendered', { jobKey: jobKey(job.id), stackIndex, seconds: (Date.now() - started) / 1000 });
      return { state: 'ready', pairs };
    } catch (e) {
      const error = (e as Error).message;
      this.failed.set(folder, error);
      this.opts.log.warn('cannot render pictures', { jobKey: jobKey(job.id), stackIndex, error });
      return { state: 'failed', error };
    }
  }

  /** Path of a rendered picture file, rendering first if needed; undefined when there is none. */
  async file(job: AdminJob, name: string): Promise<string | undefined> {
    const m = PICTURE_NAME.exec(name);
    if (!m) return undefined;
    const stackIndex = Number(m[1]);
    const st = await this.ensure(job, stackIndex);
    if (st.state !== 'ready') return undefined;
    const file = `${m[2]}-${m[3]}.png`;
    return st.pairs.some((p) => PICTURE_KINDS.some((k) => p[k].file === file)) ? join(this.folder(job, stackIndex), file) : undefined;
  }
}
