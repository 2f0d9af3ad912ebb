// Instantiates kernels<T>() of the instruction set named by SIREN_CPU_ISA; included by one
// sine_tile_kernels_*.cpp per instruction set.
#pragma once

#include "sine_adjoint_tile.h"
#include "sine_jet_tile.h"

namespace siren_fused::cpu::SIREN_CPU_ISA {

template <typename T>
SineTileKernels<T> kernels() {
  return {&sine_jet_forward_tile<T>, &sine_jet_vjp_tile<T>,       &sine_jet_forward_vjp_tile<T>,
          &sine_value_tile<T>,       &sine_adjoint_tile<T>,        &sine_adjoint_vjp_tile<T>,
          &sine_value_vjp_tile<T>};
}

template SineTileKernels<float> kernels<float>();
template SineTileKernels<double> kernels<double>();

}  // namespace siren_fused::cpu::SIREN_CPU_ISA
