// Default InstanceMeta reader for the listener: a header-only parse of the stored file, or of
// its first bytes still in memory. The orchestrator passes the assemble stage's fuller reader
// instead; this one keeps the receive stage usable (and testable) on its own.
import { stat } from 'node:fs/promises';
import type { FrameGeometry, InstanceMeta, Orientation, Vec3 } from '../../core/types.js';
import { parseHeader } from '../../dicom/flat-header.js';
import { asArray, num, nums, readPart10, str, type ParsedDicom } from '../../dicom/dcmjs.js';

export async function readBasicMeta(path: string): Promise<InstanceMeta> {
  const meta = basicMeta(await readPart10(path, { headerOnly: true, lenient: true }), path);
  meta.fileSize = (await stat(path)).size;
  return meta;
}

/** Every top-level attribute basicMeta reads (see INSTANCE_META_KEYWORDS for why). */
export const BASIC_META_KEYWORDS = [
  'SOPClassUID', 'SOPInstanceUID', 'StudyInstanceUID', 'SeriesInstanceUID', 'FrameOfReferenceUID',
  'Modality', 'SeriesNumber', 'SeriesDescription', 'InstanceNumber', 'AcquisitionNumber', 'ImageType',
  'NumberOfFrames', 'Rows', 'Columns', 'SamplesPerPixel', 'PhotometricInterpretation', 'BitsAllocated',
  'BitsStored', 'HighBit', 'PixelRepresentation', 'RescaleSlope', 'RescaleIntercept', 'ImagePositionPatient',
  'ImageOrientationPatient', 'PixelSpacing', 'SliceThickness', 'SpacingBetweenSlices', 'EchoNumbers',
] as const;

/** The same from a Part-10 head and the dataset up to Pixel Data (fileSize left unset). */
export function parseBasicMeta(part10Header: Buffer, path: string): InstanceMeta {
  return basicMeta(parseHeader(part10Header, true), path);
}

/** InstanceMeta from a parsed header (pure). */
export function basicMeta({ dataset: d, transferSyntaxUid }: ParsedDicom, path: string): InstanceMeta {
  const sopClassUid = str(d.SOPClassUID);
  const sopInstanceUid = str(d.SOPInstanceUID);
  const studyInstanceUid = str(d.StudyInstanceUID);
  const seriesInstanceUid = str(d.SeriesInstanceUID);
  if (!sopClassUid || !sopInstanceUid || !studyInstanceUid || !seriesInstanceUid) {
    throw new Error('missing SOP class/instance, study or series UID');
  }
  const imageType = asArray(d.ImageType).map((v) => String(v));
  const frame: FrameGeometry = {
    frame: 0,
    position: nums(d.ImagePositionPatient, 3) as Vec3 | undefined,
    orientation: nums(d.ImageOrientationPatient, 6) as Orientation | undefined,
    pixelSpacing: nums(d.PixelSpacing, 2) as [number, number] | undefined,
    sliceThickness: num(d.SliceThickness),
  };
  const numberOfFrames = num(d.NumberOfFrames) ?? 1;
  return {
    path,
    sopClassUid,
    sopInstanceUid,
    studyInstanceUid,
    seriesInstanceUid,
    transferSyntaxUid,
    modality: str(d.Modality),
    seriesNumber: num(d.SeriesNumber),
    seriesDescription: str(d.SeriesDescription),
    instanceNumber: num(d.InstanceNumber),
    acquisitionNumber: num(d.AcquisitionNumber),
    imageType,
    rows: num(d.Rows) ?? 0,
    columns: num(d.Columns) ?? 0,
    samplesPerPixel: num(d.SamplesPerPixel) ?? 1,
    photometricInterpretation: str(d.PhotometricInterpretation),
    bitsAllocated: num(d.BitsAllocated) ?? 16,
    bitsStored: num(d.BitsStored) ?? 16,
    highBit: num(d.HighBit) ?? 15,
    pixelRepresentation: num(d.PixelRepresentation) ?? 0,
    rescaleSlope: num(d.RescaleSlope) ?? 1,
    rescaleIntercept: num(d.RescaleIntercept) ?? 0,
    sliceThickness: num(d.SliceThickness),
    spacingBetweenSlices: num(d.SpacingBetweenSlices),
    echoNumbers: num(d.EchoNumbers),
    frameOfReferenceUid: str(d.FrameOfReferenceUID),
    numberOfFrames,
    // Per-frame geometry of Enhanced MR is the assemble reader's job; one frame here.
    frames: [frame],
    mosaic: imageType.some((t) => t.toUpperCase() === 'MOSAIC'),
    derivedByUs: false,
  };
}
