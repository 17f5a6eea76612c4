// Receive policy as plain functions (no sockets): who may associate, which presentation
// contexts are accepted, which DIMSE status answers what. Every C-STORE status is chosen here
// (at the door from the header scan, after the stored instance was checked, for a request
// without a dataset); scp.ts and store-sink.ts only apply the answers, so tests call these
// directly and hardening (per-host callers, limits) changes only here.
import { SopClass, TransferSyntax } from '../../dicom/dcmjs.js';
import { STORAGE_COMMITMENT_SOP_INSTANCE } from '../../dicom/storage-commitment.js';

/** DICOM PS3.8 A-ASSOCIATE-RJ fields (numbers as on the wire). */
export const Reject = {
  result: { permanent: 1, transient: 2 },
  source: { serviceUser: 1, serviceProviderAcse: 2, serviceProviderPresentation: 3 },
  /** Reasons for source serviceUser (1). */
  userReason: { noReasonGiven: 1, applicationContextNotSupported: 2, callingAeNotRecognized: 3, calledAeNotRecognized: 7 },
  /** Reasons for source serviceProviderPresentation (3). */
  presentationReason: { temporaryCongestion: 1, localLimitExceeded: 2 },
} as const;

/** PS3.8 presentation context results. */
export const ContextResult = {
  accept: 0,
  userRejection: 1,
  noReason: 2,
  abstractSyntaxNotSupported: 3,
  transferSyntaxesNotSupported: 4,
} as const;

/** C-STORE statuses we answer with (PS3.4 B.2.3). */
export const StoreStatus = {
  success: 0x0000,
  sopClassNotSupported: 0x0122,
  outOfResources: 0xa700,
  datasetDoesNotMatchSopClass: 0xa900,
  cannotUnderstand: 0xc000,
} as const;

/** C-ECHO statuses (PS3.7 9.3.5.2): an echo we answer at all succeeds. */
export const EchoStatus = { success: 0x0000 } as const;

/**
 * A calling AE allowed to associate. A bare string allows that AE title from anywhere; the
 * object form binds it to peer addresses (hardening: per-host allow-lists).
 */
export type AllowedCaller = string | { aeTitle: string; hosts?: string[] };

export interface AssociationPolicy {
  aeTitle: string;
  /** [] accepts any calling AE. */
  allowedCallers: AllowedCaller[];
  /** Concurrent associations beyond this are refused (transient, local limit exceeded). */
  maxAssociations?: number;
}

export interface AssociationRequest {
  calledAeTitle: string;
  callingAeTitle: string;
  /** Peer IP address as the socket reports it. */
  peerAddress?: string;
  /** Associations already open, this one not counted. */
  activeAssociations?: number;
}

export type AssociationDecision =
  | { accept: true }
  | { accept: false; result: number; source: number; reason: number; why: string };

/** AE titles compare without leading/trailing spaces, case-sensitively (PS3.5: AE is case-sensitive). */
export function sameAe(a: string, b: string): boolean {
  return a.trim() === b.trim();
}

/** Strips IPv4-mapped IPv6 prefixes so "::ffff:10.0.0.1" matches "10.0.0.1". */
function plainAddress(addr: string): string {
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

function callerAllowed(rule: AllowedCaller, req: AssociationRequest): boolean {
  if (typeof rule === 'string') return sameAe(rule, req.callingAeTitle);
  if (!sameAe(rule.aeTitle, req.callingAeTitle)) return false;
  if (!rule.hosts || rule.hosts.length === 0) return true;
  const peer = req.peerAddress ? plainAddress(req.peerAddress) : undefined;
  return peer !== undefined && rule.hosts.some((h) => plainAddress(h) === peer);
}

export function decideAssociation(req: AssociationRequest, policy: AssociationPolicy): AssociationDecision {
  if (!sameAe(req.calledAeTitle, policy.aeTitle)) {
    return {
      accept: false,
      result: Reject.result.permanent,
      source: Reject.source.serviceUser,
      reason: Reject.userReason.calledAeNotRecognized,
      why: `called AE title "${req.calledAeTitle}" is not ours ("${policy.aeTitle}")`,
    };
  }
  if (policy.allowedCallers.length > 0 && !policy.allowedCallers.some((r) => callerAllowed(r, req))) {
    return {
      accept: false,
      result: Reject.result.permanent,
      source: Reject.source.serviceUser,
      reason: Reject.userReason.callingAeNotRecognized,
      why: `calling AE title "${req.callingAeTitle}" is not in allowedCallers`,
    };
  }
  if (policy.maxAssociations !== undefined && (req.activeAssociations ?? 0) >= policy.maxAssociations) {
    return {
      accept: false,
      result: Reject.result.transient,
      source: Reject.source.serviceProviderPresentation,
      reason: Reject.presentationReason.localLimitExceeded,
      why: `already ${req.activeAssociations} associations open (limit ${policy.maxAssociations})`,
    };
  }
  return { accept: true };
}

/** Abstract syntax -> transfer syntaxes we accept, in our order of preference. */
export type SupportedContexts = Record<string, readonly string[]>;

const UNCOMPRESSED = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian] as const;

/** Lossless compressed syntaxes the pixel stage decodes (src/assemble/decode.ts). */
export const LOSSLESS_COMPRESSED_SYNTAXES = [
  '1.2.840.10008.1.2.4.70', // JPEG Lossless SV1
  '1.2.840.10008.1.2.4.57', // JPEG Lossless
  '1.2.840.10008.1.2.4.80', // JPEG-LS Lossless
  '1.2.840.10008.1.2.4.90', // JPEG 2000 Lossless Only
  '1.2.840.10008.1.2.5', // RLE Lossless
] as const;

const IMAGE_SYNTAXES = [...UNCOMPRESSED, ...LOSSLESS_COMPRESSED_SYNTAXES] as const;

/**
 * MR and Enhanced MR storage, Verification and Storage Commitment Push Model (a destination's
 * N-EVENT-REPORT with the commitment result, on an association it opens to us). Explicit VR
 * first: it keeps VRs of private tags that Implicit VR would leave for readers to guess; a peer
 * that offers only a lossless compressed syntax gets it (stored as received, decoded when
 * processed).
 */
export const DEFAULT_CONTEXTS: SupportedContexts = {
  [SopClass.MRImageStorage]: IMAGE_SYNTAXES,
  [SopClass.EnhancedMRImageStorage]: IMAGE_SYNTAXES,
  [SopClass.Verification]: UNCOMPRESSED,
  [SopClass.StorageCommitmentPushModel]: UNCOMPRESSED,
};

/** Accepted abstract syntaxes that are not storage: a C-STORE on them is answered 0x0122. */
const NOT_STORAGE = new Set<string>([SopClass.Verification, SopClass.StorageCommitmentPushModel]);

export interface ProposedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface ContextAnswer {
  id: number;
  abstractSyntax: string;
  result: number;
  /** Set when accepted. */
  transferSyntax?: string;
}

export function negotiateContexts(proposed: ProposedContext[], supported: SupportedContexts = DEFAULT_CONTEXTS): ContextAnswer[] {
  return proposed.map((pc) => {
    const ours = supported[pc.abstractSyntax];
    if (!ours) return { id: pc.id, abstractSyntax: pc.abstractSyntax, result: ContextResult.abstractSyntaxNotSupported };
    // A sender that puts a lossless compressed syntax first holds its data that way: take it
    // (stored as received, decoded here) rather than make it transcode; among uncompressed
    // syntaxes our order (Explicit VR first) wins.
    const theirFirst = pc.transferSyntaxes.find((t) => ours.includes(t));
    const ts = theirFirst && !(UNCOMPRESSED as readonly string[]).includes(theirFirst) ? theirFirst : ours.find((t) => pc.transferSyntaxes.includes(t));
    if (!ts) return { id: pc.id, abstractSyntax: pc.abstractSyntax, result: ContextResult.transferSyntaxesNotSupported };
    return { id: pc.id, abstractSyntax: pc.abstractSyntax, result: ContextResult.accept, transferSyntax: ts };
  });
}

/** What is known about one C-STORE when its status is chosen. */
export interface StoreFacts {
  /** AffectedSOPClassUID of the command. */
  commandSopClassUid: string;
  commandSopInstanceUid: string;
  /** The presentation context the dataset came on was accepted (and is not Verification). */
  contextAccepted: boolean;
  /** Result of scanning the dataset header; undefined when the bytes could not be parsed. */
  header?: {
    sopClassUid?: string;
    sopInstanceUid?: string;
    studyInstanceUid?: string;
    seriesInstanceUid?: string;
  };
  /** Why the header could not be parsed (sets 0xC000). */
  parseError?: string;
  /** The spool (or the instance reader after it) failed: disk full, I/O error, size limit. */
  writeError?: string;
}

export interface StoreAnswer {
  status: number;
  /** ErrorComment (0000,0902) for the response: at most 64 characters (LO, PS3.7 C.4). */
  comment?: string;
  /** The whole reason, for the log (the comment is its first 64 characters). */
  reason?: string;
}

/** A refusal: the reason in full for the log, cut to an ErrorComment for the wire. */
function refuse(status: number, reason: string): StoreAnswer {
  return { status, comment: reason.slice(0, 64), reason };
}

/**
 * The C-STORE status at the door: context/SOP class (0122), the write or a size limit (A700),
 * parse (C000), dataset vs command and required UIDs (A900), else success.
 */
export function chooseStoreStatus(f: StoreFacts, supported: SupportedContexts = DEFAULT_CONTEXTS): StoreAnswer {
  if (!f.contextAccepted || !supported[f.commandSopClassUid] || NOT_STORAGE.has(f.commandSopClassUid)) {
    return refuse(StoreStatus.sopClassNotSupported, `SOP class ${f.commandSopClassUid} not supported`);
  }
  // Set only after the header passed (spool failure) or by a size limit: out of resources.
  if (f.writeError !== undefined) {
    return refuse(StoreStatus.outOfResources, `not stored: ${f.writeError}`);
  }
  if (f.parseError !== undefined || !f.header) {
    return refuse(StoreStatus.cannotUnderstand, f.parseError ?? 'dataset could not be parsed');
  }
  const h = f.header;
  if (h.sopClassUid !== undefined && h.sopClassUid !== f.commandSopClassUid) {
    return refuse(StoreStatus.datasetDoesNotMatchSopClass, 'SOPClassUID differs from AffectedSOPClassUID');
  }
  if (h.sopInstanceUid !== undefined && h.sopInstanceUid !== f.commandSopInstanceUid) {
    return refuse(StoreStatus.datasetDoesNotMatchSopClass, 'SOPInstanceUID differs from AffectedSOPInstanceUID');
  }
  if (!h.studyInstanceUid || !h.seriesInstanceUid) {
    return refuse(StoreStatus.datasetDoesNotMatchSopClass, 'StudyInstanceUID or SeriesInstanceUID missing');
  }
  return { status: StoreStatus.success };
}

/** A C-STORE-RQ that says no dataset follows: there is nothing to store (C000). */
export function noDatasetStatus(): StoreAnswer {
  return refuse(StoreStatus.cannotUnderstand, 'no dataset received');
}

const IMAGE_CLASSES = new Set<string>([SopClass.MRImageStorage, SopClass.EnhancedMRImageStorage]);

/** What the checks of a stored instance (before it is acknowledged) found. */
export interface StoredInstanceCheck {
  /**
   * Why the structural walk or the header parse failed (the stored file's path already taken
   * out of the message); the instance is unreadable.
   */
  readError?: string;
  /** The header as read (when it could be read). */
  meta?: {
    sopClassUid: string;
    rows: number;
    columns: number;
    samplesPerPixel: number;
    numberOfFrames: number;
    bitsAllocated: number;
    studyInstanceUid: string;
    seriesInstanceUid: string;
  };
  /** Whether the structural walk ran (not for a duplicate: its first copy was checked). */
  walked: boolean;
  /** Pixel Data as the walk found it: its length in bytes, 'encapsulated', or undefined when absent. */
  pixelData?: number | 'encapsulated';
  /** The study and series UIDs the spool filed the instance under (from the header scan). */
  filedUnder: { studyInstanceUid?: string; seriesInstanceUid?: string };
}

/**
 * The C-STORE status after the instance was stored and checked: unreadable bytes (C000), an
 * image whose Pixel Data is missing or shorter than Rows x Columns x samples x frames (A900,
 * encapsulated data is checked when decoded), UIDs the reader decodes differently from the
 * header scan (bytes outside ASCII: the spool filed it where the pipeline would never look;
 * C000), else success.
 */
export function storedInstanceStatus(c: StoredInstanceCheck): StoreAnswer {
  if (c.readError !== undefined || !c.meta) return refuse(StoreStatus.cannotUnderstand, `unreadable: ${c.readError ?? 'header could not be read'}`);
  const m = c.meta;
  if (c.walked && IMAGE_CLASSES.has(m.sopClassUid)) {
    const pixelData = c.pixelData;
    if (pixelData === undefined) return refuse(StoreStatus.datasetDoesNotMatchSopClass, 'image without Pixel Data');
    if (pixelData !== 'encapsulated') {
      const need = (m.rows * m.columns * m.samplesPerPixel * Math.max(1, m.numberOfFrames) * m.bitsAllocated) / 8;
      if (!(need > 0) || pixelData < need) {
        return refuse(StoreStatus.datasetDoesNotMatchSopClass, `Pixel Data ${pixelData} bytes; Rows x Columns x frames need ${need}`);
      }
    }
  }
  if (m.studyInstanceUid !== c.filedUnder.studyInstanceUid || m.seriesInstanceUid !== c.filedUnder.seriesInstanceUid) {
    return refuse(StoreStatus.cannotUnderstand, 'unreadable: study/series UID not plain ASCII');
  }
  return { status: StoreStatus.success };
}

/** N-EVENT-REPORT statuses (PS3.7 10.1.1.1.8). */
export const EventReportStatus = {
  success: 0x0000,
  processingFailure: 0x0110,
  noSuchSopInstance: 0x0112,
  noSuchEventType: 0x0113,
  noSuchSopClass: 0x0118,
} as const;

/** What is known about an N-EVENT-REPORT-RQ when it is answered. */
export interface EventReportFacts {
  affectedSopClassUid: string;
  affectedSopInstanceUid: string;
  eventTypeId: number;
  /** Why the dataset is not a storage commitment result (no dataset, no Transaction UID ...). */
  parseError?: string;
}

/**
 * The answer to an N-EVENT-REPORT: only the Storage Commitment Push Model's well-known instance
 * with event type 1 (all committed) or 2 (some failed) and a readable result is taken (0000).
 * A report of a transaction we no longer wait for is still answered success: it was received,
 * and an error would only make the destination send it again.
 */
export function eventReportStatus(f: EventReportFacts): StoreAnswer {
  if (f.affectedSopClassUid !== SopClass.StorageCommitmentPushModel) {
    return refuse(EventReportStatus.noSuchSopClass, `SOP class ${f.affectedSopClassUid} has no events here`);
  }
  if (f.affectedSopInstanceUid !== STORAGE_COMMITMENT_SOP_INSTANCE) return refuse(EventReportStatus.noSuchSopInstance, `not the storage commitment instance`);
  if (f.eventTypeId !== 1 && f.eventTypeId !== 2) return refuse(EventReportStatus.noSuchEventType, `event type ${f.eventTypeId}`);
  if (f.parseError !== undefined) return refuse(EventReportStatus.processingFailure, `unreadable result: ${f.parseError}`);
  return { status: EventReportStatus.success };
}
