// A structural walk of a stored instance's dataset, run before the C-STORE success status:
// every element's declared length must fit in the bytes received, sequences and items must be
// closed. dcmjs reads past a truncated Pixel Data silently (it hands back a full-length
// buffer), so without this a truncated instance would be acknowledged and interpolated from
// garbage. Values are skipped, never decoded: the walk is cheap even for large instances.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import {
  HeaderTruncated, hasPart10Prefix, ITEM, ITEM_END, PIXEL_DATA, readElementHeader, SEQUENCE_END, tagText, UNDEFINED_LENGTH, validVr, type ElementHeader,
} from '../../dicom/header-reader.js';

/** Bytes read at a time: headers are dense, values are skipped without reading them. */
const WINDOW = 64 * 1024;

export class MalformedDataset extends Error {}

/** The dataset bytes: in memory, or a file read through a small window (large instances). */
interface Source {
  length: number;
  /** n bytes at pos (pos + n <= length). */
  at(pos: number, n: number): Buffer;
}

interface Cursor {
  src: Source;
  pos: number;
  explicit: boolean;
  /** Top-level Pixel Data: its byte length, 'encapsulated', or undefined when absent. */
  pixelData?: number | 'encapsulated';
  pixelDataAt?: number;
  /** When set, each top-level element before Pixel Data is appended as tag, start, end. */
  topLevel?: number[];
}

export interface StructureFacts {
  pixelData?: number | 'encapsulated';
  /** Dataset offset of the top-level Pixel Data value (the header ends there). */
  pixelDataAt?: number;
  /**
   * Top-level elements before Pixel Data, flattened as (tag, start, end) triples of dataset
   * offsets (tag = group << 16 | element): lets the header parse read only what it uses.
   */
  topLevel?: number[];
}

/**
 * The element (or, `item`: item / delimiter) header at the cursor, or a "truncated" error;
 * `what` names a header that is not there at all.
 */
function header(c: Cursor, what: string, item = false): ElementHeader {
  const left = c.src.length - c.pos;
  try {
    return readElementHeader(c.src.at(c.pos, Math.min(12, left)), 0, c.explicit && !item);
  } catch (e) {
    if (!(e instanceof HeaderTruncated)) throw e;
    throw new MalformedDataset(`truncated: ${e.need === 12 ? `element ${tagText(e.tag!)}` : what} needs ${e.need} bytes, ${left} left`);
  }
}

/**
 * Walks elements until the end (end === undefined: to the end of the buffer) or an item /
 * sequence delimiter. Returns true when it stopped at a delimiter.
 */
function walk(c: Cursor, end: number | undefined, depth: number): boolean {
  if (depth > 32) throw new MalformedDataset('sequences nested deeper than 32');
  const limit = end ?? c.src.length;
  while (c.pos < limit) {
    const start = c.pos;
    const h = header(c, 'element header');
    const { group, tag, vr } = h;
    if (group === 0xfffe) {
      c.pos += 8;
      if (tag === ITEM_END || tag === SEQUENCE_END) return true; // item / sequence delimitation
      throw new MalformedDataset(`unexpected item tag ${tagText(tag)} at byte ${c.pos - 8} (length ${h.length})`);
    }
    if (c.explicit && !validVr(vr)) throw new MalformedDataset(`element ${tagText(tag)}: invalid VR`);
    const len = h.length;
    c.pos += h.headerLength;
    if (depth === 0 && tag === PIXEL_DATA) {
      c.pixelData = len === UNDEFINED_LENGTH ? 'encapsulated' : len;
      c.pixelDataAt = c.pos;
    }
    // Recorded: top-level elements before Pixel Data (the header).
    const top = depth === 0 && c.pixelDataAt === undefined ? c.topLevel : undefined;
    if (len === UNDEFINED_LENGTH) {
      // A sequence, or encapsulated Pixel Data: items until the sequence delimiter.
      // UN of undefined length is a sequence encoded in Implicit VR (PS3.5 6.2.2).
      const wasExplicit = c.explicit;
      if (vr === 'UN') c.explicit = false;
      items(c, undefined, depth, tagText(tag), group === 0x7fe0 || vr === 'OB' || vr === 'OW');
      c.explicit = wasExplicit;
      if (top) top.push(tag, start, c.pos);
      continue;
    }
    if (c.pos + len > limit) {
      throw new MalformedDataset(`truncated: element ${tagText(tag)} declares ${len} bytes, ${limit - c.pos} left`);
    }
    if (vr === 'SQ' && len > 0) {
      const seqEnd = c.pos + len;
      items(c, seqEnd, depth, tagText(tag), false);
      if (c.pos !== seqEnd) throw new MalformedDataset(`sequence ${tagText(tag)} length does not match its items`);
      if (top) top.push(tag, start, c.pos);
      continue;
    }
    c.pos += len;
    if (top) top.push(tag, start, c.pos);
  }
  if (end === undefined) return false;
  if (c.pos !== end) throw new MalformedDataset('item length does not match its content');
  return false;
}

/** Items of a sequence (or fragments of encapsulated pixel data). */
function items(c: Cursor, end: number | undefined, depth: number, owner: string, fragments: boolean): void {
  for (;;) {
    if (end !== undefined && c.pos >= end) return;
    const h = header(c, `item of ${owner}`, true);
    const len = h.length;
    c.pos += 8;
    if (h.group !== 0xfffe) throw new MalformedDataset(`${owner}: expected an item, found ${tagText(h.tag)}`);
    if (h.tag === SEQUENCE_END) {
      if (end !== undefined) throw new MalformedDataset(`${owner}: sequence delimiter in a defined-length sequence`);
      return;
    }
    if (h.tag !== ITEM) throw new MalformedDataset(`${owner}: unexpected ${tagText(h.tag)}`);
    if (len === UNDEFINED_LENGTH) {
      if (fragments) throw new MalformedDataset(`${owner}: fragment of undefined length`);
      if (!walk(c, undefined, depth + 1)) throw new MalformedDataset(`truncated: item of ${owner} never closed`);
      continue;
    }
    if (c.pos + len > (end ?? c.src.length)) throw new MalformedDataset(`truncated: item of ${owner} declares ${len} bytes, ${(end ?? c.src.length) - c.pos} left`);
    if (fragments) c.pos += len;
    else walk(c, c.pos + len, depth + 1);
  }
}

/** Walks a whole dataset from its first byte; throws MalformedDataset. */
function walkDataset(src: Source, explicit: boolean, recordTopLevel = false): StructureFacts {
  const c: Cursor = { src, pos: 0, explicit, topLevel: recordTopLevel ? [] : undefined };
  if (walk(c, undefined, 0)) throw new MalformedDataset('delimiter outside any sequence');
  return { pixelData: c.pixelData, pixelDataAt: c.pixelDataAt, topLevel: c.topLevel };
}

/** The dataset as the network chunks it arrived in (no copy; reads mostly move forward). */
function chunkSource(chunks: Buffer[]): Source {
  const starts: number[] = [];
  let length = 0;
  for (const c of chunks) {
    starts.push(length);
    length += c.length;
  }
  let i = 0;
  return {
    length,
    at(pos, n) {
      while (i > 0 && pos < starts[i]) i--;
      while (i < chunks.length - 1 && pos >= starts[i] + chunks[i].length) i++;
      const off = pos - starts[i];
      if (off + n <= chunks[i].length) return chunks[i].subarray(off, off + n);
      return sliceChunks(chunks, pos, pos + n);
    },
  };
}

/** Bytes [from, to) of a chunked dataset as one buffer. */
export function sliceChunks(chunks: Buffer[], from: number, to: number): Buffer {
  const out: Buffer[] = [];
  let start = 0;
  for (const c of chunks) {
    const end = start + c.length;
    if (end > from && start < to) out.push(c.subarray(Math.max(0, from - start), Math.min(c.length, to - start)));
    start = end;
    if (start >= to) break;
  }
  return out.length === 1 ? out[0] : Buffer.concat(out);
}

/**
 * Checks dataset bytes held in memory (whole or as received in chunks), optionally recording
 * the top-level elements (StructureFacts.topLevel). Throws MalformedDataset.
 */
export function checkDatasetStructure(dataset: Buffer | Buffer[], explicitVr: boolean, recordTopLevel = false): StructureFacts {
  return walkDataset(chunkSource(Buffer.isBuffer(dataset) ? [dataset] : dataset), explicitVr, recordTopLevel);
}

/**
 * The header bytes of the top-level elements whose tags are in `wanted`, in their order: a
 * dataset a parser reads as the original with everything else left out (values are copied as
 * received, so the transfer syntax and character set still apply).
 */
export function selectTopLevel(chunks: Buffer[], topLevel: number[], wanted: ReadonlySet<number>): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < topLevel.length; i += 3) {
    if (wanted.has(topLevel[i])) out.push(sliceChunks(chunks, topLevel[i + 1], topLevel[i + 2]));
  }
  return out;
}

/**
 * Checks a Part-10 file written by the spool, reading only element headers through a 64 kB
 * window (synchronous: a few reads per instance, even for a multi-GB one).
 */
export async function checkStoredStructure(path: string, explicitVr: boolean): Promise<StructureFacts> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let winStart = 0;
    let win = Buffer.alloc(0);
    const read = (pos: number, n: number): Buffer => {
      if (pos < winStart || pos + n > winStart + win.length) {
        win = Buffer.alloc(Math.min(Math.max(WINDOW, n), size - pos));
        readSync(fd, win, 0, win.length, pos);
        winStart = pos;
      }
      return win.subarray(pos - winStart, pos - winStart + n);
    };
    if (size < 144 || !hasPart10Prefix(read(0, 144))) throw new MalformedDataset('not a Part-10 file');
    const offset = 144 + read(140, 4).readUInt32LE(0);
    if (offset > size) throw new MalformedDataset('truncated file meta');
    const src: Source = { length: size - offset, at: (pos, n) => read(offset + pos, n) };
    return walkDataset(src, explicitVr);
  } finally {
    closeSync(fd);
  }
}
