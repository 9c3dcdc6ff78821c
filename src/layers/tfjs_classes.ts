import * as tf from '@tensorflow/tfjs';

/** tfjs's own layer class registered under `className` (tfjs exports only the layers' factories). */
export function tfjsLayerClass<T>(className: string): T {
  return tf.serialization.SerializationMap.getMap().classNameMap[className][0] as unknown as T;
}

/**
 * Registers a subclass of a tfjs layer under its (tfjs's) class name, so that models loaded here build it.
 * fromConfig is inherited (tfjs's static), which the subclass's constructor type does not show.
 */
export function registerLayerClass(layerClass: unknown): void {
  tf.serialization.registerClass(
    layerClass as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
  );
}
