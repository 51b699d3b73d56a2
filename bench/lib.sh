# Helpers shared by the bench scripts (sourced): temporary directory and process
# cleanup, free ports on 127.0.0.1, HTTP readiness polling, nginx instances, wrk's
# output, and the gateway's Config API and metrics.
# The caller sets NGINX (the nginx binary) before calling start_nginx, and CONFIG_PORT
# (the gateway's Config API) before calling config or metric.

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# --- processes and cleanup ---------------------------------------------------------
TMP=$(mktemp -d /tmp/eg-bench.XXXXXX)
# nginx workers drop root to nobody; they only need to reach the files under TMP.
chmod 755 "$TMP"
PIDS=()

cleanup() {
  local pid i
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nothing uses on 127.0.0.1, not one already handed out by this run.
TAKEN=" "
free_port() {
  local p i low=32768
  # Below the ephemeral range, so that no outgoing connection of the run (wrk's, the
  # gateway's) can take the port between this check and the bind.
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  ((low > 12000)) || die "the ephemeral port range starts too low ($low) for free_port"
  for ((i = 0; i < 200; i++)); do
    p=$((10000 + RANDOM % (low - 10000)))
    [[ $TAKEN == *" $p "* ]] && continue
    if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ]; then
      TAKEN+="$p "
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

# Polls until `curl` of $1 succeeds (any HTTP answer), at most $2 seconds; fails early
# when process $3 died.
wait_http() {
  local url=$1 secs=$2 pid=$3 i
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.1
  done
  return 1
}

# Common nginx main-context settings; every path inside the instance's prefix.
nginx_conf() {  # $1 prefix dir, $2 worker count, $3 http{} body
  mkdir -p "$1/logs" "$1/tmp"
  cat >"$1/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $2;
pid $1/nginx.pid;
lock_file $1/nginx.lock;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/tmp/body;
  proxy_temp_path $1/tmp/proxy;
  fastcgi_temp_path $1/tmp/fastcgi;
  uwsgi_temp_path $1/tmp/uwsgi;
  scgi_temp_path $1/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
$3
}
EOF
}

start_nginx() {  # $1 prefix dir, $2 core, $3 probe url; sets NGINX_PID
  taskset -c "$2" "$NGINX" -p "$1/" -c "$1/nginx.conf" -e "$1/logs/error.log" \
    >"$1/logs/stdout.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  wait_http "$3" 10 "$NGINX_PID" || { cat "$1/logs/error.log" >&2; die "nginx in $1 did not start"; }
}

# The reference proxy: one nginx worker, an upstream keepalive pool, HTTP/1.1 to the
# backend.
nginx_proxy_conf() {  # $1 prefix dir, $2 backend port, $3 listen port
  nginx_conf "$1" 1 "
  upstream backend {
    server 127.0.0.1:$2;
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$3;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }"
}

# --- wrk --------------------------------------------------------------------------
# Prints "req/s p50_ms p99_ms requests non2xx socket_errors" of one wrk --latency output.
parse_wrk() {
  awk '
    function ms(v,   n) {
      n = v + 0
      if (v ~ /us$/) return n / 1000
      if (v ~ /ms$/) return n
      if (v ~ /m$/) return n * 60000
      if (v ~ /s$/) return n * 1000
      return n
    }
    /^Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    / requests in / { reqs = $1 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(",", ""); errs = $4 + $6 + $8 + $10 }
    END {
      if (rps == "" || p99 == "") exit 1
      printf "%.0f %.3f %.3f %d %d %d\n", rps, p50, p99, reqs, non2xx, errs
    }' "$1"
}

# The median of the numbers given as arguments.
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- the gateway's Config API and metrics -------------------------------------------
# launch_gateway DIR [flags...]: the gateway (-dev, one I/O thread, on $SUT_CORE, on
# $EVENTS_PORT and $CONFIG_PORT) with its store in DIR/data and its logs in DIR; waits until
# it answers, and sets GATEWAY_PID (the gateway itself: taskset execs it).
launch_gateway() {
  local dir=$1
  shift
  mkdir -p "$dir"
  taskset -c "$SUT_CORE" "$GATEWAY" -dev -embed-data-dir "$dir/data" \
    -events-port "$EVENTS_PORT" -config-port "$CONFIG_PORT" -io-threads 1 -log-level error "$@" \
    >"$dir/stdout.log" 2>"$dir/stderr.log" &
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  wait_http "http://127.0.0.1:$CONFIG_PORT/v1/status" 20 "$GATEWAY_PID" ||
    { cat "$dir/stderr.log" >&2; die "the gateway did not start"; }
}

config() {  # $1 path under /v1/spaces/${SPACE:-default}, $2 JSON body; expects 201
  local status
  status=$(curl -s -o "$TMP/config-answer" -w '%{http_code}' --max-time 5 \
    -H 'Content-Type: application/json' -d "$2" \
    "http://127.0.0.1:$CONFIG_PORT/v1/spaces/${SPACE:-default}/$1")
  [ "$status" = 201 ] || die "POST $1 $2 answered $status: $(cat "$TMP/config-answer")"
}

metric() {  # $1 name: the sum of its samples
  curl -s --max-time 5 "http://127.0.0.1:$CONFIG_PORT/v1/metrics" |
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d\n", s }'
}
