// DIMSE command sets (PS3.7 E.1, always Implicit VR Little Endian) and the PDUs the C-STORE
// fast path writes itself. dcmjs-dimse builds a C-STORE-RSP through a dcmjs dataset
// (denaturalize + write), about 1 ms per instance; this encodes the same elements directly.
import { HeaderTruncated, readElementHeader, uidValue } from '../../dicom/header-reader.js';

/** Command field values (PS3.7 E.1-1). */
export const CommandField = { cStoreRq: 0x0001, cStoreRsp: 0x8001 } as const;
const NO_DATASET = 0x0101;

export class MalformedCommand extends Error {}

export interface Command {
  commandField?: number;
  messageId?: number;
  affectedSopClassUid?: string;
  affectedSopInstanceUid?: string;
  /** Whether a dataset follows (CommandDataSetType other than 0x0101, or absent). */
  hasDataset: boolean;
}

/** Reads the elements of a command set that the C-STORE path needs; throws MalformedCommand. */
export function parseCommand(b: Buffer): Command {
  const c: Command = { hasDataset: true };
  let pos = 0;
  while (pos < b.length) {
    let h;
    try {
      h = readElementHeader(b, pos, false);
    } catch (e) {
      throw e instanceof HeaderTruncated ? new MalformedCommand('command set ends inside an element header') : e;
    }
    const { group, element, length: len } = h;
    pos += 8;
    if (len > b.length - pos) throw new MalformedCommand('command element runs past the command set');
    const v = b.subarray(pos, pos + len);
    pos += len;
    if (group !== 0x0000) continue;
    const us = () => {
      if (len !== 2) throw new MalformedCommand(`command element (0000,${element.toString(16)}) is not US`);
      return v.readUInt16LE(0);
    };
    if (element === 0x0002) c.affectedSopClassUid = uidValue(v);
    else if (element === 0x0100) c.commandField = us();
    else if (element === 0x0110) c.messageId = us();
    else if (element === 0x0800) c.hasDataset = us() !== NO_DATASET;
    else if (element === 0x1000) c.affectedSopInstanceUid = uidValue(v);
  }
  return c;
}

function element(tag: number, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, value]);
}

function us(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n, 0);
  return b;
}

/** A string value padded to even length (UI with NUL, text with space). */
function text(s: string, pad: '\0' | ' '): Buffer {
  return Buffer.from(s.length % 2 ? s + pad : s, 'latin1');
}

/** One P-DATA-TF PDU holding one PDV (PS3.8 9.3.5); control: bit 0 command, bit 1 last. */
export function pDataPdu(pcid: number, control: number, value: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head[0] = 0x04;
  head.writeUInt32BE(value.length + 6, 2);
  head.writeUInt32BE(value.length + 2, 6);
  head[10] = pcid;
  head[11] = control;
  return Buffer.concat([head, value]);
}

export interface StoreResponse {
  pcid: number;
  messageId: number;
  sopClassUid: string;
  sopInstanceUid: string;
  status: number;
  /** ErrorComment (0000,0902), LO: at most 64 characters. */
  comment?: string;
}

/** The C-STORE-RSP for a request as one P-DATA-TF PDU, elements as dcmjs-dimse writes them. */
export function storeResponsePdu(r: StoreResponse): Buffer {
  const elements = [
    element(0x00000002, text(r.sopClassUid, '\0')),
    element(0x00000100, us(CommandField.cStoreRsp)),
    element(0x00000120, us(r.messageId)),
    element(0x00000800, us(NO_DATASET)),
    element(0x00000900, us(r.status)),
  ];
  if (r.comment) elements.push(element(0x00000902, text(r.comment.slice(0, 64), ' ')));
  elements.push(element(0x00001000, text(r.sopInstanceUid, '\0')));
  const body = Buffer.concat(elements);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length, 0);
  return pDataPdu(r.pcid, 0x03, Buffer.concat([element(0x00000000, groupLength), body]));
}
