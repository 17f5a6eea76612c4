// Byte-level facts of Explicit VR Little Endian shared by the readers that walk element
// headers themselves (receive's scans, the flat header reader, the send side's file meta).

/** Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2). */
export const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * The values of a File Meta Information group (the bytes after (0002,0000)), by element number,
 * as latin1 text with trailing NUL/space padding removed: what the UIDs in it need.
 */
export function fileMetaValues(group: Buffer): Record<number, string> {
  const values: Record<number, string> = {};
  for (let pos = 0; pos + 8 <= group.length; ) {
    const elem = group.readUInt16LE(pos + 2);
    const long = LONG_VRS.has(group.toString('latin1', pos + 4, pos + 6));
    const len = long ? group.readUInt32LE(pos + 8) : group.readUInt16LE(pos + 6);
    const start = pos + (long ? 12 : 8);
    values[elem] = group.toString('latin1', start, start + len).replace(/[\0 ]+$/, '');
    pos = start + len;
  }
  return values;
}
