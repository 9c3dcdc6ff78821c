// The weights registry: for each builder, the named weights it can start from (torchvision's WeightsEnum):
// where the file is, how to check it, which reader takes it, and what travels with it (labels,
// preprocessing, the source's accuracy). Builders live in src/models/registry.ts; a test walks both.
import type { Preprocessing } from '../io/model_folder';
import { PRETRAINED } from '../models/pretrained';
import IMAGENET_CATEGORIES from './imagenet_categories.json';

/** File formats a weights file can be in, each read by one loader (src/weights/load.ts). */
export type WeightsFormat = 'pth' | 'h5' | 'onnx';

/** The hash a source publishes for its file, as it publishes it. */
export interface PublishedHash {
  algorithm: 'sha256' | 'md5';
  /** Lower-case hex digest, or its first characters when `prefix` is true. */
  hex: string;
  /** torch.hub's convention: the file name carries the first 8 hex digits of the SHA-256 only. */
  prefix?: boolean;
}

/** One downloadable file of a weights entry. */
export interface WeightsFile {
  url: string;
  /** Name in the cache folder (the source's own file name). */
  file: string;
  hash: PublishedHash;
  /** Whether the file holds the classifier (Keras publishes a `_notop` file without it). */
  includeTop: boolean;
}

/** Accuracy as the source reports it, in percent (Keras's 0.779 is written 77.9). */
export interface SourceMetrics {
  dataset: string;
  top1: number;
  top5: number;
  /** Where the numbers come from. */
  reportedBy: string;
}

/** What describes published weights (torchvision's Weights.meta). */
export interface PublishedMeta {
  categories: string[];
  numClasses: number;
  preprocessing: Preprocessing;
  /**
   * Parameters of the network with the classifier at numClasses (aux heads excluded), as the source counts them:
   * torchvision's parameters() (BN running statistics excluded), Keras's count_params() (included).
   */
  numParams: number;
  metrics: SourceMetrics;
  /** How the weights were trained, or where they come from. */
  recipe: string;
  license: string;
  /** The page that publishes the weights. */
  source: string;
}

/** Weights published on the web, downloaded into the cache on first use. */
export interface PublishedWeights {
  kind: 'published';
  builder: string;
  name: string;
  format: WeightsFormat;
  /** The builder arguments the weights fit (with the classifier; googlenet-paper's `caffe: true`, ...). */
  args: { numClasses: number; inputShape: [number, number, number]; [option: string]: unknown };
  /** One file, or one with and one without the classifier. */
  files: WeightsFile[];
  meta: PublishedMeta;
}

/** Weights shipped in the package as a model folder (src/models/pretrained.ts). */
export interface ShippedWeights {
  kind: 'shipped';
  builder: string;
  name: string;
}

export type WeightsEntry = PublishedWeights | ShippedWeights;

/** The file format whose loader fits each builder; a weights file of another format is refused for it. */
export const BUILDER_FILE_FORMATS: Record<string, WeightsFormat> = {
  'googlenet-torchvision': 'pth',
  'inception-v3': 'h5',
  'googlenet-paper': 'onnx',
};

/** torchvision's ImageClassification preset at crop 224: resize 256 (bilinear), centre crop 224. */
const TORCHVISION_PREPROCESSING: Preprocessing = {
  inputShape: [224, 224, 3],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  resize: 'cover',
  cropFraction: 224 / 256,
};

/**
 * Keras's `inception_v3.preprocess_input` (mode "tf": x / 127.5 - 1, i.e. mean 0.5 and std 0.5 of
 * pixel/255), at 299x299 stretched as Keras's examples do (`load_img(path, target_size=(299, 299))`).
 */
const KERAS_INCEPTION_PREPROCESSING: Preprocessing = {
  inputShape: [299, 299, 3],
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
  resize: 'fill',
};

/**
 * The ONNX model zoo's GoogLeNet README: resize to 224x224 (stretch), subtract the RGB mean [123.68,
 * 116.779, 103.939] from 0-255 pixels, no scaling (std 1/255 of pixel/255). The zoo network takes BGR; its
 * loader reverses the first convolution's input channels so that this RGB preprocessing feeds it.
 */
const ONNX_ZOO_PREPROCESSING: Preprocessing = {
  inputShape: [224, 224, 3],
  mean: [123.68 / 255, 116.779 / 255, 103.939 / 255],
  std: [1 / 255, 1 / 255, 1 / 255],
  resize: 'fill',
};

const KERAS_INCEPTION_V3_BASE = 'https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/';

/** Every builder's named weights, in the order `--weights` help lists them (the first is the default). */
export const WEIGHTS: WeightsEntry[] = [
  {
    kind: 'published',
    builder: 'googlenet-torchvision',
    name: 'imagenet',
    format: 'pth',
    // torchvision's googlenet(weights=...) sets transform_input=True: the weights expect ImageNet-normalised
    // input turned back into the (x - 0.5) / 0.5 space their first convolution was trained in.
    args: { numClasses: 1000, inputShape: [224, 224, 3], transformInput: true },
    files: [
      {
        url: 'https://download.pytorch.org/models/googlenet-1378be20.pth',
        file: 'googlenet-1378be20.pth',
        hash: { algorithm: 'sha256', hex: '1378be20', prefix: true },
        includeTop: true,
      },
    ],
    meta: {
      categories: IMAGENET_CATEGORIES,
      numClasses: 1000,
      preprocessing: TORCHVISION_PREPROCESSING,
      numParams: 6_624_904,
      metrics: {
        dataset: 'ImageNet-1K val',
        top1: 69.778,
        top5: 89.53,
        reportedBy: 'https://pytorch.org/vision/stable/models/generated/torchvision.models.googlenet.html',
      },
      recipe: 'https://github.com/pytorch/vision/tree/main/references/classification#googlenet',
      license: 'BSD-3-Clause (torchvision)',
      source: 'https://pytorch.org/vision/stable/models/googlenet.html',
    },
  },
  {
    kind: 'published',
    builder: 'inception-v3',
    name: 'imagenet',
    format: 'h5',
    args: { numClasses: 1000, inputShape: [299, 299, 3] },
    // Keras's source (keras/src/applications/inception_v3.py, keras 3.15) publishes MD5 digests.
    files: [
      {
        url: `${KERAS_INCEPTION_V3_BASE}inception_v3_weights_tf_dim_ordering_tf_kernels.h5`,
        file: 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5',
        hash: { algorithm: 'md5', hex: '9a0d58056eeedaa3f26cb7ebd46da564' },
        includeTop: true,
      },
      {
        url: `${KERAS_INCEPTION_V3_BASE}inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`,
        file: 'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5',
        hash: { algorithm: 'md5', hex: 'bcbd6486424b2319ff4ef7d526e38f63' },
        includeTop: false,
      },
    ],
    meta: {
      categories: IMAGENET_CATEGORIES,
      numClasses: 1000,
      preprocessing: KERAS_INCEPTION_PREPROCESSING,
      numParams: 23_851_784,
      metrics: {
        dataset: 'ImageNet-1K val',
        top1: 77.9,
        top5: 93.7,
        reportedBy: 'https://keras.io/api/applications/',
      },
      recipe: 'https://keras.io/api/applications/inceptionv3/',
      license: 'Apache-2.0 (Keras)',
      source: 'https://github.com/keras-team/keras/blob/master/keras/src/applications/inception_v3.py',
    },
  },
  {
    kind: 'published',
    builder: 'googlenet-paper',
    name: 'imagenet',
    format: 'onnx',
    // Caffe's symmetric 7x7/2 padding and ceil-mode pools: the zoo network exactly (src/weights/onnx_googlenet.ts).
    args: { numClasses: 1000, inputShape: [224, 224, 3], caffe: true },
    files: [
      {
        // The zoo stores the file in Git LFS; GitHub's raw URL redirects to the LFS object. The SHA-256 is
        // the LFS pointer's oid (onnx/models b1eeaa1a), size 28,021,836 bytes.
        url: 'https://github.com/onnx/models/raw/main/validated/vision/classification/inception_and_googlenet/googlenet/model/googlenet-12.onnx',
        file: 'googlenet-12.onnx',
        hash: {
          algorithm: 'sha256',
          hex: 'c99c507058eaf41de8723408fdda7db8325cb57f0a89f2ee07a716d6e963e14e',
        },
        includeTop: true,
      },
    ],
    meta: {
      categories: IMAGENET_CATEGORIES,
      numClasses: 1000,
      preprocessing: ONNX_ZOO_PREPROCESSING,
      numParams: 6_998_552,
      metrics: {
        dataset: 'ImageNet-1K val',
        top1: 67.78,
        top5: 88.34,
        reportedBy:
          'https://github.com/onnx/models/tree/main/validated/vision/classification/inception_and_googlenet/googlenet',
      },
      recipe: 'Caffe BVLC GoogLeNet (bvlc_googlenet), converted Caffe → Caffe2 → ONNX (opset 12)',
      license: 'BSD-3-Clause (ONNX model zoo)',
      source:
        'https://github.com/onnx/models/tree/main/validated/vision/classification/inception_and_googlenet/googlenet',
    },
  },
  ...Object.entries(PRETRAINED).map(
    ([name, p]): ShippedWeights => ({ kind: 'shipped', builder: p.builder, name }),
  ),
];

/** The named weights of `builder` (none for a builder without published or shipped weights). */
export function weightsFor(builder: string): WeightsEntry[] {
  return WEIGHTS.filter((w) => w.builder === builder);
}

/** The entry `builder` + `name`, or undefined. */
export function findWeights(builder: string, name: string): WeightsEntry | undefined {
  return WEIGHTS.find((w) => w.builder === builder && w.name === name);
}

/** What `--weights` accepts for `builder`, for errors and help: its names, then files and folders. */
export function knownWeightsText(builder: string): string {
  const names = weightsFor(builder).map((w) => w.name);
  const format = BUILDER_FILE_FORMATS[builder];
  return [
    names.length ? `names: ${names.join(', ')}` : 'no named weights',
    `or a model folder${format ? `, or a .${format} file` : ''}`,
  ].join('; ');
}

/**
 * The file of `entry` that fits a model: the one without the classifier when the model has none (or
 * another class count) and the source publishes one, else the full file (its loader then takes the body).
 */
export function fileForModel(entry: PublishedWeights, modelHasSourceTop: boolean): WeightsFile {
  if (!modelHasSourceTop) {
    const notop = entry.files.find((f) => !f.includeTop);
    if (notop) return notop;
  }
  return entry.files.find((f) => f.includeTop) ?? entry.files[0];
}
