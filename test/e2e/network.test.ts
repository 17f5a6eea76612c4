// End to end over real DICOM: DCMTK storescu pushes every folder of ../shared/data/mr to a real
// `interslice serve` process; DCMTK storescp plays the PACS. Each folder must reach the outcome
// MANIFEST.md gives; every derived instance must pass dciodvfy; dcm2niix must convert each
// derived series without geometry warnings, with the source's orientation and origin and the
// planned spacing; source slices must come back bit-exact; and `interslice process` on the
// same folders must give the same derived pixels as the network path.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MR_DIR, startStorescp, storescu, type Storescp } from '../helpers/peers.js';
import { serve, type LogLine, type Served } from '../helpers/serve.js';
import {
  GEOMETRY_WARNINGS, dciodvfyErrors, dcm2niix, enhancedFramePositions, haveTool, listFiles, readInstance, type InstanceInfo,
} from '../helpers/dicom-tools.js';
import { alignedTo, column } from '../derive/nifti.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MR = '1.2.840.10008.5.1.4.1.1.4';
const ENHANCED_MR = '1.2.840.10008.5.1.4.1.1.4.1';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

interface ExpectedStack {
  action: 'process' | 'skip';
  code?: string;
  slices: number;
  volumes?: number;
  /** Derived instances at 1 mm: (slices-1) * round(spacing / 1 mm) + 1, spacing from the headers. */
  derived?: number;
  spacingMm?: number;
}

// What MANIFEST.md says a correct node concludes, with slice spacings read from the files'
// SpacingBetweenSlices (dcmdump) and slice counts from MANIFEST.md.
const EXPECTED: Record<string, { sopClass: string; stacks: ExpectedStack[]; refusedSopClass?: string; singleVolume?: boolean }> = {
  'siemens-asl-6mm-thick-7.5mm-spacing': { sopClass: MR, singleVolume: true, stacks: [{ action: 'process', slices: 12, derived: 11 * 8 + 1, spacingMm: 7.5 / 8 }] },
  'philips-pcasl-oblique-4mm': { sopClass: MR, singleVolume: true, stacks: [{ action: 'process', slices: 40, derived: 39 * 4 + 1, spacingMm: 1 }] },
  'canon-axial-oblique-36deg': { sopClass: MR, singleVolume: true, stacks: [{ action: 'process', slices: 40, derived: 39 * 3 + 1, spacingMm: 1 }] },
  'canon-sagittal-oblique-28deg': { sopClass: MR, singleVolume: true, stacks: [{ action: 'process', slices: 40, derived: 39 * 3 + 1, spacingMm: 1 }] },
  'philips-fieldmap-2echo-magphase': {
    sopClass: MR,
    stacks: Array.from({ length: 4 }, () => ({ action: 'process' as const, slices: 53, derived: 52 * 3 + 1, spacingMm: 1 })),
  },
  'ge-epi-axial-5mm-gap-10vol': { sopClass: MR, stacks: [{ action: 'skip', code: 'time-series', slices: 150, volumes: 10 }] },
  'siemens-t1-sagittal-2mm-isotropic': { sopClass: MR, stacks: [{ action: 'skip', code: 'already-isotropic', slices: 96 }] },
  'siemens-mixed-mr-and-secondary-capture': {
    sopClass: MR,
    refusedSopClass: SECONDARY_CAPTURE,
    stacks: [{ action: 'process', slices: 12, derived: 11 * 8 + 1, spacingMm: 7.5 / 8 }],
  },
  'siemens-localizers': { sopClass: MR, stacks: [5, 3, 3].map((n) => ({ action: 'skip' as const, code: 'localizer', slices: n })) },
  'siemens-mosaic-epi': { sopClass: MR, stacks: [{ action: 'skip', code: 'mosaic', slices: 2 }] },
  // The classic twin of philips-pcasl-oblique-4mm (same series, frame of reference, geometry and
  // acquisition): one derived series for the pair, from the classic images (issue 12.5).
  enhanced: { sopClass: ENHANCED_MR, singleVolume: true, stacks: [{ action: 'skip', code: 'twin', slices: 40 }] },
};

const tools = haveTool('storescu') && haveTool('storescp') && haveTool('dciodvfy') && haveTool('dcm2niix');

/** Source instances of a folder, read once. */
const sources = new Map<string, InstanceInfo[]>();
async function folderInstances(folder: string): Promise<InstanceInfo[]> {
  if (!sources.has(folder)) sources.set(folder, await Promise.all(listFiles(join(MR_DIR, folder)).map(readInstance)));
  return sources.get(folder)!;
}

function sameVec(a: number[] | undefined, b: number[] | undefined, tol: number): boolean {
  return !!a && !!b && a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= tol);
}

describe('end to end over DICOM: storescu -> interslice serve -> storescp', { skip: tools ? false : 'DCMTK, dciodvfy or dcm2niix missing' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-e2e-'));
  let pacs: Storescp;
  let node: Served;
  let nodePort = 0;
  let logs: LogLine[] = [];
  const pushes = new Map<string, { code: number | null; out: string }>();
  /** Derived instances received by the PACS, grouped by derived SeriesInstanceUID. */
  const derivedSeries = new Map<string, InstanceInfo[]>();
  const totalExpected = Object.values(EXPECTED).flatMap((e) => e.stacks).reduce((s, x) => s + (x.derived ?? 0), 0);

  before(async () => {
    mkdirSync(join(work, 'pacs'), { recursive: true });
    pacs = await startStorescp(join(work, 'pacs'), { aeTitle: 'PACS' });
    node = await serve({
      work,
      config: [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
        `storage: { dir: ${JSON.stringify(join(work, 'var'))} }`,
        'pipeline: { stableSeconds: 2, targetSpacingMm: 1.0, method: cubic }',
        'send: { baseDelaySeconds: 1, maxDelaySeconds: 5 }',
        `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${pacs.port} } ]`,
        'admin: { port: 0 }',
      ],
    });
    nodePort = node.port;
    logs = node.logs;
    for (const folder of Object.keys(EXPECTED)) {
      const r = await storescu('127.0.0.1', nodePort, [join(MR_DIR, folder)], { callingAe: 'MODALITY', timeoutMs: 120_000 });
      pushes.set(folder, { code: r.code, out: r.stdout + r.stderr });
    }
    // Wait until the PACS holds every expected derived instance and nothing more arrives.
    const waitUntil = Date.now() + 300_000;
    let last = -1;
    let stableSince = Date.now();
    for (;;) {
      const n = readdirSync(join(work, 'pacs')).length;
      if (n !== last) {
        last = n;
        stableSince = Date.now();
      }
      if (n >= totalExpected && Date.now() - stableSince > 4000) break;
      if (Date.now() > waitUntil) throw new Error(`PACS holds ${n} of ${totalExpected} derived instances`);
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const f of listFiles(join(work, 'pacs'))) {
      const inst = await readInstance(f);
      const list = derivedSeries.get(inst.seriesInstanceUid) ?? [];
      list.push(inst);
      derivedSeries.set(inst.seriesInstanceUid, list);
    }
  });

  after(async () => {
    await node?.stop();
    await pacs?.stop();
    if (process.env.KEEP_E2E) console.log(`e2e work dir kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  });

  /** The last decision logged for each stack of a folder (a re-run after late instances logs again). */
  async function decisionsFor(folder: string): Promise<LogLine[]> {
    const e = EXPECTED[folder];
    const insts = (await folderInstances(folder)).filter((i) => i.sopClassUid === e.sopClass);
    const series = new Set(insts.map((i) => i.seriesInstanceUid));
    const byStack = new Map<string, LogLine>();
    for (const l of logs) {
      if (l.message === 'stack decision' && series.has(String(l.seriesInstanceUid)) && l.sopClassUid === e.sopClass) byStack.set(String(l.stackId), l);
    }
    return [...byStack.values()];
  }

  /** Derived series whose references point at this folder's source series and SOP class. */
  async function derivedFor(folder: string): Promise<InstanceInfo[][]> {
    const e = EXPECTED[folder];
    const series = new Set((await folderInstances(folder)).filter((i) => i.sopClassUid === e.sopClass).map((i) => i.seriesInstanceUid));
    return [...derivedSeries.values()].filter((d) => series.has(d[0].referencedSeries ?? '') && d[0].sourceSopClasses.includes(e.sopClass));
  }

  it('the PACS receives exactly the expected number of derived instances', () => {
    const n = [...derivedSeries.values()].reduce((s, d) => s + d.length, 0);
    assert.equal(n, totalExpected);
  });

  for (const [folder, e] of Object.entries(EXPECTED)) {
    describe(folder, () => {
      it('reaches the MANIFEST outcome (stacks, slices, volumes, decision)', async () => {
        const got = (await decisionsFor(folder))
          .map((l) => ({ action: l.action, code: l.code, slices: l.slices, volumes: l.volumes }))
          .sort((a, b) => Number(b.slices) - Number(a.slices));
        const want = [...e.stacks].sort((a, b) => b.slices - a.slices);
        assert.equal(got.length, want.length, `stacks: ${JSON.stringify(got)}`);
        want.forEach((w, i) => {
          assert.equal(got[i].action, w.action, JSON.stringify(got[i]));
          assert.equal(got[i].slices, w.slices, JSON.stringify(got[i]));
          if (w.code) assert.equal(got[i].code, w.code, JSON.stringify(got[i]));
          if (w.volumes) assert.equal(got[i].volumes, w.volumes, JSON.stringify(got[i]));
        });
        if (e.refusedSopClass) {
          const refused = logs.filter((l) => l.event === 'context-rejected' && l.abstractSyntax === e.refusedSopClass);
          const opened = logs.filter((l) => l.event === 'association-open' && Number(l.contextsRejected) > 0);
          assert.ok(refused.length > 0 || opened.length > 0, 'the Secondary Capture images are refused at negotiation, and the node says so');
          assert.match(pushes.get(folder)!.out, /No presentation context|not supported|rejected/i, 'storescu reports the refusal');
        }
      });

      const processed = e.stacks.filter((s) => s.action === 'process');
      if (processed.length === 0) {
        it('no derived series is sent', async () => {
          assert.equal((await derivedFor(folder)).length, 0);
        });
        return;
      }

      it('derived series: instance counts, DERIVED image type, source orientation', async () => {
        const derived = await derivedFor(folder);
        assert.equal(derived.length, processed.length);
        const counts = derived.map((d) => d.length).sort();
        assert.deepEqual(counts, processed.map((p) => p.derived!).sort());
        const srcIops = new Set((await folderInstances(folder)).map((i) => JSON.stringify(i.iop?.map((v) => v.toFixed(4)))));
        for (const d of derived) {
          for (const inst of d) {
            assert.equal(inst.sopClassUid, MR, 'classic MR output');
            assert.deepEqual(inst.imageType.slice(0, 2), ['DERIVED', 'SECONDARY']);
            assert.ok(inst.iop, 'orientation present');
          }
          const iops = new Set(d.map((i) => JSON.stringify(i.iop!.map((v) => v.toFixed(4)))));
          assert.equal(iops.size, 1, 'one orientation on every slice');
          if (e.sopClass === MR) assert.ok(srcIops.has([...iops][0]), 'the source orientation is kept');
        }
      });

      it('every derived instance passes dciodvfy with no errors', async () => {
        for (const d of await derivedFor(folder)) {
          for (const inst of d) assert.deepEqual(dciodvfyErrors(inst.path), [], inst.path);
        }
      });

      it('dcm2niix: no geometry warning; the planned spacing; source orientation and origin', async () => {
        const derived = await derivedFor(folder);
        for (const [k, d] of derived.entries()) {
          // dcm2niix wants a folder of one series: hard-link the derived files into one.
          const dir = join(work, 'by-series', `${folder}-${k}`);
          mkdirSync(dir, { recursive: true });
          for (const inst of d) linkSync(inst.path, join(dir, `${inst.sopInstanceUid}.dcm`));
          const conv = dcm2niix(dir, join(work, 'nii', `${folder}-${k}`));
          assert.doesNotMatch(conv.log, GEOMETRY_WARNINGS, conv.log);
          assert.equal(conv.niis.length, 1, conv.log);
          const nii = conv.niis[0];
          assert.equal(nii.dim[3], d.length);
          assert.ok(Math.abs(nii.pixdim[3] - e.stacks[0].spacingMm!) < 1e-3, `slice spacing ${nii.pixdim[3]}`);
          if (e.singleVolume) {
            const src = dcm2niix(join(MR_DIR, folder), join(work, 'nii-src', folder));
            assert.equal(src.niis.length, 1, src.log);
            const s = src.niis[0];
            const a = alignedTo(nii, s);
            for (const j of [0, 1]) column(a, j).forEach((v, i) => assert.ok(Math.abs(v - column(s, j)[i]) < 1e-4, `axis ${j}`));
            const dn = column(a, 2).map((v) => v / Math.hypot(...column(a, 2)));
            const sn = column(s, 2).map((v) => v / Math.hypot(...column(s, 2)));
            dn.forEach((v, i) => assert.ok(Math.abs(v - sn[i]) < 1e-4, 'slice direction'));
            for (let i = 0; i < 3; i++) assert.ok(Math.abs(a.srow[i][3] - s.srow[i][3]) < 0.01, `origin ${i}: ${a.srow[i][3]} vs ${s.srow[i][3]}`);
          }
        }
      });

      it('source slices come back bit-exact at their own positions', async () => {
        const srcs = (await folderInstances(folder)).filter((i) => i.sopClassUid === e.sopClass);
        const frames: { ipp: number[]; pixels: Buffer; series: string }[] = [];
        for (const s of srcs) {
          if (s.frames.length > 1) {
            const pos = await enhancedFramePositions(s.path);
            s.frames.forEach((f, i) => frames.push({ ipp: pos[i], pixels: f, series: s.seriesInstanceUid }));
          } else frames.push({ ipp: s.ipp!, pixels: s.frames[0], series: s.seriesInstanceUid });
        }
        const derived = (await derivedFor(folder)).flat();
        let matched = 0;
        for (const f of frames) {
          // Field maps: magnitude and phase share positions; a source slice must match one of them.
          const candidates = derived.filter((d) => sameVec(d.ipp, f.ipp, 0.01));
          assert.ok(candidates.length > 0, `a derived slice at source position ${f.ipp}`);
          assert.ok(candidates.some((c) => c.frames[0].equals(f.pixels)), `bit-exact pixels at ${f.ipp}`);
          matched++;
        }
        assert.equal(matched, frames.length);
      });

      it('`interslice process` on the folder gives the same derived pixels as the network path', async () => {
        const out = join(work, 'process', folder);
        const r = await runCli(['process', join(MR_DIR, folder), '--out', out, '--method', 'cubic']);
        assert.equal(r.code, 0, r.out);
        const lines = r.out.trim().split('\n');
        assert.ok(lines.some((l) => /process \(thick-slice\)/.test(l)), r.out);
        const local = await Promise.all(listFiles(out).map(readInstance));
        const network = (await derivedFor(folder)).flat();
        assert.equal(local.length, network.length);
        const key = (i: InstanceInfo) => `${i.referencedSeries}|${i.sourceSopClasses.join()}|${i.ipp!.map((v) => v.toFixed(3)).join()}|${i.imageType.join()}`;
        const netByKey = new Map<string, InstanceInfo[]>();
        for (const n of network) netByKey.set(key(n), [...(netByKey.get(key(n)) ?? []), n]);
        for (const l of local) {
          const same = netByKey.get(key(l)) ?? [];
          assert.ok(same.some((n) => n.frames[0].equals(l.frames[0])), `same pixels at ${l.ipp}`);
        }
      });
    });
  }
});

function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/interslice.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}
