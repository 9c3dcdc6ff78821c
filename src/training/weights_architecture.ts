import * as fs from 'node:fs';
import * as path from 'node:path';
import { CURRENT } from '../io/generations';
import { INFO_JSON, MODEL_JSON } from '../io/model_folder';
import type { GoogLeNetArgs } from '../models/googlenet';
import type { GoogLeNetCifarArgs } from '../models/googlenet_cifar';
import { PRETRAINED } from '../models/pretrained';
import { weightsBuilderArgs } from '../weights/create_model';

/** The builder and arguments that weights fix (Keras applications: the weights choose the architecture). */
export interface WeightsArchitecture {
  model?: string;
  args: GoogLeNetArgs & Pick<GoogLeNetCifarArgs, 'stemPool' | 'batchNorm'>;
}

/**
 * What a shipped model or a model folder says about the network its weights fit: the builder, width and,
 * for googlenet-cifar, the stem pool and batch normalisation (read from the layers model.json lists). Other
 * specs (registry names, weights files) fix nothing here: the builder's own defaults apply.
 */
export function weightsArchitecture(spec: string): WeightsArchitecture {
  if (Object.hasOwn(PRETRAINED, spec)) {
    const { builder, args } = PRETRAINED[spec];
    const { numClasses: _, ...fixed } = args;
    return { model: builder, args: fixed };
  }
  const current = path.join(spec, CURRENT);
  const dir = fs.existsSync(current) ? current : spec;
  const read = (file: string) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    } catch {
      return null;
    }
  };
  const info = read(INFO_JSON) as { model?: string; widthMultiplier?: number } | null;
  if (!info?.model || info.model === 'unknown') return { args: {} };
  const args: WeightsArchitecture['args'] = { widthMultiplier: info.widthMultiplier };
  if (info.model === 'googlenet-cifar') {
    const layers: { class_name: string; config: { name: string } }[] =
      read(MODEL_JSON)?.modelTopology?.config?.layers ?? [];
    args.stemPool = layers.some((l) => l.config.name === 'max_pool_1_3x3_2');
    args.batchNorm = layers.some((l) => l.class_name === 'BatchNormalization');
  }
  return { model: info.model, args };
}

/**
 * The builder arguments `spec` fixes for `builder`, class count and input shape aside: a shipped model's or
 * model folder's when that builder made it; for registry names and weights files, the registry's for that
 * builder (torchvision's transformInput, the ONNX zoo's Caffe padding), without which the weights would load
 * into the wrong network or see their inputs in the wrong space.
 */
export function weightsFixedArgs(
  builder: string,
  spec: string,
  fixed: WeightsArchitecture = weightsArchitecture(spec),
): WeightsArchitecture['args'] {
  if (fixed.model !== undefined) return builder === fixed.model ? fixed.args : {};
  const { numClasses: _classes, inputShape: _shape, ...args } = weightsBuilderArgs(builder, spec);
  return args;
}
