// Float rescaled (modality) values back to a stored pixel type. Only synthesised slices go
// through here; source slices are written from their own stored pixels (and rescale) so they
// stay bit-exact. chooseStoredFormat picks, per slice, a format that holds all its values, so
// toStoredValues' clipping is a last guard that never fires on what the writer gives it.

export interface StoredPixelFormat {
  bitsAllocated: number;
  bitsStored: number;
  /** 0 unsigned, 1 two's complement. */
  pixelRepresentation: number;
  rescaleSlope: number;
  rescaleIntercept: number;
}

export type StoredArray = Uint8Array | Int8Array | Uint16Array | Int16Array;

/** The inclusive range of stored values that BitsStored and PixelRepresentation allow. */
export function storedRange(fmt: Pick<StoredPixelFormat, 'bitsStored' | 'pixelRepresentation'>): [number, number] {
  const bits = fmt.bitsStored;
  if (!(bits >= 1 && bits <= 16)) throw new Error(`BitsStored ${bits} not supported (1..16)`);
  return fmt.pixelRepresentation === 1 ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
}

const roundHalfAway = (s: number) => (s >= 0 ? Math.floor(s + 0.5) : -Math.floor(-s + 0.5));

/** (value - intercept) / slope, rounded half away from zero, clipped to the stored range. */
export function toStoredValues(values: Float32Array, fmt: StoredPixelFormat): StoredArray {
  const [lo, hi] = storedRange(fmt);
  // A slope of 0 (or absent) cannot be inverted; DICOM means 1 in practice.
  const slope = fmt.rescaleSlope && Number.isFinite(fmt.rescaleSlope) ? fmt.rescaleSlope : 1;
  const intercept = Number.isFinite(fmt.rescaleIntercept) ? fmt.rescaleIntercept : 0;
  const out = allocate(values.length, fmt);
  const inv = 1 / slope;
  for (let i = 0; i < values.length; i++) {
    const s = (values[i] - intercept) * inv;
    let r = roundHalfAway(s);
    if (!(r >= lo)) r = lo; // also maps NaN to the low end
    else if (r > hi) r = hi;
    out[i] = r;
  }
  return out;
}

function allocate(length: number, fmt: StoredPixelFormat): StoredArray {
  const signed = fmt.pixelRepresentation === 1;
  if (fmt.bitsAllocated === 16) return signed ? new Int16Array(length) : new Uint16Array(length);
  if (fmt.bitsAllocated === 8) return signed ? new Int8Array(length) : new Uint8Array(length);
  throw new Error(`BitsAllocated ${fmt.bitsAllocated} not supported (8 or 16)`);
}

/** Smallest and largest finite value (both NaN when there is none). */
export function valueRange(values: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) continue; // NaN or an infinity
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return Number.isFinite(min) && Number.isFinite(max) ? { min, max } : { min: NaN, max: NaN };
}


/** True when every value in [min, max] rounds to a stored value `fmt` can hold (toStoredValues clips none). */
export function holdsRange(fmt: StoredPixelFormat, min: number, max: number): boolean {
  if (Number.isNaN(min) || Number.isNaN(max)) return true; // nothing finite to hold
  const [lo, hi] = storedRange(fmt);
  const a = storedOf(fmt, min);
  const b = storedOf(fmt, max);
  return Math.min(a, b) >= lo && Math.max(a, b) <= hi;
}

/** The stored value toStoredValues gives v in fmt, before clipping. */
function storedOf(fmt: StoredPixelFormat, v: number): number {
  const slope = fmt.rescaleSlope && Number.isFinite(fmt.rescaleSlope) ? fmt.rescaleSlope : 1;
  const intercept = Number.isFinite(fmt.rescaleIntercept) ? fmt.rescaleIntercept : 0;
  return roundHalfAway((v - intercept) * (1 / slope)); // exactly as toStoredValues computes it
}

/**
 * How a slice's stored format was chosen: `kept` the preferred one; `widened` its rescale with
 * BitsStored = BitsAllocated; `alternative` the rescale of one of the alternatives (e.g. a
 * neighbouring source slice's), at the preferred or the widened BitsStored; `new` a rescale
 * made for this slice.
 */
export type StoredFormatKind = 'kept' | 'widened' | 'alternative' | 'new';

export interface StoredFormatChoice {
  format: StoredPixelFormat & { highBit: number };
  kind: StoredFormatKind;
}

/**
 * The stored format that holds every value in [min, max] without clipping, in this order of
 * preference (the first that holds):
 *   1. `preferred` as it is (the series' own format: nothing changes);
 *   2. the same rescale with BitsStored widened to BitsAllocated (HighBit = BitsStored - 1):
 *      the classic MR IOD allows this and no Rescale attribute has to be added or changed;
 *   3. each of `alternatives`' rescale (same BitsAllocated and PixelRepresentation), at the
 *      preferred, then the widened BitsStored;
 *   4. a new rescale at the widened BitsStored: slope k x the preferred slope (k the smallest
 *      whole number that makes the range fit) and intercept the preferred intercept plus a
 *      whole number of preferred slopes, so the new grid of real-world values is a subset of
 *      the preferred one's and no value moves further than half a new step.
 * PixelRepresentation never changes (readers take it from the first instance of a series).
 * Pure; `min` and `max` are real-world (rescaled) values.
 */
export function chooseStoredFormat(
  min: number,
  max: number,
  preferred: StoredPixelFormat & { highBit?: number },
  alternatives: Array<Pick<StoredPixelFormat, 'rescaleSlope' | 'rescaleIntercept'>> = [],
): StoredFormatChoice {
  const base = { ...preferred, highBit: preferred.highBit ?? preferred.bitsStored - 1 };
  const widened = { ...base, bitsStored: base.bitsAllocated, highBit: base.bitsAllocated - 1 };
  if (holdsRange(base, min, max)) return { format: base, kind: 'kept' };
  if (holdsRange(widened, min, max)) return { format: widened, kind: 'widened' };
  for (const alt of alternatives) {
    for (const f of [base, widened]) {
      const candidate = { ...f, rescaleSlope: alt.rescaleSlope, rescaleIntercept: alt.rescaleIntercept };
      if (alt.rescaleSlope && Number.isFinite(alt.rescaleSlope) && holdsRange(candidate, min, max)) return { format: candidate, kind: 'alternative' };
    }
  }
  const [lo, hi] = storedRange(widened);
  const m0 = Math.abs(base.rescaleSlope && Number.isFinite(base.rescaleSlope) ? base.rescaleSlope : 1);
  const b0 = Number.isFinite(base.rescaleIntercept) ? base.rescaleIntercept : 0;
  // Ten significant digits: the values fit a DS and read back as the very numbers used here.
  const tidy = (x: number) => Number(x.toPrecision(10));
  for (let k = Math.max(1, Math.ceil((max - min) / (m0 * (hi - lo - 1)))); ; k++) {
    const slope = tidy(k * m0);
    const intercept = tidy(b0 + m0 * Math.floor((min - lo * slope - b0) / m0));
    const candidate = { ...widened, rescaleSlope: slope, rescaleIntercept: intercept };
    if (holdsRange(candidate, min, max)) return { format: candidate, kind: 'new' };
    if (k > 1e12) throw new Error(`no rescale holds values from ${min} to ${max}`);
  }
}

/**
 * The stored format of a whole derived series, before chooseStoredFormat picks per slice.
 * `preferred` (the source series' format) when it holds [min, max] (over all synthesised
 * slices); else, when the values go below what an unsigned `preferred` can hold and its
 * BitsStored is less than BitsAllocated, the same rescale as signed at BitsStored =
 * BitsAllocated: every source stored value is the same number there (so source pixels stay
 * bit-exact), and negative values need no Rescale attribute, which the classic MR IOD does not
 * have. One series, one PixelRepresentation: readers take it from the first instance.
 */
export function seriesStoredFormat(min: number, max: number, preferred: StoredPixelFormat & { highBit?: number }): StoredPixelFormat & { highBit: number } {
  const base = { ...preferred, highBit: preferred.highBit ?? preferred.bitsStored - 1 };
  if (holdsRange(base, min, max)) return base;
  const signed = { ...base, pixelRepresentation: 1, bitsStored: base.bitsAllocated, highBit: base.bitsAllocated - 1 };
  const below = storedOf(base, min) < storedRange(base)[0];
  if (base.pixelRepresentation === 0 && base.bitsStored < base.bitsAllocated && below) return signed;
  return base;
}
