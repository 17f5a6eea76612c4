// Before/after pictures of one processed stack: the two reformats of the source stack and the
// same reformats of its derived series, as PNG files (sharp). Both series are cut through the
// same row/column, over the same range along the normal, at the same mm per pixel and under one
// window (1st-99th percentile of the source), so the pictures differ only by what we did.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { percentileWindow, reformat, stackExtent, toGrey8, type ReformatCut, type ReformatImage, type ReformatVolume } from './reformat.js';

export interface Picture {
  /** File name inside the output folder, e.g. "column-source.png". */
  file: string;
  width: number;
  height: number;
}

export interface PicturePair {
  cut: ReformatCut;
  /** Anatomical name of the plane, e.g. "sagittal". */
  plane: ReformatImage['plane'];
  source: Picture;
  derived: Picture;
}

export interface RenderOptions {
  /** The longer side of a picture is scaled (by whole mm-per-pixel steps) to at least this. */
  minSidePx?: number;
}

export const CUTS: ReformatCut[] = ['column', 'row'];

export function pictureFile(cut: ReformatCut, which: 'source' | 'derived'): string {
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

/** Renders the four pictures into outDir; returns what was written. */
export async function renderBeforeAfter(source: ReformatVolume, derived: ReformatVolume, outDir: string, opts: RenderOptions = {}): Promise<PicturePair[]> {
  await mkdir(outDir, { recursive: true });
  const minSide = opts.minSidePx ?? 256;
  const extent = stackExtent(source);
  const pairs: PicturePair[] = [];
  const images: { cut: ReformatCut; src: ReformatImage; der: ReformatImage }[] = [];
  for (const cut of CUTS) {
    // First at the native in-plane spacing, to learn the size; then finer by a whole factor, so
    // every source pixel becomes k x k picture pixels and the mm stay square.
    const native = reformat(source, cut, { sampling: 'nearest', extent });
    const spacing = cut === 'column' ? source.pixelSpacing[0] : source.pixelSpacing[1];
    const k = Math.min(8, Math.max(1, Math.ceil(minSide / Math.max(native.width, native.height))));
    const pixelMm = spacing / k;
    const src = k === 1 ? native : reformat(source, cut, { sampling: 'nearest', extent, pixelMm });
    const der = reformat(derived, cut, { sampling: 'linear', extent, pixelMm });
    images.push({ cut, src, der });
  }
  const window = percentileWindow(images.map((i) => i.src));
  for (const { cut, src, der } of images) {
    const pic = (im: ReformatImage, which: 'source' | 'derived'): Picture => ({ file: pictureFile(cut, which), width: im.width, height: im.height });
    await writePng(src, toGrey8(src, window), join(outDir, pictureFile(cut, 'source')));
    await writePng(der, toGrey8(der, window), join(outDir, pictureFile(cut, 'derived')));
    pairs.push({ cut, plane: src.plane, source: pic(src, 'source'), derived: pic(der, 'derived') });
  }
  return pairs;
}
