import { Conv2DBackpropInput, type Conv2DBackpropInputAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { convWindow } from '../window';

export const conv2DBackpropInputConfig = nativeKernel(
  Conv2DBackpropInput,
  ({ inputs: { dy, filter }, backend, attrs }) => {
    const convAttrs = attrs as unknown as Conv2DBackpropInputAttrs;
    const { info, window } = convWindow(convAttrs.inputShape, filter.shape, convAttrs);
    const dys = backend.float32(dy);
    const ws = backend.float32(filter);
    if (!window || !dys || !ws) return null;
    const dx = backend.allocate(info.inShape);
    backend.native.conv2dBackpropInput(dys, ws, dx, window, backend.tensorId(filter));
    return backend.output(info.inShape, dx);
  },
);
