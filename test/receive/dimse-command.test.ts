// The C-STORE fast path's own command parsing and response encoding, checked against byte
// layouts written out by hand from PS3.7 E.1 (Implicit VR Little Endian command sets) and
// PS3.8 9.3.5 (P-DATA-TF), not against the encoder itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MalformedCommand, parseCommand, storeResponsePdu } from '../../src/receive/transport/dimse-command.js';

/** Tag group, element, 32-bit length, value: one Implicit VR LE element. */
function el(group: number, element: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}
const u16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);

const MR = '1.2.840.10008.5.1.4.1.1.4'; // 25 characters: padded with one NUL

test('a C-STORE-RSP is one P-DATA-TF PDU with the PS3.7 elements in tag order', () => {
  const pdu = storeResponsePdu({ pcid: 5, messageId: 7, sopClassUid: MR, sopInstanceUid: '1.2.3', status: 0 });
  // elements: (0000,0002) 8+26, (0000,0100) 10, (0000,0120) 10, (0000,0800) 10, (0000,0900) 10,
  // (0000,1000) 8+6 = 88 bytes after the group length element (12 bytes): 100-byte command set
  assert.equal(pdu.length, 6 + 4 + 2 + 100);
  assert.equal(pdu[0], 0x04);
  assert.equal(pdu.readUInt32BE(2), 106, 'PDU length');
  assert.equal(pdu.readUInt32BE(6), 102, 'PDV length = value + pcid + control');
  assert.equal(pdu[10], 5, 'presentation context');
  assert.equal(pdu[11], 0x03, 'command, last fragment');
  const want = Buffer.concat([
    el(0, 0x0000, Buffer.from([88, 0, 0, 0])),
    el(0, 0x0002, Buffer.from(MR + '\0', 'latin1')),
    el(0, 0x0100, u16(0x8001)),
    el(0, 0x0120, u16(7)),
    el(0, 0x0800, u16(0x0101)),
    el(0, 0x0900, u16(0)),
    el(0, 0x1000, Buffer.from('1.2.3\0', 'latin1')),
  ]);
  assert.deepEqual(pdu.subarray(12), want);
});

test('an error comment is LO: space padded, at most 64 characters, before (0000,1000)', () => {
  const pdu = storeResponsePdu({ pcid: 1, messageId: 1, sopClassUid: MR, sopInstanceUid: '1.2', status: 0xa700, comment: 'x'.repeat(70) });
  const body = pdu.subarray(12);
  const at = body.indexOf(Buffer.from([0x00, 0x00, 0x02, 0x09]));
  assert.ok(at > 0);
  assert.equal(body.readUInt32LE(at + 4), 64);
  assert.equal(body.readUInt16LE(body.indexOf(Buffer.from([0x00, 0x00, 0x00, 0x09])) + 8), 0xa700);
  const odd = storeResponsePdu({ pcid: 1, messageId: 1, sopClassUid: MR, sopInstanceUid: '1.2', status: 0xc000, comment: 'bad' }).subarray(12);
  const c = odd.indexOf(Buffer.from([0x00, 0x00, 0x02, 0x09]));
  assert.equal(odd.subarray(c + 8, c + 12).toString('latin1'), 'bad ');
});

test('a C-STORE-RQ command set is read: command, message id, UIDs without padding, dataset flag', () => {
  const rq = Buffer.concat([
    el(0, 0x0000, Buffer.from([0, 0, 0, 0])),
    el(0, 0x0002, Buffer.from(MR + '\0', 'latin1')),
    el(0, 0x0100, u16(0x0001)),
    el(0, 0x0110, u16(42)),
    el(0, 0x0700, u16(0)),
    el(0, 0x0800, u16(0x0000)),
    el(0, 0x1000, Buffer.from('1.2.3.4 ', 'latin1')),
  ]);
  assert.deepEqual(parseCommand(rq), { hasDataset: true, affectedSopClassUid: MR, commandField: 1, messageId: 42, affectedSopInstanceUid: '1.2.3.4' });
  const echo = Buffer.concat([el(0, 0x0100, u16(0x0030)), el(0, 0x0800, u16(0x0101))]);
  assert.equal(parseCommand(echo).hasDataset, false);
});

test('malformed command sets are refused with MalformedCommand, never a crash', () => {
  const good = el(0, 0x0110, u16(1));
  assert.throws(() => parseCommand(good.subarray(0, 5)), MalformedCommand, 'ends inside an element header');
  const long = Buffer.from(good);
  long.writeUInt32LE(1000, 4);
  assert.throws(() => parseCommand(long), MalformedCommand, 'runs past the end');
  assert.throws(() => parseCommand(el(0, 0x0100, Buffer.from([1, 0, 0, 0]))), MalformedCommand, 'US of 4 bytes');
});
