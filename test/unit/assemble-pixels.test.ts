// Pixel loading. Real-data numbers come from `dcmdump +W` (raw Pixel Data written to disk) read
// with numpy; synthetic files are written here with known stored values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InstanceMeta, Stack } from '../../src/core/types.js';
import { writePart10 } from '../../src/dicom/dcmjs.js';
import { readInstanceMeta } from '../../src/assemble/instance-meta.js';
import { assembleStacks } from '../../src/assemble/stacks.js';
import { loadRawSlice, loadStackVolume } from '../../src/assemble/pixels.js';

const MR = fileURLToPath(new URL('../../../shared/data/mr/', import.meta.url));

async function stackOf(folder: string): Promise<Stack> {
  const dir = join(MR, folder);
  const metas: InstanceMeta[] = [];
  for (const f of (await readdir(dir)).sort()) metas.push(await readInstanceMeta(join(dir, f)));
  const { stacks } = assembleStacks(metas);
  assert.equal(stacks.length, 1);
  return stacks[0];
}

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};

test('Philips pCASL: stored values bit-exact, RescaleSlope 0.1 applied in float', async () => {
  const s = await stackOf('philips-pcasl-oblique-4mm');
  const slice = s.slices[19]; // 1901_0020.dcm, the 20th along the normal
  assert.match(slice.instance.path, /1901_0020\.dcm$/);
  const raw = await loadRawSlice(slice);
  assert.ok(raw instanceof Uint16Array);
  assert.equal(raw.length, 96 * 96);
  // numpy on dcmdump +W: sum 716010, max 3577 at index 7514, value 16 at index 4800
  assert.equal(sum(raw), 716010);
  assert.equal(raw[7514], 3577);
  assert.equal(raw[4800], 16);
  const vol = await loadStackVolume(s);
  assert.equal(vol.slices.length, 40);
  assert.deepEqual([vol.rows, vol.columns], [96, 96]);
  assert.deepEqual(vol.distances, s.slices.map((x) => x.distance));
  assert.ok(Math.abs(vol.slices[19][7514] - 357.7) < 1e-4);
  assert.ok(Math.abs(vol.slices[19][4800] - 1.6) < 1e-6);
});

test('Enhanced MR: frame 20 holds the same pixels as its classic twin, with per-frame slope', async () => {
  const e = await stackOf('enhanced');
  const raw = await loadRawSlice(e.slices[19]);
  assert.equal(sum(raw), 716010); // numpy: enhanced frame index 19 equals 1901_0020.dcm
  const vol = await loadStackVolume(e);
  assert.equal(vol.slices.length, 40);
  assert.ok(Math.abs(vol.slices[19][7514] - 357.7) < 1e-4);
});

test('GE fMRI: signed 16-bit, one volume of a multi-volume stack', async () => {
  const s = await stackOf('ge-epi-axial-5mm-gap-10vol');
  const vol = await loadStackVolume(s, 1); // volume 2: instances 16-30
  assert.equal(vol.slices.length, 15);
  // slice 2 of volume 2 is instance 17 (z = -12.6875): numpy sum 2724748, value 1356 at 2080
  assert.equal(sum(vol.slices[1]), 2724748);
  assert.equal(vol.slices[1][2080], 1356);
  await assert.rejects(loadStackVolume(s, 10), /no volume 10/);
});

test('Philips phase map: negative intercept applied', async () => {
  const dir = join(MR, 'philips-fieldmap-2echo-magphase');
  const meta = await readInstanceMeta(join(dir, '2001_0107_ph.dcm'));
  const { stacks } = assembleStacks([meta]);
  const vol = await loadStackVolume(stacks[0]);
  // stored 0 -> 0 * 1.53455433455433 - 3142; stored 4094 at index 3153 -> 3140.4654...
  assert.equal(vol.slices[0][0], -3142);
  assert.ok(Math.abs(vol.slices[0][3153] - 3140.46545) < 1e-3);
});

function synthetic(over: Record<string, unknown>, pixels: ArrayBufferLike, z: number, uid: string) {
  return {
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
    SOPInstanceUID: uid,
    StudyInstanceUID: '1.2.826.0.1.1',
    SeriesInstanceUID: '1.2.826.0.1.2',
    Modality: 'MR',
    InstanceNumber: 1,
    Rows: 2,
    Columns: 2,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    ImagePositionPatient: [0, 0, z],
    ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
    PixelSpacing: [1, 1],
    PixelData: [pixels],
    _vrMap: { PixelData: 'OW' },
    ...over,
  };
}

test('synthetic: signed 12-bit in 16, masked and sign-extended; Implicit VR; slope and intercept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'interslice-px-'));
  try {
    // stored -5 (0xfffb), 0, 100, 2047 and 0x0ffb: a 12-bit two's complement -5 without sign bits
    const a = new Uint16Array([0xfffb, 0, 100, 2047]);
    const b = new Uint16Array([0x0ffb, 1, 2, 3]);
    const common = { BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 1, RescaleSlope: '2', RescaleIntercept: '-1' };
    const files = [
      [synthetic(common, a.buffer, 0, '1.2.826.0.1.3'), '1.2.840.10008.1.2'],
      [synthetic({ ...common, InstanceNumber: 2 }, b.buffer, 3, '1.2.826.0.1.4'), '1.2.840.10008.1.2.1'],
    ] as const;
    const metas: InstanceMeta[] = [];
    for (const [i, [ds, ts]] of files.entries()) {
      const path = join(dir, `${i}.dcm`);
      await writeFile(path, writePart10(ds, { sopClassUid: ds.SOPClassUID, sopInstanceUid: ds.SOPInstanceUID, transferSyntaxUid: ts }));
      metas.push(await readInstanceMeta(path));
    }
    assert.equal(metas[0].transferSyntaxUid, '1.2.840.10008.1.2');
    const [s] = assembleStacks(metas).stacks;
    const raw0 = await loadRawSlice(s.slices[0]);
    assert.ok(raw0 instanceof Int16Array);
    assert.deepEqual([...raw0], [-5, 0, 100, 2047]);
    const raw1 = await loadRawSlice(s.slices[1]);
    assert.deepEqual([...new Uint16Array(raw1.buffer)], [0x0ffb, 1, 2, 3]); // bit-exact, unmasked
    const vol = await loadStackVolume(s);
    // value * 2 - 1
    assert.deepEqual([...vol.slices[0]], [-11, -1, 199, 4093]);
    assert.deepEqual([...vol.slices[1]], [-11, 1, 3, 5]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('synthetic: 8-bit unsigned and unsigned 12-bit with stray high bits', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'interslice-px-'));
  try {
    const eight = synthetic({ BitsAllocated: 8, BitsStored: 8, HighBit: 7, PixelRepresentation: 0 }, new Uint8Array([0, 1, 128, 255]).buffer, 0, '1.2.826.0.2.1');
    eight._vrMap = { PixelData: 'OB' };
    const stray = synthetic(
      { SeriesInstanceUID: '1.2.826.0.2.9', BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 0 },
      new Uint16Array([0xf00a, 4095, 0, 1]).buffer,
      0,
      '1.2.826.0.2.2',
    );
    const metas: InstanceMeta[] = [];
    for (const [i, ds] of [eight, stray].entries()) {
      const path = join(dir, `${i}.dcm`);
      await writeFile(path, writePart10(ds, { sopClassUid: ds.SOPClassUID, sopInstanceUid: ds.SOPInstanceUID }));
      metas.push(await readInstanceMeta(path));
    }
    const stacks = assembleStacks(metas).stacks;
    const s8 = stacks.find((s) => s.seriesInstanceUid === '1.2.826.0.1.2')!;
    const s12 = stacks.find((s) => s.seriesInstanceUid === '1.2.826.0.2.9')!;
    const raw8 = await loadRawSlice(s8.slices[0]);
    assert.ok(raw8 instanceof Uint8Array);
    assert.deepEqual([...raw8], [0, 1, 128, 255]);
    assert.deepEqual([...(await loadStackVolume(s8)).slices[0]], [0, 1, 128, 255]);
    assert.deepEqual([...(await loadStackVolume(s12)).slices[0]], [10, 4095, 0, 1]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('lossy compressed transfer syntaxes are refused with a clear message', async () => {
  const s = await stackOf('siemens-asl-6mm-thick-7.5mm-spacing');
  const jpeg = { ...s.slices[0], instance: { ...s.slices[0].instance, transferSyntaxUid: '1.2.840.10008.1.2.4.50' } };
  await assert.rejects(loadRawSlice(jpeg), /transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50 is not supported \(.*lossless JPEG/);
  await assert.rejects(loadStackVolume({ ...s, slices: [jpeg, ...s.slices.slice(1)] }), /1\.2\.840\.10008\.1\.2\.4\.50 is not supported/);
});
