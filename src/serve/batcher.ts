/** Yields to the event loop so that I/O callbacks (new requests, /healthz) run between batches. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Pending<I, O> {
  input: I;
  resolve: (output: O) => void;
  reject: (err: unknown) => void;
}

/**
 * A request queue in front of one engine: concurrent callers' inputs are run together in batches of at most
 * `maxBatch`, one batch at a time, with a turn of the event loop between batches so the server stays
 * responsive while a long queue drains. Inference blocks the event loop for a whole batch, so batches are
 * also sized to take about `targetBatchMs` from the measured time per input: a slow engine runs small batches.
 * A partial batch waits (up to `maxDelayMs`) only for inputs that `incoming` says are on their way: a lone
 * request runs at once, so single-image latency is the engine's own.
 */
export class MicroBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  /** Batches run so far (for /healthz and tests). */
  batches = 0;
  /** Moving average of the engine's time per input, ms (0 until the first batch). */
  msPerInput = 0;

  constructor(
    private readonly runBatch: (inputs: I[]) => Promise<O[]>,
    readonly maxBatch: number,
    /** How long a partial batch waits for more inputs (decodes finish one by one on the thread pool). */
    readonly maxDelayMs = 2,
    readonly targetBatchMs = 100,
    /** Inputs on their way to `submit` (images being decoded); none: a partial batch never waits. */
    private readonly incoming: () => number = () => 0,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1)
      throw new Error(`maxBatch must be >= 1, got ${maxBatch}`);
  }

  /** Inputs waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running;
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.running) void this.drainQueue();
    });
  }

  /** Resolves once the queue is empty and no batch is running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** How many inputs the next batch takes: maxBatch, fewer when that would block longer than targetBatchMs. */
  batchSize(): number {
    if (this.msPerInput === 0) return 1;
    return Math.max(1, Math.min(this.maxBatch, Math.floor(this.targetBatchMs / this.msPerInput)));
  }

  private async drainQueue(): Promise<void> {
    this.running = true;
    // One turn first: the other inputs of the same request, submitted in the same tick, join this batch, and
    // decodes that just finished have released their slots before `incoming` is read.
    await yieldToEventLoop();
    while (this.queue.length > 0) {
      // Inputs still being decoded join a partial batch if they arrive within maxDelayMs (one batch of n costs
      // less than n of one); with nothing on its way the batch runs now.
      if (this.queue.length < this.batchSize() && this.incoming() > 0) {
        await (this.maxDelayMs > 0 ? sleep(this.maxDelayMs) : yieldToEventLoop());
      }
      const batch = this.queue.splice(0, this.batchSize());
      const started = performance.now();
      try {
        const outputs = await this.runBatch(batch.map((p) => p.input));
        const perInput = (performance.now() - started) / batch.length;
        this.msPerInput = this.msPerInput === 0 ? perInput : 0.8 * this.msPerInput + 0.2 * perInput;
        batch.forEach((p, i) => {
          p.resolve(outputs[i]);
        });
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
      this.batches++;
      await yieldToEventLoop();
    }
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
