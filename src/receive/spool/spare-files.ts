// Empty temp files made ahead of need, in the thread pool. Creating a file is the one step of a
// store whose cost depends on the file system's history: on ext4 without a journal (this VM's
// disk) each new inode is found by scanning past the recently deleted ones, and after a series
// was removed nearby an open(O_CREAT) took 0.3-1.2 ms of CPU (strace and perf, receive
// benchmark). Made on the main thread, that stalled every association; made ahead, it overlaps
// the network transfer of the next instance.
import { closeSync, open, openSync, unlinkSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

export interface TempFile {
  path: string;
  fd: number;
}

/** How many spare files are kept; two leave one making while the other is taken. */
export const SPARE_FILES = 2;

export class SpareFiles {
  private readonly ready: TempFile[] = [];
  private making = 0;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly keep = SPARE_FILES,
  ) {}

  /** An empty temp file open for writing: a spare when one is ready, else one made now. */
  take(): TempFile {
    const f = this.ready.shift();
    if (f) return f;
    const path = this.name();
    return { path, fd: openSync(path, 'wx') };
  }

  /**
   * Tops the spares up in the background. A failure is not retried here: the next take() makes
   * its file itself, and reports the error if there is one.
   */
  refill(): void {
    while (!this.closed && this.ready.length + this.making < this.keep) {
      this.making++;
      const path = this.name();
      open(path, 'wx', (err, fd) => {
        this.making--;
        if (err) return;
        if (this.closed) this.discard({ path, fd });
        else this.ready.push({ path, fd });
      });
    }
  }

  /** Closes and removes the spares (the spool is done with). */
  close(): void {
    this.closed = true;
    for (const f of this.ready.splice(0)) this.discard(f);
  }

  private name(): string {
    return join(this.dir, `${randomUUID()}.part`);
  }

  private discard(f: TempFile): void {
    try {
      closeSync(f.fd);
      unlinkSync(f.path);
    } catch {
      // already gone: nothing to clean
    }
  }
}
