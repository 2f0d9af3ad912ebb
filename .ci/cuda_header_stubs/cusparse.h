// Stand-in for cuSPARSE's header in the CUDA glue's compile check (.ci/cuda_glue_compile_check.sh): torch's
// CUDA context header declares a cuSPARSE handle getter, which siren_fused never calls.
#pragma once
typedef struct cusparseContext* cusparseHandle_t;
