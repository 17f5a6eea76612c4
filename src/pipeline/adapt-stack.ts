// Per-series adaptation in the node (pipeline.adapt): before a stack is synthesised with the
// learned model, a copy of the model is fine-tuned on that stack's own slices by the Python
// trainer (src/interpolate/adapt/trainer.ts), and the series is synthesised with it when the
// trainer's held-out check kept it. The adapted ONNX model is opened through the same code path
// as the shipped one (createModelInterpolator, sanity check included) and released after the
// series. Anything that goes wrong is logged and the shipped model is used: adaptation never
// fails a job.
//
// Each result (kept, not kept, or the trainer's failure) is cached under
// <storage.dir>/adapted/<key>, key = the stack's content, the base model's sha256 and the
// settings (content-key.ts adaptationKey), so a re-run of a stack (after a crash, a restart, a
// retry) reuses it and gives the same derived series: same UIDs, same bytes. The cache is
// bounded like the node's other work files: an entry not used for storage.retentionHours is
// removed (each use refreshes it), and at most MAX_ENTRIES entries are kept (the least recently
// used go first; an entry is about the size of the model, ~4 MB for the shipped one).
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import type { Interpolator, Method, Stack, VolumeF32 } from '../core/types.js';
import type { ModelInterpolator } from '../interpolate/model-interpolator.js';
import { stageMetrics } from '../core/metrics.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { ADAPT_MODULES, checkPython, python } from '../interpolate/adapt/python.js';
import { AdaptFailure, adaptationNote, adaptSeries, parseReport, type AdaptReport } from '../interpolate/adapt/trainer.js';
import { thicknessRatio } from '../assemble/thickness.js';
import { adaptationKey, type ContentSource } from './content-key.js';
import type { SeriesInterpolator } from './derive-stack.js';

export type AdaptMode = 'none' | 'series' | 'auto';

/**
 * The `adaptation` entry of /readyz. Always ok: without adaptation the node still works with
 * the shipped model; `available` and `reason` say whether series are adapted and why not.
 */
export interface AdaptationState {
  ok: true;
  mode: AdaptMode;
  available: boolean;
  reason?: string;
}

/** Most cached adaptation results kept (see the header). */
export const MAX_ENTRIES = 100;

export interface StackAdapterOptions {
  mode: AdaptMode;
  method: Method;
  /** pipeline.adaptSeconds */
  seconds: number;
  /** pipeline.adaptMaxThickness */
  maxThickness: number;
  /** Trainer threads (pipeline.inferenceThreads, 0 = the machine's). */
  threads: number;
  storageDir: string;
  /** storage.retentionHours in ms; 0 = no age limit. */
  retentionMs: number;
  log: Logger;
  maxEntries?: number;
}

/** The ModelInterpolator behind an interpolator (itself, or a reloadable holder's current one). */
export function servedModel(i: Interpolator): ModelInterpolator | undefined {
  const m = (i as { model?: unknown }).model ?? i;
  return typeof m === 'object' && m !== null && 'sha256' in m && 'path' in m && 'options' in m ? (m as ModelInterpolator) : undefined;
}

type Outcome = { report: AdaptReport } | { failed: string };

const unadapted = (base: Interpolator): SeriesInterpolator => ({ interpolator: base, release: async () => undefined });

export class StackAdapter {
  private current: AdaptationState;
  private readonly checked: Promise<AdaptationState>;
  private readonly root: string;
  private readonly tmp: string;

  constructor(private readonly o: StackAdapterOptions) {
    this.root = join(o.storageDir, 'adapted');
    this.tmp = join(o.storageDir, 'tmp');
    this.current = { ok: true, mode: o.mode, available: false, reason: `checking ${python()} (start-up)` };
    this.checked = this.detect().then((s) => (this.current = s));
  }

  /** What /readyz reports (while the start-up check runs: not available, "checking"). */
  state(): AdaptationState {
    return this.current;
  }

  /** Resolves when the start-up check of Python and PyTorch is done. */
  ready(): Promise<AdaptationState> {
    return this.checked;
  }

  private async detect(): Promise<AdaptationState> {
    const { mode, log } = this.o;
    const off = (reason: string): AdaptationState => ({ ok: true, mode, available: false, reason });
    if (mode === 'none') return off('not configured (pipeline.adapt: none)');
    if (this.o.method !== 'model') {
      const reason = `pipeline.method is ${this.o.method}: adaptation applies to the learned model only`;
      log.info('per-series adaptation not used', { event: 'adapt-unavailable', mode, reason });
      return off(reason);
    }
    const problems = await checkPython(ADAPT_MODULES);
    if (problems.length) {
      const reason = problems.map((p) => p.summary).join('; ');
      const fields = { event: 'adapt-unavailable', mode, python: python(), reason, detail: problems.map((p) => p.detail) };
      // series asked for it: say so loudly, once; auto only uses it where it can.
      if (mode === 'series') log.warn('per-series adaptation unavailable: the shipped model is used', fields);
      else log.info('per-series adaptation unavailable (pipeline.adapt: auto): the shipped model is used', fields);
      return off(reason);
    }
    log.info('per-series adaptation available', { event: 'adapt-available', mode, python: python(), seconds: this.o.seconds });
    return { ok: true, mode, available: true };
  }

  /**
   * The interpolator for one stack: `base` with the adapted model (kept), `base` with the
   * attempt noted (not kept), or `base` itself (adaptation unavailable or failed).
   */
  async forStack(base: Interpolator, stack: Stack, sources: ContentSource[], volume: () => Promise<VolumeF32>): Promise<SeriesInterpolator> {
    try {
      return await this.prepare(base, stack, sources, volume);
    } catch (e) {
      // Whatever went wrong here (the cache's disk, most likely), the job goes on unadapted.
      this.o.log.warn('adaptation failed: the shipped model is used', { event: 'adapt-failed', stackId: stack.id, reason: (e as Error).message });
      return unadapted(base);
    }
  }

  private async prepare(base: Interpolator, stack: Stack, sources: ContentSource[], volume: () => Promise<VolumeF32>): Promise<SeriesInterpolator> {
    const plain = unadapted(base);
    // The model this stack was given (by slice thickness; after a SIGHUP reload, the new one).
    const model = servedModel(base);
    if (!model || !(await this.checked).available) return plain;
    const { log } = this.o;
    const key = adaptationKey({ stackId: stack.id, sources, softwareVersion: PACKAGE_VERSION, baseSha256: model.sha256, settings: `seconds:${this.o.seconds};maxThickness:${this.o.maxThickness}` });
    const entry = join(this.root, key.slice(0, 32));
    const started = Date.now();
    let outcome = await readEntry(entry);
    if (outcome) {
      const kept = 'report' in outcome ? outcome.report.kept : undefined;
      log.info('adaptation reused', { event: 'adapt-reused', stackId: stack.id, kept, ...('failed' in outcome ? { failed: outcome.failed } : {}) });
      stageMetrics().adaptation('reused', (Date.now() - started) / 1000);
      await utimes(entry, new Date(), new Date()).catch(() => undefined);
    } else {
      outcome = await this.adapt(model, stack, volume, entry);
    }
    if ('failed' in outcome) return plain;
    const note = adaptationNote(outcome.report);
    if (!outcome.report.kept) return { interpolator: noted(base, base, note), release: plain.release };
    const { createModelInterpolator } = await import('../interpolate/model-interpolator.js');
    let adapted: ModelInterpolator;
    try {
      adapted = await createModelInterpolator(join(entry, 'model.onnx'), undefined, model.options);
    } catch (e) {
      log.warn('adapted model refused: the shipped model is used', { event: 'adapt-failed', stackId: stack.id, reason: (e as Error).message });
      return plain;
    }
    return { interpolator: noted(adapted, base, note), release: () => adapted.release() };
  }

  /** Runs the trainer on the stack and caches what came of it. */
  private async adapt(model: ModelInterpolator, stack: Stack, volume: () => Promise<VolumeF32>, entry: string): Promise<Outcome> {
    const { log } = this.o;
    const started = Date.now();
    const work = join(this.tmp, `adapt-${randomUUID()}`);
    const threads = this.o.threads || availableParallelism();
    const thickness = thicknessRatio(stack);
    log.info('adaptation started', { event: 'adapt-start', stackId: stack.id, slices: stack.slices.length, seconds: this.o.seconds, threads, thickness });
    try {
      const { report, dir } = await adaptSeries({
        modelPath: model.path,
        volume: await volume(),
        work,
        seconds: this.o.seconds,
        threads,
        version: model.metadata.version,
        name: model.metadata.name,
        thickness,
        maxThickness: this.o.maxThickness,
        onLine: (line) => log.debug('adaptation progress', { stackId: stack.id, line: line.slice(0, 300) }),
      });
      const wall = (Date.now() - started) / 1000;
      log.info(report.kept ? 'adaptation done: adapted model kept' : 'adaptation done: not kept, the shipped model is used', {
        event: 'adapt-done',
        stackId: stack.id,
        kept: report.kept,
        steps: report.steps,
        trainerSeconds: report.seconds,
        seconds: wall,
        device: report.device,
        gainDb: report.gain_db,
        psnrBefore: report.psnr_before,
        psnrAfter: report.psnr_after,
        ssimBefore: report.ssim_before,
        ssimAfter: report.ssim_after,
        reason: report.reason,
      });
      stageMetrics().adaptation(report.kept ? 'kept' : 'not-kept', wall);
      await this.store(dir, entry);
      return { report };
    } catch (e) {
      const reason = (e as Error).message;
      log.warn('adaptation failed: the shipped model is used', { event: 'adapt-failed', stackId: stack.id, reason, seconds: (Date.now() - started) / 1000 });
      stageMetrics().adaptation('failed', (Date.now() - started) / 1000);
      // What the trainer did is remembered (a re-run gives the same series); a failure of this
      // machine (reading the stack, disk) is not: the next run tries again.
      if (e instanceof AdaptFailure) {
        const dir = join(work, 'failed');
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'failed.json'), JSON.stringify({ reason }));
        await this.store(dir, entry).catch(() => undefined);
      }
      return { failed: reason };
    } finally {
      await rm(work, { recursive: true, force: true }).catch(() => undefined);
      await this.prune().catch((e) => log.warn('adaptation cache not pruned', { error: (e as Error).message }));
    }
  }

  /** Moves a finished result into the cache (another process that got there first wins). */
  private async store(dir: string, entry: string): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await rename(dir, entry).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  }

  /** Removes entries unused for longer than the retention, and the least recently used beyond maxEntries. */
  private async prune(): Promise<void> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const entries = await Promise.all(names.map(async (n) => ({ path: join(this.root, n), at: (await stat(join(this.root, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    entries.sort((a, b) => b.at - a.at);
    const max = this.o.maxEntries ?? MAX_ENTRIES;
    const now = Date.now();
    for (const [i, e] of entries.entries()) {
      if (i >= max || (this.o.retentionMs > 0 && now - e.at > this.o.retentionMs)) await rm(e.path, { recursive: true, force: true });
    }
  }
}

/** A cached result, or undefined (none, or unreadable: adapted again). */
async function readEntry(entry: string): Promise<Outcome | undefined> {
  const failed = await readFile(join(entry, 'failed.json'), 'utf8').catch(() => undefined);
  if (failed !== undefined) {
    try {
      return { failed: String((JSON.parse(failed) as { reason: unknown }).reason) };
    } catch {
      return undefined;
    }
  }
  const text = await readFile(join(entry, 'report.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return { report: parseReport(text) };
  } catch {
    await rm(entry, { recursive: true, force: true });
    return undefined;
  }
}

/**
 * `model` (the adapted one, or the shipped one when the attempt was not kept) for one series,
 * with the adaptation in its description and in its content id: the derived bytes say it, so
 * the UIDs must differ from an unadapted series'.
 */
function noted(model: Interpolator, base: Interpolator, note: string): Interpolator {
  return {
    method: base.method,
    description: model.description,
    contentId: `${model.contentId ?? model.description} adaptation:${note}`,
    adaptation: note,
    interpolate: (volume, plan) => model.interpolate(volume, plan),
  };
}
