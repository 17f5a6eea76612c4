// A new SeriesNumber for each derived series that no series of the study uses, now or later.
// The study's series may arrive in any order, so "+1000" (what this node did first) met acquired
// series that arrived after it: the MANIFEST's Siemens study holds 18001 and 19001, and the
// ASL's derived 19001 collided with the acquisition that came next. Derived numbers are the
// source's x 100 + 1, 2, ... instead (Philips numbers reconstructions the same way: 1901 is
// acquisition 19, reconstruction 1), far above any acquisition's number; the study's registry
// and spool are checked too, and a collision found later renumbers the derived series
// (derive-stack.ts). Where x 100 would overflow IS (2^31 - 1), the source's + 1000 is used.
const MAX_IS = 2 ** 31 - 1;
export const SERIES_NUMBER_FACTOR = 100;

export function pickSeriesNumber(sourceSeriesNumber: number | undefined, used: Set<number>): number {
  const source = Math.max(0, Math.trunc(sourceSeriesNumber ?? 0));
  let n = source * SERIES_NUMBER_FACTOR + SERIES_NUMBER_FACTOR < MAX_IS ? source * SERIES_NUMBER_FACTOR + 1 : source + 1000;
  while (used.has(n) && n < MAX_IS) n++;
  used.add(n);
  return n;
}
