import { decodePixels, ImageDecodeError, type ImageGeometry } from './decode';
import { ImageFolderDataset } from './image_folder';
import { prefetchInOrder } from './prefetch';
import type { BadFilePolicy, LabelledFile } from './types';

/** Reports a skipped file through Node's warning channel (stderr) when the caller gave no onSkip. */
function warnSkipped(path: string, reason: string): void {
  process.emitWarning(`${path}: skipped (${reason})`, 'ImageSkipped');
}

/**
 * Deals with an error met while decoding a dataset file: rethrows it under the `error` policy, or when it is
 * not a bad image (a bug, out of memory); under `skip` tells onSkip and returns, so the caller counts it.
 */
export function handleBadFile(
  error: unknown,
  policy: BadFilePolicy = 'error',
  onSkip: (path: string, reason: string) => void = warnSkipped,
): void {
  if (policy !== 'skip' || !(error instanceof ImageDecodeError)) throw error;
  onSkip(error.path, error.reason);
}

/**
 * The dataset without its undecodable files (each told to onSkip): one decoding pass over every file, so
 * that a run skipping bad files counts, batches and reports only the images it really uses.
 */
export async function withoutUndecodable(
  dataset: ImageFolderDataset,
  geometry: ImageGeometry,
  onSkip: (path: string, reason: string) => void = warnSkipped,
  prefetch = 16,
): Promise<ImageFolderDataset> {
  const kept: LabelledFile[] = [];
  let index = 0;
  for await (const settled of prefetchInOrder(
    dataset.files,
    (f) => decodePixels(f.path, geometry),
    prefetch,
  )) {
    const file = dataset.files[index++];
    if (settled.ok) kept.push(file);
    else handleBadFile(settled.error, 'skip', onSkip);
  }
  if (kept.length === 0) throw new Error(`${dataset.dir}: no decodable images`);
  return kept.length === dataset.size
    ? dataset
    : ImageFolderDataset.fromFiles(dataset.dir, dataset.classNames, kept);
}
