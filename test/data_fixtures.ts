// Real image files for the data tests, written with sharp into temporary folders.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';

export async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'inception-data-'));
}

export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

export interface ImageSpec {
  width: number;
  height: number;
  /** 1 (grayscale), 2 (grayscale + alpha), 3 (RGB) or 4 (RGBA) values of the pixel at (x, y). */
  pixel: (x: number, y: number) => number[];
  format: 'jpeg' | 'png';
}

/** Writes a real JPEG or PNG whose pixels come from spec.pixel; returns the path. */
export async function writeImage(file: string, spec: ImageSpec): Promise<string> {
  const channels = spec.pixel(0, 0).length as 1 | 2 | 3 | 4;
  const raw = Buffer.alloc(spec.width * spec.height * channels);
  for (let y = 0; y < spec.height; y++) {
    for (let x = 0; x < spec.width; x++) raw.set(spec.pixel(x, y), (y * spec.width + x) * channels);
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  let image = sharp(raw, { raw: { width: spec.width, height: spec.height, channels } });
  if (channels <= 2) image = image.toColourspace('b-w'); // else sharp writes grayscale as RGB
  await (spec.format === 'png' ? image.png() : image.jpeg({ quality: 95 })).toFile(file);
  return file;
}

/** A one-colour image. */
export function writeSolid(
  file: string,
  colour: number[],
  width = 8,
  height = 8,
  format: 'jpeg' | 'png' = 'png',
): Promise<string> {
  return writeImage(file, { width, height, pixel: () => colour, format });
}

/** Deterministic noise, so PNGs are big enough to truncate meaningfully. */
export function noise(x: number, y: number): number[] {
  const v = (x * 73 + y * 151 + x * y * 7) % 256;
  return [v, (v * 3) % 256, (v * 7) % 256];
}
