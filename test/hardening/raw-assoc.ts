// A hand-built A-ASSOCIATE-RQ over a raw socket (PS3.8 9.3.2), for what DCMTK tools cannot do:
// hold an association open without using it, read the exact A-ASSOCIATE-RJ fields, go silent.
import net from 'node:net';

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
