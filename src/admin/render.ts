// Pictures of one processed stack, per cut (the two reformats that contain the slice normal):
// the source as acquired (nearest source slice: the staircase of thick slices), the source as a
// viewer shows it (linear between source slices) and the derived series, as PNG files (sharp).
// All three are cut through the same row/column, over the same range along the normal, at the
// same mm per pixel and under one window (1st-99th percentile of the as-acquired values of both
// cuts), so the same value is the same grey in every picture and they differ only by what was
// done between the slices.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { percentileWindow, reformat, stackExtent, toGrey8, type ReformatCut, type ReformatImage, type ReformatVolume, type Window } from './reformat.js';

export interface Picture {
  /** File name inside the output folder, e.g. "column-source.png". */
  file: string;
  width: number;
  height: number;
}

/** source: as acquired (nearest source slice); viewer: linear between source slices; derived: the derived series. */
export type PictureKind = 'source' | 'viewer' | 'derived';
export const PICTURE_KINDS: PictureKind[] = ['source', 'viewer', 'derived'];

export interface PicturePair {
  cut: ReformatCut;
  /** Anatomical name of the plane, e.g. "sagittal". */
  plane: ReformatImage['plane'];
  source: Picture;
  viewer: Picture;
  derived: Picture;
  /** The one window of all pictures of the stack (source values, 1st-99th percentile). */
  window: Window;
}

export interface RenderOptions {
  /** The longer side of a picture is scaled (by whole mm-per-pixel steps) to at least this. */
  minSidePx?: number;
}

export const CUTS: ReformatCut[] = ['column', 'row'];

export function pictureFile(cut: ReformatCut, which: PictureKind): string {
  return `${cut}-${which}.png`;
}

async function writePng(im: ReformatImage, grey: Uint8Array, path: string): Promise<void> {
  const png = await sharp(Buffer.from(grey.buffer, grey.byteOffset, grey.byteLength), {
    raw: { width: im.width, height: im.height, channels: 1 },
  })
    .toColourspace('b-w') // an 8-bit grey PNG, not sRGB
    .png({ compressionLevel: 9 })
    .toBuffer();
  // Written then renamed, so a reader never sees half a file.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, png);
  await rename(tmp, path);
}

/** Renders the six pictures into outDir; returns what was written. */
export async function renderBeforeAfter(source: ReformatVolume, derived: ReformatVolume, outDir: string, opts: RenderOptions = {}): Promise<PicturePair[]> {
  await mkdir(outDir, { recursive: true });
  const minSide = opts.minSidePx ?? 256;
  const extent = stackExtent(source);
  const pairs: PicturePair[] = [];
  const images: { cut: ReformatCut; im: Record<PictureKind, ReformatImage> }[] = [];
  for (const cut of CUTS) {
    // First at the native in-plane spacing, to learn the size; then finer by a whole factor, so
    // every source pixel becomes k x k picture pixels and the mm stay square.
    const native = reformat(source, cut, { sampling: 'nearest', extent });
    const spacing = cut === 'column' ? source.pixelSpacing[0] : source.pixelSpacing[1];
    const k = Math.min(8, Math.max(1, Math.ceil(minSide / Math.max(native.width, native.height))));
    const pixelMm = spacing / k;
    images.push({
      cut,
      im: {
        source: k === 1 ? native : reformat(source, cut, { sampling: 'nearest', extent, pixelMm }),
        viewer: reformat(source, cut, { sampling: 'linear', extent, pixelMm }),
        derived: reformat(derived, cut, { sampling: 'linear', extent, pixelMm }),
      },
    });
  }
  // From the values as acquired only: what we add cannot move the window.
  const window = percentileWindow(images.map((i) => i.im.source));
  for (const { cut, im } of images) {
    const pics = {} as Record<PictureKind, Picture>;
    for (const which of PICTURE_KINDS) {
      await writePng(im[which], toGrey8(im[which], window), join(outDir, pictureFile(cut, which)));
      pics[which] = { file: pictureFile(cut, which), width: im[which].width, height: im[which].height };
    }
    pairs.push({ cut, plane: im.source.plane, ...pics, window });
  }
  return pairs;
}
