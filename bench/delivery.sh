#!/usr/bin/env bash
# Async delivery in one interleaved run (docs/benchmarks.md, "Delivery"): how fast the
# gateway accepts events (and the p99 of the 202) with the memory and the embedded
# queue, 1 and 10 subscribers; how fast it delivers next to what the backend takes
# directly; a function failing 30% of calls (everything delivered in the end); and the
# RSS while a million deliveries wait. One I/O thread; everything on 127.0.0.1.
#
# Knobs (environment):
#   GATEWAY        gateway binary                               (build/event-gateway)
#   DURATION       seconds of each accept round                 (5)
#   ROUNDS         rounds of the memory/embedded x 1/10 matrix  (3)
#   CONNECTIONS    wrk connections                              (32)
#   WORKERS        gateway -workers                             (256)
#   DRAIN_TIMEOUT  seconds to wait for every delivery           (120)
#   WAITING        deliveries left waiting for the RSS run      (1000000)
#   SUT_CORE       core of the gateway                          (0)
#   LOAD_CORE      core of wrk and the backend                  (1)
#   NGINX          nginx binary                                 (/usr/sbin/nginx)
#   KEEP_TMP=1     keep the temp dir
set -euo pipefail
cd "$(dirname "$0")/.."

GATEWAY=${GATEWAY:-build/event-gateway}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
WORKERS=${WORKERS:-256}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
WAITING=${WAITING:-1000000}
SUT_CORE=${SUT_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
NGINX=${NGINX:-/usr/sbin/nginx}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

for v in DURATION ROUNDS CONNECTIONS WORKERS DRAIN_TIMEOUT WAITING SUT_CORE LOAD_CORE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
((DURATION > 0 && ROUNDS > 0 && CONNECTIONS > 0 && WORKERS > 0 && WAITING >= 10)) ||
  die "DURATION, ROUNDS, CONNECTIONS, WORKERS must be positive and WAITING at least 10"
[ -x "$NGINX" ] && command -v wrk >/dev/null ||
  die "needs $NGINX and wrk: EG_BENCH=1 scripts/deps.sh (as root)"
for t in curl taskset node awk; do command -v "$t" >/dev/null || die "needs $t"; done
[ -x "$GATEWAY" ] || die "no gateway binary at $GATEWAY (build it, or set GATEWAY=)"
GATEWAY=$(realpath "$GATEWAY")
cores=$(nproc)
if ((SUT_CORE >= cores || LOAD_CORE >= cores)); then
  log "only $cores core(s): everything on core 0, the numbers will mean little"
  SUT_CORE=0 LOAD_CORE=0
fi
on_load() { taskset -c "$LOAD_CORE" "$@"; }

# --- the backend: every delivery is one access-log line with its status -------------
# The access logs live in memory (/dev/shm): written to the disk, they would make the
# embedded queue's fsyncs flush them too.
SHM=$(mktemp -d /dev/shm/eg-bench.XXXXXX)
chmod 755 "$SHM"
trap 'rm -rf "$SHM"; cleanup' EXIT
OK_PORT=$(free_port)      # answers 200
FLAKY_PORT=$(free_port)   # answers 500 to 30% of requests, 200 to the rest
HANG_PORT=$(free_port)    # accepts and never answers (deliveries stay queued)
EVENTS_PORT=$(free_port)
CONFIG_PORT=$(free_port)
nginx_conf "$TMP/backend" 1 "
  log_format status '\$status';
  split_clients \"\${request_id}\" \$fail { 30% 1; * 0; }
  server {
    listen 127.0.0.1:$OK_PORT;
    access_log $SHM/ok.log status;
    default_type application/json;
    location / { return 200 '{}'; }
  }
  server {
    listen 127.0.0.1:$FLAKY_PORT;
    access_log $SHM/flaky.log status;
    default_type application/json;
    location / { if (\$fail) { return 500 '{}'; } return 200 '{}'; }
  }"
start_nginx "$TMP/backend" "$LOAD_CORE" "http://127.0.0.1:$OK_PORT/"
taskset -c "$LOAD_CORE" node -e "require('net').createServer(() => {}).listen($HANG_PORT, '127.0.0.1')" &
PIDS+=("$!")

BODY='{"eventType":"bench.event","cloudEventsVersion":"0.1","source":"/bench","eventID":"1","contentType":"application/json","data":{"order":42,"items":["a","b"]}}'
cat >"$TMP/event.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/cloudevents+json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) c202 = 0; cother = 0 end
function response(status, headers, body)
  if status == 202 then c202 = c202 + 1 else cother = cother + 1 end
end
function done(summary, latency, requests)
  local a, c = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("c202"); c = c + t:get("cother") end
  io.write(string.format("counts: %d %d %d\n", a, c, summary.duration))
end
EOF

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
count_status() { [ -f "$1" ] && grep -c "^$2\$" "$1" || true; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# start_gateway QUEUE SUBSCRIBERS URL [flags...]: a fresh gateway whose SUBSCRIBERS
# functions all call URL (one path each).
start_gateway() {
  local queue=$1 subs=$2 url=$3 i
  shift 3
  rm -rf "$TMP/gw"
  launch_gateway "$TMP/gw" -queue "$queue" -workers "$WORKERS" "$@"
  config eventtypes '{"name":"bench.event"}'
  for ((i = 1; i <= subs; i++)); do
    config functions "{\"functionId\":\"f$i\",\"type\":\"http\",\"provider\":{\"url\":\"$url/f$i\"}}"
    config subscriptions "{\"type\":\"async\",\"eventType\":\"bench.event\",\"functionId\":\"f$i\",\"path\":\"/\",\"deliveryPolicy\":{\"retries\":1000,\"backoffDelay\":\"20ms\",\"maxBackoff\":\"200ms\"}}"
  done
  # Configuration reaches routing through the store's watch: wait for a 202.
  for ((i = 0; i < 50; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/cloudevents+json' \
      -d "$BODY" "http://127.0.0.1:$EVENTS_PORT/")" = 202 ] && return 0
    sleep 0.1
  done
  die "the gateway does not accept events"
}
# The memory queue's room is -workers-backlog: big enough for the whole run. The
# embedded queue keeps its default (the read-ahead): what waits, waits on disk.
room() { [ "$1" = memory ] && echo "-workers-backlog 20000000" || true; }
stop_gateway() {
  kill -TERM "$GATEWAY_PID" 2>/dev/null || true
  wait "$GATEWAY_PID" 2>/dev/null || true
}

# wait_for LOG STATUS COUNT SECONDS: true once LOG holds COUNT lines of STATUS.
wait_for() {
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    (($(count_status "$1" "$2") >= $3)) && return 0
    sleep 0.1
  done
  return 1
}

# parse the latency distribution's percentile $2 (in ms) from wrk output $1
pct() {
  awk -v p="$2" '
    function ms(v,   n) { n = v + 0; if (v ~ /us$/) return n / 1000; if (v ~ /ms$/) return n;
                         if (v ~ /s$/) return n * 1000; return n }
    $1 == p { printf "%.2f", ms($2) }' "$1"
}

# --- what the backend takes directly -------------------------------------------------
# wrk in the gateway's place: on its core, as many connections as it has workers, the
# same event as the body. What one core can push into the backend.
on_sut() { taskset -c "$SUT_CORE" "$@"; }
on_sut wrk -t1 -c"$WORKERS" -d2s -s "$TMP/event.lua" "http://127.0.0.1:$OK_PORT/direct" >/dev/null 2>&1 || true
on_sut wrk -t1 -c"$WORKERS" -d"${DURATION}s" -s "$TMP/event.lua" "http://127.0.0.1:$OK_PORT/direct" \
  >"$TMP/direct.txt" 2>&1 || die "wrk against the backend failed"
DIRECT=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$TMP/direct.txt")
log "the backend takes $DIRECT req/s directly (wrk -c$WORKERS on the gateway's core)"

# --- accept and deliver, interleaved --------------------------------------------------
declare -A ACCEPT P99 DELIVER
printf '%-6s %-9s %5s %12s %9s %9s %14s %9s\n' round queue subs "accepted/s" "p50 ms" "p99 ms" "deliveries/s" "drain s"
# deliveries/s: after the load stopped, while the deliveries still queued then were made
for ((r = 1; r <= ROUNDS; r++)); do
  for subs in 1 10; do
    for queue in memory embedded; do
      start_gateway "$queue" "$subs" "http://127.0.0.1:$OK_PORT" $(room "$queue")
      base=$(lines "$SHM/ok.log")
      start=$(date +%s.%N)
      on_load timeout $((DURATION + 30)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
        -s "$TMP/event.lua" "http://127.0.0.1:$EVENTS_PORT/" >"$TMP/wrk.txt" 2>&1 ||
        { cat "$TMP/wrk.txt" >&2; die "wrk failed"; }
      mid=$(date +%s.%N) mid_count=$(lines "$SHM/ok.log")
      read -r accepted other duration_us < <(awk '/^counts:/ { print $2, $3, $4 }' "$TMP/wrk.txt")
      ((other == 0)) || log "round $r $queue x$subs: $other answers were not 202"
      rate=$(awk -v a="$accepted" -v d="$duration_us" 'BEGIN { printf "%d", a / (d / 1e6) }')
      # Deliveries: every accepted event (and the probe) times the subscribers. Their rate
      # is taken once the load stopped, over what was still queued then (the gateway's
      # one thread busy with deliveries alone); "-" when it kept up during the load.
      expected=$(((accepted + 1) * subs))
      wait_for "$SHM/ok.log" 200 $((base + expected)) "$DRAIN_TIMEOUT" ||
        log "round $r $queue x$subs: not every delivery arrived within ${DRAIN_TIMEOUT}s"
      end=$(date +%s.%N)
      drained=$(($(lines "$SHM/ok.log") - mid_count))
      secs=$(awk -v s="$mid" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
      drate=$(awk -v n="$drained" -v s="$mid" -v e="$end" 'BEGIN { if (n < 1000) print "-"; else printf "%d", n / (e - s) }')
      p50=$(pct "$TMP/wrk.txt" 50%) p99=$(pct "$TMP/wrk.txt" 99%)
      printf '%-6s %-9s %5s %12s %9s %9s %14s %9s\n' "$r" "$queue" "$subs" "$rate" "$p50" "$p99" "$drate" "$secs"
      ACCEPT[$queue-$subs]+="$rate " P99[$queue-$subs]+="$p99 " DELIVER[$queue-$subs]+="$drate "
      stop_gateway
    done
  done
done

median() {
  printf '%s\n' $1 | { grep -v '^-$' || true; } | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b <= 0) print "-"; else printf "%.2fx", a / b }'; }

# --- a function failing 30% of calls -----------------------------------------------------
start_gateway embedded 1 "http://127.0.0.1:$FLAKY_PORT"
base_ok=$(count_status "$SHM/flaky.log" 200)
on_load timeout $((DURATION + 30)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$TMP/event.lua" \
  "http://127.0.0.1:$EVENTS_PORT/" >"$TMP/wrk-flaky.txt" 2>&1 || die "wrk failed"
read -r f_accepted _ _ < <(awk '/^counts:/ { print $2, $3, $4 }' "$TMP/wrk-flaky.txt")
flaky_done="yes"
wait_for "$SHM/flaky.log" 200 $((base_ok + f_accepted + 1)) "$DRAIN_TIMEOUT" || flaky_done="NO"
f_ok=$(($(count_status "$SHM/flaky.log" 200) - base_ok))
f_failed=$(count_status "$SHM/flaky.log" 500)
f_retried=$(metric eventgateway_deliveries_retried_total)
stop_gateway
log "30% failing: $f_accepted accepted, $f_ok delivered, $f_failed failed attempts, $f_retried retries"

# --- RSS while deliveries wait on disk ---------------------------------------------------
# 10 subscribers calling a server that never answers, one worker: every delivery but one
# waits. RSS after each step of accepted events.
rss_run() {  # $1 queue; prints "waiting:rss_kb ..."
  local queue=$1 target step sent=0 out="" n
  start_gateway "$queue" 10 "http://127.0.0.1:$HANG_PORT" -workers 1 $(room "$queue")
  out="0:$(rss_kb "$GATEWAY_PID")"
  for target in $((WAITING / 10)) $((WAITING / 4)) $((WAITING / 2)) "$WAITING"; do
    step=$(((target - sent * 10) / 10))
    ((step > 0)) || continue
    # taskset directly, not through on_load: $! must be wrk itself to stop it.
    taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d600s -s "$TMP/event.lua" \
      "http://127.0.0.1:$EVENTS_PORT/" >/dev/null 2>&1 &
    local wrk_pid=$!
    for ((n = 0; n < 6000; n++)); do
      (($(metric eventgateway_queue_deliveries) >= target)) && break
      sleep 0.1
    done
    kill "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
    sent=$(($(metric eventgateway_queue_deliveries) / 10))
    out+=" $(metric eventgateway_queue_deliveries):$(rss_kb "$GATEWAY_PID")"
  done
  stop_gateway
  echo "$out"
}
rss_embedded=$(rss_run embedded)
log "RSS embedded: $rss_embedded"
rss_memory=$(rss_run memory)
log "RSS memory: $rss_memory"

# --- summary -------------------------------------------------------------------------------
echo
echo "median of $ROUNDS round(s), ${DURATION}s each, -io-threads 1, wrk -t1 -c$CONNECTIONS"
printf '%-20s %12s %9s %14s %14s\n' "" "accepted/s" "p99 ms" "deliveries/s" "x direct"
for subs in 1 10; do
  for queue in memory embedded; do
    a=$(median "${ACCEPT[$queue-$subs]}") p=$(median "${P99[$queue-$subs]}") d=$(median "${DELIVER[$queue-$subs]}")
    printf '%-20s %12s %9s %14s %14s\n' "$queue, $subs subscriber(s)" "$a" "$p" "$d" "$(ratio "$d" "$DIRECT")"
  done
  printf '%-20s %12s\n' "embedded/memory" "$(ratio "$(median "${ACCEPT[embedded-$subs]}")" "$(median "${ACCEPT[memory-$subs]}")")"
done
echo "backend directly: $DIRECT req/s"
echo "30% failing function (embedded): $f_accepted accepted, $f_ok delivered (all: $flaky_done)," \
  "$f_failed failed attempts, $f_retried retries"
echo "RSS (deliveries waiting:KiB), embedded: $rss_embedded"
echo "RSS (deliveries waiting:KiB), memory:   $rss_memory"
