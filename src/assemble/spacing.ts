// Centre-to-centre spacing of a sorted stack and what is wrong with it: irregular steps break
// MPR in viewers (more than 10% off the mean) and a step of about twice the typical one is a
// missing slice.
import type { SpacingReport } from '../core/types.js';

/** A step more than this fraction off the mean makes the stack irregular (reference doc sec. 5). */
export const IRREGULAR_FRACTION = 0.1;
/** A step this many times the typical (median) step looks like a missing slice. */
export const GAP_FACTOR = 1.5;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Spacing of slices at ascending `distances` (mm along the normal). */
export function spacingReport(distances: number[]): SpacingReport {
  if (distances.length < 2) return { mean: 0, min: 0, max: 0, irregular: false, gaps: [] };
  const steps = distances.slice(1).map((d, i) => d - distances[i]);
  const mean = steps.reduce((a, b) => a + b, 0) / steps.length;
  const typical = median(steps);
  return {
    mean,
    min: Math.min(...steps),
    max: Math.max(...steps),
    irregular: steps.some((s) => Math.abs(s - mean) > IRREGULAR_FRACTION * mean),
    gaps: steps.flatMap((s, i) => (s > GAP_FACTOR * typical ? [i] : [])),
  };
}

/** Human-readable problems in a spacing report, for Stack.issues. */
export function spacingIssues(r: SpacingReport, distances: number[]): string[] {
  const issues: string[] = [];
  if (r.irregular) {
    issues.push(
      `irregular spacing: steps from ${r.min.toFixed(3)} to ${r.max.toFixed(3)} mm around a mean of ${r.mean.toFixed(3)} mm (more than 10% off)`,
    );
  }
  for (const i of r.gaps) {
    const step = distances[i + 1] - distances[i];
    issues.push(`possible missing slice between slices ${i} and ${i + 1} (step ${step.toFixed(3)} mm)`);
  }
  return issues;
}
