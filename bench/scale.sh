#!/usr/bin/env bash
# Scale (docs/benchmarks.md, "Scale"): how the gateway copes as its configuration grows
# to TOTAL sync plus TOTAL async subscriptions, created through the Config API.
#   1. routing: wrk on one sync route while the table holds 10 routes;
#   2. growth: the rest of the subscriptions, CLIENTS clients at once (bench/scale.mjs);
#      one row per STEP subscriptions: creates/s, create latency, the gateway's CPU per
#      create, propagation to routing (eventgateway_config_propagation_seconds), RSS;
#   3. routing again at the full size, and the ratio; then again while a client lists
#      the first space's subscriptions back to back (streamed lists), and the p99 ratio;
#   4. start-up: SIGTERM, start again on the same data directory, seconds until the
#      last route created routes; then the same from etcd, prefilled with a copy of the
#      embedded store (ETCD=0 skips it);
#   5. the figures next to their goals.
# The gateway (embedded store, -io-threads 1) runs on SUT_CORE; the function (nginx),
# wrk and the Config API clients on LOAD_CORE. Everything on 127.0.0.1, in a temp dir.
#
# Knobs (environment):
#   GATEWAY            gateway binary                              (build/event-gateway)
#   TOTAL              sync subscriptions, and async ones          (100000 each)
#   STEP               subscriptions per row of the growth curve   (10000)
#   CLIENTS            Config API clients at once, keep-alive      (8)
#   SPACES             spaces the subscriptions are spread over    (1; e.g. 1000)
#   FUNCTIONS          http functions per space                    (3)
#   DURATION           seconds of each routing measurement         (5)
#   WARMUP             seconds of warm-up before each              (3)
#   CONNECTIONS        wrk connections                             (32)
#   ETCD               1: also time start-up from etcd; 0: skip    (1)
#   STARTUP_TIMEOUT_S  longest wait for a start-up to route        (120)
#   BUDGET_S           bound on the run: growth stops at 3/4 of it (3600)
#   SUT_CORE/LOAD_CORE cores of the gateway / of everything else   (0 / 1)
#   NGINX, ETCD_BINARY nginx and etcd binaries                     (/usr/sbin/nginx, /usr/bin/etcd)
#   KEEP_TMP=1         keep the temp dir (store, logs)
set -euo pipefail
cd "$(dirname "$0")/.."

GATEWAY=${GATEWAY:-build/event-gateway}
TOTAL=${TOTAL:-100000}
STEP=${STEP:-10000}
CLIENTS=${CLIENTS:-8}
SPACES=${SPACES:-1}
FUNCTIONS=${FUNCTIONS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-32}
ETCD=${ETCD:-1}
STARTUP_TIMEOUT_S=${STARTUP_TIMEOUT_S:-120}
BUDGET_S=${BUDGET_S:-3600}
SUT_CORE=${SUT_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
export ETCD_BINARY=${ETCD_BINARY:-/usr/bin/etcd}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

for v in TOTAL STEP CLIENTS SPACES FUNCTIONS DURATION WARMUP CONNECTIONS ETCD \
         STARTUP_TIMEOUT_S BUDGET_S SUT_CORE LOAD_CORE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
((TOTAL > 0 && STEP > 0 && CLIENTS > 0 && SPACES > 0 && FUNCTIONS > 0 && DURATION > 0 &&
  CONNECTIONS > 0 && STARTUP_TIMEOUT_S > 0 && BUDGET_S > 0)) ||
  die "TOTAL, STEP, CLIENTS, SPACES, FUNCTIONS, DURATION, CONNECTIONS, STARTUP_TIMEOUT_S and BUDGET_S must be positive"

[ -x "$NGINX" ] && command -v wrk >/dev/null ||
  die "needs $NGINX and wrk: EG_BENCH=1 scripts/deps.sh (as root)"
for t in curl taskset node awk getconf; do command -v "$t" >/dev/null || die "needs $t"; done
if [ "$ETCD" = 1 ]; then
  [ -x "$ETCD_BINARY" ] || die "needs $ETCD_BINARY (apt-get install etcd-server), or ETCD=0"
  command -v sqlite3 >/dev/null || die "needs sqlite3 to copy the store into etcd (apt-get install sqlite3), or ETCD=0"
fi
[ -x "$GATEWAY" ] || die "no gateway binary at $GATEWAY (build it, or set GATEWAY=)"
GATEWAY=$(realpath "$GATEWAY")
if (($(nproc) < 2)); then
  log "only $(nproc) core(s): everything on core 0, the numbers will mean little"
  SUT_CORE=0 LOAD_CORE=0
fi
on_load() { taskset -c "$LOAD_CORE" "$@"; }
BUDGET_END=$((SECONDS + BUDGET_S))

# --- the function: nginx answers every call as a sync function result --------------------
FUNCTION_PORT=$(free_port) EVENTS_PORT=$(free_port) CONFIG_PORT=$(free_port)
nginx_conf "$TMP/function" 1 "
  server {
    listen 127.0.0.1:$FUNCTION_PORT;
    default_type application/json;
    location / { return 200 '{\"statusCode\":200,\"body\":\"ok\"}'; }
  }"
start_nginx "$TMP/function" "$LOAD_CORE" "http://127.0.0.1:$FUNCTION_PORT/"

# --- the gateway -----------------------------------------------------------------------------
start_gateway() {  # sets GATEWAY_PID; taskset directly, so that $! is the gateway
  taskset -c "$SUT_CORE" "$GATEWAY" -dev -embed-data-dir "$TMP/data" -io-threads 1 \
    -events-port "$EVENTS_PORT" -config-port "$CONFIG_PORT" -log-level error \
    >>"$TMP/gateway.log" 2>&1 &
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
}

stop_gateway() {  # SIGTERM, then SIGKILL after 30 s
  local i
  kill -TERM "$GATEWAY_PID" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do kill -0 "$GATEWAY_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$GATEWAY_PID" 2>/dev/null || true
  wait "$GATEWAY_PID" 2>/dev/null || true
}

start_gateway
wait_http "http://127.0.0.1:$CONFIG_PORT/v1/status" 20 "$GATEWAY_PID" ||
  { cat "$TMP/gateway.log" >&2; die "the gateway did not start"; }

export CONFIG_PORT TOTAL STEP CLIENTS SPACES FUNCTIONS
export FUNCTION_URL="http://127.0.0.1:$FUNCTION_PORT/"
on_load node bench/scale.mjs setup

# --- routing ----------------------------------------------------------------------------------
ROUTE_URL="http://127.0.0.1:$EVENTS_PORT/r/0"
expect_routed() {  # $1 url: answers 200 within 10 s
  local i code
  for ((i = 0; i < 100; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1") || true
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  die "GET $1 answered $code, expected 200"
}

route() {  # $1 name; prints "req/s p50_ms p99_ms"
  local out="$TMP/wrk-$1.txt" line
  on_load wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$ROUTE_URL" >/dev/null 2>&1 || true
  on_load timeout $((DURATION + 30)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    "$ROUTE_URL" >"$out" 2>&1 || { cat "$out" >&2; die "wrk ($1) failed"; }
  line=$(parse_wrk "$out") || { cat "$out" >&2; die "could not parse wrk's output"; }
  set -- $line
  (($5 == 0 && $6 == 0)) || log "routing $1: $5 non-2xx answers, $6 socket errors"
  echo "$1 $2 $3"
}

expect_routed "$ROUTE_URL"
log "routing with 10 routes: ${DURATION}s of wrk -t1 -c$CONNECTIONS GET /r/0"
small=$(route small)
read -r small_rps small_p50 small_p99 <<<"$small"

# --- growth ------------------------------------------------------------------------------------
log "creating $TOTAL sync + $TOTAL async subscriptions in $SPACES space(s), $CLIENTS clients," \
    "a row per $STEP; growth stops after $((BUDGET_S * 3 / 4)) s"
echo
echo "growth: $TOTAL sync + $TOTAL async subscriptions, $SPACES space(s), $CLIENTS clients"
GATEWAY_PID=$GATEWAY_PID CLK_TCK=$(getconf CLK_TCK) \
  DEADLINE_MS=$(($(date +%s%3N) + BUDGET_S * 3 / 4 * 1000)) SUMMARY="$TMP/grow.env" \
  on_load node bench/scale.mjs grow
# shellcheck disable=SC1091
source "$TMP/grow.env"

LAST_URL="http://127.0.0.1:$EVENTS_PORT/r/$GROW_LAST_SYNC"
expect_routed "$LAST_URL"
log "routing with $GROW_SUBS subscriptions"
full=$(route full)
read -r full_rps full_p50 full_p99 <<<"$full"

# The same while a client lists the first space's subscriptions over and over (streamed
# answers of about half the table), for WARMUP + DURATION seconds and a margin.
LIST_URL="http://127.0.0.1:$CONFIG_PORT/v1/spaces/s0/subscriptions"
log "routing while GET $LIST_URL runs back to back"
# One curl on one keep-alive connection, every list a request of the glob: a process per
# list would load the load core with process start-ups (dozens a second with small lists)
# and slow wrk and the function, not the gateway. A line per answered list.
# taskset directly, not through on_load: $! must be curl itself to stop it.
taskset -c "$LOAD_CORE" curl -s --max-time 60 "$LIST_URL?round=[1-1000000]" \
  -w '%{stderr}%{http_code}\n' >/dev/null 2>>"$TMP/lists.count" &
LISTER=$!
listing=$(route listing)
kill "$LISTER" 2>/dev/null || true
wait "$LISTER" 2>/dev/null || true
read -r list_rps list_p50 list_p99 <<<"$listing"
lists_done=$(wc -l <"$TMP/lists.count" 2>/dev/null || echo 0)

echo
echo "routing GET /r/0, wrk -t1 -c$CONNECTIONS ${DURATION}s"
printf '%-22s %10s %9s %9s\n' "" "req/s" "p50 ms" "p99 ms"
printf '%-22s %10s %9s %9s\n' "10 routes" "$small_rps" "$small_p50" "$small_p99"
printf '%-22s %10s %9s %9s\n' "$GROW_SUBS subscriptions" "$full_rps" "$full_p50" "$full_p99"
printf '%-22s %10s %9s %9s\n' "... while lists run" "$list_rps" "$list_p50" "$list_p99"
echo "($lists_done lists of space s0 answered during that run)"
route_ratio=$(awk -v a="$full_rps" -v b="$small_rps" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
echo "ratio full/10 routes: ${route_ratio}x"
list_ratio=$(awk -v a="$list_p99" -v b="$full_p99" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
echo "p99 while lists run / without: ${list_ratio}x"

# --- start-up --------------------------------------------------------------------------------------
ms() { date +%s%3N; }
seconds() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }

stop_gateway
log "start-up on the embedded store: until GET /r/$GROW_LAST_SYNC routes"
t0=$(ms)
start_gateway
listening="" embedded_startup="timeout"
while (($(ms) - t0 < STARTUP_TIMEOUT_S * 1000)); do
  kill -0 "$GATEWAY_PID" 2>/dev/null || { tail -20 "$TMP/gateway.log" >&2; die "the gateway exited at start-up"; }
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$LAST_URL") || true
  [ -z "$listening" ] && [ "$code" != 000 ] && listening=$(seconds $(($(ms) - t0)))
  if [ "$code" = 200 ]; then embedded_startup=$(seconds $(($(ms) - t0))); break; fi
  sleep 0.01
done
echo
echo "start-up on the embedded store: listening after ${listening:-?} s," \
     "GET /r/$GROW_LAST_SYNC routed after $embedded_startup s"
stop_gateway

etcd_startup="skipped (ETCD=0)"
if [ "$ETCD" = 1 ]; then
  if ((SECONDS < BUDGET_END)); then
    mkdir -p "$TMP/etcd"
    GATEWAY=$GATEWAY STORE_DB="$TMP/data/store.db" LAST_SYNC="$GROW_LAST_SYNC" \
      WORK_DIR="$TMP/etcd" STARTUP_TIMEOUT_S=$STARTUP_TIMEOUT_S SUT_CORE=$SUT_CORE \
      on_load timeout $((STARTUP_TIMEOUT_S + BUDGET_S / 4 + 60)) node bench/scale.mjs etcd ||
      die "the etcd start-up failed"
    etcd_startup=$(cat "$TMP/etcd/etcd-startup")
  else
    etcd_startup="skipped (over BUDGET_S)"
  fi
fi

# --- goals -----------------------------------------------------------------------------------------
verdict() { awk -v v="$1" -v g="$2" -v op="$3" 'BEGIN {
  if (v == "timeout") { print "MISSED"; exit }
  if (v == "" || v !~ /^[0-9.]+$/) { print "n/a"; exit }
  ok = (op == ">=") ? (v + 0 >= g + 0) : (v + 0 <= g + 0); print ok ? "met" : "MISSED" }'; }
echo
echo "goals ($GROW_SUBS of $GROW_TARGET subscriptions)"
printf '%-32s %-32s %-14s %s\n' "" "measured" "goal" ""
printf '%-32s %-32s %-14s %s\n' "creates/s (lowest step)" \
  "$GROW_MIN_RATE (first $GROW_FIRST_RATE, last $GROW_LAST_RATE)" ">= 3000, flat" \
  "$(verdict "$GROW_MIN_RATE" 3000 '>=')"
printf '%-32s %-32s %-14s %s\n' "CPU per create (highest step)" "$GROW_MAX_CPU_US us" "<= 150 us" \
  "$(verdict "$GROW_MAX_CPU_US" 150 '<=')"
printf '%-32s %-32s %-14s %s\n' "propagation p99 (highest step)" "$GROW_MAX_PROP99" "<= 1 ms" \
  "$(verdict "$GROW_MAX_PROP99_S" 0.001 '<=')"
printf '%-32s %-32s %-14s %s\n' "RSS per 1k subscriptions" \
  "$GROW_RSS_PER_1K MB ($GROW_RSS_MIB MB)" "<= 1 MB" "$(verdict "$GROW_RSS_PER_1K" 1 '<=')"
printf '%-32s %-32s %-14s %s\n' "  RSS growth per 1k created" "$GROW_RSS_GROWTH_PER_1K MB" "" ""
printf '%-32s %-32s %-14s %s\n' "routing full / 10 routes" "${route_ratio}x" ">= 0.95x" \
  "$(verdict "$route_ratio" 0.95 '>=')"
printf '%-32s %-32s %-14s %s\n' "routing p99 while lists run" "${list_ratio}x of without" \
  "<= 1.2x" "$(verdict "$list_ratio" 1.2 '<=')"
secs() { [[ $1 =~ ^[0-9.]+$ ]] && echo "$1 s" || echo "$1"; }
printf '%-32s %-32s %-14s %s\n' "start-up, embedded store" "$(secs "$embedded_startup")" "<= 2 s" \
  "$(verdict "$embedded_startup" 2 '<=')"
printf '%-32s %-32s %-14s %s\n' "start-up, etcd" "$(secs "$etcd_startup")" "<= 5 s" \
  "$(verdict "$etcd_startup" 5 '<=')"
