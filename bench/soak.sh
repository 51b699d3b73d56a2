#!/usr/bin/env bash
# Soak (docs/benchmarks.md, "Soak"): DURATION minutes of mixed load at about half of
# what the gateway takes on one I/O thread, sampled every minute.
#   bench/soak.sh [MINUTES]          (30)
# The load, all on 127.0.0.1:
#   - sync requests to a route whose function answers 200 (wrk, throttled);
#   - async events to two subscribers: one function answers 200, the other fails 20%
#     of its calls with a 500 (retried by its delivery policy);
#   - Config API churn, malformed requests and slow clients (bench/soak_clients.mjs).
# First a 5-s unthrottled run measures the capacity of the sync route; the sync load is
# then ~35% of it and the async load ~8% (each event costs two deliveries).
# Each minute: the gateway's RSS, open fds and threads, the p99 of both loads, and the
# errors of the minute. At the end: every accepted event delivered to both subscribers,
# no delivery given up, and RSS and fds after the warm-up (minute 2) within 5% at the end.
#
# Knobs (environment): GATEWAY (build/event-gateway), SUT_CORE (0), LOAD_CORE (1),
# NGINX (/usr/sbin/nginx), DRAIN_TIMEOUT (120), KEEP_TMP=1, PREFILL (12000: the
# configuration revisions written before the load, see below), and SAMPLE (60): the
# seconds of one "minute", shorter only to try the script out.
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${1:-30}
GATEWAY=${GATEWAY:-build/event-gateway}
SUT_CORE=${SUT_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
SAMPLE=${SAMPLE:-60}
PREFILL=${PREFILL:-12000}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $MINUTES =~ ^[0-9]+$ ]] && ((MINUTES >= 3)) || die "MINUTES must be at least 3, got '$MINUTES'"
[[ $PREFILL =~ ^[0-9]+$ ]] || die "PREFILL must be a number of revisions, got '$PREFILL'"
[ -x "$NGINX" ] && command -v wrk >/dev/null ||
  die "needs $NGINX and wrk: EG_BENCH=1 scripts/deps.sh (as root)"
for t in curl taskset node awk; do command -v "$t" >/dev/null || die "needs $t"; done
[ -x "$GATEWAY" ] || die "no gateway binary at $GATEWAY (build it, or set GATEWAY=)"
GATEWAY=$(realpath "$GATEWAY")
if (($(nproc) < 2)); then SUT_CORE=0 LOAD_CORE=0; fi
on_load() { taskset -c "$LOAD_CORE" "$@"; }

# --- the functions: nginx, one access-log line per call ----------------------------------
SHM=$(mktemp -d /dev/shm/eg-soak.XXXXXX)
chmod 755 "$SHM"
trap 'rm -rf "$SHM"; cleanup' EXIT
OK_PORT=$(free_port) FLAKY_PORT=$(free_port) EVENTS_PORT=$(free_port) CONFIG_PORT=$(free_port)
nginx_conf "$TMP/backend" 1 "
  log_format status '\$status';
  split_clients \"\${request_id}\" \$fail { 20% 1; * 0; }
  server {
    listen 127.0.0.1:$OK_PORT;
    access_log $SHM/ok.log status;
    default_type application/json;
    location /sync { access_log off; return 200 '{\"ok\":true}'; }
    location / { return 200 '{}'; }
  }
  server {
    listen 127.0.0.1:$FLAKY_PORT;
    access_log $SHM/flaky.log status;
    default_type application/json;
    location / { if (\$fail) { return 500 '{}'; } return 200 '{}'; }
  }"
start_nginx "$TMP/backend" "$LOAD_CORE" "http://127.0.0.1:$OK_PORT/"

# --- the gateway -----------------------------------------------------------------------------
taskset -c "$SUT_CORE" "$GATEWAY" -dev -embed-data-dir "$TMP/data" -io-threads 1 \
  -events-port "$EVENTS_PORT" -config-port "$CONFIG_PORT" -log-level warn \
  >"$TMP/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
wait_http "http://127.0.0.1:$CONFIG_PORT/v1/status" 20 "$GATEWAY_PID" ||
  { cat "$TMP/gateway.log" >&2; die "the gateway did not start"; }
config eventtypes '{"name":"http.request"}'
config eventtypes '{"name":"soak.event"}'
config functions "{\"functionId\":\"sync\",\"type\":\"http\",\"provider\":{\"url\":\"http://127.0.0.1:$OK_PORT/sync\"}}"
config functions "{\"functionId\":\"ok\",\"type\":\"http\",\"provider\":{\"url\":\"http://127.0.0.1:$OK_PORT/ok\"}}"
config functions "{\"functionId\":\"flaky\",\"type\":\"http\",\"provider\":{\"url\":\"http://127.0.0.1:$FLAKY_PORT/flaky\"}}"
config subscriptions '{"type":"sync","eventType":"http.request","functionId":"sync","path":"/sync","method":"GET"}'
policy='"deliveryPolicy":{"retries":50,"backoffDelay":"20ms","maxBackoff":"500ms"}'
config subscriptions "{\"type\":\"async\",\"eventType\":\"soak.event\",\"functionId\":\"ok\",\"path\":\"/\",$policy}"
config subscriptions "{\"type\":\"async\",\"eventType\":\"soak.event\",\"functionId\":\"flaky\",\"path\":\"/\",$policy}"
for ((i = 0; i < 50; i++)); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$EVENTS_PORT/sync")" = 200 ] && break
  sleep 0.1
done

# --- the loads -------------------------------------------------------------------------------
# wrk_script FILE STATUS DELAY_MS [method body content-type]: counts answers with STATUS
# and the others; waits DELAY_MS before each request of a connection (0: no wait).
wrk_script() {
  {
    echo "wrk.method = \"${4:-GET}\""
    [ -z "${5:-}" ] || echo "wrk.body = '$5'"
    [ -z "${6:-}" ] || echo "wrk.headers[\"Content-Type\"] = \"$6\""
  } >"$1"
  cat >>"$1" <<EOF
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) good = 0; other = 0 end
function delay() return $3 end
function response(status, headers, body)
  if status == $2 then good = good + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local g, o = 0, 0
  for _, t in ipairs(threads) do g = g + t:get("good"); o = o + t:get("other") end
  local e = summary.errors
  io.write(string.format("counts: %d %d %d\n", g, o + e.connect + e.read + e.write + e.timeout, summary.duration))
end
EOF
}
EVENT='{"eventType":"soak.event","cloudEventsVersion":"0.1","source":"/soak","eventID":"1","contentType":"application/json","data":{"order":42}}'
counts() {  # wrk output: "good other", or die
  awk '/^counts:/ { print $2, $3; found = 1 } END { exit !found }' "$1" ||
    die "no counts from wrk: $(cat "$1")"
}
pct() {  # wrk --latency file, percentile: milliseconds
  awk -v p="$2" 'function ms(v,   n) { n = v + 0; if (v ~ /us$/) return n / 1000;
      if (v ~ /ms$/) return n; if (v ~ /s$/) return n * 1000; return n }
    $1 == p { printf "%.2f", ms($2) }' "$1"
}

# Warm-up of what is bounded but fills with time: the store keeps the last 10,000
# revisions for watches (the churn below writes ~8 a second, so it would fill them over
# the first ~20 minutes); they are written first, so that every minute sampled is
# steady state.
if ((PREFILL > 0)); then
  log "writing $PREFILL configuration revisions first (the store's history)"
  on_load node bench/store_prefill.mjs "$CONFIG_PORT" "$PREFILL" || die "the history prefill failed"
fi

wrk_script "$TMP/capacity.lua" 200 0
on_load wrk -t1 -c32 -d5s -s "$TMP/capacity.lua" "http://127.0.0.1:$EVENTS_PORT/sync" >"$TMP/capacity.txt" 2>&1 ||
  die "wrk failed: $(cat "$TMP/capacity.txt")"
cap=$(counts "$TMP/capacity.txt")
read -r cap_good _ <<<"$cap"
CAPACITY=$((cap_good / 5))
((CAPACITY > 100)) || die "the sync route took only $CAPACITY req/s"
# Connections x 1000 / delay = rate (the answer's own time is small next to the delay).
SYNC_CONNS=32 ASYNC_CONNS=16
SYNC_RATE=$((CAPACITY * 35 / 100)) ASYNC_RATE=$((CAPACITY * 8 / 100))
SYNC_DELAY=$((SYNC_CONNS * 1000 / SYNC_RATE)) ASYNC_DELAY=$((ASYNC_CONNS * 1000 / ASYNC_RATE))
((SYNC_DELAY > 0 && ASYNC_DELAY > 0)) || die "capacity $CAPACITY too high for these connection counts"
wrk_script "$TMP/sync.lua" 200 "$SYNC_DELAY"
wrk_script "$TMP/async.lua" 202 "$ASYNC_DELAY" POST "$EVENT" application/cloudevents+json
log "capacity $CAPACITY req/s; load: sync ~$SYNC_RATE req/s, async ~$ASYNC_RATE events/s, for $MINUTES min"

on_load node bench/soak_clients.mjs "$EVENTS_PORT" "$CONFIG_PORT" $((MINUTES * SAMPLE + 5)) "$SAMPLE" >"$TMP/clients.log" 2>&1 &
CLIENTS_PID=$!
PIDS+=("$CLIENTS_PID")

field() { awk -v k="$1" '/^VmRSS:|^Threads:/ { if ($1 == k ":") print $2 }' "/proc/$GATEWAY_PID/status"; }
fds() { find "/proc/$GATEWAY_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }

printf '%6s %9s %5s %8s %8s %10s %9s %9s %10s %8s %8s\n' minute "RSS KiB" fds threads \
  "sync/s" "sync p99" "events/s" "async p99" "errors" "churn" malformed
accepted=0 errors_total=0 client_line='{}'
declare -a RSS FDS
for ((m = 1; m <= MINUTES; m++)); do
  on_load wrk -t1 -c"$SYNC_CONNS" -d"${SAMPLE}s" --latency -s "$TMP/sync.lua" \
    "http://127.0.0.1:$EVENTS_PORT/sync" >"$TMP/sync.txt" 2>&1 &
  sync_pid=$!
  on_load wrk -t1 -c"$ASYNC_CONNS" -d"${SAMPLE}s" --latency -s "$TMP/async.lua" \
    "http://127.0.0.1:$EVENTS_PORT/" >"$TMP/async.txt" 2>&1 || die "wrk failed: $(cat "$TMP/async.txt")"
  wait "$sync_pid" || die "wrk failed: $(cat "$TMP/sync.txt")"
  kill -0 "$GATEWAY_PID" 2>/dev/null || die "the gateway died: $(tail -20 "$TMP/gateway.log")"
  sync_counts=$(counts "$TMP/sync.txt") async_counts=$(counts "$TMP/async.txt")
  read -r s_good s_other <<<"$sync_counts"
  read -r a_good a_other <<<"$async_counts"
  accepted=$((accepted + a_good))
  # The clients' last line of counts is cumulative: the minute's errors are the change.
  line=$(grep '^{' "$TMP/clients.log" | tail -1 || true)
  [ -n "$line" ] || line='{}'
  client_errors=$(node -e "const a=JSON.parse(process.argv[1]),b=JSON.parse(process.argv[2]);
    const d=k=>(b[k]||0)-(a[k]||0); console.log(d('churnErrors')+d('malformedErrors'),
    d('churnOk'), d('malformed4xx')); for (const e of b.errors||[]) console.error('client error: '+e)" \
    "$client_line" "$line")
  client_line=$line
  read -r c_errors churn_ok malformed_4xx <<<"$client_errors"
  minute_errors=$((s_other + a_other + c_errors))
  errors_total=$((errors_total + minute_errors))
  RSS[m]=$(field VmRSS) FDS[m]=$(fds)
  printf '%6d %9d %5d %8d %8d %10s %9d %9s %10d %8d %8d\n' "$m" "${RSS[m]}" "${FDS[m]}" "$(field Threads)" \
    $((s_good / SAMPLE)) "$(pct "$TMP/sync.txt" 99%)" $((a_good / SAMPLE)) "$(pct "$TMP/async.txt" 99%)" \
    "$minute_errors" "$churn_ok" "$malformed_4xx"
done

# --- the end: every accepted event delivered to both, nothing given up ---------------------
wait "$CLIENTS_PID" 2>/dev/null || true
for ((i = 0; i < DRAIN_TIMEOUT * 10; i++)); do
  ok=$(grep -c '^200$' "$SHM/ok.log" || true) flaky=$(grep -c '^200$' "$SHM/flaky.log" || true)
  ((ok >= accepted && flaky >= accepted)) && break
  sleep 0.1
done
failed=$(metric eventgateway_deliveries_failed_total)
growth() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (b - a) * 100 / a }'; }
echo
echo "soak: $MINUTES min, capacity $CAPACITY req/s, sync ~$SYNC_RATE req/s, async ~$ASYNC_RATE events/s"
echo "after warm-up (minute 2 to $MINUTES): RSS $(growth "${RSS[2]}" "${RSS[MINUTES]}"), fds $(growth "${FDS[2]}" "${FDS[MINUTES]}")"
echo "events accepted $accepted; delivered: ok $ok, flaky $flaky (200s; the flaky one's 500s were retried)"
echo "deliveries given up: $failed; errors other than the answers to malformed requests: $errors_total"
verdict=ok
awk -v a="${RSS[2]}" -v b="${RSS[MINUTES]}" 'BEGIN { exit !(b < a * 1.05) }' || verdict=FAILED
awk -v a="${FDS[2]}" -v b="${FDS[MINUTES]}" 'BEGIN { exit !(b < a * 1.05) }' || verdict=FAILED
((ok >= accepted && flaky >= accepted && failed == 0 && errors_total == 0)) || verdict=FAILED
echo "verdict: $verdict"
[ "$verdict" = ok ]
