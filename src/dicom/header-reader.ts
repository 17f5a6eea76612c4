// The one reader of DICOM element headers (PS3.5 7.1): tag, VR and value length at a byte
// offset, in Implicit or Explicit VR, Little or Big Endian, and the File Meta Information of a
// Part-10 head. Every walker over header bytes reads its elements through readElementHeader:
// receive's header scan (receive/check/header-scan.ts) and structure check
// (receive/check/structure-check.ts), the flat header parse (flat-header.ts), the character set
// search (charset.ts), DIMSE command sets (receive/transport/dimse-command.ts), the file meta
// values (fileMetaValues) and the send side's file meta (send/file-dataset.ts). What a walker
// does with an element (skip it, descend, decline, fail) stays its own.

/** Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2). */
export const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** A value length of 0xFFFFFFFF: a sequence, item or encapsulated Pixel Data until its delimiter. */
export const UNDEFINED_LENGTH = 0xffffffff;
export const ITEM = 0xfffee000;
export const ITEM_END = 0xfffee00d;
export const SEQUENCE_END = 0xfffee0dd;
export const PIXEL_DATA = 0x7fe00010;

export interface ElementHeader {
  /** group << 16 | element, unsigned. */
  tag: number;
  group: number;
  element: number;
  /** The VR as written (Explicit VR, unchecked), '' for Implicit VR and item / delimiter tags. */
  vr: string;
  /** Value length (UNDEFINED_LENGTH for undefined). */
  length: number;
  /** Bytes of the header itself: 8, or 12 for an Explicit VR long form. */
  headerLength: 8 | 12;
}

/**
 * The bytes end before the element header does: `need` bytes from its start (8, or 12 for an
 * Explicit VR long form, whose `tag` and `vr` were read), `left` were there.
 */
export class HeaderTruncated extends Error {
  constructor(
    readonly need: 8 | 12,
    readonly left: number,
    readonly tag?: number,
    readonly vr?: string,
  ) {
    super(`element header needs ${need} bytes, ${left} left`);
  }
}

/**
 * The element header at `pos` of `b`, reading no further than `end` (default: the end of `b`).
 * Item and delimiter tags (group FFFE) have the Implicit VR form in every transfer syntax.
 * Throws HeaderTruncated when the header runs past `end`. The VR is not checked: a walker that
 * must reject an invalid one does (a VR that is not one of LONG_VRS reads as the short form).
 */
export function readElementHeader(b: Buffer, pos: number, explicit: boolean, littleEndian = true, end = b.length): ElementHeader {
  if (pos + 8 > end) throw new HeaderTruncated(8, end - pos);
  const group = littleEndian ? b.readUInt16LE(pos) : b.readUInt16BE(pos);
  const element = littleEndian ? b.readUInt16LE(pos + 2) : b.readUInt16BE(pos + 2);
  const tag = ((group << 16) | element) >>> 0;
  if (!explicit || group === 0xfffe) {
    return { tag, group, element, vr: '', length: littleEndian ? b.readUInt32LE(pos + 4) : b.readUInt32BE(pos + 4), headerLength: 8 };
  }
  const vr = b.toString('latin1', pos + 4, pos + 6);
  if (!LONG_VRS.has(vr)) return { tag, group, element, vr, length: littleEndian ? b.readUInt16LE(pos + 6) : b.readUInt16BE(pos + 6), headerLength: 8 };
  if (pos + 12 > end) throw new HeaderTruncated(12, end - pos, tag, vr);
  return { tag, group, element, vr, length: littleEndian ? b.readUInt32LE(pos + 8) : b.readUInt32BE(pos + 8), headerLength: 12 };
}

/** Whether a VR read from an Explicit VR header is two upper-case letters. */
export function validVr(vr: string): boolean {
  return /^[A-Z]{2}$/.test(vr);
}

/** "(GGGG,EEEE)" in upper-case hex. */
export function tagText(tag: number): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  return `(${hex(tag >>> 16)},${hex(tag & 0xffff)})`.toUpperCase();
}

/** A string value as latin1 text without its trailing NUL / space padding. */
export function unpadded(value: Buffer): string {
  return value.toString('latin1').replace(/[\0 ]+$/, '');
}

/** A UID value (padding and any surrounding spaces removed). */
export function uidValue(value: Buffer): string {
  return unpadded(value).trim();
}

/** Whether a Part-10 head holds the "DICM" prefix after its 128-byte preamble. */
export function hasPart10Prefix(head: Buffer): boolean {
  return head.length >= 144 && head.toString('latin1', 128, 132) === 'DICM';
}

/**
 * The value of the File Meta group's (0002,0000) UL group length, when the group starts with
 * one at byte 132 (every file we write does); undefined otherwise. `head` holds 144 bytes.
 */
export function metaGroupLength(head: Buffer): number | undefined {
  if (head.readUInt32LE(132) !== 0x00000002 || head.toString('latin1', 136, 138) !== 'UL') return undefined;
  return head.readUInt32LE(140);
}

/**
 * Where the File Meta group of a Part-10 head ends: by its group length when it starts with
 * one, else element by element while the tags are in group 0002 (may lie past `head`).
 */
export function metaGroupEnd(head: Buffer): number {
  const groupLength = metaGroupLength(head);
  if (groupLength !== undefined) return 144 + groupLength;
  let end = 132;
  while (end + 12 <= head.length && head.readUInt16LE(end) === 0x0002) {
    const h = readElementHeader(head, end, true);
    end += h.headerLength + h.length;
  }
  return end;
}

/**
 * The values of a File Meta Information group (the bytes after (0002,0000)), by element number,
 * as latin1 text with trailing NUL/space padding removed: what the UIDs in it need.
 */
export function fileMetaValues(group: Buffer): Record<number, string> {
  const values: Record<number, string> = {};
  for (let pos = 0; pos + 8 <= group.length; ) {
    const h = readElementHeader(group, pos, true, true, Infinity);
    const start = pos + h.headerLength;
    values[h.element] = unpadded(group.subarray(start, start + h.length));
    pos = start + h.length;
  }
  return values;
}
