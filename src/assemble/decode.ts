// Decoding of compressed Pixel Data with dcmjs-codecs (WebAssembly builds of CharLS, OpenJPEG,
// libjpeg-turbo/ljpeg and an RLE codec): only lossless syntaxes are accepted, so interpolation
// and the bit-exact copy of source slices see the scanner's values.
import { createRequire } from 'node:module';
import type { InstanceMeta } from '../core/types.js';

const require = createRequire(import.meta.url);
// The package is a UMD bundle; require gives its real exports (types from its index.d.ts).
const dcmjsCodecs = require('dcmjs-codecs') as typeof import('dcmjs-codecs');
const { Context, NativeCodecs } = dcmjsCodecs;

/** Lossless compressed transfer syntaxes we accept and decode, with the codec for each. */
export const LOSSLESS_COMPRESSED: Record<string, 'jpeg' | 'jpegls' | 'j2k' | 'rle'> = {
  '1.2.840.10008.1.2.4.57': 'jpeg', // JPEG Lossless, Non-Hierarchical (Process 14)
  '1.2.840.10008.1.2.4.70': 'jpeg', // JPEG Lossless, first-order prediction (Process 14 SV1)
  '1.2.840.10008.1.2.4.80': 'jpegls', // JPEG-LS Lossless
  '1.2.840.10008.1.2.4.90': 'j2k', // JPEG 2000 (Lossless Only)
  '1.2.840.10008.1.2.5': 'rle', // RLE Lossless
};

/** Largest decoded instance we allocate (a hostile header cannot ask for more). */
const MAX_DECODED_BYTES = 1024 * 1024 * 1024;

let ready: Promise<void> | undefined;

function ensureCodecs(): Promise<void> {
  ready ??= NativeCodecs.initializeAsync({ webAssemblyModulePathOrUrl: require.resolve('dcmjs-codecs/build/dcmjs-native-codecs.wasm') });
  return ready;
}

export function isCompressedSupported(ts: string): boolean {
  return ts in LOSSLESS_COMPRESSED;
}

/**
 * Decodes the wanted frames of an instance's encapsulated Pixel Data (one buffer per frame, as
 * dcmjs hands them over) into one native buffer of all frames; frames not wanted stay zero.
 */
export async function decodeFrames(inst: InstanceMeta, encoded: ArrayBuffer[], wanted?: number[]): Promise<Uint8Array> {
  const codec = LOSSLESS_COMPRESSED[inst.transferSyntaxUid];
  if (!codec) throw new Error(`${inst.path}: transfer syntax ${inst.transferSyntaxUid} cannot be decoded`);
  const frameSize = inst.rows * inst.columns * (inst.bitsAllocated / 8) * inst.samplesPerPixel;
  const total = frameSize * inst.numberOfFrames;
  if (!(frameSize > 0) || total > MAX_DECODED_BYTES) throw new Error(`${inst.path}: decoded size ${total} bytes is out of bounds`);
  if (encoded.length < inst.numberOfFrames) throw new Error(`${inst.path}: ${encoded.length} encoded frames for ${inst.numberOfFrames} declared`);
  await ensureCodecs();
  const out = new Uint8Array(total);
  for (const f of wanted ?? [...Array(inst.numberOfFrames).keys()]) {
    const ctx = new Context({
      width: inst.columns,
      height: inst.rows,
      bitsAllocated: inst.bitsAllocated,
      bitsStored: inst.bitsStored,
      samplesPerPixel: inst.samplesPerPixel,
      pixelRepresentation: inst.pixelRepresentation,
      photometricInterpretation: inst.photometricInterpretation ?? 'MONOCHROME2',
      encodedBuffer: new Uint8Array(encoded[f]),
    });
    const decoded =
      codec === 'jpeg' ? NativeCodecs.decodeJpeg(ctx) : codec === 'jpegls' ? NativeCodecs.decodeJpegLs(ctx) : codec === 'j2k' ? NativeCodecs.decodeJpeg2000(ctx) : NativeCodecs.decodeRle(ctx);
    const bytes = decoded.getDecodedBuffer();
    if (!bytes || bytes.byteLength < frameSize) throw new Error(`${inst.path}: frame ${f + 1} decoded to ${bytes?.byteLength ?? 0} bytes, expected ${frameSize}`);
    out.set(bytes.subarray(0, frameSize), f * frameSize);
  }
  return out;
}
