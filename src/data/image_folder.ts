import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { seededRandom, shuffleInPlace } from '../random';
import type { LabelledFile } from './types';

/** File extensions read as images (case-insensitive); other files in a class folder are ignored. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

export interface ImageFolderOptions {
  /**
   * Force this class order (e.g. the training set's onto a validation set) instead of the sorted folder
   * names; the folder must then hold exactly these class sub-folders.
   */
  classNames?: string[];
}

function isImageFile(name: string): boolean {
  return !name.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

/** Byte-order comparison, so the class order does not depend on the machine's locale (as Python's sorted). */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function subFolders(dir: string): Promise<string[]> {
  const names = (await fs.readdir(dir)).filter((n) => !n.startsWith('.'));
  // stat (not the dirent type) so that symlinked class folders count, as in Keras.
  const isDir = await Promise.all(
    names.map((n) =>
      fs
        .stat(path.join(dir, n))
        .then((s) => s.isDirectory())
        .catch(() => false),
    ),
  );
  return names.filter((_, i) => isDir[i]).sort(byCodePoint);
}

async function imageFiles(classDir: string): Promise<string[]> {
  const names = (await fs.readdir(classDir)).filter(isImageFile).sort(byCodePoint);
  return names.map((n) => path.join(classDir, n));
}

function listDifference(a: string[], b: string[]): string[] {
  return a.filter((x) => !b.includes(x));
}

/**
 * An image folder: `DIR/<class>/<image>` with one sub-folder per class holding JPEG/PNG files, the layout of
 * Keras `image_dataset_from_directory`. Classes are the sorted sub-folder names; label i is classNames[i].
 * Only the file list is held in memory; images are decoded when batches are drawn.
 */
export class ImageFolderDataset {
  private constructor(
    /** The folder the files came from (for messages). */
    readonly dir: string,
    readonly classNames: string[],
    readonly files: LabelledFile[],
  ) {}

  /** Scans `dir`; throws a one-line error naming the path when the folder is missing, empty or malformed. */
  static async open(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
    const stat = await fs.stat(dir).catch(() => null);
    if (!stat) throw new Error(`${dir}: no such folder`);
    if (!stat.isDirectory()) throw new Error(`${dir}: not a folder (expected DIR/<class>/<images>)`);
    const found = await subFolders(dir);
    if (found.length === 0) {
      throw new Error(`${dir}: no class sub-folders (expected DIR/<class>/<images>)`);
    }
    let classNames = found;
    if (options.classNames) {
      const missing = listDifference(options.classNames, found);
      const extra = listDifference(found, options.classNames);
      if (missing.length > 0 || extra.length > 0) {
        const parts = [
          missing.length > 0 ? `missing ${missing.join(', ')}` : '',
          extra.length > 0 ? `unexpected ${extra.join(', ')}` : '',
        ].filter(Boolean);
        throw new Error(
          `${dir}: class folders do not match the expected classes [${options.classNames.join(', ')}]: ${parts.join('; ')}`,
        );
      }
      classNames = [...options.classNames];
    }
    const perClass = await Promise.all(classNames.map((c) => imageFiles(path.join(dir, c))));
    if (perClass.every((files) => files.length === 0)) {
      throw new Error(`${dir}: no JPEG or PNG images in any class folder`);
    }
    const empty = perClass.findIndex((files) => files.length === 0);
    if (empty >= 0)
      throw new Error(`${path.join(dir, classNames[empty])}: class folder has no JPEG or PNG images`);
    const files = perClass.flatMap((paths, label) => paths.map((p) => ({ path: p, label })));
    return new ImageFolderDataset(dir, classNames, files);
  }

  /** A dataset over a given file list (a subset, or files gathered elsewhere) with the given classes. */
  static fromFiles(dir: string, classNames: string[], files: LabelledFile[]): ImageFolderDataset {
    for (const f of files) {
      if (!Number.isInteger(f.label) || f.label < 0 || f.label >= classNames.length) {
        throw new Error(`${f.path}: label ${f.label} is not one of the ${classNames.length} classes`);
      }
    }
    return new ImageFolderDataset(dir, [...classNames], [...files]);
  }

  get size(): number {
    return this.files.length;
  }

  /** Number of files per class, indexed like classNames. */
  counts(): number[] {
    const counts = new Array<number>(this.classNames.length).fill(0);
    for (const f of this.files) counts[f.label]++;
    return counts;
  }

  /**
   * Splits into [train, validation], stratified: each class gives round(n * validationFraction) of its
   * files (seeded random choice) to validation, and keeps at least one for training. Both keep file order.
   */
  split(validationFraction: number, seed = 0): [ImageFolderDataset, ImageFolderDataset] {
    if (!(validationFraction > 0 && validationFraction < 1)) {
      throw new Error(`validation fraction must be between 0 and 1 (exclusive); got ${validationFraction}`);
    }
    const random = seededRandom(seed);
    const toValidation = new Set<LabelledFile>();
    this.classNames.forEach((_, label) => {
      const members = this.files.filter((f) => f.label === label);
      const n = Math.min(Math.round(members.length * validationFraction), members.length - 1);
      for (const f of shuffleInPlace(members, random).slice(0, n)) toValidation.add(f);
    });
    if (toValidation.size === 0) {
      throw new Error(
        `${this.dir}: a validation fraction of ${validationFraction} leaves no validation images (${this.size} images)`,
      );
    }
    const train = this.files.filter((f) => !toValidation.has(f));
    const val = this.files.filter((f) => toValidation.has(f));
    return [
      new ImageFolderDataset(this.dir, this.classNames, train),
      new ImageFolderDataset(this.dir, this.classNames, val),
    ];
  }
}
