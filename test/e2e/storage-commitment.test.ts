// Storage Commitment Push Model against a real PACS: Debian's Orthanc as the destination's
// storage commitment SCP. A thick-slice MR series goes by DCMTK storescu into a real
// `interslice serve` whose destination has storageCommitment: true; Orthanc answers the
// N-ACTION and sends its N-EVENT-REPORT on a new association to the node's listener (it knows
// our AE title and port from its DicomModalities). The outbox entry is done only after that
// report, which commits every instance; Orthanc's own REST API says what it holds.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readFileMeta } from '../../src/send/file-dataset.js';
import { haveTool } from '../helpers/dicom-tools.js';
import { outboxEntries, testNodeConfig } from '../helpers/node-config.js';
import { orthancJson, startOrthanc } from '../helpers/orthanc.js';
import { MR_DIR, freePort, storescu } from '../helpers/peers.js';
import { serve } from '../helpers/serve.js';

const FOLDER = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
/** 12 slices 7.5 mm apart, resampled at 1 mm (7.5/8): 11 * 8 + 1 slices. */
const DERIVED = 89;

const skip = !haveTool('Orthanc') ? 'Orthanc not installed' : !haveTool('storescu') ? 'DCMTK not installed' : false;

const get = orthancJson;


describe('storage commitment (Orthanc as the commitment SCP)', { skip }, () => {
  const root = mkdtempSync(join(tmpdir(), 'interslice-stgcmt-'));
  const running: { stop(): Promise<void> }[] = [];
  after(async () => {
    for (const r of running.reverse()) await r.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  it('marks the series delivered only after Orthanc commits all 89 instances on a new association', async () => {
    const work = join(root, 'ok');
    const [pacsPort, nodePort] = [await freePort(), await freePort()];
    const orthanc = await startOrthanc({ dir: join(work, 'orthanc'), dicomPort: pacsPort, modalities: { interslice: { AET: 'INTERSLICE', Host: '127.0.0.1', Port: nodePort } } });
    running.push(orthanc);
    const dest = `{ name: pacs, aeTitle: ORTHANC, host: 127.0.0.1, port: ${pacsPort}, storageCommitment: true }`;
    const config = testNodeConfig({ work, stableSeconds: 1, pipeline: 'method: linear', destinations: [dest] }).map((l) =>
      l.startsWith('dicom:') ? `dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: ${nodePort} }` : l.startsWith('send:') ? 'send: { baseDelaySeconds: 1, maxDelaySeconds: 5, commitmentTimeoutSeconds: 60 }' : l,
    );
    const node = await serve({ work, config });
    running.push(node);
    assert.equal(node.port, nodePort);

    const r = await storescu('127.0.0.1', node.port, [FOLDER]);
    assert.equal(r.code, 0, r.stderr);
    const done = await node.waitFor((l) => l.event === 'send-done', 180_000, 'series delivered');

    // The report came on an association Orthanc opened to us, and it committed every instance.
    // The report's line is written once the outbox has recorded it and before its response.
    const report = await node.waitFor((l) => l.event === 'commit-report', 10_000, 'commitment report answered');
    const pacsOpened = node.logs.findIndex((l) => l.event === 'association-open' && l.callingAeTitle === 'ORTHANC');
    assert.ok(pacsOpened >= 0, 'Orthanc opened an association to the node');
    assert.equal(report.callingAeTitle, 'ORTHANC');
    assert.equal(report.status, '0x0000');
    assert.equal(report.eventTypeId, 1, 'all committed');
    assert.equal(report.committed, DERIVED);
    assert.equal(report.failed, 0);
    assert.equal(report.known, true);
    await node.waitFor((l) => l.event === 'commit-requested', 10_000, 'N-ACTION answered');
    assert.equal(node.logs.filter((l) => l.event === 'commit-report').length, 1, 'one report');
    const requested = node.logs.filter((l) => l.event === 'commit-requested');
    assert.equal(requested.length, 1);
    assert.equal(requested[0].instances, DERIVED);
    assert.equal(requested[0].transactionUid, report.transactionUid);
    // Done only after the report: the order of the node's own log lines.
    assert.ok(pacsOpened < node.logs.indexOf(done), 'done only after the report\'s association opened');
    assert.equal(done.transactionUid, report.transactionUid);
    assert.equal(done.committed, DERIVED);
    assert.ok(!node.logs.some((l) => l.event === 'send-failed' || l.event === 'send-dead'), 'no failed attempt');

    const [entry] = outboxEntries(work);
    assert.equal(entry.state, 'done');
    assert.equal(entry.files.length, DERIVED);
    assert.equal(entry.commitment?.committed, DERIVED);
    assert.equal(entry.commitment?.transactionUid, report.transactionUid);
    assert.equal(entry.commitment?.requests, 1);

    // Orthanc holds exactly the node's derived instances.
    assert.equal((await get<{ CountInstances: number }>(orthanc, '/statistics')).CountInstances, DERIVED);
    const found = await get<{ MainDicomTags: { SOPInstanceUID: string } }[]>(orthanc, '/tools/find', {
      method: 'POST',
      body: JSON.stringify({ Level: 'Instance', Query: { SeriesInstanceUID: entry.seriesId }, Expand: true }),
    });
    assert.deepEqual(found.map((i) => i.MainDicomTags.SOPInstanceUID).sort(), entry.files.map((f) => readFileMeta(f).sopInstanceUid).sort());
    await node.stop();
    await orthanc.stop();
  });
});
