// The planned inference path: a PlanSpec (src/backend/plan_spec.ts) compiled once into oneDNN primitives,
// reordered weights and one activation arena, then run as one sequence of primitives with no JS between.
// native/plan_build.cc builds a plan; native/plan.cc places its arena, runs it and binds it to JS.
//
// Layout. Every activation lives in one blocked layout from the first convolution to the head: nChw16c on
// AVX-512, nChw8c on AVX2, else nhwc (INCEPTION_PLAN_LAYOUT=nhwc|nChw8c|nChw16c overrides, for measuring).
// On GoogLeNet the direct kernels ran alike in nChw16c (jit) and nhwc (brgconv), but only the blocked layout
// has Winograd kernels and batch-1 in-place concats. int8 plans use nhwc (see Precision).
// The network input is reordered from the caller's NHWC into whatever layout its first convolution prefers;
// flatten reorders to NHWC order (a no-op view when H = W = 1 and the channels fill whole blocks).
//
// Convolutions. Bias and ReLU are fused (post-op). fp32 3x3 stride-1 convolutions run as Winograd where
// oneDNN has the kernel (AVX-512): on GoogLeNet at batch 1 that halved the 3x3 convolutions' time (15.0 ->
// 7.6 ms on one thread), within 1e-6 of the direct result; INCEPTION_PLAN_WINOGRAD=0 turns it off.
// A convolution left with only a reference kernel in the plan's layout (odd channel counts) picks its own.
// At batch 1 in a blocked layout, 1x1 convolutions reading the same tensor that are not concat branches (an
// Inception module's 3x3_reduce and 5x5_reduce) run as one (planMerges): 9 fewer primitives on GoogLeNet,
// the same time on one thread (16.0 vs 15.8 ms); INCEPTION_PLAN_MERGE=0 turns it off.
//
// Concat. A branch's producer (convolution or pooling) first tries to write into its channel slice of the
// concat's buffer as a oneDNN sub-memory; oneDNN 2.6 offers only reference kernels for such strided
// outputs, so what works is the batch-1 case: a blocked concat whose inputs are whole blocks is the
// branches' buffers laid end to end, each a dense tensor at a byte offset, and the concat costs nothing.
// Otherwise the branches get their own buffers and a oneDNN concat primitive copies them.
//
// Arena. Every intermediate tensor gets a byte range in one arena; two tensors share bytes when their live
// ranges (from the step that writes them to the last step that reads them) do not overlap. Primitive
// scratchpads share one buffer. planRun allocates nothing.
//
// Precision.
//  - fp32: everything f32.
//  - bf16 (AVX512_BF16 or AMX): activations and weights bf16 (convolution, pooling, LRN, concat, dense input),
//    biases f32; dense layers write f32, and softmax, affine and the output are f32.
//  - int8 (post-training static quantization; the `quantize` command exports the same scheme as ONNX QDQ):
//    real = q * scale with zero point 0 everywhere. An activation tensor t with calibrated range [min, max]
//    (spec.ranges[t]) is u8 with scale max/255 when min >= 0 (after a ReLU), else s8 with scale
//    max(|min|, |max|)/127 (the network input, for one); a range of zeros gets scale 1. Convolution weights
//    are s8 per output channel, symmetric: scale_c = max|w_c|/127 (/63 on CPUs without VNNI, whose int8
//    kernels saturate 8-bit weights), values rounded half to even. A
//    convolution accumulates in int32, adds the bias in the accumulator's units (round(bias_c / (src_scale *
//    weight_scale_c)), as the QDQ export's int32 bias) and rescales by src_scale * weight_scale_c / dst_scale
//    into its output's int8 type. Pooling runs on the int8 values at its input's scale; a concat's branches
//    are quantized to the concat output's scale (a convolution branch writes at that scale directly); LRN,
//    affine, flatten, dense and softmax run in f32 on dequantized values. Activations are nhwc: oneDNN's int8
//    convolutions are nhwc kernels (blocked int8 got the reference one). A tensor that must be quantized and
//    has no range is an error naming its node.
//
// Calibration (fp32, spec.calibrate): after each node, the running [min, max] of its output is updated;
// planStats returns them per tensor.
#pragma once

#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "dnnl_common.h"

namespace inception {
namespace plan {

using dnnl::algorithm;
using dnnl::prop_kind;
using DT = memory::data_type;

struct PlanError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/** A byte range of the arena (storage + offset) seen through a memory descriptor. */
struct Buf {
  int storage = -1;
  size_t offset = 0;
  memory::desc desc;
};

/** A run of the arena that one or more tensors occupy, with the steps during which it holds live data. */
struct Storage {
  size_t bytes = 0;
  int first = std::numeric_limits<int>::max(), last = -1;
  size_t arenaOffset = 0;
};

struct StepArg {
  int id;
  enum Kind { Arena, Owned } kind;
  Buf buf;
  memory owned;
};

struct Step {
  dnnl::primitive primitive;
  bool hasPrimitive = false;
  std::vector<StepArg> args;
  Args bound;  // args with memories made after the arena is allocated
  /** Zeroed before the primitive runs (a pad node's destination). */
  Buf zero;
  /** calibrate: the tensor whose running range is updated after this step (-1: none). */
  int statsTensor = -1;
  std::string impl;
};

struct Tensor {
  std::vector<int64_t> shape;  // [H, W, C] or [F], without the batch
  Buf buf;
  bool placed = false;
  float scale = 1.f;  // int8: real = q * scale
  /** Converted copies (another layout, type or scale) made for consumers, shared between them. */
  std::vector<std::pair<Buf, float>> copies;
  /** In-place concat: this tensor is written into concat tensor `concatInto` at channel `concatChannel`. */
  int concatInto = -1;
  int64_t concatChannel = 0;
  /** calibrate: reorder into plain f32 for the min/max pass. */
  dnnl::reorder statsReorder;
  memory statsSrc, statsDst;
};

struct Plan {
  int64_t batch = 0;
  std::vector<int64_t> inputShape, outputShape;
  std::string precision, layout;
  std::vector<Storage> storages;
  std::vector<Tensor> tensors;
  std::vector<Step> steps;
  int output = 0;
  size_t arenaBytes = 0, scratchBytes = 0;
  std::unique_ptr<char, void (*)(void *)> arena{nullptr, std::free};
  std::unique_ptr<char, void (*)(void *)> scratch{nullptr, std::free};
  std::unique_ptr<char, void (*)(void *)> statsBuffer{nullptr, std::free};
  memory userInput, userOutput;
  dnnl::stream stream{cpuEngine()};
  bool calibrate = false;
  int64_t runs = 0;
  std::vector<float> stats;  // [min, max] per tensor
  int64_t ownedBytes = 0;    // reported to V8 as external memory
};


/** Reads `spec` (a PlanSpec) and fills `plan` with its steps, storages and weights (the arena comes later). */
void buildPlan(const Napi::Object &spec, Plan &plan);

inline std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); i++) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

inline int64_t product(const std::vector<int64_t> &v) {
  int64_t p = 1;
  for (int64_t d : v) p *= d;
  return p;
}

/** f32 NHWC [batch, H, W, C] (or [batch, F]): how the caller's arrays and the calibration copies hold a tensor. */
inline memory::desc plainDesc(const std::vector<int64_t> &shape, int64_t batch) {
  if (shape.size() == 3) return memory::desc({batch, shape[2], shape[0], shape[1]}, DT::f32, Tag::nhwc);
  return memory::desc({batch, shape[0]}, DT::f32, Tag::nc);
}

}  // namespace plan
}  // namespace inception
