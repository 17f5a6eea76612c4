// The evaluation protocol over several volumes and factors: one row per volume and factor with
// PSNR/SSIM of each method (each figure from runEvalOnVolume, the single-volume path), the gain of
// the model over the better classical method (per metric), and the mean over the rows.
import { readFile } from 'node:fs/promises';
import { ModelSession } from '../interpolate/engine/session.js';
import { runEvalOnVolume, type EvalMethod } from './protocol.js';
import { loadVolume } from './volume.js';

export const TABLE_METHODS: EvalMethod[] = ['linear', 'cubic', 'model'];

export interface Score {
  psnr: number;
  ssim: number;
}

export interface Gain {
  /** model PSNR minus the higher of linear/cubic PSNR (dB), and which that was */
  psnr: number;
  psnrOver: 'linear' | 'cubic';
  /** model SSIM minus the higher of linear/cubic SSIM, and which that was */
  ssim: number;
  ssimOver: 'linear' | 'cubic';
}

export interface TableRow {
  volume: string;
  factor: number;
  thick: boolean;
  scores: Partial<Record<EvalMethod, Score>>;
  /** present when the model and at least one classical method were measured */
  gain?: Gain;
}

export interface EvalTable {
  thick: boolean;
  methods: EvalMethod[];
  model?: string;
  rows: TableRow[];
  /** arithmetic mean of every column over the rows */
  mean: { scores: Partial<Record<EvalMethod, Score>>; gain?: { psnr: number; ssim: number } };
}

export interface TableOptions {
  volumes: string[];
  factors: number[];
  methods?: EvalMethod[];
  thick?: boolean;
  modelPath?: string;
}

function gainOf(scores: TableRow['scores']): Gain | undefined {
  const m = scores.model;
  const classical = (['linear', 'cubic'] as const).filter((k) => scores[k]);
  if (!m || classical.length === 0) return undefined;
  const best = (metric: keyof Score) => classical.reduce((a, b) => (scores[b]![metric] > scores[a]![metric] ? b : a));
  const p = best('psnr');
  const s = best('ssim');
  return { psnr: m.psnr - scores[p]!.psnr, psnrOver: p, ssim: m.ssim - scores[s]!.ssim, ssimOver: s };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function runEvalTable(opts: TableOptions): Promise<EvalTable> {
  const methods = opts.methods ?? TABLE_METHODS;
  const thick = !!opts.thick;
  let session: ModelSession | undefined;
  if (methods.includes('model')) {
    if (!opts.modelPath) throw new Error('method model needs modelPath');
    // CPU, like runEval (and the PyTorch path it is compared with); opened once for all rows
    session = await ModelSession.open(await readFile(opts.modelPath), { provider: 'cpu', threads: 0 });
  }
  const rows: TableRow[] = [];
  try {
    for (const volume of opts.volumes) {
      const vol = loadVolume(volume);
      for (const factor of opts.factors) {
        const scores: TableRow['scores'] = {};
        for (const method of methods) {
          const r = await runEvalOnVolume(vol, { volume, factor, method, thick, modelPath: opts.modelPath }, session);
          scores[method] = { psnr: r.psnr, ssim: r.ssim };
        }
        const gain = gainOf(scores);
        rows.push({ volume, factor, thick, scores, ...(gain ? { gain } : {}) });
      }
    }
  } finally {
    await session?.release();
  }
  const meanScores: EvalTable['mean']['scores'] = {};
  for (const m of methods) meanScores[m] = { psnr: mean(rows.map((r) => r.scores[m]!.psnr)), ssim: mean(rows.map((r) => r.scores[m]!.ssim)) };
  const gains = rows.flatMap((r) => (r.gain ? [r.gain] : []));
  return {
    thick,
    methods,
    ...(session ? { model: opts.modelPath } : {}),
    rows,
    mean: { scores: meanScores, ...(gains.length ? { gain: { psnr: mean(gains.map((g) => g.psnr)), ssim: mean(gains.map((g) => g.ssim)) } } : {}) },
  };
}

/** The table as fixed-width text (what `interslice eval` prints without --json). */
export function formatEvalTable(t: EvalTable): string {
  const name = (p: string) => p.replace(/\/+$/, '').split('/').pop()!.replace(/\.nii(\.gz)?$/, '');
  const header = ['volume', 'factor', ...t.methods.flatMap((m) => [`${m} PSNR`, `${m} SSIM`])];
  const hasGain = t.rows.some((r) => r.gain);
  if (hasGain) header.push('gain PSNR', 'gain SSIM');
  const cells = (label: string, factor: string, scores: TableRow['scores'], gain?: { psnr: number; ssim: number }, over?: Gain) => [
    label,
    factor,
    ...t.methods.flatMap((m) => [scores[m]!.psnr.toFixed(2), scores[m]!.ssim.toFixed(4)]),
    ...(hasGain
      ? gain
        ? [`${gain.psnr >= 0 ? '+' : ''}${gain.psnr.toFixed(2)}${over ? ` (${over.psnrOver})` : ''}`, `${gain.ssim >= 0 ? '+' : ''}${gain.ssim.toFixed(4)}${over ? ` (${over.ssimOver})` : ''}`]
        : ['', '']
      : []),
  ];
  const lines = [header, ...t.rows.map((r) => cells(name(r.volume), `${t.thick ? 'thick' : 'drop'}-${r.factor}`, r.scores, r.gain, r.gain)), cells('mean', '', t.mean.scores, t.mean.gain)];
  const width = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  const text = lines.map((l) => l.map((v, c) => (c < 2 ? v.padEnd(width[c]) : v.padStart(width[c]))).join('  ').trimEnd());
  const notes = [
    'PSNR in dB, SSIM per ../shared/docs/evaluation-protocol.md (rebuilt slices only).',
    ...(hasGain ? ['gain: model minus the better classical method, per metric (which one in brackets).'] : []),
    ...(t.model ? [`model: ${t.model}`] : []),
  ];
  return [...text, '', ...notes].join('\n');
}
