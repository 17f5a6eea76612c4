// `interslice eval VOLUME [VOLUME...] --factor N[,N...]`: the evaluation protocol
// (../shared/docs/evaluation-protocol.md). One volume, one factor and one --method: the single
// figure (as before); otherwise a table of every volume and factor with linear, cubic and model
// (or the methods --method lists), the model's gain over the better classical method and the mean.
// The model column uses --model, or --thick-model for kept slices thicker than --thick-model-above
// of their spacing (--thick rows, by default), as the node chooses by pipeline.thickModelPath,
// then --refiner over the rebuilt stack (pipeline.refinerPath: of several, the one for the
// factor, as the node chooses; none: the model alone).
// --adapt: each row also adapts the model to that volume's kept slices with the node's per-series
// trainer and scores it against truth (src/evaluate/adapt.ts).
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { chooseRefiner, trainingFactors } from '../interpolate/refine/choose.js';
import { readOnnxMetadata } from '../interpolate/model/metadata.js';
import { ADAPT_MAX_THICKNESS_DEFAULT } from '../interpolate/adapt/defaults.js';
import { ADAPT_MODULES, checkPython, python } from '../interpolate/adapt/python.js';
import { formatEvalTable, modelFor, runEval, runEvalTable, TABLE_METHODS, type EvalMethod } from '../evaluate/index.js';

export interface EvalCommandOptions {
  factor: number[];
  /** methods to run; undefined: all three */
  method?: EvalMethod[];
  model: string;
  /** the thick-slice model ('none': --model for every row) */
  thickModel: string;
  thickModelAbove: number;
  /** the through-plane refiners, chosen per factor as the node does ('none': the model alone) */
  refiner: string[];
  thick?: boolean;
  json?: boolean;
  adapt?: boolean;
  /** the trainer's budget per volume and factor (seconds; default 120) */
  adaptSeconds?: number;
  /** the trainer's steps at most (default: the trainer's) */
  adaptSteps?: number;
  /** kept slices thicker than this fraction of their spacing are not adapted (default: the node's) */
  adaptMaxThickness?: number;
}

/** The trainer's budget per adaptation: generous, so that its step count, not the clock, ends it. */
export const EVAL_ADAPT_SECONDS = 120;

export async function evalCommand(volumes: string[], opts: EvalCommandOptions): Promise<number> {
  const thick = !!opts.thick;
  const thickModel = opts.thickModel === 'none' ? undefined : { path: opts.thickModel, above: opts.thickModelAbove };
  const refinerPaths = opts.refiner.length === 1 && opts.refiner[0] === 'none' ? [] : opts.refiner;
  for (const path of refinerPaths) {
    const problem = await access(path, constants.R_OK).then(() => undefined, (e: NodeJS.ErrnoException) => e.code ?? e.message);
    if (problem) {
      console.error(`interslice eval: refiner file ${path} cannot be read (${problem}); --refiner FILE[,FILE...], or none for the model alone`);
      return 2;
    }
  }
  if (opts.adapt) {
    if (opts.method && !opts.method.includes('model')) {
      console.error('interslice eval: --adapt adapts the model: --method must include model');
      return 2;
    }
    const problems = await checkPython(ADAPT_MODULES);
    if (problems.length) {
      console.error(`interslice eval: --adapt needs Python with PyTorch (${python()}, INTERSLICE_PYTHON): ${problems.map((p) => p.summary).join('; ')}`);
      return 2;
    }
  } else if (volumes.length === 1 && opts.factor.length === 1 && opts.method?.length === 1) {
    const [volume] = volumes;
    const [factor] = opts.factor;
    const [method] = opts.method;
    const modelPath = modelFor(opts.model, thickModel, thick, factor);
    const refinerPath = await refinerFor(refinerPaths, factor);
    const refine = method === 'model' && refinerPath ? { refinerPath, refinerThick: modelPath === thickModel?.path } : {};
    const res = await runEval({ volume, factor, method, thick, modelPath, ...refine });
    if (opts.json) console.log(JSON.stringify(res));
    else console.log(`${method} ${thick ? 'thick' : 'drop'}-${factor}: PSNR ${res.psnr.toFixed(2)} dB  SSIM ${res.ssim.toFixed(4)}`);
    return 0;
  }
  const methods = TABLE_METHODS.filter((m) => !opts.method || opts.method.includes(m));
  const adapt = opts.adapt
    ? {
        seconds: opts.adaptSeconds ?? EVAL_ADAPT_SECONDS,
        steps: opts.adaptSteps,
        maxThickness: opts.adaptMaxThickness ?? ADAPT_MAX_THICKNESS_DEFAULT,
        // the trainer's summary line per adaptation, on stderr
        onLine: (line: string) => line.startsWith('adapt:') && console.error(line),
      }
    : undefined;
  const table = await runEvalTable({ volumes, factors: opts.factor, methods, thick, modelPath: opts.model, thickModel, refinerPaths, adapt });
  console.log(opts.json ? JSON.stringify(table) : formatEvalTable(table));
  return 0;
}

/** The refiner file the node would choose for `factor` among `paths` (their metadata's training factors). */
async function refinerFor(paths: string[], factor: number): Promise<string | undefined> {
  const scoped = await Promise.all(paths.map(async (path) => ({ path, factors: trainingFactors(readOnnxMetadata(await readFile(path)).training) })));
  return chooseRefiner(scoped, factor)?.path;
}
