// Concatenation along an axis and its inverse, the split that Concat's gradient uses. Both move rows: a
// tensor of shape [outer, axis, inner] is `outer` rows of axis*inner floats, and each part owns a column
// range of every row. tfjs's cpu SplitV copies these element by element, which dominated a training step.
#include <cstring>

#include "dnnl_common.h"

namespace inception {
namespace {

struct Part {
  float *data;
  int64_t width;   // floats per row in this part
  int64_t offset;  // where its columns start in the whole row
};

/** The parts (arrays of Float32Array) with the row widths they occupy; checks sizes against `rows`. */
std::vector<Part> partsArg(const Napi::CallbackInfo &info, size_t arraysIndex, size_t widthsIndex, int64_t rows) {
  auto arrays = info[arraysIndex].As<Napi::Array>();
  const std::vector<int64_t> widths = intsArg(info, widthsIndex);
  if (arrays.Length() != widths.size()) throw Napi::TypeError::New(info.Env(), "one width per part");
  std::vector<Part> parts;
  int64_t offset = 0;
  for (uint32_t i = 0; i < arrays.Length(); i++) {
    auto array = arrays.Get(i).As<Napi::Float32Array>();
    if (static_cast<int64_t>(array.ElementLength()) != rows * widths[i]) {
      throw Napi::RangeError::New(info.Env(), "part " + std::to_string(i) + " has the wrong size");
    }
    parts.push_back({array.Data(), widths[i], offset});
    offset += widths[i];
  }
  return parts;
}

/** Copies every part's columns between the parts and the whole, in the direction `gather` says. */
void moveRows(float *whole, int64_t rows, const std::vector<Part> &parts, bool gather) {
  int64_t rowWidth = 0;
  for (const Part &p : parts) rowWidth += p.width;
  // Threads only pay off once there is real memory traffic to share.
#pragma omp parallel for schedule(static) if (rows * rowWidth > (1 << 16))
  for (int64_t r = 0; r < rows; r++) {
    float *row = whole + r * rowWidth;
    for (const Part &p : parts) {
      float *part = p.data + r * p.width;
      if (gather) {
        std::memcpy(row + p.offset, part, p.width * sizeof(float));
      } else {
        std::memcpy(part, row + p.offset, p.width * sizeof(float));
      }
    }
  }
}

/** Checks the whole tensor's size against its parts, then moves the rows. */
Napi::Value moveRowsCall(const Napi::CallbackInfo &info, size_t wholeIndex, size_t partsIndex, bool gather) {
  const int64_t rows = intArg(info, 2);
  const std::vector<Part> parts = partsArg(info, partsIndex, 3, rows);
  const F32Array whole = f32Arg(info, wholeIndex);
  const int64_t rowWidth = parts.empty() ? 0 : parts.back().offset + parts.back().width;
  if (static_cast<int64_t>(whole.length) != rows * rowWidth) {
    throw Napi::RangeError::New(info.Env(), "the whole tensor's size does not match its parts");
  }
  moveRows(whole.data, rows, parts, gather);
  return info.Env().Undefined();
}

/** concat(inputs: Float32Array[], out, rows, widths). */
Napi::Value Concat(const Napi::CallbackInfo &info) { return moveRowsCall(info, 1, 0, true); }
INCEPTION_EXPORT("concat", Concat);

/** split(x, outputs: Float32Array[], rows, widths). */
Napi::Value Split(const Napi::CallbackInfo &info) { return moveRowsCall(info, 0, 1, false); }
INCEPTION_EXPORT("split", Split);

}  // namespace
}  // namespace inception
