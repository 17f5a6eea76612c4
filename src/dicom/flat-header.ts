// A fast reader for the simple headers the receive path hands to the InstanceMeta parsers (the
// few top-level attributes they read, picked out of a received dataset): flat, little endian,
// standard attributes of plain string and number VRs. For these, a dcmjs parse costs ~0.4 ms
// per instance, most of it set-up; this reads them in a few microseconds. Anything else (a
// sequence, a private or unknown tag, a binary VR, a non-ASCII string that a character set
// would have to decode) returns undefined, and the caller parses with dcmjs as before. Values
// take dcmjs's naturalized shapes (one value bare, several in an array, numbers for DS/IS/binary).
import { asciiCompatible } from './charset.js';
import { dictionaryEntry, parsePart10, TransferSyntax, type NaturalDataset, type ParsedDicom } from './dcmjs.js';
import { fileMetaValues, HeaderTruncated, hasPart10Prefix, metaGroupLength, PIXEL_DATA, readElementHeader } from './header-reader.js';

const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DT', 'LO', 'SH', 'TM', 'UI']);
const TEXT_NUMBER_VRS = new Set(['DS', 'IS']);
const BINARY: Record<string, [number, (b: Buffer, at: number) => number]> = {
  US: [2, (b, at) => b.readUInt16LE(at)],
  SS: [2, (b, at) => b.readInt16LE(at)],
  UL: [4, (b, at) => b.readUInt32LE(at)],
  SL: [4, (b, at) => b.readInt32LE(at)],
  FL: [4, (b, at) => b.readFloatLE(at)],
  FD: [8, (b, at) => b.readDoubleLE(at)],
};

/** One element's value in dcmjs's naturalized form, or undefined when this reader declines. */
function value(vr: string, b: Buffer): unknown[] | undefined {
  if (STRING_VRS.has(vr) || TEXT_NUMBER_VRS.has(vr)) {
    // Bytes a character set would decode: 8-bit, or ISO 2022 escapes (7-bit kanji and the like).
    for (const byte of b) if (byte >= 0x80 || byte === 0x1b) return undefined;
    if (b.length === 0) return [];
    const parts = b.toString('latin1').replace(/[\0 ]+$/, '').split('\\');
    if (!TEXT_NUMBER_VRS.has(vr)) return parts.map((p) => (vr === 'UI' ? p.replace(/\0+$/, '') : p.trim()));
    const out = parts.map((p) => Number(p.trim()));
    return out.every((n, i) => Number.isFinite(n) && parts[i].trim() !== '') ? out : undefined;
  }
  const bin = BINARY[vr];
  if (!bin || b.length % bin[0] !== 0) return undefined;
  const out: number[] = [];
  for (let at = 0; at < b.length; at += bin[0]) out.push(bin[1](b, at));
  return out;
}

/** Elements from `at` to the end (or to Pixel Data) into `into`; false to decline. */
function readElements(buf: Buffer, at: number, explicit: boolean, into: NaturalDataset): boolean {
  while (at < buf.length) {
    let h;
    try {
      h = readElementHeader(buf, at, explicit);
    } catch (e) {
      // Pixel Data ends the header even when its own header is cut; other long forms decline.
      if (e instanceof HeaderTruncated) return e.tag === PIXEL_DATA;
      throw e;
    }
    if (h.tag === PIXEL_DATA) return true; // header only
    if (h.group % 2 === 1) return false;
    const entry = dictionaryEntry(h.tag);
    if (!entry) return false;
    const vr = explicit ? h.vr : entry.vr;
    if (explicit && !STRING_VRS.has(vr) && !TEXT_NUMBER_VRS.has(vr) && !BINARY[vr]) return false; // long-form VRs among them
    const len = h.length;
    at += 8;
    if (at + len > buf.length) return false;
    const v = value(vr, buf.subarray(at, at + len));
    if (!v) return false;
    if (entry.name === 'SpecificCharacterSet') {
      // Several character sets (code extensions) and those whose G0 is not ASCII (JIS X 0201
      // Romaji: 0x5C and 0x7E are other characters) are left to the dcmjs path and charset.ts;
      // any other is reported as the UTF-8 that path reports too.
      if (v.length > 1 || !asciiCompatible(v.map(String))) return false;
      v.splice(0, 1, 'ISO_IR 192');
    }
    into[entry.name] = v.length === 1 ? v[0] : v;
    at += len;
  }
  return true;
}

/** A Part-10 header (file meta, then dataset up to Pixel Data), or undefined to use dcmjs. */
export function parseFlatHeader(buf: Buffer): ParsedDicom | undefined {
  if (!hasPart10Prefix(buf)) return undefined;
  // The file meta group, found by its group length (0002,0000), read for its Transfer Syntax.
  const groupLength = metaGroupLength(buf);
  if (groupLength === undefined) return undefined;
  const at = 144 + groupLength;
  if (at > buf.length) return undefined;
  const ts = fileMetaValues(buf.subarray(144, at))[0x0010];
  if (ts !== TransferSyntax.ExplicitVRLittleEndian && ts !== TransferSyntax.ImplicitVRLittleEndian) return undefined;
  const dataset: NaturalDataset = {};
  if (!readElements(buf, at, ts === TransferSyntax.ExplicitVRLittleEndian, dataset)) return undefined;
  return { meta: { TransferSyntaxUID: ts }, dataset, transferSyntaxUid: ts };
}

/**
 * A Part-10 head (file meta, then dataset up to Pixel Data) parsed: by parseFlatHeader when it
 * can, else by dcmjs (header only; `lenient` as dcmjs's ignoreErrors). Throws what dcmjs throws.
 */
export function parseHeader(part10Header: Buffer, lenient = false): ParsedDicom {
  return parseFlatHeader(part10Header) ?? parsePart10(part10Header, { headerOnly: true, lenient });
}
