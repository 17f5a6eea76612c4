// Reads what the pipeline needs of one stored instance from its header (Pixel Data is not
// parsed). Enhanced MR objects get one FrameGeometry per frame from the functional groups.
import { stat } from 'node:fs/promises';
import type { FrameGeometry, InstanceMeta, Orientation, Vec3 } from '../core/types.js';
import { parseHeader } from '../dicom/flat-header.js';
import { asArray, num, nums, readPart10, SopClass, str, type NaturalDataset, type ParsedDicom } from '../dicom/dcmjs.js';

/**
 * Every top-level attribute instanceMetaFromDataset reads (functional groups whole). The receive
 * path parses only these out of a header (a Siemens header's private CSA blocks make a full
 * parse cost ~1 ms); test/unit/meta-keywords.test.ts checks the list against what is read.
 */
export const INSTANCE_META_KEYWORDS = [
  'SOPClassUID', 'SOPInstanceUID', 'StudyInstanceUID', 'SeriesInstanceUID', 'FrameOfReferenceUID',
  'Modality', 'SeriesNumber', 'SeriesDescription', 'ProtocolName', 'InstanceNumber', 'AcquisitionNumber',
  'ImageType', 'NumberOfFrames', 'Rows', 'Columns', 'SamplesPerPixel', 'PhotometricInterpretation',
  'BitsAllocated', 'BitsStored', 'HighBit', 'PixelRepresentation', 'RescaleSlope', 'RescaleIntercept',
  'ImagePositionPatient', 'ImageOrientationPatient', 'PixelSpacing', 'SliceThickness', 'SpacingBetweenSlices',
  'EchoNumbers', 'TemporalPositionIdentifier', 'NumberOfTemporalPositions', 'TriggerTime',
  'AcquisitionTime', 'AcquisitionDateTime', 'ImagesInAcquisition', 'ContributingEquipmentSequence',
  'SharedFunctionalGroupsSequence', 'PerFrameFunctionalGroupsSequence', 'PatientID', 'AccessionNumber',
] as const;

/** Manufacturer our derive stage writes into ContributingEquipmentSequence (the loop guard). */
export const OUR_MANUFACTURER = 'Interslice';

function required(ds: NaturalDataset, keyword: string, path: string): string {
  const v = str(ds[keyword]);
  if (v === undefined) throw new Error(`${path}: missing ${keyword}; cannot use this instance`);
  return v;
}

function requiredNum(ds: NaturalDataset, keyword: string, path: string, fallback?: number): number {
  const v = num(ds[keyword]);
  if (v !== undefined) return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`${path}: missing or non-numeric ${keyword}; cannot use this instance`);
}

function firstItem(seq: unknown): NaturalDataset | undefined {
  const items = asArray(seq as NaturalDataset | NaturalDataset[] | undefined);
  return items[0];
}

function vec3(v: unknown): Vec3 | undefined {
  return nums(v, 3) as Vec3 | undefined;
}

function orientation(v: unknown): Orientation | undefined {
  return nums(v, 6) as Orientation | undefined;
}

function pixelSpacing(v: unknown): [number, number] | undefined {
  return nums(v, 2) as [number, number] | undefined;
}

function upperStrings(v: unknown): string[] {
  return asArray(v as unknown)
    .flatMap((x) => (typeof x === 'string' ? x.split('\\') : [String(x)]))
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== '');
}

/** Drops undefined members so FrameGeometry objects compare and print cleanly. */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** One functional group (e.g. PlanePositionSequence) of a frame: per-frame wins over shared. */
function group(perFrame: NaturalDataset | undefined, shared: NaturalDataset | undefined, name: string) {
  return firstItem(perFrame?.[name]) ?? firstItem(shared?.[name]);
}

function frameTypeOf(pf: NaturalDataset | undefined, shared: NaturalDataset | undefined): string[] | undefined {
  const t = upperStrings(group(pf, shared, 'MRImageFrameTypeSequence')?.FrameType);
  return t.length > 0 ? t : undefined;
}

function enhancedFrames(ds: NaturalDataset, count: number, path: string): FrameGeometry[] {
  const shared = firstItem(ds.SharedFunctionalGroupsSequence);
  const perFrame = asArray(ds.PerFrameFunctionalGroupsSequence as NaturalDataset[] | undefined);
  if (perFrame.length !== count) {
    throw new Error(
      `${path}: PerFrameFunctionalGroupsSequence has ${perFrame.length} items for NumberOfFrames ${count}`,
    );
  }
  return perFrame.map((pf, frame) => {
    const pos = group(pf, shared, 'PlanePositionSequence');
    const ori = group(pf, shared, 'PlaneOrientationSequence');
    const meas = group(pf, shared, 'PixelMeasuresSequence');
    const content = group(pf, shared, 'FrameContentSequence');
    const echo = group(pf, shared, 'MREchoSequence');
    const pvt = group(pf, shared, 'PixelValueTransformationSequence');
    return compact<FrameGeometry>({
      frame,
      position: vec3(pos?.ImagePositionPatient),
      orientation: orientation(ori?.ImageOrientationPatient),
      pixelSpacing: pixelSpacing(meas?.PixelSpacing),
      sliceThickness: num(meas?.SliceThickness),
      temporalPosition: num(content?.TemporalPositionIndex),
      stackId: str(content?.StackID),
      inStackPosition: num(content?.InStackPositionNumber),
      // MREchoSequence holds EffectiveEchoTime; an echo number is not standard there, so a
      // vendor's EchoNumbers inside it is used when present.
      echoNumber: num(echo?.EchoNumbers),
      effectiveEchoTime: num(echo?.EffectiveEchoTime),
      frameType: frameTypeOf(pf, shared),
      rescaleSlope: num(pvt?.RescaleSlope),
      rescaleIntercept: num(pvt?.RescaleIntercept),
    });
  });
}

function classicFrame(ds: NaturalDataset): FrameGeometry {
  return compact<FrameGeometry>({
    frame: 0,
    position: vec3(ds.ImagePositionPatient),
    orientation: orientation(ds.ImageOrientationPatient),
    pixelSpacing: pixelSpacing(ds.PixelSpacing),
    sliceThickness: num(ds.SliceThickness),
    temporalPosition: num(ds.TemporalPositionIdentifier),
    echoNumber: num(ds.EchoNumbers),
    rescaleSlope: num(ds.RescaleSlope),
    rescaleIntercept: num(ds.RescaleIntercept),
  });
}

function isDerivedByUs(ds: NaturalDataset): boolean {
  const equipment = asArray(ds.ContributingEquipmentSequence as NaturalDataset[] | undefined);
  return equipment.some((item) => str(item?.Manufacturer)?.toLowerCase() === OUR_MANUFACTURER.toLowerCase());
}

/** Builds InstanceMeta from a naturalized dataset (pure; no file access). Throws an Error that
 * names the attribute when a required one is missing. */
export function instanceMetaFromDataset(ds: NaturalDataset, path: string, transferSyntaxUid: string): InstanceMeta {
  const sopClassUid = required(ds, 'SOPClassUID', path);
  const enhanced = sopClassUid === SopClass.EnhancedMRImageStorage;
  const numberOfFrames = Math.max(1, Math.trunc(num(ds.NumberOfFrames) ?? 1));
  const imageType = upperStrings(ds.ImageType);
  const frames = enhanced ? enhancedFrames(ds, numberOfFrames, path) : [classicFrame(ds)];
  // Enhanced objects keep slope/intercept per frame; the top level may lack them.
  const f0 = frames[0];
  const meta: InstanceMeta = {
    path,
    sopClassUid,
    sopInstanceUid: required(ds, 'SOPInstanceUID', path),
    studyInstanceUid: required(ds, 'StudyInstanceUID', path),
    seriesInstanceUid: required(ds, 'SeriesInstanceUID', path),
    transferSyntaxUid,
    patientId: str(ds.PatientID),
    accessionNumber: str(ds.AccessionNumber),
    modality: str(ds.Modality)?.toUpperCase(),
    seriesNumber: num(ds.SeriesNumber),
    seriesDescription: str(ds.SeriesDescription),
    instanceNumber: num(ds.InstanceNumber),
    acquisitionNumber: num(ds.AcquisitionNumber),
    imageType,
    rows: requiredNum(ds, 'Rows', path),
    columns: requiredNum(ds, 'Columns', path),
    samplesPerPixel: requiredNum(ds, 'SamplesPerPixel', path, 1),
    photometricInterpretation: str(ds.PhotometricInterpretation),
    bitsAllocated: requiredNum(ds, 'BitsAllocated', path),
    bitsStored: requiredNum(ds, 'BitsStored', path, num(ds.BitsAllocated)),
    highBit: requiredNum(ds, 'HighBit', path, (num(ds.BitsStored) ?? num(ds.BitsAllocated) ?? 1) - 1),
    pixelRepresentation: requiredNum(ds, 'PixelRepresentation', path, 0),
    rescaleSlope: num(ds.RescaleSlope) ?? f0?.rescaleSlope ?? 1,
    rescaleIntercept: num(ds.RescaleIntercept) ?? f0?.rescaleIntercept ?? 0,
    sliceThickness: num(ds.SliceThickness) ?? f0?.sliceThickness,
    spacingBetweenSlices: num(ds.SpacingBetweenSlices),
    echoNumbers: num(ds.EchoNumbers),
    temporalPositionIdentifier: num(ds.TemporalPositionIdentifier),
    numberOfTemporalPositions: num(ds.NumberOfTemporalPositions),
    triggerTime: num(ds.TriggerTime),
    acquisitionTime: str(ds.AcquisitionTime),
    acquisitionDateTime: str(ds.AcquisitionDateTime),
    imagesInAcquisition: num(ds.ImagesInAcquisition),
    frameOfReferenceUid: str(ds.FrameOfReferenceUID),
    numberOfFrames,
    frames,
    mosaic: imageType.includes('MOSAIC'),
    derivedByUs: isDerivedByUs(ds),
    protocolName: str(ds.ProtocolName),
  };
  if (enhanced) {
    // Enhanced MR puts these in functional groups / AcquisitionDateTime (YYYYMMDDHHMMSS.F).
    const pf0 = firstItem(ds.PerFrameFunctionalGroupsSequence);
    const measures = group(pf0, firstItem(ds.SharedFunctionalGroupsSequence), 'PixelMeasuresSequence');
    meta.spacingBetweenSlices ??= num(measures?.SpacingBetweenSlices);
    meta.acquisitionTime ??= str(ds.AcquisitionDateTime)?.slice(8);
  }
  for (const k of Object.keys(meta) as (keyof InstanceMeta)[]) if (meta[k] === undefined) delete meta[k];
  return meta;
}

/** Reads one Part-10 file's header (stops before Pixel Data) into InstanceMeta. */
export async function readInstanceMeta(path: string): Promise<InstanceMeta> {
  let parsed;
  try {
    parsed = await readPart10(path, { headerOnly: true });
  } catch (err) {
    throw unreadable(path, err as Error);
  }
  const meta = metaOf(parsed, path);
  meta.fileSize = (await stat(path)).size;
  return meta;
}

/** The same from the file's first bytes held in memory (Part-10 head and dataset up to Pixel
 * Data): the receive path has them and need not read the file back. fileSize is left unset. */
export function parseInstanceMeta(part10Header: Buffer, path: string): InstanceMeta {
  let parsed;
  try {
    parsed = parseHeader(part10Header);
  } catch (err) {
    throw unreadable(path, err as Error);
  }
  return metaOf(parsed, path);
}

const unreadable = (path: string, err: Error) => new Error(`${path}: not a readable DICOM Part-10 file (${err.message})`);
const metaOf = (parsed: ParsedDicom, path: string) => instanceMetaFromDataset(parsed.dataset, path, parsed.transferSyntaxUid);
