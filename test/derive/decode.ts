// Real-world values of a written derived slice, read the way a viewer would: the stored
// values of its own BitsStored and PixelRepresentation, times its own RescaleSlope plus its own
// RescaleIntercept (1 and 0 when absent). Independent of src/derive/stored-values.
import { asArray, num, type NaturalDataset } from '../../src/dicom/dcmjs.js';

export function storedValues(ds: NaturalDataset): Int32Array {
  const bytes = new Uint8Array((asArray(ds.PixelData)[0] as ArrayBuffer).slice(0));
  const bits = num(ds.BitsStored)!;
  const signed = num(ds.PixelRepresentation) === 1;
  const words = num(ds.BitsAllocated) === 16 ? new Uint16Array(bytes.buffer) : bytes;
  const out = new Int32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const m = words[i] % 2 ** bits;
    out[i] = signed && m >= 2 ** (bits - 1) ? m - 2 ** bits : m;
  }
  return out;
}

export function rescaleOf(ds: NaturalDataset): { slope: number; intercept: number } {
  return { slope: num(ds.RescaleSlope) ?? 1, intercept: num(ds.RescaleIntercept) ?? 0 };
}

export function realWorldValues(ds: NaturalDataset): Float64Array {
  const { slope, intercept } = rescaleOf(ds);
  return Float64Array.from(storedValues(ds), (v) => v * slope + intercept);
}
