// Image folders for the training tests: three classes of clearly different colours, real PNG/JPEG files.
import * as path from 'node:path';
import { noise, writeImage } from './data_fixtures';

export const COLOURS: Record<string, number[]> = {
  blue: [30, 60, 220],
  green: [40, 200, 60],
  red: [220, 40, 40],
};

/**
 * Writes DIR/<colour>/<i>.png|jpg for each colour: the colour with a brightness that varies per image and
 * some texture, sizes varying around 32x32 so decoding resizes.
 */
export async function colourFolder(dir: string, perClass: number, seed = 0): Promise<string> {
  const jobs: Promise<string>[] = [];
  for (const [name, rgb] of Object.entries(COLOURS)) {
    for (let i = 0; i < perClass; i++) {
      const k = 0.7 + (0.3 * (((i + seed) * 37) % 11)) / 10;
      const size = 28 + ((i * 5 + seed) % 12);
      const format = i % 2 ? 'jpeg' : 'png';
      jobs.push(
        writeImage(
          path.join(dir, name, `${String(i).padStart(3, '0')}.${format === 'png' ? 'png' : 'jpg'}`),
          {
            width: size,
            height: size,
            format,
            pixel: (x, y) =>
              rgb.map((c, j) => Math.min(255, Math.round(c * k + (noise(x + i, y + seed)[j] - 128) / 6))),
          },
        ),
      );
    }
  }
  await Promise.all(jobs);
  return dir;
}
