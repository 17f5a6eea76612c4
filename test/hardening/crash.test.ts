// Crash harness: for each named fail point a real `interslice serve` is killed with SIGKILL at
// that point while a real series goes through it (storescu -> node -> storescp), restarted
// without the fail point, and the series pushed again as a modality would resend after a
// failure. The PACS must end with exactly one derived series per processed source stack,
// complete, without duplicate SOP Instance UIDs. Delivery is at-least-once of identical
// instances (a crash mid-send resends what was not recorded as acknowledged); the receipt
// counts are reported.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MR_DIR, startStorescp, storescu } from '../helpers/peers.js';
import { pacsContent } from './pacs.js';
import { serve, until } from '../helpers/serve.js';

const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing'); // 12 slices -> 89 derived at 1 mm
const ENHANCED = join(MR_DIR, 'enhanced'); // 1 instance, 40 frames -> 157 derived

interface Case {
  failpoint: string;
  input: string;
  expected: number;
  /** The restart must queue the lost series job itself. */
  recovery?: boolean;
}

const CASES: Case[] = [
  { failpoint: 'store-before-ack:6', input: ASL, expected: 89 }, // mid-association
  // A single-instance series acknowledged, then the crash before its job was queued: the
  // resend is a duplicate (queues nothing), so only start-up recovery can save it.
  { failpoint: 'after-ack-before-enqueue:1', input: ENHANCED, expected: 157, recovery: true },
  { failpoint: 'mid-series-job:1', input: ASL, expected: 89 },
  { failpoint: 'mid-derive-write:40', input: ASL, expected: 89 },
  { failpoint: 'after-outbox-enqueue:1', input: ASL, expected: 89 },
  { failpoint: 'mid-send:30', input: ASL, expected: 89 },
];

const summary: string[] = [];

describe('crash safety: SIGKILL at each fail point, restart, one complete derived series', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-crash-'));
  after(() => {
    rmSync(work, { recursive: true, force: true });
    console.log(`crash harness:\n  ${summary.join('\n  ')}`);
  });

  for (const c of CASES) {
    it(`survives ${c.failpoint}`, async () => {
      const dir = join(work, c.failpoint.replace(/[^a-z0-9-]/gi, '_'));
      mkdirSync(join(dir, 'pacs'), { recursive: true });
      const pacs = await startStorescp(join(dir, 'pacs'), { aeTitle: 'PACS', args: ['-v'] });
      const config = [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
        `storage: { dir: ${JSON.stringify(join(dir, 'var'))}, minFreeMb: 0 }`,
        'pipeline: { stableSeconds: 1, targetSpacingMm: 1.0, method: cubic }',
        'send: { baseDelaySeconds: 0.5, maxDelaySeconds: 2, timeoutSeconds: 10 }',
        `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${pacs.port} } ]`,
        'admin: { enabled: false }',
      ];
      try {
        // Phase 1: the fail point kills the node.
        const first = await serve({ work: dir, config, failpoints: c.failpoint });
        await storescu('127.0.0.1', first.port, [c.input], { timeoutMs: 60_000 });
        const timer = setTimeout(() => first.child.kill('SIGKILL'), 60_000);
        const end = await first.exited;
        clearTimeout(timer);
        const fired = first.logs.find((l) => l.message === 'failpoint fired');
        assert.equal(end.signal, 'SIGKILL');
        assert.ok(fired, `fail point ${c.failpoint} did not fire:\n${first.raw().slice(-2000)}`);
        const beforeRestart = readdirSync(join(dir, 'pacs')).length;

        // Phase 2: restart without fail points; the modality resends the series.
        const second = await serve({ work: dir, config });
        const resend = await storescu('127.0.0.1', second.port, [c.input], { timeoutMs: 60_000 });
        assert.equal(resend.code, 0, resend.stdout + resend.stderr);
        await until(() => readdirSync(join(dir, 'pacs')).length >= c.expected, 90_000, `${c.expected} derived instances at the PACS`);
        await second.waitFor((l) => l.event === 'send-done', 30_000, 'send-done');
        await new Promise((r) => setTimeout(r, 1000)); // anything still on its way
        await second.stop();
        if (c.recovery) assert.ok(second.logs.some((l) => l.event === 'recovery-queued'), 'start-up recovery queued the lost job');

        const content = await pacsContent(join(dir, 'pacs'), pacs.output());
        assert.equal(content.series.size, 1, `derived series at the PACS: ${content.series.size}`);
        const [sops] = [...content.series.values()];
        assert.equal(sops.size, c.expected, 'complete derived series');
        assert.equal(content.files, c.expected, 'no extra files');
        summary.push(
          `${c.failpoint}: killed, restarted; PACS holds 1 series of ${sops.size} unique instances ` +
            `(${beforeRestart} before the restart, ${content.receipts} C-STORE receipts in all, ${content.receipts - sops.size} resent)`,
        );
      } finally {
        await pacs.stop();
      }
    });
  }
});
