# Sourced by the CUDA compile checks: sets NVCC to nvcc's path ($NVCC if set, else on PATH, else CUDA's
# default place), or exits the check successfully, saying so, where there is none.
NVCC="${NVCC:-$(command -v nvcc || true)}"
if [[ -z "$NVCC" && -x /usr/local/cuda/bin/nvcc ]]; then NVCC=/usr/local/cuda/bin/nvcc; fi
if [[ -z "$NVCC" ]]; then
  echo "$(basename "$0" .sh): nvcc not found, skipping"
  exit 0
fi
