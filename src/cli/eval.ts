// `interslice eval VOLUME [VOLUME...] --factor N[,N...]`: the evaluation protocol
// (../shared/docs/evaluation-protocol.md). One volume, one factor and one --method: the single
// figure (as before); otherwise a table of every volume and factor with linear, cubic and model
// (or the methods --method lists), the model's gain over the better classical method and the mean.
import { formatEvalTable, runEval, runEvalTable, TABLE_METHODS, type EvalMethod } from '../evaluate/index.js';

export interface EvalCommandOptions {
  factor: number[];
  /** methods to run; undefined: all three */
  method?: EvalMethod[];
  model: string;
  thick?: boolean;
  json?: boolean;
  adapt?: boolean;
}

/** Why --adapt is refused: there is no adaptation step to run yet. */
export const ADAPT_MISSING =
  'interslice eval: --adapt is not available: per-volume adaptation of the model is not implemented yet ' +
  '(there is no adaptation stage in training/ and no adapted-model path in src/evaluate); evaluate without --adapt';

export async function evalCommand(volumes: string[], opts: EvalCommandOptions): Promise<number> {
  if (opts.adapt) {
    console.error(ADAPT_MISSING);
    return 2;
  }
  const thick = !!opts.thick;
  if (volumes.length === 1 && opts.factor.length === 1 && opts.method?.length === 1) {
    const [volume] = volumes;
    const [factor] = opts.factor;
    const [method] = opts.method;
    const res = await runEval({ volume, factor, method, thick, modelPath: opts.model });
    if (opts.json) console.log(JSON.stringify(res));
    else console.log(`${method} ${thick ? 'thick' : 'drop'}-${factor}: PSNR ${res.psnr.toFixed(2)} dB  SSIM ${res.ssim.toFixed(4)}`);
    return 0;
  }
  const methods = TABLE_METHODS.filter((m) => !opts.method || opts.method.includes(m));
  const table = await runEvalTable({ volumes, factors: opts.factor, methods, thick, modelPath: opts.model });
  console.log(opts.json ? JSON.stringify(table) : formatEvalTable(table));
  return 0;
}
