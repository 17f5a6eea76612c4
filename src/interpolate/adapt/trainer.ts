// The per-series trainer as a worker process: `python3 -m training adapt-series` (training/adapt.py)
// fine-tunes a copy of the model on one stack's own slices and keeps the result only when a
// held-out block of those slices says it helps. Here: the stack goes in as raw float32, the
// report comes back checked, and what the derived series says about it is worded.
import { existsSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { VolumeF32 } from '../../core/types.js';
import { runTraining } from './python.js';

/** report.json of `adapt-series`: the fields the node reads (the trainer writes more). */
export interface AdaptReport {
  kept: boolean;
  reason: string;
  steps: number;
  seconds?: number;
  gain_db?: number;
  psnr_before?: number;
  psnr_after?: number;
  ssim_before?: number;
  ssim_after?: number;
  device?: string;
}

/** An adaptation that did not give a report: the shipped model is used. */
export class AdaptFailure extends Error {}

/** Seconds the trainer gets beyond its budget (Python and PyTorch start-up, ONNX export) before it is killed. */
export const ADAPT_MARGIN_SECONDS = 45;

/**
 * What the trainer starts from: the PyTorch checkpoint beside the model (same basename, .pt),
 * else the ONNX model itself (the trainer reads its weights back).
 */
export function baseCheckpoint(modelPath: string): string {
  const pt = join(dirname(modelPath), `${basename(modelPath, '.onnx')}.pt`);
  return existsSync(pt) ? pt : modelPath;
}

/** The source slices as raw little-endian float32 [n, rows, cols], in stack order. */
async function writeStack(path: string, volume: VolumeF32): Promise<void> {
  // Float32Array holds the platform's byte order; Node's platforms (x86-64, arm64) are little-endian.
  if (endianness() !== 'LE') throw new AdaptFailure('the trainer reads little-endian float32; this platform is big-endian');
  const f = await open(path, 'w');
  try {
    for (const s of volume.slices) await f.write(new Uint8Array(s.buffer, s.byteOffset, s.byteLength));
  } finally {
    await f.close();
  }
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** report.json checked: the fields the node relies on are there and have their types. */
export function parseReport(text: string): AdaptReport {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new AdaptFailure(`report.json is not JSON (${(e as Error).message})`);
  }
  if (typeof r !== 'object' || r === null) throw new AdaptFailure('report.json is not an object');
  if (typeof r.kept !== 'boolean') throw new AdaptFailure('report.json has no boolean "kept"');
  if (!finite(r.steps)) throw new AdaptFailure('report.json has no "steps"');
  if (r.kept && !finite(r.gain_db)) throw new AdaptFailure('report.json keeps the adapted weights without a held-out "gain_db"');
  return r as unknown as AdaptReport;
}

export interface AdaptSeriesOptions {
  /** The model the node serves (its .pt beside it is preferred, see baseCheckpoint). */
  modelPath: string;
  volume: VolumeF32;
  /** Work folder: stack.f32 goes here, the trainer writes <work>/out. */
  work: string;
  seconds: number;
  threads: number;
  /** The base model's version: the adapted one is "<version>+adapted" (a .pt checkpoint carries none). */
  version?: string;
  /** The base model's name, which the adapted one keeps (a .pt checkpoint carries none). */
  name?: string;
  /** Each line the trainer prints (progress; no patient data: it never sees a header). */
  onLine?: (line: string) => void;
  /** Training steps at most (the trainer's default when undefined: the budget or the steps end it). */
  steps?: number;
  /** Also write the adapted weights the guard did not keep, as NOT_KEPT_MODEL (for `interslice eval --adapt`). */
  alwaysExport?: boolean;
  /** The stack's slice thickness over its slice spacing (undefined: unknown). */
  thickness?: number;
  /** The trainer does not adapt a stack thicker than this, or of unknown thickness (undefined: no limit). */
  maxThickness?: number;
}

/** With alwaysExport: the adapted weights the guard did not keep (none when no step was trained). */
export const NOT_KEPT_MODEL = 'adapted-not-kept.onnx';

/**
 * Runs the trainer on one stack. Returns the checked report and the folder holding it (and
 * model.onnx when kept, NOT_KEPT_MODEL when not kept with alwaysExport); throws AdaptFailure with a reason for anything else (no start, exit
 * code, timeout, missing or invalid report, kept without a model).
 */
export async function adaptSeries(o: AdaptSeriesOptions): Promise<{ report: AdaptReport; dir: string }> {
  const { volume } = o;
  await mkdir(o.work, { recursive: true });
  const stackFile = join(o.work, 'stack.f32');
  await writeStack(stackFile, volume);
  const out = join(o.work, 'out');
  const args = [
    'adapt-series', '--init', baseCheckpoint(o.modelPath), '--stack', stackFile,
    '--shape', `${volume.slices.length},${volume.rows},${volume.columns}`,
    '--out', out, '--seconds', String(o.seconds), '--threads', String(o.threads),
    ...(o.version ? ['--version', o.version] : []),
    ...(o.name ? ['--name', o.name] : []),
    ...(o.steps !== undefined ? ['--steps', String(o.steps)] : []),
    ...(o.alwaysExport ? ['--always-export'] : []),
    ...(o.thickness !== undefined && Number.isFinite(o.thickness) ? ['--thickness', o.thickness.toFixed(4)] : []),
    ...(o.maxThickness !== undefined ? ['--max-thickness', String(o.maxThickness)] : []),
  ];
  const limit = o.seconds + ADAPT_MARGIN_SECONDS;
  let run;
  try {
    run = await runTraining(args, o.onLine ?? (() => undefined), {
      timeoutMs: limit * 1000,
      // No __pycache__ written into the installation.
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: String(o.threads) },
    });
  } catch (e) {
    throw new AdaptFailure(`the trainer could not be started (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (run.timedOut) throw new AdaptFailure(`the trainer did not finish within ${limit} s (adaptSeconds + ${ADAPT_MARGIN_SECONDS}) and was killed`);
  if (run.code !== 0) throw new AdaptFailure(`the trainer exited with code ${run.code}: ${(run.tail.at(-1) ?? 'no output').slice(0, 300)}`);
  let text: string;
  try {
    text = await readFile(join(out, 'report.json'), 'utf8');
  } catch (e) {
    throw new AdaptFailure(`the trainer wrote no report.json (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const report = parseReport(text);
  if (report.kept && !existsSync(join(out, 'model.onnx'))) throw new AdaptFailure('the report keeps the adapted weights but the trainer wrote no model.onnx');
  return { report, dir: out };
}

const db = (x: number) => `${x >= 0 ? '+' : '-'}${Math.abs(x).toFixed(2)} dB`;

/** What DerivationDescription says about an adaptation (kept or not), without patient data. */
export function adaptationNote(r: AdaptReport): string {
  // No step trained (a thick stack, too few slices): nothing was tried.
  if (!r.kept && r.steps === 0) return `adaptation not applied (${String(r.reason ?? 'no reason given').slice(0, 160)})`;
  if (r.kept) return `adapted to this series (self-supervised on its own slices, ${r.steps} steps, held-out ${db(r.gain_db!)})`;
  const why = finite(r.gain_db) ? `held-out ${db(r.gain_db)}` : String(r.reason ?? 'no reason given').slice(0, 160);
  return `adaptation tried, not kept (${why})`;
}
