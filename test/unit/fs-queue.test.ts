// What is particular to the embedded job queue (the behaviour every queue shares is in
// test/cluster/job-queue-contract.test.ts): durable files, and the file is the truth.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FsJobQueue } from '../../src/queue/fs-queue.js';

describe('FsJobQueue', () => {
  const dir = mkdtempSync(join(tmpdir(), 'interslice-queue-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('survives a restart: a new queue on the same folder sees unacknowledged jobs', async () => {
    const path = join(dir, 'd');
    const q1 = new FsJobQueue(path);
    await q1.enqueue('series', 'S1', { n: 1 }, { notBefore: 0 });
    await q1.lease('series', 1); // leased, then the process "dies"
    const q2 = new FsJobQueue(path);
    assert.ok(await q2.lease('series', 1), 'the job runs again after a restart');
  });

  it('counts queued and leased jobs, and skips a job whose file went away', async () => {
    const path = join(dir, 'f');
    const q = new FsJobQueue(path);
    await q.enqueue('series', 'S1', { n: 1 }, { notBefore: 0 });
    await q.enqueue('series', 'S2', { n: 2 }, { notBefore: 5 });
    await q.enqueue('series', 'S3', { n: 3 }, { notBefore: 5000 });
    assert.deepEqual((await q.depth()).series, { queued: 3, leased: 0, dead: 0 });
    // S1's file removed outside the queue: the next lease gives S2, and S1 is no longer counted.
    const folder = join(path, 'series');
    const s1 = readdirSync(folder).find((f) => JSON.parse(readFileSync(join(folder, f), 'utf8')).id === 'S1')!;
    rmSync(join(folder, s1));
    const next = await q.lease<{ n: number }>('series', 10);
    assert.equal(next?.payload.n, 2);
    assert.deepEqual((await q.depth()).series, { queued: 1, leased: 1, dead: 0 });
  });

  it('a job re-enqueued later than the schedule knew (the file is the truth) waits for its new time', async () => {
    const path = join(dir, 'g');
    const q = new FsJobQueue(path);
    await q.enqueue('series', 'S1', { n: 1 }, { notBefore: 0 });
    // Another writer of the same file (a racing enqueue) pushed it out: lease follows the file.
    const [f] = readdirSync(join(path, 'series'));
    const job = (await q.list('series'))[0];
    writeFileSync(join(path, 'series', f), JSON.stringify({ ...job, notBefore: 1000 }));
    assert.equal(await q.lease('series', 10), undefined);
    assert.ok(await q.lease('series', 1000));
  });
});
