import { seededRandom, shuffleInPlace } from '../random';
import { handleBadFile } from './bad_file';
import { decodePixels, type ImageGeometry } from './decode';
import type { ImageFolderDataset } from './image_folder';
import { prefetchInOrder } from './prefetch';
import type { BadFilePolicy } from './types';

export interface ChannelStatsOptions {
  /** Use a seeded random sample of at most this many images (default 2000); the whole set if smaller. */
  maxImages?: number;
  seed?: number;
  /** Images decoded ahead (default 16). */
  prefetch?: number;
  onBadFile?: BadFilePolicy;
  onSkip?: (path: string, reason: string) => void;
}

/** Per-channel normalisation and how many images it was measured on. */
export interface ChannelStats {
  mean: number[];
  std: number[];
  images: number;
}

/**
 * Smallest std reported. A channel that is constant over the sample (a grayscale set, a solid test image)
 * would otherwise divide by zero; this keeps it finite and the normalised value at 0.
 */
export const MIN_STD = 1 / 255;

/**
 * The per-channel mean and standard deviation of pixel/255 over the training images, each resized to the
 * model input exactly as training sees it (before augmentation), computed over all pixels of a sample of
 * the images. This is the normalisation saved in preprocessing.json: training, evaluate, predict and serve
 * all feed the network (pixel/255 - mean) / std with these numbers.
 */
export async function channelStats(
  dataset: ImageFolderDataset,
  geometry: ImageGeometry,
  options: ChannelStatsOptions = {},
): Promise<ChannelStats> {
  const maxImages = options.maxImages ?? 2000;
  if (!(maxImages >= 1)) throw new Error(`maxImages must be >= 1; got ${maxImages}`);
  const sample = shuffleInPlace([...dataset.files], seededRandom(options.seed ?? 0)).slice(0, maxImages);
  const c = geometry.inputShape[2];
  // Float64 sums: a few thousand 224x224 images is ~1e8 values, beyond float32's exact range.
  const sum = new Float64Array(c);
  const sumSquares = new Float64Array(c);
  let images = 0;
  let values = 0;
  for await (const settled of prefetchInOrder(
    sample,
    (f) => decodePixels(f.path, geometry),
    options.prefetch ?? 16,
  )) {
    if (!settled.ok) {
      handleBadFile(settled.error, options.onBadFile, options.onSkip);
      continue;
    }
    const data = settled.value.data;
    for (let i = 0; i < data.length; i += c) {
      for (let k = 0; k < c; k++) {
        const v = data[i + k] / 255;
        sum[k] += v;
        sumSquares[k] += v * v;
      }
    }
    images++;
    values += data.length / c;
  }
  if (images === 0)
    throw new Error(`${dataset.dir}: no decodable images to measure the channel statistics on`);
  const mean = Array.from(sum, (s) => s / values);
  const std = Array.from(sumSquares, (s, k) =>
    Math.max(Math.sqrt(Math.max(s / values - mean[k] ** 2, 0)), MIN_STD),
  );
  return { mean, std, images };
}
