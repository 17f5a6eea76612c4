// The model chosen by slice thickness (pipeline.thickModelPath, thickModelAbove), through
// `interslice process` on the real ASL series (6 mm slices every 7.5 mm: 0.8 of the spacing).
// With the default limit (0.65) the derived series is synthesised by the thick-slice model and
// says so; with the limit raised above 0.8 (or the thick model off) by the standard one. The
// model is part of the content: the two series get different UIDs, the acquired slices stay
// bit-exact in both, and the synthesised slices differ, but only as two interpolations of one
// stack can (measured against the intensity range, not against either model's output). The
// through-plane refiner (pipeline.refinerPath) after either model is part of the content too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MR_DIR } from '../helpers/peers.js';
import { ROOT } from '../helpers/serve.js';
import { listFiles } from '../helpers/dicom-tools.js';
import { readPart10 } from '../../src/dicom/dcmjs.js';
import { SHIPPED_REFINER } from '../../src/interpolate/model/shipped.js';

const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
const work = mkdtempSync(join(tmpdir(), 'interslice-thick-model-'));
after(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/interslice.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: '2' } });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

interface Slice {
  sop: string;
  series: string;
  description: string;
  versions: string[];
  z: number;
  pixels: Int16Array | Uint16Array;
}

async function processAsl(name: string, pipeline?: string): Promise<Slice[]> {
  const out = join(work, name);
  const args = ['process', ASL, '--out', out, '--method', 'model'];
  if (pipeline) {
    const cfg = join(work, `${name}.yaml`);
    writeFileSync(cfg, `pipeline: ${pipeline}\n`);
    args.push('--config', cfg);
  }
  const r = await cli(args);
  assert.equal(r.code, 0, r.out);
  return Promise.all(
    listFiles(out).map(async (f) => {
      const ds = (await readPart10(f)).dataset;
      const ipp = (ds.ImagePositionPatient as number[]).map(Number);
      const iop = (ds.ImageOrientationPatient as number[]).map(Number);
      const n = [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
      const buf = (ds.PixelData as ArrayBuffer[])[0];
      const pixels = Number(ds.PixelRepresentation) === 1 ? new Int16Array(buf) : new Uint16Array(buf);
      return {
        sop: String(ds.SOPInstanceUID),
        series: String(ds.SeriesInstanceUID),
        description: String(ds.DerivationDescription),
        // ours, in the Contributing Equipment item (the General Equipment is the scanner's)
        versions: ([] as unknown[]).concat((ds.ContributingEquipmentSequence as Record<string, unknown>[])[0].SoftwareVersions).map(String),
        z: ipp[0] * n[0] + ipp[1] * n[1] + ipp[2] * n[2],
        pixels,
      };
    }),
  ).then((s) => s.sort((a, b) => a.z - b.z));
}

describe('interslice process: the model chosen by the stack\'s slice thickness', () => {
  let thick: Slice[];
  let standard: Slice[];

  it('ASL (0.8 of the spacing) with the defaults: the thick-slice model, named in DerivationDescription', async () => {
    thick = await processAsl('default');
    assert.equal(thick.length, 11 * 8 + 1);
    assert.equal(new Set(thick.map((s) => s.description)).size, 1);
    // Contributing Equipment's SoftwareVersions: ours, the model, the refiner, as separate values
    assert.equal(thick[0].versions.length, 3, String(thick[0].versions));
    assert.match(thick[0].versions[1], /^model interslice-thick \S+ sha256:[0-9a-f]{16}$/);
    assert.match(thick[0].versions[2], /^refiner interslice-refiner \S+ sha256:[0-9a-f]{16}$/);
    assert.match(thick[0].description, /model interpolation along the slice normal \(model interslice-thick \S+ sha256:[0-9a-f]{16}, then refiner interslice-refiner \S+ sha256:[0-9a-f]{16} across the slices\)/);
  });

  it('the limit raised above 0.8: the standard model, other UIDs; thickModelPath null gives the same series', async () => {
    standard = await processAsl('above-0.9', '{ thickModelAbove: 0.9 }');
    assert.match(standard[0].description, /\(model interslice-thin \S+ sha256:[0-9a-f]{16}, then refiner /);
    assert.notEqual(standard[0].series, thick[0].series, 'the model is part of the content: other UIDs');
    const off = await processAsl('off', '{ thickModelPath: null }');
    assert.equal(off[0].series, standard[0].series, 'the same model on the same stack: the same series');
    assert.deepEqual(off.map((s) => s.sop), standard.map((s) => s.sop));
  });

  it('acquired slices identical in both; synthesised ones differ, by a small fraction of the intensity range', () => {
    compare(thick, standard, 'thick - standard');
  });

  it('refinerPath null: the thick model alone, other UIDs; the refiner changed only the synthesised slices, and little', async () => {
    const alone = await processAsl('no-refiner', '{ refinerPath: null }');
    assert.match(alone[0].description, /\(model interslice-thick \S+ sha256:[0-9a-f]{16}\)/);
    assert.doesNotMatch(alone[0].description, /refiner/);
    assert.equal(alone[0].versions.length, 2, String(alone[0].versions));
    assert.notEqual(alone[0].series, thick[0].series, 'the refiner is part of the content: other UIDs');
    compare(thick, alone, 'refined - model alone');
  });

  it('factor 4: the short-gap refiner (first in the default list, trained on 2 and 4 steps per gap), named; the general one gives other UIDs', async () => {
    const short = await processAsl('factor-4', '{ factor: 4 }');
    assert.equal(short.length, 11 * 4 + 1);
    assert.match(short[0].versions[2], /^refiner interslice-refiner-short \S+ sha256:[0-9a-f]{16}$/);
    assert.match(short[0].description, /\(model interslice-thick \S+ sha256:[0-9a-f]{16}, then refiner interslice-refiner-short \S+ sha256:[0-9a-f]{16} across the slices\)/);
    const general = await processAsl('factor-4-general', `{ factor: 4, refinerPath: ${JSON.stringify(join(ROOT, SHIPPED_REFINER))} }`);
    assert.match(general[0].versions[2], /^refiner interslice-refiner \S+ sha256:[0-9a-f]{16}$/);
    assert.notEqual(general[0].series, short[0].series, 'the chosen refiner is part of the content: other UIDs');
    compare(short, general, 'short-gap - general refiner');
  });
});

/** Two derivations of the ASL stack: the acquired slices identical, the synthesised ones differing by under 5 % of the maximum. */
function compare(x: Slice[], y: Slice[], what: string) {
  assert.equal(y.length, x.length);
  let same = 0;
  let diffSum = 0;
  let diffN = 0;
  let max = 0;
  for (const [i, a] of x.entries()) {
    const b = y[i];
    assert.ok(Math.abs(a.z - b.z) < 1e-3, 'the same positions');
    let equal = true;
    for (let k = 0; k < a.pixels.length; k++) {
      const d = Math.abs(a.pixels[k] - b.pixels[k]);
      if (d) equal = false;
      diffSum += d;
      diffN++;
      max = Math.max(max, a.pixels[k], b.pixels[k]);
    }
    if (equal) same++;
  }
  // The 12 acquired slices (every 8th of 89, or every 4th of 45) are copied, whatever the model.
  assert.ok(same >= 12, `${same} identical slices`);
  assert.ok(same < x.length, 'the synthesised slices differ');
  const meanDiff = diffSum / diffN;
  console.log(`ASL: ${same}/${x.length} slices identical; mean |${what}| ${meanDiff.toFixed(2)} of a maximum ${max}`);
  assert.ok(meanDiff > 0 && meanDiff < 0.05 * max, `mean difference ${meanDiff} of ${max}`);
}
