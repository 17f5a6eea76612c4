// Hostile input, generated from a real series (../shared/data/mr, Siemens ASL, 12 slices):
// each variant is a whole series (new Series and SOP Instance UIDs) with one kind of damage,
// and a seeded byte-mutation fuzzer over the same instances.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePart10, writePart10, type NaturalDataset } from '../../src/dicom/dcmjs.js';

export interface Variant {
  name: string;
  /** Part-10 files of this variant's series. */
  files: string[];
  seriesInstanceUid: string;
}

const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';

function uid(root: string, n: number): string {
  return `${root}.${n}`;
}

/** Damage applied to each instance: the naturalized dataset (returned) or the final bytes. */
interface Damage {
  name: string;
  dataset?: (ds: NaturalDataset, index: number) => void;
  bytes?: (b: Buffer, index: number) => Buffer;
  /** SOP class written in the file meta (defaults to the dataset's). */
  metaSopClass?: string;
  /** SOP Instance UID written in the file meta (defaults to the dataset's). */
  metaSopInstance?: (ds: NaturalDataset) => string;
}

/** Offset of an Explicit VR LE element's 2-byte length field, searching after the file meta. */
function lengthField(b: Buffer, group: number, element: number): number {
  const tag = Buffer.alloc(4);
  tag.writeUInt16LE(group, 0);
  tag.writeUInt16LE(element, 2);
  const at = b.indexOf(tag, 300);
  if (at < 0) throw new Error(`tag ${group.toString(16)},${element.toString(16)} not found`);
  return at + 6;
}

const DAMAGES: Damage[] = [
  { name: 'truncated-in-pixels', bytes: (b) => b.subarray(0, b.length - 4000) },
  { name: 'truncated-in-header', bytes: (b) => b.subarray(0, 1200) },
  {
    name: 'wrong-element-length',
    bytes: (b) => {
      const copy = Buffer.from(b);
      copy.writeUInt16LE(0xfff0, lengthField(copy, 0x0020, 0x0032)); // ImagePositionPatient
      return copy;
    },
  },
  { name: 'no-pixel-data', dataset: (ds) => delete ds.PixelData },
  { name: 'no-position', dataset: (ds) => delete ds.ImagePositionPatient },
  { name: 'no-orientation', dataset: (ds) => delete ds.ImageOrientationPatient },
  { name: 'rows-columns-disagree', dataset: (ds) => ((ds.Rows = 128), (ds.Columns = 96)) },
  { name: 'huge-dimensions', dataset: (ds) => ((ds.Rows = 65535), (ds.Columns = 65535), (ds.NumberOfFrames = 1000)) },
  {
    name: 'mixed-orientations',
    dataset: (ds, i) => {
      if (i % 2) ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1];
    },
  },
  { name: 'unexpected-sop-class', dataset: (ds) => (ds.SOPClassUID = CT_IMAGE) },
  { name: 'sop-class-mismatch', dataset: (ds) => (ds.SOPClassUID = CT_IMAGE), metaSopClass: '1.2.840.10008.5.1.4.1.1.4' },
  { name: 'sop-instance-mismatch', metaSopInstance: (ds) => `${ds.SOPInstanceUID}.9` },
  {
    name: 'odd-character-set',
    dataset: (ds) => {
      ds.SpecificCharacterSet = 'ISO 2022 IR 999';
      ds.SeriesDescription = 'Zw\u00f6lf \u65e5\u672c \u001b$B';
      ds.InstitutionName = '\u00ff\u00fe\u0000';
    },
  },
  {
    name: 'latin1-and-utf8-names',
    dataset: (ds, i) => {
      ds.SpecificCharacterSet = i % 2 ? 'ISO_IR 192' : 'ISO_IR 100';
      ds.SeriesDescription = 'Schädel été';
      ds.ReferringPhysicianName = 'Müller^Jürgen';
    },
  },
  {
    name: 'no-series-uid',
    dataset: (ds) => delete ds.SeriesInstanceUID,
  },
];

export const VARIANT_NAMES = DAMAGES.map((d) => d.name);

/** Writes every variant under outDir/<name>/; UIDs under uidRoot. */
export function buildCorpus(sourceDir: string, outDir: string, uidRoot: string): Variant[] {
  const sources = readdirSync(sourceDir).sort().map((n) => readFileSync(join(sourceDir, n)));
  return DAMAGES.map((damage, v) => {
    const dir = join(outDir, damage.name);
    mkdirSync(dir, { recursive: true });
    const seriesInstanceUid = uid(`${uidRoot}.${v + 1}`, 0);
    const files = sources.map((src, i) => {
      const { dataset } = parsePart10(src);
      dataset.SeriesInstanceUID = seriesInstanceUid;
      dataset.SOPInstanceUID = uid(`${uidRoot}.${v + 1}`, i + 1);
      damage.dataset?.(dataset, i);
      let bytes = writePart10(dataset, {
        sopClassUid: damage.metaSopClass ?? String(dataset.SOPClassUID),
        sopInstanceUid: damage.metaSopInstance?.(dataset) ?? String(dataset.SOPInstanceUID),
      });
      if (damage.bytes) bytes = damage.bytes(bytes, i);
      const path = join(dir, `${String(i + 1).padStart(3, '0')}.dcm`);
      writeFileSync(path, bytes);
      return path;
    });
    return { name: damage.name, files, seriesInstanceUid };
  });
}

/** mulberry32: a small seeded PRNG, so the fuzz cases are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` mutated copies of the source instances: fresh UIDs (10 cases per series), then
 * random byte flips, a truncation or a spliced-out chunk in the dataset (the file meta is
 * kept so the sender can still negotiate).
 */
export function buildFuzzCases(sourceDir: string, outDir: string, uidRoot: string, count: number, seed: number): string[] {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const sources = readdirSync(sourceDir).sort().map((n) => readFileSync(join(sourceDir, n)));
  mkdirSync(outDir, { recursive: true });
  const out: string[] = [];
  for (let c = 0; c < count; c++) {
    const { dataset } = parsePart10(sources[c % sources.length]);
    dataset.SeriesInstanceUID = uid(uidRoot, Math.floor(c / 10) + 1);
    dataset.SOPInstanceUID = uid(`${uidRoot}.${Math.floor(c / 10) + 1}`, c + 1);
    const clean = writePart10(dataset, { sopClassUid: String(dataset.SOPClassUID), sopInstanceUid: String(dataset.SOPInstanceUID) });
    const metaEnd = 144 + clean.readUInt32LE(140);
    let b = Buffer.from(clean);
    const kind = int(10);
    if (kind === 0) {
      b = b.subarray(0, metaEnd + int(b.length - metaEnd));
    } else if (kind === 1) {
      const at = metaEnd + int(b.length - metaEnd);
      b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(64)))]);
    } else {
      // Flips concentrated in the header, where the parser lives (pixel bytes are opaque).
      const flips = 1 + int(8);
      const headerEnd = Math.min(b.length, metaEnd + 4000);
      for (let k = 0; k < flips; k++) b[metaEnd + int(headerEnd - metaEnd)] = int(256);
    }
    const path = join(outDir, `${String(c + 1).padStart(4, '0')}.dcm`);
    writeFileSync(path, b);
    out.push(path);
  }
  return out;
}
