#!/usr/bin/env bash
# Installs what is missing, builds, and starts `event-gateway -dev` (extra flags pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec build/event-gateway -dev "$@"
