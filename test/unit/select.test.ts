// Select: every MANIFEST row's outcome (../shared/data/mr/MANIFEST.md, "a correct node") with the
// default rules, and the order and thresholds of the rules on synthetic stacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Decision, InstanceMeta, Stack, StackFlags } from '../../src/core/types.js';
import { readInstanceMeta } from '../../src/assemble/instance-meta.js';
import { assembleStacks } from '../../src/assemble/stacks.js';
import { defaultSelectRules, selectStack, type SelectRules } from '../../src/select/rules.js';

const MR = fileURLToPath(new URL('../../../shared/data/mr/', import.meta.url));

async function decide(folder: string): Promise<Decision[]> {
  const dir = join(MR, folder);
  const metas: InstanceMeta[] = [];
  for (const f of (await readdir(dir)).sort()) metas.push(await readInstanceMeta(join(dir, f)));
  return assembleStacks(metas).stacks.map((s) => selectStack(s, defaultSelectRules));
}

const summary = (ds: Decision[]) => ds.map((d) => [d.action, d.code, d.stack.slices.length]);

function oneSentence(d: Decision): void {
  assert.match(d.reason, /^[A-Z0-9].*\.$/, `reason should be one sentence: ${d.reason}`);
  assert.doesNotMatch(d.reason, /\.\s+[A-Z]/, `reason has more than one sentence: ${d.reason}`);
}

test('MANIFEST siemens-asl-6mm-thick-7.5mm-spacing: process (7.5 mm over 4 mm pixels)', async () => {
  const ds = await decide('siemens-asl-6mm-thick-7.5mm-spacing');
  assert.deepEqual(summary(ds), [['process', 'thick-slice', 12]]);
  assert.match(ds[0].reason, /7\.5 mm .* 4 mm/);
  oneSentence(ds[0]);
});

test('MANIFEST philips-pcasl-oblique-4mm: process (4 mm over 2.5 mm = 1.6x)', async () => {
  const ds = await decide('philips-pcasl-oblique-4mm');
  assert.deepEqual(summary(ds), [['process', 'thick-slice', 40]]);
  assert.match(ds[0].reason, /1\.60x/);
});

test('MANIFEST canon-axial-oblique-36deg: process (3 mm slices reach the 3 mm absolute threshold)', async () => {
  const ds = await decide('canon-axial-oblique-36deg');
  assert.deepEqual(summary(ds), [['process', 'thick-slice', 40]]);
  assert.match(ds[0].reason, /at least 3 mm/);
});

test('MANIFEST canon-sagittal-oblique-28deg: process', async () => {
  assert.deepEqual(summary(await decide('canon-sagittal-oblique-28deg')), [['process', 'thick-slice', 40]]);
});

test('MANIFEST philips-fieldmap-2echo-magphase: four stacks of 53, each processable', async () => {
  const ds = await decide('philips-fieldmap-2echo-magphase');
  assert.deepEqual(summary(ds), Array.from({ length: 4 }, () => ['process', 'thick-slice', 53]));
});

test('MANIFEST ge-epi-axial-5mm-gap-10vol: skipped as a time series of 10 volumes of 15', async () => {
  const ds = await decide('ge-epi-axial-5mm-gap-10vol');
  assert.deepEqual(summary(ds), [['skip', 'time-series', 150]]);
  assert.match(ds[0].reason, /10 volumes of 15 slices/);
  oneSentence(ds[0]);
});

test('MANIFEST siemens-t1-sagittal-2mm-isotropic: skipped as already isotropic', async () => {
  const ds = await decide('siemens-t1-sagittal-2mm-isotropic');
  assert.deepEqual(summary(ds), [['skip', 'already-isotropic', 96]]);
  assert.match(ds[0].reason, /2 mm is 1\.00x/);
  oneSentence(ds[0]);
});

test('MANIFEST siemens-mixed-mr-and-secondary-capture: MR stack processed, Secondary Capture ignored with a reason', async () => {
  const ds = await decide('siemens-mixed-mr-and-secondary-capture');
  assert.deepEqual(summary(ds).sort(), [
    ['process', 'thick-slice', 12],
    ['skip', 'not-mr-image', 12],
  ]);
  const sc = ds.find((d) => d.code === 'not-mr-image')!;
  assert.match(sc.reason, /Secondary Capture/);
  oneSentence(sc);
});

test('MANIFEST siemens-localizers: all three scout series skipped as localizers', async () => {
  const ds = await decide('siemens-localizers');
  assert.deepEqual(summary(ds).map(([a, c]) => [a, c]), [
    ['skip', 'localizer'],
    ['skip', 'localizer'],
    ['skip', 'localizer'],
  ]);
});

test('MANIFEST siemens-mosaic-epi: skipped as mosaic', async () => {
  const ds = await decide('siemens-mosaic-epi');
  assert.deepEqual(ds.map((d) => [d.action, d.code]), [['skip', 'mosaic']]);
});

test('MANIFEST enhanced: one stack of 40, processed like its classic twin', async () => {
  const ds = await decide('enhanced');
  assert.deepEqual(summary(ds), [['process', 'thick-slice', 40]]);
  assert.equal(ds[0].stack.flags.enhanced, true);
});

// ---- synthetic stacks: thresholds and the order of the checks ----

function stack(over: { spacing?: number; pixel?: number; slices?: number; volumes?: number; modality?: string; flags?: Partial<StackFlags>; irregular?: boolean; gaps?: number[] } = {}): Stack {
  const n = (over.slices ?? 20) * (over.volumes ?? 1);
  const sp = over.spacing ?? 5;
  const inst = { sopClassUid: '1.2.840.10008.5.1.4.1.1.4' } as InstanceMeta;
  return {
    id: 'stk-test',
    studyInstanceUid: '1',
    seriesInstanceUid: '2',
    label: 'MR series 1 ax',
    modality: over.modality ?? 'MR',
    orientation: [1, 0, 0, 0, 1, 0],
    normal: [0, 0, 1],
    rows: 64,
    columns: 64,
    pixelSpacing: [over.pixel ?? 1, over.pixel ?? 1],
    slices: Array.from({ length: n }, (_, i) => ({ instance: inst, frame: 0, position: [0, 0, i * sp], distance: i * sp })),
    spacing: { mean: sp, min: sp, max: sp, irregular: over.irregular ?? false, gaps: over.gaps ?? [] },
    volumes: over.volumes ?? 1,
    flags: { localizer: false, mosaic: false, derivedByUs: false, timeSeries: false, notImage: false, enhanced: false, ...over.flags },
    issues: [],
  };
}

const code = (s: Stack, rules: SelectRules = defaultSelectRules) => selectStack(s, rules).code;

test('defaults', () => {
  assert.deepEqual(defaultSelectRules, {
    modalities: ['MR'],
    minSlices: 8,
    minSpacingRatio: 1.5,
    minSpacingMm: 3,
    skipLocalizers: true,
    skipMosaic: true,
    skipTimeSeries: true,
    skipDerived: true,
    allowIrregular: false,
  });
});

test('spacing thresholds: ratio OR absolute, with DS rounding allowed', () => {
  assert.equal(code(stack({ spacing: 1.5, pixel: 1 })), 'thick-slice'); // exactly 1.5x
  assert.equal(code(stack({ spacing: 1.495, pixel: 1 })), 'thick-slice'); // within 0.01 mm
  assert.equal(code(stack({ spacing: 1.4, pixel: 1 })), 'already-isotropic');
  assert.equal(code(stack({ spacing: 2.999995, pixel: 3 })), 'thick-slice'); // 3 mm absolute
  assert.equal(code(stack({ spacing: 2.9, pixel: 2.5 })), 'already-isotropic'); // 1.16x and < 3 mm
  assert.equal(code(stack({ spacing: 2.9, pixel: 2.5 }), { ...defaultSelectRules, minSpacingRatio: 1.1 }), 'thick-slice');
  assert.equal(code(stack({ spacing: 3, pixel: 3 }), { ...defaultSelectRules, minSpacingMm: 4 }), 'already-isotropic');
});

test('the coarser in-plane pixel spacing is compared', () => {
  const s = stack({ spacing: 2, pixel: 1 });
  s.pixelSpacing = [1, 1.5]; // 2 / 1.5 = 1.33x
  assert.equal(code(s), 'already-isotropic');
});

test('too few slices, irregular spacing, modality', () => {
  assert.equal(code(stack({ slices: 7 })), 'too-few-slices');
  assert.equal(code(stack({ slices: 8 })), 'thick-slice');
  assert.equal(code(stack({ slices: 4 }), { ...defaultSelectRules, minSlices: 4 }), 'thick-slice');
  assert.equal(code(stack({ irregular: true })), 'irregular-spacing');
  assert.equal(code(stack({ gaps: [3] })), 'irregular-spacing');
  assert.equal(code(stack({ gaps: [3] }), { ...defaultSelectRules, allowIrregular: true }), 'thick-slice');
  assert.equal(code(stack({ modality: 'CT' })), 'modality');
  assert.equal(code(stack({ modality: 'CT' }), { ...defaultSelectRules, modalities: ['MR', 'CT'] }), 'thick-slice');
});

test('multi-volume: time series vs other repeats', () => {
  assert.equal(code(stack({ volumes: 3, flags: { timeSeries: true } })), 'time-series');
  assert.equal(code(stack({ volumes: 3 })), 'multi-volume');
  assert.equal(code(stack({ volumes: 3, flags: { timeSeries: true } }), { ...defaultSelectRules, skipTimeSeries: false }), 'multi-volume');
});

test('the first applicable check decides, in the documented order', () => {
  const all = { notImage: true, derivedByUs: true, mosaic: true, localizer: true, timeSeries: true };
  const s = stack({ volumes: 2, slices: 2, modality: 'OT', flags: all });
  assert.equal(code(s), 'not-mr-image');
  s.flags.notImage = false;
  assert.equal(code(s), 'derived-by-us');
  s.flags.derivedByUs = false;
  assert.equal(code(s), 'modality');
  s.modality = 'MR';
  assert.equal(code(s), 'mosaic');
  s.flags.mosaic = false;
  assert.equal(code(s), 'localizer');
  s.flags.localizer = false;
  assert.equal(code(s), 'time-series');
  s.volumes = 1;
  assert.equal(code(s), 'too-few-slices');
});

test('rules can be switched off, except the not-image check', () => {
  const off: SelectRules = { ...defaultSelectRules, skipDerived: false, skipMosaic: false, skipLocalizers: false };
  assert.equal(code(stack({ flags: { derivedByUs: true } }), off), 'thick-slice');
  assert.equal(code(stack({ flags: { mosaic: true } }), off), 'thick-slice');
  assert.equal(code(stack({ flags: { localizer: true } }), off), 'thick-slice');
  assert.equal(code(stack({ flags: { notImage: true } }), off), 'not-mr-image');
});

test('every decision has one sentence', () => {
  for (const s of [stack(), stack({ slices: 2 }), stack({ flags: { derivedByUs: true } }), stack({ irregular: true }), stack({ spacing: 1 })]) {
    oneSentence(selectStack(s));
  }
});
