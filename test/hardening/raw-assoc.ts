// A hand-built A-ASSOCIATE-RQ over a raw socket (PS3.8 9.3.2), for what DCMTK tools cannot do:
// hold an association open without using it, read the exact A-ASSOCIATE-RJ fields, go silent,
// send a C-STORE and an A-RELEASE-RQ in one write, drop the connection right after a dataset.
// Command sets are built and read here by hand (PS3.7 E.1), not with the node's own codec; the
// P-DATA-TF framing is the node's pDataPdu, checked byte for byte in dimse-command.test.ts.
import net from 'node:net';
import { pDataPdu } from '../../src/receive/transport/dimse-command.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

function item(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}

function ae(title: string): Buffer {
  return Buffer.from(title.padEnd(16, ' ').slice(0, 16), 'latin1');
}

export function associateRq(called: string, calling: string, abstractSyntax = VERIFICATION, transferSyntax = IMPLICIT_LE): Buffer {
  const appContext = item(0x10, Buffer.from('1.2.840.10008.3.1.1.1', 'latin1'));
  const pc = item(0x20, Buffer.concat([Buffer.from([1, 0, 0, 0]), item(0x30, Buffer.from(abstractSyntax, 'latin1')), item(0x40, Buffer.from(transferSyntax, 'latin1'))]));
  const maxLen = Buffer.alloc(4);
  maxLen.writeUInt32BE(16384);
  const user = item(0x50, item(0x51, maxLen));
  const fixed = Buffer.concat([Buffer.from([0, 1, 0, 0]), ae(called), ae(calling), Buffer.alloc(32)]);
  const body = Buffer.concat([fixed, appContext, pc, user]);
  const head = Buffer.alloc(6);
  head[0] = 0x01;
  head.writeUInt32BE(body.length, 2);
  return Buffer.concat([head, body]);
}

export type AssocAnswer =
  | { kind: 'accept'; socket: net.Socket; contextResults: number[] }
  | { kind: 'reject'; result: number; source: number; reason: number }
  | { kind: 'closed' }
  | { kind: 'other'; pduType: number };

/** Connects, sends an A-ASSOCIATE-RQ and reports the first answer; an accepted socket stays open. */
export function requestAssociation(
  host: string, port: number, called: string, calling: string, timeoutMs = 10_000, localAddress?: string,
  proposal?: { abstractSyntax: string; transferSyntax: string },
): Promise<AssocAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress }, () => socket.write(associateRq(called, calling, proposal?.abstractSyntax, proposal?.transferSyntax)));
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer to A-ASSOCIATE-RQ'));
    }, timeoutMs);
    const done = (a: AssocAnswer) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve(a);
    };
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 10) return;
      if (buf[0] === 0x02) {
        const total = 6 + buf.readUInt32BE(2);
        if (buf.length < total) return;
        // Presentation context items (0x21): result at offset 6 of the item.
        const contextResults: number[] = [];
        for (let p = 74; p + 4 <= total; p += 4 + buf.readUInt16BE(p + 2)) if (buf[p] === 0x21) contextResults.push(buf[p + 6]);
        done({ kind: 'accept', socket, contextResults });
      }
      else if (buf[0] === 0x03) {
        socket.destroy();
        done({ kind: 'reject', result: buf[7], source: buf[8], reason: buf[9] });
      } else {
        socket.destroy();
        done({ kind: 'other', pduType: buf[0] });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done({ kind: 'closed' }));
  });
}

/** Resolves with the ms until the peer closes the socket (or rejects after timeoutMs). */
export function closedWithin(socket: net.Socket, timeoutMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.resume();
  });
}

/** A command set element, Implicit VR Little Endian (PS3.7 E.1: command sets always are). */
function cmdElement(element: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0x0000, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}

const cmdUs = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const cmdUid = (uid: string) => Buffer.from(uid.length % 2 ? `${uid}\0` : uid, 'latin1');

/** A C-STORE-RQ command PDU followed by its dataset in PDVs of at most `fragment` bytes. */
export function cStoreRq(o: { pcid?: number; messageId: number; sopClassUid: string; sopInstanceUid: string; dataset: Buffer; fragment?: number }): Buffer {
  const pcid = o.pcid ?? 1;
  const body = Buffer.concat([
    cmdElement(0x0002, cmdUid(o.sopClassUid)),
    cmdElement(0x0100, cmdUs(0x0001)), // C-STORE-RQ
    cmdElement(0x0110, cmdUs(o.messageId)),
    cmdElement(0x0700, cmdUs(0x0000)), // priority medium
    cmdElement(0x0800, cmdUs(0x0000)), // a dataset follows
    cmdElement(0x1000, cmdUid(o.sopInstanceUid)),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length);
  const pdus = [pDataPdu(pcid, 0x03, Buffer.concat([cmdElement(0x0000, groupLength), body]))];
  const step = o.fragment ?? 16_000;
  for (let at = 0; at < o.dataset.length; at += step) {
    const last = at + step >= o.dataset.length;
    pdus.push(pDataPdu(pcid, last ? 0x02 : 0x00, o.dataset.subarray(at, at + step)));
  }
  return Buffer.concat(pdus);
}

/** A-RELEASE-RQ (PS3.8 9.3.7). */
export const RELEASE_RQ = Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]);

/** A PDU as the peer sent it; for a P-DATA-TF command PDV, the command fields read from it. */
export interface ReceivedPdu {
  type: number;
  command?: { commandField?: number; messageIdBeingRespondedTo?: number; status?: number; errorComment?: string; affectedSopInstanceUid?: string };
}

function readCommand(b: Buffer): NonNullable<ReceivedPdu['command']> {
  const c: NonNullable<ReceivedPdu['command']> = {};
  for (let p = 0; p + 8 <= b.length; ) {
    const element = b.readUInt16LE(p + 2);
    const len = b.readUInt32LE(p + 4);
    const v = b.subarray(p + 8, p + 8 + len);
    p += 8 + len;
    const text = () => v.toString('latin1').replace(/[\0 ]+$/, '');
    if (element === 0x0100) c.commandField = v.readUInt16LE(0);
    else if (element === 0x0120) c.messageIdBeingRespondedTo = v.readUInt16LE(0);
    else if (element === 0x0900) c.status = v.readUInt16LE(0);
    else if (element === 0x0902) c.errorComment = text();
    else if (element === 0x1000) c.affectedSopInstanceUid = text();
  }
  return c;
}

/**
 * Collects every PDU the peer sends on an (accepted) socket, in arrival order, until it closes.
 * Command PDVs are assumed to come whole in one PDU (the node and DCMTK send them so).
 */
export function collectPdus(socket: net.Socket): { pdus: ReceivedPdu[]; closed: Promise<void> } {
  const pdus: ReceivedPdu[] = [];
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 6 && buf.length >= 6 + buf.readUInt32BE(2)) {
      const total = 6 + buf.readUInt32BE(2);
      const pdu = buf.subarray(0, total);
      buf = buf.subarray(total);
      const got: ReceivedPdu = { type: pdu[0] };
      if (pdu[0] === 0x04 && pdu.length >= 12 && (pdu[11] & 1) === 1) got.command = readCommand(pdu.subarray(12, 6 + 4 + pdu.readUInt32BE(6)));
      pdus.push(got);
    }
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.resume();
  return { pdus, closed };
}
