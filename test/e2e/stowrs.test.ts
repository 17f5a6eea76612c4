// STOW-RS destination against a real DICOMweb origin server: Debian's Orthanc with its DICOMweb
// plugin and HTTP basic auth. A thick-slice MR series goes by DCMTK storescu into a real
// `interslice serve` whose destination is Orthanc's STOW-RS endpoint; arrival is read back by
// QIDO-RS (and Orthanc's statistics), not taken from the node's word. Then Orthanc killed
// mid-send and restarted on the same storage and port (the series arrives, once), and a wrong
// password (retried, visible in the outbox, the password nowhere in the node's logs).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readPart10 } from '../../src/dicom/dcmjs.js';
import { readFileMeta } from '../../src/send/file-dataset.js';
import { stowFiles } from '../../src/send/stow.js';
import type { OutboxEntry } from '../../src/send/outbox.js';
import { haveTool, listFiles } from '../helpers/dicom-tools.js';
import { outboxEntries, testNodeConfig } from '../helpers/node-config.js';
import { haveDicomWebPlugin, orthancJson, startOrthanc, type Orthanc } from '../helpers/orthanc.js';
import { MR_DIR, freePort, storescu } from '../helpers/peers.js';
import { serve, until, type Served } from '../helpers/serve.js';

const FOLDER = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
/** 12 slices 7.5 mm apart, resampled at 1 mm (7.5/8): 11 * 8 + 1 slices. */
const DERIVED = 89;
const USER = 'interslice';
const PASSWORD = 'stow-Secret-4f9a1c';
const WRONG = 'not-the-Password-77e2';

const skip = !haveTool('Orthanc') ? 'Orthanc not installed' : !haveTool('storescu') ? 'DCMTK not installed' : !haveDicomWebPlugin() ? 'orthanc-dicomweb not installed' : false;

/** Orthanc's REST/DICOMweb API as the test's own client (always the right password). */
function get<T>(o: Orthanc, path: string, accept = 'application/json'): Promise<T> {
  return orthancJson<T>(o, path, { headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, Accept: accept } });
}

const countInstances = async (o: Orthanc) => (await get<{ CountInstances: number }>(o, '/statistics')).CountInstances;


async function studyOf(file: string): Promise<string> {
  return String((await readPart10(file, { headerOnly: true })).dataset.StudyInstanceUID);
}

const sourceStudy = () => studyOf(listFiles(FOLDER)[0]);

/** The derived series as QIDO-RS lists it: SOP Instance UIDs, one per instance returned. */
async function qidoInstances(o: Orthanc, study: string, series: string): Promise<string[]> {
  const list = await get<Record<string, { Value?: string[] }>[]>(o, `/dicom-web/studies/${study}/series/${series}/instances`, 'application/dicom+json');
  return list.map((i) => i['00080018'].Value![0]);
}

/** A node whose one destination is the Orthanc's STOW-RS endpoint. */
async function stowNode(work: string, httpPort: number, auth: string, batchSize: number, env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const dest = `{ name: web, kind: stowrs, url: "http://127.0.0.1:${httpPort}/dicom-web/studies", auth: ${auth}, batchSize: ${batchSize} }`;
  const config = testNodeConfig({ work, stableSeconds: 1, pipeline: 'method: linear', destinations: [dest] });
  return serve({ work, config, env });
}

function assertNoSecrets(node: Served): void {
  const raw = node.raw();
  for (const s of [PASSWORD, WRONG, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), Buffer.from(`${USER}:${WRONG}`).toString('base64')]) {
    assert.ok(!raw.includes(s), 'a secret appears in the node log');
  }
}

describe('STOW-RS destination (Orthanc DICOMweb)', { skip }, () => {
  const root = mkdtempSync(join(tmpdir(), 'interslice-stowrs-'));
  const running: { stop(): Promise<void> }[] = [];
  after(async () => {
    for (const r of running.reverse()) await r.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  async function setup(name: string, auth: string, batchSize: number, env: NodeJS.ProcessEnv = {}) {
    const work = join(root, name);
    const orthancDir = join(work, 'orthanc');
    const dicomPort = await freePort();
    const orthanc = await startOrthanc({ dir: orthancDir, dicomPort, dicomWeb: true, users: { [USER]: PASSWORD } });
    running.push(orthanc);
    const node = await stowNode(work, orthanc.httpPort, auth, batchSize, env);
    running.push(node);
    return { work, orthancDir, dicomPort, orthanc, node };
  }

  async function push(node: Served): Promise<void> {
    const r = await storescu('127.0.0.1', node.port, [FOLDER]);
    assert.equal(r.code, 0, r.stderr);
  }

  /** The delivered series in Orthanc: exactly the node's derived files, each SOP Instance UID once. */
  async function assertArrivedOnce(o: Orthanc, entry: OutboxEntry): Promise<void> {
    const uids = await qidoInstances(o, await sourceStudy(), entry.seriesId);
    assert.equal(uids.length, DERIVED);
    assert.equal(new Set(uids).size, DERIVED, 'each SOP Instance UID once');
    assert.deepEqual([...uids].sort(), entry.files.map((f) => readFileMeta(f).sopInstanceUid).sort());
    assert.equal(await countInstances(o), DERIVED, 'nothing else in Orthanc');
  }

  it('delivers the derived series (basic auth, password from a file), confirmed by QIDO-RS', async () => {
    const pwFile = join(root, 'password');
    writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
    const { work, orthanc, node } = await setup('ok', `{ type: basic, username: ${USER}, passwordFile: ${JSON.stringify(pwFile)} }`, 20);
    await push(node);
    await node.waitFor((l) => l.event === 'send-done', 120_000, 'series delivered');
    const [entry] = outboxEntries(work);
    assert.equal(entry.state, 'done');
    assert.equal(entry.attempts, 0, 'first attempt');
    assert.equal(entry.files.length, DERIVED);
    await assertArrivedOnce(orthanc, entry);
    assertNoSecrets(node);
    await node.stop();
    await orthanc.stop();
  });

  it('Orthanc killed mid-send and restarted on the same storage and port: the series arrives, once', async (t) => {
    const batch = 5;
    const { work, orthancDir, dicomPort, orthanc, node } = await setup('restart', `{ type: basic, username: ${USER}, passwordEnv: STOW_PW }`, batch, { STOW_PW: PASSWORD });
    await push(node);
    // Two batches stored means the first was acknowledged (batches go one after another).
    const atKill = await until(async () => {
      const n = await countInstances(orthanc).catch(() => 0);
      return n >= 2 * batch ? n : 0;
    }, 120_000, 'two batches in Orthanc');
    await orthanc.kill();
    assert.ok(atKill < DERIVED, `killed mid-send (${atKill} of ${DERIVED} stored)`);
    await node.waitFor((l) => l.event === 'send-failed', 30_000, 'send failed');
    const [failed] = outboxEntries(work);
    assert.equal(failed.state, 'queued');
    assert.equal(failed.attempts, 1);
    assert.ok(failed.sent.length >= batch && failed.sent.length < DERIVED, `acknowledged before the kill: ${failed.sent.length}`);
    t.diagnostic(`killed with ${atKill} of ${DERIVED} in Orthanc, ${failed.sent.length} acknowledged; last error: ${failed.lastError}`);
    const again = await startOrthanc({ dir: orthancDir, dicomPort, httpPort: orthanc.httpPort, dicomWeb: true, users: { [USER]: PASSWORD } });
    running.push(again);
    await node.waitFor((l) => l.event === 'send-done', 120_000, 'series delivered after the restart');
    const [entry] = outboxEntries(work);
    assert.equal(entry.state, 'done');
    assert.ok(entry.attempts >= 1);
    t.diagnostic(`delivered after ${entry.attempts} failed attempt(s)`);
    await assertArrivedOnce(again, entry);
    assertNoSecrets(node);
    await node.stop();
    await again.stop();
  });

  it('a wrong password: HTTP 401, retried, visible in the outbox, no password in the logs', async () => {
    const { work, orthanc, node } = await setup('wrong', `{ type: basic, username: ${USER}, passwordEnv: STOW_PW }`, 20, { STOW_PW: WRONG });
    await push(node);
    await until(() => outboxEntries(work)[0]?.attempts >= 2, 60_000, 'two failed attempts');
    const [entry] = outboxEntries(work);
    assert.equal(entry.state, 'queued');
    assert.deepEqual(entry.sent, []);
    assert.match(entry.lastError ?? '', new RegExp(`^${DERIVED} of ${DERIVED} failed: .*HTTP 401`));
    assert.ok(node.logs.some((l) => l.event === 'send-failed' && /HTTP 401/.test(String(l.lastError))));
    assert.equal(await countInstances(orthanc), 0);
    assertNoSecrets(node);
    await node.stop();
    await orthanc.stop();
  });

  it('per-instance answers: an instance of another study, POSTed to a study\'s endpoint, fails alone', async () => {
    const orthanc = await startOrthanc({ dir: join(root, 'mixed'), dicomPort: await freePort(), dicomWeb: true, users: { [USER]: PASSWORD } });
    running.push(orthanc);
    const ours = listFiles(FOLDER)[0];
    const other = listFiles(join(MR_DIR, 'philips-pcasl-oblique-4mm'))[0];
    const study = await studyOf(ours);
    assert.notEqual(await studyOf(other), study);
    const auth = { type: 'basic' as const, username: USER, password: PASSWORD };
    const results = await stowFiles({ url: `${orthanc.http}/dicom-web/studies/${study}`, auth, batchSize: 20 }, [ours, other, join(root, 'missing.dcm')]);
    assert.deepEqual(results.map((r) => r.ok), [true, false, false], JSON.stringify(results));
    assert.equal(results[0].status, 0);
    assert.ok(results[1].status !== undefined && results[1].status !== 0, `a failure reason: ${JSON.stringify(results[1])}`);
    assert.match(results[2].error ?? '', /cannot read/);
    // Orthanc holds the accepted instance only.
    const stored = await get<string[]>(orthanc, '/instances');
    assert.equal(stored.length, 1);
    const uids = await get<Record<string, { Value?: string[] }>[]>(orthanc, `/dicom-web/studies/${study}/instances`, 'application/dicom+json');
    assert.deepEqual(uids.map((i) => i['00080018'].Value![0]), [readFileMeta(ours).sopInstanceUid]);
    await orthanc.stop();
  });
});
