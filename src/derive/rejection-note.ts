// The IOCM rejection note (IHE IOCM, PS3.3 A.35.4 Key Object Selection Document, TID 2010): a
// Key Object Selection Document titled (113001, DCM, "Rejected for Quality Reasons") that lists
// every instance of a superseded derived series, in a series of its own (Modality KO) in the
// same study. A receiver that supports IOCM hides (or deletes) the instances it lists. Pure:
// the caller gives the study's attributes, what is rejected, the note's UIDs and its time.
import type { NaturalDataset } from '../dicom/dcmjs.js';
import { SopClass, str } from '../dicom/dcmjs.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { MANUFACTURER, MODEL_NAME } from './tags.js';
import { dicomDateTime, parseUtcOffset } from './values.js';

export const REJECTION_NOTE_SOP_CLASS = SopClass.KeyObjectSelectionDocumentStorage;

/** The document title of an IOCM rejection for quality reasons (CID 7011). */
export const REJECTED_FOR_QUALITY_REASONS = { CodeValue: '113001', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Rejected for Quality Reasons' } as const;

/** Patient and General Study attributes the note carries as the study has them (Type 2: empty when absent). */
const STUDY_TYPE2 = ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber'];
const STUDY_OPTIONAL = ['IssuerOfPatientID', 'OtherPatientIDsSequence', 'StudyDescription', 'IssuerOfAccessionNumberSequence', 'TimezoneOffsetFromUTC'];

export interface RejectedSeries {
  seriesInstanceUid: string;
  seriesNumber: number;
  sopClassUid: string;
  sopInstanceUids: string[];
}

export interface RejectionNoteInput {
  /** A header of the study (patient and study attributes are copied from it). */
  study: NaturalDataset;
  rejected: RejectedSeries;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  /** When the series was rejected: the note's content and creation time. */
  rejectedAt: Date;
}

export function buildRejectionNote(input: RejectionNoteInput): NaturalDataset {
  const src = input.study;
  const studyInstanceUid = str(src.StudyInstanceUID);
  if (!studyInstanceUid) throw new Error('rejection note: the study header has no StudyInstanceUID');
  const { rejected } = input;
  if (rejected.sopInstanceUids.length === 0) throw new Error(`rejection note: series ${rejected.seriesInstanceUid} has no instances to reject`);
  const when = dicomDateTime(input.rejectedAt, parseUtcOffset(src.TimezoneOffsetFromUTC));
  const refs = rejected.sopInstanceUids.map((uid) => ({ ReferencedSOPClassUID: rejected.sopClassUid, ReferencedSOPInstanceUID: uid }));
  const out: NaturalDataset = { SpecificCharacterSet: 'ISO_IR 192' };
  for (const k of STUDY_TYPE2) out[k] = src[k] ?? '';
  for (const k of STUDY_OPTIONAL) if (src[k] !== undefined && src[k] !== '') out[k] = src[k];
  Object.assign(out, {
    StudyInstanceUID: studyInstanceUid,
    // Key Object Document Series
    Modality: 'KO',
    SeriesInstanceUID: input.seriesInstanceUid,
    SeriesNumber: rejected.seriesNumber,
    SeriesDescription: REJECTED_FOR_QUALITY_REASONS.CodeMeaning,
    SeriesDate: when.date,
    SeriesTime: when.time,
    ReferencedPerformedProcedureStepSequence: [],
    // General Equipment
    Manufacturer: MANUFACTURER,
    ManufacturerModelName: MODEL_NAME,
    SoftwareVersions: PACKAGE_VERSION,
    // Key Object Document
    InstanceNumber: 1,
    ContentDate: when.date,
    ContentTime: when.time,
    CurrentRequestedProcedureEvidenceSequence: [
      { StudyInstanceUID: studyInstanceUid, ReferencedSeriesSequence: [{ SeriesInstanceUID: rejected.seriesInstanceUid, ReferencedSOPSequence: refs }] },
    ],
    // SR Document Content (TID 2010 Key Object Selection)
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [{ ...REJECTED_FOR_QUALITY_REASONS }],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '2010' }],
    ContentSequence: refs.map((r) => ({ RelationshipType: 'CONTAINS', ValueType: 'IMAGE', ReferencedSOPSequence: [r] })),
    // SOP Common
    SOPClassUID: REJECTION_NOTE_SOP_CLASS,
    SOPInstanceUID: input.sopInstanceUid,
    InstanceCreationDate: when.date,
    InstanceCreationTime: when.time,
  });
  return out;
}
