// `interslice process INPUT_DIR --out OUT_DIR`: the pipeline on files. Prints one line per
// stack (what it is, slice count, decision and reason) and writes derived series as Part-10.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../config/load.js';
import { createLogger } from '../core/log.js';
import type { InstanceMeta, Method } from '../core/types.js';
import { readInstanceMeta } from '../assemble/instance-meta.js';
import { runStacks } from '../pipeline/run-stacks.js';
import { rulesFromConfig } from '../pipeline/rules-from-config.js';
import { createInterpolators } from '../pipeline/interpolator.js';
import { stackInterpolators } from '../pipeline/stack-interpolator.js';
import { targetFromConfig } from '../pipeline/node.js';
import { createProgress, type Progress } from '../core/progress.js';

async function* walk(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(p);
    else if (entry.isFile()) yield p;
  }
}

export interface ProcessOpts {
  out: string;
  spacing?: number;
  factor?: number;
  method?: Method;
  config?: string;
  json?: boolean;
}

export async function processCommand(input: string, opts: ProcessOpts): Promise<number> {
  let config;
  try {
    config = loadConfig(opts.config).config;
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : String(e));
    return 2;
  }
  if (!(await stat(input).catch(() => undefined))?.isDirectory()) {
    console.error(`not a folder: ${input}`);
    return 2;
  }
  const log = createLogger({ level: config.log.level, silent: !process.env.INTERSLICE_LOG_LEVEL, file: config.log.file ?? undefined });
  const target = opts.factor ? { factor: opts.factor } : opts.spacing ? { spacingMm: opts.spacing } : targetFromConfig(config);
  const interpolators = await createInterpolators(config, log, opts.method ?? config.pipeline.method);
  const metas: InstanceMeta[] = [];
  let skipped = 0;
  const files: string[] = [];
  for await (const file of walk(input)) files.push(file);
  const reading = createProgress('reading headers', files.length);
  for (const [i, file] of files.entries()) {
    reading.tick(i);
    try {
      metas.push(await readInstanceMeta(file));
    } catch (e) {
      skipped++;
      if (!opts.json) console.log(`skip file ${file}: ${(e as Error).message}`);
    }
  }
  let stacking: Progress | undefined; // the stack count is known once assembled
  const result = await runStacks(metas, {
    target,
    interpolator: interpolators.standard,
    // The thick-slice model for thick stacks, as in the node (no per-series adaptation here).
    forStack: stackInterpolators(interpolators, undefined, (i) => i, log, target),
    rules: rulesFromConfig(config),
    outDir: opts.out,
    log,
    onProgress: (done, total, label) => {
      stacking ??= createProgress('processing stacks', total);
      stacking.tick(done, label);
    },
  });
  let failed = 0;
  for (const s of result.stacks) {
    if (s.error) failed++;
    if (opts.json) {
      console.log(JSON.stringify({ stack: s.label, slices: s.slices, volumes: s.volumes, decision: s.decision.action, code: s.decision.code, reason: s.decision.reason, issues: s.issues, derived: s.derived ? { dir: s.derived.files.length ? s.derived.files[0].replace(/\/[^/]*$/, '') : undefined, slices: s.derived.sliceCount, spacingMm: s.derived.spacingMm } : undefined, error: s.error }));
    } else {
      const what = `${s.label}: ${s.slices} slices${s.volumes > 1 ? ` x ${s.volumes} volumes` : ''}`;
      const outcome = s.error
        ? `FAILED: ${s.error}`
        : s.derived
          ? `processed -> ${s.derived.sliceCount} slices at ${s.derived.spacingMm.toFixed(4)} mm in ${s.derived.files[0]?.replace(/\/[^/]*$/, '')}`
          : `${s.decision.action}: ${s.decision.reason}`;
      console.log(`${what}; ${s.decision.action} (${s.decision.code}); ${outcome}`);
    }
  }
  for (const u of result.unplaced) {
    if (opts.json) console.log(JSON.stringify({ unplaced: u.sopInstanceUid, reason: u.reason }));
    else console.log(`not placed: instance ${u.sopInstanceUid}: ${u.reason}`);
  }
  if (!opts.json) console.log(`${metas.length} instances read, ${skipped} files skipped, ${result.stacks.length} stacks, ${result.stacks.filter((s) => s.derived).length} derived series`);
  return failed > 0 ? 1 : 0;
}
