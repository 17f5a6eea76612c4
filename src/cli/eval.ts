// `interslice eval VOLUME --factor N`: the evaluation protocol (../shared/docs/evaluation-protocol.md).
import { runEval } from '../evaluate/index.js';

export async function evalCommand(
  volume: string,
  opts: { factor: number; method: 'model' | 'cubic' | 'linear'; model: string; thick?: boolean; json?: boolean },
): Promise<number> {
  const res = await runEval({ volume, factor: opts.factor, method: opts.method, thick: !!opts.thick, modelPath: opts.model });
  if (opts.json) console.log(JSON.stringify(res));
  else console.log(`${opts.method} ${opts.thick ? 'thick' : 'drop'}-${opts.factor}: PSNR ${res.psnr.toFixed(2)} dB  SSIM ${res.ssim.toFixed(4)}`);
  return 0;
}
