// Float rescaled (modality) values back to the stored pixel type of the source series.
// Only synthesised slices go through here; source slices are written from their own stored
// pixels so they stay bit-exact.

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
    let r = s >= 0 ? Math.floor(s + 0.5) : -Math.floor(-s + 0.5);
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
