import * as tf from '@tensorflow/tfjs';

export interface AdaptiveAveragePooling2DLayerArgs {
  /** Output height and width. */
  outputSize: [number, number];
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * Bin `i` of `out` over an axis of length `n`: [floor(i n / out), ceil((i + 1) n / out)), PyTorch's
 * `adaptive_avg_pool2d` bins (neighbouring bins overlap when `out` does not divide `n`).
 */
export function adaptiveBins(n: number, out: number): [number, number][] {
  return Array.from({ length: out }, (_, i) => [Math.floor((i * n) / out), Math.ceil(((i + 1) * n) / out)]);
}

/**
 * PyTorch's `AdaptiveAvgPool2d(outputSize)` on NHWC tensors: each output cell is the mean of its bin of rows
 * times its bin of columns (adaptiveBins), so any input size pools to `outputSize`. torchvision's GoogLeNet
 * auxiliary heads pool 14x14 to 4x4 with it: bins 0-3, 3-6, 7-10, 10-13, which no fixed-stride pool gives.
 */
export class AdaptiveAveragePooling2D extends tf.layers.Layer {
  static className = 'AdaptiveAveragePooling2D';
  readonly outputSize: [number, number];

  constructor(args: AdaptiveAveragePooling2DLayerArgs) {
    super(args);
    const size = args.outputSize;
    if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(
        `AdaptiveAveragePooling2D: outputSize must be [height, width] of positive integers, got ${JSON.stringify(size)}`,
      );
    }
    this.outputSize = [size[0], size[1]];
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const shape = inputShape as tf.Shape;
    if (shape.length !== 4 || Array.isArray(shape[0])) {
      throw new Error(
        `AdaptiveAveragePooling2D '${this.name}': expects one NHWC input, got shape ${JSON.stringify(inputShape)}`,
      );
    }
    return [shape[0], this.outputSize[0], this.outputSize[1], shape[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      // Rows, then columns: the mean over a bin of rows x a bin of columns, with two small loops.
      const rows = adaptiveBins(x.shape[1], this.outputSize[0]).map(([from, to]) =>
        tf.mean(tf.slice(x, [0, from, 0, 0], [-1, to - from, -1, -1]), 1, true),
      );
      const pooledRows = rows.length === 1 ? rows[0] : tf.concat(rows, 1);
      const cols = adaptiveBins(x.shape[2], this.outputSize[1]).map(([from, to]) =>
        tf.mean(tf.slice(pooledRows, [0, 0, from, 0], [-1, -1, to - from, -1]), 2, true),
      );
      return cols.length === 1 ? cols[0] : tf.concat(cols, 2);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), outputSize: this.outputSize };
  }
}

tf.serialization.registerClass(AdaptiveAveragePooling2D);

export function adaptiveAveragePooling2d(args: AdaptiveAveragePooling2DLayerArgs): AdaptiveAveragePooling2D {
  return new AdaptiveAveragePooling2D(args);
}
