// The one typed wrapper around dcmjs (which ships no type declarations). Everything else in
// the node imports DICOM parsing and writing from here, so the untyped surface stays small.
import { createHash, randomUUID } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
// @ts-ignore: dcmjs has no type declarations; this module is the typed boundary.
import dcmjsModule from 'dcmjs';

/** A naturalized dataset: keyword -> value (strings, numbers, arrays, nested sequences). */
export type NaturalDataset = Record<string, any>;

interface DcmjsDicomDict {
  meta: Record<string, unknown>;
  dict: Record<string, unknown>;
  write(options?: Record<string, unknown>): ArrayBuffer;
}

interface DcmjsApi {
  data: {
    DicomMessage: {
      readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DcmjsDicomDict;
    };
    DicomDict: new (meta: Record<string, unknown>) => DcmjsDicomDict;
    DicomMetaDictionary: {
      naturalizeDataset(dict: Record<string, unknown>): NaturalDataset;
      denaturalizeDataset(ds: NaturalDataset): Record<string, unknown>;
      uid(): string;
      nameMap: Record<string, { tag: string } | undefined>;
      dictionary: Record<string, { name: string; vr: string } | undefined>;
    };
  };
  log: { setLevel?: (level: string) => void; level?: unknown; disableAll?: () => void };
}

const dcmjs = dcmjsModule as unknown as DcmjsApi;
// dcmjs logs warnings to the console by itself; our own logs say what matters.
try {
  dcmjs.log.disableAll?.();
} catch {
  /* older dcmjs without loglevel API */
}

export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
} as const;

export const SopClass = {
  MRImageStorage: '1.2.840.10008.5.1.4.1.1.4',
  EnhancedMRImageStorage: '1.2.840.10008.5.1.4.1.1.4.1',
  SecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7',
  Verification: '1.2.840.10008.1.1',
} as const;

/** Our UID root for things we make: 2.25 + a random UUID as a decimal integer (PS3.5 B.2). */
export function newUid(): string {
  const hex = randomUUID().replace(/-/g, '');
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

/**
 * A UID that is the same every time for the same key (2.25 + 128 bits of its SHA-256): a job
 * re-run after late instances rebuilds the same derived series and instances instead of a
 * second one.
 */
export function uidFromKey(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

export interface ParsedDicom {
  /** File meta information (group 0002), naturalized. */
  meta: NaturalDataset;
  /** The dataset, naturalized. */
  dataset: NaturalDataset;
  transferSyntaxUid: string;
}

export interface ParseOptions {
  /** Stop before Pixel Data: a fast header read for grouping. */
  headerOnly?: boolean;
  /** Keep going past recoverable errors (dcmjs' ignoreErrors). */
  lenient?: boolean;
}

function toArrayBuffer(buf: Buffer | ArrayBuffer | Uint8Array): ArrayBuffer {
  if (buf instanceof ArrayBuffer) return buf;
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** Parses a Part-10 file held in memory. Throws a plain Error on malformed input. */
export function parsePart10(buf: Buffer | ArrayBuffer | Uint8Array, opts: ParseOptions = {}): ParsedDicom {
  return parseDict(buf, opts).parsed;
}

function parseDict(buf: Buffer | ArrayBuffer | Uint8Array, opts: ParseOptions): { parsed: ParsedDicom; reachedPixelData: boolean } {
  const options: Record<string, unknown> = {
    ignoreErrors: opts.lenient ?? false,
    untilTag: opts.headerOnly ? '7FE00010' : null,
    includeUntilTagValue: false,
    noCopy: false,
  };
  const dict = dcmjs.data.DicomMessage.readFile(toArrayBuffer(buf), options);
  const reachedPixelData = '7FE00010' in dict.dict;
  const meta = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta);
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  if (opts.headerOnly) delete dataset.PixelData;
  return { parsed: { meta, dataset, transferSyntaxUid: String(meta.TransferSyntaxUID ?? '') }, reachedPixelData };
}

/**
 * Header reads look at the file's first 64 KB, then 256 KB, and only then the whole file: the
 * header is accepted only once the parse reached Pixel Data (dcmjs stops quietly at the end of
 * a short buffer, so a parse that ends early proves nothing). Saves reading and copying the
 * pixels of every received instance just to group it.
 */
const HEADER_PROBES = [65536, 262144];

export async function readPart10(path: string, opts: ParseOptions = {}): Promise<ParsedDicom> {
  if (opts.headerOnly) {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      for (const n of HEADER_PROBES) {
        if (n >= size) break;
        const chunk = Buffer.alloc(n);
        await fh.read(chunk, 0, n, 0);
        try {
          const { parsed, reachedPixelData } = parseDict(chunk, opts);
          if (reachedPixelData) return parsed;
        } catch {
          /* cut inside an element: read more */
        }
      }
    } finally {
      await fh.close();
    }
  }
  return parsePart10(await readFile(path), opts);
}

export interface WriteMeta {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid?: string;
  implementationClassUid?: string;
  implementationVersionName?: string;
  sourceAeTitle?: string;
}

/** Our implementation identity in file meta information (group 0002). */
export const IMPLEMENTATION_CLASS_UID = '2.25.246801357924680135792468013579246801';
export const IMPLEMENTATION_VERSION_NAME = 'INTERSLICE_01';

/** Serialises a naturalized dataset as a Part-10 file (Explicit VR Little Endian by default). */
export function writePart10(dataset: NaturalDataset, meta: WriteMeta): Buffer {
  const metaNatural: NaturalDataset = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: meta.sopClassUid,
    MediaStorageSOPInstanceUID: meta.sopInstanceUid,
    TransferSyntaxUID: meta.transferSyntaxUid ?? TransferSyntax.ExplicitVRLittleEndian,
    ImplementationClassUID: meta.implementationClassUid ?? IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: meta.implementationVersionName ?? IMPLEMENTATION_VERSION_NAME,
  };
  if (meta.sourceAeTitle) metaNatural.SourceApplicationEntityTitle = meta.sourceAeTitle;
  const denatMeta = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(metaNatural);
  const dict = new dcmjs.data.DicomDict(denatMeta);
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(dict.write({ allowInvalidVRLength: false }));
}

/**
 * The tags (group << 16 | element) of standard keywords, from dcmjs's data dictionary, plus
 * Specific Character Set, which decides how every string value is read. Throws on a keyword the
 * dictionary does not know (a typo would otherwise silently drop an attribute).
 */
export function tagsOfKeywords(keywords: readonly string[]): Set<number> {
  const out = new Set<number>([0x00080005]);
  for (const k of keywords) {
    const tag = dcmjs.data.DicomMetaDictionary.nameMap[k]?.tag; // "(gggg,eeee)"
    if (!tag || !/^\([0-9A-F]{4},[0-9A-F]{4}\)$/i.test(tag)) throw new Error(`unknown DICOM keyword ${k}`);
    out.add(parseInt(tag.slice(1, 5) + tag.slice(6, 10), 16));
  }
  return out;
}

const dictionaryEntries = new Map<number, { name: string; vr: string } | undefined>();
/** The data dictionary's keyword and VR for a standard tag (group << 16 | element). */
export function dictionaryEntry(tag: number): { name: string; vr: string } | undefined {
  // Remembered per tag: the receive path looks up the same few dozen tags for every instance.
  if (!dictionaryEntries.has(tag)) {
    const hex = tag.toString(16).toUpperCase().padStart(8, '0');
    const e = dcmjs.data.DicomMetaDictionary.dictionary[`(${hex.slice(0, 4)},${hex.slice(4)})`];
    dictionaryEntries.set(tag, e ? { name: e.name, vr: e.vr } : undefined);
  }
  return dictionaryEntries.get(tag);
}

/** Values that DICOM may hold as a single value or a multi-value array: always an array. */
export function asArray<T>(v: T | T[] | undefined | null): T[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** A numeric attribute (IS/DS may arrive as strings); undefined when absent or not a number. */
export function num(v: unknown): number | undefined {
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined || first === null || first === '') return undefined;
  const n = typeof first === 'number' ? first : Number(String(first).trim());
  return Number.isFinite(n) ? n : undefined;
}

/** A numeric multi-value attribute; undefined unless it has exactly `n` finite values. */
export function nums(v: unknown, n: number): number[] | undefined {
  const arr = asArray(v as unknown).flatMap((x) => (typeof x === 'string' ? x.split('\\') : [x]));
  if (arr.length !== n) return undefined;
  const out = arr.map((x) => (typeof x === 'number' ? x : Number(String(x).trim())));
  return out.every(Number.isFinite) ? out : undefined;
}

/** A string attribute, trimmed; undefined when absent. */
export function str(v: unknown): string | undefined {
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined || first === null) return undefined;
  if (typeof first === 'object') return undefined;
  const s = String(first).trim();
  return s === '' ? undefined : s;
}
