// Progress with an ETA for long work (process over many series, fine-tuning, benchmarks):
// one line at most every `everyMs` on stderr, so logs stay readable and nothing redraws.
export interface Progress {
  tick(done: number, note?: string): void;
  finish(note?: string): void;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Remaining time by linear extrapolation of the rate so far. */
export function eta(done: number, total: number, elapsedMs: number): number {
  if (done <= 0) return NaN;
  return (elapsedMs / done) * (total - done);
}

export function progressLine(label: string, done: number, total: number, elapsedMs: number, note?: string): string {
  const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
  const width = 20;
  const filled = Math.round((width * pct) / 100);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  return `${label} [${bar}] ${done}/${total} ${pct}% elapsed ${formatDuration(elapsedMs)} eta ${formatDuration(eta(done, total, elapsedMs))}${note ? ` ${note}` : ''}`;
}

export function createProgress(label: string, total: number, opts: { everyMs?: number; write?: (line: string) => void; now?: () => number } = {}): Progress {
  const now = opts.now ?? Date.now;
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const everyMs = opts.everyMs ?? 2000;
  const start = now();
  let last = -Infinity;
  return {
    tick(done, note) {
      const t = now();
      if (t - last < everyMs && done < total) return;
      last = t;
      write(progressLine(label, done, total, t - start, note));
    },
    finish(note) {
      write(progressLine(label, total, total, now() - start, note));
    },
  };
}
