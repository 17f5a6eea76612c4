// The header of one derived (interpolated) slice, built as ../shared/docs/dicom-node-reference.md
// section 4 lays out. Pure: everything it needs comes in, a naturalized dataset goes out.
//
// Policies (stated here and in DerivationDescription):
// - SOP class: always classic MR Image Storage, also from Enhanced MR input (viewers MPR it).
// - Attributes are copied from the source's reference header only from the modules of the
//   classic MR Image IOD (whitelist below), empty values dropped and type-2 ones re-added
//   empty. Everything else is dropped, in particular all private attributes: they describe the
//   acquired slice (Siemens CSA slice position and timing, Philips slice/stack numbers, ...) and
//   would be false on a synthesised slice; dcm2niix even reorders slices by some of them.
// - SliceThickness keeps the source's nominal value: interpolation does not make the acquired
//   slab thinner, and a radiologist reads SliceThickness as the through-plane resolution.
//   SpacingBetweenSlices carries the new centre-to-centre spacing.
// - SliceLocation = ImagePositionPatient . normal (the same projection on every slice).
// - SeriesNumber = source SeriesNumber + 1000 (see derivedSeriesNumber).
// - What a derived series may claim of the acquisition, attribute by attribute, is the table in
//   docs/derived-series.md: the contrast (MR Image module: sequence, TE, TR, flip angle, ...),
//   the patient, study, frame of reference and acquiring equipment are kept; the acquisition
//   event (performed procedure step, acquisition number, date and time, cardiac trigger, RF
//   exposure, operators) is not, on any slice of the derived series.
// - RescaleSlope/Intercept only when the slice's rescale is not the identity (the classic MR
//   IOD has no Modality LUT module; dciodvfy flags them as not in the IOD).
import type { Orientation, Vec3 } from '../core/types.js';
import type { NaturalDataset } from '../dicom/dcmjs.js';
import { SopClass, asArray, num, str } from '../dicom/dcmjs.js';
import { classicMrFromEnhanced, isEnhanced } from './enhanced.js';
import { dicomDateTime, ds, dsList, isEmpty, parseUtcOffset } from './values.js';

export const MANUFACTURER = 'Interslice';
export const MODEL_NAME = 'Interslice slice interpolation';
export const SERIES_NUMBER_OFFSET = 1000;
/** The SOP class of every derived instance (classic MR, also from Enhanced MR input). */
export const DERIVED_SOP_CLASS = SopClass.MRImageStorage;

export const CODES = {
  spatialResampling: { CodeValue: '113085', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Spatial resampling' },
  sourceImage: { CodeValue: '121322', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Source image for image processing operation' },
  processingEquipment: { CodeValue: '109102', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Processing Equipment' },
} as const;

/** Copied from the source when present and not empty (classic MR Image IOD modules). */
const COPIED = [
  // Patient, Patient Study
  'PatientName', 'PatientID', 'IssuerOfPatientID', 'PatientBirthDate', 'PatientBirthTime', 'PatientSex', 'OtherPatientIDsSequence',
  'PatientComments', 'PatientIdentityRemoved', 'DeidentificationMethod', 'DeidentificationMethodCodeSequence', 'EthnicGroup',
  'PatientAge', 'PatientSize', 'PatientWeight', 'AdmittingDiagnosesDescription', 'Occupation', 'AdditionalPatientHistory',
  // General Study
  'StudyInstanceUID', 'StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber', 'StudyDescription',
  'IssuerOfAccessionNumberSequence', 'ProcedureCodeSequence', 'PhysiciansOfRecord', 'NameOfPhysiciansReadingStudy',
  // General Series (the series identity itself is new)
  'Modality', 'ProtocolName', 'BodyPartExamined', 'PatientPosition', 'RequestAttributesSequence',
  // Frame of Reference
  'FrameOfReferenceUID', 'PositionReferenceIndicator',
  // General Equipment (the acquiring scanner; we are in ContributingEquipmentSequence)
  'Manufacturer', 'InstitutionName', 'InstitutionAddress', 'StationName', 'InstitutionalDepartmentName',
  'ManufacturerModelName', 'DeviceSerialNumber', 'SoftwareVersions',
  // Contrast/Bolus
  'ContrastBolusAgent', 'ContrastBolusRoute', 'ContrastBolusVolume', 'ContrastBolusStartTime', 'ContrastBolusTotalDose',
  // MR Image
  'ScanningSequence', 'SequenceVariant', 'ScanOptions', 'MRAcquisitionType', 'SequenceName', 'AngioFlag',
  'RepetitionTime', 'EchoTime', 'EchoTrainLength', 'InversionTime', 'NumberOfAverages', 'ImagingFrequency',
  'ImagedNucleus', 'EchoNumbers', 'MagneticFieldStrength', 'NumberOfPhaseEncodingSteps', 'PercentSampling',
  'PercentPhaseFieldOfView', 'PixelBandwidth', 'ReceiveCoilName', 'TransmitCoilName', 'AcquisitionMatrix',
  'InPlanePhaseEncodingDirection', 'FlipAngle', 'VariableFlipAngleFlag', 'ReconstructionDiameter',
  // SOP Common
  'SpecificCharacterSet', 'TimezoneOffsetFromUTC',
] as const;

/**
 * The acquisition event: never written, whatever the source (or an enhanced source's functional
 * groups) says. The reasons, one by one, are in docs/derived-series.md.
 */
export const NOT_CLAIMED = [
  'ReferencedPerformedProcedureStepSequence', 'PerformingPhysicianName', 'OperatorsName',
  'AcquisitionNumber', 'AcquisitionDate', 'AcquisitionTime', 'AcquisitionDateTime', 'AcquisitionDuration',
  'TriggerTime', 'NominalInterval', 'CardiacNumberOfImages', 'TriggerWindow', 'HeartRate',
  'SAR', 'dBdt', 'B1rms',
] as const;

/** Type-2 attributes that must be present, possibly empty, in the classic MR IOD. */
const TYPE2 = [
  'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'ReferringPhysicianName',
  'StudyID', 'AccessionNumber', 'PositionReferenceIndicator', 'Manufacturer', 'ScanOptions', 'MRAcquisitionType',
  'EchoTime', 'EchoTrainLength',
] as const;

export interface SourceImageRef {
  sopClassUid: string;
  sopInstanceUid: string;
  /** 1-based ReferencedFrameNumber, only for a multi-frame source. */
  frameNumber?: number;
}

export interface StackGeometry {
  orientation: Orientation;
  /** Unit slice normal, row cosine x column cosine. */
  normal: Vec3;
  /** ImagePositionPatient of the source slice at `originDistance`. */
  origin: Vec3;
  originDistance: number;
  /** [row spacing, column spacing] (mm). */
  pixelSpacing: [number, number];
}

export interface PixelModule {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  photometricInterpretation: string;
  rescaleSlope: number;
  rescaleIntercept: number;
  rescaleType?: string;
  windowCenter?: unknown;
  windowWidth?: unknown;
  windowExplanation?: unknown;
}

export interface DerivedSliceInput {
  /** Reference header of the source stack (first source instance), naturalized. */
  source: NaturalDataset;
  /** For Enhanced MR input: the frame whose functional groups describe the stack. */
  sourceFrameIndex?: number;
  geometry: StackGeometry;
  /** Distance of this output slice along the normal (same origin as geometry.originDistance). */
  distance: number;
  /** 1..N in spatial order. */
  instanceNumber: number;
  sources: SourceImageRef[];
  seriesInstanceUid: string;
  sopInstanceUid: string;
  seriesNumber: number;
  seriesDescription: string;
  /** The new centre-to-centre spacing as planned (mm), written as SpacingBetweenSlices. */
  spacingMm: number;
  derivationDescription: string;
  /** Our version; for the learned model also its name, version and hash (each value <= 64 chars). */
  softwareVersion: string | string[];
  pixel: PixelModule;
  /** Stored pixel values, little endian, Rows*Columns*BitsAllocated/8 bytes. */
  pixelData: ArrayBuffer;
  createdAt: Date;
}

/** ImagePositionPatient of the slice at distance d: IPP_0 + (d - d_0) * n. */
export function positionAt(geometry: StackGeometry, distance: number): Vec3 {
  const k = distance - geometry.originDistance;
  const [o, n] = [geometry.origin, geometry.normal];
  return [o[0] + k * n[0], o[1] + k * n[1], o[2] + k * n[2]];
}

export function derivedSeriesNumber(source: NaturalDataset): number {
  return (num(source.SeriesNumber) ?? 0) + SERIES_NUMBER_OFFSET;
}

/**
 * "<source description> [Interslice interpolated 1.0mm cubic]" within the 64 characters of LO:
 * the source part is shortened, never the suffix that says what the series is.
 */
export function derivedSeriesDescription(source: NaturalDataset, spacingMm: number, method: string): string {
  const mm = String(Math.round(spacingMm * 100) / 100);
  const tag = ` [Interslice interpolated ${mm.includes('.') ? mm : `${mm}.0`}mm ${method}]`;
  const base = str(source.SeriesDescription) ?? str(source.ProtocolName) ?? 'MR';
  return base.slice(0, Math.max(0, 64 - tag.length)).trimEnd() + tag;
}

/** Pixel module of the source (top level, or the frame's functional groups for enhanced). */
export function sourcePixelModule(source: NaturalDataset, frameIndex = 0): PixelModule {
  const enh = isEnhanced(source) ? classicMrFromEnhanced(source, frameIndex) : {};
  const pick = (k: string) => (enh[k] !== undefined ? enh[k] : source[k]);
  const need = (k: string) => {
    const v = num(source[k]);
    if (v === undefined) throw new Error(`source header lacks ${k}`);
    return v;
  };
  return {
    rows: need('Rows'),
    columns: need('Columns'),
    bitsAllocated: need('BitsAllocated'),
    bitsStored: need('BitsStored'),
    highBit: need('HighBit'),
    pixelRepresentation: need('PixelRepresentation'),
    photometricInterpretation: str(source.PhotometricInterpretation) ?? 'MONOCHROME2',
    rescaleSlope: num(pick('RescaleSlope')) ?? 1,
    rescaleIntercept: num(pick('RescaleIntercept')) ?? 0,
    rescaleType: str(pick('RescaleType')),
    windowCenter: isEmpty(pick('WindowCenter')) ? undefined : pick('WindowCenter'),
    windowWidth: isEmpty(pick('WindowWidth')) ? undefined : pick('WindowWidth'),
    windowExplanation: isEmpty(pick('WindowCenterWidthExplanation')) ? undefined : pick('WindowCenterWidthExplanation'),
  };
}

export function sourceWasLossy(source: NaturalDataset): boolean {
  return str(source.LossyImageCompression) === '01';
}

export function buildDerivedDataset(input: DerivedSliceInput): NaturalDataset {
  const src = input.source;
  const out: NaturalDataset = {};
  for (const k of COPIED) if (!isEmpty(src[k]) && !isEmptySequence(src[k])) out[k] = withoutPrivate(src[k]);
  if (isEnhanced(src)) Object.assign(out, withoutPixel(classicMrFromEnhanced(src, input.sourceFrameIndex ?? 0)));
  for (const k of NOT_CLAIMED) delete out[k];
  for (const k of TYPE2) if (out[k] === undefined) out[k] = '';
  // MR Image module type-1 attributes: 'RM' (research mode) / 'NONE' when nothing says better.
  if (isEmpty(out.ScanningSequence)) out.ScanningSequence = 'RM';
  if (isEmpty(out.SequenceVariant)) out.SequenceVariant = 'NONE';
  // Type 2C: RepetitionTime unless EPI without segmented k-space; InversionTime only with IR.
  const scanning = asArray(out.ScanningSequence).map(String);
  const variant = asArray(out.SequenceVariant).map(String);
  if (!(scanning.includes('EP') && !variant.includes('SK')) && out.RepetitionTime === undefined) out.RepetitionTime = '';
  if (!scanning.includes('IR')) delete out.InversionTime;

  // Our dates and times in the dataset's own time zone when it states one (it applies to all).
  const now = dicomDateTime(input.createdAt, parseUtcOffset(src.TimezoneOffsetFromUTC));
  const g = input.geometry;
  const ipp = positionAt(g, input.distance);
  const n = g.normal;

  // SOP Common
  out.SOPClassUID = DERIVED_SOP_CLASS;
  out.SOPInstanceUID = input.sopInstanceUid;
  out.InstanceCreationDate = now.date;
  out.InstanceCreationTime = now.time;
  // General Series: a new series
  out.SeriesInstanceUID = input.seriesInstanceUid;
  out.SeriesNumber = String(input.seriesNumber);
  out.SeriesDescription = input.seriesDescription;
  out.SeriesDate = now.date;
  out.SeriesTime = now.time;
  // General Image
  out.InstanceNumber = String(input.instanceNumber);
  out.ContentDate = now.date;
  out.ContentTime = now.time;
  out.ImageType = ['DERIVED', 'SECONDARY', ...asArray(src.ImageType).slice(2).map(String)];
  out.DerivationDescription = input.derivationDescription.slice(0, 1024);
  out.DerivationCodeSequence = [{ ...CODES.spatialResampling }];
  out.SourceImageSequence = input.sources.map((s) => {
    const item: NaturalDataset = { ReferencedSOPClassUID: s.sopClassUid, ReferencedSOPInstanceUID: s.sopInstanceUid };
    if (s.frameNumber !== undefined) item.ReferencedFrameNumber = String(s.frameNumber);
    item.PurposeOfReferenceCodeSequence = [{ ...CODES.sourceImage }];
    return item;
  });
  if (sourceWasLossy(src)) {
    out.LossyImageCompression = '01';
    for (const k of ['LossyImageCompressionRatio', 'LossyImageCompressionMethod']) if (!isEmpty(src[k])) out[k] = src[k];
  } else if (str(src.LossyImageCompression) === '00') out.LossyImageCompression = '00';
  // Image Plane
  out.PixelSpacing = dsList(g.pixelSpacing);
  out.ImageOrientationPatient = dsList(g.orientation);
  out.ImagePositionPatient = dsList(ipp);
  out.SliceThickness = sourceSliceThickness(src, input.sourceFrameIndex ?? 0) ?? '';
  out.SpacingBetweenSlices = ds(input.spacingMm);
  out.SliceLocation = ds(ipp[0] * n[0] + ipp[1] * n[1] + ipp[2] * n[2]);
  // Image Pixel, rescale and window of the source
  const p = input.pixel;
  Object.assign(out, {
    SamplesPerPixel: 1,
    PhotometricInterpretation: p.photometricInterpretation,
    Rows: p.rows,
    Columns: p.columns,
    BitsAllocated: p.bitsAllocated,
    BitsStored: p.bitsStored,
    HighBit: p.highBit,
    PixelRepresentation: p.pixelRepresentation,
  });
  if (!isIdentityRescale(p)) {
    out.RescaleSlope = ds(p.rescaleSlope);
    out.RescaleIntercept = ds(p.rescaleIntercept);
    if (p.rescaleType) out.RescaleType = p.rescaleType;
  }
  if (p.windowCenter !== undefined && p.windowWidth !== undefined) {
    out.WindowCenter = p.windowCenter;
    out.WindowWidth = p.windowWidth;
    if (p.windowExplanation !== undefined) out.WindowCenterWidthExplanation = p.windowExplanation;
  }
  // Common Instance Reference: the source series (same study) and the instances we cite.
  out.ReferencedSeriesSequence = [
    {
      SeriesInstanceUID: str(src.SeriesInstanceUID) ?? '',
      ReferencedInstanceSequence: uniqueInstances(input.sources).map((s) => ({ ReferencedSOPClassUID: s.sopClassUid, ReferencedSOPInstanceUID: s.sopInstanceUid })),
    },
  ];
  // Enhanced General Equipment / Contributing Equipment: who changed the pixels, and when.
  out.ContributingEquipmentSequence = [
    {
      PurposeOfReferenceCodeSequence: [{ ...CODES.processingEquipment }],
      Manufacturer: MANUFACTURER,
      ManufacturerModelName: MODEL_NAME,
      SoftwareVersions: input.softwareVersion,
      ContributionDateTime: now.dateTime,
      ContributionDescription: input.derivationDescription.slice(0, 1024),
    },
  ];
  out.PixelData = input.pixelData;
  out._vrMap = { PixelData: p.bitsAllocated > 8 ? 'OW' : 'OB' };
  return out;
}

/** Slope 1 and intercept 0: the rescale that RescaleSlope/Intercept being absent means. */
export function isIdentityRescale(p: Pick<PixelModule, 'rescaleSlope' | 'rescaleIntercept'>): boolean {
  return p.rescaleSlope === 1 && p.rescaleIntercept === 0;
}

function sourceSliceThickness(src: NaturalDataset, frameIndex: number): string | undefined {
  let t = num(src.SliceThickness);
  if (t === undefined && isEnhanced(src)) {
    const groups = [asArray(src.PerFrameFunctionalGroupsSequence)[frameIndex], asArray(src.SharedFunctionalGroupsSequence)[0]];
    for (const g of groups) {
      t = num(asArray((g as NaturalDataset | undefined)?.PixelMeasuresSequence)[0]?.SliceThickness);
      if (t !== undefined) break;
    }
  }
  return t === undefined ? undefined : ds(t);
}

function uniqueInstances(refs: SourceImageRef[]): SourceImageRef[] {
  const seen = new Map<string, SourceImageRef>();
  for (const r of refs) if (!seen.has(r.sopInstanceUid)) seen.set(r.sopInstanceUid, r);
  return [...seen.values()];
}

/** Sequence items without private (hex-keyed) attributes, recursively; other values as they are. */
function withoutPrivate(v: unknown): any {
  if (!Array.isArray(v) || !v.some((x) => x && typeof x === 'object' && !(x instanceof ArrayBuffer))) return v;
  return v.map((item: NaturalDataset) => {
    const clean: NaturalDataset = {};
    for (const [k, val] of Object.entries(item)) if (/^[A-Z]/.test(k)) clean[k] = withoutPrivate(val);
    return clean;
  });
}

function isEmptySequence(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && v.every((x) => x && typeof x === 'object' && Object.keys(x).length === 0);
}

function withoutPixel(mr: NaturalDataset): NaturalDataset {
  const { RescaleSlope, RescaleIntercept, RescaleType, WindowCenter, WindowWidth, WindowCenterWidthExplanation, ...rest } = mr;
  return rest;
}
