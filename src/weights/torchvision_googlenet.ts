import * as tf from '@tensorflow/tfjs';
import { readPth } from './pth';
import { firstNonFinite, type StateDict, toFloat32 } from './state_dict';

/** Modules that are the classifier of a head: with another class count they are left as initialised. */
const CLASSIFIERS = ['fc', 'aux1.fc2', 'aux2.fc2'];
/** Module prefixes a model may lack (no top, no aux heads): their keys are then ignored. */
const OPTIONAL_MODULES = ['fc', 'aux1', 'aux2'];

/** What one load did: tensors set, and what was deliberately left alone. */
export interface TorchvisionLoadReport {
  /** tfjs weights set from the file. */
  set: number;
  /** Classifier layers left as initialised because the file has another class count. */
  headsKept: string[];
  /** State_dict keys not used: BN `num_batches_tracked`, and the modules the model does not have. */
  ignored: string[];
}

interface Assignment {
  layer: tf.layers.Layer;
  values: tf.Tensor[];
}

const shown = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** The torch shape of a tfjs weight (conv HWIO ← OIHW, dense [in, out] ← [out, in]). */
function torchShape(className: string, shape: number[]): number[] {
  if (className === 'Conv2D' && shape.length === 4) return [shape[3], shape[2], shape[0], shape[1]];
  if (className === 'Dense' && shape.length === 2) return [shape[1], shape[0]];
  return shape;
}

/** The state_dict suffixes of a layer's weights, in the layer's weight order. */
function torchSuffixes(layer: tf.layers.Layer, file: string): string[] {
  const className = layer.getClassName();
  if (className === 'Conv2D' || className === 'Dense') {
    return layer.weights.length === 2 ? ['weight', 'bias'] : ['weight'];
  }
  if (className === 'BatchNormalization' && layer.weights.length === 4) {
    return ['weight', 'bias', 'running_mean', 'running_var'];
  }
  throw new Error(
    `${file}: layer ${layer.name} (${className}) has no torchvision GoogLeNet counterpart; build the model with googlenetTorchvision`,
  );
}

/**
 * [H, W, C] of the feature map a Dense layer reads through a Flatten, or null: torch flattens NCHW
 * (index c*H*W + h*W + w), tfjs NHWC (index (h*W + w)*C + c), so such a layer's rows are permuted.
 */
function flattenedFrom(layer: tf.layers.Layer): [number, number, number] | null {
  const inbound = (layer as any).inboundNodes?.[0]?.inboundLayers?.[0] as tf.layers.Layer | undefined;
  if (inbound?.getClassName() !== 'Flatten') return null;
  const shape = ((inbound as tf.layers.Layer).input as tf.SymbolicTensor).shape as number[];
  return shape.length === 4 && shape[1] * shape[2] > 1 ? [shape[1], shape[2], shape[3]] : null;
}

/** A torch tensor's values in the tfjs layout of `layer`'s weight. */
function toTfjsLayout(
  layer: tf.layers.Layer,
  values: Float32Array,
  torch: number[],
  target: number[],
  suffix: string,
): tf.Tensor {
  return tf.tidy(() => {
    const t = tf.tensor(values, torch);
    const className = layer.getClassName();
    if (className === 'Conv2D' && suffix === 'weight') return tf.transpose(t, [2, 3, 1, 0]);
    if (className === 'Dense' && suffix === 'weight') {
      const map = flattenedFrom(layer);
      if (!map) return tf.transpose(t);
      const [h, w, c] = map;
      return tf.reshape(tf.transpose(tf.reshape(t, [torch[0], c, h, w]), [2, 3, 1, 0]), target);
    }
    return t;
  });
}

/**
 * Checks a state_dict against a model built by googlenetTorchvision and converts every tensor, setting
 * nothing: either all of it fits, or one error names the file and the first key or layer that does not.
 * The model's layer `a_b_c` takes the keys `a.b.c.*`.
 */
function plan(model: tf.LayersModel, state: StateDict, file: string) {
  const used = new Set<string>();
  const missing: string[] = [];
  const misfits: string[] = [];
  const assignments: Assignment[] = [];
  const headsKept: string[] = [];
  const modules = new Set<string>();
  const pending: {
    layer: tf.layers.Layer;
    items: { key: string; torch: number[]; target: number[]; suffix: string }[];
  }[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const path = layer.name.replace(/_/g, '.');
    modules.add(path);
    const suffixes = torchSuffixes(layer, file);
    const items = layer.weights.map((w, i) => ({
      key: `${path}.${suffixes[i]}`,
      torch: torchShape(layer.getClassName(), w.shape as number[]),
      target: w.shape as number[],
      suffix: suffixes[i],
    }));
    const absent = items.filter((item) => !state.has(item.key));
    if (absent.length > 0) {
      missing.push(...absent.map((item) => `${item.key} (layer ${layer.name})`));
      continue;
    }
    for (const item of items) used.add(item.key);
    const wrong = items.find((item) => shown(state.get(item.key)!.shape) !== shown(item.torch));
    if (wrong) {
      const found = state.get(wrong.key)!.shape;
      const classesOnly =
        CLASSIFIERS.includes(path) &&
        (wrong.suffix === 'weight' ? found.length === 2 && found[1] === wrong.torch[1] : found.length === 1);
      if (classesOnly) {
        headsKept.push(`${layer.name} (${found[0]} classes in the file, ${wrong.torch[0]} in the model)`);
      } else {
        misfits.push(
          `key ${wrong.key} has shape ${shown(found)}, layer ${layer.name} needs ${shown(wrong.torch)} (torch layout)`,
        );
      }
      continue;
    }
    pending.push({ layer, items });
  }
  const ignored: string[] = [];
  const unexpected: string[] = [];
  for (const key of state.keys()) {
    if (used.has(key)) continue;
    const optional = OPTIONAL_MODULES.find(
      (m) => key.startsWith(`${m}.`) && ![...modules].some((p) => p === m || p.startsWith(`${m}.`)),
    );
    if (key.endsWith('.num_batches_tracked') || optional) ignored.push(key);
    else unexpected.push(key);
  }
  if (missing.length > 0 || unexpected.length > 0) {
    const more = (list: string[]) => (list.length > 1 ? ` (and ${list.length - 1} more)` : '');
    const parts = [
      ...(missing.length > 0 ? [`missing key ${missing[0]}${more(missing)}`] : []),
      ...(unexpected.length > 0 ? [`unexpected key ${unexpected[0]}${more(unexpected)}`] : []),
    ];
    throw new Error(`${file}: not a torchvision GoogLeNet state_dict for ${model.name}: ${parts.join('; ')}`);
  }
  if (misfits.length > 0)
    throw new Error(`${file}: ${misfits[0]}${misfits.length > 1 ? ` (and ${misfits.length - 1} more)` : ''}`);
  for (const { layer, items } of pending) {
    const values = items.map((item) => {
      const values = toFloat32(state.get(item.key)!, file);
      const bad = firstNonFinite(values);
      if (bad >= 0)
        throw new Error(
          `${file}: key ${item.key} holds a non-finite value (${values[bad]}) at element ${bad}`,
        );
      return { ...item, values };
    });
    assignments.push({
      layer,
      values: values.map((v) => toTfjsLayout(layer, v.values, v.torch, v.target, v.suffix)),
    });
  }
  return { assignments, headsKept, ignored };
}

/**
 * Copies a state_dict into `model`, built by googlenetTorchvision (any inputShape, numClasses, includeTop,
 * transformInput, auxLogits). Nothing is set unless every tensor fits.
 */
export function setTorchvisionGoogLeNetWeights(
  model: tf.LayersModel,
  state: StateDict,
  file: string,
): TorchvisionLoadReport {
  let assignments: Assignment[] = [];
  try {
    const planned = plan(model, state, file);
    assignments = planned.assignments;
    for (const { layer, values } of assignments) layer.setWeights(values);
    return {
      set: assignments.reduce((n, a) => n + a.values.length, 0),
      headsKept: planned.headsKept,
      ignored: planned.ignored,
    };
  } finally {
    for (const { values } of assignments) tf.dispose(values);
  }
}

/**
 * Loads torchvision GoogLeNet weights (`torch.save(model.state_dict())`, e.g. torchvision's
 * `googlenet-1378be20.pth`) into a model built by googlenetTorchvision. Conv kernels go OIHW → HWIO, Linear
 * weights are transposed (the aux heads' fc1 also re-ordered from NCHW to NHWC flattening), BN takes
 * weight, bias, running_mean and running_var; `num_batches_tracked` is ignored, as are the aux heads' keys
 * when the model has no aux heads and fc's when it has no top. A model with another class count takes the
 * body and leaves its classifiers (fc, aux fc2) as initialised.
 *
 * The published IMAGENET1K_V1 weights were ported from TensorFlow and expect input in [-1, 1]: build with
 * `transformInput: true` and feed ImageNet-normalised input (torchvision's recipe: resize 256, centre crop
 * 224, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]), or without it and feed (x - 0.5) / 0.5.
 * Errors are one line naming the file and the key or layer that does not fit; nothing is set then.
 */
export async function loadTorchvisionGoogLeNetWeights(
  model: tf.LayersModel,
  file: string,
  options: { print?: (line: string) => void } = {},
): Promise<void> {
  const report = setTorchvisionGoogLeNetWeights(model, readPth(file), file);
  if (options.print) {
    const kept = report.headsKept.length > 0 ? `; left as initialised: ${report.headsKept.join(', ')}` : '';
    options.print(
      `${file}: set ${report.set} tensors of ${model.name} (${report.ignored.length} keys not used)${kept}`,
    );
  }
}
