// Writes derived series from real sources and checks them with the tools a PACS team would:
// dciodvfy (IOD conformance) and dcm2niix (geometry, spacing), plus bit-exact source slices,
// no clipped synthesised value, and the derived header attribute by attribute
// (docs/derived-series.md).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DerivedSeries, OutputSlice, SpacingTarget } from '../../src/core/types.js';
import { asArray, num, nums, readPart10, str, type NaturalDataset } from '../../src/dicom/dcmjs.js';
import { writeDerivedSeries } from '../../src/derive/write-series.js';
import { createClassicalInterpolator, type ClassicalMethod } from '../../src/interpolate/classical.js';
import { planOutputSlices, planSpacing } from '../../src/core/plan.js';
import { realWorldValues, rescaleOf } from './decode.js';
import { MR_DATA, loadFixture, type Fixture } from './fixtures.js';
import { alignedTo, column, readNiftiGeometry, type NiftiGeometry } from './nifti.js';

const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const tools = have('dciodvfy') && have('dcm2niix');
const GEOMETRY_WARNINGS = /Interslice distance varies|slice orientation varies|Missing images|Unable to determine slice direction|tilt/i;

// spacing: the SpacingBetweenSlices the plan means (7.5 mm in 8 steps; 4 mm in 4; 3 mm in 3);
// identityRescale: every source slice has slope 1, intercept 0.
const CASES: Array<{ source: string; target: SpacingTarget; method: ClassicalMethod; sourceDir: string; spacing: number; mm: string; identityRescale: boolean }> = [
  { source: 'siemens-asl-6mm-thick-7.5mm-spacing', target: { spacingMm: 1 }, method: 'cubic', sourceDir: 'siemens-asl-6mm-thick-7.5mm-spacing', spacing: 0.9375, mm: '0.94', identityRescale: true },
  { source: 'philips-pcasl-oblique-4mm', target: { spacingMm: 1 }, method: 'linear', sourceDir: 'philips-pcasl-oblique-4mm', spacing: 1, mm: '1.0', identityRescale: false },
  { source: 'enhanced/philips-pcasl-enhanced-40frames.dcm', target: { spacingMm: 1 }, method: 'cubic', sourceDir: 'enhanced', spacing: 1, mm: '1.0', identityRescale: false },
  { source: 'canon-axial-oblique-36deg', target: { factor: 3 }, method: 'cubic', sourceDir: 'canon-axial-oblique-36deg', spacing: 1, mm: '1.0', identityRescale: true },
];

/** The acquisition event, which a derived series does not claim (docs/derived-series.md). */
const NOT_CLAIMED = [
  'ReferencedPerformedProcedureStepSequence', 'PerformingPhysicianName', 'OperatorsName', 'AcquisitionNumber', 'AcquisitionDate',
  'AcquisitionTime', 'AcquisitionDateTime', 'TriggerTime', 'NominalInterval', 'CardiacNumberOfImages', 'TriggerWindow', 'HeartRate',
  'SAR', 'dBdt', 'B1rms',
];
const RESCALE_WARNING = /not present in standard DICOM IOD - \(0x0028,0x105[234]\)|Non-identity Modality LUT/;

function dcm2niix(inDir: string, outDir: string): { log: string; nii: NiftiGeometry } {
  const r = spawnSync('dcm2niix', ['-z', 'n', '-b', 'n', '-f', 'vol', '-o', outDir, inDir], { encoding: 'utf8' });
  const log = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, log);
  const files = readdirSync(outDir).filter((f) => f.endsWith('.nii'));
  assert.equal(files.length, 1, `dcm2niix made ${files.join(', ')}\n${log}`);
  return { log, nii: readNiftiGeometry(join(outDir, files[0])) };
}

const unit = (v: number[]) => {
  const l = Math.hypot(...v);
  return v.map((x) => x / l);
};

describe('derived series from real sources', { skip: tools ? false : 'dciodvfy and dcm2niix not installed' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-derive-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const c of CASES) {
    describe(`${c.source} -> ${JSON.stringify(c.target)} ${c.method}`, () => {
      let fx: Fixture;
      let plan: OutputSlice[];
      let series: DerivedSeries;
      let synthesised: Float32Array[];
      let headers: NaturalDataset[]; // in plan order
      const dciodvfyLines: string[] = [];
      const outDir = join(work, c.source.replace(/[^a-z0-9]+/gi, '_'));

      before(async () => {
        fx = await loadFixture(c.source);
        plan = planOutputSlices(fx.volume.distances, c.target);
        const interp = createClassicalInterpolator(c.method);
        synthesised = await interp.interpolate(fx.volume, plan);
        series = await writeDerivedSeries({
          stack: fx.stack,
          referenceHeader: fx.referenceHeader,
          plan,
          synthesised,
          loadRawSlice: async (i) => fx.raw[i],
          outDir: join(outDir, 'dicom'),
          method: c.method,
          interpolatorDescription: interp.description,
          target: c.target,
        });
        const byInstance = new Map<number, NaturalDataset>();
        for (const f of series.files) {
          const { dataset } = await readPart10(f);
          byInstance.set(num(dataset.InstanceNumber)!, dataset);
        }
        headers = plan.map((_, k) => byInstance.get(k + 1)!);
      });

      it('writes one classic file per planned slice, named by instance number', () => {
        assert.equal(series.sliceCount, plan.length);
        assert.equal(series.files.length, plan.length);
        assert.deepEqual(readdirSync(join(outDir, 'dicom')).sort(), series.files.map((f) => f.split('/').pop()).sort());
        assert.ok(series.files.every((f, i) => f.endsWith(`${String(i + 1).padStart(4, '0')}.dcm`)));
      });

      it('dciodvfy reports no errors', () => {
        for (const f of series.files) {
          const r = spawnSync('dciodvfy', [f], { encoding: 'utf8' });
          const lines = `${r.stdout}${r.stderr}`.split('\n');
          dciodvfyLines.push(...lines);
          const errors = lines.filter((l) => /^Error/.test(l));
          assert.deepEqual(errors, [], f);
        }
      });

      it(`dciodvfy: rescale warnings only where a rescale is needed (source ${c.identityRescale ? 'identity: none' : 'non-identity: kept'})`, () => {
        const warned = dciodvfyLines.some((l) => RESCALE_WARNING.test(l));
        assert.equal(warned, !c.identityRescale, dciodvfyLines.filter((l) => RESCALE_WARNING.test(l)).slice(0, 3).join('\n'));
        if (c.identityRescale) for (const d of headers) for (const k of ['RescaleSlope', 'RescaleIntercept', 'RescaleType']) assert.ok(!(k in d), k);
      });

      it('no synthesised value is clipped: each slice decodes to the interpolated floats within half its rescale step', () => {
        let k = 0;
        plan.forEach((p, j) => {
          if (p.sourceIndex !== undefined) return;
          const got = realWorldValues(headers[j]);
          const want = synthesised[k++];
          const half = rescaleOf(headers[j]).slope / 2;
          for (let i = 0; i < want.length; i++) {
            assert.ok(Math.abs(got[i] - want[i]) <= half + 1e-6 * Math.abs(want[i]), `slice ${j} pixel ${i}: ${got[i]} vs ${want[i]}`);
          }
        });
        assert.equal(k, synthesised.length);
      });

      it('SpacingBetweenSlices is the planned spacing, SeriesDescription says interpolated', () => {
        for (const d of headers) {
          assert.equal(num(d.SpacingBetweenSlices), c.spacing);
          const desc = str(d.SeriesDescription)!;
          assert.ok(desc.length <= 64);
          assert.ok(desc.endsWith(` [Interslice interpolated ${c.mm}mm ${c.method}]`), desc);
          assert.ok(desc.startsWith(str(fx.referenceHeader.SeriesDescription)!.slice(0, 10)), desc);
        }
      });

      it('SourceImageSequence cites the slice itself, or the source slices its method reads', () => {
        const ref = (i: number) => {
          const s = fx.stack.slices[i];
          return `${s.instance.sopInstanceUid}#${s.instance.numberOfFrames > 1 ? s.frame + 1 : ''}`;
        };
        const last = fx.stack.slices.length - 1;
        plan.forEach((p, j) => {
          let want: number[];
          if (p.sourceIndex !== undefined) want = [p.sourceIndex];
          else if (c.method === 'linear') want = [p.between!.lower, p.between!.upper];
          else {
            // Cubic: the four nearest source slices, fewer at the ends of the stack.
            want = [];
            for (let i = Math.max(0, p.between!.lower - 1); i <= Math.min(last, p.between!.upper + 1); i++) want.push(i);
          }
          const got = asArray(headers[j].SourceImageSequence).map((it: NaturalDataset) => `${it.ReferencedSOPInstanceUID}#${it.ReferencedFrameNumber ?? ''}`);
          assert.deepEqual(got, want.map(ref), `slice ${j}`);
          const cited = asArray(headers[j].ReferencedSeriesSequence)[0].ReferencedInstanceSequence.map((it: NaturalDataset) => it.ReferencedSOPInstanceUID);
          assert.deepEqual(cited, [...new Set(want.map((i) => fx.stack.slices[i].instance.sopInstanceUid))]);
        });
      });

      it('acquisition event not claimed; MR Image module type 1 and 2 attributes present', () => {
        const src = fx.referenceHeader;
        assert.ok(NOT_CLAIMED.some((k) => src[k] !== undefined) || fx.stack.flags.enhanced, 'the source has some of them');
        for (const d of headers) {
          for (const k of NOT_CLAIMED) assert.ok(!(k in d), k);
          for (const k of ['ImageType', 'SamplesPerPixel', 'PhotometricInterpretation', 'BitsAllocated', 'ScanningSequence', 'SequenceVariant']) {
            assert.ok(asArray(d[k]).length > 0 && str(asArray(d[k])[0]) !== '', `type 1 ${k}`);
          }
          for (const k of ['ScanOptions', 'MRAcquisitionType', 'EchoTime', 'EchoTrainLength']) assert.ok(k in d, `type 2 ${k}`);
        }
        // The contrast is the source's: TE and TR are kept.
        if (!fx.stack.flags.enhanced) {
          assert.equal(num(headers[1].EchoTime), num(src.EchoTime));
          assert.equal(num(headers[1].RepetitionTime), num(src.RepetitionTime));
        }
      });

      it('dcm2niix: no geometry warnings; source orientation and origin, target spacing', () => {
        const derived = dcm2niix(join(outDir, 'dicom'), mkdir(join(outDir, 'nii')));
        const source = dcm2niix(join(MR_DATA, c.sourceDir), mkdir(join(outDir, 'nii-source')));
        assert.doesNotMatch(derived.log, GEOMETRY_WARNINGS, derived.log);
        const s = source.nii;
        const d = alignedTo(derived.nii, s);
        assert.equal(d.dim[3], plan.length);
        assert.equal(d.dim[1], s.dim[1]);
        assert.equal(d.dim[2], s.dim[2]);
        assert.ok(d.sformCode > 0 && d.qformCode > 0);
        const spacing = planSpacing(plan);
        assert.ok(Math.abs(d.pixdim[3] - spacing) < 1e-3, `pixdim ${d.pixdim[3]} vs ${spacing}`);
        for (const j of [0, 1]) column(d, j).forEach((v, i) => assert.ok(Math.abs(v - column(s, j)[i]) < 1e-4, `column ${j}`));
        const dn = unit(column(d, 2));
        const sn = unit(column(s, 2));
        dn.forEach((v, i) => assert.ok(Math.abs(v - sn[i]) < 1e-4, `slice direction ${dn} vs ${sn}`));
        for (let i = 0; i < 3; i++) assert.ok(Math.abs(d.srow[i][3] - s.srow[i][3]) < 0.01, `origin ${i}: ${d.srow[i][3]} vs ${s.srow[i][3]}`);
      });

      it('source slices come back bit-exact at their own positions; instance numbers run in spatial order', async () => {
        const byInstance = new Map<number, { ipp: number[]; pixels: Uint8Array }>();
        for (const f of series.files) {
          const { dataset } = await readPart10(f);
          byInstance.set(num(dataset.InstanceNumber)!, {
            ipp: nums(dataset.ImagePositionPatient, 3)!,
            pixels: new Uint8Array(asArray(dataset.PixelData)[0] as ArrayBuffer),
          });
        }
        const descending = byInstance.get(1)!.ipp.some((v, i) => Math.abs(v - fx.positions[0][i]) > 0.01);
        let sources = 0;
        plan.forEach((p, k) => {
          const got = byInstance.get(descending ? plan.length - k : k + 1)!;
          if (p.sourceIndex === undefined) return;
          sources++;
          assert.ok(Buffer.from(got.pixels).equals(Buffer.from(fx.raw[p.sourceIndex])), `source slice ${p.sourceIndex} differs`);
          got.ipp.forEach((v, i) => assert.ok(Math.abs(v - fx.positions[p.sourceIndex!][i]) < 0.01));
        });
        assert.equal(sources, fx.stack.slices.length, 'every source slice lands on the regular grid');
        assert.equal(descending, false, 'these sources number their slices along the normal');
      });
    });
  }
});

function mkdir(p: string): string {
  execFileSync('mkdir', ['-p', p]);
  return p;
}
