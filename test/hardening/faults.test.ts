// Faults between the node and its peers, all with real DCMTK peers: a destination that is down,
// refusing, slow or stalled gets retries with capped exponential backoff that survive a restart
// of the outbox, then a visible dead letter; and an association aborted mid-series keeps what
// was acknowledged, the series completing when the rest arrives (one derived series).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import winston from 'winston';
import { backoffDelay, Outbox, type OutboxEntry } from '../../src/send/outbox.js';
import { sendFiles } from '../../src/send/destination.js';
import { freePort, MR_DIR, startStorescp, storescu } from '../helpers/peers.js';
import { pacsContent } from './pacs.js';
import { serve, until } from '../helpers/serve.js';
import { startProxy } from './tcp-proxy.js';

const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
const ASL_FILES = readdirSync(ASL).sort().map((n) => join(ASL, n));
const FILES = ASL_FILES.slice(0, 4);

function captureLog(): { log: winston.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) })],
  });
  return { log, lines };
}

function outbox(dir: string, port: number, log: winston.Logger, o: { maxAttempts: number; timeoutMs?: number }): Outbox {
  return new Outbox({
    dir,
    destinations: [{ name: 'pacs', aeTitle: 'PACS', host: '127.0.0.1', port, callingAeTitle: 'INTERSLICE' }],
    send: (d, f) => sendFiles(d, f, o.timeoutMs ?? 5000),
    log,
    backoff: { baseMs: 200, maxMs: 800, maxAttempts: o.maxAttempts },
    pollMs: 50,
  });
}

async function entry(ob: Outbox): Promise<OutboxEntry> {
  return (await ob.list())[0];
}

describe('destination faults: retries, backoff, restarts, dead letter', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-faults-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('retries a destination that is down with capped exponential backoff, across a restart, then dead-letters; requeue delivers', async () => {
    const dir = join(work, 'down');
    const port = await freePort();
    const { log, lines } = captureLog();
    const first = outbox(dir, port, log, { maxAttempts: 6 });
    await first.enqueue('1.2.3.down', FILES, ['pacs']);
    first.start();
    await until(async () => (await entry(first)).attempts >= 2, 20_000, 'two failed attempts');
    await first.stop();

    // A restart (new Outbox on the same folder) continues the count where it was.
    const second = outbox(dir, port, log, { maxAttempts: 6 });
    const kept = await entry(second);
    assert.equal(kept.state, 'queued');
    assert.ok(kept.attempts >= 2);
    second.start();
    await until(async () => (await entry(second)).state === 'dead', 30_000, 'dead letter');
    await second.stop();
    const dead = await entry(second);
    assert.equal(dead.attempts, 6);
    assert.match(dead.lastError ?? '', /4 of 4 failed/);
    const failed = lines.filter((l) => l.event === 'send-failed').map((l) => Number(l.retryInMs));
    // 200, 400, 800 (cap), 800, 800 ms: the delay doubles and stops at maxMs.
    assert.deepEqual(failed.map((ms) => Math.round(ms / 100) * 100), [1, 2, 3, 4, 5].map((n) => backoffDelay(n, { baseMs: 200, maxMs: 800 })));
    assert.equal(lines.filter((l) => l.event === 'send-dead').length, 1);

    // The operator fixes the destination and requeues the dead entry.
    mkdirSync(join(dir, '..', 'pacs-down'), { recursive: true });
    const pacs = await startStorescp(join(dir, '..', 'pacs-down'), { port });
    try {
      await second.requeue(dead.id);
      await second.drain();
      assert.equal((await entry(second)).state, 'done');
      assert.equal(readdirSync(join(dir, '..', 'pacs-down')).length, FILES.length);
    } finally {
      await pacs.stop();
    }
  });

  it('dead-letters a destination that refuses the association, with the reason visible', async () => {
    mkdirSync(join(work, 'pacs-refuse'), { recursive: true });
    const pacs = await startStorescp(join(work, 'pacs-refuse'), { args: ['--refuse'] });
    const { log, lines } = captureLog();
    const ob = outbox(join(work, 'refuse'), pacs.port, log, { maxAttempts: 2 });
    try {
      await ob.enqueue('1.2.3.refuse', FILES, ['pacs']);
      ob.start();
      await until(async () => (await entry(ob)).state === 'dead', 20_000, 'dead letter');
      await ob.stop();
      assert.match((await entry(ob)).lastError ?? '', /association rejected/);
      assert.ok(lines.some((l) => l.event === 'send-dead'));
    } finally {
      await pacs.stop();
    }
  });

  it('delivers through a slow link, and retries after a stalled one times out', async () => {
    mkdirSync(join(work, 'pacs-slow'), { recursive: true });
    const pacs = await startStorescp(join(work, 'pacs-slow'));
    const proxy = await startProxy(pacs.port, { delayMs: 20 });
    const { log, lines } = captureLog();
    try {
      const slow = outbox(join(work, 'slow'), proxy.port, log, { maxAttempts: 5, timeoutMs: 1500 });
      await slow.enqueue('1.2.3.slow', FILES, ['pacs']);
      await slow.drain();
      assert.equal((await entry(slow)).state, 'done');
      assert.equal((await entry(slow)).attempts, 0, 'a slow link is not a failure');

      proxy.behaviour.stall = true;
      const stalled = outbox(join(work, 'stalled'), proxy.port, log, { maxAttempts: 5, timeoutMs: 1500 });
      await stalled.enqueue('1.2.3.stalled', ASL_FILES.slice(4, 8), ['pacs']);
      stalled.start();
      await until(async () => (await entry(stalled)).attempts >= 1, 20_000, 'a timed-out attempt');
      proxy.behaviour.stall = false;
      await until(async () => (await entry(stalled)).state === 'done', 20_000, 'delivery after the stall');
      await stalled.stop();
      assert.ok(lines.some((l) => l.event === 'send-failed' && String(l.entry).includes('stalled')));
      assert.equal(readdirSync(join(work, 'pacs-slow')).length, 8);
    } finally {
      await proxy.close();
      await pacs.stop();
    }
  });
});

describe('association aborted mid-series', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-abort-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('keeps what was acknowledged; the series completes when the rest arrives (one derived series)', async () => {
    mkdirSync(join(work, 'pacs'), { recursive: true });
    const pacs = await startStorescp(join(work, 'pacs'), { args: ['-v'] });
    const node = await serve({
      work,
      config: [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
        `storage: { dir: ${JSON.stringify(join(work, 'var'))}, minFreeMb: 0 }`,
        'pipeline: { stableSeconds: 1 }',
        'send: { baseDelaySeconds: 0.5, maxDelaySeconds: 2 }',
        `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${pacs.port} } ]`,
        'admin: { enabled: false }',
      ],
    });
    // The link dies in the middle of the 7th instance (each is about 146 kB).
    const proxy = await startProxy(node.port, { cutAfterBytes: 6.5 * 146_000 });
    try {
      const cut = await storescu('127.0.0.1', proxy.port, [ASL]);
      assert.notEqual(cut.code, 0, 'storescu saw the association die');
      const spooled = () => node.logs.filter((l) => l.event === 'instance-stored').length;
      await until(() => node.logs.some((l) => l.message === 'series job finished'), 20_000, 'job on the partial series');
      const partial = spooled();
      assert.ok(partial >= 5 && partial <= 7, `instances kept: ${partial}`);
      // Too few slices for a volume: nothing derived yet, nothing half-sent.
      assert.equal(readdirSync(join(work, 'pacs')).length, 0);

      // The modality resends the series: the acknowledged ones are duplicates, the rest new.
      const rest = await storescu('127.0.0.1', node.port, [ASL]);
      assert.equal(rest.code, 0, rest.stderr);
      await until(() => readdirSync(join(work, 'pacs')).length >= 89, 60_000, '89 derived instances');
      await node.waitFor((l) => l.event === 'send-done');
      await new Promise((r) => setTimeout(r, 1500));
      const content = await pacsContent(join(work, 'pacs'), pacs.output());
      assert.equal(content.series.size, 1);
      assert.equal([...content.series.values()][0].size, 89);
      assert.equal(content.receipts, 89, 'nothing sent twice');
      const dup = node.logs.filter((l) => l.event === 'instance-stored' && l.duplicate === true).length;
      assert.equal(dup, partial, 'the acknowledged instances were recognised as resent');
    } finally {
      await proxy.close();
      await node.stop();
      await pacs.stop();
    }
  });
});
