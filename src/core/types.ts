// Domain types shared by the pipeline stages. Each stage takes and gives these, never another
// stage's internals: receive -> InstanceMeta, assemble -> Stack, select -> Decision,
// interpolate -> SynthesisResult, derive -> DerivedSeries, send -> delivery records.

export type Vec3 = [number, number, number];
/** ImageOrientationPatient: row cosine (3) then column cosine (3). */
export type Orientation = [number, number, number, number, number, number];

/** Geometry of one frame: a classic instance has one, an Enhanced MR object one per frame. */
export interface FrameGeometry {
  /** 0-based frame index inside its instance. */
  frame: number;
  position?: Vec3;
  orientation?: Orientation;
  /** [row spacing, column spacing] in mm (PixelSpacing order). */
  pixelSpacing?: [number, number];
  sliceThickness?: number;
  /** Per-frame temporal position / stack / dimension index when the object says so. */
  temporalPosition?: number;
  stackId?: string;
  inStackPosition?: number;
  echoNumber?: number;
  /** Enhanced MR: FrameType (MRImageFrameTypeSequence), e.g. magnitude and phase frames in one object. */
  frameType?: string[];
  /** Enhanced MR: EffectiveEchoTime (MREchoSequence), which tells echoes apart there. */
  effectiveEchoTime?: number;
  rescaleSlope?: number;
  rescaleIntercept?: number;
}

/** What the stages need to know of one stored instance, read once from its header. */
export interface InstanceMeta {
  /** Part-10 file as received, in the spool. */
  path: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
  /** PatientID and AccessionNumber: for the audit trail (core/audit.ts) only, never logged. */
  patientId?: string;
  accessionNumber?: string;
  modality?: string;
  seriesNumber?: number;
  seriesDescription?: string;
  /** ProtocolName: with SeriesDescription, how scouts/localizers are recognised (assemble). */
  protocolName?: string;
  instanceNumber?: number;
  acquisitionNumber?: number;
  imageType: string[];
  rows: number;
  columns: number;
  samplesPerPixel: number;
  photometricInterpretation?: string;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  sliceThickness?: number;
  spacingBetweenSlices?: number;
  echoNumbers?: number;
  temporalPositionIdentifier?: number;
  numberOfTemporalPositions?: number;
  triggerTime?: number;
  acquisitionTime?: string;
  /** AcquisitionDateTime (YYYYMMDDHHMMSS.F): what enhanced and classic twins share. */
  acquisitionDateTime?: string;
  imagesInAcquisition?: number;
  frameOfReferenceUid?: string;
  /** 1 for classic images. */
  numberOfFrames: number;
  /** Geometry per frame (length numberOfFrames); for classic images the single frame. */
  frames: FrameGeometry[];
  /** Siemens MOSAIC (ImageType or private CSA marker). */
  mosaic: boolean;
  /** This node made it (ContributingEquipment / our derivation marker): the loop guard. */
  derivedByUs: boolean;
  /** Size of the stored file in bytes. */
  fileSize?: number;
}

/** One slice of a stack: a frame of a stored instance placed along the stack normal. */
export interface SliceRef {
  instance: InstanceMeta;
  frame: number;
  position: Vec3;
  /** Signed distance along the stack normal from the origin (mm). */
  distance: number;
}

export interface SpacingReport {
  /** Mean centre-to-centre distance (mm). */
  mean: number;
  min: number;
  max: number;
  /** Any step more than 10% off the mean (what breaks MPR in viewers). */
  irregular: boolean;
  /** Indices i where the step from slice i to i+1 looks like a missing slice. */
  gaps: number[];
}

/** A geometrically consistent set of slices: one volume, sorted along its normal. */
export interface Stack {
  /** Stable identifier (study/series/split keys), safe for file names after hashing. */
  id: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /** Human-readable, PHI-free: e.g. "MR series 5 echo 1 M ax" */
  label: string;
  modality?: string;
  orientation: Orientation;
  normal: Vec3;
  rows: number;
  columns: number;
  pixelSpacing: [number, number];
  slices: SliceRef[];
  spacing: SpacingReport;
  /** Number of volumes when positions repeat (time series / multi-volume); 1 otherwise. */
  volumes: number;
  /** Facts the select rules look at (localizer, mosaic, derived by us, ...). */
  flags: StackFlags;
  /** Problems found while assembling (irregular spacing, gaps, unplaceable slices, ...). */
  issues: string[];
}

export interface StackFlags {
  localizer: boolean;
  mosaic: boolean;
  derivedByUs: boolean;
  timeSeries: boolean;
  notImage: boolean;
  enhanced: boolean;
}

/** Instances that could not become part of any stack, with the reason. */
export interface Unplaced {
  instance: InstanceMeta;
  reason: string;
}

export interface AssembleResult {
  stacks: Stack[];
  unplaced: Unplaced[];
}

export type DecisionAction = 'process' | 'skip';

export interface Decision {
  stack: Stack;
  action: DecisionAction;
  /** Short machine-readable code, e.g. "thick-slice", "localizer", "time-series". */
  code: string;
  /** One sentence for logs and the status page. */
  reason: string;
}

export type Method = 'linear' | 'cubic' | 'model';

/** Where the output slices go: either a target spacing or an integer factor. */
export type SpacingTarget = { spacingMm: number } | { factor: number };

/** A volume of rescaled (modality) values, slice-major. */
export interface VolumeF32 {
  rows: number;
  columns: number;
  /** One Float32Array of rows*columns per slice, in stack order. */
  slices: Float32Array[];
  /** Distance of each slice along the normal (mm), ascending. */
  distances: number[];
}

/** One output slice: its distance along the normal and, if it is a source slice, which one. */
export interface OutputSlice {
  distance: number;
  /** Index of the source slice reproduced exactly here, if any. */
  sourceIndex?: number;
  /** The two source slices it lies between and its fractional position between them. */
  between?: { lower: number; upper: number; t: number };
}

/**
 * How a refined interpolator's description joins its parts ("model ... sha256:..., then refiner
 * ... sha256:... across the slices"); SoftwareVersions lists the parts as separate values.
 */
export const REFINED_BY = ', then ';
export const REFINED_ACROSS = ' across the slices';

export interface Interpolator {
  readonly method: Method;
  /** Name and version recorded in DerivationDescription / SoftwareVersions. */
  readonly description: string;
  /**
   * Everything about the interpolator that changes its output pixels (model sha256, execution
   * provider, tiling), for the content key of derived UIDs; classical methods need none.
   */
  readonly contentId?: string;
  /**
   * What per-series adaptation did for this series (pipeline.adapt), as DerivationDescription
   * states it, e.g. "adapted to this series (...)" or "adaptation tried, not kept (...)";
   * absent when none was tried. contentId includes it.
   */
  readonly adaptation?: string;
  /** Synthesises the slices of `plan` that are not source slices. */
  interpolate(volume: VolumeF32, plan: OutputSlice[]): Promise<Float32Array[]>;
}

/** A finished derived series: Part-10 files on disk. */
export interface DerivedSeries {
  sourceStackId: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sourceSeriesInstanceUid: string;
  files: string[];
  sliceCount: number;
  spacingMm: number;
}
