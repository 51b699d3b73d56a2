#!/usr/bin/env bash
# Installs what the build and the tests need, from Debian's packages and npm.
# Idempotent: apt-get update runs only when a package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libspdlog-dev libfmt-dev libgtest-dev libmimalloc-dev
  nodejs npm etcd-server nats-server libnats-dev curl prometheus
  # The .deb (scripts/package.sh): CPack computes its Depends with dpkg-dev's
  # dpkg-shlibdeps, and needs file to find the binaries.
  dpkg-dev file
  # The console's browser test (test/e2e/console.test.mjs) drives Debian's chromium.
  chromium
)
if [ "${EG_BENCH:-0}" = 1 ]; then packages+=(nginx-light wrk); fi
# The sanitizer builds and the fuzz targets (scripts/test.sh without --quick,
# scripts/fuzz.sh) need clang, its sanitizer runtimes and libFuzzer.
if [ "${EG_SANITIZERS:-0}" = 1 ]; then packages+=(clang libclang-rt-14-dev libfuzzer-14-dev); fi

missing=()
for p in "${packages[@]}"; do
  # nodejs from another repository may ship npm itself.
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts nginx, etcd and Prometheus on install; the tests start their own.
  systemctl disable --now etcd nginx prometheus >/dev/null 2>&1 || true
fi

# Node modules of the end-to-end tests (the official SDK among them).
if [ ! -d test/e2e/node_modules/@serverless/event-gateway-sdk ] ||
   [ test/e2e/package.json -nt test/e2e/node_modules/.package-lock.json ]; then
  (cd test/e2e && npm install --no-audit --no-fund --loglevel=error)
fi
