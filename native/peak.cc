// The machine's arithmetic peak, measured: a loop of independent multiply-accumulate instructions (no loads,
// no stores) on every OpenMP thread, for the widest instruction the CPU has for a precision (chosen at run
// time, whatever -march the addon was built with). `inception bench` divides each row's GFLOP/s by it.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <stdexcept>
#include <string>

#include "dnnl_common.h"

namespace inception {

namespace {

// More independent accumulators than FMA latency x pipes (4 x 2 on current cores), so the loop is bound by
// throughput, not by the dependency chain of one register.
constexpr int kChains = 12;

struct PeakKernel {
  const char *isa;
  /** Floating-point (or integer) operations of one loop iteration: 2 per multiply-accumulate. */
  double opsPerIteration;
  /** Runs `iterations` iterations; returns a value that depends on every accumulator. */
  float (*run)(int64_t iterations);
};

__attribute__((target("avx512f"))) float fp32Avx512(int64_t iterations) {
  __m512 acc[kChains];
  for (int k = 0; k < kChains; k++) acc[k] = _mm512_set1_ps(0.001f * k);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; i++)
    for (int k = 0; k < kChains; k++) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  __m512 sum = acc[0];
  for (int k = 1; k < kChains; k++) sum = _mm512_add_ps(sum, acc[k]);
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) float fp32Avx2(int64_t iterations) {
  __m256 acc[kChains];
  for (int k = 0; k < kChains; k++) acc[k] = _mm256_set1_ps(0.001f * k);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; i++)
    for (int k = 0; k < kChains; k++) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  __m256 sum = acc[0];
  for (int k = 1; k < kChains; k++) sum = _mm256_add_ps(sum, acc[k]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

/** vdpbf16ps: 16 lanes x 2 bf16 products each, accumulated in fp32. */
__attribute__((target("avx512f,avx512bf16"))) float bf16Avx512(int64_t iterations) {
  __m512 acc[kChains];
  for (int k = 0; k < kChains; k++) acc[k] = _mm512_set1_ps(0.001f * k);
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80);  // bf16 1.0
  const __m512bh b = (__m512bh)_mm512_set1_epi16(0x3380);  // bf16 2^-24
  for (int64_t i = 0; i < iterations; i++)
    for (int k = 0; k < kChains; k++) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
  __m512 sum = acc[0];
  for (int k = 1; k < kChains; k++) sum = _mm512_add_ps(sum, acc[k]);
  return _mm512_reduce_add_ps(sum);
}

/** vpdpbusd: 16 lanes x 4 u8*s8 products each, accumulated in int32. */
__attribute__((target("avx512f,avx512vnni"))) float int8Avx512(int64_t iterations) {
  __m512i acc[kChains];
  for (int k = 0; k < kChains; k++) acc[k] = _mm512_set1_epi32(k);
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(-1);
  for (int64_t i = 0; i < iterations; i++)
    for (int k = 0; k < kChains; k++) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
  __m512i sum = acc[0];
  for (int k = 1; k < kChains; k++) sum = _mm512_add_epi32(sum, acc[k]);
  return static_cast<float>(_mm512_reduce_add_epi32(sum));
}

/** AVX-VNNI (VEX-encoded vpdpbusd, 8 lanes). */
__attribute__((target("avx2,avxvnni"))) float int8AvxVnni(int64_t iterations) {
  __m256i acc[kChains];
  for (int k = 0; k < kChains; k++) acc[k] = _mm256_set1_epi32(k);
  const __m256i a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(-1);
  for (int64_t i = 0; i < iterations; i++)
    for (int k = 0; k < kChains; k++) acc[k] = _mm256_dpbusd_avx_epi32(acc[k], a, b);
  __m256i sum = acc[0];
  for (int k = 1; k < kChains; k++) sum = _mm256_add_epi32(sum, acc[k]);
  int32_t lanes[8];
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(lanes), sum);
  return static_cast<float>(lanes[0] + lanes[7]);
}

/** The widest kernel this CPU runs for `precision`, or none (bf16 without AVX512_BF16, int8 without VNNI). */
bool chooseKernel(const std::string &precision, PeakKernel &kernel) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (precision == "fp32") {
    if (avx512) kernel = {"avx512 vfmadd231ps", kChains * 16 * 2.0, fp32Avx512};
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      kernel = {"avx2 vfmadd231ps", kChains * 8 * 2.0, fp32Avx2};
    else return false;
    return true;
  }
  if (precision == "bf16") {
    if (!(avx512 && __builtin_cpu_supports("avx512bf16"))) return false;
    kernel = {"avx512_bf16 vdpbf16ps", kChains * 32 * 2.0, bf16Avx512};
    return true;
  }
  if (precision == "int8") {
    if (avx512 && __builtin_cpu_supports("avx512vnni")) kernel = {"avx512_vnni vpdpbusd", kChains * 64 * 2.0, int8Avx512};
    else if (__builtin_cpu_supports("avxvnni")) kernel = {"avx_vnni vpdpbusd", kChains * 32 * 2.0, int8AvxVnni};
    else return false;
    return true;
  }
  throw std::invalid_argument("peak: precision must be fp32, bf16 or int8, got " + precision);
}

double threadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

/**
 * Every thread runs `iterations` iterations at once. Returns the summed rate of the threads, each over its
 * own CPU time (operations per second), so that time the threads spent descheduled on a shared machine does
 * not lower the peak; `wallRate` gets the rate over the wall time of the whole round.
 */
double timeParallel(const PeakKernel &kernel, int64_t iterations, float &sink, double &wallRate) {
  float total = 0;
  double rate = 0;
  const double ops = kernel.opsPerIteration * static_cast<double>(iterations);
  const double start = omp_get_wtime();
#pragma omp parallel reduction(+ : total, rate)
  {
    const double cpuStart = threadCpuSeconds();
    total += kernel.run(iterations);
    rate += ops / std::max(1e-9, threadCpuSeconds() - cpuStart);
  }
  wallRate = ops * omp_get_max_threads() / (omp_get_wtime() - start);
  sink += total;
  return rate;
}

}  // namespace

/**
 * fmaPeak(precision: 'fp32' | 'bf16' | 'int8', seconds: number) -> { gflops, wallGflops, isa, threads } |
 * null: the best of five rounds of about `seconds` / 5 each on all OpenMP threads (2 operations per
 * multiply-accumulate), summed over the threads' CPU time (gflops) and over the wall time (wallGflops);
 * null where the CPU has no such instruction.
 */
static Napi::Value FmaPeak(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "fmaPeak(precision, seconds)");
  PeakKernel kernel{};
  if (!chooseKernel(info[0].As<Napi::String>().Utf8Value(), kernel)) return env.Null();
  const double seconds = info[1].As<Napi::Number>().DoubleValue();
  if (!(seconds > 0 && seconds <= 60)) throw Napi::RangeError::New(env, "fmaPeak: seconds must be in (0, 60]");
  float sink = 0;
  double wall = 0;
  // Grow the loop until one round takes a fifth of the budget (and the threads have woken up).
  int64_t iterations = 1 << 14;
  const double opsPerRound = kernel.opsPerIteration * omp_get_max_threads();
  double roundSeconds = 0;
  for (;;) {
    timeParallel(kernel, iterations, sink, wall);
    roundSeconds = opsPerRound * static_cast<double>(iterations) / wall;
    if (roundSeconds >= seconds / 20) break;
    iterations *= 4;
  }
  iterations = static_cast<int64_t>(static_cast<double>(iterations) * (seconds / 5) / roundSeconds) + 1;
  double best = 0, bestWall = 0;
  for (int r = 0; r < 5; r++) {
    best = std::max(best, timeParallel(kernel, iterations, sink, wall));
    bestWall = std::max(bestWall, wall);
  }
  const int threads = omp_get_max_threads();
  Napi::Object result = Napi::Object::New(env);
  result.Set("gflops", best / 1e9);
  result.Set("wallGflops", bestWall / 1e9);
  result.Set("isa", kernel.isa);
  result.Set("threads", threads);
  // Keeps the loops' results observable, so the compiler cannot drop them.
  result.Set("checksum", static_cast<double>(sink));
  return result;
}
INCEPTION_EXPORT("fmaPeak", FmaPeak);

}  // namespace inception
