// A structural walk of a stored instance's dataset, run before the C-STORE success status:
// every element's declared length must fit in the bytes received, sequences and items must be
// closed. dcmjs reads past a truncated Pixel Data silently (it hands back a full-length
// buffer), so without this a truncated instance would be acknowledged and interpolated from
// garbage. Values are skipped, never decoded: the walk is cheap even for large instances.
import { readFile, stat } from 'node:fs/promises';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;
/** Instances above this are not walked (memory); the size limit and the reader still apply. */
const MAX_WALK_BYTES = 512 * 1024 * 1024;

export class MalformedDataset extends Error {}

const tagText = (g: number, e: number) => `(${g.toString(16).padStart(4, '0')},${e.toString(16).padStart(4, '0')})`.toUpperCase();

interface Cursor {
  buf: Buffer;
  pos: number;
  explicit: boolean;
}

function need(c: Cursor, n: number, what: string): void {
  if (c.pos + n > c.buf.length) throw new MalformedDataset(`truncated: ${what} needs ${n} bytes, ${c.buf.length - c.pos} left`);
}

/**
 * Walks elements until the end (end === undefined: to the end of the buffer) or an item /
 * sequence delimiter. Returns true when it stopped at a delimiter.
 */
function walk(c: Cursor, end: number | undefined, depth: number): boolean {
  if (depth > 32) throw new MalformedDataset('sequences nested deeper than 32');
  const limit = end ?? c.buf.length;
  while (c.pos < limit) {
    need(c, 8, 'element header');
    const group = c.buf.readUInt16LE(c.pos);
    const element = c.buf.readUInt16LE(c.pos + 2);
    if (group === 0xfffe) {
      const len = c.buf.readUInt32LE(c.pos + 4);
      c.pos += 8;
      if (element === 0xe00d || element === 0xe0dd) return true; // item / sequence delimitation
      throw new MalformedDataset(`unexpected item tag ${tagText(group, element)} at byte ${c.pos - 8} (length ${len})`);
    }
    let len: number;
    let vr = '';
    if (c.explicit) {
      vr = c.buf.toString('latin1', c.pos + 4, c.pos + 6);
      if (!/^[A-Z]{2}$/.test(vr)) throw new MalformedDataset(`element ${tagText(group, element)}: invalid VR`);
      if (LONG_VRS.has(vr)) {
        need(c, 12, `element ${tagText(group, element)}`);
        len = c.buf.readUInt32LE(c.pos + 8);
        c.pos += 12;
      } else {
        len = c.buf.readUInt16LE(c.pos + 6);
        c.pos += 8;
      }
    } else {
      len = c.buf.readUInt32LE(c.pos + 4);
      c.pos += 8;
    }
    if (len === UNDEFINED) {
      // A sequence, or encapsulated Pixel Data: items until the sequence delimiter.
      // UN of undefined length is a sequence encoded in Implicit VR (PS3.5 6.2.2).
      const wasExplicit = c.explicit;
      if (vr === 'UN') c.explicit = false;
      items(c, undefined, depth, tagText(group, element), group === 0x7fe0 || vr === 'OB' || vr === 'OW');
      c.explicit = wasExplicit;
      continue;
    }
    if (c.pos + len > limit) {
      throw new MalformedDataset(`truncated: element ${tagText(group, element)} declares ${len} bytes, ${limit - c.pos} left`);
    }
    if (vr === 'SQ' && len > 0) {
      const seqEnd = c.pos + len;
      items(c, seqEnd, depth, tagText(group, element), false);
      if (c.pos !== seqEnd) throw new MalformedDataset(`sequence ${tagText(group, element)} length does not match its items`);
      continue;
    }
    c.pos += len;
  }
  if (end === undefined) return false;
  if (c.pos !== end) throw new MalformedDataset('item length does not match its content');
  return false;
}

/** Items of a sequence (or fragments of encapsulated pixel data). */
function items(c: Cursor, end: number | undefined, depth: number, owner: string, fragments: boolean): void {
  for (;;) {
    if (end !== undefined && c.pos >= end) return;
    need(c, 8, `item of ${owner}`);
    const group = c.buf.readUInt16LE(c.pos);
    const element = c.buf.readUInt16LE(c.pos + 2);
    const len = c.buf.readUInt32LE(c.pos + 4);
    c.pos += 8;
    if (group !== 0xfffe) throw new MalformedDataset(`${owner}: expected an item, found ${tagText(group, element)}`);
    if (element === 0xe0dd) {
      if (end !== undefined) throw new MalformedDataset(`${owner}: sequence delimiter in a defined-length sequence`);
      return;
    }
    if (element !== 0xe000) throw new MalformedDataset(`${owner}: unexpected ${tagText(group, element)}`);
    if (len === UNDEFINED) {
      if (fragments) throw new MalformedDataset(`${owner}: fragment of undefined length`);
      if (!walk(c, undefined, depth + 1)) throw new MalformedDataset(`truncated: item of ${owner} never closed`);
      continue;
    }
    if (c.pos + len > (end ?? c.buf.length)) throw new MalformedDataset(`truncated: item of ${owner} declares ${len} bytes, ${(end ?? c.buf.length) - c.pos} left`);
    if (fragments) c.pos += len;
    else walk(c, c.pos + len, depth + 1);
  }
}

/** Checks the dataset bytes of a Part-10 file (after the file meta group). Throws MalformedDataset. */
export function checkDatasetStructure(dataset: Buffer, explicitVr: boolean): void {
  const c: Cursor = { buf: dataset, pos: 0, explicit: explicitVr };
  if (walk(c, undefined, 0)) throw new MalformedDataset('delimiter outside any sequence');
}

/** Checks a Part-10 file written by the spool; skipped above MAX_WALK_BYTES. */
export async function checkStoredStructure(path: string, explicitVr: boolean): Promise<void> {
  const size = (await stat(path)).size;
  if (size > MAX_WALK_BYTES) return;
  const buf = await readFile(path);
  if (buf.length < 144 || buf.toString('latin1', 128, 132) !== 'DICM') throw new MalformedDataset('not a Part-10 file');
  checkDatasetStructure(buf.subarray(144 + buf.readUInt32LE(140)), explicitVr);
}
