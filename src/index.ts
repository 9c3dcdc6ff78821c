// The public API: re-exports only, plus choosing the engine once at import.
import * as tf from '@tensorflow/tfjs';
import { installFrugalGradients } from './autodiff/frugal_gradients';
import { selectBackend } from './backend/select';

// Training frees each intermediate gradient as soon as it is used (see autodiff/frugal_gradients.ts).
installFrugalGradients();

/** Resolves once the engine chosen at import (onednn, else cpu; INCEPTION_BACKEND overrides) is ready. */
export const backendReady = selectBackend();

export { installFrugalGradients } from './autodiff/frugal_gradients';
export type { PlanInfo, Precision } from './backend/plan_spec';
export {
  COMPUTE_PRECISIONS,
  type ComputePrecision,
  computePrecision,
  computePrecisionUnavailable,
  setComputePrecision,
  withComputePrecision,
} from './backend/precision';
export type { BackendName } from './backend/select';
export * from './data/index';
export { batchNormStatistics, DataParallel, type StepTotals } from './distributed/data_parallel';
export * from './distributed/index';
export { exportOnnx, exportOnnxBytes, toOnnxModel } from './export/onnx';
export { exportTfjs, tfjsExportFiles } from './export/tfjs';
export { type InferenceOptions, NonFiniteOutputError } from './inference/classify';
export {
  extractFeatures,
  featureModel,
  type ImageList,
  listImages,
  npySidecar,
  writeFeatures,
} from './inference/features';
export {
  type ActivationRanges,
  calibratedRanges,
  compilePlan,
  type InferencePlan,
  type PlanOptions,
  PlanUnsupportedError,
  PrecisionUnavailableError,
} from './inference/plan';
export { checkPrecision, disposePlans, MAX_PLAN_BATCH, planFor } from './inference/planned';
export * from './io/model_folder';
export { decodeNpyFloat32, encodeNpyFloat32 } from './io/npy';
export * from './layers/adaptive_average_pooling';
export * from './layers/batch_normalization';
export * from './layers/channel_affine';
export * from './layers/conv2d';
export * from './layers/dropout';
export * from './layers/lrn';
export * from './models/googlenet';
export * from './models/googlenet_bn';
export * from './models/googlenet_cifar';
export * from './models/googlenet_paper';
export {
  type GoogLeNetTorchvisionArgs,
  googlenetTorchvision,
  TRANSFORM_INPUT,
} from './models/googlenet_torchvision';
export * from './models/inception_module';
export * from './models/inception_v3';
export { LayerSeeds, layerSeeds } from './models/layer_seeds';
export {
  loadPretrainedWeights,
  PRETRAINED,
  type PretrainedModel,
  pretrainedFolder,
} from './models/pretrained';
export { buildModel, MODEL_BUILDERS } from './models/registry';
export { formatSummary, type ModelSummary, modelSummary, type SummaryRow } from './models/summary';
export { type Prediction, topK } from './models/top_k';
export { type GraphEdge, type GraphNode, type ModelGraph, modelGraph } from './plot/model_graph';
export { plotModelPng } from './plot/png';
export { plotModelSvg } from './plot/svg';
export { evaluateFolder, type FolderEvaluation } from './report/evaluate_folder';
export { loadHistory, parseHistory, type TrainingHistory } from './report/history';
export { renderReport } from './report/report';
export { createInferenceServer, type InferenceServer, type InferenceServerOptions } from './serve/server';
export {
  FusedAdamOptimizer,
  FusedMomentumOptimizer,
  FusedRMSPropOptimizer,
} from './training/fused_optimizers';
export * from './training/index';
export { type CreateModelArgs, createModel } from './weights/create_model';
export { type DownloadOptions, downloadWeights } from './weights/download';
export { type LoadWeightsOptions, loadWeights, type WeightsMeta, weightsMeta } from './weights/load';
export { parsePth, readPth } from './weights/pth';
export { WEIGHTS, type WeightsEntry, weightsFor } from './weights/registry';
export type { NamedArray, StateDict } from './weights/state_dict';
export {
  loadTorchvisionGoogLeNetWeights,
  setTorchvisionGoogLeNetWeights,
  type TorchvisionLoadReport,
} from './weights/torchvision_googlenet';
export { tf };
