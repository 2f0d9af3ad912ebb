// The CUDA runtime API the launchers and the torch glue call: the real one, or its host emulation
// (emulation/runtime_api.h) in a build without CUDA.
#pragma once

#ifdef SIREN_FUSED_CUDA_EMULATED
#include "emulation/runtime_api.h"
#else
#include <cuda_runtime.h>
#endif
