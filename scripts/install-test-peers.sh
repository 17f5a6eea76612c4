#!/usr/bin/env bash
# Installs the real DICOM peers and tools the tests speak to (Debian packages), plus the
# Python stack the training smoke tests use. Safe to run twice; when everything is already
# installed it changes nothing and needs no root. Otherwise apt-get needs root: run it as root
# (a container's root shell has no sudo), or as a user with sudo, which it then uses itself.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(dcmtk dicom3tools dcm2niix orthanc orthanc-dicomweb iproute2 util-linux rsyslog rsyslog-gnutls
      python3-torch python3-numpy python3-scipy python3-nibabel python3-pydicom python3-onnx
      mricron-data ffmpeg chromium postgresql haproxy)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null; then
    echo "installing ${missing[*]} with sudo" >&2
    exec sudo DEBIAN_FRONTEND=noninteractive bash "$(readlink -f "$0")" "$@"
  fi
  echo "$0: missing Debian packages: ${missing[*]}; installing them needs root (run this as root, or install sudo)" >&2
  exit 1
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
