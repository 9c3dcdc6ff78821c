import { Conv2DBackpropFilter, type Conv2DBackpropFilterAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { convWindow } from '../window';

export const conv2DBackpropFilterConfig = nativeKernel(
  Conv2DBackpropFilter,
  ({ inputs: { x, dy }, backend, attrs }) => {
    const convAttrs = attrs as unknown as Conv2DBackpropFilterAttrs;
    const { info, window } = convWindow(x.shape, convAttrs.filterShape, convAttrs);
    const xs = backend.float32(x);
    const dys = backend.float32(dy);
    if (!window || !xs || !dys) return null;
    const dw = backend.allocate(info.filterShape);
    backend.native.conv2dBackpropFilter(xs, dys, dw, window);
    return backend.output(info.filterShape, dw);
  },
);
