import sharp from 'sharp';
import { decodeImage, ImageDecodeError } from '../data/decode';
import type { Preprocessing } from '../io/model_folder';
import { FairPool } from './fair_pool';
import { HttpError } from './http_error';
import type { ServeLimits } from './limits';
import type { UploadedImage } from './request_images';

/** Header dimensions of one upload; a file whose header sharp cannot read is a bad image. */
async function headerSize(img: UploadedImage): Promise<{ width: number; height: number }> {
  try {
    const { width, height } = await sharp(img.bytes).metadata();
    if (width && height) return { width, height };
    throw new Error('no width and height in the header');
  } catch (e) {
    throw new HttpError(400, 'bad_image', `${img.name}: not a decodable image (${(e as Error).message})`);
  }
}

/**
 * Turns the uploaded images of one request into model inputs within the request's budget: the count and
 * the header-declared pixels are checked before any pixel is decoded, then decodes run in a FairPool shared
 * by all requests (bounded concurrency, round-robin between requests).
 */
export class ImageDecoder {
  readonly pool: FairPool;

  constructor(
    private readonly preprocessing: Preprocessing,
    private readonly limits: ServeLimits,
    private readonly onDecodeFailure: () => void = () => {},
  ) {
    this.pool = new FairPool(limits.decodeConcurrency);
  }

  /** Throws 413 when a request holds more than maxImages images. */
  checkCount(count: number): void {
    if (count > this.limits.maxImages)
      throw new HttpError(
        413,
        'too_many_images',
        `request holds ${count} images, over the limit of ${this.limits.maxImages} per request (--max-images)`,
      );
  }

  /** Throws 413 when the images' headers declare more than maxPixels pixels in all. */
  async checkPixels(images: UploadedImage[]): Promise<void> {
    const sizes = await Promise.all(images.map(headerSize));
    let total = 0;
    let largest = 0;
    sizes.forEach(({ width, height }, i) => {
      total += width * height;
      if (width * height > sizes[largest].width * sizes[largest].height) largest = i;
    });
    if (total > this.limits.maxPixels) {
      const big = sizes[largest];
      throw new HttpError(
        413,
        'too_many_pixels',
        `request's images hold ${total} pixels (largest: ${images[largest].name}, ${big.width}x${big.height}), over the limit of ${this.limits.maxPixels} pixels per request (--max-megapixels)`,
      );
    }
  }

  /** Checks the budget, then decodes every image (in order) to normalised HWC floats. */
  async decode(images: UploadedImage[]): Promise<Float32Array[]> {
    this.checkCount(images.length);
    try {
      await this.checkPixels(images);
    } catch (e) {
      if ((e as HttpError).code === 'bad_image') this.onDecodeFailure();
      throw e;
    }
    const owner = {};
    try {
      return await Promise.all(
        images.map((img) =>
          this.pool.run(owner, () =>
            decodeImage(img.bytes, this.preprocessing, { name: img.name }).catch((e: unknown) => {
              if (!(e instanceof ImageDecodeError)) throw e;
              this.onDecodeFailure();
              throw new HttpError(400, 'bad_image', e.message);
            }),
          ),
        ),
      );
    } finally {
      // One bad image fails the request: its other images need not wait for a slot.
      this.pool.cancel(owner);
    }
  }
}
