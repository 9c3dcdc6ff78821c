// Data-parallel training's collective layer without tfjs or the native engine: `inception-net/distributed`
// can be imported first, so the engine's threads are sized (initCollective) before the engine loads.
export {
  type Collective,
  type CollectiveOptions,
  DEFAULT_COLLECTIVE_TIMEOUT_SECONDS,
  initCollective,
  MpiCollective,
  SingleProcessCollective,
} from './collective';
export { detectLauncher, type Launch, type LauncherName, worldMismatch } from './launcher';
export {
  epochPermutation,
  globalBatch,
  globalSteps,
  type Range,
  rankBatch,
  rankBatches,
  rankSlice,
} from './shards';
export { affinityCpus, applyRankThreads, countCpuList, type RankThreads, threadsPerRank } from './threads';
