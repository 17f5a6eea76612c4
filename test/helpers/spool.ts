// What a store leaves in the spool's temp folder: nothing but up to SPARE_FILES empty spares.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SPARE_FILES } from '../../src/receive/spool/spare-files.js';

/** Files under <root>/.incoming other than the empty spares: leftovers of a store. */
export async function tempLeftovers(root: string): Promise<string[]> {
  const dir = join(root, '.incoming');
  const out: string[] = [];
  let empty = 0;
  for (const n of await readdir(dir)) {
    if ((await stat(join(dir, n))).size > 0) out.push(n);
    else empty++;
  }
  if (empty > SPARE_FILES) out.push(`${empty} empty files, more than the ${SPARE_FILES} spares`);
  return out;
}
