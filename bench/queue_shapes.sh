#!/usr/bin/env bash
# The two storage shapes of the embedded delivery queue (spec §5), SQLite and segment
# files, under the same workload: durable group commit of accepted events, done-marks,
# retries, and a backlog written and never consumed. See docs/queue-shapes.md.
# Builds bench/queue_shapes/*.cc into a temporary directory; its data lives there too.
# Needs g++ and libsqlite3-dev; no root.
#
# Knobs (environment):
#   DURATION          seconds measured per configuration           (10)
#   WARMUP            seconds before measuring                     (1)
#   ROUNDS            times the whole matrix runs; >1 adds medians (1)
#   SHAPES            shapes, in the order of odd rounds           (sqlite segment)
#                     (seg-append: segment files without recycling)
#   PRODUCERS         clients with one event in flight each        (1 8 32 128)
#   TARGETS           deliveries per event                         (1 10)
#   DELIVERY_MS       time a delivery takes before it is marked    (0)
#   RETRY_MS          delay of the one retry of a failing delivery (200)
#   FAIL_PCT          deliveries that fail once                    (30)
#   SEGMENT_MIB       segment file size limit                      (16)
#   CACHE_KIB         SQLite page cache                            (4096)
#   PAGE_SIZE         SQLite page size                             (4096)
#   CHECKPOINT_PAGES  SQLite wal_autocheckpoint                    (1000)
#   BACKLOG           deliveries of the backlog run, 0 to skip     (1000000)
#   BACKLOG_TARGETS   deliveries per event of the backlog runs     (10 1)
#   CORE              pin the process to this core (empty: not pinned)
#   KEEP_TMP=1        keep the temp dir
#   TMPDIR            where the temp dir goes; must be a real disk, not tmpfs
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-1}
SHAPES=${SHAPES:-sqlite segment}
PRODUCERS=${PRODUCERS:-1 8 32 128}
TARGETS=${TARGETS:-1 10}
DELIVERY_MS=${DELIVERY_MS:-0}
RETRY_MS=${RETRY_MS:-200}
FAIL_PCT=${FAIL_PCT:-30}
SEGMENT_MIB=${SEGMENT_MIB:-16}
CACHE_KIB=${CACHE_KIB:-4096}
PAGE_SIZE=${PAGE_SIZE:-4096}
CHECKPOINT_PAGES=${CHECKPOINT_PAGES:-1000}
BACKLOG=${BACKLOG:-1000000}
BACKLOG_TARGETS=${BACKLOG_TARGETS:-10 1}
CORE=${CORE:-}

die() { echo "queue_shapes: $*" >&2; exit 1; }

for v in ROUNDS DELIVERY_MS RETRY_MS FAIL_PCT SEGMENT_MIB CACHE_KIB PAGE_SIZE \
         CHECKPOINT_PAGES BACKLOG; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
for v in DURATION WARMUP; do
  [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$v must be a number of seconds, got '${!v}'"
done
for n in $PRODUCERS $TARGETS $BACKLOG_TARGETS; do
  if ! [[ $n =~ ^[0-9]+$ ]] || ((n == 0)); then
    die "PRODUCERS, TARGETS and BACKLOG_TARGETS hold positive integers, got '$n'"
  fi
done
((ROUNDS > 0)) || die "ROUNDS must be positive"
[ -z "$CORE" ] || [[ $CORE =~ ^[0-9]+$ ]] || die "CORE must be a core number or empty"
command -v g++ >/dev/null || die "needs g++"
[ -f /usr/include/sqlite3.h ] || die "needs libsqlite3-dev (apt-get install libsqlite3-dev)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/eg-queue-shapes.XXXXXX")
cleanup() { if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

fs=$(df --output=fstype "$TMP" | tail -1)
if [ "$fs" = tmpfs ] || [ "$fs" = ramfs ]; then
  die "$TMP is on $fs, where fsync costs nothing; set TMPDIR to a directory on a disk"
fi

g++ -std=c++20 -O2 -Wall -Isrc -o "$TMP/queue_shapes" bench/queue_shapes/*.cc \
  src/queue/embedded/crc32c.cc -lsqlite3 -lpthread
BIN=$TMP/queue_shapes
PIN=()
[ -z "$CORE" ] || PIN=(taskset -c "$CORE")

machine() {
  echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores," \
    "Linux $(uname -r), $fs on $(df --output=source "$TMP" | tail -1)," \
    "$("$BIN" selftest)"
}
load() { echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min averages; $(nproc) cores)"; }

fresh() { rm -rf "$TMP/data"; mkdir "$TMP/data"; }

COMMON=(--retry-ms "$RETRY_MS" --fail-pct "$FAIL_PCT" --delivery-ms "$DELIVERY_MS"
        --segment-mib "$SEGMENT_MIB" --cache-kib "$CACHE_KIB" --page-size "$PAGE_SIZE"
        --checkpoint-pages "$CHECKPOINT_PAGES")

machine
echo "# DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS DELIVERY_MS=$DELIVERY_MS" \
  "RETRY_MS=$RETRY_MS FAIL_PCT=$FAIL_PCT SEGMENT_MIB=$SEGMENT_MIB CACHE_KIB=$CACHE_KIB" \
  "PAGE_SIZE=$PAGE_SIZE CHECKPOINT_PAGES=$CHECKPOINT_PAGES CORE=${CORE:-none}"
load
echo
printf 'round  %s\n' "$("$BIN" header)"
ROWS=$TMP/rows
: >"$ROWS"
for ((round = 1; round <= ROUNDS; round++)); do
  # Shapes alternate which goes first, so that a drift of the machine does not favour one.
  order=$SHAPES
  ((round % 2 == 1)) || order=$(echo "$SHAPES" | tr ' ' '\n' | tac | tr '\n' ' ')
  for t in $TARGETS; do
    for p in $PRODUCERS; do
      for shape in $order; do
        fresh
        row=$("${PIN[@]}" "$BIN" run --shape "$shape" --dir "$TMP/data" --p "$p" --t "$t" \
          --duration "$DURATION" --warmup "$WARMUP" "${COMMON[@]}")
        printf '%-5s  %s\n' "$round" "$row"
        echo "$row" >>"$ROWS"
      done
    done
  done
done

if ((ROUNDS > 1)); then
  echo
  echo "median of $ROUNDS rounds, per column"
  printf '       %s\n' "$("$BIN" header)"
  awk '
    { key = $1 " " $2 " " $3
      if (!(key in n)) keys[++nk] = key
      n[key]++
      for (c = 4; c <= NF; c++) v[key, c, n[key]] = $c + 0 }
    function median(key, c,   m, i, j, a, t) {
      m = n[key]
      for (i = 1; i <= m; i++) a[i] = v[key, c, i]
      for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END {
      for (k = 1; k <= nk; k++) {
        split(keys[k], f, " ")
        printf "       %-10s %2d %4d %8.0f %7.2f %7.2f %7.2f %10.1f %13.1f %13.0f %12.0f %8.1f %10.1f %8.2f %7.0f\n",
          f[1], f[2], f[3], median(keys[k], 4), median(keys[k], 5), median(keys[k], 6),
          median(keys[k], 7), median(keys[k], 8), median(keys[k], 9), median(keys[k], 10),
          median(keys[k], 11), median(keys[k], 12), median(keys[k], 13), median(keys[k], 14),
          median(keys[k], 15)
      }
    }' "$ROWS"
fi

if ((BACKLOG > 0)); then
  echo
  echo "backlog: $BACKLOG deliveries written (durable, 256 events per commit) and never" \
    "consumed, then a crash (no close); recovery in a fresh process, cold (files evicted" \
    "from the page cache) and warm"
  printf 'sync ms  %s\n' "$("$BIN" backlog-header)"
  for t in $BACKLOG_TARGETS; do
    for shape in $SHAPES; do
      fresh
      sync=$("$BIN" probe --dir "$TMP/data")
      row=$("${PIN[@]}" "$BIN" backlog --shape "$shape" --dir "$TMP/data" --t "$t" \
        --deliveries "$BACKLOG" "${COMMON[@]}")
      printf '%7s  %s\n' "$sync" "$row"
    done
  done
  rm -rf "$TMP/data"
fi
echo
load
