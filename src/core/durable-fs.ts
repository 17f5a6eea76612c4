// Crash-consistent file writes: write a temporary file, fsync it, rename it into place, fsync
// the folder. A reader (or a restart after kill -9) sees the old file or the new one, never
// half of one. Used by the spool, the job queue, the outbox and the derived-series writer.
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function writeFileDurable(path: string, data: string | Uint8Array, opts: { syncDir?: boolean } = {}): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (opts.syncDir ?? true) await fsyncDir(dirname(path));
}
