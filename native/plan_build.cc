// Building a plan: reads the PlanSpec node by node, checks each node's shape, creates its oneDNN primitive
// (choosing layouts, in-place concat slices, merged 1x1 convolutions, Winograd, int8 scales) and records
// which arena storage each step reads and writes. See plan.h for the design.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

#include "plan.h"

namespace inception {
namespace plan {
namespace {

// ---- Reading the spec.

Napi::Value field(const Napi::Object &object, const char *key, const std::string &where) {
  if (!object.Has(key)) throw PlanError(where + ": missing '" + key + "'");
  return object.Get(key);
}

std::vector<int64_t> intsField(const Napi::Object &object, const char *key, const std::string &where,
                               size_t count) {
  Napi::Value value = field(object, key, where);
  if (!value.IsArray()) throw PlanError(where + ": '" + key + "' must be an array of numbers");
  auto array = value.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber()) throw PlanError(where + ": '" + key + "' must be an array of numbers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d)) throw PlanError(where + ": '" + key + "' must hold integers");
    out.push_back(static_cast<int64_t>(d));
  }
  if (count && out.size() != count) {
    throw PlanError(where + ": '" + key + "' must have " + std::to_string(count) + " entries");
  }
  return out;
}

int64_t intField(const Napi::Object &object, const char *key, const std::string &where) {
  Napi::Value value = field(object, key, where);
  if (!value.IsNumber()) throw PlanError(where + ": '" + key + "' must be a number");
  return value.As<Napi::Number>().Int64Value();
}

double numberField(const Napi::Object &object, const char *key, const std::string &where) {
  Napi::Value value = field(object, key, where);
  if (!value.IsNumber()) throw PlanError(where + ": '" + key + "' must be a number");
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw PlanError(where + ": '" + key + "' is not finite");
  return d;
}

std::string stringField(const Napi::Object &object, const char *key, const std::string &where) {
  Napi::Value value = field(object, key, where);
  if (!value.IsString()) throw PlanError(where + ": '" + key + "' must be a string");
  return value.As<Napi::String>().Utf8Value();
}

bool boolField(const Napi::Object &object, const char *key) {
  return object.Has(key) && object.Get(key).ToBoolean().Value();
}

/** A Float32Array field with `expected` values (null allowed when `nullable`; then returns an empty span). */
F32Array floatsField(const Napi::Object &object, const char *key, const std::string &where, int64_t expected,
                     bool nullable, const char *label) {
  Napi::Value value = object.Has(key) ? object.Get(key) : object.Env().Null();
  if (nullable && (value.IsNull() || value.IsUndefined())) return {nullptr, 0};
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw PlanError(where + ": " + label + " must be a Float32Array");
  }
  auto array = value.As<Napi::Float32Array>();
  if (static_cast<int64_t>(array.ElementLength()) != expected) {
    throw PlanError(where + ": " + label + " has " + std::to_string(array.ElementLength()) + " values, expected " +
                    std::to_string(expected));
  }
  for (size_t i = 0; i < array.ElementLength(); i++) {
    if (!std::isfinite(array[i])) throw PlanError(where + ": " + label + " holds a non-finite value");
  }
  return {array.Data(), array.ElementLength()};
}

/** The output extent of a window of `k` taps (dilated to `span`) sliding with `stride` over padded `in`. */
int64_t windowOut(int64_t in, int64_t span, int64_t stride, int64_t padBefore, int64_t padAfter) {
  const int64_t room = in + padBefore + padAfter - span;
  return room < 0 ? 0 : room / stride + 1;
}

Tag layoutTag(const std::string &layout) {
  if (layout == "nChw16c") return Tag::nChw16c;
  if (layout == "nChw8c") return Tag::nChw8c;
  return Tag::nhwc;
}

int64_t layoutBlock(const std::string &layout) {
  if (layout == "nChw16c") return 16;
  if (layout == "nChw8c") return 8;
  return 1;
}

bool hasIsa(dnnl_cpu_isa_t want) {
  const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  return (isa & static_cast<unsigned>(want)) == static_cast<unsigned>(want);
}

/**
 * The largest int8 weight magnitude. Without VNNI, oneDNN's int8 kernels add pairs of u8 x s8 products in
 * int16 (vpmaddubsw), which saturates with 8-bit weights (255 * 127 * 2 > 32767): there weights get 7 bits,
 * as oneDNN's int8 notes advise (on AVX2 the plan's error against fp32 went from 16% to within bounds).
 */
double int8WeightLevels() {
  return hasIsa(dnnl_cpu_isa_avx512_core_vnni) || hasIsa(dnnl_cpu_isa_avx2_vnni) ? 127.0 : 63.0;
}

std::string chooseLayout(bool int8) {
  if (const char *forced = std::getenv("INCEPTION_PLAN_LAYOUT")) {
    const std::string layout(forced);
    if (layout == "nhwc" || layout == "nChw8c" || layout == "nChw16c") return layout;
    throw PlanError("planCreate: INCEPTION_PLAN_LAYOUT must be nhwc, nChw8c or nChw16c, not '" + layout + "'");
  }
  // oneDNN's int8 convolutions (jit and brgemm) are written for nhwc; blocked int8 gets the reference one.
  if (int8) return "nhwc";
  if (hasIsa(dnnl_cpu_isa_avx512_core)) return "nChw16c";
  if (hasIsa(dnnl_cpu_isa_avx2)) return "nChw8c";
  return "nhwc";
}

template <class PD>
bool isReference(const PD &pd) {
  return std::string(pd.impl_info_str()).find("ref") != std::string::npos;
}


// ---- Building.

class Builder {
 public:
  Builder(const Napi::Object &spec, Plan &plan) : spec_(spec), plan_(plan) {}

  void build();

 private:
  const Napi::Object &spec_;
  Plan &plan_;
  std::string where_;  // "planCreate: node i ('name', op)"
  Tag tag_ = Tag::nhwc;
  int64_t block_ = 1;
  DT act_ = DT::f32;  // the activation type of fp32 / bf16 plans
  bool int8_ = false;
  bool winograd_ = false;
  std::vector<std::pair<double, double>> ranges_;
  std::vector<bool> hasRange_;
  std::vector<int> concatStorage_;  // per in-place concat tensor, the storage its producers write into
  std::vector<DT> concatType_;
  /** 1x1 convolutions merged into one (see planMerges): per tensor its group's members, leader first. */
  std::vector<std::vector<int>> mergedWith_;
  Napi::Array nodes_;

  /** The network input in the plan's layout, unless a convolution placed it first. */
  void placeInput() {
    Tensor &in = plan_.tensors[0];
    if (in.placed) return;
    DT dt = act_;
    float scale = 1.f;
    if (int8_) std::tie(dt, scale) = quantOf(0, "the network input");
    in.buf = newBuf(actDesc(plan_.inputShape, dt));
    in.scale = scale;
    in.placed = true;
  }

  [[noreturn]] void fail(const std::string &message) const { throw PlanError(where_ + ": " + message); }

  int newStorage(size_t bytes) {
    plan_.storages.push_back({bytes});
    return static_cast<int>(plan_.storages.size()) - 1;
  }

  Buf newBuf(const memory::desc &desc) { return {newStorage(desc.get_size()), 0, desc}; }

  int nextStep() const { return static_cast<int>(plan_.steps.size()); }

  void touch(const Buf &buf, int step) {
    Storage &s = plan_.storages[buf.storage];
    s.first = std::min(s.first, step);
    s.last = std::max(s.last, step);
  }

  memory::desc actDesc(const std::vector<int64_t> &shape, DT dt, Tag tag) const {
    if (shape.size() == 3) return memory::desc({plan_.batch, shape[2], shape[0], shape[1]}, dt, tag);
    return memory::desc({plan_.batch, shape[0]}, dt, Tag::nc);
  }
  memory::desc actDesc(const std::vector<int64_t> &shape, DT dt) const { return actDesc(shape, dt, tag_); }

  /** int8: the type and scale the calibrated range of tensor t gives it. */
  std::pair<DT, float> quantOf(int t, const std::string &role) const {
    if (t >= static_cast<int>(hasRange_.size()) || !hasRange_[t]) {
      fail("tensor " + std::to_string(t) + " (" + role + ") needs a calibrated range in spec.ranges");
    }
    const auto [lo, hi] = ranges_[t];
    if (lo >= 0) return {DT::u8, hi > 0 ? static_cast<float>(hi / 255.0) : 1.f};
    const double m = std::max(std::fabs(lo), std::fabs(hi));
    return {DT::s8, m > 0 ? static_cast<float>(m / 127.0) : 1.f};
  }

  /** Adds a step; `reads` and `writes` extend the live ranges of the storages they name. */
  void addStep(Step step, const std::vector<Buf> &reads, const std::vector<Buf> &writes) {
    const int at = nextStep();
    for (const Buf &b : reads) touch(b, at);
    for (const Buf &b : writes) touch(b, at);
    plan_.steps.push_back(std::move(step));
  }

  dnnl::primitive_attr scratchAttr() const {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
  }

  template <class PD>
  void noteScratch(const PD &pd) {
    plan_.scratchBytes = std::max(plan_.scratchBytes, pd.scratchpad_desc().get_size());
  }

  static StepArg arena(int id, const Buf &buf) { return {id, StepArg::Arena, buf, memory()}; }
  static StepArg owned(int id, const memory &m) { return {id, StepArg::Owned, Buf(), m}; }

  /** A copy of memory `desc` filled from host floats laid out as `userDesc` (reordered now). */
  memory ownedCopy(const memory::desc &want, const memory::desc &userDesc, void *data,
                   const dnnl::primitive_attr &attr = dnnl::primitive_attr()) {
    memory user(userDesc, cpuEngine(), data);
    memory out(want, cpuEngine());
    dnnl::reorder::primitive_desc pd(cpuEngine(), userDesc, cpuEngine(), want, attr);
    dnnl::reorder(pd).execute(plan_.stream, user, out);
    plan_.stream.wait();
    plan_.ownedBytes += static_cast<int64_t>(want.get_size());
    return out;
  }

  /**
   * Tensor t as a consumer wants it (layout `want`, and for int8 values at `scale`): the tensor itself when it
   * already is, else a reordered copy made once, right before its first such consumer.
   */
  Buf need(int t, const memory::desc &want, float scale) {
    Tensor &tensor = plan_.tensors[t];
    if (tensor.buf.desc == want && tensor.scale == scale) return tensor.buf;
    for (auto &[buf, s] : tensor.copies) {
      if (buf.desc == want && s == scale) return buf;
    }
    Buf copy = newBuf(want);
    addReorder(tensor.buf, tensor.scale, copy, scale);
    tensor.copies.emplace_back(copy, scale);
    return copy;
  }

  void addReorder(const Buf &from, float fromScale, const Buf &to, float toScale) {
    dnnl::primitive_attr attr = scratchAttr();
    if (fromScale != toScale) attr.set_output_scales(0, {fromScale / toScale});
    dnnl::reorder::primitive_desc pd(cpuEngine(), from.desc, cpuEngine(), to.desc, attr);
    noteScratch(pd);
    Step step;
    step.primitive = dnnl::reorder(pd);
    step.hasPrimitive = true;
    step.impl = pd.impl_info_str();
    step.args = {arena(DNNL_ARG_FROM, from), arena(DNNL_ARG_TO, to)};
    addStep(std::move(step), {from}, {to});
  }

  /** The buffer node output t is written to when it cannot go into a concat: a new one. */
  Buf outputBuf(int t, const memory::desc &desc) {
    plan_.tensors[t].concatInto = -1;
    return newBuf(desc);
  }

  /**
   * The primitive producing tensor t and where it writes. A branch of an in-place concat writes into its
   * channel slice of the concat's buffer (a sub-memory of it; at batch 1 in a blocked layout also a dense
   * tensor at a byte offset), unless oneDNN has only a reference implementation for that, or none: then it
   * gets a buffer of its own and the concat copies it. `make(dstDesc)` builds the primitive descriptor.
   */
  template <class PD, class Make>
  std::pair<PD, Buf> placeOutput(int t, const memory::desc &dense, Make make) {
    Tensor &tensor = plan_.tensors[t];
    if (tensor.concatInto >= 0) {
      const int c = tensor.concatInto;
      const std::vector<int64_t> &whole = plan_.tensors[c].shape;
      const DT dt = dense.data_type();
      if (concatType_[c] == DT::undef || concatType_[c] == dt) {
        if (concatStorage_[c] < 0) {
          concatStorage_[c] = newStorage(actDesc(whole, dt).get_size());
          concatType_[c] = dt;
        }
        std::vector<Buf> candidates;
        const memory::desc all = actDesc(whole, dt);
        candidates.push_back({concatStorage_[c], 0,
                              all.submemory_desc({plan_.batch, tensor.shape[2], whole[0], whole[1]},
                                                 {0, tensor.concatChannel, 0, 0})});
        if (plan_.batch == 1 && block_ > 1) {
          const size_t offset = static_cast<size_t>(tensor.concatChannel * whole[0] * whole[1]) *
                                memory::data_type_size(dt);
          candidates.push_back({concatStorage_[c], offset, dense});
        }
        for (const Buf &candidate : candidates) {
          try {
            PD pd = make(candidate.desc);
            if (!isReference(pd) && pd.dst_desc() == candidate.desc) {
              return {pd, candidate};
            }
          } catch (const dnnl::error &) {
            // no implementation writes there: try the next candidate
          }
        }
      }
    }
    PD pd = make(dense);
    return {pd, outputBuf(t, pd.dst_desc())};
  }

  void setOutput(int t, const Buf &buf, float scale) {
    Tensor &tensor = plan_.tensors[t];
    tensor.buf = buf;
    tensor.scale = scale;
    tensor.placed = true;
  }

  void planConcatsInPlace(const Napi::Array &nodes);
  void planMerges(const Napi::Array &nodes);
  void conv(const Napi::Object &node, int t);
  void pool(const Napi::Object &node, int t);
  void pad(const Napi::Object &node, int t);
  void lrn(const Napi::Object &node, int t);
  void concat(const Napi::Object &node, int t);
  void affine(const Napi::Object &node, int t);
  void flatten(const Napi::Object &node, int t);
  void dense(const Napi::Object &node, int t);
  void relu(const Napi::Object &node, int t);
  void softmax(const Napi::Object &node, int t);
  void softmaxInPlace(const Buf &buf);

  int inputOf(const Napi::Object &node, int t, const std::string &op = "") {
    const int64_t input = intField(node, "input", where_);
    if (input < 0 || input >= t) fail("input " + std::to_string(input) + " is not an earlier tensor");
    if (input == 0 && op != "conv") placeInput();
    return static_cast<int>(input);
  }
  const std::vector<int64_t> &spatialInput(int input) {
    const auto &shape = plan_.tensors[input].shape;
    if (shape.size() != 3) fail("input tensor " + std::to_string(input) + " has shape " + shapeText(shape) +
                                ", expected [H, W, C]");
    return shape;
  }
  void checkShape(const Napi::Object &node, int t, const std::vector<int64_t> &shape) {
    const std::vector<int64_t> expected = intsField(node, "shape", where_, 0);
    if (expected != shape) fail("output shape " + shapeText(shape) + " differs from the spec's " + shapeText(expected));
    for (int64_t d : shape) {
      if (d <= 0) fail("output shape " + shapeText(shape) + " is empty");
    }
    plan_.tensors[t].shape = shape;
  }
};

void Builder::planConcatsInPlace(const Napi::Array &nodes) {
  // A channel concat whose inputs are whole blocks of the layout: its producers may write into it.
  concatStorage_.assign(plan_.tensors.size(), -1);
  concatType_.assign(plan_.tensors.size(), DT::undef);
  std::vector<int> concatOf(plan_.tensors.size(), -1), readers(plan_.tensors.size(), 0);
  std::vector<std::string> ops(plan_.tensors.size());
  for (uint32_t i = 0; i < nodes.Length(); i++) {
    Napi::Object node = nodes.Get(i).As<Napi::Object>();
    ops[i + 1] = node.Get("op").ToString().Utf8Value();
  }
  for (uint32_t i = 0; i < nodes.Length(); i++) {
    Napi::Object node = nodes.Get(i).As<Napi::Object>();
    if (ops[i + 1] != "concat") continue;
    const int t = static_cast<int>(i) + 1;
    std::vector<int64_t> inputs = intsField(node, "inputs", "planCreate: node " + std::to_string(i), 0);
    const std::vector<int64_t> shape = intsField(node, "shape", "planCreate: node " + std::to_string(i), 0);
    bool ok = shape.size() == 3 && shape[2] % block_ == 0;
    std::vector<int64_t> seen;
    for (int64_t in : inputs) {
      if (!ok) break;
      if (in <= 0 || in >= t || std::find(seen.begin(), seen.end(), in) != seen.end()) ok = false;
      seen.push_back(in);
      if (!ok) break;
      const std::string &op = ops[in];
      // int8 producers other than convolutions cannot rescale into the concat's scale.
      const bool producer = op == "conv" || (!int8_ && op == "pool");
      Napi::Object producerNode = nodes.Get(static_cast<uint32_t>(in - 1)).As<Napi::Object>();
      const std::vector<int64_t> inShape = intsField(producerNode, "shape", "planCreate: node " + std::to_string(in - 1), 0);
      if (!producer || concatOf[in] >= 0 || inShape.size() != 3 || inShape[2] % block_ != 0) ok = false;
    }
    if (!ok) continue;
    plan_.tensors[t].shape = shape;
    int64_t channel = 0;
    for (int64_t in : inputs) {
      concatOf[in] = t;
      plan_.tensors[in].concatInto = t;
      plan_.tensors[in].concatChannel = channel;
      Napi::Object producerNode = nodes.Get(static_cast<uint32_t>(in - 1)).As<Napi::Object>();
      channel += intsField(producerNode, "shape", where_, 0)[2];
    }
  }
}

/**
 * At batch 1 in a blocked layout, 1x1 stride-1 convolutions that read the same tensor (an Inception module's
 * 3x3_reduce and 5x5_reduce) run as one convolution with their output channels side by side; each member's
 * output is then a dense slice of it (whole blocks, but for the last member). Members that are concat
 * branches keep their own convolution (they write into the concat). fp32 and bf16 only.
 */
void Builder::planMerges(const Napi::Array &nodes) {
  mergedWith_.assign(plan_.tensors.size(), {});
  const char *merge = std::getenv("INCEPTION_PLAN_MERGE");
  if (merge && std::string(merge) == "0") return;
  if (plan_.batch != 1 || block_ == 1 || int8_) return;
  std::vector<std::vector<int64_t>> shapes(plan_.tensors.size());
  shapes[0] = plan_.inputShape;
  // (input, relu) -> candidate members
  std::vector<std::pair<std::pair<int64_t, bool>, std::vector<int>>> groups;
  for (uint32_t i = 0; i < nodes.Length(); i++) {
    Napi::Object node = nodes.Get(i).As<Napi::Object>();
    const int t = static_cast<int>(i) + 1;
    const std::string where = "planCreate: node " + std::to_string(i);
    shapes[t] = intsField(node, "shape", where, 0);
    if (node.Get("op").ToString().Utf8Value() != "conv" || plan_.tensors[t].concatInto >= 0) continue;
    const int64_t input = intField(node, "input", where);
    if (input < 0 || input >= t || shapes[input].size() != 3 || shapes[input][2] % block_ != 0) continue;
    const std::vector<int64_t> fs = intsField(node, "filterShape", where, 4);
    if (fs[0] != 1 || fs[1] != 1 || intsField(node, "strides", where, 2) != std::vector<int64_t>{1, 1} ||
        intsField(node, "dilations", where, 2) != std::vector<int64_t>{1, 1} ||
        intsField(node, "pads", where, 4) != std::vector<int64_t>{0, 0, 0, 0} || shapes[t].size() != 3) {
      continue;
    }
    const std::pair<int64_t, bool> key{input, boolField(node, "relu")};
    auto found = std::find_if(groups.begin(), groups.end(), [&](const auto &g) { return g.first == key; });
    if (found == groups.end()) groups.push_back({key, {t}});
    else found->second.push_back(t);
  }
  for (auto &[key, members] : groups) {
    // Whole-block members first; at most one other, last.
    std::vector<int> whole, partial;
    for (int t : members) (shapes[t][2] % block_ == 0 ? whole : partial).push_back(t);
    if (!partial.empty()) whole.push_back(partial.front());
    if (whole.size() < 2) continue;
    for (int t : whole) mergedWith_[t] = whole;
  }
}

void Builder::build() {
  const std::string top = "planCreate";
  where_ = top;
  plan_.batch = intField(spec_, "batch", top + ": spec");
  if (plan_.batch < 1) throw PlanError(top + ": batch must be at least 1");
  plan_.inputShape = intsField(spec_, "inputShape", top + ": spec", 3);
  for (int64_t d : plan_.inputShape) {
    if (d < 1) throw PlanError(top + ": inputShape " + shapeText(plan_.inputShape) + " has an empty dimension");
  }
  plan_.precision = stringField(spec_, "precision", top + ": spec");
  if (plan_.precision != "fp32" && plan_.precision != "bf16" && plan_.precision != "int8") {
    throw PlanError(top + ": precision must be fp32, bf16 or int8, not '" + plan_.precision + "'");
  }
  if (plan_.precision == "bf16") {
    if (!hasIsa(dnnl_cpu_isa_avx512_core_bf16)) {
      throw PlanError(top + ": bf16 needs AVX512_BF16 or AMX; this CPU has " +
                      cpuIsaName(dnnl_get_effective_cpu_isa()));
    }
    act_ = DT::bf16;
  }
  int8_ = plan_.precision == "int8";
  plan_.calibrate = boolField(spec_, "calibrate");
  if (plan_.calibrate && plan_.precision != "fp32") throw PlanError(top + ": calibrate needs precision fp32");
  plan_.layout = chooseLayout(int8_);
  const char *winograd = std::getenv("INCEPTION_PLAN_WINOGRAD");
  winograd_ = plan_.precision == "fp32" && !(winograd && std::string(winograd) == "0");
  tag_ = layoutTag(plan_.layout);
  block_ = layoutBlock(plan_.layout);

  Napi::Value nodesValue = field(spec_, "nodes", top + ": spec");
  if (!nodesValue.IsArray()) throw PlanError(top + ": spec.nodes must be an array");
  Napi::Array nodes = nodesValue.As<Napi::Array>();
  const int count = static_cast<int>(nodes.Length());
  plan_.tensors.resize(count + 1);
  plan_.tensors[0].shape = plan_.inputShape;
  const int64_t output = intField(spec_, "output", top + ": spec");
  if (output < 0 || output > count) {
    throw PlanError(top + ": output " + std::to_string(output) + " is not a tensor (0.." + std::to_string(count) + ")");
  }
  plan_.output = static_cast<int>(output);

  if (int8_) {
    Napi::Value value = spec_.Has("ranges") ? spec_.Get("ranges") : spec_.Env().Undefined();
    if (!value.IsArray()) throw PlanError(top + ": int8 needs spec.ranges");
    Napi::Array ranges = value.As<Napi::Array>();
    ranges_.resize(count + 1);
    hasRange_.assign(count + 1, false);
    for (uint32_t i = 0; i < ranges.Length() && i <= static_cast<uint32_t>(count); i++) {
      Napi::Value r = ranges.Get(i);
      if (r.IsNull() || r.IsUndefined()) continue;
      if (!r.IsArray() || r.As<Napi::Array>().Length() != 2) {
        throw PlanError(top + ": ranges[" + std::to_string(i) + "] must be [min, max] or null");
      }
      const double lo = r.As<Napi::Array>().Get(0u).ToNumber().DoubleValue();
      const double hi = r.As<Napi::Array>().Get(1u).ToNumber().DoubleValue();
      if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
        throw PlanError(top + ": ranges[" + std::to_string(i) + "] is not a finite [min, max]");
      }
      ranges_[i] = {lo, hi};
      hasRange_[i] = true;
    }
  }

  for (int i = 0; i < count; i++) {
    if (!nodes.Get(static_cast<uint32_t>(i)).IsObject()) {
      throw PlanError(top + ": node " + std::to_string(i) + " is not an object");
    }
  }
  planConcatsInPlace(nodes);
  nodes_ = nodes;
  planMerges(nodes);

  // The network input: int8 quantizes it with its own range; its layout is the first convolution's choice
  // (decided when that convolution is built), else the plan's layout.
  for (int i = 0; i < count; i++) {
    Napi::Value value = nodes.Get(static_cast<uint32_t>(i));
    if (!value.IsObject()) throw PlanError(top + ": node " + std::to_string(i) + " is not an object");
    Napi::Object node = value.As<Napi::Object>();
    const int t = i + 1;
    const std::string name = node.Has("name") ? node.Get("name").ToString().Utf8Value() : "";
    const std::string op = node.Has("op") ? node.Get("op").ToString().Utf8Value() : "";
    where_ = top + ": node " + std::to_string(i) + " ('" + name + "', " + op + ")";
    try {
      if (op == "conv") conv(node, t);
      else if (op == "pool") pool(node, t);
      else if (op == "pad") pad(node, t);
      else if (op == "lrn") lrn(node, t);
      else if (op == "concat") concat(node, t);
      else if (op == "affine") affine(node, t);
      else if (op == "flatten") flatten(node, t);
      else if (op == "dense") dense(node, t);
      else if (op == "relu") relu(node, t);
      else if (op == "softmax") softmax(node, t);
      else fail("unknown op");
    } catch (const dnnl::error &e) {
      fail(std::string("oneDNN: ") + e.what());
    }
    if (!plan_.tensors[t].placed) fail("produced no output");
    if (plan_.calibrate) {
      Step stats;
      stats.statsTensor = t;
      addStep(std::move(stats), {plan_.tensors[t].buf}, {});
    }
  }
  where_ = top;
  placeInput();
  // The output stays live to the end.
  plan_.outputShape = plan_.tensors[plan_.output].shape;
  touch(plan_.tensors[plan_.output].buf, nextStep());
  touch(plan_.tensors[0].buf, -1);
}

// ---- Nodes.

void Builder::conv(const Napi::Object &node, int t) {
  const int input = inputOf(node, t, "conv");
  const std::vector<int64_t> in = spatialInput(input);
  const std::vector<int64_t> fs = intsField(node, "filterShape", where_, 4);
  const std::vector<int64_t> strides = intsField(node, "strides", where_, 2);
  const std::vector<int64_t> dilations = intsField(node, "dilations", where_, 2);
  const std::vector<int64_t> pads = intsField(node, "pads", where_, 4);
  const bool relu = boolField(node, "relu");
  if (fs[0] < 1 || fs[1] < 1 || fs[3] < 1) fail("filterShape " + shapeText(fs) + " has an empty dimension");
  if (fs[2] != in[2]) fail("filter has " + std::to_string(fs[2]) + " input channels, the input has " + std::to_string(in[2]));
  for (int64_t v : strides) if (v < 1) fail("strides must be at least 1");
  for (int64_t v : dilations) if (v < 1) fail("dilations must be at least 1");
  for (int64_t v : pads) if (v < 0) fail("pads must not be negative");
  int64_t outC = fs[3];
  F32Array filter = floatsField(node, "filter", where_, product(fs), false, "filter");
  F32Array bias = floatsField(node, "bias", where_, outC, true, "bias");
  const int64_t spanH = (fs[0] - 1) * dilations[0] + 1, spanW = (fs[1] - 1) * dilations[1] + 1;
  std::vector<int64_t> outShape = {windowOut(in[0], spanH, strides[0], pads[0], pads[2]),
                                   windowOut(in[1], spanW, strides[1], pads[1], pads[3]), outC};
  checkShape(node, t, outShape);
  if (!mergedWith_[t].empty() && plan_.tensors[t].placed) return;  // built with its group's first member
  // A merge group's first member builds the merged convolution: filters side by side along outC.
  std::vector<float> mergedFilter, mergedBias;
  std::vector<int64_t> memberChannels;
  if (!mergedWith_[t].empty()) {
    for (int m : mergedWith_[t]) memberChannels.push_back(intsField(nodes_.Get(m - 1).As<Napi::Object>(), "filterShape", where_, 4)[3]);
    int64_t total = 0;
    for (int64_t c : memberChannels) total += c;
    mergedFilter.resize(static_cast<size_t>(in[2] * total));
    mergedBias.assign(static_cast<size_t>(total), 0.f);
    int64_t at = 0;
    for (size_t k = 0; k < mergedWith_[t].size(); k++) {
      const int m = mergedWith_[t][k];
      const Napi::Object member = nodes_.Get(m - 1).As<Napi::Object>();
      const std::string memberWhere = "planCreate: node " + std::to_string(m - 1) + " ('" +
                                      member.Get("name").ToString().Utf8Value() + "', conv)";
      const int64_t c = memberChannels[k];
      const F32Array f = floatsField(member, "filter", memberWhere, in[2] * c, false, "filter");
      const F32Array b = floatsField(member, "bias", memberWhere, c, true, "bias");
      for (int64_t ci = 0; ci < in[2]; ci++) std::copy(f.data + ci * c, f.data + (ci + 1) * c, &mergedFilter[ci * total + at]);
      if (b.data) std::copy(b.data, b.data + c, &mergedBias[at]);
      at += c;
    }
    filter = {mergedFilter.data(), mergedFilter.size()};
    bias = {mergedBias.data(), mergedBias.size()};
    outC = total;
    outShape[2] = total;
  }

  Tensor &src = plan_.tensors[input];
  // Types and scales.
  DT srcDt = act_, dstDt = act_, wDt = act_;
  float srcScale = 1.f, dstScale = 1.f;
  if (int8_) {
    wDt = DT::s8;
    if (src.placed && src.buf.desc.data_type() != DT::f32) {
      srcDt = src.buf.desc.data_type();
      srcScale = src.scale;
    } else {
      std::tie(srcDt, srcScale) = quantOf(input, "this convolution's input");
    }
    const int quantTensor = plan_.tensors[t].concatInto >= 0 ? plan_.tensors[t].concatInto : t;
    std::tie(dstDt, dstScale) = quantOf(quantTensor, "this convolution's output");
  }
  const Dims srcDims = {plan_.batch, in[2], in[0], in[1]};
  const Dims dstDims = {plan_.batch, outC, outShape[0], outShape[1]};
  const Dims wDims = {outC, in[2], fs[0], fs[1]};
  // The network input's layout is left to its first convolution.
  memory::desc srcWant;
  if (!src.placed) srcWant = memory::desc(srcDims, srcDt, Tag::any);
  else if (src.buf.desc.data_type() == srcDt) srcWant = src.buf.desc;
  else srcWant = actDesc(in, srcDt);
  const memory::desc dstDesc = actDesc(outShape, dstDt);
  const memory::desc biasDesc({outC}, DT::f32, Tag::a);

  dnnl::primitive_attr attr = scratchAttr();
  std::vector<float> weightScales;
  const double weightLevels = int8WeightLevels();
  if (int8_) {
    weightScales.resize(outC);
    std::vector<float> outScales(outC);
    for (int64_t o = 0; o < outC; o++) {
      float m = 0;
      for (int64_t k = 0; k < fs[0] * fs[1] * fs[2]; k++) m = std::max(m, std::fabs(filter.data[k * outC + o]));
      weightScales[o] = m > 0 ? static_cast<float>(m / weightLevels) : 1.f;
      outScales[o] = srcScale * weightScales[o] / dstScale;
    }
    attr.set_output_scales(1 << 1, outScales);
  }
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  using ConvPd = dnnl::convolution_forward::primitive_desc;
  // fp32 3x3 stride-1 convolutions by Winograd: half the time of the direct kernels on GoogLeNet here.
  const bool tryWinograd = winograd_ && fs[0] == 3 && fs[1] == 3 && strides[0] == 1 && strides[1] == 1 &&
                           dilations[0] == 1 && dilations[1] == 1;
  const auto make = [&](const memory::desc &srcAs, const memory::desc &dstAs) {
    if (tryWinograd) {
      try {
        dnnl::convolution_forward::desc desc(
            prop_kind::forward_inference, algorithm::convolution_winograd, srcAs, memory::desc(wDims, wDt, Tag::any),
            biasDesc, dstAs, {strides[0], strides[1]}, {dilations[0] - 1, dilations[1] - 1}, {pads[0], pads[1]},
            {pads[2], pads[3]});
        return ConvPd(desc, attr, cpuEngine());
      } catch (const dnnl::error &) {
        // no Winograd kernel for this shape or layout: the direct one below
      }
    }
    dnnl::convolution_forward::desc desc(
        prop_kind::forward_inference, algorithm::convolution_direct, srcAs, memory::desc(wDims, wDt, Tag::any),
        biasDesc, dstAs, {strides[0], strides[1]}, {dilations[0] - 1, dilations[1] - 1}, {pads[0], pads[1]},
        {pads[2], pads[3]});
    return ConvPd(desc, attr, cpuEngine());
  };
  auto [pd, dst] = placeOutput<ConvPd>(t, dstDesc, [&](const memory::desc &dstWant) {
    ConvPd pd = make(srcWant, dstWant);
    // Odd shapes (a few input channels in a blocked layout, say) may have only the reference kernel in the
    // plan's layout: let the convolution choose its input layout (a reorder), then its output's too.
    const memory::desc anySrc(srcDims, srcDt, Tag::any), anyDst(dstDims, dstDt, Tag::any);
    std::vector<std::pair<memory::desc, memory::desc>> alternatives = {{anySrc, dstWant}};
    if (dstWant == dstDesc) alternatives.emplace_back(anySrc, anyDst);
    for (const auto &[srcAs, dstAs] : alternatives) {
      if (!isReference(pd)) break;
      ConvPd other = make(srcAs, dstAs);
      if (!isReference(other)) pd = other;
    }
    return pd;
  });
  noteScratch(pd);

  if (!src.placed) {  // the network input enters in the layout its first convolution prefers
    src.buf = newBuf(pd.src_desc());
    src.scale = srcScale;
    src.placed = true;
  }
  const Buf srcBuf = need(input, pd.src_desc(), srcScale);

  // Weights: HWIO from the spec, reordered into the primitive's layout (int8: quantized per channel first).
  memory weights;
  const memory::desc userW(wDims, int8_ ? DT::s8 : DT::f32, Tag::hwio);
  if (int8_) {
    std::vector<int8_t> q(filter.length);
    for (size_t k = 0; k < filter.length; k++) {
      const double v = std::nearbyint(static_cast<double>(filter.data[k]) / weightScales[k % outC]);
      q[k] = static_cast<int8_t>(std::max(-weightLevels, std::min(weightLevels, v)));
    }
    weights = ownedCopy(pd.weights_desc(), userW, q.data());
  } else {
    weights = ownedCopy(pd.weights_desc(), userW, filter.data);
  }
  std::vector<float> biasValues(outC, 0.f);
  for (int64_t o = 0; o < outC && bias.data; o++) {
    // int8: rounded to the int32 the accumulator adds, as the QDQ export stores it (half to even).
    biasValues[o] = int8_ ? static_cast<float>(std::max(-2147483647.0, std::min(2147483647.0, std::nearbyint(
                                bias.data[o] / (static_cast<double>(srcScale) * weightScales[o])))))
                          : bias.data[o];
  }
  memory biasMem = ownedCopy(biasDesc, biasDesc, biasValues.data());

  Step step;
  step.primitive = dnnl::convolution_forward(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  step.args = {arena(DNNL_ARG_SRC, srcBuf), owned(DNNL_ARG_WEIGHTS, weights), owned(DNNL_ARG_BIAS, biasMem),
               arena(DNNL_ARG_DST, dst)};
  addStep(std::move(step), {srcBuf}, {dst});
  if (mergedWith_[t].empty()) {
    setOutput(t, dst, dstScale);
    return;
  }
  // Each member's output: its channels of the merged output, a dense tensor at a byte offset (batch 1).
  if (dst.desc != dstDesc) fail("the merged 1x1 convolution did not take the plan's layout");
  int64_t channel = 0;
  for (size_t k = 0; k < mergedWith_[t].size(); k++) {
    const int m = mergedWith_[t][k];
    const std::vector<int64_t> memberShape = {outShape[0], outShape[1], memberChannels[k]};
    const size_t offset = static_cast<size_t>(channel * outShape[0] * outShape[1]) * memory::data_type_size(dstDt);
    setOutput(m, {dst.storage, dst.offset + offset, actDesc(memberShape, dstDt)}, dstScale);
    plan_.tensors[m].shape = memberShape;
    channel += memberChannels[k];
  }
}

void Builder::pool(const Napi::Object &node, int t) {
  const int input = inputOf(node, t);
  const std::vector<int64_t> in = spatialInput(input);
  const std::string kind = stringField(node, "kind", where_);
  if (kind != "max" && kind != "avg") fail("kind must be max or avg, not '" + kind + "'");
  const std::vector<int64_t> kernel = intsField(node, "kernel", where_, 2);
  const std::vector<int64_t> strides = intsField(node, "strides", where_, 2);
  const std::vector<int64_t> pads = intsField(node, "pads", where_, 4);
  for (int64_t v : kernel) if (v < 1) fail("kernel must be at least 1");
  for (int64_t v : strides) if (v < 1) fail("strides must be at least 1");
  for (int64_t v : pads) if (v < 0) fail("pads must not be negative");
  if (pads[0] >= kernel[0] || pads[2] >= kernel[0] || pads[1] >= kernel[1] || pads[3] >= kernel[1]) {
    fail("pads " + shapeText(pads) + " must be smaller than the kernel " + shapeText(kernel));
  }
  const std::vector<int64_t> outShape = {windowOut(in[0], kernel[0], strides[0], pads[0], pads[2]),
                                         windowOut(in[1], kernel[1], strides[1], pads[1], pads[3]), in[2]};
  checkShape(node, t, outShape);
  Tensor &src = plan_.tensors[input];
  Buf srcBuf = src.buf;
  float scale = src.scale;
  if (int8_ && src.buf.desc.data_type() == DT::f32) {  // pool the quantized values (its consumers want them)
    const auto [dt, s] = quantOf(input, "this pool's input");
    srcBuf = need(input, actDesc(in, dt), s);
    scale = s;
  } else if (!int8_ && src.buf.desc.data_type() != act_) {
    srcBuf = need(input, actDesc(in, act_), 1.f);
  }
  const DT dt = srcBuf.desc.data_type();
  const algorithm alg = kind == "max" ? algorithm::pooling_max
                        : boolField(node, "excludePadding") ? algorithm::pooling_avg_exclude_padding
                                                             : algorithm::pooling_avg_include_padding;
  using PoolPd = dnnl::pooling_forward::primitive_desc;
  auto [pd, dst] = placeOutput<PoolPd>(t, actDesc(outShape, dt), [&](const memory::desc &dstWant) {
    dnnl::pooling_forward::desc desc(prop_kind::forward_inference, alg, srcBuf.desc, dstWant,
                                     {strides[0], strides[1]}, {kernel[0], kernel[1]}, {pads[0], pads[1]},
                                     {pads[2], pads[3]});
    return PoolPd(desc, scratchAttr(), cpuEngine());
  });
  noteScratch(pd);
  Step step;
  step.primitive = dnnl::pooling_forward(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  step.args = {arena(DNNL_ARG_SRC, srcBuf), arena(DNNL_ARG_DST, dst)};
  addStep(std::move(step), {srcBuf}, {dst});
  setOutput(t, dst, scale);
}

void Builder::pad(const Napi::Object &node, int t) {
  const int input = inputOf(node, t);
  const std::vector<int64_t> in = spatialInput(input);
  const std::vector<int64_t> pads = intsField(node, "pads", where_, 4);
  for (int64_t v : pads) if (v < 0) fail("pads must not be negative");
  const std::vector<int64_t> outShape = {in[0] + pads[0] + pads[2], in[1] + pads[1] + pads[3], in[2]};
  checkShape(node, t, outShape);
  const Tensor &src = plan_.tensors[input];
  const DT dt = src.buf.desc.data_type();
  const Buf dst = outputBuf(t, actDesc(outShape, dt));
  const Buf interior{dst.storage, dst.offset,
                     dst.desc.submemory_desc({plan_.batch, in[2], in[0], in[1]}, {0, 0, pads[0], pads[1]})};
  const Buf srcBuf = src.buf;
  // The border is zeroed on every run: the arena bytes under it may hold another tensor between runs.
  dnnl::reorder::primitive_desc pd(cpuEngine(), srcBuf.desc, cpuEngine(), interior.desc, scratchAttr());
  noteScratch(pd);
  Step step;
  step.primitive = dnnl::reorder(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  step.zero = dst;
  step.args = {arena(DNNL_ARG_FROM, srcBuf), arena(DNNL_ARG_TO, interior)};
  addStep(std::move(step), {srcBuf}, {dst});
  setOutput(t, dst, src.scale);
}

void Builder::lrn(const Napi::Object &node, int t) {
  const int input = inputOf(node, t);
  const std::vector<int64_t> in = spatialInput(input);
  const int64_t radius = intField(node, "radius", where_);
  const double bias = numberField(node, "bias", where_), alpha = numberField(node, "alpha", where_),
               beta = numberField(node, "beta", where_);
  if (radius < 0) fail("radius must not be negative");
  checkShape(node, t, in);
  const int64_t size = 2 * radius + 1;
  // tfjs multiplies the window's sum of squares by alpha; oneDNN by alpha / size.
  const auto make = [&](const memory::desc &data) {
    dnnl::lrn_forward::desc desc(prop_kind::forward_inference, algorithm::lrn_across_channels, data, size,
                                 static_cast<float>(alpha * size), static_cast<float>(beta),
                                 static_cast<float>(bias));
    return dnnl::lrn_forward::primitive_desc(desc, scratchAttr(), cpuEngine());
  };
  // In the plan's float type (int8 plans dequantize first) and layout, unless only the reference kernel
  // runs there and another layout has a jit one.
  std::vector<Tag> layouts = {tag_};
  if (hasIsa(dnnl_cpu_isa_avx512_core)) layouts.push_back(Tag::nChw16c);
  if (hasIsa(dnnl_cpu_isa_avx2)) layouts.push_back(Tag::nChw8c);
  layouts.push_back(Tag::nhwc);
  dnnl::lrn_forward::primitive_desc pd = make(actDesc(in, act_));
  for (Tag tag : layouts) {
    if (!isReference(pd)) break;
    dnnl::lrn_forward::primitive_desc other = make(actDesc(in, act_, tag));
    if (!isReference(other)) pd = other;
  }
  noteScratch(pd);
  const Buf srcBuf = need(input, pd.src_desc(), 1.f);
  const Buf dst = outputBuf(t, pd.dst_desc());
  Step step;
  step.primitive = dnnl::lrn_forward(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  step.args = {arena(DNNL_ARG_SRC, srcBuf), arena(DNNL_ARG_DST, dst)};
  addStep(std::move(step), {srcBuf}, {dst});
  setOutput(t, dst, 1.f);
}

void Builder::concat(const Napi::Object &node, int t) {
  const std::vector<int64_t> inputs = intsField(node, "inputs", where_, 0);
  if (inputs.empty()) fail("concat needs at least one input");
  std::vector<int64_t> outShape;
  for (int64_t in : inputs) {
    if (in < 0 || in >= t) fail("input " + std::to_string(in) + " is not an earlier tensor");
    if (in == 0) placeInput();
    const std::vector<int64_t> shape = spatialInput(static_cast<int>(in));
    if (outShape.empty()) outShape = shape;
    else if (shape[0] != outShape[0] || shape[1] != outShape[1]) {
      fail("input " + std::to_string(in) + " is " + shapeText(shape) + ", the first input " + shapeText(outShape));
    } else {
      outShape[2] += shape[2];
    }
  }
  checkShape(node, t, outShape);
  bool inPlace = true;
  for (int64_t in : inputs) inPlace = inPlace && plan_.tensors[in].concatInto == t;
  if (inPlace) {  // the producers wrote their slices already
    const Tensor &first = plan_.tensors[inputs[0]];
    setOutput(t, {first.buf.storage, 0, actDesc(outShape, first.buf.desc.data_type())}, first.scale);
    return;
  }
  DT dt = act_;
  float scale = 1.f;
  if (int8_) std::tie(dt, scale) = quantOf(t, "this concat's output");
  std::vector<Buf> srcs;
  std::vector<memory::desc> descs;
  for (int64_t in : inputs) {
    const Tensor &src = plan_.tensors[in];
    Buf b = src.buf;
    if (b.desc.data_type() != dt || src.scale != scale) b = need(static_cast<int>(in), actDesc(src.shape, dt), scale);
    srcs.push_back(b);
    descs.push_back(b.desc);
  }
  const memory::desc dstDesc = actDesc(outShape, dt);
  dnnl::concat::primitive_desc pd(dstDesc, 1, descs, cpuEngine(), scratchAttr());
  noteScratch(pd);
  const Buf dst = newBuf(dstDesc);
  Step step;
  step.primitive = dnnl::concat(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  for (size_t i = 0; i < srcs.size(); i++) step.args.push_back(arena(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs[i]));
  step.args.push_back(arena(DNNL_ARG_DST, dst));
  addStep(std::move(step), srcs, {dst});
  setOutput(t, dst, scale);
}

void Builder::affine(const Napi::Object &node, int t) {
  const int input = inputOf(node, t);
  const std::vector<int64_t> &inShape = plan_.tensors[input].shape;
  const std::vector<int64_t> in = inShape;
  const int64_t channels = in.back();
  F32Array scale = floatsField(node, "scale", where_, channels, false, "scale");
  F32Array shift = floatsField(node, "shift", where_, channels, false, "shift");
  checkShape(node, t, in);
  // y = x * scale + shift (+ relu): a binary multiply with an add post-op, in f32.
  const Buf srcBuf = need(input, actDesc(in, DT::f32), 1.f);
  const Dims perChannel = in.size() == 3 ? Dims{1, channels, 1, 1} : Dims{1, channels};
  const memory::desc channelDesc(perChannel, DT::f32, in.size() == 3 ? Tag::abcd : Tag::ab);
  memory scaleMem = ownedCopy(channelDesc, channelDesc, scale.data);
  memory shiftMem = ownedCopy(channelDesc, channelDesc, shift.data);
  dnnl::post_ops ops;
  ops.append_binary(algorithm::binary_add, channelDesc);
  if (boolField(node, "relu")) ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
  dnnl::primitive_attr attr = scratchAttr();
  attr.set_post_ops(ops);
  dnnl::binary::desc desc(algorithm::binary_mul, srcBuf.desc, channelDesc, srcBuf.desc);
  dnnl::binary::primitive_desc pd(desc, attr, cpuEngine());
  noteScratch(pd);
  const Buf dst = outputBuf(t, pd.dst_desc());
  Step step;
  step.primitive = dnnl::binary(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  step.args = {arena(DNNL_ARG_SRC_0, srcBuf), owned(DNNL_ARG_SRC_1, scaleMem),
               owned(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, shiftMem), arena(DNNL_ARG_DST, dst)};
  addStep(std::move(step), {srcBuf}, {dst});
  setOutput(t, dst, 1.f);
}

void Builder::flatten(const Napi::Object &node, int t) {
  const int input = inputOf(node, t);
  const std::vector<int64_t> in = spatialInput(input);
  const int64_t features = product(in);
  checkShape(node, t, {features});
  const Tensor &src = plan_.tensors[input];
  const DT dt = int8_ ? DT::f32 : src.buf.desc.data_type();
  const memory::desc flat({plan_.batch, features}, dt, Tag::nc);
  // A 1x1 map whose channels fill whole blocks is already [batch, C] in memory.
  const bool sameBytes = in[0] * in[1] == 1 && src.buf.desc.data_type() == dt &&
                         src.buf.desc.get_size() == flat.get_size() &&
                         (src.buf.desc == actDesc(in, dt, Tag::nhwc) || (in[2] % block_ == 0 && src.buf.desc == actDesc(in, dt)));
  if (sameBytes) {
    setOutput(t, {src.buf.storage, src.buf.offset, flat}, 1.f);
    return;
  }
  const Buf nhwc = need(input, actDesc(in, dt, Tag::nhwc), 1.f);
  setOutput(t, {nhwc.storage, nhwc.offset, flat}, 1.f);
}

void Builder::softmaxInPlace(const Buf &buf) {
  dnnl::softmax_forward::desc desc(prop_kind::forward_inference, buf.desc, 1);
  dnnl::softmax_forward::primitive_desc pd(desc, scratchAttr(), cpuEngine());
  noteScratch(pd);
  Step step;
  step.primitive = dnnl::softmax_forward(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  step.args = {arena(DNNL_ARG_SRC, buf), arena(DNNL_ARG_DST, buf)};
  addStep(std::move(step), {buf}, {buf});
}

void Builder::dense(const Napi::Object &node, int t) {
  const int input = inputOf(node, t);
  const std::vector<int64_t> in = plan_.tensors[input].shape;
  if (in.size() != 1) fail("input tensor " + std::to_string(input) + " has shape " + shapeText(in) + ", expected [F] (flatten first)");
  const std::vector<int64_t> ws = intsField(node, "weightsShape", where_, 2);
  if (ws[0] != in[0]) fail("weights have " + std::to_string(ws[0]) + " rows, the input has " + std::to_string(in[0]) + " features");
  if (ws[1] < 1) fail("weights have no columns");
  const int64_t outF = ws[1];
  F32Array weights = floatsField(node, "weights", where_, ws[0] * ws[1], false, "weights");
  F32Array bias = floatsField(node, "bias", where_, outF, true, "bias");
  const std::string activation = stringField(node, "activation", where_);
  if (activation != "linear" && activation != "relu" && activation != "softmax") {
    fail("activation must be linear, relu or softmax, not '" + activation + "'");
  }
  checkShape(node, t, {outF});
  const DT dt = act_;  // int8 plans run the head in f32
  const Buf srcBuf = need(input, memory::desc({plan_.batch, in[0]}, dt, Tag::nc), 1.f);
  const memory::desc biasDesc({outF}, DT::f32, Tag::a);
  dnnl::primitive_attr attr = scratchAttr();
  if (activation == "relu") {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  dnnl::inner_product_forward::desc desc(prop_kind::forward_inference, srcBuf.desc,
                                         memory::desc({outF, in[0]}, dt, Tag::any), biasDesc,
                                         memory::desc({plan_.batch, outF}, DT::f32, Tag::nc));
  dnnl::inner_product_forward::primitive_desc pd(desc, attr, cpuEngine());
  noteScratch(pd);
  // tfjs stores the kernel [in, out] row-major: as oneDNN's [out, in] weights that is the `ba` layout.
  memory weightsMem = ownedCopy(pd.weights_desc(), memory::desc({outF, in[0]}, DT::f32, Tag::ba), weights.data);
  std::vector<float> biasValues(outF, 0.f);
  if (bias.data) std::copy(bias.data, bias.data + outF, biasValues.begin());
  memory biasMem = ownedCopy(biasDesc, biasDesc, biasValues.data());
  const Buf dst = newBuf(pd.dst_desc());
  Step step;
  step.primitive = dnnl::inner_product_forward(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  step.args = {arena(DNNL_ARG_SRC, srcBuf), owned(DNNL_ARG_WEIGHTS, weightsMem), owned(DNNL_ARG_BIAS, biasMem),
               arena(DNNL_ARG_DST, dst)};
  addStep(std::move(step), {srcBuf}, {dst});
  if (activation == "softmax") softmaxInPlace(dst);
  setOutput(t, dst, 1.f);
}

void Builder::relu(const Napi::Object &node, int t) {
  const int input = inputOf(node, t);
  const std::vector<int64_t> in = plan_.tensors[input].shape;
  checkShape(node, t, in);
  const Tensor &src = plan_.tensors[input];
  const Buf srcBuf = src.buf;
  dnnl::eltwise_forward::desc desc(prop_kind::forward_inference, algorithm::eltwise_relu, srcBuf.desc, 0.f, 0.f);
  dnnl::eltwise_forward::primitive_desc pd(desc, scratchAttr(), cpuEngine());
  noteScratch(pd);
  const Buf dst = outputBuf(t, pd.dst_desc());
  Step step;
  step.primitive = dnnl::eltwise_forward(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  step.args = {arena(DNNL_ARG_SRC, srcBuf), arena(DNNL_ARG_DST, dst)};
  addStep(std::move(step), {srcBuf}, {dst});
  setOutput(t, dst, src.scale);
}

void Builder::softmax(const Napi::Object &node, int t) {
  const int input = inputOf(node, t);
  const std::vector<int64_t> in = plan_.tensors[input].shape;
  checkShape(node, t, in);
  // Over the channels, in f32, into a buffer of its own (the input may have other readers).
  const Buf srcBuf = need(input, actDesc(in, DT::f32), 1.f);
  dnnl::softmax_forward::desc desc(prop_kind::forward_inference, srcBuf.desc, 1);
  dnnl::softmax_forward::primitive_desc pd(desc, scratchAttr(), cpuEngine());
  noteScratch(pd);
  const Buf dst = newBuf(pd.dst_desc());
  Step step;
  step.primitive = dnnl::softmax_forward(pd);
  step.hasPrimitive = true;
  step.impl = pd.impl_info_str();
  step.args = {arena(DNNL_ARG_SRC, srcBuf), arena(DNNL_ARG_DST, dst)};
  addStep(std::move(step), {srcBuf}, {dst});
  setOutput(t, dst, 1.f);
}

}  // namespace

void buildPlan(const Napi::Object &spec, Plan &plan) { Builder(spec, plan).build(); }

}  // namespace plan
}  // namespace inception
