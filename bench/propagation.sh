#!/usr/bin/env bash
# Propagation time of a configuration change from one gateway instance to another
# through etcd: p50, p90, p99 and max over COUNT changes. See docs/clustering.md.
# Everything listens on 127.0.0.1 on free ports; etcd data lives in a temp dir.
#
# Knobs (environment):
#   GATEWAY            gateway binary                          (build/event-gateway)
#   COUNT              changes measured                        (200)
#   ETCD_MEMBERS       etcd cluster size                       (1)
#   CHANGE_TIMEOUT_MS  longest wait for one change to route    (5000)
#   BUDGET_S           bound on the whole run                  (120)
#   ETCD_BINARY        etcd binary                             (/usr/bin/etcd)
#   JSON=1             also print the raw samples as JSON
set -euo pipefail
cd "$(dirname "$0")/.."

export GATEWAY=${GATEWAY:-build/event-gateway}
die() { echo "propagation: $*" >&2; exit 1; }

command -v node >/dev/null || die "needs node 18 or later"
[ -x "${ETCD_BINARY:-/usr/bin/etcd}" ] || die "needs ${ETCD_BINARY:-/usr/bin/etcd} (apt-get install etcd-server)"
[ -x "$GATEWAY" ] || die "no gateway binary at $GATEWAY (build it, or set GATEWAY)"

exec node bench/propagation.mjs
