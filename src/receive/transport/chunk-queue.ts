// The bytes of one dataset on their way to the spool: an async iterable that hands over
// everything queued since the last pull as one batch (one writev per batch instead of one
// write per network chunk), ending with end() or failing with fail(). A Readable did this
// before, at a cost per chunk that showed in the receive profile.

export class ChunkQueue implements AsyncIterable<Buffer[]> {
  private parts: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private error?: Error;
  private wake?: () => void;

  /** onDrained: called when a pull takes the queue below highWaterMark again. */
  constructor(
    private readonly highWaterMark: number,
    private readonly onDrained: () => void,
  ) {}

  /** Queues a chunk; false when the queue is over its high-water mark (pause the source). */
  push(chunk: Buffer): boolean {
    this.parts.push(chunk);
    this.queued += chunk.length;
    this.poke();
    return this.queued < this.highWaterMark;
  }

  end(): void {
    this.ended = true;
    this.poke();
  }

  fail(err: Error): void {
    this.error ??= err;
    this.parts = [];
    this.poke();
  }

  get failed(): boolean {
    return this.error !== undefined;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer[]> {
    for (;;) {
      if (this.error) throw this.error;
      if (this.parts.length > 0) {
        const batch = this.parts;
        this.parts = [];
        this.queued = 0;
        this.onDrained();
        yield batch;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
