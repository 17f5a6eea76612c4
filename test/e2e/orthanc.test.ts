// A real PACS round trip: Debian's Orthanc with the node registered as a modality, and Orthanc
// as the node's destination. A series uploaded to Orthanc is routed to the node both ways a
// user would do it (REST "store to modality", and the shipped Lua rule on stable series), and
// the derived series must appear in Orthanc with the expected instance count, geometry and
// references, read back through Orthanc's REST API.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MR_DIR, freePort } from '../helpers/peers.js';
import { startOrthanc, type Orthanc } from '../helpers/orthanc.js';
import { haveTool, listFiles, readInstance } from '../helpers/dicom-tools.js';
import { serve, type Served } from '../helpers/serve.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LUA = join(ROOT, 'deploy/route-to-interslice.lua');

function startRoutingOrthanc(dir: string, nodePort: number, dicomPort: number, lua: boolean): Promise<Orthanc> {
  return startOrthanc({ dir, dicomPort, modalities: { interslice: { AET: 'INTERSLICE', Host: '127.0.0.1', Port: nodePort } }, luaScripts: lua ? [LUA] : [] });
}

async function rest<T = unknown>(o: Orthanc, path: string, body?: unknown): Promise<T> {
  const payload = body instanceof Uint8Array ? new Blob([body as Uint8Array<ArrayBuffer>]) : JSON.stringify(body);
  const init: RequestInit = body === undefined ? {} : { method: 'POST', body: payload };
  const res = await fetch(o.http + path, init);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface SeriesInfo {
  ID: string;
  Instances: string[];
  MainDicomTags: Record<string, string>;
}

/** Uploads a folder over REST; returns Orthanc's series id. */
async function upload(o: Orthanc, folder: string): Promise<string> {
  let series = '';
  for (const f of listFiles(join(MR_DIR, folder))) {
    const r = await rest<{ ParentSeries: string }>(o, '/instances', new Uint8Array(readFileSync(f)));
    series = r.ParentSeries;
  }
  return series;
}

/** Waits for a derived series (description says Interslice) with `count` instances, stable. */
async function waitForDerived(o: Orthanc, count: number, timeoutMs = 120_000): Promise<SeriesInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await rest<SeriesInfo[]>(o, '/series?expand');
    const derived = all.filter((s) => /Interslice/.test(s.MainDicomTags.SeriesDescription ?? ''));
    const done = derived.find((s) => s.Instances.length >= count);
    if (done) return done;
    if (Date.now() > deadline) throw new Error(`no derived series of ${count} instances: ${JSON.stringify(derived.map((d) => d.Instances.length))}\n${o.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

type Tags = Record<string, unknown>;

async function checkDerived(o: Orthanc, series: SeriesInfo, folder: string, count: number, spacing: number): Promise<void> {
  const sources = await Promise.all(listFiles(join(MR_DIR, folder)).map(readInstance));
  assert.equal(series.Instances.length, count);
  const tags: Tags[] = [];
  for (const id of series.Instances) tags.push(await rest<Tags>(o, `/instances/${id}/simplified-tags`));
  const study = await sourceStudy(folder);
  const num = (v: unknown) => String(v).split('\\').map(Number);
  const iop = num(tags[0].ImageOrientationPatient);
  for (const t of tags) {
    assert.equal(t.SOPClassUID, '1.2.840.10008.5.1.4.1.1.4');
    assert.match(String(t.ImageType), /^DERIVED\\SECONDARY/);
    assert.equal(t.StudyInstanceUID, study);
    assert.deepEqual(num(t.ImageOrientationPatient), iop);
    const refs = t.ReferencedSeriesSequence as Tags[];
    assert.equal(refs[0].SeriesInstanceUID, sources[0].seriesInstanceUid);
    assert.ok(Math.abs(Number(t.SpacingBetweenSlices) - spacing) < 1e-3);
  }
  iop.forEach((v, i) => assert.ok(Math.abs(v - sources[0].iop![i]) < 1e-4, 'source orientation kept'));
  // Positions: on the source's normal, uniformly `spacing` apart, spanning the source stack.
  const n = [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
  const along = (p: number[]) => p[0] * n[0] + p[1] * n[1] + p[2] * n[2];
  const d = tags.map((t) => along(num(t.ImagePositionPatient))).sort((a, b) => a - b);
  for (let i = 1; i < d.length; i++) assert.ok(Math.abs(d[i] - d[i - 1] - spacing) < 0.01, `step ${i}: ${d[i] - d[i - 1]}`);
  const s = sources.map((x) => along(x.ipp!)).sort((a, b) => a - b);
  assert.ok(Math.abs(d[0] - s[0]) < 0.01 && Math.abs(d[d.length - 1] - s[s.length - 1]) < 0.01, 'spans the source stack');
}

const studies = new Map<string, string>();
async function sourceStudy(folder: string): Promise<string> {
  if (!studies.has(folder)) {
    const { readPart10 } = await import('../../src/dicom/dcmjs.js');
    const first = listFiles(join(MR_DIR, folder))[0];
    studies.set(folder, String((await readPart10(first, { headerOnly: true })).dataset.StudyInstanceUID));
  }
  return studies.get(folder)!;
}

describe('Orthanc round trip', { skip: haveTool('Orthanc') ? false : 'Orthanc not installed' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-orthanc-'));
  let node: Served;
  let nodePort = 0;
  let orthanc: Orthanc | undefined;
  let orthancDicomPort = 0;

  before(async () => {
    orthancDicomPort = await freePort();
    // The node's destination is Orthanc's DICOM port; each phase's Orthanc binds that port.
    node = await serve({
      work,
      config: [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
        `storage: { dir: ${JSON.stringify(join(work, 'var'))} }`,
        'pipeline: { stableSeconds: 2, method: cubic }',
        'send: { baseDelaySeconds: 1, maxDelaySeconds: 3 }',
        `destinations: [ { name: orthanc, aeTitle: ORTHANC, host: 127.0.0.1, port: ${orthancDicomPort} } ]`,
        'admin: { enabled: false }',
      ],
    });
    nodePort = node.port;
  });

  after(async () => {
    await orthanc?.stop();
    await node?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('REST "store to modality": the derived series comes back into Orthanc', async () => {
    orthanc = await startRoutingOrthanc(join(work, 'orthanc-rest'), nodePort, orthancDicomPort, false);
    const seriesId = await upload(orthanc, 'siemens-asl-6mm-thick-7.5mm-spacing');
    const echo = await rest<unknown>(orthanc, '/modalities/interslice/echo', {});
    assert.ok(echo !== undefined);
    await rest(orthanc, '/modalities/interslice/store', { Resources: [seriesId], Synchronous: true });
    const derived = await waitForDerived(orthanc, 89);
    await checkDerived(orthanc, derived, 'siemens-asl-6mm-thick-7.5mm-spacing', 89, 7.5 / 8);
    await orthanc.stop();
    orthanc = undefined;
  });

  it('Lua rule on stable series: routed automatically, derived series back, not routed again', async () => {
    orthanc = await startRoutingOrthanc(join(work, 'orthanc-lua'), nodePort, orthancDicomPort, true);
    await upload(orthanc, 'philips-pcasl-oblique-4mm');
    const derived = await waitForDerived(orthanc, 157);
    await checkDerived(orthanc, derived, 'philips-pcasl-oblique-4mm', 157, 1);
    // The derived series becomes stable in Orthanc too; the shipped rule must not send it back.
    const deadline = Date.now() + 20_000;
    while (!/came from Interslice; not sent back/.test(orthanc.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    assert.match(orthanc.output(), /came from Interslice; not sent back/);
    assert.doesNotMatch(node.raw(), /"code":"derived-by-us"/, 'the node never received its own output');
    await orthanc.stop();
    orthanc = undefined;
  });
});
