// The audit spool of one collector: every message is written (fsynced, core/durable-fs) before
// it is sent and removed once the transport took it, so messages survive a collector that is
// down and a restart of the node, and go out in the order they were made. Bounded: when full,
// new messages are dropped and counted (logged), the spooled ones are kept.
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../core/durable-fs.js';
import type { Logger } from '../core/log.js';
import type { SyslogTransport } from './transport.js';

export interface AuditSpoolOptions {
  dir: string;
  /** The collector, for log lines (never a message's content). */
  name: string;
  transport: SyslogTransport;
  maxMessages: number;
  log: Logger;
  retryMinMs?: number;
  retryMaxMs?: number;
}

export class AuditSpool {
  private chain: Promise<void>;
  private seq = 0;
  private count = 0;
  private dropped = 0;
  private sending?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  private closed = false;

  constructor(private readonly o: AuditSpoolOptions) {
    this.chain = (async () => {
      await mkdir(o.dir, { recursive: true });
      const names = await this.names();
      for (const n of await readdir(o.dir)) if (n.endsWith('.tmp')) await unlink(join(o.dir, n)).catch(() => undefined);
      this.count = names.length;
      this.seq = names.length ? Number(names[names.length - 1].slice(0, 16)) : 0;
    })().catch((e) => {
      o.log.error('audit spool unusable', { event: 'audit-spool-error', collector: o.name, error: (e as Error).message });
    });
    void this.chain.then(() => this.kick());
  }

  /** Spools one message (in call order) and starts sending. */
  add(msg: string): void {
    this.chain = this.chain.then(async () => {
      if (this.count >= this.o.maxMessages) {
        if (this.dropped++ % 100 === 0) {
          this.o.log.error('audit spool full; messages dropped', { event: 'audit-dropped', collector: this.o.name, dropped: this.dropped, spooled: this.count });
        }
        return;
      }
      const name = `${String(++this.seq).padStart(16, '0')}.msg`;
      try {
        await writeFileDurable(join(this.o.dir, name), msg);
        this.count++;
      } catch (e) {
        this.dropped++;
        this.o.log.error('audit message not spooled; dropped', { event: 'audit-dropped', collector: this.o.name, dropped: this.dropped, error: (e as Error).message });
      }
    });
    void this.chain.then(() => this.kick());
  }

  get spooled(): number {
    return this.count;
  }

  get droppedCount(): number {
    return this.dropped;
  }

  private async names(): Promise<string[]> {
    return (await readdir(this.o.dir)).filter((n) => /^\d{16}\.msg$/.test(n)).sort();
  }

  private kick(): void {
    if (this.sending || this.retryTimer || this.closed) return;
    this.sending = this.sendAll().finally(() => (this.sending = undefined));
  }

  /** Sends the spooled messages oldest first; stops at the first failure and retries later. */
  private async sendAll(): Promise<void> {
    for (;;) {
      const names = await this.names().catch(() => []);
      if (names.length === 0) return;
      for (const n of names) {
        const path = join(this.o.dir, n);
        try {
          await this.o.transport.send(await readFile(path, 'utf8'));
        } catch (e) {
          this.failures++;
          if (this.failures === 1) {
            this.o.log.warn('audit collector unreachable; spooling', { event: 'audit-collector-down', collector: this.o.name, spooled: this.count, error: (e as Error).message });
          }
          const delay = Math.min(this.o.retryMaxMs ?? 30_000, (this.o.retryMinMs ?? 500) * 2 ** Math.min(this.failures - 1, 10));
          if (!this.closed) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = undefined;
              this.kick();
            }, delay);
            this.retryTimer.unref();
          }
          return;
        }
        await unlink(path).catch(() => undefined);
        this.count = Math.max(0, this.count - 1);
        if (this.failures > 0) {
          this.o.log.info('audit collector reachable again; sending the spool', { event: 'audit-collector-up', collector: this.o.name, spooled: this.count });
          this.failures = 0;
        }
      }
    }
  }

  /** Spools what was added, tries once more to send it (up to waitMs), then stops. */
  async close(waitMs = 3000): Promise<void> {
    await this.chain;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.kick();
    await Promise.race([this.sending, new Promise((r) => setTimeout(r, waitMs).unref())]);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.count > 0 || this.dropped > 0) {
      this.o.log.warn('audit spool closed with messages left', { event: 'audit-spool-left', collector: this.o.name, spooled: this.count, dropped: this.dropped });
    }
    this.o.transport.close();
  }
}
