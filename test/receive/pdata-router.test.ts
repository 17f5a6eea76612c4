// PDataRouter: a C-STORE-RQ's dataset goes to its store target fragment by fragment; other
// DIMSE messages go to dcmjs-dimse re-framed as one-PDV P-DATA-TF PDUs; out-of-order fragments throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandField, MalformedCommand, pDataPdu } from '../../src/receive/transport/dimse-command.js';
import { PDataRouter } from '../../src/receive/transport/pdata-router.js';

/** An Implicit VR LE command set with the elements the router reads. */
function command(field: number, withDataset: boolean): Buffer {
  const el = (element: number, value: Buffer) => {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0, 0);
    h.writeUInt16LE(element, 2);
    h.writeUInt32LE(value.length, 4);
    return Buffer.concat([h, value]);
  };
  const us = (n: number) => Buffer.from([n & 0xff, n >> 8]);
  return Buffer.concat([
    el(0x0002, Buffer.from('1.2.840.10008.5.1.4.1.1.4\0', 'latin1')),
    el(0x0100, us(field)),
    el(0x0110, us(9)),
    el(0x0800, us(withDataset ? 0x0000 : 0x0101)),
    el(0x1000, Buffer.from('1.2.3\0', 'latin1')),
  ]);
}

function router() {
  const stored: { messageId?: number; sop?: string; pcid: number; parts: Buffer[]; ended: boolean }[] = [];
  const forwarded: Buffer[] = [];
  const r = new PDataRouter({
    store: (cmd, pcid) => {
      const s = { messageId: cmd.messageId, sop: cmd.affectedSopInstanceUid, pcid, parts: [] as Buffer[], ended: false };
      stored.push(s);
      return { push: (v) => s.parts.push(v), end: () => (s.ended = true) };
    },
    forward: (p) => forwarded.push(p),
  });
  return { r, stored, forwarded };
}

test('a C-STORE-RQ command in fragments, then its dataset, reaches the store target', () => {
  const { r, stored, forwarded } = router();
  const cmd = command(CommandField.cStoreRq, true);
  r.pdv(3, 0x01, cmd.subarray(0, 10), true); // command, not last
  r.pdv(3, 0x03, cmd.subarray(10, 20), false); // last fragment, split across reads
  r.pdv(3, 0x03, cmd.subarray(20), true);
  assert.equal(stored.length, 1);
  assert.deepEqual({ messageId: stored[0].messageId, sop: stored[0].sop, pcid: stored[0].pcid }, { messageId: 9, sop: '1.2.3', pcid: 3 });
  r.pdv(3, 0x00, Buffer.from('abc'), true);
  r.pdv(3, 0x02, Buffer.from('de'), false);
  assert.equal(stored[0].ended, false);
  r.pdv(3, 0x02, Buffer.from('f'), true);
  assert.equal(Buffer.concat(stored[0].parts).toString(), 'abcdef');
  assert.equal(stored[0].ended, true);
  assert.equal(forwarded.length, 0);
  // The next command starts a new dataset.
  r.pdv(3, 0x03, cmd, true);
  assert.equal(stored.length, 2);
});

test('other commands and their datasets go to dcmjs-dimse as whole PDVs', () => {
  const { r, stored, forwarded } = router();
  const echo = command(0x0030, false);
  r.pdv(1, 0x03, echo, true);
  assert.deepEqual(forwarded, [pDataPdu(1, 0x03, echo)]);
  const find = command(0x0020, true);
  r.pdv(1, 0x03, find, true);
  r.pdv(1, 0x02, Buffer.from('ke'), false);
  r.pdv(1, 0x02, Buffer.from('ys'), true);
  assert.deepEqual(forwarded.slice(1), [pDataPdu(1, 0x03, find), pDataPdu(1, 0x02, Buffer.from('keys'))]);
  assert.equal(stored.length, 0);
});

test('fragments out of order are malformed', () => {
  assert.throws(() => router().r.pdv(1, 0x00, Buffer.from('data'), true), MalformedCommand, 'dataset without a command');
  const store = command(CommandField.cStoreRq, true);
  const a = router().r;
  a.pdv(1, 0x03, store, true);
  assert.throws(() => a.pdv(1, 0x03, store, true), MalformedCommand, 'command while a dataset is expected');
  const b = router().r;
  b.pdv(1, 0x03, store, true);
  assert.throws(() => b.pdv(2, 0x00, Buffer.from('x'), true), MalformedCommand, 'dataset on another context');
  const c = router().r;
  c.pdv(1, 0x01, store.subarray(0, 8), true);
  assert.throws(() => c.pdv(2, 0x03, store.subarray(8), true), MalformedCommand, 'command on two contexts');
  const d = router().r;
  assert.throws(() => d.pdv(1, 0x01, Buffer.alloc(65 * 1024), true), MalformedCommand, 'oversize command set');
});
