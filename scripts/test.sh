#!/usr/bin/env bash
# Runs the whole test suite. The DICOM peers (storescp, Orthanc) cannot be bound to one
# address, so the suite runs in a private network namespace with only loopback up: the tests
# can use any port without meeting (or disturbing) anything else on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${INTERSLICE_IN_NETNS:-}" != "1" ] && command -v unshare >/dev/null; then
  if [ "$(id -u)" = "0" ]; then ns=(unshare -n); else ns=(unshare -rn); fi
  if "${ns[@]}" true 2>/dev/null; then
    exec "${ns[@]}" env INTERSLICE_IN_NETNS=1 bash -c 'ip link set lo up && exec bash scripts/test.sh "$@"' _ "$@"
  fi
  echo "note: cannot create a network namespace; running on the host's loopback" >&2
fi
echo "test.sh: Node $(node -v) ($(command -v node))" >&2
npx tsc -p tsconfig.json --noEmit
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(find test -name '*.test.ts' | sort)
fi
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
