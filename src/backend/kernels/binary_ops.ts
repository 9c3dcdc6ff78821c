import { Add, Multiply, RealDiv, Sub } from '@tensorflow/tfjs';
import { broadcastGeometry } from '../broadcast';
import { nativeKernel } from '../native_kernel';

/** The op codes of native/eltwise.cc's `binary`. */
const OPS = { [Add]: 0, [Sub]: 1, [Multiply]: 2, [RealDiv]: 3 } as const;
/** Copies `a` broadcast to the output shape (used by Tile). */
export const FIRST = 4;
/** `a` where `b` > 0, else 0: the gradient `a` through a ReLU whose output is `b`. */
export const RELU_MASK = 5;

/** float32 `a op b` with tfjs's broadcasting, in one native pass; other dtypes run the cpu kernel. */
function binaryKernel(kernelName: keyof typeof OPS) {
  return nativeKernel(kernelName, ({ inputs: { a, b }, backend }) => {
    const as = backend.float32(a);
    const bs = backend.float32(b);
    if (!as || !bs) return null;
    const { outShape, shape, aStrides, bStrides } = broadcastGeometry(a.shape, b.shape);
    const out = backend.allocate(outShape);
    backend.native.binary(OPS[kernelName], as, bs, out, shape, aStrides, bStrides);
    return backend.output(outShape, out);
  });
}

export const addConfig = binaryKernel(Add);
export const subConfig = binaryKernel(Sub);
export const multiplyConfig = binaryKernel(Multiply);
export const realDivConfig = binaryKernel(RealDiv);
