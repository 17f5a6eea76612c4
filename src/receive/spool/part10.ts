// The Part-10 head for a received dataset: 128-byte preamble, "DICM", and the File Meta
// Information group (0002) in Explicit VR Little Endian. The dataset bytes follow unchanged,
// in the transfer syntax they arrived in (never re-encoded).
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../../dicom/dcmjs.js';

export interface FileMetaInput {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** Calling AE of the association that delivered it (SourceApplicationEntityTitle). */
  sourceAeTitle?: string;
}

function element(group: number, elem: number, vr: string, value: Buffer): Buffer {
  const long = vr === 'OB';
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elem, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

/** UI values pad with NUL, text values with space, to an even length (PS3.5 6.2). */
function padded(s: string, pad: '\0' | ' '): Buffer {
  const b = Buffer.from(s, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from(pad, 'latin1')]) : b;
}

/** Keeps an AE title to what the VR allows (16 printable ASCII characters). */
function cleanAe(ae: string): string {
  return ae.replace(/[^\x20-\x7e]/g, '').replace(/\\/g, '').trim().slice(0, 16);
}

export function buildPart10Head(m: FileMetaInput): Buffer {
  const elements = [
    element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    element(0x0002, 0x0002, 'UI', padded(m.sopClassUid, '\0')),
    element(0x0002, 0x0003, 'UI', padded(m.sopInstanceUid, '\0')),
    element(0x0002, 0x0010, 'UI', padded(m.transferSyntaxUid, '\0')),
    element(0x0002, 0x0012, 'UI', padded(IMPLEMENTATION_CLASS_UID, '\0')),
    element(0x0002, 0x0013, 'SH', padded(IMPLEMENTATION_VERSION_NAME, ' ')),
  ];
  const ae = m.sourceAeTitle ? cleanAe(m.sourceAeTitle) : '';
  if (ae) elements.push(element(0x0002, 0x0016, 'AE', padded(ae, ' ')));
  const body = Buffer.concat(elements);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), element(0x0002, 0x0000, 'UL', groupLength), body]);
}
