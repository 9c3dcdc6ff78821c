import { backend_util } from '@tensorflow/tfjs';

/**
 * Packs tfjs's convolution/pooling geometry (NHWC) in the order native/dnnl_common.h's Window2D reads it,
 * or returns null when oneDNN cannot express it (NCHW, or padding inconsistent with the output size, as
 * explicit pads with ceil rounding can be); the kernel then falls back to the cpu implementation.
 */
export function windowGeometry(info: backend_util.Conv2DInfo): Int32Array | null {
  if (info.dataFormat !== 'channelsLast') return null;
  const { top, left, bottom, right } = info.padInfo;
  const fits = (inSize: number, pads: number, kernel: number, stride: number, outSize: number) =>
    Math.floor((inSize + pads - kernel) / stride) + 1 === outSize;
  if (
    !fits(info.inHeight, top + bottom, info.effectiveFilterHeight, info.strideHeight, info.outHeight) ||
    !fits(info.inWidth, left + right, info.effectiveFilterWidth, info.strideWidth, info.outWidth)
  ) {
    return null;
  }
  return Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    top,
    left,
    bottom,
    right,
  );
}

type Shape4 = [number, number, number, number];

/** The attributes every tfjs convolution kernel shares. */
export interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** tfjs's own convolution geometry for these shapes and attributes, and its packed form (null: fall back). */
export function convWindow(
  inShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
): { info: backend_util.Conv2DInfo; window: Int32Array | null } {
  const info = backend_util.computeConv2DInfo(
    inShape as Shape4,
    filterShape as Shape4,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(attrs.dataFormat ?? 'NHWC'),
  );
  return { info, window: windowGeometry(info) };
}

/** The attributes every tfjs 2-D pooling kernel shares. */
export interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** tfjs's own pooling geometry (NHWC) and its packed form (null: fall back). */
export function poolWindow(
  inShape: number[],
  attrs: PoolAttrs,
): { info: backend_util.Conv2DInfo; window: Int32Array | null } {
  const info = backend_util.computePool2DInfo(
    inShape as Shape4,
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return { info, window: windowGeometry(info) };
}
