// Integrity over real DICOM: DCMTK storescu pushes real series to a real `interslice serve`,
// DCMTK storescp with +uf (a unique file per receipt, so a UID sent twice is kept twice) plays
// the PACS. A late instance gives a new derived series, never a UID with a second content; the
// ignore policy keeps the first; a full disk and an inference error fail the job, which is
// retried and then dead-lettered, and `interslice jobs retry` delivers it after a restart; series
// arriving out of acquisition order never share a SeriesNumber with a derived one; an uncaught
// exception ends the process with a non-zero code.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { datasetBytes, freePort, MR_DIR, startStorescp, storescu, type Storescp } from '../helpers/peers.js';
import { ROOT, serve, until, type Served } from '../helpers/serve.js';
import { GEOMETRY_WARNINGS, dciodvfyErrors, dcm2niix, haveTool, readInstance } from '../helpers/dicom-tools.js';
import { readPart10, str } from '../../src/dicom/dcmjs.js';

const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing'); // 12 slices at 7.5 mm, SeriesNumber 18001
const MIXED = join(MR_DIR, 'siemens-mixed-mr-and-secondary-capture'); // same study, SeriesNumber 19001
const tools = haveTool('storescu') && haveTool('storescp') && haveTool('dciodvfy') && haveTool('dcm2niix');

interface Received {
  file: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  seriesNumber?: number;
}

async function received(dir: string): Promise<Received[]> {
  const out: Received[] = [];
  for (const n of readdirSync(dir).filter((x) => !x.startsWith('.'))) {
    const { dataset } = await readPart10(join(dir, n), { headerOnly: true });
    out.push({
      file: join(dir, n),
      sopInstanceUid: str(dataset.SOPInstanceUID) ?? '',
      seriesInstanceUid: str(dataset.SeriesInstanceUID) ?? '',
      seriesNumber: dataset.SeriesNumber === undefined ? undefined : Number(dataset.SeriesNumber),
    });
  }
  return out;
}

/** SOP Instance UIDs that arrived more than once with different dataset bytes. */
function uidsWithTwoContents(files: Received[]): string[] {
  const byUid = new Map<string, Buffer[]>();
  for (const f of files) byUid.set(f.sopInstanceUid, [...(byUid.get(f.sopInstanceUid) ?? []), datasetBytes(f.file)]);
  return [...byUid].filter(([, b]) => b.some((x) => !x.equals(b[0]))).map(([u]) => u);
}

/** The ASL series' files sorted by InstanceNumber, linked into two folders: all but the last, and the last. */
async function splitAsl(dir: string): Promise<{ first: string; last: string }> {
  const files = readdirSync(ASL).map((n) => join(ASL, n));
  const infos = await Promise.all(files.map(async (f) => ({ f, n: (await readInstance(f)).instanceNumber ?? 0 })));
  infos.sort((a, b) => a.n - b.n);
  const first = join(dir, 'first');
  const last = join(dir, 'last');
  mkdirSync(first, { recursive: true });
  mkdirSync(last, { recursive: true });
  infos.slice(0, -1).forEach((x, i) => linkSync(x.f, join(first, `${i}.dcm`)));
  linkSync(infos[infos.length - 1].f, join(last, 'last.dcm'));
  return { first, last };
}

function nodeConfig(dir: string, pacs: Storescp, extra: string[] = [], adminPort = 0, destinationExtra = ''): string[] {
  return [
    'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
    `storage: { dir: ${JSON.stringify(join(dir, 'var'))}, minFreeMb: 0 }`,
    ...extra,
    'send: { baseDelaySeconds: 0.5, maxDelaySeconds: 2, timeoutSeconds: 10 }',
    `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${pacs.port}${destinationExtra} } ]`,
    adminPort ? `admin: { enabled: true, host: 127.0.0.1, port: ${adminPort} }` : 'admin: { enabled: false }',
  ];
}

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/interslice.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

const count = (dir: string) => readdirSync(dir).filter((x) => !x.startsWith('.')).length;

describe('integrity over DICOM', { skip: tools ? false : 'DCMTK, dciodvfy or dcm2niix missing' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-integrity-'));
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  async function setup(name: string, extra: string[], o: { faults?: string; adminPort?: number; destination?: string } = {}) {
    const dir = join(work, name);
    mkdirSync(join(dir, 'pacs'), { recursive: true });
    const pacs = await startStorescp(join(dir, 'pacs'), { aeTitle: 'PACS', args: ['+uf'] });
    cleanup.push(() => pacs.stop());
    const config = nodeConfig(dir, pacs, extra, o.adminPort, o.destination);
    const node = await serve({ work: dir, config, env: o.faults ? { INTERSLICE_FAULTS: o.faults } : {} });
    cleanup.push(() => node.stop());
    return { dir, pacs, node, config };
  }

  it('a late instance (rederive): a new complete series, no SOP Instance UID received twice with different content', async () => {
    const adminPort = await freePort();
    const { dir, node } = await setup('late', ['pipeline: { stableSeconds: 1, method: linear, lateInstances: rederive }'], { adminPort });
    const { first, last } = await splitAsl(dir);
    assert.equal((await storescu('127.0.0.1', node.port, [first])).code, 0);
    await until(() => count(join(dir, 'pacs')) >= 81, 60_000, '81 derived instances (11 slices)');
    await node.waitFor((l) => l.event === 'send-done', 30_000, 'first send-done');
    assert.equal((await storescu('127.0.0.1', node.port, [last])).code, 0);
    await until(() => count(join(dir, 'pacs')) >= 81 + 89, 60_000, '89 more derived instances (12 slices)');
    await new Promise((r) => setTimeout(r, 1500)); // anything still on its way
    const files = await received(join(dir, 'pacs'));
    assert.deepEqual(uidsWithTwoContents(files), []);
    const bySeries = new Map<string, Received[]>();
    for (const f of files) bySeries.set(f.seriesInstanceUid, [...(bySeries.get(f.seriesInstanceUid) ?? []), f]);
    const sizes = [...bySeries.values()].map((s) => s.length).sort((a, b) => a - b);
    assert.deepEqual(sizes, [81, 89]);
    const [older, newer] = [...bySeries.values()].sort((a, b) => a.length - b.length);
    assert.notEqual(older[0].seriesNumber, newer[0].seriesNumber);
    assert.equal(new Set(newer.map((f) => f.sopInstanceUid)).size, 89);
    // The newest series is clean for dciodvfy and dcm2niix.
    for (const f of newer.filter((_, i) => i % 22 === 0)) assert.deepEqual(dciodvfyErrors(f.file), [], f.file);
    const nii = join(dir, 'nii');
    const newestDir = join(dir, 'newest');
    mkdirSync(newestDir);
    mkdirSync(nii);
    newer.forEach((f, i) => linkSync(f.file, join(newestDir, `${i}.dcm`)));
    const conv = dcm2niix(newestDir, nii);
    assert.equal(conv.niis.length, 1, conv.log);
    assert.doesNotMatch(conv.log, GEOMETRY_WARNINGS);
    // The superseded series is recorded and shown.
    const api = (await (await fetch(`http://127.0.0.1:${adminPort}/api/jobs`)).json()) as { superseded: { seriesInstanceUid: string; supersededBy: string; reason: string }[] };
    assert.deepEqual(
      api.superseded.map((s) => [s.seriesInstanceUid, s.supersededBy, s.reason]),
      [[older[0].seriesInstanceUid, newer[0].seriesInstanceUid, 'late instances']],
    );
    const page = await (await fetch(`http://127.0.0.1:${adminPort}/`)).text();
    assert.ok(page.includes(older[0].seriesInstanceUid) && /Superseded derived series/.test(page));
  });

  it('a late instance with rejectSuperseded: an IOCM rejection note lists exactly the superseded series, dciodvfy-clean', async () => {
    const { dir, node } = await setup('iocm', ['pipeline: { stableSeconds: 1, method: linear, lateInstances: rederive }'], { destination: ', rejectSuperseded: true' });
    const { first, last } = await splitAsl(dir);
    assert.equal((await storescu('127.0.0.1', node.port, [first])).code, 0);
    await until(() => count(join(dir, 'pacs')) >= 81, 60_000, '81 derived instances (11 slices)');
    await node.waitFor((l) => l.event === 'send-done', 30_000, 'first send-done');
    const older = await received(join(dir, 'pacs'));
    assert.equal(older.length, 81);
    assert.equal(new Set(older.map((f) => f.seriesInstanceUid)).size, 1);
    assert.equal((await storescu('127.0.0.1', node.port, [last])).code, 0);
    await until(() => count(join(dir, 'pacs')) >= 81 + 89 + 1, 60_000, '89 more derived instances and the rejection note');
    await new Promise((r) => setTimeout(r, 1500)); // anything still on its way
    const all = await received(join(dir, 'pacs'));
    assert.equal(all.length, 81 + 89 + 1);
    const notes: { file: string; dataset: Record<string, unknown> }[] = [];
    for (const f of all) {
      const { dataset } = await readPart10(f.file);
      if (dataset.SOPClassUID === '1.2.840.10008.5.1.4.1.1.88.59') notes.push({ file: f.file, dataset });
    }
    assert.equal(notes.length, 1);
    const note = notes[0].dataset;
    const items = (v: unknown) => (Array.isArray(v) ? v : v ? [v] : []) as Record<string, unknown>[];
    assert.equal(note.Modality, 'KO');
    const { dataset: src } = await readPart10(older[0].file, { headerOnly: true });
    assert.equal(note.StudyInstanceUID, src.StudyInstanceUID);
    assert.equal(note.PatientID, src.PatientID);
    assert.ok(!all.some((f) => f.file !== notes[0].file && f.seriesInstanceUid === note.SeriesInstanceUID), 'the note is in a series of its own');
    const title = items(note.ConceptNameCodeSequence)[0];
    assert.deepEqual([title.CodeValue, title.CodingSchemeDesignator], ['113001', 'DCM']);
    const superseded = older.map((f) => f.sopInstanceUid).sort();
    const evidence = items(note.CurrentRequestedProcedureEvidenceSequence);
    assert.deepEqual(evidence.map((e) => e.StudyInstanceUID), [src.StudyInstanceUID]);
    const evSeries = items(evidence[0].ReferencedSeriesSequence);
    assert.deepEqual(evSeries.map((s) => s.SeriesInstanceUID), [older[0].seriesInstanceUid]);
    assert.deepEqual(items(evSeries[0].ReferencedSOPSequence).map((r) => r.ReferencedSOPInstanceUID).sort(), superseded);
    const content = items(note.ContentSequence).map((c) => items(c.ReferencedSOPSequence)[0]);
    assert.deepEqual(content.map((r) => r.ReferencedSOPInstanceUID).sort(), superseded);
    const olderClass = String((await readPart10(older[0].file, { headerOnly: true })).dataset.SOPClassUID);
    assert.ok(content.every((r) => r.ReferencedSOPClassUID === olderClass));
    assert.deepEqual(dciodvfyErrors(notes[0].file), []);
  });

  it('a late instance (ignore): kept, logged, the derived series stays as it was', async () => {
    const { dir, node } = await setup('ignore', ['pipeline: { stableSeconds: 1, method: linear, lateInstances: ignore }']);
    const { first, last } = await splitAsl(dir);
    assert.equal((await storescu('127.0.0.1', node.port, [first])).code, 0);
    await until(() => count(join(dir, 'pacs')) >= 81, 60_000, '81 derived instances');
    await node.waitFor((l) => l.event === 'send-done', 30_000, 'send-done');
    assert.equal((await storescu('127.0.0.1', node.port, [last])).code, 0);
    await node.waitFor((l) => l.event === 'late-ignored', 10_000, 'late-ignored');
    await new Promise((r) => setTimeout(r, 4000)); // a job would have run by now (stableSeconds 1)
    assert.equal(count(join(dir, 'pacs')), 81);
    assert.equal(node.logs.filter((l) => l.message === 'series job started').length, 1);
  });

  it('a full disk fails the job; it is retried with backoff and the derived series arrives once the fault clears', async () => {
    const { dir, node } = await setup('disk-full', ['pipeline: { stableSeconds: 1, method: linear, retry: { maxAttempts: 4, initialSeconds: 1, maxSeconds: 2 } }'], {
      faults: 'derive-disk-full:2',
    });
    assert.equal((await storescu('127.0.0.1', node.port, [ASL])).code, 0);
    await until(() => count(join(dir, 'pacs')) >= 89, 90_000, '89 derived instances');
    const retries = node.logs.filter((l) => l.event === 'job-retry');
    assert.equal(retries.length, 2);
    assert.ok(retries.every((l) => l.failure === 'transient' && l.reason === 'ENOSPC'), JSON.stringify(retries));
    assert.ok(!node.logs.some((l) => l.event === 'job-dead'));
  });

  it('an inference error that outlasts the retries goes to the dead letter; after a restart `interslice jobs retry` delivers it', async () => {
    const adminPort = await freePort();
    const flag = join(work, 'inference-fault-on');
    writeFileSync(flag, '');
    const { dir, pacs, node, config } = await setup(
      'dead-letter',
      ['pipeline: { stableSeconds: 1, method: linear, retry: { maxAttempts: 2, initialSeconds: 1, maxSeconds: 1 } }'],
      { faults: `inference-error@${flag}`, adminPort },
    );
    assert.equal((await storescu('127.0.0.1', node.port, [ASL])).code, 0);
    const dead = await node.waitFor((l) => l.event === 'job-dead', 60_000, 'job-dead');
    assert.equal(dead.failure, 'transient');
    assert.equal(dead.reason, 'inference');
    const api = (await (await fetch(`http://127.0.0.1:${adminPort}/api/jobs`)).json()) as { deadLetters: { key: string; attempts: number; error: string }[] };
    assert.equal(api.deadLetters.length, 1);
    assert.equal(api.deadLetters[0].attempts, 2);
    assert.match(api.deadLetters[0].error, /^transient \(inference\): /);
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    assert.match(metrics, /interslice_queue_depth\{queue="series",state="dead"\} 1/);
    assert.match(metrics, /interslice_job_failures_total\{outcome="dead",reason="inference"\} 1/);
    assert.equal(count(join(dir, 'pacs')), 0);

    // The fault is cleared and the node restarted; the dead letter survives the restart.
    await node.stop();
    rmSync(flag);
    const again = await serve({ work: dir, config, env: { INTERSLICE_FAULTS: `inference-error@${flag}` } });
    cleanup.push(() => again.stop());
    await until(async () => (await fetch(`http://127.0.0.1:${adminPort}/healthz`).catch(() => undefined))?.ok, 20_000, 'admin endpoint');
    const cfgFile = join(dir, 'cli.yaml');
    writeFileSync(cfgFile, config.join('\n'));
    const list = await cli(['jobs', 'list', '--config', cfgFile, '--json']);
    assert.equal(list.code, 0, list.out);
    const listed = JSON.parse(list.out) as { deadLetters: { key: string }[] };
    assert.deepEqual(listed.deadLetters.map((d) => d.key), [api.deadLetters[0].key]);
    const retry = await cli(['jobs', 'retry', api.deadLetters[0].key, '--config', cfgFile]);
    assert.equal(retry.code, 0, retry.out);
    await until(() => count(join(dir, 'pacs')) >= 89, 60_000, '89 derived instances after the retry');
    assert.equal(pacs.process.exitCode, null);
    const after = (await (await fetch(`http://127.0.0.1:${adminPort}/api/jobs`)).json()) as { deadLetters: unknown[] };
    assert.deepEqual(after.deadLetters, []);
  });

  it('series that arrive out of acquisition order: no derived SeriesNumber equals another series number of the study', async () => {
    const { dir, node } = await setup('numbers', ['pipeline: { stableSeconds: 1, method: linear }']);
    // 18001 first, its derived series goes out; then 19001 (acquired before it in the MANIFEST's study).
    assert.equal((await storescu('127.0.0.1', node.port, [ASL])).code, 0);
    await until(() => count(join(dir, 'pacs')) >= 89, 60_000, 'first derived series');
    await storescu('127.0.0.1', node.port, [MIXED]); // its secondary capture is refused (not MR)
    await until(() => count(join(dir, 'pacs')) >= 89 * 2, 60_000, 'second derived series');
    await new Promise((r) => setTimeout(r, 1000));
    const files = await received(join(dir, 'pacs'));
    const derivedNumbers = [...new Set(files.map((f) => f.seriesNumber))];
    const acquired = [18001, 19001];
    assert.equal(derivedNumbers.length, 2, `derived numbers ${derivedNumbers}`);
    for (const n of derivedNumbers) assert.ok(n !== undefined && !acquired.includes(n), `derived SeriesNumber ${n} collides`);
  });

  it('an uncaught exception is logged and ends the process with a non-zero code', async () => {
    const dir = join(work, 'uncaught');
    mkdirSync(dir, { recursive: true });
    const node: Served = await serve({
      work: dir,
      config: ['dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }', `storage: { dir: ${JSON.stringify(join(dir, 'var'))}, minFreeMb: 0 }`, 'pipeline: { method: linear }', 'admin: { enabled: false }'],
      env: { INTERSLICE_FAULTS: 'uncaught-exception' },
    });
    const end = await node.exited;
    assert.equal(end.code, 70);
    assert.ok(node.logs.some((l) => l.event === 'fatal' && /uncaught exception/.test(l.message)), node.raw().slice(-2000));
  });
});
