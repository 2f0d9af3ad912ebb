// Stand-in for cuSOLVER's common header in the CUDA glue's compile check (.ci/cuda_glue_compile_check.sh):
// torch's CUDA exceptions header defines a cuSOLVER status check, which siren_fused never uses.
#pragma once
typedef enum { CUSOLVER_STATUS_SUCCESS = 0, CUSOLVER_STATUS_INVALID_VALUE = 3 } cusolverStatus_t;
