#!/usr/bin/env bash
# User-space instructions per relayed request on the sync path, for the gateway and for
# nginx proxying the same backend, counted by callgrind. Unlike req/s this does not
# move with machine load, so it shows what a change to the request path costs.
# See docs/benchmarks.md. Everything listens on 127.0.0.1 on free ports.
#
# Knobs (environment):
#   GATEWAY   gateway binary                    (build/event-gateway)
#   DURATION  seconds of counted load per side  (3)
#   NGINX     nginx binary                      (/usr/sbin/nginx)
#   KEEP_TMP=1 keep the temp dir (configs, logs, callgrind dumps)
set -euo pipefail
cd "$(dirname "$0")/.."

GATEWAY=${GATEWAY:-build/event-gateway}
DURATION=${DURATION:-3}
NGINX=${NGINX:-/usr/sbin/nginx}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION > 0)) || die "DURATION must be a positive integer"
for t in valgrind callgrind_control callgrind_annotate wrk curl ss awk; do
  command -v "$t" >/dev/null || die "needs $t (apt-get install valgrind wrk nginx-light)"
done
[ -x "$NGINX" ] || die "needs $NGINX (apt-get install nginx-light)"
[ -x "$GATEWAY" ] || die "no gateway binary at $GATEWAY (build it, or set GATEWAY=)"
GATEWAY=$(realpath "$GATEWAY")

BACKEND_PORT=$(free_port)
PROXY_PORT=$(free_port)
EVENTS_PORT=$(free_port)
CONFIG_PORT=$(free_port)

BACKEND_ANSWER='{"statusCode":200,"body":"ok"}'
nginx_conf "$TMP/backend" 1 "
  server {
    listen 127.0.0.1:$BACKEND_PORT;
    default_type application/json;
    location / { return 200 '$BACKEND_ANSWER'; }
  }"
start_nginx "$TMP/backend" 0 "http://127.0.0.1:$BACKEND_PORT/"

# Starts "$@" under callgrind with counting off; sets CG_PID.
start_counted() {  # $1 name, $2 probe url, rest: command
  local name=$1 url=$2
  shift 2
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/$name.cg" "$@" \
    >"$TMP/$name.out" 2>"$TMP/$name.err" &
  CG_PID=$!
  PIDS+=("$CG_PID")
  wait_http "$url" 60 "$CG_PID" || { tail -5 "$TMP/$name.err" >&2; die "$name did not start"; }
}

# Warms up, counts DURATION seconds of wrk -c8 load, prints "instructions requests".
count() {  # $1 name, $2 pid, $3 url
  wrk -t1 -c8 -d2s "$3" >/dev/null
  callgrind_control -i on "$2" >/dev/null 2>&1
  wrk -t1 -c8 -d"${DURATION}s" "$3" >"$TMP/$1.wrk"
  callgrind_control -i off "$2" >/dev/null 2>&1
  callgrind_control -d "$2" >/dev/null 2>&1
  local dump=$TMP/$1.cg.1 i
  for ((i = 0; i < 50; i++)); do [ -s "$dump" ] && break; sleep 0.1; done
  local ir requests
  ir=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  requests=$(awk '/ requests in / { print $1 }' "$TMP/$1.wrk")
  [ -n "$ir" ] && [ -n "$requests" ] && ((requests > 0)) || die "no count for $1"
  echo "$ir $requests"
}

mkdir -p "$TMP/gateway"
start_counted gateway "http://127.0.0.1:$CONFIG_PORT/v1/status" \
  "$GATEWAY" -dev -embed-data-dir "$TMP/gateway/data" -events-port "$EVENTS_PORT" \
  -config-port "$CONFIG_PORT" -io-threads 1 -log-level error
GW_PID=$CG_PID
api() {
  curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" \
    "http://127.0.0.1:$CONFIG_PORT/v1/spaces/default/$1" | grep -q 201 || die "POST $1 failed"
}
api eventtypes '{"name":"http.request"}'
api functions "{\"functionId\":\"bench\",\"type\":\"http\",\"provider\":{\"url\":\"http://127.0.0.1:$BACKEND_PORT/\"}}"
api subscriptions '{"type":"sync","eventType":"http.request","functionId":"bench","method":"GET","path":"/bench"}'
for ((i = 0; i < 100; i++)); do
  [ "$(curl -s "http://127.0.0.1:$EVENTS_PORT/bench")" = ok ] && break
  sleep 0.1
done
read -r GW_IR GW_REQ < <(count gateway "$GW_PID" "http://127.0.0.1:$EVENTS_PORT/bench")

nginx_proxy_conf "$TMP/proxy" "$BACKEND_PORT" "$PROXY_PORT"
# One process: the worker is the one counted.
sed -i 's/^master_process on;/master_process off;/' "$TMP/proxy/nginx.conf"
start_counted nginx "http://127.0.0.1:$PROXY_PORT/" \
  "$NGINX" -p "$TMP/proxy/" -c "$TMP/proxy/nginx.conf" -e "$TMP/proxy/logs/error.log"
read -r NX_IR NX_REQ < <(count nginx "$CG_PID" "http://127.0.0.1:$PROXY_PORT/bench")

awk -v gi="$GW_IR" -v gr="$GW_REQ" -v ni="$NX_IR" -v nr="$NX_REQ" 'BEGIN {
  printf "%-16s %14s %10s %14s\n", "", "instructions", "requests", "per request"
  printf "%-16s %14d %10d %14.0f\n", "gateway (sync)", gi, gr, gi / gr
  printf "%-16s %14d %10d %14.0f\n", "nginx (proxy)", ni, nr, ni / nr
  printf "ratio gw/nginx   %.2fx instructions per request\n", (gi / gr) / (ni / nr)
}'
