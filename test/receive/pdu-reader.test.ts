// PduReader on hand-built PDU streams (PS3.8 9.3): whatever the socket's chunking, the same
// PDVs and control PDUs come out; bad lengths and types throw before anything is buffered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxPduFor, PduMalformed, PduOversize, PduReader } from '../../src/receive/transport/pdu-reader.js';

/** A PDU: type, reserved byte, 32-bit big-endian length, body. */
function pdu(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}
/** A PDV item: 32-bit length (value + 2), context id, control header, value. */
function pdv(pcid: number, control: number, value: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt32BE(value.length + 2, 0);
  h[4] = pcid;
  h[5] = control;
  return Buffer.concat([h, value]);
}

interface Seen {
  controls: Buffer[];
  /** One entry per whole PDV: pcid, control, its value reassembled. */
  pdvs: { pcid: number; control: number; value: Buffer }[];
  pdus: number;
}

function reader(max = 16384): { r: PduReader; seen: Seen } {
  const seen: Seen = { controls: [], pdvs: [], pdus: 0 };
  let parts: Buffer[] = [];
  const r = new PduReader(max, {
    control: (_type, p) => seen.controls.push(Buffer.from(p)),
    pdv: (pcid, control, value, end) => {
      parts.push(Buffer.from(value));
      if (!end) return;
      seen.pdvs.push({ pcid, control, value: Buffer.concat(parts) });
      parts = [];
    },
    pduDone: () => seen.pdus++,
  });
  return { r, seen };
}

const associateRq = pdu(0x01, Buffer.from('an association request body'));
const data = pdu(0x04, Buffer.concat([pdv(1, 0x03, Buffer.from('command set')), pdv(1, 0x00, Buffer.alloc(300, 7)), pdv(1, 0x02, Buffer.alloc(0))]));
const release = pdu(0x05, Buffer.alloc(4));
const stream = Buffer.concat([associateRq, data, release]);

function check(seen: Seen): void {
  assert.deepEqual(seen.controls, [associateRq, release]);
  assert.deepEqual(seen.pdvs, [
    { pcid: 1, control: 0x03, value: Buffer.from('command set') },
    { pcid: 1, control: 0x00, value: Buffer.alloc(300, 7) },
    { pcid: 1, control: 0x02, value: Buffer.alloc(0) },
  ]);
  assert.equal(seen.pdus, 3);
}

test('several PDUs in one chunk come out in order', () => {
  const { r, seen } = reader();
  r.push(stream);
  check(seen);
});

test('a stream split at every byte boundary reads the same', () => {
  for (let cut = 1; cut < stream.length; cut++) {
    const { r, seen } = reader();
    r.push(stream.subarray(0, cut));
    r.push(stream.subarray(cut));
    check(seen);
  }
});

test('a stream fed one byte at a time reads the same', () => {
  const { r, seen } = reader();
  for (let i = 0; i < stream.length; i++) r.push(stream.subarray(i, i + 1));
  check(seen);
});

test('a PDU longer than allowed is refused from its header', () => {
  const { r, seen } = reader(16384);
  const head = Buffer.alloc(6);
  head[0] = 0x04;
  head.writeUInt32BE(maxPduFor(0x04, 16384) + 1, 2);
  assert.throws(() => r.push(head), PduOversize);
  assert.equal(seen.pdvs.length, 0);
  const control = Buffer.alloc(6);
  control[0] = 0x01;
  control.writeUInt32BE(0xffffffff, 2);
  assert.throws(() => reader().r.push(control), PduOversize);
});

test('garbage is malformed: unknown type, PDV past its PDU, P-DATA without a PDV', () => {
  assert.throws(() => reader().r.push(pdu(0x09, Buffer.alloc(4))), PduMalformed);
  assert.throws(() => reader().r.push(Buffer.from('GET / HTTP/1.1\r\n')), PduMalformed);
  const long = pdv(1, 0, Buffer.alloc(10));
  long.writeUInt32BE(100, 0); // claims more than the PDU holds
  assert.throws(() => reader().r.push(pdu(0x04, long)), PduMalformed);
  assert.throws(() => reader().r.push(pdu(0x04, Buffer.alloc(3))), PduMalformed);
  const short = pdv(1, 0, Buffer.alloc(0));
  short.writeUInt32BE(1, 0); // below the 2 bytes of context id and control header
  assert.throws(() => reader().r.push(pdu(0x04, short)), PduMalformed);
});

test('nothing is read after stop()', () => {
  const { r, seen } = reader();
  r.stop();
  r.push(stream);
  assert.equal(seen.pdus, 0);
});
