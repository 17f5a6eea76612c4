// The evaluation protocol over several volumes and factors: one row per volume and factor with
// PSNR/SSIM of each method (each figure from runEvalOnVolume, the single-volume path), the gain of
// the model over the better classical method (per metric), and the mean over the rows. With
// adapt (`eval --adapt`, adapt.ts): per row also the model adapted to the volume's kept slices,
// the guard's decision and what the pipeline would deliver.
import { readFile } from 'node:fs/promises';
import { ModelSession } from '../interpolate/engine/session.js';
import { ENGINE_DEFAULTS } from '../interpolate/engine/options.js';
import { Refiner } from '../interpolate/refine/refiner.js';
import { chooseRefiner } from '../interpolate/refine/choose.js';
import { adaptAndScore, type AdaptEvalOptions, type AdaptRow, type EvalRefiner } from './adapt.js';
import { keptThickness, runEvalOnVolume, type EvalMethod, type Score } from './protocol.js';
import { loadVolume } from './volume.js';
import { usesThickModel } from '../assemble/thickness.js';

export type { Score };

export const TABLE_METHODS: EvalMethod[] = ['linear', 'cubic', 'model'];

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
  /** the model file the model column (and adaptation) used: modelPath, or the thick model's for thick kept slices */
  model?: string;
  /** the refiner run after the model on this row (the one chosen for its factor) */
  refiner?: string;
  /** present when the model and at least one classical method were measured */
  gain?: Gain;
  /** with adapt: the adapted model against the shipped one (zeroShot = scores.model) */
  adapt?: AdaptRow;
}

/** The mean of the adaptation figures over the rows. */
export interface AdaptMean {
  zeroShot: Score;
  adapted: Score;
  gain: Score;
  /** rows whose adapted weights the guard kept, of `rows` */
  kept: number;
  rows: number;
  /** the mean true gain of what the pipeline delivers */
  deliveredGain: Score;
}

export interface EvalTable {
  thick: boolean;
  methods: EvalMethod[];
  model?: string;
  /** the thick-slice model and the thickness ratio above which rows use it */
  thickModel?: ThickModel;
  /** the refiners given, in order; each row uses the one for its factor (row.refiner) */
  refiners?: string[];
  rows: TableRow[];
  /** arithmetic mean of every column over the rows */
  mean: { scores: Partial<Record<EvalMethod, Score>>; gain?: Score; adapt?: AdaptMean };
}

export interface TableOptions {
  volumes: string[];
  factors: number[];
  methods?: EvalMethod[];
  thick?: boolean;
  modelPath?: string;
  /** as the node's pipeline.thickModelPath/thickModelAbove: rows whose kept slices are thicker use it */
  thickModel?: ThickModel;
  /** as the node's pipeline.refinerPath: the through-plane refiners after the model, one chosen per factor */
  refinerPaths?: string[];
  /** adapt the model to each volume and factor (needs the model method) */
  adapt?: AdaptEvalOptions;
}

export interface ThickModel {
  path: string;
  above: number;
}

/** The model file the node would use for these kept slices (usesThickModel, as interpolatorFor). */
export function modelFor(modelPath: string, thickModel: ThickModel | undefined, thick: boolean, factor: number): string {
  return thickModel && usesThickModel(keptThickness(thick, Math.round(factor)), thickModel.above) ? thickModel.path : modelPath;
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
const meanScore = <T>(xs: T[], f: (x: T) => Score): Score => ({ psnr: mean(xs.map((x) => f(x).psnr)), ssim: mean(xs.map((x) => f(x).ssim)) });

export async function runEvalTable(opts: TableOptions): Promise<EvalTable> {
  const methods = opts.methods ?? TABLE_METHODS;
  const thick = !!opts.thick;
  if (opts.adapt && !methods.includes('model')) throw new Error('adapt needs the model method');
  if (methods.includes('model') && !opts.modelPath) throw new Error('method model needs modelPath');
  // CPU, like runEval (and the PyTorch path it is compared with); each model file opened once for all rows
  const sessions = new Map<string, Promise<ModelSession>>();
  const sessionFor = (path: string) => {
    if (!sessions.has(path)) sessions.set(path, readFile(path).then((bytes) => ModelSession.open(bytes, { provider: 'cpu', threads: 0 })));
    return sessions.get(path)!;
  };
  const rows: TableRow[] = [];
  const refiners = methods.includes('model') ? await Promise.all((opts.refinerPaths ?? []).map((p) => Refiner.open(p, { ...ENGINE_DEFAULTS, provider: 'cpu' }))) : [];
  try {
    for (const volume of opts.volumes) {
      const vol = loadVolume(volume);
      for (const factor of opts.factors) {
        const scores: TableRow['scores'] = {};
        const modelPath = opts.modelPath && modelFor(opts.modelPath, opts.thickModel, thick, factor);
        const session = methods.includes('model') ? await sessionFor(modelPath!) : undefined;
        // The refiner for this factor, as the node chooses it; its thick input, as the node sets
        // it: the thick-slice model made the stack.
        const refiner = chooseRefiner(refiners, factor);
        const refine: EvalRefiner | undefined = refiner && { refiner, path: refiner.path, thick: modelPath === opts.thickModel?.path };
        for (const method of methods) {
          const model = method === 'model';
          const r = await runEvalOnVolume(vol, { volume, factor, method, thick, modelPath, ...(model && refine ? { refinerPath: refine.path, refinerThick: refine.thick } : {}) }, model ? session : undefined, model ? refiner : undefined);
          scores[method] = { psnr: r.psnr, ssim: r.ssim };
        }
        const gain = gainOf(scores);
        const adapt = opts.adapt && (await adaptAndScore(vol, volume, factor, thick, modelPath!, scores.model!, { version: session?.metadata.version, name: session?.metadata.name, ...opts.adapt }, refine));
        rows.push({ volume, factor, thick, scores, ...(session ? { model: modelPath } : {}), ...(session && refiner ? { refiner: refiner.path } : {}), ...(gain ? { gain } : {}), ...(adapt ? { adapt } : {}) });
      }
    }
  } finally {
    for (const s of sessions.values()) await (await s.catch(() => undefined))?.release();
    for (const r of refiners) await r.release();
  }
  const meanScores: EvalTable['mean']['scores'] = {};
  for (const m of methods) meanScores[m] = meanScore(rows, (r) => r.scores[m]!);
  const gains = rows.flatMap((r) => (r.gain ? [r.gain] : []));
  const adapted = rows.flatMap((r) => (r.adapt ? [r.adapt] : []));
  const adaptMean: AdaptMean | undefined = adapted.length ? {
    zeroShot: meanScore(adapted, (a) => a.zeroShot),
    adapted: meanScore(adapted, (a) => a.adapted),
    gain: meanScore(adapted, (a) => a.gain),
    kept: adapted.filter((a) => a.guard.kept).length,
    rows: adapted.length,
    deliveredGain: meanScore(adapted, (a) => a.deliveredGain),
  } : undefined;
  return {
    thick,
    methods,
    ...(methods.includes('model') ? { model: opts.modelPath, ...(opts.thickModel ? { thickModel: opts.thickModel } : {}), ...(refiners.length ? { refiners: refiners.map((r) => r.path) } : {}) } : {}),
    rows,
    mean: { scores: meanScores, ...(gains.length ? { gain: meanScore(gains, (g) => g) } : {}), ...(adaptMean ? { adapt: adaptMean } : {}) },
  };
}

const signed = (x: number, digits: number) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
const pair = (x: Score) => [x.psnr.toFixed(2), x.ssim.toFixed(4)];
const signedPair = (x: Score) => [signed(x.psnr, 2), signed(x.ssim, 4)];

/** The guard's decision in a cell: kept or not, with its held-out gain (or that nothing was trained). */
function guardCell(g: AdaptRow['guard']): string {
  if (!g.kept && g.steps === 0) return 'not applied';
  const verdict = g.kept ? 'kept' : 'not kept';
  return g.heldoutGainDb !== undefined ? `${verdict} ${signed(g.heldoutGainDb, 2)} dB` : `${verdict} (${g.steps} steps)`;
}

/** The table as fixed-width text (what `interslice eval` prints without --json). */
export function formatEvalTable(t: EvalTable): string {
  const name = (p: string) => p.replace(/\/+$/, '').split('/').pop()!.replace(/\.nii(\.gz)?$/, '');
  const header = ['volume', 'factor', ...t.methods.flatMap((m) => [`${m} PSNR`, `${m} SSIM`])];
  const hasGain = t.rows.some((r) => r.gain);
  if (hasGain) header.push('gain PSNR', 'gain SSIM');
  const am = t.mean.adapt;
  if (am) header.push('adapted PSNR', 'adapted SSIM', 'adapt gain PSNR', 'adapt gain SSIM', 'guard', 'delivered', 'delivered gain PSNR', 'delivered gain SSIM');
  const cells = (label: string, factor: string, scores: TableRow['scores'], gain?: Score, over?: Gain) => [
    label,
    factor,
    ...t.methods.flatMap((m) => pair(scores[m]!)),
    ...(hasGain
      ? gain
        ? [`${signed(gain.psnr, 2)}${over ? ` (${over.psnrOver})` : ''}`, `${signed(gain.ssim, 4)}${over ? ` (${over.ssimOver})` : ''}`]
        : ['', '']
      : []),
  ];
  const adaptCells = (a: AdaptRow) => [...pair(a.adapted), ...signedPair(a.gain), guardCell(a.guard), a.delivered, ...signedPair(a.deliveredGain)];
  const lines = [
    header,
    ...t.rows.map((r) => [...cells(name(r.volume), `${t.thick ? 'thick' : 'drop'}-${r.factor}`, r.scores, r.gain, r.gain), ...(r.adapt ? adaptCells(r.adapt) : [])]),
    [...cells('mean', '', t.mean.scores, t.mean.gain), ...(am ? [...pair(am.adapted), ...signedPair(am.gain), `${am.kept}/${am.rows} kept`, `${am.kept}/${am.rows} adapted`, ...signedPair(am.deliveredGain)] : [])],
  ];
  const width = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  const text = lines.map((l) => l.map((v, c) => (c < 2 ? v.padEnd(width[c]) : v.padStart(width[c]))).join('  ').trimEnd());
  const notes = [
    'PSNR in dB, SSIM per ../shared/docs/evaluation-protocol.md (rebuilt slices only).',
    ...(hasGain ? ['gain: model minus the better classical method, per metric (which one in brackets).'] : []),
    ...(am
      ? [
          'model: the shipped model (zero-shot); adapted: the model adapted to the volume\'s kept slices only, whether or not the guard kept it;',
          'adapt gain: adapted minus zero-shot (true gain); guard: the trainer\'s held-out decision and gain; delivered: what the pipeline',
          'gives (adapted when kept, else the shipped model) and its true gain over zero-shot. not applied: nothing trained (kept slices',
          'thicker than --adapt-max-thickness of their spacing, or too few); adapted is then the shipped model.',
        ]
      : []),
    ...(t.model ? [`model: ${t.model}${t.thickModel ? `; rows whose kept slices are thicker than ${t.thickModel.above} of their spacing: ${t.thickModel.path}` : ''}`] : []),
    ...(t.refiners?.length === 1 ? [`then the through-plane refiner ${t.refiners[0]} over each rebuilt stack`] : []),
    ...(t.refiners && t.refiners.length > 1 ? [`then the through-plane refiner over each rebuilt stack: ${[...new Set(t.rows.map((r) => r.factor))].map((f) => `factor ${f} ${t.rows.find((r) => r.factor === f)?.refiner ?? 'none'}`).join(', ')}`] : []),
    ...(t.thickModel && t.rows.some((r) => r.model === t.thickModel!.path) ? ['(kept slices: thin ones are 1/factor of their spacing thick, --thick ones as thick as it)'] : []),
  ];
  return [...text, '', ...notes].join('\n');
}
