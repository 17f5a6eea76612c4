// Enhanced MR (multi-frame) input gives classic MR output: the classic MR Image module wants
// top-level attributes that the enhanced object keeps in its functional groups and in the
// MR Pulse Sequence module. This file lifts them out for one frame.
import type { NaturalDataset } from '../dicom/dcmjs.js';
import { SopClass, asArray, str } from '../dicom/dcmjs.js';
import { isEmpty } from './values.js';

export function isEnhanced(ds: NaturalDataset): boolean {
  return ds.SOPClassUID === SopClass.EnhancedMRImageStorage || ds.SharedFunctionalGroupsSequence !== undefined;
}

/**
 * The attributes of one frame's functional groups (shared, then per-frame), one level of
 * macro sequences deep, as a flat keyword record. Per-frame values win over shared ones.
 * Private (hex-keyed) groups are not looked into.
 */
export function flattenFrame(ds: NaturalDataset, frameIndex: number): NaturalDataset {
  const flat: NaturalDataset = {};
  const groups = [asArray(ds.SharedFunctionalGroupsSequence)[0], asArray(ds.PerFrameFunctionalGroupsSequence)[frameIndex]];
  for (const group of groups) {
    if (!group || typeof group !== 'object') continue;
    for (const [key, value] of Object.entries(group as NaturalDataset)) {
      if (!/^[A-Z][A-Za-z0-9]*Sequence$/.test(key)) continue;
      const item = asArray(value)[0];
      if (!item || typeof item !== 'object') continue;
      for (const [k, v] of Object.entries(item as NaturalDataset)) {
        if (/^[A-Z]/.test(k) && !isEmpty(v)) flat[k] = v;
      }
    }
  }
  return flat;
}

const yes = (v: unknown) => str(v)?.toUpperCase() === 'YES';
const notNone = (v: unknown) => {
  const s = str(v)?.toUpperCase();
  return s !== undefined && s !== 'NONE' && s !== 'NO';
};

/**
 * Classic MR Image module attributes (C.8.3.1) from an enhanced object's frame: the defined
 * terms of ScanningSequence / SequenceVariant / ScanOptions are derived from the MR Pulse
 * Sequence and MR Modifier attributes; the rest are copied from their functional groups.
 */
export function classicMrFromEnhanced(ds: NaturalDataset, frameIndex: number): NaturalDataset {
  const f = { ...flattenFrame(ds, frameIndex), ...pick(ds) };
  const out: NaturalDataset = {};
  const scanning: string[] = [];
  const echo = str(f.EchoPulseSequence)?.toUpperCase();
  if (echo === 'SPIN' || echo === 'BOTH') scanning.push('SE');
  if (echo === 'GRADIENT' || echo === 'BOTH') scanning.push('GR');
  if (yes(f.InversionRecovery)) scanning.push('IR');
  if (yes(f.EchoPlanarPulseSequence)) scanning.push('EP');
  out.ScanningSequence = scanning.length ? scanning : ['RM'];
  const variant: string[] = [];
  if (notNone(f.SegmentedKSpaceTraversal) && str(f.SegmentedKSpaceTraversal)?.toUpperCase() !== 'SINGLE') variant.push('SK');
  if (notNone(f.MagnetizationTransfer)) variant.push('MTC');
  if (notNone(f.SteadyStatePulseSequence)) variant.push('SS');
  if (notNone(f.Spoiling)) variant.push('SP');
  if (notNone(f.OversamplingPhase)) variant.push('OSP');
  out.SequenceVariant = variant.length ? variant : ['NONE'];
  const options: string[] = [];
  if (notNone(f.FlowCompensation)) options.push('FC');
  if (yes(f.PartialFourier)) options.push(str(f.PartialFourierDirection)?.toUpperCase() === 'FREQUENCY' ? 'PFF' : 'PFP');
  if (notNone(f.SpatialPresaturation)) options.push('SP');
  if (/FAT/i.test(String(f.SpectrallySelectedSuppression ?? ''))) options.push('FS');
  out.ScanOptions = options;
  out.MRAcquisitionType = str(f.MRAcquisitionType) ?? '';
  out.SequenceName = str(f.PulseSequenceName) ?? '';
  out.EchoTime = f.EffectiveEchoTime ?? '';
  out.RepetitionTime = f.RepetitionTime ?? '';
  out.EchoTrainLength = f.EchoTrainLength ?? '';
  if (scanning.includes('IR')) out.InversionTime = asArray(f.InversionTimes)[0] ?? '';
  copyIf(f, out, ['FlipAngle', 'NumberOfAverages', 'PixelBandwidth', 'ReceiveCoilName', 'TransmitCoilName', 'PercentSampling', 'PercentPhaseFieldOfView', 'MagneticFieldStrength']);
  if (f.TransmitterFrequency !== undefined) out.ImagingFrequency = f.TransmitterFrequency;
  if (f.ResonantNucleus !== undefined) out.ImagedNucleus = f.ResonantNucleus;
  const pe = str(f.InPlanePhaseEncodingDirection)?.toUpperCase();
  if (pe === 'COLUMN' || pe === 'COL') out.InPlanePhaseEncodingDirection = 'COL';
  else if (pe === 'ROW') out.InPlanePhaseEncodingDirection = 'ROW';
  if (f.AcquisitionDateTime !== undefined || f.FrameAcquisitionDateTime !== undefined) {
    const dt = String(f.FrameAcquisitionDateTime ?? f.AcquisitionDateTime);
    if (dt.length >= 8) out.AcquisitionDate = dt.slice(0, 8);
    if (dt.length > 8) out.AcquisitionTime = dt.slice(8).replace(/[+-]\d{4}$/, '');
  }
  // Pixel value transformation and window of this frame.
  copyIf(f, out, ['RescaleSlope', 'RescaleIntercept', 'RescaleType', 'WindowCenter', 'WindowWidth', 'WindowCenterWidthExplanation']);
  return out;
}

/** Top-level enhanced attributes used above (MR Pulse Sequence and MR Image macros). */
function pick(ds: NaturalDataset): NaturalDataset {
  const out: NaturalDataset = {};
  for (const k of ['EchoPulseSequence', 'EchoPlanarPulseSequence', 'SegmentedKSpaceTraversal', 'SteadyStatePulseSequence', 'OversamplingPhase', 'SpectrallySelectedSuppression', 'MRAcquisitionType', 'PulseSequenceName', 'MagneticFieldStrength', 'ResonantNucleus', 'AcquisitionDateTime']) {
    if (!isEmpty(ds[k])) out[k] = ds[k];
  }
  return out;
}

function copyIf(from: NaturalDataset, to: NaturalDataset, keys: string[]): void {
  for (const k of keys) if (!isEmpty(from[k])) to[k] = from[k];
}
