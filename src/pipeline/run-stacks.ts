// One series (or folder) through assemble -> select -> interpolate -> derive. Shared by
// `interslice serve` (per completed series) and `interslice process` (per input folder), so
// both paths produce the same derived pixels. A stack that fails is reported with its error's
// class (transient or permanent); the caller decides what that means for the job.
import type { Decision, DerivedSeries, InstanceMeta, Interpolator, SpacingTarget } from '../core/types.js';
import type { Logger } from '../core/log.js';
import { assembleStacks } from '../assemble/stacks.js';
import { findTwins } from '../assemble/twins.js';
import { selectStack, type SelectRules } from '../select/rules.js';
import { deriveStack, type ForStack } from './derive-stack.js';
import { stageMetrics } from '../core/metrics.js';
import { classifyError, type FailureClass } from '../core/job-errors.js';
import type { DerivedRegistry, StudyRecord } from './derived-registry.js';

export interface RunOptions {
  target: SpacingTarget;
  interpolator: Interpolator;
  rules: SelectRules;
  /** Each derived series is written to <outDir>/<derivedFolder(its Series Instance UID)>. */
  outDir: string;
  log: Logger;
  /** SeriesNumbers the study already uses beyond these instances' own (e.g. other series in the spool). */
  usedSeriesNumbers?: Iterable<number>;
  /** Where each study's derived series are recorded; without one, records live for this run only. */
  registry?: DerivedRegistry;
  /** dicom.uidRoot (null: 2.25). */
  uidRoot?: string | null;
  /** Why a new derived series of a stack supersedes an earlier one (e.g. "late instances"). */
  supersedeReason?: string;
  /** The interpolator per stack (model by slice thickness, adaptation); absent: `interpolator` for every stack. */
  forStack?: ForStack;
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
  /** Earlier derived series of this stack that this one replaces. */
  superseded?: string[];
  /** The same content was derived before: its files were reused, nothing was interpolated. */
  reused?: boolean;
  error?: string;
  failure?: FailureClass;
  /** Bounded reason of the failure (error code, inference, memory, data). */
  failureReason?: string;
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

export async function runStacks(instances: InstanceMeta[], opts: RunOptions): Promise<RunResult> {
  const { log } = opts;
  const { stacks, unplaced } = assembleStacks(instances);
  for (const u of unplaced) {
    log.warn('instance not placed in any stack', { sopInstanceUid: u.instance.sopInstanceUid, seriesInstanceUid: u.instance.seriesInstanceUid, reason: u.reason });
  }
  // Study records: what the study's series are numbered and what was derived before.
  const studies = new Map<string, StudyRecord>();
  const studyOf = async (uid: string) => {
    let rec = studies.get(uid);
    if (!rec) {
      rec = opts.registry ? await opts.registry.get(uid) : { studyInstanceUid: uid, received: {}, derived: [] };
      studies.set(uid, rec);
    }
    return rec;
  };
  for (const m of instances) {
    if (m.derivedByUs) continue; // our own output routed back to us is not an acquired series
    const rec = await studyOf(m.studyInstanceUid);
    if (!(m.seriesInstanceUid in rec.received) || (rec.received[m.seriesInstanceUid] === null && m.seriesNumber !== undefined)) {
      rec.received[m.seriesInstanceUid] = m.seriesNumber ?? null;
    }
  }
  const save = async (rec: StudyRecord) => {
    if (opts.registry) await opts.registry.put(rec);
  };
  for (const rec of studies.values()) await save(rec);
  const twins = findTwins(stacks);
  const outcomes: StackOutcome[] = [];
  for (const stack of stacks) {
    if (outcomes.length > 0) opts.onProgress?.(outcomes.length, stacks.length, stack.label);
    const twinOf = twins.get(stack.id);
    const decision = twinOf
      ? { action: 'skip' as const, code: 'twin', reason: `the enhanced twin of stack ${stacks.find((s) => s.id === twinOf)?.label ?? twinOf} (same frame of reference, geometry and acquisition time), which is derived instead` }
      : selectStack(stack, opts.rules);
    stageMetrics().stackDecision(decision.action, decision.code);
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
      const study = await studyOf(stack.studyInstanceUid);
      const r = await deriveStack(stack, {
        target: opts.target,
        interpolator: opts.interpolator,
        derivedRoot: opts.outDir,
        study,
        saveStudy: () => save(study),
        usedSeriesNumbers: opts.usedSeriesNumbers,
        uidRoot: opts.uidRoot,
        supersedeReason: opts.supersedeReason,
        forStack: opts.forStack,
      });
      const seconds = (Date.now() - started) / 1000;
      log.info(r.reused ? 'derived series unchanged (same content)' : 'derived series written', {
        stackId: stack.id,
        sourceSeriesInstanceUid: stack.seriesInstanceUid,
        derivedSeriesInstanceUid: r.derived.seriesInstanceUid,
        seriesNumber: r.seriesNumber,
        slices: r.derived.sliceCount,
        spacingMm: r.derived.spacingMm,
        method: opts.interpolator.method,
        seconds,
      });
      if (r.superseded.length) {
        log.info('earlier derived series superseded', { stackId: stack.id, derivedSeriesInstanceUid: r.derived.seriesInstanceUid, superseded: r.superseded });
      }
      outcomes.push({ ...base, derived: r.derived, superseded: r.superseded, reused: r.reused, seconds });
    } catch (e) {
      const error = (e as Error).message;
      const c = classifyError(e);
      log.error('stack failed', { stackId: stack.id, seriesInstanceUid: stack.seriesInstanceUid, failure: c.failure, reason: c.reason, error });
      outcomes.push({ ...base, error, failure: c.failure, failureReason: c.reason });
    }
  }
  opts.onProgress?.(outcomes.length, stacks.length, 'done');
  return {
    stacks: outcomes,
    unplaced: unplaced.map((u) => ({ sopInstanceUid: u.instance.sopInstanceUid, reason: u.reason })),
  };
}
