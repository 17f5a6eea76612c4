// Text of a dataset in any Specific Character Set (0008,0005): the defined terms of PS3.3
// C.12.1.1.2, single-byte and multi-byte, with and without ISO 2022 code extensions, decoded as
// PS3.5 6.1 describes. Pure: bytes and the character set's terms in, a string out.
//
// - Without code extensions (ISO_IR 100, ISO_IR 13, ...): G0 and G1 as the term defines them.
// - With code extensions (ISO 2022 IR ...): value 1 sets the initial G0 and G1; escape
//   sequences (PS3.3 tables C.12-3/C.12-4) designate another G0 or G1 within a value; the
//   initial sets come back at every delimiter (PS3.5 6.1.2.5.3): control characters (CR, LF,
//   FF, TAB), the backslash between values, and for PN the '^' and '=' between components.
// - ISO_IR 192 (UTF-8), GB18030 and GBK have no code extensions: one decoder for the value.
//
// Codecs are Node's TextDecoder (full ICU); where the WHATWG encodings differ from the ISO
// sets (its 'iso-8859-1' and 'latin1' are windows-1252), the tables below are built from the
// G1 half only, and C1 (0x80-0x9F) is identity as in ISO 8859.
import { HeaderTruncated, ITEM, ITEM_END, readElementHeader, SEQUENCE_END, UNDEFINED_LENGTH } from './header-reader.js';

type G0 = 'ascii' | 'roman' | 'jis0208' | 'jis0212';
type G1 = 'none' | 'katakana' | 'ksx1001' | 'gb2312' | { single: string };

interface TermSets {
  g0?: G0;
  g1?: G1;
  /** A decoder for the whole value (no code extensions). */
  whole?: string;
}

/** Single-byte sets (96 characters in G1) by ISO-IR number: the WHATWG label whose upper half matches. */
const SINGLE_BYTE: Record<number, string> = {
  100: 'iso-8859-1', // identity table below, not WHATWG's windows-1252
  101: 'iso-8859-2',
  109: 'iso-8859-3',
  110: 'iso-8859-4',
  144: 'iso-8859-5',
  127: 'iso-8859-6',
  126: 'iso-8859-7',
  138: 'iso-8859-8',
  148: 'iso-8859-9', // WHATWG windows-1254: the same A0-FF
  203: 'iso-8859-15',
  166: 'windows-874', // TIS 620-2533: the same A1-FB
};

/** Escape sequences (the bytes after ESC) and the set they designate (PS3.3 C.12-3, C.12-4). */
const ESCAPES: [number[], { g0?: G0; g1?: G1 }][] = [
  [[0x28, 0x42], { g0: 'ascii' }], // ESC ( B   ISO-IR 6
  [[0x28, 0x4a], { g0: 'roman' }], // ESC ( J   ISO-IR 14, JIS X 0201 Romaji
  [[0x29, 0x49], { g1: 'katakana' }], // ESC ) I   ISO-IR 13, JIS X 0201 Katakana
  [[0x24, 0x42], { g0: 'jis0208' }], // ESC $ B   ISO-IR 87, JIS X 0208
  [[0x24, 0x28, 0x44], { g0: 'jis0212' }], // ESC $ ( D   ISO-IR 159, JIS X 0212
  [[0x24, 0x29, 0x43], { g1: 'ksx1001' }], // ESC $ ) C   ISO-IR 149, KS X 1001
  [[0x24, 0x29, 0x41], { g1: 'gb2312' }], // ESC $ ) A   ISO-IR 58, GB 2312
  ...(
    [
      [0x41, 100], [0x42, 101], [0x43, 109], [0x44, 110], [0x4c, 144], [0x47, 127],
      [0x46, 126], [0x48, 138], [0x4d, 148], [0x62, 203], [0x54, 166],
    ] as const
  ).map(([f, ir]): [number[], { g1: G1 }] => [[0x2d, f], { g1: { single: SINGLE_BYTE[ir] } }]), // ESC - F
];

/** What one defined term designates; undefined for a term this module does not know. */
function termSets(term: string): TermSets | undefined {
  const t = term.trim().toUpperCase().replace(/[-_ ]+/g, ' ');
  if (t === '') return { g0: 'ascii' };
  if (t === 'GB18030') return { whole: 'gb18030' };
  if (t === 'GBK' || t === 'ISO 2022 GBK') return { whole: 'gbk' }; // the second as dcmjs accepts it
  const m = /^ISO (?:2022 )?(?:IR )?(\d+)$/.exec(t);
  if (!m) return undefined;
  const ir = Number(m[1]);
  if (ir === 6) return { g0: 'ascii' };
  if (ir === 192) return { whole: 'utf-8' };
  if (ir === 13) return { g0: 'roman', g1: 'katakana' };
  if (ir === 14) return { g0: 'roman' };
  if (ir === 87) return { g0: 'jis0208' };
  if (ir === 159) return { g0: 'jis0212' };
  if (ir === 149) return { g1: 'ksx1001' };
  if (ir === 58) return { g1: 'gb2312' };
  if (SINGLE_BYTE[ir]) return { g0: 'ascii', g1: { single: SINGLE_BYTE[ir] } };
  return undefined;
}

/** The terms of (0008,0005) that name no character set this module knows. */
export function unknownTerms(terms: readonly string[]): string[] {
  return terms.filter((t) => termSets(t) === undefined);
}

/** The values of (0008,0005) as read from its bytes (the default repertoire): split and trimmed. */
export function charsetTerms(raw: string): string[] {
  return raw.replace(/[\0 ]+$/, '').split('\\').map((v) => v.trim());
}

interface Initial {
  g0: G0;
  g1: G1;
  whole?: string;
  /** A term names no known set. */
  unknown?: boolean;
}

/**
 * The state every value starts in. Value 1 sets it (empty = ISO 2022 IR 6); a multi-byte G0
 * (IR 87, IR 159) is only ever reached by its escape sequence, so it starts in ASCII. An
 * unknown term leaves ASCII with ISO 8859-1 for bytes above 0x7F, which keeps every byte.
 */
const initialStates = new Map<string, Initial>();
function initialState(terms: readonly string[]): Initial {
  const key = terms.join('\\');
  let s = initialStates.get(key);
  if (!s) {
    s = initialStateOf(terms);
    if (initialStates.size < 256) initialStates.set(key, s);
  }
  return s;
}

function initialStateOf(terms: readonly string[]): Initial {
  const sets = terms.map(termSets);
  const first = sets[0] ?? { g0: 'ascii' as const };
  if (first.whole) return { g0: 'ascii', g1: 'none', whole: first.whole };
  // UTF-8/GB18030/GBK cannot be extended; after an empty value 1 they still say how to read.
  const later = sets.slice(1).find((s) => s?.whole);
  if (later && (first.g0 ?? 'ascii') === 'ascii' && first.g1 === undefined) return { g0: 'ascii', g1: 'none', whole: later.whole };
  const g0 = first.g0 === 'roman' ? 'roman' : 'ascii';
  return { g0, g1: first.g1 ?? 'none', unknown: sets.includes(undefined) };
}

/**
 * True when bytes 0x00-0x7F without ESC read as ASCII in these (known) terms: what the flat
 * header reader may assume.
 */
export function asciiCompatible(terms: readonly string[]): boolean {
  const s = initialState(terms);
  return !s.unknown && (s.whole !== undefined || s.g0 === 'ascii');
}

const decoders = new Map<string, TextDecoder>();
function decoder(label: string): TextDecoder {
  let d = decoders.get(label);
  if (!d) {
    d = new TextDecoder(label);
    decoders.set(label, d);
  }
  return d;
}

const singleTables = new Map<string, string[]>();
/** 256 characters: ASCII, C1 as itself, and the set's upper half (ISO 8859-1: identity). */
function singleTable(label: string): string[] {
  let t = singleTables.get(label);
  if (!t) {
    t = [];
    for (let b = 0; b < 256; b++) {
      t.push(b < 0xa0 || label === 'iso-8859-1' ? String.fromCharCode(b) : decoder(label).decode(Uint8Array.of(b)));
    }
    singleTables.set(label, t);
  }
  return t;
}

/** Which VRs treat which bytes as delimiters besides the control characters. */
function delimitersOf(vr: string): number[] {
  if (vr === 'PN') return [0x5c, 0x5e, 0x3d];
  if (vr === 'LO' || vr === 'SH' || vr === 'UC') return [0x5c];
  return [];
}

const ESC = 0x1b;
const REPLACEMENT = '\ufffd';

/**
 * One value's bytes (all of an element's values with their backslashes, as stored) decoded
 * in the character set `terms` (the values of (0008,0005) in scope) for an element of VR `vr`
 * (PN, LO, SH, UC, ST, LT, UT). The backslash between values comes back as '\'.
 */
export function decodeText(bytes: Uint8Array, terms: readonly string[], vr: string): string {
  const init = initialState(terms);
  if (init.whole) return decoder(init.whole).decode(bytes);
  let plain = init.g0 === 'ascii';
  for (let i = 0; plain && i < bytes.length; i++) if (bytes[i] >= 0x80 || bytes[i] === ESC) plain = false;
  if (plain) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

  const delimiters = delimitersOf(vr);
  let g0: G0 = init.g0;
  let g1: G1 = init.g1;
  const out: string[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b === ESC) {
      const hit = ESCAPES.find(([seq]) => seq.every((x, k) => bytes[i + 1 + k] === x));
      if (hit) {
        if (hit[1].g0) g0 = hit[1].g0;
        if (hit[1].g1) g1 = hit[1].g1;
        i += 1 + hit[0].length;
      } else {
        out.push(REPLACEMENT);
        i++;
      }
      continue;
    }
    if (b < 0x21 || b === 0x7f) {
      // Space and controls are the same in every set; a control ends what an escape began.
      out.push(String.fromCharCode(b));
      if (b < 0x20) [g0, g1] = [init.g0, init.g1];
      i++;
      continue;
    }
    if (b < 0x80) {
      if (g0 === 'jis0208' || g0 === 'jis0212') {
        // Two-byte G0: a run of 0x21-0x7E pairs, through EUC-JP (JIS X 0212 behind 0x8F).
        let j = i;
        while (j < bytes.length && bytes[j] >= 0x21 && bytes[j] < 0x7f) j++;
        const pairs = (j - i) >> 1;
        const euc: number[] = [];
        for (let k = 0; k < pairs; k++) {
          if (g0 === 'jis0212') euc.push(0x8f);
          euc.push(bytes[i + 2 * k] | 0x80, bytes[i + 2 * k + 1] | 0x80);
        }
        out.push(decoder('euc-jp').decode(Uint8Array.from(euc)));
        if ((j - i) % 2) out.push(REPLACEMENT);
        i = j;
        continue;
      }
      if (delimiters.includes(b)) {
        out.push(String.fromCharCode(b));
        [g0, g1] = [init.g0, init.g1];
      } else if (g0 === 'roman' && b === 0x5c) out.push('\u00a5');
      else if (g0 === 'roman' && b === 0x7e) out.push('\u203e');
      else out.push(String.fromCharCode(b));
      i++;
      continue;
    }
    // 0x80-0xFF: G1.
    if (g1 === 'ksx1001' || g1 === 'gb2312') {
      let j = i;
      while (j < bytes.length && bytes[j] >= 0x80) j++;
      out.push(decoder(g1 === 'ksx1001' ? 'euc-kr' : 'gbk').decode(bytes.subarray(i, j)));
      i = j;
      continue;
    }
    if (g1 === 'katakana') out.push(b >= 0xa1 && b <= 0xdf ? String.fromCharCode(0xff61 + b - 0xa1) : REPLACEMENT);
    else if (g1 === 'none') out.push(String.fromCharCode(b));
    else out.push(singleTable(g1.single)[b]);
    i++;
  }
  return out.join('');
}

/** Where a (0008,0005) element sits in a dataset's bytes, and what it says. */
export interface CharsetElement {
  /** '' for the dataset itself; 'SSSSSSSS.i/' per sequence (tag in hex) and non-empty item index. */
  path: string;
  /** Offset and length of the value in the bytes walked. */
  offset: number;
  length: number;
  terms: string[];
}

/**
 * Every Specific Character Set element of a dataset (its bytes after the file meta group),
 * in the dataset and in sequence items at any depth, by a walk over element headers. `vrOf`
 * gives the dictionary VR of a tag (Implicit VR). A cut or malformed dataset ends the walk
 * quietly with what was found so far: the parser that follows reports what is wrong.
 */
export function findCharsetElements(
  b: Uint8Array,
  explicit: boolean,
  littleEndian: boolean,
  vrOf: (tag: number) => string | undefined,
): CharsetElement[] {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const found: CharsetElement[] = [];

  /** Elements from `pos` to `end` or an item delimiter; returns where it stopped. */
  const walk = (pos: number, end: number, path: string, explicitHere: boolean): number => {
    while (pos + 8 <= end) {
      let h;
      try {
        h = readElementHeader(buf, pos, explicitHere, littleEndian, end);
      } catch (e) {
        if (e instanceof HeaderTruncated) return end;
        throw e;
      }
      const { tag, length: len } = h;
      if (h.group === 0xfffe) return pos;
      const at = pos + h.headerLength;
      const vr = explicitHere ? h.vr : (vrOf(tag) ?? (len === UNDEFINED_LENGTH ? 'SQ' : 'UN'));
      if (tag === 0x00080005 && len !== UNDEFINED_LENGTH && at + len <= end) {
        const raw = Buffer.from(b.buffer, b.byteOffset + at, len).toString('latin1');
        found.push({ path, offset: at, length: len, terms: charsetTerms(raw) });
      }
      if (vr === 'SQ' || (vr === 'UN' && len === UNDEFINED_LENGTH)) {
        // A UN of undefined length holds an Implicit VR sequence (PS3.5 6.2.2).
        pos = items(at, len, end, `${path}${tag.toString(16).toUpperCase().padStart(8, '0')}`, explicitHere && vr === 'SQ');
      } else if (len === UNDEFINED_LENGTH) {
        pos = items(at, len, end, undefined, explicitHere); // encapsulated pixel data: fragments
      } else {
        pos = at + len;
      }
    }
    return Math.min(pos, end);
  };

  /** The items of a sequence at `pos`; `path` undefined for fragments (not descended into). */
  const items = (pos: number, len: number, end: number, path: string | undefined, explicitHere: boolean): number => {
    const stop = len === UNDEFINED_LENGTH ? end : Math.min(end, pos + len);
    let index = 0;
    while (pos + 8 <= stop) {
      const { tag, length: itemLen } = readElementHeader(buf, pos, false, littleEndian, stop);
      pos += 8;
      if (tag === SEQUENCE_END) return pos;
      if (tag !== ITEM) return stop; // not an item: leave the rest to the parser
      const itemPath = path === undefined ? '' : `${path}.${index}/`;
      const start = pos;
      if (itemLen === UNDEFINED_LENGTH) {
        if (path === undefined) return stop;
        pos = walk(pos, stop, itemPath, explicitHere);
        if (pos + 8 <= stop && readElementHeader(buf, pos, false, littleEndian, stop).tag === ITEM_END) {
          if (pos > start) index++;
          pos += 8;
        } else return stop;
      } else {
        const itemEnd = Math.min(stop, pos + itemLen);
        if (path !== undefined) walk(pos, itemEnd, itemPath, explicitHere);
        if (itemLen > 0) index++;
        pos = pos + itemLen;
      }
    }
    return Math.min(pos, stop);
  };

  walk(0, b.length, '', explicit);
  return found;
}
