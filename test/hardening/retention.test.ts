// Retention (storage.retentionHours): processed spool series, derived series and delivered
// outbox entries go after the retention time; anything still owed to a destination stays.
// Once on the sweep itself (real spool, outbox, markers on disk) and once through a real
// `interslice serve` pushing to storescp.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import winston from 'winston';
import { sweepRetention } from '../../src/core/retention.js';
import { ProcessedMarkers } from '../../src/pipeline/processed.js';
import { FsSpool } from '../../src/receive/spool-fs.js';
import { Outbox } from '../../src/send/outbox.js';
import { MR_DIR, startStorescp, storescu } from '../helpers/peers.js';
import { serve } from '../helpers/serve.js';

const HOUR = 3_600_000;
const quiet = winston.createLogger({ silent: true });

describe('retention sweep', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-retention-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('removes delivered, old series and keeps undelivered or recent ones', async () => {
    const spool = new FsSpool(join(work, 'spool'));
    const markers = new ProcessedMarkers(join(work, 'processed'));
    const derivedRoot = join(work, 'derived');
    const outbox = new Outbox({
      dir: join(work, 'outbox'),
      destinations: [{ name: 'pacs', aeTitle: 'PACS', host: '127.0.0.1', port: 1, callingAeTitle: 'X' }],
      // Series "bad" never gets through; the others do.
      send: async (_d, files) => files.map((file) => ({ file, ok: !file.includes('bad'), status: file.includes('bad') ? 0xa700 : 0 })),
      backoff: { baseMs: 60_000, maxAttempts: 5 },
      log: quiet,
    });
    const now = Date.now();
    const series = [
      { name: 'old', age: 48 * HOUR },
      { name: 'bad', age: 48 * HOUR },
      { name: 'new', age: 1 * HOUR },
    ];
    for (const [i, s] of series.entries()) {
      const study = '1.2.3';
      const seriesUid = `1.2.3.${i + 1}`;
      await spool.store({ studyInstanceUid: study, seriesInstanceUid: seriesUid, sopInstanceUid: `${seriesUid}.1`, sopClassUid: '1.2.840.10008.5.1.4.1.1.4', transferSyntaxUid: '1.2.840.10008.1.2.1', dataset: Buffer.alloc(16) });
      mkdirSync(join(derivedRoot, s.name), { recursive: true });
      const file = join(derivedRoot, s.name, '0001.dcm');
      writeFileSync(file, 'x');
      await outbox.enqueue(`2.25.${s.name}`, [file], ['pacs']);
      await markers.write({
        jobId: `${study}/${seriesUid}`, studyInstanceUid: study, seriesInstanceUid: seriesUid, spoolKey: spool.seriesKey(study, seriesUid),
        instances: 1, derivedDir: s.name, derivedSeries: [`2.25.${s.name}`], finishedAt: now - s.age,
      });
    }
    await outbox.drain();
    const result = await sweepRetention(
      { markers, outbox, spool, derivedRoot, retentionMs: 24 * HOUR, jobWaiting: async () => false, log: quiet },
      now,
    );
    assert.deepEqual(result, { removedSeries: 1, keptUndelivered: 1 });
    assert.equal((await spool.listSeries('1.2.3', '1.2.3.1')).length, 0, 'old spool series removed');
    assert.equal((await spool.listSeries('1.2.3', '1.2.3.2')).length, 1, 'undelivered kept');
    assert.equal((await spool.listSeries('1.2.3', '1.2.3.3')).length, 1, 'recent kept');
    assert.deepEqual(readdirSync(derivedRoot).sort(), ['bad', 'new']);
    assert.deepEqual((await outbox.list()).map((e) => e.seriesId).sort(), ['2.25.bad', '2.25.new']);
    assert.equal((await markers.list()).length, 2);
    // retentionHours 0 keeps everything.
    assert.deepEqual(await sweepRetention({ markers, outbox, spool, derivedRoot, retentionMs: 0, jobWaiting: async () => false, log: quiet }, now + 1000 * HOUR), {
      removedSeries: 0, keptUndelivered: 0,
    });
  });
});

describe('retention in a running node', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-retention-node-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('removes the spool series, derived series and outbox entry after retentionHours', async () => {
    mkdirSync(join(work, 'pacs'), { recursive: true });
    const pacs = await startStorescp(join(work, 'pacs'));
    const node = await serve({
      work,
      config: [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
        // 0.001 h = 3.6 s; the sweep runs every second at this setting.
        `storage: { dir: ${JSON.stringify(join(work, 'var'))}, minFreeMb: 0, retentionHours: 0.001 }`,
        'pipeline: { stableSeconds: 1, method: linear }',
        `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${pacs.port} } ]`,
        'admin: { enabled: false }',
      ],
    });
    try {
      const r = await storescu('127.0.0.1', node.port, [join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing')]);
      assert.equal(r.code, 0, r.stderr);
      await node.waitFor((l) => l.event === 'send-done', 60_000, 'send-done');
      assert.ok(readdirSync(join(work, 'var', 'derived')).length > 0);
      await node.waitFor((l) => l.event === 'retention-removed', 30_000, 'retention-removed');
      const left = (sub: string) => (existsSync(join(work, 'var', sub)) ? readdirSync(join(work, 'var', sub), { recursive: true }).filter((n) => String(n).endsWith('.dcm') || String(n).endsWith('.json')) : []);
      assert.deepEqual(left('spool'), []);
      assert.deepEqual(left('derived'), []);
      assert.deepEqual(left('outbox'), []);
      assert.deepEqual(left('processed'), []);
      assert.equal(readdirSync(join(work, 'pacs')).length, 89, 'the PACS keeps what it got');
    } finally {
      await node.stop();
      await pacs.stop();
    }
  });
});
