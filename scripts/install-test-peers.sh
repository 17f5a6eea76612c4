#!/usr/bin/env bash
# Installs the real DICOM peers and tools the tests speak to (Debian packages), plus the
# Python stack the training smoke tests use. Needs root (apt-get). Safe to run twice.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(dcmtk dicom3tools dcm2niix orthanc iproute2 util-linux
      python3-torch python3-numpy python3-scipy python3-nibabel python3-pydicom python3-onnx
      mricron-data ffmpeg chromium)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
