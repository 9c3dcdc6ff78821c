/** A task given to FairPool.run was dropped by cancel() before it started. */
export class TaskCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'TaskCancelled';
  }
}

interface Waiting {
  start: () => void;
  cancel: () => void;
}

/**
 * Runs async tasks at most `concurrency` at a time, taking waiting tasks round-robin by owner (one request
 * is one owner): a request of 32 images and a request of one image take turns, so the small one waits for
 * at most one task per other request, not for the big one's whole queue.
 */
export class FairPool {
  private readonly lanes = new Map<object, Waiting[]>();
  /** Owners with waiting tasks, in turn order. */
  private readonly turn: object[] = [];
  private running = 0;
  private queued = 0;

  constructor(readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new Error(`concurrency must be >= 1, got ${concurrency}`);
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.queued;
  }

  get active(): number {
    return this.running;
  }

  run<T>(owner: object, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        task()
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            this.startNext();
          });
      };
      if (this.running < this.concurrency) {
        start();
        return;
      }
      let lane = this.lanes.get(owner);
      if (!lane) {
        lane = [];
        this.lanes.set(owner, lane);
        this.turn.push(owner);
      }
      lane.push({ start, cancel: () => reject(new TaskCancelled()) });
      this.queued++;
    });
  }

  /** Drops the owner's tasks that have not started (their promises reject with TaskCancelled). */
  cancel(owner: object): void {
    const lane = this.lanes.get(owner);
    if (!lane) return;
    this.lanes.delete(owner);
    this.turn.splice(this.turn.indexOf(owner), 1);
    this.queued -= lane.length;
    for (const w of lane) w.cancel();
  }

  private startNext(): void {
    while (this.running < this.concurrency && this.turn.length > 0) {
      const owner = this.turn.shift()!;
      const lane = this.lanes.get(owner)!;
      const next = lane.shift()!;
      if (lane.length > 0) this.turn.push(owner);
      else this.lanes.delete(owner);
      this.queued--;
      next.start();
    }
  }
}
