// What a storescp "PACS" ended up holding: derived series by SeriesInstanceUID, and how many
// C-STORE receipts it logged (storescp -v prints one "storing DICOM file" line per receipt;
// default file names are the SOP Instance UIDs, so a resend overwrites its file).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readPart10, str } from '../../src/dicom/dcmjs.js';

export interface PacsContent {
  files: number;
  /** SeriesInstanceUID -> SOP Instance UIDs received. */
  series: Map<string, Set<string>>;
  /** C-STORE receipts logged (>= files when something was sent twice). */
  receipts: number;
}

export async function pacsContent(dir: string, storescpOutput: string): Promise<PacsContent> {
  const series = new Map<string, Set<string>>();
  const names = readdirSync(dir).filter((n) => !n.startsWith('.'));
  for (const n of names) {
    const { dataset } = await readPart10(join(dir, n), { headerOnly: true });
    const s = str(dataset.SeriesInstanceUID) ?? '?';
    if (!series.has(s)) series.set(s, new Set());
    series.get(s)!.add(str(dataset.SOPInstanceUID) ?? n);
  }
  const receipts = (storescpOutput.match(/storing DICOM file/g) ?? []).length;
  return { files: names.length, series, receipts };
}
