import * as tf from '@tensorflow/tfjs';

/** preprocessing.json of the model folder (see src/io/model_folder.ts). */
export interface Preprocessing {
  inputShape: [number, number, number];
  mean: number[];
  std: number[];
  resize: 'fill' | 'cover';
  /** Centre crop's share of the resized image, in (0, 1]; absent: 1 (see src/io/model_folder.ts). */
  cropFraction?: number;
}

/**
 * The server's preprocessing in the browser: decode (EXIF orientation applied by createImageBitmap), resize
 * to inputShape on a canvas (`fill` stretches; `cover` scales the short side and crops the centre; a
 * cropFraction resizes to inputShape / cropFraction and keeps the centre inputShape), drop alpha, then (pixel/255 - mean) / std per channel. The canvas resamples with the browser's filter where
 * the server uses libvips' bilinear reduce (and JPEG shrink-on-load), so resized pixels differ by a few
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
  // The resized image's size, then the source rectangle that lands on the centre w x h of it.
  const crop = prep.cropFraction ?? 1;
  const [rw, rh] = [Math.max(w, Math.round(w / crop)), Math.max(h, Math.round(h / crop))];
  let [scaleX, scaleY] = [rw / bitmap.width, rh / bitmap.height];
  if (prep.resize === 'cover') scaleX = scaleY = Math.max(scaleX, scaleY);
  const [sw, sh] = [w / scaleX, h / scaleY];
  ctx.drawImage(bitmap, (bitmap.width - sw) / 2, (bitmap.height - sh) / 2, sw, sh, 0, 0, w, h);
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
