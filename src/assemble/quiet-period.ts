// When is a series complete? DICOM has no "end of series" message, so a series is taken as
// complete after `stableMs` without a new instance. Pure and time-injected (the caller passes
// `now`), so tests need no clocks. A late instance after hand-off re-opens the series: the caller
// re-runs the job for the whole series, and because stack ids are derived from study/series/
// split keys, the re-run replaces the earlier output instead of adding a second partial series.

interface SeriesState {
  lastTouch: number;
  /** Times the series has been handed off (0 = never). */
  handedOff: number;
  /** True while instances arrived after the last hand-off (or before the first). */
  open: boolean;
}

export class QuietPeriodTracker {
  private readonly series = new Map<string, SeriesState>();

  /** Records an instance of `seriesKey` arriving at `now` (epoch ms). */
  touch(seriesKey: string, now: number): void {
    const s = this.series.get(seriesKey);
    if (s) {
      s.lastTouch = Math.max(s.lastTouch, now);
      s.open = true;
    } else {
      this.series.set(seriesKey, { lastTouch: now, handedOff: 0, open: true });
    }
  }

  /** Series quiet for at least `stableMs` and not yet handed off since their last instance;
   * returned once each, in first-touched order, and marked handed off. */
  due(now: number, stableMs: number): string[] {
    const out: string[] = [];
    for (const [key, s] of this.series) {
      if (s.open && now - s.lastTouch >= stableMs) {
        s.open = false;
        s.handedOff += 1;
        out.push(key);
      }
    }
    return out;
  }

  /** True when the series was handed off before and must be re-run (late instances). */
  isRerun(seriesKey: string): boolean {
    return (this.series.get(seriesKey)?.handedOff ?? 0) > 1;
  }

  /** Number of hand-offs so far (1 for the first run, 2 after one re-open, ...). */
  handOffs(seriesKey: string): number {
    return this.series.get(seriesKey)?.handedOff ?? 0;
  }

  /** Series still waiting for their quiet period. */
  pending(): string[] {
    return [...this.series].filter(([, s]) => s.open).map(([k]) => k);
  }

  /** Forgets a series (after retention removes it); a later instance starts it afresh. */
  forget(seriesKey: string): void {
    this.series.delete(seriesKey);
  }
}
