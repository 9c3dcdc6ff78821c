#!/usr/bin/env bash
# Sets up a fresh Debian 12 + Node 20 machine: system libraries (as root), npm packages, the build.
# patchelf and curl are for packing (prebuilt engine) and the consumer test; Open MPI for data-parallel training
# (the inception_mpi addon and its tests).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in libdnnl-dev g++ make python3 chromium python3-onnx python3-h5py python3-torch python3-torchvision patchelf curl openmpi-bin libopenmpi-dev; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: missing Debian packages ${need[*]}: run 'sudo apt-get install ${need[*]}' (continuing without them)" >&2
  fi
fi
# onnxruntime-node must not download CUDA/prebuilt extras at install time: only the registry is reachable.
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
npm run build
