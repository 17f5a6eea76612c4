// Medians and the formatting of figures for BENCHMARKS.md.
export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

/** "median (min-max, n runs)" */
export function spread(xs: number[], digits = 1): string {
  if (!xs.length) return 'n/a';
  if (xs.length === 1) return `${fmt(xs[0], digits)} (1 run)`;
  return `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}-${fmt(Math.max(...xs), digits)}, ${xs.length} runs)`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
