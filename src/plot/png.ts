import type * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { plotModelSvg } from './svg';

/** The architecture diagram rasterised to PNG (librsvg through sharp), at `density` DPI (72 = 1 px per unit). */
export async function plotModelPng(model: tf.LayersModel, density = 96): Promise<Buffer> {
  return sharp(Buffer.from(plotModelSvg(model)), { density, limitInputPixels: false })
    .png()
    .toBuffer();
}
