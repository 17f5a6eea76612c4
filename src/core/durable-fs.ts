// Crash-consistent file writes: write a temporary file, fsync it, rename it into place, fsync
// the folder. A reader (or a restart after kill -9) sees the old file or the new one, never
// half of one. Used by the spool, the job queue, the outbox and the derived-series writer.
import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);

/**
 * fsync of a folder. Only the flush waits in the thread pool: opening and closing a folder are
 * cheap, and as pool round trips they added ~0.1 ms each to every received instance.
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The same, blocking: for a caller that has nothing else to do meanwhile (see FsSpool.store). */
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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
