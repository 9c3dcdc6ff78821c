import sharp from 'sharp';
import { decodeImage, ImageDecodeError } from '../data/decode';
import { declaredSize } from '../data/image_header';
import type { Preprocessing } from '../io/model_folder';
import { FairPool } from './fair_pool';
import { HttpError } from './http_error';
import type { ServeLimits } from './limits';
import type { UploadedImage } from './request_images';

/**
 * Header dimensions of one upload; a file whose header sharp cannot read is a bad image. JPEG and PNG headers
 * are read directly (a sharp metadata() round trip costs most of a millisecond per request).
 */
async function headerSize(img: UploadedImage): Promise<{ width: number; height: number }> {
  const declared = declaredSize(img.bytes);
  if (declared) return declared;
  try {
    const { width, height } = await sharp(img.bytes).metadata();
    if (width && height) return { width, height };
    throw new Error('no width and height in the header');
  } catch (e) {
    throw new HttpError(400, 'bad_image', `${img.name}: not a decodable image (${(e as Error).message})`);
  }
}

/** Images up to this many pixels (or 16 model inputs, if more) decode in the small-image lane. */
const SMALL_IMAGE_PIXELS = 1_000_000;

/**
 * Turns the uploaded images of one request into model inputs within the request's budget: the count and
 * the header-declared pixels are checked before any pixel is decoded, then decodes run in FairPools shared
 * by all requests (bounded concurrency, round-robin between requests). Small images (and header reads)
 * have a lane of their own, so an ordinary upload never waits behind a large one being decoded.
 */
export class ImageDecoder {
  /** Decodes of images over the small-image size. */
  readonly large: FairPool;
  /** Header reads and decodes of small images. */
  readonly small: FairPool;
  private readonly smallPixels: number;

  constructor(
    private readonly preprocessing: Preprocessing,
    private readonly limits: ServeLimits,
    private readonly onDecodeFailure: () => void = () => {},
  ) {
    this.large = new FairPool(limits.decodeConcurrency);
    this.small = new FairPool(limits.decodeConcurrency);
    const [h, w] = preprocessing.inputShape;
    this.smallPixels = Math.max(SMALL_IMAGE_PIXELS, 16 * h * w);
  }

  /** Images waiting for a decode slot. */
  get waiting(): number {
    return this.large.waiting + this.small.waiting;
  }

  /** Decodes (and header reads) running now. */
  get active(): number {
    return this.large.active + this.small.active;
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

  /** Throws 413 when the sizes declared by the headers add up to more than maxPixels. */
  private checkPixels(images: UploadedImage[], sizes: { width: number; height: number }[]): void {
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
    const owner = {};
    try {
      const sizes = await Promise.all(
        images.map((img) => this.small.run(owner, () => headerSize(img))),
      ).catch((e: unknown) => {
        if ((e as HttpError).code === 'bad_image') this.onDecodeFailure();
        throw e;
      });
      this.checkPixels(images, sizes);
      return await Promise.all(
        images.map((img, i) => {
          const pool = sizes[i].width * sizes[i].height <= this.smallPixels ? this.small : this.large;
          return pool.run(owner, () =>
            decodeImage(img.bytes, this.preprocessing, { name: img.name }).catch((e: unknown) => {
              if (!(e instanceof ImageDecodeError)) throw e;
              this.onDecodeFailure();
              throw new HttpError(400, 'bad_image', e.message);
            }),
          );
        }),
      );
    } finally {
      // One bad image fails the request: its other images need not wait for a slot.
      this.small.cancel(owner);
      this.large.cancel(owner);
    }
  }
}
