// The one typed wrapper around dcmjs (which ships no type declarations). Everything else in
// the node imports DICOM parsing and writing from here, so the untyped surface stays small.
import { createHash, randomUUID } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
// @ts-ignore: dcmjs has no type declarations; this module is the typed boundary.
import dcmjsModule from 'dcmjs';
import { asciiCompatible, decodeText, findCharsetElements, unknownTerms } from './charset.js';
import { fileMetaValues, hasPart10Prefix, metaGroupEnd, metaGroupLength } from './header-reader.js';

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
    ValueRepresentation: {
      createByTypeString(vr: string): { applyFormatting(v: string): unknown; dropPadByte(v: string[]): string[] };
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
  KeyObjectSelectionDocumentStorage: '1.2.840.10008.5.1.4.1.1.88.59',
  Verification: '1.2.840.10008.1.1',
  StorageCommitmentPushModel: '1.2.840.10008.1.20.1',
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
  const { buffer, charsets } = withoutCharsets(buf, opts.lenient ?? false);
  const dict = dcmjs.data.DicomMessage.readFile(buffer, options);
  if (charsets) redecodeText(dict.dict, '', undefined, charsets);
  const reachedPixelData = '7FE00010' in dict.dict;
  const meta = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta);
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  if (opts.headerOnly) delete dataset.PixelData;
  return { parsed: { meta, dataset, transferSyntaxUid: String(meta.TransferSyntaxUID ?? '') }, reachedPixelData };
}

// Character sets. dcmjs decodes text with one TextDecoder per stream: it refuses several
// character sets (ISO 2022 code extensions: Japanese, Korean, ...) and sets it knows not,
// cannot switch sets within a value, and reads sequence items in windows-1252 whatever the
// dataset says. So when a dataset declares any character set, dcmjs reads a copy of it whose
// (0008,0005) values (in items too) are blanked in place: everything comes out in windows-1252,
// which maps each byte to its own character, and each text value is decoded again from those
// bytes by charset.ts, in the character set in scope (an item's own, else its dataset's).
// SpecificCharacterSet reads 'ISO_IR 192' as dcmjs reports it elsewhere: the strings are
// Unicode, and dcmjs writes them as UTF-8.

/** VRs whose values a character set decodes (PS3.5 6.1.2.3). */
const TEXT_VRS = new Set(['PN', 'LO', 'SH', 'ST', 'LT', 'UT', 'UC']);
/** dcmjs's readers do not split these at backslashes (its DicomMessage singleVRs). */
const UNSPLIT_TEXT_VRS = new Set(['LT']);

/** Each character of dcmjs's default decoder (WHATWG 'latin1', i.e. windows-1252) back to its byte. */
const WINDOWS_1252_BYTES: Map<number, number> = (() => {
  const text = new TextDecoder('latin1').decode(Uint8Array.from({ length: 256 }, (_, i) => i));
  const m = new Map<number, number>();
  for (let i = 0; i < 256; i++) m.set(text.charCodeAt(i), i);
  if (m.size !== 256) throw new Error('windows-1252 decoder is not one-to-one');
  return m;
})();

function windows1252Bytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = WINDOWS_1252_BYTES.get(s.charCodeAt(i));
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}

const TAG_0008_0005 = { le: Buffer.from([0x08, 0x00, 0x05, 0x00]), be: Buffer.from([0x00, 0x08, 0x00, 0x05]) };

/**
 * The buffer dcmjs reads: the input as it is when no character set other than the default is
 * declared anywhere, else a copy with every (0008,0005) value blanked, and the terms each one
 * declared by path (see findCharsetElements).
 */
function withoutCharsets(buf: Buffer | ArrayBuffer | Uint8Array, lenient: boolean): { buffer: ArrayBuffer; charsets?: Map<string, string[]> } {
  const buffer = toArrayBuffer(buf);
  const bytes = Buffer.from(buffer);
  if (!hasPart10Prefix(bytes)) return { buffer };
  // The file meta group: by its group length when it starts with one, else element by element.
  const withLength = metaGroupLength(bytes) !== undefined;
  const metaEnd = metaGroupEnd(bytes);
  if (metaEnd > bytes.length) return { buffer };
  const ts = fileMetaValues(bytes.subarray(withLength ? 144 : 132, metaEnd))[0x0010];
  const deflated = ts === TransferSyntax.DeflatedExplicitVRLittleEndian;
  let data: Buffer = bytes.subarray(metaEnd);
  if (deflated) {
    try {
      data = inflateRawSync(data);
    } catch {
      return { buffer }; // dcmjs says what is wrong
    }
  }
  if (data.indexOf(TAG_0008_0005.le) < 0 && data.indexOf(TAG_0008_0005.be) < 0) return { buffer };
  const found = findCharsetElements(data, ts !== TransferSyntax.ImplicitVRLittleEndian, ts !== TransferSyntax.ExplicitVRBigEndian, (tag) => dictionaryEntry(tag)?.vr);
  if (!found.some((f) => f.terms.some((t) => t !== ''))) return { buffer };
  // A term that names no character set (not in PS3.3 C.12.1.1.2): unreadable, as dcmjs says,
  // unless lenient (then bytes above 0x7F read as ISO 8859-1).
  const unknown = lenient ? [] : found.flatMap((f) => unknownTerms(f.terms));
  if (unknown.length) throw new Error(`Unsupported character set: ${unknown[0]}`);
  const charsets = new Map(found.map((f) => [f.path, f.terms]));
  if (deflated) {
    for (const f of found) data.fill(0x20, f.offset, f.offset + f.length);
    return { buffer: toArrayBuffer(Buffer.concat([bytes.subarray(0, metaEnd), deflateRawSync(data)])), charsets };
  }
  // Our own copy to blank (toArrayBuffer copies a Buffer, but returns an ArrayBuffer argument itself).
  const own = buffer === buf ? buffer.slice(0) : buffer;
  for (const f of found) new Uint8Array(own, metaEnd + f.offset, f.length).fill(0x20);
  return { buffer: own, charsets };
}

interface DcmjsElement {
  vr: string;
  Value?: unknown[];
  _rawValue?: unknown;
}

/** Text values of a dcmjs dict (read in windows-1252) decoded again in their character set. */
function redecodeText(dict: Record<string, unknown>, path: string, inherited: string[] | undefined, charsets: Map<string, string[]>): void {
  const terms = charsets.get(path) ?? inherited;
  for (const [tag, value] of Object.entries(dict)) {
    const el = value as DcmjsElement;
    if (el.vr === 'SQ') {
      (el.Value ?? []).forEach((item, i) => redecodeText(item as Record<string, unknown>, `${path}${tag}.${i}/`, terms, charsets));
      continue;
    }
    if (!terms || !TEXT_VRS.has(el.vr) || el._rawValue === undefined || el._rawValue === null) continue;
    const raw = Array.isArray(el._rawValue) ? el._rawValue.join('\\') : String(el._rawValue);
    // ASCII without escapes reads the same in every set whose G0 is ASCII: nothing to redo.
    if (asciiCompatible(terms) && !/[^\x00-\x1a\x1c-\x7f]/.test(raw)) continue;
    const bytes = windows1252Bytes(raw);
    if (!bytes) continue;
    const text = decodeText(bytes, terms, el.vr);
    // As dcmjs's own reader shapes a value it decoded (DicomMessage._readTag).
    const vr = dcmjs.data.ValueRepresentation.createByTypeString(el.vr);
    const formatted = vr.applyFormatting(text);
    if (UNSPLIT_TEXT_VRS.has(el.vr)) {
      el._rawValue = [text];
      el.Value = [formatted];
    } else if (typeof formatted === 'string') {
      el._rawValue = vr.dropPadByte(text.split('\\'));
      el.Value = vr.dropPadByte(formatted.split('\\'));
    } else {
      el._rawValue = text;
      el.Value = formatted as unknown[];
    }
  }
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
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(declaredUtf8(dataset));
  return Buffer.from(dict.write({ allowInvalidVRLength: false }));
}

/**
 * dcmjs writes every string as UTF-8: a dataset with text beyond ASCII and no character set
 * (read from a file that declared none and used bytes above 0x7F anyway) says ISO_IR 192.
 */
function declaredUtf8(dataset: NaturalDataset): NaturalDataset {
  if (dataset.SpecificCharacterSet !== undefined && dataset.SpecificCharacterSet !== '') return dataset;
  const beyondAscii = (v: unknown): boolean => {
    if (typeof v === 'string') return /[^\x00-\x7f]/.test(v);
    if (Array.isArray(v)) return v.some(beyondAscii);
    if (v && typeof v === 'object' && !(v instanceof ArrayBuffer) && !ArrayBuffer.isView(v)) return Object.values(v).some(beyondAscii);
    return false;
  };
  return beyondAscii(dataset) ? { ...dataset, SpecificCharacterSet: 'ISO_IR 192' } : dataset;
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
