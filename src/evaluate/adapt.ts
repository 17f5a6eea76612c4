// `interslice eval --adapt`: per-volume adaptation measured against truth. For one volume and
// factor, the node's own per-series trainer (src/interpolate/adapt/trainer.ts, `python3 -m
// training adapt-series`) adapts the model to the slices the protocol keeps (keptSlices: every
// k-th slice, thick-averaged with --thick; never the dropped ones), exactly the input the model
// gets. The volume is then scored with the adapted weights by the same protocol code as the
// shipped model (zero-shot), whether or not the trainer's held-out guard kept them (the trainer
// exports the ones it did not keep too, --always-export), so the guard's decision can be checked
// against the true gain; "delivered" is what the pipeline would give: adapted when kept, else
// the shipped model.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { adaptSeries, NOT_KEPT_MODEL } from '../interpolate/adapt/trainer.js';
import { keptSlices, keptThickness, runEvalOnVolume, type Score } from './protocol.js';
import type { Refiner } from '../interpolate/refine/refiner.js';
import type { Volume } from './volume.js';

export interface AdaptEvalOptions {
  /** The trainer's wall-clock budget (pipeline.adaptSeconds), seconds. */
  seconds: number;
  /** Training steps at most (undefined: the trainer's default). */
  steps?: number;
  /** Trainer threads (default: the machine's). */
  threads?: number;
  /** The shipped model's version (the adapted one is "<version>+adapted"). */
  version?: string;
  /** The shipped model's name, which the adapted one keeps. */
  name?: string;
  /** Each line the trainer prints. */
  onLine?: (line: string) => void;
  /** Kept slices thicker than this fraction of their spacing are not adapted, as in the node (undefined: no limit). */
  maxThickness?: number;
}

export interface AdaptRow {
  /** the shipped model (the row's model score) */
  zeroShot: Score;
  /** the adapted weights, kept or not (the shipped model's when no step was trained) */
  adapted: Score;
  /** adapted minus zero-shot: the true gain of adaptation */
  gain: Score;
  /** the trainer's held-out guard */
  guard: { kept: boolean; steps: number; heldoutGainDb?: number; reason: string };
  /** what the pipeline would deliver: adapted when the guard kept it, else the shipped model */
  delivered: 'adapted' | 'zero-shot';
  deliveredScore: Score;
  /** delivered minus zero-shot (the true gain when kept, else 0) */
  deliveredGain: Score;
}

const diff = (a: Score, b: Score): Score => ({ psnr: a.psnr - b.psnr, ssim: a.ssim - b.ssim });

/** The refiner the zero-shot figure was made with, for the adapted one too (as the node runs it). */
export interface EvalRefiner {
  refiner: Refiner;
  path: string;
  thick: boolean;
}

/** Adapts the model to `vol`'s kept slices for drop-`factor` (thick or not) and scores it against `zeroShot`. */
export async function adaptAndScore(vol: Volume, volume: string, factor: number, thick: boolean, modelPath: string, zeroShot: Score, o: AdaptEvalOptions, refine?: EvalRefiner): Promise<AdaptRow> {
  const k = Math.round(factor);
  const kept = keptSlices(vol, k, thick);
  const work = await mkdtemp(join(tmpdir(), 'interslice-eval-adapt-'));
  try {
    const { report, dir } = await adaptSeries({
      modelPath,
      volume: { rows: vol.rows, columns: vol.cols, slices: kept, distances: kept.map((_, i) => i * k * vol.spacing[0]) },
      work,
      seconds: o.seconds,
      threads: o.threads ?? availableParallelism(),
      version: o.version,
      name: o.name,
      steps: o.steps,
      alwaysExport: true,
      onLine: o.onLine,
      thickness: keptThickness(thick, k),
      maxThickness: o.maxThickness,
    });
    const weights = join(dir, report.kept ? 'model.onnx' : NOT_KEPT_MODEL);
    // No weights: no step was trained (too few kept slices), the adapted model is the shipped one.
    const adapted = existsSync(weights) ? await runEvalOnVolume(vol, { volume, factor, method: 'model', thick, modelPath: weights, ...(refine ? { refinerPath: refine.path, refinerThick: refine.thick } : {}) }, undefined, refine?.refiner) : zeroShot;
    const score = { psnr: adapted.psnr, ssim: adapted.ssim };
    const gain = diff(score, zeroShot);
    return {
      zeroShot,
      adapted: score,
      gain,
      guard: { kept: report.kept, steps: report.steps, ...(report.gain_db !== undefined ? { heldoutGainDb: report.gain_db } : {}), reason: report.reason },
      delivered: report.kept ? 'adapted' : 'zero-shot',
      deliveredScore: report.kept ? score : zeroShot,
      deliveredGain: report.kept ? gain : { psnr: 0, ssim: 0 },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
