import * as tf from '@tensorflow/tfjs';

/**
 * Configuration of the LRN layer, with exactly the semantics of `tf.localResponseNormalization`
 * (TensorFlow's `tf.nn.local_response_normalization`), over the channel axis of NHWC tensors:
 *
 *     out[b,h,w,c] = x[b,h,w,c] / (bias + alpha * sum(x[b,h,w,c-depthRadius .. c+depthRadius]^2))^beta
 *
 * The paper's LRN (Caffe's `LRN` layer, AlexNet's "k=2, n=5, alpha=1e-4, beta=0.75", GoogLeNet's
 * `local_size: 5, alpha: 0.0001, beta: 0.75`, k = 1) divides alpha by the window size:
 *
 *     out = x / (k + alpha_caffe / size * sum(x^2 over size channels))^beta
 *
 * so it maps to `depthRadius = (size - 1) / 2 = 2`, `bias = k = 1`, `alpha = alpha_caffe / size = 2e-5`,
 * `beta = 0.75`; these are the defaults. ONNX `LRN` follows Caffe (size, alpha divided by size, bias, beta),
 * so the inverse mapping is `size = 2 * depthRadius + 1`, `alpha_onnx = alpha * size`.
 */
export interface LRNConfig {
  /** Half-width of the channel window (window = 2 * depthRadius + 1 channels). Default 2. */
  depthRadius?: number;
  /** Additive constant k. Default 1. */
  bias?: number;
  /** Scale of the sum of squares, already divided by the window size. Default 2e-5 (= 1e-4 / 5). */
  alpha?: number;
  /** Exponent. Default 0.75. */
  beta?: number;
}

export interface LRNLayerArgs extends LRNConfig {
  name?: string;
  trainable?: boolean;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/** The paper's (Caffe's) LRN: local_size 5, alpha 1e-4, beta 0.75, k 1, in tfjs terms. */
export const PAPER_LRN: Required<LRNConfig> = { depthRadius: 2, bias: 1, alpha: 1e-4 / 5, beta: 0.75 };

const CONSTRAINTS: Record<string, string> = {
  depthRadius: 'a non-negative integer',
  bias: 'a finite number',
  alpha: 'a finite number',
  beta: 'a finite number',
};

function checkNumber(key: string, value: number, ok: boolean): void {
  if (!ok) throw new Error(`LRN: ${key} must be ${CONSTRAINTS[key]}, got ${JSON.stringify(value)}`);
}

/** Attributes of the equivalent ONNX `LRN` node (and of Caffe's LRN: local_size, alpha, beta, k). */
export interface OnnxLRNAttributes {
  size: number;
  alpha: number;
  beta: number;
  bias: number;
}

/** The ONNX `LRN` attributes computing exactly what an LRN layer with this config computes. */
export function onnxLRNAttributes(config: Required<LRNConfig>): OnnxLRNAttributes {
  const size = 2 * config.depthRadius + 1;
  return { size, alpha: config.alpha * size, beta: config.beta, bias: config.bias };
}

/** Local response normalisation across channels (NHWC), as in AlexNet and GoogLeNet; no weights. */
export class LRN extends tf.layers.Layer {
  static className = 'LRN';
  readonly depthRadius: number;
  readonly bias: number;
  readonly alpha: number;
  readonly beta: number;

  constructor(args: LRNLayerArgs = {}) {
    super(args);
    this.depthRadius = args.depthRadius ?? PAPER_LRN.depthRadius;
    this.bias = args.bias ?? PAPER_LRN.bias;
    this.alpha = args.alpha ?? PAPER_LRN.alpha;
    this.beta = args.beta ?? PAPER_LRN.beta;
    checkNumber('depthRadius', this.depthRadius, Number.isInteger(this.depthRadius) && this.depthRadius >= 0);
    for (const key of ['bias', 'alpha', 'beta'] as const) {
      checkNumber(key, this[key], typeof this[key] === 'number' && Number.isFinite(this[key]));
    }
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    if (!Array.isArray(inputShape) || inputShape.length !== 4 || Array.isArray(inputShape[0])) {
      throw new Error(`LRN '${this.name}': expects one NHWC input, got shape ${JSON.stringify(inputShape)}`);
    }
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      return tf.localResponseNormalization(x, this.depthRadius, this.bias, this.alpha, this.beta);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      depthRadius: this.depthRadius,
      bias: this.bias,
      alpha: this.alpha,
      beta: this.beta,
    };
  }
}

tf.serialization.registerClass(LRN);

/** Functional-API factory, like `tf.layers.*`. */
export function lrn(args: LRNLayerArgs = {}): LRN {
  return new LRN(args);
}
