// One series (or folder) through assemble -> select -> interpolate -> derive. Shared by
// `interslice serve` (per completed series) and `interslice process` (per input folder), so
// both paths produce the same derived pixels.
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Decision, DerivedSeries, InstanceMeta, Interpolator, SpacingTarget, Stack } from '../core/types.js';
import type { Logger } from '../core/log.js';
import { assembleStacks } from '../assemble/stacks.js';
import { selectStack, type SelectRules } from '../select/rules.js';
import { deriveStack } from './derive-stack.js';
import { pickSeriesNumber } from './series-number.js';
import { metrics } from '../admin/metrics.js';

export interface RunOptions {
  target: SpacingTarget;
  interpolator: Interpolator;
  rules: SelectRules;
  /** Each derived series is written to <outDir>/<folder named after the stack>. */
  outDir: string;
  log: Logger;
  /** SeriesNumbers the study already uses beyond these instances' own (e.g. other series in the spool). */
  usedSeriesNumbers?: Iterable<number>;
  /** Called after each stack: (done, total, label). */
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface StackOutcome {
  stackId: string;
  label: string;
  slices: number;
  volumes: number;
  decision: Pick<Decision, 'action' | 'code' | 'reason'>;
  issues: string[];
  derived?: DerivedSeries;
  error?: string;
  seconds?: number;
}

export interface UnplacedOutcome {
  sopInstanceUid: string;
  reason: string;
}

export interface RunResult {
  stacks: StackOutcome[];
  unplaced: UnplacedOutcome[];
}

/** A folder name for a stack's output: short and free of patient data. */
export function stackFolder(stack: Stack): string {
  return createHash('sha256').update(stack.id).digest('hex').slice(0, 16);
}

export async function runStacks(instances: InstanceMeta[], opts: RunOptions): Promise<RunResult> {
  const { log } = opts;
  const { stacks, unplaced } = assembleStacks(instances);
  for (const u of unplaced) {
    log.warn('instance not placed in any stack', { sopInstanceUid: u.instance.sopInstanceUid, seriesInstanceUid: u.instance.seriesInstanceUid, reason: u.reason });
  }
  const usedNumbers = new Set(opts.usedSeriesNumbers ?? []);
  for (const m of instances) if (m.seriesNumber !== undefined) usedNumbers.add(m.seriesNumber);
  const outcomes: StackOutcome[] = [];
  for (const stack of stacks) {
    if (outcomes.length > 0) opts.onProgress?.(outcomes.length, stacks.length, stack.label);
    const decision = selectStack(stack, opts.rules);
    metrics.stackDecision(decision.action, decision.code);
    const base: StackOutcome = {
      stackId: stack.id,
      label: stack.label,
      slices: stack.slices.length,
      volumes: stack.volumes,
      decision: { action: decision.action, code: decision.code, reason: decision.reason },
      issues: stack.issues,
    };
    log.info('stack decision', {
      stackId: stack.id,
      seriesInstanceUid: stack.seriesInstanceUid,
      sopClassUid: stack.slices[0]?.instance.sopClassUid,
      label: stack.label,
      slices: stack.slices.length,
      volumes: stack.volumes,
      spacingMm: Number(stack.spacing.mean.toFixed(4)),
      action: decision.action,
      code: decision.code,
      reason: decision.reason,
      issues: stack.issues,
    });
    if (decision.action !== 'process') {
      outcomes.push(base);
      continue;
    }
    const started = Date.now();
    try {
      const derived = await deriveStack(stack, {
        target: opts.target,
        interpolator: opts.interpolator,
        outDir: join(opts.outDir, stackFolder(stack)),
        seriesNumber: pickSeriesNumber(stack.slices[0]?.instance.seriesNumber, usedNumbers),
      });
      const seconds = (Date.now() - started) / 1000;
      log.info('derived series written', {
        stackId: stack.id,
        sourceSeriesInstanceUid: stack.seriesInstanceUid,
        derivedSeriesInstanceUid: derived.seriesInstanceUid,
        slices: derived.sliceCount,
        spacingMm: derived.spacingMm,
        method: opts.interpolator.method,
        seconds,
      });
      outcomes.push({ ...base, derived, seconds });
    } catch (e) {
      const error = (e as Error).message;
      log.error('stack failed', { stackId: stack.id, seriesInstanceUid: stack.seriesInstanceUid, error });
      outcomes.push({ ...base, error });
    }
  }
  opts.onProgress?.(outcomes.length, stacks.length, 'done');
  return {
    stacks: outcomes,
    unplaced: unplaced.map((u) => ({ sopInstanceUid: u.instance.sopInstanceUid, reason: u.reason })),
  };
}
