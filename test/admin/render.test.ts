// Pictures of a real oblique sagittal stack (Canon, tilted 28 degrees) processed by the node's
// pipeline: the two cuts are named coronal and axial, the slice axis runs across, mm are square,
// the three pictures of a cut (as acquired, as a viewer shows it, derived) match in size, only
// the acquired one has steps, and one value is one grey in all of them (one window).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadStack } from '../../src/admin/load-stack.js';
import { PICTURE_KINDS, renderBeforeAfter, type PicturePair } from '../../src/admin/render.js';
import { reformat, stackExtent, type ReformatVolume } from '../../src/admin/reformat.js';
import { processFolder, seriesFiles } from './fixture.js';

const FOLDER = 'canon-sagittal-oblique-28deg';

/** Runs of equal grey values along the middle picture row (the slice axis runs across here). */
async function horizontalRuns(path: string): Promise<number> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  const row = Math.floor(info.height / 2) * info.width * info.channels;
  let runs = 1;
  for (let x = 1; x < info.width; x++) if (data[row + x * info.channels] !== data[row + (x - 1) * info.channels]) runs++;
  return runs;
}

describe('render before/after of an oblique sagittal stack', () => {
  let dir: string;
  let pairs: PicturePair[];
  let source: ReformatVolume;
  let derived: ReformatVolume;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'interslice-render-'));
    const job = await processFolder(FOLDER, join(dir, 'derived'), 1);
    const stack = job.result!.stacks.find((s) => s.derived)!;
    assert.ok(stack, 'the stack was processed');
    source = await loadStack(seriesFiles(FOLDER), stack.stackId);
    derived = await loadStack(stack.derived!.files);
    assert.equal(source.slices.length, 40);
    assert.ok(derived.slices.length > 100);
    pairs = await renderBeforeAfter(source, derived, join(dir, 'pictures'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the two planes that contain the normal of a sagittal stack', () => {
    assert.deepEqual(
      pairs.map((p) => [p.cut, p.plane]),
      [
        ['column', 'coronal'],
        ['row', 'axial'],
      ],
    );
  });

  it('keeps mm square: 40 x 3 mm across, 80 x 3 mm down, at 0.75 mm per pixel', async () => {
    for (const p of pairs) {
      for (const which of PICTURE_KINDS) assert.deepEqual([p[which].width, p[which].height], [160, 320], `${p.cut} ${which}`);
      for (const pic of PICTURE_KINDS.map((k) => p[k])) {
        const m = await sharp(join(dir, 'pictures', pic.file)).metadata();
        assert.deepEqual([m.width, m.height, m.channels], [pic.width, pic.height, 1], pic.file);
      }
    }
  });

  it('shows steps of whole slices in the source and finer steps in the derived series', async () => {
    for (const p of pairs) {
      const src = await horizontalRuns(join(dir, 'pictures', p.source.file));
      const der = await horizontalRuns(join(dir, 'pictures', p.derived.file));
      assert.ok(src <= 40, `${p.cut} source: ${src} runs across 40 slices`);
      assert.ok(der > src, `${p.cut} derived: ${der} runs, source ${src}`);
    }
  });

  it('shows the viewer\'s linear picture, not the staircase again', async () => {
    for (const p of pairs) {
      const src = await grey(join(dir, 'pictures', p.source.file));
      const lin = await grey(join(dir, 'pictures', p.viewer.file));
      let differ = 0;
      for (let i = 0; i < src.length; i++) if (src[i] !== lin[i]) differ++;
      assert.ok(differ > src.length / 10, `${p.cut}: ${differ} of ${src.length} pixels differ`);
      const runsSrc = await horizontalRuns(join(dir, 'pictures', p.source.file));
      const runsLin = await horizontalRuns(join(dir, 'pictures', p.viewer.file));
      assert.ok(runsLin > runsSrc, `${p.cut}: viewer ${runsLin} runs, acquired ${runsSrc}`);
    }
  });

  it('maps one value to one grey in all six pictures (one window), from the acquired values', async () => {
    // The values behind every picture pixel, cut as the pictures are (0.75 mm per pixel), and the
    // greys of the PNGs: sorted by value, the greys never go down, across all pictures together.
    // Two windows (e.g. one per series) would break this where their ramps overlap.
    const extent = stackExtent(source);
    const points: [number, number][] = [];
    for (const p of pairs) {
      const im = {
        source: reformat(source, p.cut, { sampling: 'nearest', extent, pixelMm: 0.75 }),
        viewer: reformat(source, p.cut, { sampling: 'linear', extent, pixelMm: 0.75 }),
        derived: reformat(derived, p.cut, { sampling: 'linear', extent, pixelMm: 0.75 }),
      };
      for (const which of PICTURE_KINDS) {
        const g = await grey(join(dir, 'pictures', p[which].file));
        assert.equal(g.length, im[which].data.length);
        im[which].data.forEach((v, i) => points.push([v, g[i]]));
      }
    }
    points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < points.length; i++) {
      if (points[i][1] < points[i - 1][1]) assert.fail(`value ${points[i][0]} is grey ${points[i][1]}, but the lower value ${points[i - 1][0]} is grey ${points[i - 1][1]}`);
    }
    // Every grey from black to white is used, so the check above spans the whole ramp.
    assert.equal(points[0][1], 0);
    assert.equal(points[points.length - 1][1], 255);
    // The window is that of the acquired values: about 1% of their pixels are at or below the
    // black end, and the derived series's pixels do not set it.
    const w = pairs[0].window;
    assert.ok(pairs.every((p) => p.window.low === w.low && p.window.high === w.high));
    const acquired = pairs.flatMap((p) => Array.from(reformat(source, p.cut, { sampling: 'nearest', extent, pixelMm: 0.75 }).data));
    const below = acquired.filter((v) => v <= w.low).length / acquired.length;
    const above = acquired.filter((v) => v >= w.high).length / acquired.length;
    assert.ok(below >= 0.01 && below < 0.05, `acquired at or below the low end: ${below}`);
    assert.ok(above >= 0.01 && above < 0.05, `acquired at or above the high end: ${above}`);
  });
});

async function grey(path: string): Promise<Uint8Array> {
  // decoded as stored: one 8-bit grey channel
  const { data, info } = await sharp(path).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 1, path);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}
