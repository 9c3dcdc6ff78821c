import * as tf from '@tensorflow/tfjs';
import { centreCropPlan } from '../src/io/centre_crop';
import type { Preprocessing } from '../src/io/model_folder';

/** preprocessing.json of the model folder (the type only: the page bundles no Node code). */
export type { Preprocessing };

/**
 * The server's preprocessing in the browser: decode (EXIF orientation applied by createImageBitmap), resize
 * to inputShape on a canvas (`fill` stretches; `cover` scales the short side and crops the centre; a
 * cropFraction resizes to inputShape / cropFraction and keeps the centre inputShape), drop alpha, then
 * (pixel/255 - mean) / std per channel. The canvas resamples with the browser's filter where the server uses libvips' bilinear reduce (and JPEG shrink-on-load), so resized pixels differ by a few
 * levels (measured mean |diff| 2-3 of 255 for `fill`; `cover` crops can also sit up to half an output
 * pixel apart); images already at the input size are not resampled and agree up to JPEG decoder rounding.
 */
export async function imageToInput(blob: Blob, prep: Preprocessing): Promise<tf.Tensor4D> {
  const [h, w, c] = prep.inputShape;
  const bitmap = await createImageBitmap(blob);
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  let [sx, sy, sw, sh] = [0, 0, bitmap.width, bitmap.height];
  if ((prep.cropFraction ?? 1) !== 1) {
    // The server's arithmetic (torchvision's Resize + CenterCrop), mapped back onto the source image.
    const plan = centreCropPlan(prep, bitmap.width, bitmap.height);
    const [scaleX, scaleY] = [plan.width / bitmap.width, plan.height / bitmap.height];
    [sx, sy, sw, sh] = [plan.left / scaleX, plan.top / scaleY, w / scaleX, h / scaleY];
  } else if (prep.resize === 'cover') {
    const scale = Math.max(w / bitmap.width, h / bitmap.height);
    sw = w / scale;
    sh = h / scale;
    sx = (bitmap.width - sw) / 2;
    sy = (bitmap.height - sh) / 2;
  }
  ctx.drawImage(bitmap, sx, sy, sw, sh, 0, 0, w, h);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const out = new Float32Array(h * w * c);
  for (let i = 0, j = 0; i < rgba.length; i += 4) {
    if (c === 3) {
      for (let k = 0; k < 3; k++, j++) out[j] = (rgba[i + k] / 255 - prep.mean[k]) / prep.std[k];
    } else {
      // Rec. 709 luminance of sRGB values, close to (not bit-exact with) libvips' b-w conversion.
      const y = 0.2126 * rgba[i] + 0.7152 * rgba[i + 1] + 0.0722 * rgba[i + 2];
      out[j++] = (y / 255 - prep.mean[0]) / prep.std[0];
    }
  }
  return tf.tensor4d(out, [1, h, w, c]);
}
