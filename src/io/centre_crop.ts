// The resize-then-centre-crop arithmetic of preprocessing's cropFraction, shared by the server's decoder
// (src/data/decode.ts) and the browser page (web/preprocess.ts): plain math, no Node imports.
import type { Preprocessing } from './model_folder';

/**
 * [height, width] an image is resized to before the centre crop to inputShape: inputShape / cropFraction,
 * rounded (inputShape itself without a cropFraction).
 */
export function resizedSize(prep: Pick<Preprocessing, 'inputShape' | 'cropFraction'>): [number, number] {
  const [h, w] = prep.inputShape;
  const f = prep.cropFraction ?? 1;
  return [Math.max(h, Math.round(h / f)), Math.max(w, Math.round(w / f))];
}

/** Python's round(): halves go to the even neighbour (torchvision's center_crop offsets round so). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * How an image of srcWidth x srcHeight (after EXIF orientation) reaches inputShape when prep has a
 * cropFraction, as torchvision's Resize + CenterCrop do it: `cover` scales so the binding side becomes
 * exactly resizedSize's and truncates the other (`int(size * long / short)`), `fill` stretches to
 * resizedSize; then the centre inputShape is cut at offsets rounded half to even.
 */
export function centreCropPlan(
  prep: Pick<Preprocessing, 'inputShape' | 'resize' | 'cropFraction'>,
  srcWidth: number,
  srcHeight: number,
): { width: number; height: number; left: number; top: number } {
  const [h, w] = prep.inputShape;
  const [rh, rw] = resizedSize(prep);
  let [width, height] = [rw, rh];
  if (prep.resize === 'cover') {
    if (rw / srcWidth >= rh / srcHeight) height = Math.max(rh, Math.floor((rw * srcHeight) / srcWidth));
    else width = Math.max(rw, Math.floor((rh * srcWidth) / srcHeight));
  }
  return { width, height, left: roundHalfEven((width - w) / 2), top: roundHalfEven((height - h) / 2) };
}
