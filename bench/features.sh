#!/usr/bin/env bash
# CloudEvents 1.0, filters, weighted functions, authorizer caching and function limits
# against their baselines, in one interleaved run (docs/benchmarks.md, "Features").
# One gateway (one I/O thread, a memory queue large enough for the whole run); every
# function is an nginx answering {"statusCode":200,"body":"ok"}. wrk sends, in rounds:
#   sync 0.1 structured          POST /ce, a 0.1 event to a sync subscription
#   sync 1.0 binary              the same event in 1.0 binary mode
#   sync plain                   POST /plain, an http.request to a plain function
#   sync weighted                POST /weighted, to a weighted function (50/50 over two)
#   async 10 subs                a 0.1 event with 10 async subscribers
#   async 10 subs x 3 filters    the same, each subscriber with 3 filters that match
#   sync authorizer cached       POST /authc, whose event type has an authorizer (an nginx
#                                answering an authorization) and authorizerCache
#   sync authorizer uncached     POST /authu, the same authorizer without the cache
#   sync limits                  POST /limited, a function with limits far above the load
# Async rounds measure the 202 (filters are evaluated before queuing), and each waits
# for its deliveries to be made before the next round. Prints each round, the medians,
# and each ratio to its baseline with its goal.
#
# Knobs (environment): GATEWAY (build/event-gateway), DURATION (10 s per round), WARMUP
# (3), ROUNDS (3), CONNECTIONS (32), DRAIN_TIMEOUT (120 s), SUT_CORE (0), LOAD_CORE (1),
# NGINX (/usr/sbin/nginx), KEEP_TMP=1, CASES (all: "v01 v10 plain weighted authc authu
# limited async filtered"; a ratio is printed when both its cases ran).
set -euo pipefail
cd "$(dirname "$0")/.."

GATEWAY=${GATEWAY:-build/event-gateway}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
SUT_CORE=${SUT_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
NGINX=${NGINX:-/usr/sbin/nginx}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

for v in DURATION WARMUP ROUNDS CONNECTIONS DRAIN_TIMEOUT SUT_CORE LOAD_CORE; do
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
BACKEND="http://127.0.0.1:$BACKEND_PORT/"

nginx_conf "$TMP/backend" 1 "
  server {
    listen 127.0.0.1:$BACKEND_PORT;
    default_type application/json;
    location / { return 200 '{\"statusCode\":200,\"body\":\"ok\"}'; }
    location /auth { return 200 '{\"authorization\":{\"principalId\":\"bench\"}}'; }
  }"
start_nginx "$TMP/backend" "$LOAD_CORE" "$BACKEND"

launch_gateway "$TMP/gateway" -queue memory -workers-backlog 50000000
fn() { config functions "{\"functionId\":\"$1\",\"type\":\"http\",\"provider\":{\"url\":\"$BACKEND\"}}"; }
config eventtypes '{"name":"bench.ce"}'
config eventtypes '{"name":"http.request"}'
fn bench
config subscriptions '{"type":"sync","eventType":"bench.ce","functionId":"bench","method":"POST","path":"/ce"}'
config subscriptions '{"type":"sync","eventType":"http.request","functionId":"bench","method":"POST","path":"/plain"}'
fn blue
fn green
config functions '{"functionId":"rollout","type":"weighted","provider":{"functions":[{"functionId":"blue","weight":50},{"functionId":"green","weight":50}]}}'
config subscriptions '{"type":"sync","eventType":"http.request","functionId":"rollout","method":"POST","path":"/weighted"}'
FILTERS='[{"exact":{"type":"bench.ce"}},{"prefix":{"source":"/bench"}},{"exact":{"data.order":"42"}}]'
for i in 0 1 2 3 4 5 6 7 8 9; do
  fn "a$i"
  config subscriptions "{\"type\":\"async\",\"eventType\":\"bench.ce\",\"functionId\":\"a$i\",\"path\":\"/async\"}"
  config subscriptions "{\"type\":\"async\",\"eventType\":\"bench.ce\",\"functionId\":\"a$i\",\"path\":\"/filtered\",\"filters\":$FILTERS}"
done

config functions "{\"functionId\":\"limited\",\"type\":\"http\",\"provider\":{\"url\":\"$BACKEND\"},\"limits\":{\"rate\":1000000,\"burst\":1000000,\"concurrency\":100000}}"
config subscriptions '{"type":"sync","eventType":"http.request","functionId":"limited","method":"POST","path":"/limited"}'
# Event types are per space: one space whose http.request has a cached authorizer, one
# whose authorizer is called every time.
for space in authc authu; do
  cache=""
  [ "$space" = authc ] && cache=',"authorizerCache":{"ttl":"1h"}'
  SPACE=$space config functions "{\"functionId\":\"authz\",\"type\":\"http\",\"provider\":{\"url\":\"${BACKEND}auth\"}}"
  SPACE=$space config functions "{\"functionId\":\"bench\",\"type\":\"http\",\"provider\":{\"url\":\"$BACKEND\"}}"
  SPACE=$space config eventtypes "{\"name\":\"http.request\",\"authorizerId\":\"authz\"$cache}"
  SPACE=$space config subscriptions "{\"type\":\"sync\",\"eventType\":\"http.request\",\"functionId\":\"bench\",\"method\":\"POST\",\"path\":\"/$space\"}"
done

BASE="http://127.0.0.1:$EVENTS_PORT"
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

cat >"$TMP/request.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"order":42,"items":["a","b"]}'
EOF
cat >"$TMP/authorized.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-token"
wrk.body = '{"order":42,"items":["a","b"]}'
EOF

# Each case: "name|lua script|path". Each must be answered 2xx before it is measured.
declare -A CASE=(
  [v01]="sync 0.1 structured|v01|/ce"
  [v10]="sync 1.0 binary|v10|/ce"
  [plain]="sync plain|request|/plain"
  [weighted]="sync weighted|request|/weighted"
  [async]="async 10 subs|v01|/async"
  [filtered]="async 10 subs x 3 filters|v01|/filtered"
  [authc]="sync authorizer cached|authorized|/authc"
  [authu]="sync authorizer uncached|authorized|/authu"
  [limited]="sync limits|request|/limited"
)
read -r -a ORDER <<<"${CASES:-v01 v10 plain weighted authc authu limited async filtered}"
for c in "${ORDER[@]}"; do [ -n "${CASE[$c]:-}" ] || die "unknown case '$c' in CASES"; done
field() { local parts; IFS='|' read -r -a parts <<<"${CASE[$1]}"; echo "${parts[$2]}"; }
is_async() { [[ $1 == async || $1 == filtered ]]; }

expect_ok() {  # $1 case
  local i bad url="$BASE$(field "$1" 2)"
  for ((i = 0; i < 50; i++)); do
    bad=$(on_load wrk -t1 -c1 -d1s -s "$TMP/$(field "$1" 1).lua" "$url" 2>&1 | awk '/Non-2xx/ { print "bad" }')
    [ -z "$bad" ] && return 0
    sleep 0.1
  done
  die "$1: requests to $url were not answered 2xx"
}

# Async rounds leave deliveries queued: the next round starts once they are made.
drain() {
  local i
  for ((i = 0; i < DRAIN_TIMEOUT * 10; i++)); do
    (($(metric eventgateway_events_backlog) == 0)) && return 0
    sleep 0.1
  done
  die "deliveries were not made within ${DRAIN_TIMEOUT}s"
}
for c in "${ORDER[@]}"; do expect_ok "$c"; done
drain
# The filters match every event: as many deliveries with them as without.
filtered=$(metric eventgateway_events_filtered_total)
((filtered == 0)) || die "$filtered deliveries were filtered out; the filters must all match"

measure() {  # $1 case, $2 round; prints the parsed wrk line
  local out="$TMP/wrk-$1-$2.txt" line script url
  script="$TMP/$(field "$1" 1).lua" url="$BASE$(field "$1" 2)"
  is_async "$1" ||
    on_load wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$script" "$url" >/dev/null 2>&1 || true
  on_load timeout $((DURATION + 30)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$script" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk ($1) failed"; }
  line=$(parse_wrk "$out") || { cat "$out" >&2; die "could not parse wrk's output"; }
  set -- $line
  (($5 == 0 && $6 == 0)) || log "round $2 $1: $5 non-2xx answers, $6 socket errors"
  echo "$line"
}

log "gateway :$EVENTS_PORT on core $SUT_CORE, wrk and the functions on core $LOAD_CORE;" \
    "$ROUNDS round(s) of ${DURATION}s (+${WARMUP}s warm-up for sync), $CONNECTIONS connections"
declare -A RPS P99
printf '%-8s %-28s %10s %9s %9s\n' round case "req/s" "p50 ms" "p99 ms"
for ((r = 1; r <= ROUNDS; r++)); do
  for c in "${ORDER[@]}"; do
    set -- $(measure "$c" "$r")
    RPS[$c]+="$1 " P99[$c]+="$3 "
    printf '%-8s %-28s %10s %9s %9s\n' "$r" "$(field "$c" 0)" "$1" "$2" "$3"
    if is_async "$c"; then drain; fi
  done
done

echo
echo "median of $ROUNDS round(s), ${DURATION}s each, -t1 -c$CONNECTIONS"
printf '%-28s %10s %9s\n' "" "req/s" "p99 ms"
declare -A MR MP
for c in "${ORDER[@]}"; do
  MR[$c]=$(median ${RPS[$c]}) MP[$c]=$(median ${P99[$c]})
  printf '%-28s %10s %9s\n' "$(field "$c" 0)" "${MR[$c]}" "${MP[$c]}"
done
# Each ratio is also taken round by round (a case against its baseline measured just
# before it): this machine's speed drifts between rounds, and a ratio of neighbours
# sees less of that drift than a ratio of medians.
compare() {  # $1 case, $2 its baseline, $3 the goal
  [ -n "${MR[$1]:-}" ] && [ -n "${MR[$2]:-}" ] || return 0
  local -a a=(${RPS[$1]}) b=(${RPS[$2]}) per=()
  local i
  for ((i = 0; i < ${#a[@]}; i++)); do
    per+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.3f", x / y }')")
  done
  awk -v name="$(field "$1" 0) / $(field "$2" 0)" -v a="${MR[$1]}" -v b="${MR[$2]}" \
    -v pa="${MP[$1]}" -v pb="${MP[$2]}" -v per="$(median "${per[@]}")" -v goal="$3" 'BEGIN {
    printf "%-52s %.2fx req/s (per round: %.2fx), %.2fx p99 (goal: %s)\n", name ":", a / b, per, pa / pb, goal }'
}
compare v10 v01 "within 10%"
compare filtered async "within 10%"
compare weighted plain "within 10%"
compare authc plain ">= 0.8x"
compare authu plain "none: for reference"
compare limited plain ">= 0.97x"
