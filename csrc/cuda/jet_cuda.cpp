// Torch glue of the CUDA kernels: checks the tensors, takes the device guard and the current
// stream, allocates outputs (the CPU kernels' shapes) and workspace, and reports launch errors.
//
// The same glue serves the emulated kernels (csrc/cuda/emulation) in a build without CUDA: there
// the tensors are on the CPU, there is no guard or stream, and the ops are registered under their
// own names (cuda_emulated_jet_forward/backward, cuda_emulated_modulated_jet_forward/backward, for the
// CPU dispatch key) beside the CPU kernels.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cstdlib>
#include <string>

#ifdef SIREN_FUSED_CUDA_EMULATED
#include "emulation/guard_zones.h"
#else
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>  // not ATen/cuda/CUDAContext.h: that pulls in cuBLAS and cuSPARSE headers
#endif

#include "../jet_args.h"
#include "../jet_ops.h"
#include "../modulation_args.h"
#include "jet_cuda.h"

namespace siren_fused::cuda {

namespace {

#ifdef SIREN_FUSED_CUDA_EMULATED
constexpr c10::DeviceType kKernelDevice = c10::DeviceType::CPU;

// Emulated launches run to completion on the calling thread: no device to select, no stream. The
// kernels write every output and the workspace between guard zones (emulation/guard_zones.h), which
// finish() checks, naming a buffer written past.
struct KernelContext {
  explicit KernelContext(const at::Tensor&) {}
  cudaStream_t stream() const { return nullptr; }
  float* output(const std::string& name, const at::Tensor& tensor) {
    return guards.guard(name, tensor.data_ptr<float>(), tensor.numel());
  }
  float* workspace(int64_t elements, const at::TensorOptions&) {
    return guards.guard("the workspace", nullptr, elements);
  }
  void finish() {
    const std::string report = guards.release();
    TORCH_CHECK(report.empty(), "siren_fused's emulated CUDA kernels: ", report);
  }
  cuda_emulation::GuardedBuffers guards;
};
#else
constexpr c10::DeviceType kKernelDevice = c10::DeviceType::CUDA;

struct KernelContext {
  explicit KernelContext(const at::Tensor& x) : guard(x.device()) {}
  cudaStream_t stream() const { return c10::cuda::getCurrentCUDAStream(); }
  float* output(const std::string&, const at::Tensor& tensor) { return tensor.data_ptr<float>(); }
  float* workspace(int64_t elements, const at::TensorOptions& options) {
    workspace_tensor = at::empty({elements}, options);
    return workspace_tensor.data_ptr<float>();
  }
  void finish() {}
  c10::cuda::CUDAGuard guard;
  at::Tensor workspace_tensor;
};
#endif

// SIREN_FUSED_CUDA_WHOLE_NETWORK=0 sends every width through the per-layer path (unset or 1: the
// whole-network kernel where it applies). Read at every call, so one process can time both.
bool whole_network_kernel_allowed() {
  const char* value = std::getenv("SIREN_FUSED_CUDA_WHOLE_NETWORK");
  const std::string choice = value == nullptr ? "" : value;
  TORCH_CHECK(choice.empty() || choice == "0" || choice == "1",
              "SIREN_FUSED_CUDA_WHOLE_NETWORK must be 0, 1 or unset, got '", choice, "'");
  return choice != "0";
}

// Layer l's modulation as the kernels address it (JetModulation), a row a network or a point.
JetModulation modulation_of(const Modulation& modulation, int64_t l) {
  const int64_t width = modulation.shifts[l].size(1);
  return {modulation.shifts[l].data_ptr<float>(), modulation.scaled() ? modulation.scales[l].data_ptr<float>() : nullptr,
          modulation.per_point ? 0 : width, modulation.per_point ? width : 0};
}

// Every network of the batch in one problem: the kernels take the networks as a grid dimension,
// reaching each network's part of a tensor by the contiguous [B, ...] strides JetProblem gives. A
// modulated SIREN's networks share the weights and biases, and its hidden layers carry the modulation.
JetProblem problem_of(const JetArgs& args, const Modulation* modulation) {
  JetProblem problem{args.spec, args.rule_constants_data<float>(), args.num_points(), args.tile_rows(), {},
                     args.networks, whole_network_kernel_allowed(), args.directions_data<float>()};
  for (int64_t l = 0; l < args.layers(); ++l) {
    problem.layers.push_back({args.weights[l].data_ptr<float>(), args.biases[l].data_ptr<float>(), args.in_width(l),
                              args.out_width(l), static_cast<float>(args.omegas[l]), args.is_sine(l),
                              args.shared_parameters,
                              modulation != nullptr && modulation->modulates(l) ? modulation_of(*modulation, l)
                                                                                 : JetModulation{}});
  }
  return problem;
}

void check_cuda(cudaError_t err, const char* what) {
  TORCH_CHECK(err == cudaSuccess, "siren_fused ", what, " CUDA kernel failed: ", cudaGetErrorString(err));
}

// The CUDA kernels' set (csrc/jet_ops.h, which defines the ops' entry points over it).
struct JetKernels {
  static void check(const JetArgs& args) {
    TORCH_CHECK(args.x.device().type() == kKernelDevice, "siren_fused CUDA kernel (", kKernelDevice,
                " tensors) got x on ", args.x.device());
    TORCH_CHECK(args.x.scalar_type() == at::kFloat, "siren_fused's CUDA kernels take float32, got ",
                args.x.scalar_type());
  }
  static std::tuple<at::Tensor, std::vector<at::Tensor>> forward(const JetArgs& args, const Modulation* modulation,
                                                                 bool save);
  static JetGrads backward(const JetArgs& args, const Modulation* modulation, const ModulationGrads& modulation_grads,
                           const at::Tensor& grad_out, at::TensorList saved, const GradRequest& request);
};

std::tuple<at::Tensor, std::vector<at::Tensor>> JetKernels::forward(const JetArgs& args, const Modulation* modulation,
                                                                    bool save) {
  KernelContext context(args.x);
  at::Tensor out = at::empty(args.batch_shape({args.spec.components(), args.num_points(),
                                               args.out_width(args.layers() - 1)}),
                             args.x.options());
  std::vector<at::Tensor> saved;
  if (save) {
    for (const auto& shape : saved_shapes(args)) saved.push_back(at::empty(shape, args.x.options()));
  }
  if (args.num_points() == 0) return {out, saved};

  const JetProblem problem = problem_of(args, modulation);
  float* workspace = context.workspace(jet_forward_workspace_elements(problem), args.x.options());
  std::vector<float*> saved_ptrs;
  for (size_t s = 0; s < saved.size(); ++s) {
    saved_ptrs.push_back(context.output("saved[" + std::to_string(s) + "]", saved[s]));
  }
  check_cuda(jet_forward_cuda(problem, torch_gemm_library(), args.x.data_ptr<float>(), context.output("out", out),
                              saved_ptrs, workspace, context.stream()),
             "jet_forward");
  context.finish();
  return {out, saved};
}

JetGrads JetKernels::backward(const JetArgs& args, const Modulation* modulation,
                              const ModulationGrads& modulation_grads, const at::Tensor& grad_out_in,
                              at::TensorList saved_in, const GradRequest& request) {
  KernelContext context(args.x);
  const std::vector<int64_t> out_shape =
      args.batch_shape({args.spec.components(), args.num_points(), args.out_width(args.layers() - 1)});
  TORCH_CHECK(grad_out_in.sizes() == at::IntArrayRef(out_shape), "grad_out must be ", at::IntArrayRef(out_shape),
              ", got ", grad_out_in.sizes());
  TORCH_CHECK(grad_out_in.scalar_type() == at::kFloat && grad_out_in.device() == args.x.device(),
              "grad_out must be float32 on ", args.x.device(), ", got ", grad_out_in.scalar_type(), " on ",
              grad_out_in.device());
  const std::vector<at::Tensor> saved = check_saved(saved_in, saved_shapes(args), args.x);
  const at::Tensor grad_out = grad_out_in.contiguous();
  const JetGrads grads = zero_grads(args, WeightGradStorage::kRowMajor, request);
  if (args.num_points() == 0) return grads;

  const JetProblem problem = problem_of(args, modulation);
  float* workspace = context.workspace(jet_backward_workspace_elements(problem), args.x.options());
  std::vector<const float*> saved_ptrs;
  for (const at::Tensor& tensor : saved) saved_ptrs.push_back(tensor.data_ptr<float>());
  // Row-major storage: every gradient is the contiguous [B, ...] stack the kernels' strides assume; null
  // where not asked for.
  auto output_or_null = [&](const std::string& name, const at::Tensor& grad) {
    return grad.defined() ? context.output(name, grad) : nullptr;
  };
  std::vector<float*> grad_weight_ptrs, grad_bias_ptrs;
  for (int64_t l = 0; l < args.layers(); ++l) {
    grad_weight_ptrs.push_back(output_or_null("grad_weights[" + std::to_string(l) + "]", grads.weights[l]));
    grad_bias_ptrs.push_back(output_or_null("grad_biases[" + std::to_string(l) + "]", grads.biases[l]));
  }
  // One entry a layer where modulated; the last layer's (never modulated) is left null.
  std::vector<ModulationGradients> grad_modulation_ptrs;
  if (modulation != nullptr) {
    grad_modulation_ptrs.assign(args.layers(), {nullptr, nullptr});
    for (size_t l = 0; l < modulation_grads.shifts.size(); ++l) {
      const std::string layer = "[" + std::to_string(l) + "]";
      grad_modulation_ptrs[l].shift = context.output("grad_shifts" + layer, modulation_grads.shifts[l]);
      if (modulation->scaled()) {
        grad_modulation_ptrs[l].scale = context.output("grad_scales" + layer, modulation_grads.scales[l]);
      }
    }
  }
  check_cuda(jet_backward_cuda(problem, torch_gemm_library(), grad_out.data_ptr<float>(), args.x.data_ptr<float>(),
                               saved_ptrs, request.x ? context.output("grad_x", grads.x) : nullptr, grad_weight_ptrs,
                               grad_bias_ptrs, grad_modulation_ptrs, workspace, context.stream()),
             "jet_backward");
  context.finish();
  return grads;
}

}  // namespace

}  // namespace siren_fused::cuda

using CudaJetOps = siren_fused::JetOps<siren_fused::cuda::JetKernels>;

#ifdef SIREN_FUSED_CUDA_EMULATED
TORCH_LIBRARY_IMPL(siren_fused, CPU, m) {
  m.impl("cuda_emulated_jet_forward", &CudaJetOps::jet_forward);
  m.impl("cuda_emulated_jet_backward", &CudaJetOps::jet_backward);
  m.impl("cuda_emulated_modulated_jet_forward", &CudaJetOps::modulated_jet_forward);
  m.impl("cuda_emulated_modulated_jet_backward", &CudaJetOps::modulated_jet_backward);
}
#else
TORCH_LIBRARY_IMPL(siren_fused, CUDA, m) {
  m.impl("jet_forward", &CudaJetOps::jet_forward);
  m.impl("jet_backward", &CudaJetOps::jet_backward);
  m.impl("modulated_jet_forward", &CudaJetOps::modulated_jet_forward);
  m.impl("modulated_jet_backward", &CudaJetOps::modulated_jet_backward);
}
#endif
