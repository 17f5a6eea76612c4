// Enhanced and classic twins: some scanners export one acquisition both as an Enhanced MR
// object and as classic MR images (often in the same series). Both become stacks; deriving both
// would put two identical derived series beside each other. Twins share the frame of reference,
// the SeriesNumber, the geometry (matrix, pixel spacing, orientation, every slice position) and
// the acquisition time. The time is compared within TIME_TOLERANCE_S, not exactly: the MANIFEST's
// Philips pair stamps the enhanced object with the acquisition's start (AcquisitionDateTime
// 13:29:54.44) and the classic images with AcquisitionTime 13:30:52.04, 58 s later; a repeated
// acquisition of the same geometry gets a new SeriesNumber and starts minutes later.
// Pure: which stack of each pair stays is decided here, the caller skips the other.
import type { Stack } from '../core/types.js';
import { SopClass } from '../dicom/dcmjs.js';

const POSITION_TOLERANCE_MM = 0.01;
const TIME_TOLERANCE_S = 120;

/** Seconds since midnight of HHMMSS[.F], or undefined. */
function secondsOfDay(tm: string | undefined): number | undefined {
  const m = /^(\d{2})(\d{2})(\d{2}(?:\.\d+)?)/.exec(tm ?? '');
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : undefined;
}

/** The earliest acquisition time of the stack's slices (AcquisitionDateTime's, else AcquisitionTime). */
function acquisitionStart(s: Stack): number | undefined {
  const times = s.slices.map((x) => secondsOfDay(x.instance.acquisitionDateTime?.slice(8) ?? x.instance.acquisitionTime));
  return times.every((t) => t !== undefined) ? Math.min(...(times as number[])) : undefined;
}

function sameGeometry(a: Stack, b: Stack): boolean {
  if (a.rows !== b.rows || a.columns !== b.columns || a.slices.length !== b.slices.length || a.volumes !== b.volumes) return false;
  if (a.pixelSpacing.some((v, i) => Math.abs(v - b.pixelSpacing[i]) > 1e-4)) return false;
  const dot = a.normal[0] * b.normal[0] + a.normal[1] * b.normal[1] + a.normal[2] * b.normal[2];
  if (dot < 0.99999) return false;
  return a.slices.every((s, i) => s.position.every((v, k) => Math.abs(v - b.slices[i].position[k]) <= POSITION_TOLERANCE_MM));
}

function isEnhanced(s: Stack): boolean {
  return s.slices[0]?.instance.sopClassUid === SopClass.EnhancedMRImageStorage;
}

/** Stack id -> the id of the twin that is kept in its place (the classic one). */
export function findTwins(stacks: Stack[]): Map<string, string> {
  const out = new Map<string, string>();
  const enhanced = stacks.filter((s) => isEnhanced(s) && !s.flags.notImage);
  const classic = stacks.filter((s) => !isEnhanced(s) && !s.flags.notImage);
  for (const e of enhanced) {
    const fe = e.slices[0]?.instance.frameOfReferenceUid;
    const te = acquisitionStart(e);
    if (!fe || te === undefined) continue;
    const twin = classic.find((c) => {
      const tc = acquisitionStart(c);
      return (
        c.studyInstanceUid === e.studyInstanceUid &&
        c.slices[0]?.instance.frameOfReferenceUid === fe &&
        c.slices[0]?.instance.seriesNumber === e.slices[0]?.instance.seriesNumber &&
        tc !== undefined &&
        Math.abs(tc - te) <= TIME_TOLERANCE_S &&
        sameGeometry(c, e)
      );
    });
    // The classic images are kept: every viewer and archive handles them, and their slices
    // are what a technologist sees as the acquired series.
    if (twin) out.set(e.id, twin.id);
  }
  return out;
}
