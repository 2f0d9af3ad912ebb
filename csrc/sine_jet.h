// Per-element arithmetic of a second-order jet through y = sin(omega * z).
//
// This header is the one source of the jet arithmetic: the CPU kernels (csrc/cpu) and the CUDA
// kernels (csrc/cuda) both call these functions, so the CPU tests exercise the math the GPU runs.
// It includes no torch header and compiles as plain C++ or as CUDA.
//
// A jet of z at one point holds its value z, its tangents z_k = dz/dx_k (k < D) and a second-order
// part: either the weighted Laplacian sum_k a_k d2z/dx_k^2 (a_k = 1 for the Laplacian itself) or the
// packed upper triangle of the Hessian (k <= l, row-major). With f = sin(omega * .), the chain rule
// gives
//     y     = f(z)
//     y_k   = f'(z) z_k
//     y_kl  = f'(z) z_kl + f''(z) z_k z_l
//     y_lap = f'(z) z_lap + f''(z) sum_k a_k z_k^2
// and the vector-Jacobian products below invert those lines for the backward pass. The weights a_k
// are constants of the operator (the wave equation's u_tt - c^2 (u_xx + u_yy) is a = (1, -c^2, -c^2)),
// not values of the jet: the Laplacian line stays linear in z_lap, so one component carries any
// weighted sum of diagonal second derivatives at the cost of the plain Laplacian.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SIREN_HD __host__ __device__ __forceinline__
#else
// Always inlined on the host: the CPU kernels compile this header once per instruction set
// (csrc/cpu/sine_tile_kernels_*.cpp), and no out-of-line copy may be shared between those.
#define SIREN_HD inline __attribute__((always_inline))
#endif

namespace siren_fused {

// ---------------------------------------------------------------------------------------------
// sincos. On the device, CUDA's accurate sincos. On the host, a branch-free Cody-Waite reduction
// to [-pi/4, pi/4] and minimax polynomials, written so that compilers vectorise a loop over it
// (std::sin/std::cos calls would not vectorise). The reduction is exact while |x| is below
// sincos_host_limit<T>(); callers redo the rare larger arguments with std::sin and std::cos.
// ---------------------------------------------------------------------------------------------
template <typename T> struct SincosHost;

template <> struct SincosHost<float> {
  // pi/2 split so that q * kPio2a and q * kPio2b are exact for the q we allow.
  static constexpr float kPio2a = 1.5703125f;
  static constexpr float kPio2b = 4.837512969970703125e-4f;
  static constexpr float kPio2c = 7.54978995489188216e-8f;
  static constexpr float kTwoOverPi = 0.636619772367581343f;
  static constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr float kLimit = 8192.0f;
  SIREN_HD static float sin_poly(float r, float z) {
    return ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
  }
  SIREN_HD static float cos_poly(float z) {
    return ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z -
           0.5f * z + 1.0f;
  }
};

template <> struct SincosHost<double> {
  static constexpr double kPio2a = 1.57079632673412561417e+00;
  static constexpr double kPio2b = 6.07710050630396597660e-11;
  static constexpr double kPio2c = 2.02226624879595063154e-21;
  static constexpr double kTwoOverPi = 0.636619772367581343076;
  static constexpr double kRoundMagic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double kLimit = 1.0e5;
  SIREN_HD static double sin_poly(double r, double z) {
    const double p = -1.66666666666666324348e-01 +
                     z * (8.33333333332248946124e-03 +
                          z * (-1.98412698298579493134e-04 +
                               z * (2.75573137070700676789e-06 +
                                    z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10))));
    return r + r * z * p;
  }
  SIREN_HD static double cos_poly(double z) {
    const double p = 4.16666666666666019037e-02 +
                     z * (-1.38888888888741095749e-03 +
                          z * (2.48015872894767294178e-05 +
                               z * (-2.75573143513906633035e-07 +
                                    z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11))));
    const double hz = 0.5 * z;
    const double w = 1.0 - hz;
    return w + (((1.0 - w) - hz) + z * z * p);
  }
};

template <typename T>
SIREN_HD T sincos_host_limit() {
  return SincosHost<T>::kLimit;
}

template <typename T>
SIREN_HD void sincos_host(T x, T& s, T& c) {
  using K = SincosHost<T>;
  const T q = (x * K::kTwoOverPi + K::kRoundMagic) - K::kRoundMagic;
  const int32_t quadrant = static_cast<int32_t>(q);
  const T r = ((x - q * K::kPio2a) - q * K::kPio2b) - q * K::kPio2c;
  const T z = r * r;
  const T sp = K::sin_poly(r, z);
  const T cp = K::cos_poly(z);
  const T s1 = (quadrant & 1) ? cp : sp;
  const T c1 = (quadrant & 1) ? sp : cp;
  s = (quadrant & 2) ? -s1 : s1;
  c = ((quadrant + 1) & 2) ? -c1 : c1;
}

template <typename T>
SIREN_HD void sincos_any(T x, T& s, T& c) {
#if defined(__CUDA_ARCH__)
  sincos(x, &s, &c);
#elif defined(SIREN_FUSED_CUDA_EMULATED)
  // The emulated device (csrc/cuda/emulation): libm's sine and cosine, accurate for any argument
  // like the device's sincos.
  s = std::sin(x);
  c = std::cos(x);
#else
  sincos_host(x, s, c);
#endif
}

// ---------------------------------------------------------------------------------------------
// The activation's derivatives at one pre-activation value z.
// ---------------------------------------------------------------------------------------------
template <typename T>
struct SineDerivatives {
  T f0;  // sin(omega z)
  T f1;  // omega cos(omega z)
  T f2;  // -omega^2 sin(omega z)
  T f3;  // -omega^3 cos(omega z)
};

template <typename T>
SIREN_HD SineDerivatives<T> sine_derivatives_from(T s, T c, T omega) {
  const T omega2 = omega * omega;
  return {s, omega * c, -omega2 * s, -omega2 * omega * c};
}

template <typename T>
SIREN_HD SineDerivatives<T> sine_derivatives(T z, T omega) {
  T s, c;
  sincos_any(omega * z, s, c);
  return sine_derivatives_from(s, c, omega);
}

// ---------------------------------------------------------------------------------------------
// Forward rule, one component at a time.
// ---------------------------------------------------------------------------------------------
template <typename T>
SIREN_HD T jet_tangent(const SineDerivatives<T>& d, T z_k) {
  return d.f1 * z_k;
}

template <typename T>
SIREN_HD T jet_hessian_entry(const SineDerivatives<T>& d, T z_kl, T z_k, T z_l) {
  return d.f1 * z_kl + d.f2 * z_k * z_l;
}

// weighted_tangent_sq_sum: sum_k a_k z_k^2.
template <typename T>
SIREN_HD T jet_laplacian(const SineDerivatives<T>& d, T z_lap, T weighted_tangent_sq_sum) {
  return d.f1 * z_lap + d.f2 * weighted_tangent_sq_sum;
}

// ---------------------------------------------------------------------------------------------
// Vector-Jacobian products: given the upstream gradients g of the outputs (y, y_k, y_kl or
// y_lap), the gradient with respect to each input component (z, z_k, z_kl or z_lap).
// The contributions to g_z and g_{z_k} are sums, so they are given as terms to accumulate.
// ---------------------------------------------------------------------------------------------

// d/dz_kl of y_kl, d/dz_lap of y_lap, d/dz_k of y_k: all f'(z).
template <typename T>
SIREN_HD T jet_linear_part_vjp(const SineDerivatives<T>& d, T g) {
  return d.f1 * g;
}

// Term of g_z from y and the tangents: f'(z) g_y + f''(z) sum_k z_k g_{y_k} (pass the sum).
template <typename T>
SIREN_HD T jet_value_vjp_first(const SineDerivatives<T>& d, T g_y, T tangent_dot_grad) {
  return d.f1 * g_y + d.f2 * tangent_dot_grad;
}

// Term of g_z from the Laplacian: (f''(z) z_lap + f'''(z) sum_k a_k z_k^2) g_{y_lap}.
template <typename T>
SIREN_HD T jet_value_vjp_laplacian(const SineDerivatives<T>& d, T z_lap, T weighted_tangent_sq_sum, T g_lap) {
  return (d.f2 * z_lap + d.f3 * weighted_tangent_sq_sum) * g_lap;
}

// Term of g_z from one Hessian entry: (f''(z) z_kl + f'''(z) z_k z_l) g_{y_kl}.
template <typename T>
SIREN_HD T jet_value_vjp_hessian(const SineDerivatives<T>& d, T z_kl, T z_k, T z_l, T g_kl) {
  return (d.f2 * z_kl + d.f3 * z_k * z_l) * g_kl;
}

// Term of g_{z_k} from the Laplacian: 2 a_k f''(z) z_k g_{y_lap}.
template <typename T>
SIREN_HD T jet_tangent_vjp_laplacian(const SineDerivatives<T>& d, T a_k, T z_k, T g_lap) {
  return T(2) * a_k * d.f2 * z_k * g_lap;
}

// Term of g_{z_k} from Hessian entry (k, l): f''(z) z_l g_{y_kl}; entry (k, k) counts twice.
template <typename T>
SIREN_HD T jet_tangent_vjp_hessian(const SineDerivatives<T>& d, T z_other, T g_kl) {
  return d.f2 * z_other * g_kl;
}

// ---------------------------------------------------------------------------------------------
// FiLM modulation of a hidden layer (modulated SIRENs, functa's LatentModulatedSiren):
//     y = sin(omega (gamma (W h + b) + beta))
// The sine rule above then takes the jet of u = gamma z + beta for z's: beta is constant in x, so it
// shifts the value component only; gamma multiplies every component. Backward, with g_u the sine
// rule's vector-Jacobian product: g_z = gamma g_u in every component, the shift's gradient sums
// g_u's value component and the scale's sums g_u z over every component (over the rows a
// modulation covers: a network's points, or one point).
// ---------------------------------------------------------------------------------------------
template <typename T>
SIREN_HD T modulated_value(T z, T shift, T scale) {
  return scale * z + shift;
}

// A tangent or second-order component: d(gamma z + beta) = gamma dz.
template <typename T>
SIREN_HD T modulated_derivative(T z_c, T scale) {
  return scale * z_c;
}

// One component's term of the scale's gradient: g_{u_c} z_c.
template <typename T>
SIREN_HD T modulation_scale_vjp(T z_c, T g_c) {
  return g_c * z_c;
}

// ---------------------------------------------------------------------------------------------
// Layout of a jet: components [value, tangents, second-order part], each a [rows, width] block.
// ---------------------------------------------------------------------------------------------
struct JetSpec {
  int64_t in_dims;  // D
  int64_t order;    // 0, 1 or 2; 2 to 4 for a directional jet
  bool hessian;     // order 2 only: packed Hessian instead of the Laplacian
  // Order 2 without the Hessian only: the Laplacian is weighted, sum_k a_k d2/dx_k^2, with the D
  // weights a_k handed to the kernels beside the spec (they read them only when this is set).
  bool weighted_laplacian = false;
  // A directional Taylor jet (taylor_jet.h) when directions > 0: R directions' derivatives below the
  // order, then `top_fields` collapsed weighted sums of their derivatives of the order; its constants
  // (top weights, then directions) are handed to the kernels beside the spec.
  int64_t directions = 0;
  int64_t top_fields = 0;

  SIREN_HD bool directional() const { return directions > 0; }
  // The components after the value that the input jet seeds: the axes, or a directional jet's directions.
  SIREN_HD int64_t tangent_count() const {
    if (directional()) return directions;
    return order >= 1 ? in_dims : 0;
  }
  SIREN_HD int64_t second_count() const {
    if (directional()) return (order - 2) * directions + top_fields;
    if (order < 2) return 0;
    return hessian ? in_dims * (in_dims + 1) / 2 : 1;
  }
  SIREN_HD int64_t components() const { return 1 + tangent_count() + second_count(); }
  SIREN_HD int64_t second_offset() const { return 1 + tangent_count(); }
};

// a_k, the weight of d2/dx_k^2 in the Laplacian: laplacian_weights[k] when `weighted`, else 1
// (laplacian_weights is then not read). The CPU passes `weighted` as a compile-time constant, so
// the plain Laplacian multiplies by nothing; the device passes spec.weighted_laplacian.
template <typename T>
SIREN_HD T laplacian_weight(bool weighted, const T* laplacian_weights, int64_t k) {
  return weighted ? laplacian_weights[k] : T(1);
}

}  // namespace siren_fused
