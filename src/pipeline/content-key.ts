// What a derived series' content depends on, as one key: the source slices (SOP Instance UID,
// frame, rescale and a digest of the stored instance, pixel data included), the interpolator (method, model sha256,
// provider and the settings that change pixels), the target spacing, the code's version and the
// SeriesNumber. Its UIDs are made from this key, so a UID names one content forever: the same
// input gives the same UIDs (and, with the creation time kept, the same bytes); any change gives
// new ones. Pure: the caller digests the files.
import { createHash } from 'node:crypto';
import type { SpacingTarget } from '../core/types.js';

export interface ContentSource {
  sopInstanceUid: string;
  /** 0-based frame within the instance. */
  frame: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** sha256 (hex) of the stored instance as received: its pixel data and every attribute. */
  instanceSha256: string;
}

export interface ContentInput {
  /** The stack's identity (study, series and split keys): twins of other stacks stay apart. */
  stackId: string;
  sources: ContentSource[];
  method: string;
  /** Interpolator.contentId: model sha256, provider, tiling; or the classical method's name. */
  interpolator: string;
  target: SpacingTarget;
  softwareVersion: string;
}

const sourceRows = (sources: ContentSource[]) => sources.map((s) => [s.sopInstanceUid, s.frame, s.rescaleSlope, s.rescaleIntercept, s.instanceSha256]);

function canonical(input: ContentInput): string {
  const t = 'factor' in input.target ? { factor: input.target.factor } : { spacingMm: input.target.spacingMm };
  return JSON.stringify({
    v: 1,
    stack: input.stackId,
    sources: sourceRows(input.sources),
    method: input.method,
    interpolator: input.interpolator,
    target: t,
    software: input.softwareVersion,
  });
}

/** sha256 (hex) of the content's inputs, without the SeriesNumber. */
export function contentKey(input: ContentInput): string {
  return createHash('sha256').update(canonical(input)).digest('hex');
}

/**
 * sha256 (hex) of what a per-series adaptation depends on: the stack's content (as in
 * contentKey, without interpolator and target), the base model's sha256 and the adaptation
 * settings. Names the cached adapted model, so a re-run of the stack reuses it.
 */
export function adaptationKey(input: Pick<ContentInput, 'stackId' | 'sources' | 'softwareVersion'> & { baseSha256: string; settings: string }): string {
  const canonicalInput = JSON.stringify({
    v: 1,
    stack: input.stackId,
    sources: sourceRows(input.sources),
    base: input.baseSha256,
    settings: input.settings,
    software: input.softwareVersion,
  });
  return createHash('sha256').update(canonicalInput).digest('hex');
}

/** The UID key of a derived series: its content and the SeriesNumber it is sent under. */
export function uidKey(content: string, seriesNumber: number): string {
  return `interslice/content/${content}/series-number/${seriesNumber}`;
}

/**
 * A UID for a key: `2.25.` + 128 bits of its sha256 in decimal (PS3.5 B.2), or the site's root
 * + `.` + those digits (the root is at most 24 characters, so the UID stays within 64).
 */
export function uidUnder(root: string | null | undefined, key: string): string {
  const digits = BigInt(`0x${createHash('sha256').update(key).digest('hex').slice(0, 32)}`).toString(10);
  const uid = `${root ?? '2.25'}.${digits}`;
  if (uid.length > 64) throw new Error(`UID root ${root} is too long for a 64-character UID`);
  return uid;
}
