// dcmjs-dimse buffers a whole PDU before parsing it, trusting the 4-byte length in its
// header: one bogus header (say 4 GB) and the process holds whatever the peer sends. This
// guard reads the PDU headers as the bytes pass (before dcmjs-dimse sees them) and cuts the
// connection when a PDU is longer than we allow, so memory per association stays bounded.
import type { Socket } from 'node:net';

const P_DATA_TF = 0x04;
/** A-ASSOCIATE-RQ and friends: generous (user identity, many contexts), still bounded. */
const MAX_CONTROL_PDU = 1024 * 1024;
/** Peers may round; never refuse a PDU within this much of the announced maximum. */
const SLACK = 16 * 1024;

export function maxPduFor(type: number, maxPduLength: number): number {
  return type === P_DATA_TF ? Math.max(maxPduLength, 16 * 1024) + SLACK : MAX_CONTROL_PDU;
}

/** Watches `socket`; calls onViolation (once) and destroys the socket on an oversize PDU. */
export function guardPduLengths(socket: Socket, maxPduLength: number, onViolation: (why: string) => void): void {
  const header = Buffer.alloc(6);
  let have = 0;
  let remaining = 0;
  socket.prependListener('data', (chunk: Buffer) => {
    if (socket.destroyed) return;
    let pos = 0;
    while (pos < chunk.length) {
      if (remaining > 0) {
        const take = Math.min(remaining, chunk.length - pos);
        remaining -= take;
        pos += take;
        continue;
      }
      const take = Math.min(6 - have, chunk.length - pos);
      chunk.copy(header, have, pos, pos + take);
      have += take;
      pos += take;
      if (have < 6) return;
      have = 0;
      const type = header[0];
      remaining = header.readUInt32BE(2);
      const limit = maxPduFor(type, maxPduLength);
      if (remaining > limit) {
        onViolation(`PDU type ${type} of ${remaining} bytes exceeds ${limit}`);
        socket.destroy();
        return;
      }
    }
  });
}
