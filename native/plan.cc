// Running a plan: places every storage in one arena by liveness, binds the primitives' arguments, runs the
// steps on one stream, and exposes planCreate / planRun / planStats / planInfo / planRelease to JS. See
// plan.h for the design.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "plan.h"

namespace inception {
namespace plan {
namespace {

// ---- Arena.

/** Offsets for each storage such that storages live at the same time never share bytes; largest first. */
size_t placeStorages(std::vector<Storage> &storages) {
  constexpr size_t kAlign = 64;
  std::vector<int> order;
  for (size_t i = 0; i < storages.size(); i++) {
    if (storages[i].last >= storages[i].first) order.push_back(static_cast<int>(i));
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return storages[a].bytes > storages[b].bytes; });
  std::vector<int> placed;
  size_t total = 0;
  for (int s : order) {
    Storage &me = storages[s];
    const size_t bytes = (me.bytes + kAlign - 1) / kAlign * kAlign;
    std::vector<std::pair<size_t, size_t>> busy;  // [start, end) of live-overlapping placed storages
    for (int p : placed) {
      const Storage &other = storages[p];
      if (other.first <= me.last && me.first <= other.last) {
        busy.emplace_back(other.arenaOffset, other.arenaOffset + (other.bytes + kAlign - 1) / kAlign * kAlign);
      }
    }
    std::sort(busy.begin(), busy.end());
    size_t at = 0;
    for (const auto &[start, end] : busy) {
      if (at + bytes <= start) break;
      at = std::max(at, end);
    }
    me.arenaOffset = at;
    total = std::max(total, at + bytes);
    placed.push_back(s);
  }
  return total;
}

void *alignedBytes(size_t bytes) {
  const size_t rounded = std::max<size_t>(4096, (bytes + 4095) / 4096 * 4096);
  void *p = std::aligned_alloc(4096, rounded);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, rounded);  // touch every page now rather than in the first run
  return p;
}

void finish(Plan &plan) {
  plan.arenaBytes = placeStorages(plan.storages);
  plan.arena.reset(static_cast<char *>(alignedBytes(plan.arenaBytes)));  // zeroed
  // A pad's border needs zeroing on each run only where another tensor shares its bytes.
  for (Step &step : plan.steps) {
    if (step.zero.storage < 0) continue;
    const Storage &mine = plan.storages[step.zero.storage];
    bool shared = false;
    for (const Storage &other : plan.storages) {
      if (&other == &mine || other.last < other.first) continue;
      shared = shared || (other.arenaOffset < mine.arenaOffset + mine.bytes &&
                          mine.arenaOffset < other.arenaOffset + other.bytes);
    }
    if (!shared) step.zero = Buf();
  }
  plan.scratch.reset(static_cast<char *>(alignedBytes(plan.scratchBytes)));
  const memory scratch(memory::desc({static_cast<int64_t>(std::max<size_t>(plan.scratchBytes, 1))}, DT::u8, Tag::a),
                       cpuEngine(), plan.scratch.get());
  auto at = [&](const Buf &buf) {
    return memory(buf.desc, cpuEngine(), plan.arena.get() + plan.storages[buf.storage].arenaOffset + buf.offset);
  };
  for (Step &step : plan.steps) {
    for (const StepArg &arg : step.args) {
      step.bound[arg.id] = arg.kind == StepArg::Arena ? at(arg.buf) : arg.owned;
    }
    if (step.hasPrimitive) step.bound[DNNL_ARG_SCRATCHPAD] = scratch;
  }
  // The caller's arrays, attached on each run.
  const Tensor &in = plan.tensors[0];
  const auto plain = [&](const std::vector<int64_t> &shape) { return plainDesc(shape, plan.batch); };
  plan.userInput = memory(plain(plan.inputShape), cpuEngine(), nullptr);
  plan.userOutput = memory(plain(plan.outputShape), cpuEngine(), nullptr);
  {
    dnnl::primitive_attr attr;
    if (in.scale != 1.f) attr.set_output_scales(0, {1.f / in.scale});
    dnnl::reorder::primitive_desc pd(cpuEngine(), plan.userInput.get_desc(), cpuEngine(), in.buf.desc, attr);
    Step step;
    step.primitive = dnnl::reorder(pd);
    step.hasPrimitive = true;
    step.impl = pd.impl_info_str();
    step.bound = {{DNNL_ARG_FROM, plan.userInput}, {DNNL_ARG_TO, at(in.buf)}};
    plan.steps.insert(plan.steps.begin(), std::move(step));
  }
  {
    const Tensor &out = plan.tensors[plan.output];
    dnnl::primitive_attr attr;
    if (out.scale != 1.f) attr.set_output_scales(0, {out.scale});
    dnnl::reorder::primitive_desc pd(cpuEngine(), out.buf.desc, cpuEngine(), plan.userOutput.get_desc(), attr);
    Step step;
    step.primitive = dnnl::reorder(pd);
    step.hasPrimitive = true;
    step.impl = pd.impl_info_str();
    step.bound = {{DNNL_ARG_FROM, at(out.buf)}, {DNNL_ARG_TO, plan.userOutput}};
    plan.steps.push_back(std::move(step));
  }
  if (plan.calibrate) {
    size_t most = 0;
    for (const Tensor &t : plan.tensors) most = std::max(most, plain(t.shape).get_size());
    plan.statsBuffer.reset(static_cast<char *>(alignedBytes(most)));
    for (size_t i = 1; i < plan.tensors.size(); i++) {
      Tensor &t = plan.tensors[i];
      t.statsSrc = at(t.buf);
      t.statsDst = memory(plain(t.shape), cpuEngine(), plan.statsBuffer.get());
      t.statsReorder = dnnl::reorder(t.statsSrc, t.statsDst);
    }
    plan.stats.assign(plan.tensors.size() * 2, 0.f);
    for (size_t i = 0; i < plan.tensors.size(); i++) {
      plan.stats[2 * i] = std::numeric_limits<float>::infinity();
      plan.stats[2 * i + 1] = -std::numeric_limits<float>::infinity();
    }
  }
  plan.ownedBytes += static_cast<int64_t>(plan.arenaBytes + plan.scratchBytes);
}

void updateRange(float *range, const float *data, size_t count) {
  float lo = range[0], hi = range[1];
#pragma omp parallel for reduction(min : lo) reduction(max : hi) if (count >= (1 << 16))
  for (size_t i = 0; i < count; i++) {
    lo = std::min(lo, data[i]);
    hi = std::max(hi, data[i]);
  }
  range[0] = lo;
  range[1] = hi;
}

void run(Plan &plan, float *input, float *output) {
  plan.userInput.set_data_handle(input);
  plan.userOutput.set_data_handle(output);
  if (plan.calibrate) {
    updateRange(&plan.stats[0], input, plan.userInput.get_desc().get_size() / sizeof(float));
  }
  for (Step &step : plan.steps) {
    if (step.zero.storage >= 0) {
      plan.stream.wait();
      std::memset(plan.arena.get() + plan.storages[step.zero.storage].arenaOffset + step.zero.offset, 0,
                  step.zero.desc.get_size());
    }
    if (step.hasPrimitive) step.primitive.execute(plan.stream, step.bound);
    if (step.statsTensor >= 0) {
      plan.stream.wait();
      Tensor &t = plan.tensors[step.statsTensor];
      t.statsReorder.execute(plan.stream, t.statsSrc, t.statsDst);
      plan.stream.wait();
      updateRange(&plan.stats[2 * step.statsTensor], static_cast<float *>(t.statsDst.get_data_handle()),
                  t.statsDst.get_desc().get_size() / sizeof(float));
    }
  }
  plan.stream.wait();
  plan.runs++;
}

/** The index of the first NaN or infinity in data[0, count), or -1. */
int64_t firstNonFinite(const float *data, int64_t count) {
  // x - x is 0 for every finite x and NaN otherwise: one vectorized pass for the common all-finite case.
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < count; i++) sum += data[i] - data[i];
  if (sum == 0.f) return -1;
  for (int64_t i = 0; i < count; i++) {
    if (!std::isfinite(data[i])) return i;
  }
  return -1;
}

// ---- The JS side: a handle object holding an External whose finalizer frees the plan.

struct PlanBox {
  std::unique_ptr<Plan> plan;
};

PlanBox &boxArg(const Napi::CallbackInfo &info, const char *function) {
  if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().Has("plan")) {
    throw PlanError(std::string(function) + ": argument 0 must be a plan from planCreate");
  }
  Napi::Value inner = info[0].As<Napi::Object>().Get("plan");
  if (!inner.IsExternal()) throw PlanError(std::string(function) + ": argument 0 must be a plan from planCreate");
  return *inner.As<Napi::External<PlanBox>>().Data();
}

Plan &livePlan(const Napi::CallbackInfo &info, const char *function) {
  PlanBox &box = boxArg(info, function);
  if (!box.plan) throw PlanError(std::string(function) + ": the plan was released");
  return *box.plan;
}

/** Runs `body`, turning PlanError into a JS Error with exactly its message. */
template <class Body>
Napi::Value guarded(const Napi::CallbackInfo &info, Body body) {
  try {
    return body();
  } catch (const PlanError &e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

Napi::Value PlanCreate(const Napi::CallbackInfo &info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsObject()) throw PlanError("planCreate: argument 0 must be a PlanSpec");
    auto plan = std::make_unique<Plan>();
    const Napi::Object spec = info[0].As<Napi::Object>();
    buildPlan(spec, *plan);
    finish(*plan);
    const int64_t bytes = plan->ownedBytes;
    Napi::Env env = info.Env();
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
    auto *box = new PlanBox{std::move(plan)};
    auto external = Napi::External<PlanBox>::New(env, box, [](Napi::Env env, PlanBox *box) {
      if (box->plan) Napi::MemoryManagement::AdjustExternalMemory(env, -box->plan->ownedBytes);
      delete box;
    });
    Napi::Object handle = Napi::Object::New(env);
    handle.Set("plan", external);
    return handle;
  });
}
INCEPTION_EXPORT("planCreate", PlanCreate);

Napi::Value PlanRun(const Napi::CallbackInfo &info) {
  return guarded(info, [&]() -> Napi::Value {
    Plan &plan = livePlan(info, "planRun");
    auto array = [&](size_t index, const char *what, size_t expected) {
      if (index >= info.Length() || !info[index].IsTypedArray() ||
          info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
        throw PlanError(std::string("planRun: ") + what + " must be a Float32Array");
      }
      auto a = info[index].As<Napi::Float32Array>();
      if (a.ElementLength() != expected) {
        throw PlanError(std::string("planRun: ") + what + " has " + std::to_string(a.ElementLength()) +
                        " values, expected " + std::to_string(expected) + " (batch " + std::to_string(plan.batch) +
                        " x " + shapeText(what[0] == 'i' ? plan.inputShape : plan.outputShape) + ")");
      }
      return a.Data();
    };
    float *input = array(1, "input", plan.batch * product(plan.inputShape));
    float *output = array(2, "output", plan.batch * product(plan.outputShape));
    // ReLU kernels map NaN to 0, so a non-finite input could come out looking like a result.
    if (const int64_t bad = firstNonFinite(input, plan.batch * product(plan.inputShape)); bad >= 0) {
      throw PlanError("planRun: input value " + std::to_string(bad) + " is " + std::to_string(input[bad]));
    }
    run(plan, input, output);
    if (const int64_t bad = firstNonFinite(output, plan.batch * product(plan.outputShape)); bad >= 0) {
      throw PlanError("planRun: output value " + std::to_string(bad) + " is " + std::to_string(output[bad]) +
                      " (the input is finite: the network overflowed)");
    }
    return info.Env().Undefined();
  });
}
INCEPTION_EXPORT("planRun", PlanRun);

Napi::Value PlanStats(const Napi::CallbackInfo &info) {
  return guarded(info, [&]() -> Napi::Value {
    Plan &plan = livePlan(info, "planStats");
    if (!plan.calibrate) throw PlanError("planStats: the plan was created without calibrate");
    if (plan.runs == 0) throw PlanError("planStats: the plan has not run yet");
    auto out = Napi::Float32Array::New(info.Env(), plan.stats.size());
    std::copy(plan.stats.begin(), plan.stats.end(), out.Data());
    return out;
  });
}
INCEPTION_EXPORT("planStats", PlanStats);

Napi::Value PlanInfo(const Napi::CallbackInfo &info) {
  return guarded(info, [&]() -> Napi::Value {
    Plan &plan = livePlan(info, "planInfo");
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("arenaBytes", Napi::Number::New(env, static_cast<double>(plan.arenaBytes)));
    Napi::Array primitives = Napi::Array::New(env);
    uint32_t i = 0;
    for (const Step &step : plan.steps) {
      if (step.hasPrimitive) primitives.Set(i++, step.impl);
    }
    out.Set("primitives", primitives);
    out.Set("layout", plan.layout);
    return out;
  });
}
INCEPTION_EXPORT("planInfo", PlanInfo);

Napi::Value PlanRelease(const Napi::CallbackInfo &info) {
  return guarded(info, [&]() -> Napi::Value {
    PlanBox &box = boxArg(info, "planRelease");
    if (box.plan) {
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -box.plan->ownedBytes);
      box.plan.reset();
    }
    return info.Env().Undefined();
  });
}
INCEPTION_EXPORT("planRelease", PlanRelease);

}  // namespace
}  // namespace plan
}  // namespace inception
