// Elementwise passes of the sine jet rule over whole spans: the layer epilogue after the forward's
// GEMM (the backward recomputes each layer's input jet with it too), and the rule's vector-Jacobian
// product, through sine_jet_point.cuh's rule or, for a directional jet, taylor_jet.h's (called here, not in
// sine_jet_point.cuh, so the whole-network kernel, which never sees a directional jet, does not compile it in);
// a modulated SIREN's hidden layers take their FiLM modulation in both, with sine_jet.h's arithmetic.
// One thread a (point, column), consecutive threads on consecutive columns, so every
// component's loads and stores coalesce; each reads its GEMM result once.
#include "../taylor_jet.h"
#include "jet_kernels.cuh"
#include "sine_jet_point.cuh"

namespace siren_fused::cuda {

namespace {

constexpr int kThreads = 256;

// Where (point, column) `index` of a span lives in a tiled buffer of this width.
struct TiledElement {
  int64_t tile;
  int64_t row;
  int64_t col;
  int64_t offset;     // of its value component
  int64_t component;  // stride between its components

  SIREN_HD TiledElement(const TileSpan& span, int64_t index, int64_t width)
      : tile(index / width / span.tile_rows),
        row(index / width % span.tile_rows),
        col(index % width),
        offset(span.tiled_row(tile, 0, row) * width + col),
        component(span.tile_rows * width) {}
};

// The pre-activation jet z of element e of network `network` (value: its value component, the bias added) as the
// sine rule reads it: modulated where the layer is (sine_jet.h), but not on padding rows, which have no
// modulation's row (the CPU leaves them unmodulated too).
__device__ PointJet<float> rule_argument(const JetModulation& m, const TileSpan& span, int64_t network,
                                         const TiledElement& e, float value, const float* z) {
  if (!m.modulated() || !span.valid(e.tile, e.row)) return {value, z, e.component, 1.0f};
  const int64_t at = m.row(network, span.point(e.tile, e.row)) + e.col;
  const float scale = m.scale == nullptr ? 1.0f : m.scale[at];
  return {modulated_value(value, m.shift[at], scale), z, e.component, scale};
}

// Grid: x over the span's points x width, y over its networks.
__global__ void jet_epilogue_kernel(JetEpilogueArgs args) {
  const TileSpan& span = args.span;
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= span.span_points() * args.width) return;
  const int64_t network = blockIdx.y;
  const TiledElement e(span, index, args.width);
  const float* z = args.z.of(network) + e.offset;
  float value = z[0];
  if (args.bias.data != nullptr) value += args.bias.of(network)[e.col];
  if (args.saved_value.data != nullptr) args.saved_value.of(network)[e.offset] = value;
  const JetMatrix<float> out = args.out.of_network(network);
  if (out.packed && !span.valid(e.tile, e.row)) return;
  float* y = out.data + out.offset(span, e.tile, e.row, e.col);
  const int64_t y_stride = out.component_stride(span);
  if (args.sine && args.spec.directional()) {
    const SineDerivatives<float> d = sine_derivatives(value, args.omega);
    with_taylor_order(args.spec, [&](auto order) {
      taylor_jet_forward_point<decltype(order)::value>(args.spec, args.laplacian_weights, d, args.omega, z,
                                                       e.component, y, y_stride);
    });
  } else if (args.sine) {
    sine_jet_forward_point(args.spec, args.laplacian_weights, args.omega,
                           rule_argument(args.modulation, span, network, e, value, z), y, y_stride);
  } else {
    y[0] = value;
    for (int64_t c = 1; c < args.out_components; ++c) y[c * y_stride] = z[c * e.component];
  }
}

// The modulation's VJP at element e (JetVjpArgs): gz holds g_u, the sine rule's VJP at the modulated jet u of
// z, and becomes g_z = gamma g_u; rows (the element's shift and scale rows, e.component apart) get its shares of
// the shift's and the scale's gradients.
__device__ void modulation_vjp_point(const PointJet<float>& u, const float* z, int64_t components, int64_t stride,
                                     float* gz, float* rows) {
  rows[0] = gz[0];
  float scale_grad = 0.0f;
  for (int64_t c = 0; c < components; ++c) {
    scale_grad += modulation_scale_vjp(z[c * stride], gz[c * stride]);
    gz[c * stride] = modulated_derivative(gz[c * stride], u.scale);
  }
  rows[stride] = scale_grad;
}

// Grid: x over the span's points x width, y over its networks.
__global__ void jet_vjp_kernel(JetVjpArgs args) {
  const TileSpan& span = args.span;
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= span.span_points() * args.width) return;
  const int64_t network = blockIdx.y;
  const TiledElement e(span, index, args.width);
  float* gz = args.grad_z + network * span.tiled_stride(args.width) + e.offset;
  const int64_t components = span.components;
  float* rows = nullptr;  // the element's modulation rows, where modulated (same tile rows and width: same offsets)
  if (args.modulation.modulated()) {
    const TileSpan rows_span = modulation_rows_span(span);
    rows = args.modulation_rows + network * rows_span.tiled_stride(args.width) +
           rows_span.tiled_row(e.tile, 0, e.row) * args.width + e.col;
  }
  if (!span.valid(e.tile, e.row)) {
    // Padding rows get zero gradient, so the GEMMs over stacked rows may include them.
    for (int64_t c = 0; c < components; ++c) gz[c * e.component] = 0.0f;
    if (rows != nullptr) rows[0] = rows[e.component] = 0.0f;
    return;
  }
  const JetMatrix<const float> upstream = args.upstream.of_network(network);
  const float* g = upstream.data + upstream.offset(span, e.tile, e.row, e.col);
  const int64_t g_stride = upstream.component_stride(span);
  if (args.pre_activation.data != nullptr && args.spec.directional()) {
    const float* z = args.pre_activation.of(network) + e.offset;
    const SineDerivatives<float> d = sine_derivatives(z[0], args.omega);
    with_taylor_order(args.spec, [&](auto order) {
      taylor_jet_vjp_point<decltype(order)::value>(args.spec, args.laplacian_weights, d, args.omega, z, e.component,
                                                   g, g_stride, gz, e.component);
    });
  } else if (args.pre_activation.data != nullptr) {
    const float* z = args.pre_activation.of(network) + e.offset;
    const PointJet<float> u = rule_argument(args.modulation, span, network, e, z[0], z);
    sine_jet_vjp_point(args.spec, args.laplacian_weights, args.omega, u, g, g_stride, gz, e.component);
    if (rows != nullptr) modulation_vjp_point(u, z, components, e.component, gz, rows);
  } else {
    for (int64_t c = 0; c < components; ++c) gz[c * e.component] = g[c * g_stride];
  }
}

// One thread a (point, column) of a span's networks.
dim3 elementwise_grid(const TileSpan& span, int64_t width) {
  return dim3(static_cast<unsigned>(ceil_div(span.span_points() * width, kThreads)),
              static_cast<unsigned>(span.networks));
}

}  // namespace

cudaError_t launch_jet_epilogue(const JetEpilogueArgs& args, cudaStream_t stream) {
  if (args.span.span_points() == 0 || args.span.networks == 0 || args.width == 0) return cudaSuccess;
  // The sine rule writes every component; a copy may stop early (the x gradient takes the value's).
  const bool components_valid = args.sine ? args.out_components == args.span.components
                                          : args.out_components >= 1 && args.out_components <= args.span.components;
  if (!components_valid) return cudaErrorInvalidValue;
  return launch_kernel(jet_epilogue_kernel, elementwise_grid(args.span, args.width), kThreads, 0, stream, args);
}

cudaError_t launch_jet_vjp(const JetVjpArgs& args, cudaStream_t stream) {
  if (args.span.span_points() == 0 || args.span.networks == 0 || args.width == 0) return cudaSuccess;
  return launch_kernel(jet_vjp_kernel, elementwise_grid(args.span, args.width), kThreads, 0, stream, args);
}

}  // namespace siren_fused::cuda
