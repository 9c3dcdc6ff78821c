import { type Conv2DAttrs, Conv2D as name } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { convWindow } from '../window';

export const conv2DConfig = nativeKernel(name, ({ inputs: { x, filter }, backend, attrs }) => {
  const { info, window } = convWindow(x.shape, filter.shape, attrs as unknown as Conv2DAttrs);
  const xs = backend.float32(x);
  const ws = backend.float32(filter);
  if (!window || !xs || !ws) return null;
  const out = backend.allocate(info.outShape);
  backend.native.conv2d(xs, ws, null, out, window, backend.tensorId(filter), false);
  return backend.output(info.outShape, out);
});
