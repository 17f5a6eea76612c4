// A new SeriesNumber for each derived series that no series of the study already uses: the
// source's number + 1000, or the next free number above it. The MANIFEST's Siemens study holds
// source series 18001 and 19001, so "+1000" alone would give the ASL's derived series the
// number of another acquisition; several stacks of one series (field map echoes) each need
// their own number too.
import { SERIES_NUMBER_OFFSET } from '../derive/tags.js';

export function pickSeriesNumber(sourceSeriesNumber: number | undefined, used: Set<number>): number {
  let n = (sourceSeriesNumber ?? 0) + SERIES_NUMBER_OFFSET;
  while (used.has(n)) n++;
  used.add(n);
  return n;
}
