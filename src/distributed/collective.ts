// The collectives data-parallel training needs, over MPI (the inception_mpi addon), with a deadline on
// each: a peer that exits, throws, is killed or stalls ends the whole job with a message naming the rank,
// never a hang. Importing this file loads neither tfjs nor the native engine, so a launcher script can
// size the engine's threads (threads.ts) before the engine starts.
import * as fs from 'node:fs';
import { type MpiAddon, mpiAddonLookup } from '../backend/mpi_addon';
import { detectLauncher, type Launch, worldMismatch } from './launcher';
import { applyRankThreads, type RankThreads } from './threads';

export interface Collective {
  readonly rank: number;
  readonly size: number;
  /** Rank among the ranks on this node, and their number. */
  readonly localRank: number;
  readonly localSize: number;
  /** Where the job is, named in failure messages ("epoch 2 step 17"); the training loop keeps it current. */
  step: string;
  /** Root's bytes into every rank's `buf`, in place (root 0 by default). */
  broadcast(buf: ArrayBufferView, root?: number): Promise<void>;
  /** Every rank's `buf` becomes the element-wise sum over all ranks, in place. */
  allreduceSum(buf: Float32Array | Float64Array): Promise<void>;
  barrier(): Promise<void>;
  /** Prints `message` (naming this rank) and ends every rank of the job with exit status `code`. */
  abort(code: number, message: string): never;
  /** Ends MPI on this rank after its last collective; the process may then exit normally. */
  finalize(): void;
}

export interface CollectiveOptions {
  /** Deadline of each collective, seconds (default 600): past it the job is aborted. */
  timeoutSeconds?: number;
  /**
   * Set OMP_NUM_THREADS for the native engine from the affinity mask and the ranks sharing it (default
   * true; an OMP_NUM_THREADS of the user's wins). Effective only before the engine loads.
   */
  setThreads?: boolean;
}

export const DEFAULT_COLLECTIVE_TIMEOUT_SECONDS = 600;

/** One line to stderr, synchronously: the process may be ended by MPI right after. */
function say(line: string): void {
  fs.writeSync(2, `${line}\n`);
}

function checkedTimeout(seconds: number): number {
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    throw new Error(`collective timeout must be a number of seconds > 0, got ${seconds}`);
  }
  return seconds;
}

function where(step: string): string {
  return step ? ` at ${step}` : '';
}

/** Whether the native engine (and so its OpenMP team) has already loaded in this process. */
function engineLoaded(): boolean {
  return Object.keys(require.cache).some((file) => file.endsWith('inception_onednn.node'));
}

/** The collectives of an MPI job, one per process (MPI initialises once). */
export class MpiCollective implements Collective {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly localSize: number;
  /** The MPI library the addon is linked against ("Open MPI v4.1.4"). */
  readonly mpiLibrary: string;
  readonly launch: Launch;
  /** Threads chosen for the native engine, or null when left alone (setThreads false). */
  readonly threads: (RankThreads & { source: string }) | null;
  step = '';
  private issued = 0;
  private finalized = false;
  private aborting = false;
  private timeoutMs: number;
  private readonly onExit = (code: number) => this.exitedEarly(code);

  constructor(
    private readonly addon: MpiAddon,
    launch: Launch,
    options: CollectiveOptions,
  ) {
    this.timeoutMs = checkedTimeout(options.timeoutSeconds ?? DEFAULT_COLLECTIVE_TIMEOUT_SECONDS) * 1000;
    const world = addon.init();
    this.rank = world.rank;
    this.size = world.size;
    this.localRank = world.localRank;
    this.localSize = world.localSize;
    this.mpiLibrary = addon.mpiLibrary;
    this.launch = launch;
    const mismatch = worldMismatch(launch, world.size, addon.mpiLibrary);
    if (mismatch) {
      addon.finalize();
      throw new Error(mismatch);
    }
    process.on('exit', this.onExit);
    let threads: MpiCollective['threads'] = null;
    if (options.setThreads ?? true) {
      threads = applyRankThreads(world.affinityCpus || 1, world.ranksSharingCpus);
      if (engineLoaded() && threads.source === 'affinity') {
        threads = {
          ...threads,
          warning: `the native engine loaded before initCollective, so OMP_NUM_THREADS=${threads.threads} came too late; initialise the collective first${threads.warning ? `; ${threads.warning}` : ''}`,
        };
      }
    }
    this.threads = threads;
  }

  /** The deadline of each collective from now on, seconds. */
  get timeoutSeconds(): number {
    return this.timeoutMs / 1000;
  }
  set timeoutSeconds(seconds: number) {
    this.timeoutMs = checkedTimeout(seconds) * 1000;
  }

  broadcast(buf: ArrayBufferView, root = 0): Promise<void> {
    return this.guarded('broadcast', () => this.addon.broadcast(buf, root));
  }

  allreduceSum(buf: Float32Array | Float64Array): Promise<void> {
    return this.guarded('allreduceSum', () => this.addon.allreduceSum(buf));
  }

  barrier(): Promise<void> {
    return this.guarded('barrier', () => this.addon.barrier());
  }

  abort(code: number, message: string): never {
    this.aborting = true;
    say(`rank ${this.rank}: ${message}`);
    this.addon.abort(Number.isInteger(code) && code > 0 ? code : 1);
    // MPI_Abort does not return; should an MPI return anyway, end this rank at least.
    process.exit(code || 1);
  }

  finalize(): void {
    if (this.finalized) return;
    this.addon.finalize();
    this.finalized = true;
    process.off('exit', this.onExit);
  }

  /** Runs one collective under the deadline: past it the job ends naming the missing ranks; failed, it ends too. */
  private guarded(what: string, start: () => Promise<void>): Promise<void> {
    if (this.finalized) return Promise.reject(new Error(`mpi.${what}: the collective was finalised`));
    const operation = start();
    const number = ++this.issued;
    const step = this.step;
    const began = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = (extended: boolean) => {
      timer = setTimeout(() => this.expired(what, number, step, began, extended, deadline), this.timeoutMs);
      timer.unref();
    };
    deadline(false);
    // A collective that failed leaves the ranks out of step: nothing after it can be trusted.
    return operation.then(
      () => clearTimeout(timer),
      (error: Error) => {
        clearTimeout(timer);
        this.abort(1, `${what} #${number}${where(step)} failed (${error.message}): ending the job`);
      },
    );
  }

  private expired(
    what: string,
    number: number,
    step: string,
    began: number,
    extended: boolean,
    extend: (extended: boolean) => void,
  ): void {
    const seconds = Math.round((Date.now() - began) / 1000);
    const arrivals = this.addon.arrivals();
    const missing = arrivals.flatMap((n, rank) => (n >= 0 && n < number ? [rank] : []));
    const op = `${what} #${number}${where(step)}`;
    if (missing.length > 0) {
      const ranks = missing.length === 1 ? `rank ${missing[0]}` : `ranks ${missing.join(', ')}`;
      this.abort(1, `${ranks} did not reach ${op} within ${seconds} s (stalled or dead): ending the job`);
    }
    // Rank 0 hears from every rank and names the missing ones; the others give it one more deadline to.
    if (this.rank !== 0 && !extended) {
      extend(true);
      return;
    }
    this.abort(
      1,
      `${op} did not complete within ${seconds} s although ${this.rank === 0 ? 'every rank' : 'rank 0'} reached it (a rank died inside it?): ending the job`,
    );
  }

  private exitedEarly(code: number): void {
    if (this.finalized || this.aborting) return;
    this.abort(code || 1, `exited (status ${code})${where(this.step)} without finalize(): ending the job`);
  }
}

/** A one-process world: the collectives are no-ops; for runs without a launcher and for tests. */
export class SingleProcessCollective implements Collective {
  readonly rank = 0;
  readonly size = 1;
  readonly localRank = 0;
  readonly localSize = 1;
  step = '';
  async broadcast(_buf: ArrayBufferView, root = 0): Promise<void> {
    if (root !== 0) throw new Error(`broadcast: root ${root} is not a rank of 1`);
  }
  async allreduceSum(_buf: Float32Array | Float64Array): Promise<void> {}
  async barrier(): Promise<void> {}
  abort(code: number, message: string): never {
    say(`rank 0: ${message}`);
    process.exit(code || 1);
  }
  finalize(): void {}
}

let current: MpiCollective | undefined;

/**
 * The collectives of this job, over MPI, created on the first call (MPI starts once per process; a later
 * call returns the same one, with its timeout updated when given: so the CLI can start MPI before the
 * engine loads and the command take it up). Throws one line when the MPI addon is missing (with how to
 * build it), when MPI lacks MPI_THREAD_MULTIPLE, or when the launcher started N ranks but MPI sees another
 * number (the addon linked to another MPI). Under no launcher MPI starts as a world of 1.
 */
export function initCollective(options: CollectiveOptions = {}): MpiCollective {
  if (current) {
    if (options.timeoutSeconds !== undefined) current.timeoutSeconds = options.timeoutSeconds;
    return current;
  }
  const lookup = mpiAddonLookup();
  if (!lookup.addon) {
    throw new Error(`distributed training needs the MPI addon: ${lookup.reason}; ${lookup.remedy}`);
  }
  current = new MpiCollective(lookup.addon, detectLauncher(), options);
  return current;
}
