#!/usr/bin/env bash
# Throughput and latency of the gateway's sync http path next to nginx proxying to the
# same backend, measured in one interleaved run, plus the async accept rate.
# See docs/benchmarks.md. Everything listens on 127.0.0.1 on free ports.
#
# Knobs (environment):
#   GATEWAY        gateway binary                         (build/event-gateway)
#   DURATION       seconds per measured round             (10)
#   WARMUP         seconds of warm-up before each round   (3)
#   ROUNDS         gateway/nginx round pairs              (3)
#   CONNECTIONS    wrk connections                        (32)
#   ASYNC_DURATION seconds of the async run               (DURATION)
#   ASYNC_WORKERS  gateway -workers for the async run     (256)
#   ASYNC_BACKLOG  gateway -workers-backlog               (100000)
#   DRAIN_TIMEOUT  seconds to wait for the async backlog  (60)
#   SUT_CORE       core of the gateway and the nginx proxy (0)
#   LOAD_CORE      core of wrk and the backend            (1)
#   NGINX          nginx binary                           (/usr/sbin/nginx)
#   SYSCALLS       seconds of the syscalls-per-request count, 0 to skip (3)
#   NGINX_ONLY=1   measure only nginx (checks the setup without a gateway binary)
#   KEEP_TMP=1     keep the temp dir (configs, logs, raw wrk output)
set -euo pipefail
cd "$(dirname "$0")/.."

GATEWAY=${GATEWAY:-build/event-gateway}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
ASYNC_DURATION=${ASYNC_DURATION:-$DURATION}
ASYNC_WORKERS=${ASYNC_WORKERS:-256}
ASYNC_BACKLOG=${ASYNC_BACKLOG:-100000}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-60}
SUT_CORE=${SUT_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
NGINX_ONLY=${NGINX_ONLY:-0}
SYSCALLS=${SYSCALLS:-3}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

for v in DURATION WARMUP ROUNDS CONNECTIONS ASYNC_DURATION ASYNC_WORKERS ASYNC_BACKLOG \
         DRAIN_TIMEOUT SUT_CORE LOAD_CORE SYSCALLS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
((DURATION > 0 && ROUNDS > 0 && CONNECTIONS > 0 && ASYNC_DURATION > 0)) ||
  die "DURATION, ROUNDS, CONNECTIONS and ASYNC_DURATION must be positive"

# --- tools -------------------------------------------------------------------------
if [ ! -x "$NGINX" ] || ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] || die "needs $NGINX and wrk (apt-get install nginx-light wrk, as root)"
  log "installing nginx-light and wrk"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nginx-light wrk
  # Debian starts the packaged nginx on install; this script runs its own.
  systemctl disable --now nginx >/dev/null 2>&1 || true
fi
for t in curl taskset ss awk; do command -v "$t" >/dev/null || die "needs $t"; done
if [ "$NGINX_ONLY" != 1 ]; then
  [ -x "$GATEWAY" ] || die "no gateway binary at $GATEWAY (build it, or set GATEWAY=)"
  GATEWAY=$(realpath "$GATEWAY")
fi

cores=$(nproc)
if ((SUT_CORE >= cores || LOAD_CORE >= cores)); then
  log "only $cores core(s): everything on core 0, the numbers will mean little"
  SUT_CORE=0 LOAD_CORE=0
fi
on_load() { taskset -c "$LOAD_CORE" "$@"; }

BACKEND_PORT=$(free_port)       # answers the sync calls and nginx's proxied requests
BACKEND_LOG_PORT=$(free_port)   # same answer, one access-log line per async delivery
PROXY_PORT=$(free_port)
EVENTS_PORT=$(free_port)
CONFIG_PORT=$(free_port)

# The function: a JSON object that is a valid sync result (statusCode + body).
BACKEND_ANSWER='{"statusCode":200,"body":"ok"}'
nginx_conf "$TMP/backend" 1 "
  log_format deliveries '\$status';
  server {
    listen 127.0.0.1:$BACKEND_PORT;
    default_type application/json;
    location / { return 200 '$BACKEND_ANSWER'; }
  }
  server {
    listen 127.0.0.1:$BACKEND_LOG_PORT;
    access_log $TMP/backend/logs/deliveries.log deliveries;
    default_type application/json;
    location / { return 200 '$BACKEND_ANSWER'; }
  }"
start_nginx "$TMP/backend" "$LOAD_CORE" "http://127.0.0.1:$BACKEND_PORT/"

nginx_proxy_conf "$TMP/proxy" "$BACKEND_PORT" "$PROXY_PORT"
start_nginx "$TMP/proxy" "$SUT_CORE" "http://127.0.0.1:$PROXY_PORT/"
PROXY_PID=$NGINX_PID

start_gateway() {
  # The gateway: one I/O thread, on the proxy's core.
  launch_gateway "$TMP/gateway" -workers "$ASYNC_WORKERS" -workers-backlog "$ASYNC_BACKLOG"

  config eventtypes '{"name":"http.request"}'
  config functions "{\"functionId\":\"bench\",\"type\":\"http\",\"provider\":{\"url\":\"http://127.0.0.1:$BACKEND_PORT/\"}}"
  config subscriptions '{"type":"sync","eventType":"http.request","functionId":"bench","method":"GET","path":"/bench"}'
  config eventtypes '{"name":"bench.event"}'
  config functions "{\"functionId\":\"bench-async\",\"type\":\"http\",\"provider\":{\"url\":\"http://127.0.0.1:$BACKEND_LOG_PORT/\"}}"
  config subscriptions '{"type":"async","eventType":"bench.event","functionId":"bench-async","path":"/"}'
}

GW_URL="http://127.0.0.1:$EVENTS_PORT/bench"
NGINX_URL="http://127.0.0.1:$PROXY_PORT/bench"

# Both paths must answer what the function answered before being measured. The
# gateway applies configuration changes shortly after the Config API wrote them.
expect_ok() {  # $1 url, $2 expected body
  local i body
  for ((i = 0; i < 50; i++)); do
    body=$(curl -s --max-time 2 -w ' %{http_code}' "$1") || true
    [ "$body" = "$2 200" ] && return 0
    sleep 0.1
  done
  die "GET $1 answered '$body', expected '$2 200'"
}
if [ "$NGINX_ONLY" != 1 ]; then
  start_gateway
  expect_ok "$GW_URL" "ok"
fi
expect_ok "$NGINX_URL" "$BACKEND_ANSWER"

# --- wrk ---------------------------------------------------------------------------
WRK_ARGS=(-t1 -c"$CONNECTIONS")
declare -a GW_RPS GW_P50 GW_P99 NG_RPS NG_P50 NG_P99

measure() {  # $1 name, $2 url, $3 round; prints the parsed line
  local out="$TMP/wrk-$1-$3.txt" line
  on_load wrk "${WRK_ARGS[@]}" -d"${WARMUP}s" "$2" >/dev/null 2>&1 || true
  on_load timeout $((DURATION + 30)) wrk "${WRK_ARGS[@]}" -d"${DURATION}s" --latency "$2" \
    >"$out" 2>&1 || { cat "$out" >&2; die "wrk against $1 failed"; }
  line=$(parse_wrk "$out") || { cat "$out" >&2; die "could not parse wrk's output"; }
  set -- $line
  (($5 == 0 && $6 == 0)) || log "round $3 $1: $5 non-2xx answers, $6 socket errors"
  echo "$line"
}

log "backend :$BACKEND_PORT, proxy :$PROXY_PORT, gateway :$EVENTS_PORT/:$CONFIG_PORT;" \
    "gateway+proxy on core $SUT_CORE, wrk+backend on core $LOAD_CORE"
log "$ROUNDS round(s) of ${DURATION}s (+${WARMUP}s warm-up), $CONNECTIONS connections"

printf '%-8s %-16s %10s %9s %9s %10s\n' round target "req/s" "p50 ms" "p99 ms" requests
for ((r = 1; r <= ROUNDS; r++)); do
  if [ "$NGINX_ONLY" != 1 ]; then
    line=$(measure gateway "$GW_URL" "$r")
    set -- $line
    GW_RPS+=("$1") GW_P50+=("$2") GW_P99+=("$3")
    printf '%-8s %-16s %10s %9s %9s %10s\n' "$r" "gateway (sync)" "$1" "$2" "$3" "$4"
  fi
  line=$(measure nginx "$NGINX_URL" "$r")
  set -- $line
  NG_RPS+=("$1") NG_P50+=("$2") NG_P99+=("$3")
  printf '%-8s %-16s %10s %9s %9s %10s\n' "$r" "nginx (proxy)" "$1" "$2" "$3" "$4"
done
ng_rps=$(median "${NG_RPS[@]}") ng_p50=$(median "${NG_P50[@]}") ng_p99=$(median "${NG_P99[@]}")
if [ "$NGINX_ONLY" = 1 ]; then
  printf '\nmedian of %s round(s): nginx (proxy) %s req/s, p50 %s ms, p99 %s ms\n' \
    "$ROUNDS" "$ng_rps" "$ng_p50" "$ng_p99"
  exit 0
fi

gw_rps=$(median "${GW_RPS[@]}") gw_p50=$(median "${GW_P50[@]}") gw_p99=$(median "${GW_P99[@]}")

# --- syscalls per request ----------------------------------------------------------
# Syscalls are the largest cost of a relayed request on loopback. Counted with perf's
# syscall tracepoints while wrk runs SYSCALLS seconds (not with strace, which slows the
# process enough to change whether its reads find data waiting).
# Prints "syscalls recv failed_recv requests" for process $2 under load on $3.
count_syscalls() {  # $1 name, $2 pid, $3 url
  local out="$TMP/perf-$1.txt" wrk_out="$TMP/wrk-syscalls-$1.txt" perf_pid requests
  perf stat -x, -o "$out" -e raw_syscalls:sys_enter -e syscalls:sys_enter_recvfrom \
    -e syscalls:sys_exit_recvfrom --filter 'ret < 0' -p "$2" -- sleep $((SYSCALLS + 1)) \
    >/dev/null 2>&1 &
  perf_pid=$!
  sleep 0.3
  on_load wrk "${WRK_ARGS[@]}" -d"${SYSCALLS}s" "$3" >"$wrk_out" 2>&1 || true
  wait "$perf_pid" || return 1
  requests=$(awk '/ requests in / { print $1 }' "$wrk_out")
  awk -F, -v r="${requests:-0}" '
    $3 ~ /^raw_syscalls:sys_enter/ { all = $1 }
    $3 ~ /^syscalls:sys_enter_recvfrom/ { recv = $1 }
    $3 ~ /^syscalls:sys_exit_recvfrom/ { failed = $1 }
    END { if (all == "" || r == 0) exit 1; print all, recv, failed, r }' "$out"
}
syscalls_line="not counted (SYSCALLS=0)"
if ((SYSCALLS > 0)); then
  syscalls_line="not counted (needs perf with syscall tracepoints, as root)"
  nginx_worker=$(pgrep -P "$PROXY_PID" | head -1) || true
  if command -v perf >/dev/null && [ -n "$nginx_worker" ] &&
     gw_sys=$(count_syscalls gateway "$GATEWAY_PID" "$GW_URL") &&
     ng_sys=$(count_syscalls nginx "$nginx_worker" "$NGINX_URL"); then
    syscalls_line=$(awk -v g="$gw_sys" -v n="$ng_sys" 'BEGIN {
      split(g, a, " "); split(n, b, " ")
      printf "gateway %.2f (recv %.2f, failed %.2f), nginx %.2f (recv %.2f, failed %.2f)",
        a[1] / a[4], a[2] / a[4], a[3] / a[4], b[1] / b[4], b[2] / b[4], b[3] / b[4] }')
  fi
fi

# --- async accept rate -------------------------------------------------------------
cat >"$TMP/async.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"eventType":"bench.event","cloudEventsVersion":"0.1","source":"/bench","eventID":"1","data":{}}'
wrk.headers["Content-Type"] = "application/cloudevents+json"

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) c202 = 0; c503 = 0; cother = 0 end
function response(status, headers, body)
  if status == 202 then c202 = c202 + 1
  elseif status == 503 then c503 = c503 + 1
  else cother = cother + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("c202"); b = b + t:get("c503"); c = c + t:get("cother")
  end
  io.write(string.format("status-counts: %d %d %d %d\n", a, b, c, summary.duration))
end
EOF

deliveries() { [ -f "$TMP/backend/logs/deliveries.log" ] && wc -l <"$TMP/backend/logs/deliveries.log" || echo 0; }
processed() {  # eventgateway_events_processed_total of bench.event, 0 when absent
  curl -s --max-time 2 "http://127.0.0.1:$CONFIG_PORT/v1/metrics" |
    awk '/^eventgateway_events_processed_total\{/ && /type="bench.event"/ { s += $NF }
         END { printf "%d\n", s }'
}
wait_deliveries() {  # $1 count to reach, $2 seconds; true when reached
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    (($(deliveries) >= $1)) && return 0
    sleep 0.2
  done
  return 1
}

# One event first: the path works and the backend's log is open.
status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
  -H 'Content-Type: application/cloudevents+json' \
  -d '{"eventType":"bench.event","cloudEventsVersion":"0.1","source":"/bench","eventID":"0","data":{}}' \
  "http://127.0.0.1:$EVENTS_PORT/")
[ "$status" = 202 ] || die "the async event answered $status, expected 202"
wait_deliveries 1 10 || die "the async event never reached the backend"
base_delivered=$(deliveries)
base_processed=$(processed)

log "async: ${ASYNC_DURATION}s of POST /, -workers $ASYNC_WORKERS -workers-backlog $ASYNC_BACKLOG"
out="$TMP/wrk-async.txt"
on_load timeout $((ASYNC_DURATION + 30)) wrk "${WRK_ARGS[@]}" -d"${ASYNC_DURATION}s" \
  -s "$TMP/async.lua" "http://127.0.0.1:$EVENTS_PORT/" >"$out" 2>&1 ||
  { cat "$out" >&2; die "wrk async run failed"; }
read -r accepted refused other duration_us < <(awk '/^status-counts:/ { print $2, $3, $4, $5 }' "$out") || true
[ -n "${accepted:-}" ] || { cat "$out" >&2; die "could not parse the async run"; }
async_errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
accept_rps=$(awk -v a="$accepted" -v d="$duration_us" 'BEGIN { printf "%.0f", a / (d / 1e6) }')

drain_start=$SECONDS
drained=yes
wait_deliveries $((base_delivered + accepted)) "$DRAIN_TIMEOUT" || drained="no (timed out)"
drain_secs=$((SECONDS - drain_start))
delivered=$(($(deliveries) - base_delivered))
processed_n=$(($(processed) - base_processed))

# wrk stops with up to CONNECTIONS requests in flight: the gateway may have accepted
# them without wrk counting the 202, so delivered can exceed accepted by that much.

# --- summary -----------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
echo
echo "median of $ROUNDS round(s), ${DURATION}s each, -t1 -c$CONNECTIONS"
printf '%-16s %10s %9s %9s\n' "" "req/s" "p50 ms" "p99 ms"
printf '%-16s %10s %9s %9s\n' "gateway (sync)" "$gw_rps" "$gw_p50" "$gw_p99"
printf '%-16s %10s %9s %9s\n' "nginx (proxy)" "$ng_rps" "$ng_p50" "$ng_p99"
printf '%-16s %10s   p50 %s   p99 %s\n' "ratio gw/nginx" "$(ratio "$gw_rps" "$ng_rps")" \
  "$(ratio "$gw_p50" "$ng_p50")" "$(ratio "$gw_p99" "$ng_p99")"
echo "syscalls per request: $syscalls_line"
echo "async: accepted $accept_rps req/s ($accepted in $(awk -v d="$duration_us" 'BEGIN { printf "%.2f", d / 1e6 }')s)," \
  "503 $refused, other $other, socket errors ${async_errs:-0}," \
  "delivered $delivered/$accepted (processed metric $processed_n), drained: $drained after ${drain_secs}s"
