// Before/after pictures of a real oblique sagittal stack (Canon, tilted 28 degrees) processed by
// the node's pipeline: the two cuts are named coronal and axial, the slice axis runs across,
// mm are square, source and derived pictures match in size, and only the source has steps.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadStack } from '../../src/admin/load-stack.js';
import { renderBeforeAfter, type PicturePair } from '../../src/admin/render.js';
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

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'interslice-render-'));
    const job = await processFolder(FOLDER, join(dir, 'derived'), 1);
    const stack = job.result!.stacks.find((s) => s.derived)!;
    assert.ok(stack, 'the stack was processed');
    const source = await loadStack(seriesFiles(FOLDER), stack.stackId);
    const derived = await loadStack(stack.derived!.files);
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
      assert.deepEqual([p.source.width, p.source.height], [160, 320], p.cut);
      assert.deepEqual([p.derived.width, p.derived.height], [160, 320], p.cut);
      for (const pic of [p.source, p.derived]) {
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
});
