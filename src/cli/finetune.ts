// `interslice finetune --from DIR --out FILE.onnx`: per-site self-supervised fine-tuning. Runs
// the training package's stage 3 (`python3 -m training finetune-self`, training/cli.py) on the
// DICOM series under DIR (files, or the node's spool <storage.dir>/spool), exports it
// (`... export`), and writes FILE only if the new model passes the same parity and sanity check
// a running node applies on SIGHUP (src/interpolate/engine/sanity.ts).
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createModelInterpolator, type ModelInterpolator } from '../interpolate/model-interpolator.js';
import { ENGINE_DEFAULTS } from '../interpolate/engine/options.js';
import { checkModel, sanityOutputs } from '../interpolate/engine/sanity.js';
import { SHIPPED_CHECKPOINT, SHIPPED_MODEL } from '../interpolate/model/shipped.js';
import { checkPython, FINETUNE_MODULES, python, REPO_ROOT, runTraining, type PythonRun } from '../interpolate/adapt/python.js';

export interface FinetuneOptions {
  from: string;
  out: string;
  minutes?: number;
  /** PyTorch checkpoint to start from (the shipped model's). */
  init?: string;
  /** The model the new one must stay close to (parity); default the shipped ONNX model. */
  baseline?: string;
  version?: string;
  threads?: number;
}

/** Where the starting checkpoint is looked for when --init is not given, in order. */
export const INIT_CANDIDATES = [SHIPPED_CHECKPOINT, 'training/runs/v2/s2t/model.pt'];

/** Reports a failed step with the last lines it printed (its traceback, usually). */
function stepFailed(step: string, res: PythonRun): void {
  console.error(`finetune: ${step} failed (exit ${res.code}); its last output:\n${res.tail.map((l) => `  | ${l}`).join('\n')}`);
}

function say(msg: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export async function finetuneCommand(opts: FinetuneOptions): Promise<number> {
  const from = resolve(opts.from);
  if (!existsSync(from) || !statSync(from).isDirectory()) {
    console.error(`finetune: --from ${opts.from} is not a folder (give a folder of DICOM series, or the node's <storage.dir>/spool)`);
    return 2;
  }
  const init = opts.init ?? INIT_CANDIDATES.map((p) => join(REPO_ROOT, p)).find((p) => existsSync(p));
  if (!init || !existsSync(init)) {
    console.error(
      `finetune: no starting checkpoint: ${opts.init ? `${opts.init} does not exist` : `none of ${INIT_CANDIDATES.join(', ')} exists`}. ` +
        'Pass --init with the PyTorch checkpoint (.pt) the shipped model was exported from (training/rebuild.sh writes them).',
    );
    return 2;
  }
  const missing = (await checkPython(FINETUNE_MODULES)).map((p) => p.detail);
  if (missing.length) {
    console.error(
      `finetune: ${python()} cannot run the training package (set INTERSLICE_PYTHON to use another python3):\n` +
        missing.map((p) => `  - ${p}`).join('\n') +
        `\n  (all of them: apt-get install ${FINETUNE_MODULES.map(([, pkg]) => pkg).join(' ')})`,
    );
    return 2;
  }
  const out = resolve(opts.out);
  const work = await mkdtemp(join(tmpdir(), 'interslice-finetune-'));
  const started = Date.now();
  try {
    const minutes = opts.minutes ?? 8;
    say(`finetune 1/3: self-supervised fine-tuning on ${from} from ${init} (at most ${minutes} min of training)`);
    const args = ['finetune-self', '--init', init, '--target', from, '--out', work, '--minutes', String(minutes), '--threads', String(opts.threads ?? 2)];
    // The stage prints a step line with its ETA every 25 steps; between them, a heartbeat with
    // the ETA from the time cap, so a slow CPU never looks stuck.
    let last = Date.now();
    const heartbeat = setInterval(() => {
      if (Date.now() - last < 30_000) return;
      const elapsed = (Date.now() - started) / 1000;
      say(`  training: ${elapsed.toFixed(0)} s elapsed, ETA at most ${Math.max(0, minutes * 60 - elapsed).toFixed(0)} s (time cap) + export`);
      last = Date.now();
    }, 5_000);
    const trained = await runTraining(args, (l) => {
      last = Date.now();
      say(`  ${l.replace(/^\[[^\]]*\]\s*/, '')}`);
    }).finally(() => clearInterval(heartbeat));
    if (trained.code !== 0) {
      stepFailed('the training stage', trained);
      return 1;
    }
    const result = JSON.parse(await readFile(join(work, 'result.json'), 'utf8')) as { heldout_before: number; heldout_after: number; fell_back: boolean };
    const version = opts.version ?? `1.0.0-site.${new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '')}`;
    say(`finetune 2/3: export to ONNX (version ${version})`);
    const tmpOnnx = join(work, 'model.onnx');
    const exported = await runTraining(['export', '--ckpt', join(work, 'model.pt'), '--out', tmpOnnx, '--version', version], (l) => {
      if (/^exported /.test(l)) say(`  ${l}`);
    });
    if (exported.code !== 0) {
      stepFailed('export', exported);
      return 1;
    }
    say('finetune 3/3: parity and sanity check of the new model');
    const problems = await checkCandidate(tmpOnnx, opts.baseline ?? join(REPO_ROOT, SHIPPED_MODEL));
    if (problems.length) {
      console.error(`finetune: the new model fails the check, ${out} not written: ${problems.join('; ')}`);
      return 1;
    }
    await rename(tmpOnnx, out).catch(async () => {
      // Another file system: copy through a temporary name next to the target.
      const { copyFile } = await import('node:fs/promises');
      await copyFile(tmpOnnx, `${out}.tmp`);
      await rename(`${out}.tmp`, out);
    });
    const gain = result.fell_back
      ? 'no held-out improvement: the new model keeps the starting weights'
      : `held-out self-supervised L1 ${result.heldout_before.toFixed(5)} -> ${result.heldout_after.toFixed(5)}`;
    say(`wrote ${out} in ${((Date.now() - started) / 1000).toFixed(0)} s (${gain})`);
    say(`to use it: set pipeline.modelPath to ${out} and send SIGHUP to the node (kill -HUP <pid>), or restart it`);
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The check a serving node applies before swapping models, against `baseline` when it loads. */
async function checkCandidate(candidatePath: string, baselinePath: string): Promise<string[]> {
  let candidate: ModelInterpolator | undefined;
  let baseline: ModelInterpolator | undefined;
  const cpu = { ...ENGINE_DEFAULTS, provider: 'cpu' as const };
  try {
    candidate = await createModelInterpolator(candidatePath, undefined, cpu);
    if (existsSync(baselinePath)) baseline = await createModelInterpolator(baselinePath, undefined, cpu).catch(() => undefined);
    return await checkModel(candidate.session, baseline ? await sanityOutputs(baseline.session) : undefined);
  } catch (e) {
    return [(e as Error).message];
  } finally {
    await candidate?.release();
    await baseline?.release();
  }
}

