import * as tf from '@tensorflow/tfjs';

/** Per-example 1/0: is the true class (one-hot `yTrue`) among the k highest scores of `yPred`? */
export function topKCategoricalAccuracy(yTrue: tf.Tensor, yPred: tf.Tensor, k = 5): tf.Tensor {
  return tf.tidy(() => {
    const labels = tf.argMax(yTrue, -1).expandDims(1).cast('int32');
    const { indices } = tf.topk(yPred, Math.min(k, yPred.shape[yPred.shape.length - 1] as number));
    return tf.any(tf.equal(indices, labels), 1).cast('float32');
  });
}

/** Keras `top_k_categorical_accuracy` with k = 5 (tfjs-layers leaves it unimplemented). Logged as `top5`. */
export function top5(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return topKCategoricalAccuracy(yTrue, yPred, 5);
}

/**
 * Compiles a softmax classifier the way the notebook does (`loss='categorical_crossentropy',
 * metrics=['accuracy']`), adding top-5 accuracy when there are at least 5 classes.
 */
export function compileClassifier(model: tf.LayersModel, optimizer: tf.Optimizer): void {
  const classes = (model.outputs[0].shape as number[])[1];
  model.compile({
    optimizer,
    loss: 'categoricalCrossentropy',
    metrics: classes >= 5 ? ['accuracy', top5] : ['accuracy'],
  });
}

/** Keras's names for what tfjs calls its compiled metrics (`acc` → `accuracy`). */
export function metricNames(model: tf.LayersModel): string[] {
  return model.metricsNames.map((n) => (n === 'acc' ? 'accuracy' : n));
}
