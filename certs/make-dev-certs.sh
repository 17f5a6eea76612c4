#!/usr/bin/env bash
# Makes a development CA plus a server and a client certificate for DICOM TLS tests.
# NOT for production: a site uses certificates from its own PKI.
# Usage: certs/make-dev-certs.sh [OUT_DIR] [SERVER_NAME]
set -euo pipefail
out=${1:-$(dirname "$0")/dev}
name=${2:-localhost}
mkdir -p "$out"
cd "$out"
days=825
# Development CA
openssl req -x509 -newkey rsa:3072 -sha256 -days "$days" -nodes \
  -keyout ca.key -out ca.crt -subj "/CN=Interslice Development CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
issue() { # $1 = file stem, $2 = CN, $3 = extended key usage
  openssl req -newkey rsa:3072 -sha256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\n' "$3" "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue server "$name" serverAuth
issue client "interslice-client" clientAuth
chmod 600 ./*.key
echo "wrote $(pwd): ca.crt ca.key server.crt server.key client.crt client.key"
