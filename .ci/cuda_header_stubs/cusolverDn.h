// Stand-in for cuSOLVER's header in the CUDA glue's compile check (.ci/cuda_glue_compile_check.sh): torch's
// CUDA context header declares a cuSOLVER handle getter, which siren_fused never calls.
#pragma once
#include "cusolver_common.h"
typedef struct cusolverDnContext* cusolverDnHandle_t;
