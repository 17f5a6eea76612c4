// IOCM rejection notes for superseded derived series: for each series of the study that a new
// derived series superseded, a Key Object Selection Document (src/derive/rejection-note.ts) that
// lists every instance it had, written as one Part-10 file in a folder of its own under the
// derived root. Everything in it follows from the registry record of what it rejects: the
// instance UIDs (the scheme write-series.ts used), the note's own UIDs (keyed on the rejected
// series) and its time (when the series was superseded), so a re-run of the job writes the same
// note, byte for byte, under the same UIDs.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { writeFileDurable } from '../core/durable-fs.js';
import { readPart10, writePart10 } from '../dicom/dcmjs.js';
import { buildRejectionNote, REJECTION_NOTE_SOP_CLASS } from '../derive/rejection-note.js';
import { DERIVED_SOP_CLASS } from '../derive/tags.js';
import { uidKey, uidUnder } from './content-key.js';
import type { DerivedRecord, StudyRecord } from './derived-registry.js';
import { derivedFolder } from './derive-stack.js';

export interface RejectionNoteFile {
  /** The note's own series. */
  seriesInstanceUid: string;
  /** The series it rejects. */
  rejects: string;
  file: string;
}

/** The UID root a record's UIDs were made under (uidUnder: `<root>.<digits>`), or undefined if they were not. */
function rootOf(rec: DerivedRecord): string | null | undefined {
  const root = rec.seriesInstanceUid.slice(0, rec.seriesInstanceUid.lastIndexOf('.'));
  const key = `${uidKey(rec.contentKey, rec.seriesNumber)}/series`;
  if (uidUnder(root, key) === rec.seriesInstanceUid) return root;
  return undefined;
}

/** The SOP Instance UIDs of a complete derived series, as write-series.ts numbered them (1..sliceCount). */
export function derivedInstanceUids(rec: DerivedRecord): string[] | undefined {
  const root = rootOf(rec);
  if (root === undefined || !rec.complete || !rec.sliceCount) return undefined;
  const key = uidKey(rec.contentKey, rec.seriesNumber);
  return Array.from({ length: rec.sliceCount }, (_, i) => uidUnder(root, `${key}/instance/${i + 1}`));
}

/**
 * Writes a note for every complete series of `study` that `supersededBy` superseded;
 * `studyHeaderFile` is an instance of the study (its patient and study attributes are copied).
 */
export async function writeRejectionNotes(study: StudyRecord, supersededBy: string, studyHeaderFile: string, derivedRoot: string): Promise<RejectionNoteFile[]> {
  const rejected = study.derived.filter((d) => d.supersededBy === supersededBy && d.supersededAt !== undefined);
  const out: RejectionNoteFile[] = [];
  let header;
  for (const rec of rejected) {
    const uids = derivedInstanceUids(rec);
    if (!uids) continue; // never completely written, so never sent
    header ??= (await readPart10(studyHeaderFile, { headerOnly: true })).dataset;
    const root = rootOf(rec);
    const key = `${uidKey(rec.contentKey, rec.seriesNumber)}/rejection-note`;
    const seriesInstanceUid = uidUnder(root, `${key}/series`);
    const sopInstanceUid = uidUnder(root, `${key}/instance`);
    const dataset = buildRejectionNote({
      study: header,
      rejected: { seriesInstanceUid: rec.seriesInstanceUid, seriesNumber: rec.seriesNumber, sopClassUid: DERIVED_SOP_CLASS, sopInstanceUids: uids },
      seriesInstanceUid,
      sopInstanceUid,
      rejectedAt: new Date(rec.supersededAt!),
    });
    const dir = join(derivedRoot, derivedFolder(seriesInstanceUid));
    await mkdir(dir, { recursive: true });
    const file = join(dir, '0001.dcm');
    await writeFileDurable(file, writePart10(dataset, { sopClassUid: REJECTION_NOTE_SOP_CLASS, sopInstanceUid }));
    out.push({ seriesInstanceUid, rejects: rec.seriesInstanceUid, file });
  }
  return out;
}
