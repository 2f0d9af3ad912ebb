// The arguments every jet op takes, checked once: the torch glue of both the CPU and the CUDA
// kernels calls check_jet_args before touching a pointer.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <vector>

#include "sine_jet.h"

namespace siren_fused {

struct JetArgs {
  at::Tensor x;  // [N, D], contiguous
  std::vector<at::Tensor> weights;  // [out_l, in_l], contiguous
  std::vector<at::Tensor> biases;   // [out_l], contiguous
  std::vector<double> omegas;       // one per layer; unused for a linear last layer
  bool outermost_linear;
  JetSpec spec;

  int64_t layers() const { return static_cast<int64_t>(weights.size()); }
  int64_t num_points() const { return x.size(0); }
  int64_t in_width(int64_t l) const { return weights[l].size(1); }
  int64_t out_width(int64_t l) const { return weights[l].size(0); }
  bool is_sine(int64_t l) const { return !(outermost_linear && l == layers() - 1); }
  int64_t max_width() const;
  int64_t tile_rows() const;
};

// Checks shapes, dtypes, devices and the derivative order, naming the offending argument.
JetArgs check_jet_args(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                       c10::ArrayRef<double> omegas, int64_t order, bool hessian, bool outermost_linear);

// Shapes of the tensors the forward saves for backward: one [tiles, components, tile_rows, width]
// pre-activation jet per sine layer.
std::vector<std::vector<int64_t>> saved_shapes(const JetArgs& args);

}  // namespace siren_fused
