#!/usr/bin/env bash
# CloudEvents 1.0 against 0.1 on the sync path (docs/benchmarks.md, "CloudEvents"): one
# gateway (one I/O thread) with a sync subscription whose function is an nginx answering
# {"statusCode":200,"body":"ok"}; wrk sends, in interleaved rounds, 0.1 structured events
# and 1.0 binary events of the same type and data to it. Prints each round and the
# medians, with 1.0's ratio to 0.1 (goal: within 10%).
#
# Knobs (environment): GATEWAY (build/event-gateway), DURATION (10 s per round), WARMUP
# (3), ROUNDS (3), CONNECTIONS (32), SUT_CORE (0), LOAD_CORE (1), NGINX
# (/usr/sbin/nginx), KEEP_TMP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

GATEWAY=${GATEWAY:-build/event-gateway}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
SUT_CORE=${SUT_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
NGINX=${NGINX:-/usr/sbin/nginx}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

for v in DURATION WARMUP ROUNDS CONNECTIONS SUT_CORE LOAD_CORE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
((DURATION > 0 && ROUNDS > 0 && CONNECTIONS > 0)) || die "DURATION, ROUNDS and CONNECTIONS must be positive"
[ -x "$NGINX" ] && command -v wrk >/dev/null ||
  die "needs $NGINX and wrk: EG_BENCH=1 scripts/deps.sh (as root)"
for t in curl taskset awk; do command -v "$t" >/dev/null || die "needs $t"; done
[ -x "$GATEWAY" ] || die "no gateway binary at $GATEWAY (build it, or set GATEWAY=)"
GATEWAY=$(realpath "$GATEWAY")
if (($(nproc) < 2)); then SUT_CORE=0 LOAD_CORE=0; fi
on_load() { taskset -c "$LOAD_CORE" "$@"; }

BACKEND_PORT=$(free_port)
EVENTS_PORT=$(free_port)
CONFIG_PORT=$(free_port)

nginx_conf "$TMP/backend" 1 "
  server {
    listen 127.0.0.1:$BACKEND_PORT;
    default_type application/json;
    location / { return 200 '{\"statusCode\":200,\"body\":\"ok\"}'; }
  }"
start_nginx "$TMP/backend" "$LOAD_CORE" "http://127.0.0.1:$BACKEND_PORT/"

mkdir -p "$TMP/gateway"
taskset -c "$SUT_CORE" "$GATEWAY" -dev -embed-data-dir "$TMP/gateway/data" \
  -events-port "$EVENTS_PORT" -config-port "$CONFIG_PORT" -io-threads 1 -log-level error \
  >"$TMP/gateway/stdout.log" 2>"$TMP/gateway/stderr.log" &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
wait_http "http://127.0.0.1:$CONFIG_PORT/v1/status" 20 "$GATEWAY_PID" ||
  { cat "$TMP/gateway/stderr.log" >&2; die "the gateway did not start"; }
config eventtypes '{"name":"bench.ce"}'
config functions "{\"functionId\":\"bench\",\"type\":\"http\",\"provider\":{\"url\":\"http://127.0.0.1:$BACKEND_PORT/\"}}"
config subscriptions '{"type":"sync","eventType":"bench.ce","functionId":"bench","method":"POST","path":"/ce"}'

URL="http://127.0.0.1:$EVENTS_PORT/ce"
cat >"$TMP/v01.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/cloudevents+json"
wrk.body = '{"eventType":"bench.ce","cloudEventsVersion":"0.1","source":"/bench","eventID":"a1b2c3d4","eventTime":"2026-12-05T10:00:00Z","data":{"order":42,"items":["a","b"]}}'
EOF
cat >"$TMP/v10.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["ce-specversion"] = "1.0"
wrk.headers["ce-id"] = "a1b2c3d4"
wrk.headers["ce-source"] = "/bench"
wrk.headers["ce-type"] = "bench.ce"
wrk.headers["ce-time"] = "2026-12-05T10:00:00Z"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"order":42,"items":["a","b"]}'
EOF

# Both kinds must reach the function before they are measured.
expect_ok() {  # $1 lua script's kind
  local i body
  for ((i = 0; i < 50; i++)); do
    body=$(on_load wrk -t1 -c1 -d1s -s "$TMP/$1.lua" "$URL" 2>&1 | awk '/Non-2xx/ { print "bad" }')
    [ -z "$body" ] && return 0
    sleep 0.1
  done
  die "$1 events to $URL were not answered 2xx"
}
expect_ok v01
expect_ok v10

measure() {  # $1 kind, $2 round; prints the parsed wrk line
  local out="$TMP/wrk-$1-$2.txt" line
  on_load wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$TMP/$1.lua" "$URL" >/dev/null 2>&1 || true
  on_load timeout $((DURATION + 30)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$TMP/$1.lua" "$URL" >"$out" 2>&1 || { cat "$out" >&2; die "wrk ($1) failed"; }
  line=$(parse_wrk "$out") || { cat "$out" >&2; die "could not parse wrk's output"; }
  set -- $line
  (($5 == 0 && $6 == 0)) || log "round $2 $1: $5 non-2xx answers, $6 socket errors"
  echo "$line"
}

log "gateway :$EVENTS_PORT on core $SUT_CORE, wrk and the function on core $LOAD_CORE;" \
    "$ROUNDS round(s) of ${DURATION}s (+${WARMUP}s warm-up), $CONNECTIONS connections"
declare -a R01 P01 R10 P10
printf '%-8s %-26s %10s %9s %9s\n' round events "req/s" "p50 ms" "p99 ms"
for ((r = 1; r <= ROUNDS; r++)); do
  set -- $(measure v01 "$r")
  R01+=("$1") P01+=("$3")
  printf '%-8s %-26s %10s %9s %9s\n' "$r" "sync 0.1 structured" "$1" "$2" "$3"
  set -- $(measure v10 "$r")
  R10+=("$1") P10+=("$3")
  printf '%-8s %-26s %10s %9s %9s\n' "$r" "sync 1.0 binary" "$1" "$2" "$3"
done

r01=$(median "${R01[@]}") p01=$(median "${P01[@]}")
r10=$(median "${R10[@]}") p10=$(median "${P10[@]}")
echo
echo "median of $ROUNDS round(s), ${DURATION}s each, -t1 -c$CONNECTIONS"
printf '%-26s %10s %9s\n' "" "req/s" "p99 ms"
printf '%-26s %10s %9s\n' "sync 0.1 structured" "$r01" "$p01"
printf '%-26s %10s %9s\n' "sync 1.0 binary" "$r10" "$p10"
awk -v a="$r10" -v b="$r01" -v pa="$p10" -v pb="$p01" 'BEGIN {
  printf "1.0 binary / 0.1 structured: %.2fx req/s, %.2fx p99 (goal: within 10%%)\n", a / b, pa / pb }'
