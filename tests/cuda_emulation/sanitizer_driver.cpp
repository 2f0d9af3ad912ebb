// Runs the emulated CUDA kernels' launch sequences (jet_forward_cuda, jet_backward_cuda) over every
// kernel and shape family (modulated SIRENs, per network and per point, among them), on host buffers of exactly the sizes the torch glue allocates
// (csrc/cuda/jet_cuda.cpp, csrc/jet_args.cpp), for run_sanitizers.sh: built with AddressSanitizer,
// any access past a buffer, or past a block's shared memory, is reported; with UBSan, undefined
// behaviour; with ThreadSanitizer, two threads of a block touching the same memory between
// barriers. No torch: the driver links the .cu files and the emulation alone.
//
// The launch sequences' GEMMs (library_gemm.h) run on a plain loop here, which reads and writes
// exactly the elements each GEMM's description names: a description reaching past a buffer is an
// AddressSanitizer report like a kernel's stray access.
//
// Results are checked too, so a case that runs without a report but computes garbage still fails:
// outputs and workspace start as NaN (as at::empty leaves them, at worst), so an element a kernel
// forgets to write, or a read of one never written, shows as a non-finite result; the forward's
// value is compared with a double-precision recomputation of the network.
//
// Prints one line per case and "N passed, M failed"; exits non-zero on any failure.
// Usage: sanitizer_driver [NAME_PART] [--except NAME_PART]...: only, or all but, the cases whose
// names contain NAME_PART.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../../csrc/cuda/jet_cuda.h"

namespace {

using siren_fused::JetSpec;
using siren_fused::jet_tile_count;
using siren_fused::jet_tile_rows;
using siren_fused::cuda::BatchedGemm;
using siren_fused::cuda::GemmOperand;
using siren_fused::cuda::JetLayer;
using siren_fused::cuda::JetModulation;
using siren_fused::cuda::JetProblem;
using siren_fused::cuda::ModulationGradients;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// C = A B (+ C), one float32 sum a product in k order: the GEMM library of the launch sequences.
class LoopGemm final : public siren_fused::cuda::GemmLibrary {
 public:
  void multiply(const BatchedGemm& g, cudaStream_t /*stream*/) const override {
    const auto at = [](const GemmOperand& o, int64_t b, int64_t i, int64_t j) {
      return o.data[b * o.batch_stride + (o.transposed ? j * o.ld + i : i * o.ld + j)];
    };
    for (int64_t b = 0; b < g.batch; ++b) {
      for (int64_t i = 0; i < g.m; ++i) {
        for (int64_t j = 0; j < g.n; ++j) {
          float sum = 0.0f;
          for (int64_t kk = 0; kk < g.k; ++kk) sum += at(g.a, b, i, kk) * at(g.b, b, kk, j);
          float& c = g.c[b * g.c_batch_stride + i * g.ldc + j];
          c = g.accumulate ? c + sum : sum;
        }
      }
    }
  }
};

const LoopGemm gemm;

// A modulated SIREN's layout (csrc/modulation_args.h): one network's weights shared by the batch, each
// hidden layer shifted and scaled by a row a network or a row a point.
enum class Modulated { kNo, kPerNetwork, kPerPoint };

struct Case {
  std::string name;
  JetSpec spec;
  std::vector<int64_t> hidden_widths;
  int64_t out_width;
  bool outermost_linear;
  int64_t points;  // N, per network
  int64_t networks = 1;  // B: a batch of networks of this shape, each with its own weights and points
  Modulated modulated = Modulated::kNo;  // else the networks share one network's weights
  bool scaled = true;                    // whether a modulation has scales beside its shifts
};

// A SIREN with the paper's initialisation (first layer U(-1/in, 1/in), later layers
// U(-sqrt(6/in)/omega, sqrt(6/in)/omega)), biases as torch.nn.Linear's, and a different omega a layer.
struct Network {
  std::vector<std::vector<float>> weights;  // [out, in], row-major
  std::vector<std::vector<float>> biases;
  std::vector<int64_t> widths;  // in_dims, then each layer's out_width
  std::vector<float> omegas;
  bool outermost_linear;
  std::vector<float> laplacian_weights;  // mixed signs, where the case's Laplacian is weighted

  int64_t layers() const { return static_cast<int64_t>(weights.size()); }
  bool is_sine(int64_t l) const { return !(outermost_linear && l == layers() - 1); }
};

Network make_network(const Case& c, std::mt19937& rng) {
  Network net;
  net.widths.push_back(c.spec.in_dims);
  net.widths.insert(net.widths.end(), c.hidden_widths.begin(), c.hidden_widths.end());
  net.widths.push_back(c.out_width);
  net.outermost_linear = c.outermost_linear;
  if (c.spec.weighted_laplacian) {
    for (int64_t k = 0; k < c.spec.in_dims; ++k) net.laplacian_weights.push_back(k % 2 == 0 ? 1.5f - k : -0.75f);
  }
  for (size_t l = 0; l + 1 < net.widths.size(); ++l) {
    const int64_t in = net.widths[l];
    const int64_t out = net.widths[l + 1];
    const float omega = l == 0 ? 30.0f : 20.0f + 5.0f * static_cast<float>(l);
    const double weight_bound = l == 0 ? 1.0 / in : std::sqrt(6.0 / in) / omega;
    const double bias_bound = 1.0 / std::sqrt(static_cast<double>(in));
    std::uniform_real_distribution<float> weight(-weight_bound, weight_bound), bias(-bias_bound, bias_bound);
    net.weights.emplace_back(out * in);
    net.biases.emplace_back(out);
    for (float& w : net.weights.back()) w = weight(rng);
    for (float& b : net.biases.back()) b = bias(rng);
    net.omegas.push_back(omega);
  }
  return net;
}

// The case's B networks, and their parameters stacked as the glue hands them: weights[l] is
// [B, out, in] and biases[l] [B, out], contiguous; a modulated case's networks are one network,
// whose [out, in] and [out] are shared, and each hidden layer's shifts and scales [rows, width].
struct Batch {
  std::vector<Network> nets;
  std::vector<std::vector<float>> weights;
  std::vector<std::vector<float>> biases;
  Modulated modulated = Modulated::kNo;
  std::vector<std::vector<float>> shifts;  // rows: the networks, or the points
  std::vector<std::vector<float>> scales;  // empty without scales

  const Network& first() const { return nets.front(); }
  int64_t size() const { return static_cast<int64_t>(nets.size()); }
  // The modulation row of network b's point p in a hidden layer.
  int64_t modulation_row(int64_t b, int64_t p) const { return modulated == Modulated::kPerPoint ? p : b; }
};

Batch make_batch(const Case& c, std::mt19937& rng) {
  Batch batch;
  batch.modulated = c.modulated;
  for (int64_t b = 0; b < c.networks; ++b) {
    batch.nets.push_back(c.modulated == Modulated::kNo || b == 0 ? make_network(c, rng) : batch.first());
  }
  const int64_t stacked = c.modulated == Modulated::kNo ? batch.size() : 1;
  for (int64_t l = 0; l < batch.first().layers(); ++l) {
    batch.weights.emplace_back();
    batch.biases.emplace_back();
    for (int64_t b = 0; b < stacked; ++b) {
      const Network& net = batch.nets[b];
      batch.weights[l].insert(batch.weights[l].end(), net.weights[l].begin(), net.weights[l].end());
      batch.biases[l].insert(batch.biases[l].end(), net.biases[l].begin(), net.biases[l].end());
    }
  }
  if (c.modulated == Modulated::kNo) return batch;
  const int64_t rows = c.modulated == Modulated::kPerPoint ? c.points : c.networks;
  std::uniform_real_distribution<float> shift(-0.5f, 0.5f), scale(0.5f, 1.5f);
  for (int64_t l = 0; l + 1 < batch.first().layers(); ++l) {
    const size_t elements = rows * batch.first().widths[l + 1];
    batch.shifts.emplace_back(elements);
    for (float& value : batch.shifts.back()) value = shift(rng);
    if (!c.scaled) continue;
    batch.scales.emplace_back(elements);
    for (float& value : batch.scales.back()) value = scale(rng);
  }
  return batch;
}

JetProblem problem_of(const Case& c, const Batch& batch) {
  const Network& net = batch.first();  // the shapes, omegas and Laplacian weights every network shares
  JetProblem problem{c.spec, c.spec.weighted_laplacian ? net.laplacian_weights.data() : nullptr, c.points, 0, {},
                     batch.size()};
  for (int64_t l = 0; l < net.layers(); ++l) {
    JetModulation modulation{};
    if (static_cast<size_t>(l) < batch.shifts.size()) {
      const int64_t width = net.widths[l + 1];
      const bool per_point = batch.modulated == Modulated::kPerPoint;
      modulation = {batch.shifts[l].data(), batch.scales.empty() ? nullptr : batch.scales[l].data(),
                    per_point ? 0 : width, per_point ? width : 0};
    }
    problem.layers.push_back({batch.weights[l].data(), batch.biases[l].data(), net.widths[l], net.widths[l + 1],
                              net.omegas[l], net.is_sine(l), batch.modulated != Modulated::kNo, modulation});
  }
  problem.tile_rows = jet_tile_rows(c.spec.components(), problem.max_width());
  return problem;
}

// Values in [-1, -0.05] or [0.05, 1]: random, and never zero.
std::vector<float> nonzero_uniform(size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> magnitude(0.05f, 1.0f);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> values(count);
  for (float& v : values) v = negative(rng) ? -magnitude(rng) : magnitude(rng);
  return values;
}

// Network b's value at its point p, h, in double precision (modulated where the batch is).
std::vector<double> reference_value(const Batch& batch, int64_t b, int64_t p, std::vector<double> h) {
  const Network& net = batch.nets[b];
  for (int64_t l = 0; l < net.layers(); ++l) {
    const int64_t in = net.widths[l];
    std::vector<double> z(net.biases[l].begin(), net.biases[l].end());
    const bool modulated = static_cast<size_t>(l) < batch.shifts.size();
    const int64_t row = batch.modulation_row(b, p) * static_cast<int64_t>(z.size());
    for (size_t j = 0; j < z.size(); ++j) {
      for (int64_t k = 0; k < in; ++k) z[j] += static_cast<double>(net.weights[l][j * in + k]) * h[k];
      if (modulated) {
        z[j] = (batch.scales.empty() ? 1.0 : batch.scales[l][row + j]) * z[j] + batch.shifts[l][row + j];
      }
      if (net.is_sine(l)) z[j] = std::sin(net.omegas[l] * z[j]);
    }
    h = std::move(z);
  }
  return h;
}

// Buffers shaped as the glue allocates them: one [B, tiles, components, tile_rows, width]
// pre-activation jet per sine layer, NaN-filled.
std::vector<std::vector<float>> saved_buffers(const JetProblem& problem) {
  std::vector<std::vector<float>> saved;
  const int64_t tiles = jet_tile_count(problem.num_points, problem.tile_rows);
  for (const JetLayer& layer : problem.layers) {
    if (layer.sine) {
      saved.emplace_back(problem.networks * tiles * problem.spec.components() * problem.tile_rows * layer.out_width,
                         kNaN);
    }
  }
  return saved;
}

template <typename T>
std::vector<T*> pointers(std::vector<std::vector<float>>& buffers) {
  std::vector<T*> result;
  for (auto& buffer : buffers) result.push_back(buffer.data());
  return result;
}

// Failures of one case, collected as text.
struct Verdict {
  std::string failures;
  void fail(const std::string& why) { failures += (failures.empty() ? "" : "; ") + why; }
  bool launched(cudaError_t err, const char* what) {
    if (err != cudaSuccess) fail(std::string(what) + ": " + cudaGetErrorString(err));
    return err == cudaSuccess;
  }
  void expect_finite(const std::vector<float>& values, const std::string& what) {
    for (size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) return fail(what + "[" + std::to_string(i) + "] = " + std::to_string(values[i]));
    }
  }
};

// Forward without and with saved pre-activations; returns the saved buffers for the backward.
std::vector<std::vector<float>> check_forward(const Case& c, const Batch& batch, const JetProblem& problem,
                                              const std::vector<float>& x, Verdict& verdict) {
  const int64_t components = c.spec.components();
  const size_t out_elements = batch.size() * components * c.points * c.out_width;
  std::vector<float> workspace(siren_fused::cuda::jet_forward_workspace_elements(problem), kNaN);
  std::vector<float> out(out_elements, kNaN);
  if (!verdict.launched(siren_fused::cuda::jet_forward_cuda(problem, gemm, x.data(), out.data(), {}, workspace.data(),
                                                            nullptr),
                        "forward")) {
    return {};
  }
  std::vector<std::vector<float>> saved = saved_buffers(problem);
  std::vector<float> out_saving(out_elements, kNaN);
  std::fill(workspace.begin(), workspace.end(), kNaN);
  if (!verdict.launched(siren_fused::cuda::jet_forward_cuda(problem, gemm, x.data(), out_saving.data(),
                                                            pointers<float>(saved), workspace.data(), nullptr),
                        "forward saving")) {
    return {};
  }
  verdict.expect_finite(out, "out");
  for (size_t s = 0; s < saved.size(); ++s) verdict.expect_finite(saved[s], "saved" + std::to_string(s));
  if (out != out_saving) verdict.fail("the forward's output changes when it saves pre-activations");

  // float32 through sines of omega 30 loses a few ulps of the pre-activation a layer.
  constexpr double kTolerance = 2e-4;
  double worst = 0.0;
  for (int64_t b = 0; b < batch.size(); ++b) {  // network b: its own weights at its own points
    const float* value = out.data() + b * components * c.points * c.out_width;
    for (int64_t p = 0; p < c.points; ++p) {
      const float* point = x.data() + (b * c.points + p) * c.spec.in_dims;
      const std::vector<double> expected =
          reference_value(batch, b, p, std::vector<double>(point, point + c.spec.in_dims));
      for (int64_t j = 0; j < c.out_width; ++j) {
        worst = std::max(worst, std::abs(value[p * c.out_width + j] - expected[j]) / (1.0 + std::abs(expected[j])));
      }
    }
  }
  if (!(worst <= kTolerance)) verdict.fail("value off the double-precision network by " + std::to_string(worst));
  return saved;
}

// At order 0 the jet is the value alone, so grad_x is grad_out's product with the value's
// Jacobian: checked against central differences of each double-precision network.
void check_value_input_grad(const Batch& batch, const std::vector<float>& x, const std::vector<float>& grad_out,
                            const std::vector<float>& grad_x, Verdict& verdict) {
  const int64_t d_count = batch.first().widths.front(), out_width = batch.first().widths.back();
  const size_t points_per_network = x.size() / d_count / batch.size();
  constexpr double kStep = 1e-5;
  std::vector<double> expected(grad_x.size());
  double scale = 0.0;
  for (size_t p = 0; p * d_count < x.size(); ++p) {  // p: a point of every network's, network-major
    const int64_t network = p / points_per_network, point = p % points_per_network;
    for (int64_t d = 0; d < d_count; ++d) {
      std::vector<double> sides[2];
      for (int side = 0; side < 2; ++side) {
        std::vector<double> shifted(x.begin() + p * d_count, x.begin() + (p + 1) * d_count);
        shifted[d] += side == 0 ? kStep : -kStep;
        sides[side] = reference_value(batch, network, point, shifted);
      }
      double& g = expected[p * d_count + d];
      for (int64_t j = 0; j < out_width; ++j) {
        g += grad_out[p * out_width + j] * (sides[0][j] - sides[1][j]) / (2 * kStep);
      }
      scale = std::max(scale, std::abs(g));
    }
  }
  for (size_t i = 0; i < grad_x.size(); ++i) {
    if (!(std::abs(grad_x[i] - expected[i]) <= 1e-3 * scale)) {
      return verdict.fail("grad_x[" + std::to_string(i) + "] = " + std::to_string(grad_x[i]) +
                          ", central differences give " + std::to_string(expected[i]));
    }
  }
}

// Backward with and without grad_x: the parameter gradients (a modulated case's shift and scale
// gradients among them) are sums in a fixed order (no atomics), the same bits either way.
void check_backward(const Case& c, const Batch& batch, const JetProblem& problem, const std::vector<float>& x,
                    std::vector<std::vector<float>>& saved, std::mt19937& rng, Verdict& verdict) {
  const Network& net = batch.first();
  const std::vector<float> grad_out = nonzero_uniform(batch.size() * c.spec.components() * c.points * c.out_width, rng);
  std::vector<std::vector<float>> first_parameter_grads;
  for (const bool input_grad : {true, false}) {
    // Zeroed, as zero_grads and ModulationGrads::zeros_for leave them: per layer, the weight's and the bias's,
    // then per modulated layer the shift's and (with scales) the scale's.
    std::vector<std::vector<float>> parameter_grads;
    std::vector<std::string> names;
    for (int64_t l = 0; l < net.layers(); ++l) {
      parameter_grads.emplace_back(batch.weights[l].size(), 0.0f);
      parameter_grads.emplace_back(batch.biases[l].size(), 0.0f);
      names.insert(names.end(), {"grad_weight" + std::to_string(l), "grad_bias" + std::to_string(l)});
    }
    for (size_t l = 0; l < batch.shifts.size(); ++l) {
      parameter_grads.emplace_back(batch.shifts[l].size(), 0.0f);
      names.push_back("grad_shift" + std::to_string(l));
      if (batch.scales.empty()) continue;
      parameter_grads.emplace_back(batch.scales[l].size(), 0.0f);
      names.push_back("grad_scale" + std::to_string(l));
    }
    std::vector<float*> grad_weights, grad_biases;
    for (int64_t l = 0; l < net.layers(); ++l) {
      grad_weights.push_back(parameter_grads[2 * l].data());
      grad_biases.push_back(parameter_grads[2 * l + 1].data());
    }
    std::vector<ModulationGradients> grad_modulations;
    if (!batch.shifts.empty()) grad_modulations.assign(net.layers(), {nullptr, nullptr});
    for (size_t l = 0, next = 2 * net.layers(); l < batch.shifts.size(); ++l) {
      grad_modulations[l].shift = parameter_grads[next++].data();
      if (!batch.scales.empty()) grad_modulations[l].scale = parameter_grads[next++].data();
    }
    std::vector<float> grad_x(input_grad ? x.size() : 0, kNaN);
    std::vector<float> workspace(siren_fused::cuda::jet_backward_workspace_elements(problem), kNaN);
    const char* what = input_grad ? "backward with grad_x" : "backward";
    if (!verdict.launched(siren_fused::cuda::jet_backward_cuda(problem, gemm, grad_out.data(), x.data(),
                                                               pointers<const float>(saved),
                                                               input_grad ? grad_x.data() : nullptr, grad_weights,
                                                               grad_biases, grad_modulations, workspace.data(),
                                                               nullptr),
                          what)) {
      return;
    }
    verdict.expect_finite(grad_x, "grad_x");
    if (input_grad && c.spec.order == 0) check_value_input_grad(batch, x, grad_out, grad_x, verdict);
    for (size_t i = 0; i < parameter_grads.size(); ++i) verdict.expect_finite(parameter_grads[i], names[i]);
    if (first_parameter_grads.empty()) {
      first_parameter_grads = parameter_grads;
    } else if (parameter_grads != first_parameter_grads) {
      verdict.fail("the parameter gradients change without grad_x");
    }
  }
}

bool run_case(const Case& c, uint32_t seed) {
  const auto start = std::chrono::steady_clock::now();
  std::mt19937 rng(seed);
  const Batch batch = make_batch(c, rng);
  const JetProblem problem = problem_of(c, batch);
  const std::vector<float> x = nonzero_uniform(c.networks * c.points * c.spec.in_dims, rng);
  Verdict verdict;
  std::vector<std::vector<float>> saved = check_forward(c, batch, problem, x, verdict);
  if (verdict.failures.empty()) check_backward(c, batch, problem, x, saved, rng, verdict);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s %-40s %5.1f s  %s, B=%lld, N=%lld, tiles=%lld of %lld rows, chunks=%lld%s%s\n",
              verdict.failures.empty() ? "ok  " : "FAIL", c.name.c_str(), seconds,
              siren_fused::cuda::jet_forward_fused_supported(problem) ? "fused" : "per-layer",
              static_cast<long long>(c.networks), static_cast<long long>(c.points),
              static_cast<long long>(problem.tiles()), static_cast<long long>(problem.tile_rows),
              static_cast<long long>(((problem.tiles() + problem.chunk_tiles() - 1) / problem.chunk_tiles()) *
                                     ((problem.networks + problem.chunk_networks() - 1) / problem.chunk_networks())),
              verdict.failures.empty() ? "" : ": ", verdict.failures.c_str());
  std::fflush(stdout);
  return verdict.failures.empty();
}

// Points filling `full_tiles` tiles of the case's layout and 3 rows of one more.
Case past_full_tiles(Case c, int64_t full_tiles) {
  int64_t max_width = std::max(c.spec.in_dims, c.out_width);
  for (int64_t width : c.hidden_widths) max_width = std::max(max_width, width);
  c.points = full_tiles * jet_tile_rows(c.spec.components(), max_width) + 3;
  return c;
}

// Points filling one chunk (JetProblem::chunk_tiles) and 3 rows of a second.
Case past_one_chunk(Case c) {
  c.points = std::numeric_limits<int32_t>::max();
  std::mt19937 rng;
  const JetProblem problem = problem_of(c, make_batch(c, rng));
  return past_full_tiles(c, problem.chunk_tiles());
}

std::vector<Case> all_cases() {
  const JetSpec laplacian2{2, 2, false};
  std::vector<Case> cases;
  // The whole-network kernel at each padded width and one past it; from 64 on, past a full tile,
  // so a block's points straddle two tiles of the saved layout.
  for (int64_t width : {16, 17, 32, 33, 64, 65, 128}) {
    cases.push_back(past_full_tiles({"fused width " + std::to_string(width), laplacian2, {width, width}, 3, true, 0},
                                    width >= 64 ? 1 : 0));
  }
  // The per-layer path: wider than the fused kernel's 128.
  for (int64_t width : {129, 161}) {
    cases.push_back({"per-layer width " + std::to_string(width), laplacian2, {width, width}, 3, true, 37});
  }
  // Several tiles of stacked rows: the weight gradient's GEMM sums over all of them.
  cases.push_back(past_full_tiles({"per-layer width 256", laplacian2, {256, 256}, 3, true, 0}, 4));
  // Every jet shape; D > 3 with derivatives falls back to the per-layer path.
  for (int64_t d : {1, 2, 3, 4}) {
    for (const JetSpec spec : {JetSpec{d, 0, false}, JetSpec{d, 1, false}, JetSpec{d, 2, false}, JetSpec{d, 2, true}}) {
      const std::string shape = spec.order < 2 ? "order " + std::to_string(spec.order)
                                               : (spec.hessian ? "Hessian" : "Laplacian");
      const bool sine_last = (d + spec.order) % 2 == 0;
      cases.push_back({"D=" + std::to_string(d) + " " + shape + (sine_last ? ", sine last" : ", linear last"), spec,
                       {32, 24}, 2 + d % 2, !sine_last, 23});
    }
  }
  const JetSpec weighted3{3, 2, false, true};
  cases.push_back({"D=3 weighted Laplacian, fused", weighted3, {32, 24}, 2, true, 23});
  cases.push_back({"D=3 weighted Laplacian, per-layer", weighted3, {129}, 2, false, 23});
  cases.push_back({"N=1 fused", laplacian2, {32}, 2, false, 1});
  cases.push_back({"N=1 per-layer", JetSpec{4, 2, true}, {32}, 2, true, 1});
  cases.push_back({"zero hidden layers, fused", JetSpec{3, 2, true}, {}, 2, false, 9});
  cases.push_back({"zero hidden layers, per-layer", JetSpec{4, 1, false}, {}, 3, true, 9});
  cases.push_back(past_one_chunk({"two chunks, per-layer", JetSpec{6, 2, true}, {}, 256, true, 0}));
  // Large jets (171, 190, 162 and 1891 components a point): the per-layer path keeps no jet in
  // shared memory, so its size is bounded only by the workspace's chunks.
  cases.push_back({"Hessian D=17", JetSpec{17, 2, true}, {16}, 2, true, 5});
  cases.push_back({"Hessian D=18", JetSpec{18, 2, true}, {16}, 2, false, 5});
  cases.push_back({"Laplacian D=160", JetSpec{160, 2, false}, {16}, 2, true, 9});
  cases.push_back({"Hessian D=60", JetSpec{60, 2, true}, {16}, 2, true, 1});
  // Batches of networks, the network a grid dimension of every kernel: the whole-network kernel
  // and the per-layer kernels (weight gradient included) with N not a multiple of the tile rows,
  // and a batch whose networks do not all fit one chunk of the workspace (JetProblem::chunk_networks:
  // 2 networks a chunk here, so 3 networks are 2 chunks, the second holding 1).
  cases.push_back({"batched B=3, fused", laplacian2, {32, 24}, 2, true, 23, 3});
  cases.push_back({"batched B=3, per-layer", JetSpec{2, 2, true}, {129}, 3, false, 23, 3});
  cases.push_back({"batched B=3 in two chunks, per-layer", JetSpec{6, 2, true}, {}, 256, true, 1000, 3});
  // Modulated SIRENs, always per layer: per network (the shared weights' GEMMs over every network's
  // rows, the modulation gradients summed per network), shifts only, per point (each point's own
  // row), and a batch in two chunks (2 networks of 600 points a chunk, as above).
  cases.push_back({"modulated B=3, per network", laplacian2, {32, 24}, 2, true, 23, 3, Modulated::kPerNetwork});
  cases.push_back({"modulated B=3, per network, shifts only", JetSpec{2, 1, false}, {32}, 3, false, 23, 3,
                   Modulated::kPerNetwork, false});
  cases.push_back({"modulated per point", JetSpec{3, 2, true}, {33, 20}, 2, true, 23, 1, Modulated::kPerPoint});
  cases.push_back({"modulated B=3 in two chunks, per network", JetSpec{3, 2, true}, {1024}, 1, true, 600, 3,
                   Modulated::kPerNetwork});
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;                  // a name part every case run must have ("": any)
  std::vector<std::string> excluded;  // name parts no case run may have
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--except" && i + 1 < argc) {
      excluded.push_back(argv[++i]);
    } else {
      only = argv[i];
    }
  }
  const auto selected = [&](const std::string& name) {
    if (name.find(only) == std::string::npos) return false;
    for (const std::string& part : excluded) {
      if (name.find(part) != std::string::npos) return false;
    }
    return true;
  };
  int passed = 0, failed = 0;
  uint32_t seed = 0;
  for (const Case& c : all_cases()) {
    ++seed;  // a case's seed is its place in the list, whichever cases run
    if (!selected(c.name)) continue;
    (run_case(c, seed) ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
