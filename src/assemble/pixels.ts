// Pixel data of a stack: stored values (bit-exact, for copying source slices into the derived
// series) and rescaled float volumes (for interpolation). Uncompressed little-endian only; a
// later issue adds codecs. Typed-array views assume a little-endian host (x86, ARM).
import { sliceRescale } from '../core/rescale.js';
import type { InstanceMeta, SliceRef, Stack, VolumeF32 } from '../core/types.js';
import { readPart10, TransferSyntax } from '../dicom/dcmjs.js';
import { decodeFrames, isCompressedSupported } from './decode.js';

export type RawPixels = Int16Array | Uint16Array | Uint8Array;

const UNCOMPRESSED = new Set<string>([TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian]);

function checkReadable(inst: InstanceMeta): void {
  if (!UNCOMPRESSED.has(inst.transferSyntaxUid) && !isCompressedSupported(inst.transferSyntaxUid)) {
    throw new Error(
      `${inst.path}: transfer syntax ${inst.transferSyntaxUid || '(none)'} is not supported (Implicit/Explicit VR Little Endian, or lossless JPEG, JPEG-LS, JPEG 2000, RLE)`,
    );
  }
  if (inst.samplesPerPixel !== 1) {
    throw new Error(`${inst.path}: SamplesPerPixel ${inst.samplesPerPixel} is not supported (monochrome only)`);
  }
  if (inst.bitsAllocated !== 8 && inst.bitsAllocated !== 16) {
    throw new Error(`${inst.path}: BitsAllocated ${inst.bitsAllocated} is not supported (8 or 16)`);
  }
}

/** Reads a file's Pixel Data once (the caller takes the frames it needs, then drops it).
 * Compressed data is decoded (only the `frames` asked for; the others stay zero). */
async function readPixelBytes(inst: InstanceMeta, frames?: number[]): Promise<Uint8Array> {
  checkReadable(inst);
  const { dataset } = await readPart10(inst.path);
  const pd: unknown = dataset.PixelData;
  if (isCompressedSupported(inst.transferSyntaxUid)) {
    if (!Array.isArray(pd) || !pd.every((f) => f instanceof ArrayBuffer)) throw new Error(`${inst.path}: no encapsulated PixelData found`);
    return decodeFrames(inst, pd as ArrayBuffer[], frames);
  }
  const buf = Array.isArray(pd) ? pd[0] : pd;
  if (!(buf instanceof ArrayBuffer)) throw new Error(`${inst.path}: no native PixelData found`);
  return new Uint8Array(buf);
}

function frameBytes(inst: InstanceMeta): number {
  return inst.rows * inst.columns * (inst.bitsAllocated / 8);
}

/** Stored values of one frame, copied out of the file's pixel bytes. */
function rawFrame(inst: InstanceMeta, bytes: Uint8Array, frame: number): RawPixels {
  const size = frameBytes(inst);
  const start = frame * size;
  if (frame < 0 || frame >= inst.numberOfFrames || start + size > bytes.byteLength) {
    throw new Error(`${inst.path}: PixelData too short for frame ${frame + 1} of ${inst.numberOfFrames}`);
  }
  const copy = bytes.slice(start, start + size); // own, aligned buffer
  if (inst.bitsAllocated === 8) return copy;
  return inst.pixelRepresentation === 1 ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
}

/** Stored values of one slice exactly as in the file (no masking): copying them back gives a
 * bit-exact source slice. 8-bit data comes back as bytes whatever its PixelRepresentation. */
export async function loadRawSlice(slice: SliceRef): Promise<RawPixels> {
  return rawFrame(slice.instance, await readPixelBytes(slice.instance, [slice.frame]), slice.frame);
}

/** Pixel value of the stored bits: masked to BitsStored and sign-extended when signed, so stray
 * bits above HighBit (overlays in old data) do not leak into values. */
function storedValueDecoder(inst: InstanceMeta): (raw: number) => number {
  const bits = inst.bitsStored;
  if (bits >= inst.bitsAllocated) {
    if (inst.pixelRepresentation === 1 && inst.bitsAllocated === 8) return (v) => (v & 0x80 ? v - 0x100 : v);
    return (v) => v; // Int16Array / Uint16Array already give the value
  }
  const mask = (1 << bits) - 1;
  const sign = 1 << (bits - 1);
  if (inst.pixelRepresentation === 1) {
    return (v) => {
      const m = v & mask;
      return m & sign ? m - (1 << bits) : m;
    };
  }
  return (v) => v & mask;
}

function rescaled(slice: SliceRef, raw: RawPixels): Float32Array {
  const { rescaleSlope: slope, rescaleIntercept: intercept } = sliceRescale(slice);
  const decode = storedValueDecoder(slice.instance);
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = decode(raw[i]) * slope + intercept;
  return out;
}

/** Slices of one volume of a stack (multi-volume stacks hold their volumes one after another). */
export function volumeSlices(stack: Stack, volume = 0): SliceRef[] {
  const per = stack.slices.length / Math.max(1, stack.volumes);
  if (!Number.isInteger(per) || volume < 0 || volume >= stack.volumes) {
    throw new Error(`stack ${stack.id}: no volume ${volume} (${stack.volumes} volumes of ${stack.slices.length} slices)`);
  }
  return stack.slices.slice(volume * per, (volume + 1) * per);
}

/** Rescaled (modality value) float volume of one volume of a stack, in stack order. Each file
 * is read once, one file at a time. */
export async function loadStackVolume(stack: Stack, volume = 0): Promise<VolumeF32> {
  if (stack.flags.notImage) throw new Error(`stack ${stack.id} has no image geometry; nothing to load`);
  const slices = volumeSlices(stack, volume);
  for (const s of slices) checkReadable(s.instance);
  const out: Float32Array[] = new Array(slices.length);
  const byPath = new Map<string, number[]>();
  slices.forEach((s, i) => byPath.set(s.instance.path, [...(byPath.get(s.instance.path) ?? []), i]));
  for (const [, indices] of byPath) {
    const bytes = await readPixelBytes(slices[indices[0]].instance, indices.map((i) => slices[i].frame));
    for (const i of indices) {
      const s = slices[i];
      if (s.instance.rows !== stack.rows || s.instance.columns !== stack.columns) {
        throw new Error(`${s.instance.path}: ${s.instance.rows}x${s.instance.columns} does not match the stack's ${stack.rows}x${stack.columns}`);
      }
      out[i] = rescaled(s, rawFrame(s.instance, bytes, s.frame));
    }
  }
  return { rows: stack.rows, columns: stack.columns, slices: out, distances: slices.map((s) => s.distance) };
}
