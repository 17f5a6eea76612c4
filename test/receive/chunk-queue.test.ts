// ChunkQueue: batches what was pushed since the last pull, reports the high-water mark, ends
// or fails the consumer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkQueue } from '../../src/receive/transport/chunk-queue.js';

test('a pull takes everything queued as one batch; the high-water mark pauses and a pull resumes', async () => {
  let drained = 0;
  const q = new ChunkQueue(10, () => drained++);
  assert.equal(q.push(Buffer.alloc(4)), true);
  assert.equal(q.push(Buffer.alloc(6)), false, 'at the mark: pause the source');
  const it = q[Symbol.asyncIterator]();
  const first = await it.next();
  assert.deepEqual(first.value?.map((b: Buffer) => b.length), [4, 6]);
  assert.equal(drained, 1);
  const next = it.next(); // waits for more
  q.push(Buffer.from('x'));
  assert.deepEqual((await next).value, [Buffer.from('x')]);
  q.end();
  assert.equal((await it.next()).done, true);
});

test('fail() drops what is queued and throws in the consumer, also one already waiting', async () => {
  const q = new ChunkQueue(1024, () => undefined);
  const it = q[Symbol.asyncIterator]();
  const waiting = it.next();
  q.fail(new Error('connection closed'));
  await assert.rejects(waiting, /connection closed/);
  assert.equal(q.failed, true);
  const q2 = new ChunkQueue(1024, () => undefined);
  q2.push(Buffer.from('lost'));
  q2.fail(new Error('aborted'));
  await assert.rejects(q2[Symbol.asyncIterator]().next(), /aborted/);
});
