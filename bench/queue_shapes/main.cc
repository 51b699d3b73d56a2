// Micro-benchmark of the two storage shapes considered for the embedded delivery queue
// (spec §5): (A) SQLite, (B) append-only segment files of checksummed records. Both get
// the same workload: producers that wait for their event to be durable (group commit by
// one writer thread), a consumer that marks deliveries done or retried, and a backlog
// that is written and never consumed. Standalone on purpose (no project code but the
// queue's CRC32C), so that it measures the storage and nothing else. See
// docs/queue-shapes.md; bench/queue_shapes.sh builds it and runs the matrix.
//
//   queue_shapes selftest
//   queue_shapes header | backlog-header
//   queue_shapes run     --shape sqlite|segment --dir D --p 8 --t 1 [options]
//   queue_shapes backlog --shape sqlite|segment --dir D --t 10 [options]
//   queue_shapes probe   --dir D
//
// Build (from the repository root; bench/queue_shapes.sh does this):
//   g++ -std=c++20 -O2 -Wall -Isrc -o queue_shapes bench/queue_shapes/*.cc
//       src/queue/embedded/crc32c.cc -lsqlite3 -lpthread
//
// This file is the command line only; the parts are listed in common.h.
#include "common.h"

#include <sqlite3.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace queue_shapes {
namespace {

template <class T>
T number(std::string_view flag, std::string_view v) {
  T out{};
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    die("bad value '%.*s' for %.*s", int(v.size()), v.data(), int(flag.size()), flag.data());
  }
  return out;
}

Settings parse(int argc, char** argv) {
  if (argc < 2) die("usage: queue_shapes selftest|header|backlog-header|run|backlog|probe [--flag value]...");
  Settings s;
  s.command = argv[1];
  for (int i = 2; i < argc; i += 2) {
    std::string_view f = argv[i];
    if (i + 1 >= argc) die("%s needs a value", argv[i]);
    std::string_view v = argv[i + 1];
    if (f == "--shape") s.shape = v;
    else if (f == "--dir") s.dir = v;
    else if (f == "--p") s.producers = number<int>(f, v);
    else if (f == "--t") s.targets = number<int>(f, v);
    else if (f == "--duration") s.duration = number<double>(f, v);
    else if (f == "--warmup") s.warmup = number<double>(f, v);
    else if (f == "--delivery-ms") s.deliveryMs = number<int>(f, v);
    else if (f == "--retry-ms") s.retryMs = number<int>(f, v);
    else if (f == "--fail-pct") s.failPct = number<int>(f, v);
    else if (f == "--segment-mib") s.segmentMiB = number<int>(f, v);
    else if (f == "--cache-kib") s.sqlite.cacheKiB = number<int>(f, v);
    else if (f == "--page-size") s.sqlite.pageSize = number<int>(f, v);
    else if (f == "--checkpoint-pages") s.sqlite.checkpointPages = number<int>(f, v);
    else if (f == "--deliveries") s.deliveries = number<long>(f, v);
    else if (f == "--batch") s.batch = number<int>(f, v);
    else die("unknown flag %s", argv[i]);
  }
  if (s.producers < 1 || s.targets < 1 || s.targets > kMaxTargets || s.duration <= 0 ||
      s.warmup < 0 || s.deliveryMs < 0 || s.retryMs < 0 || s.failPct < 0 || s.failPct > 100 ||
      s.segmentMiB < 1 || s.segmentMiB > 1024 || s.deliveries < s.targets || s.batch < 1) {
    die("a setting is out of range");
  }
  return s;
}

int runCommand(int argc, char** argv) {
  crcSelfTest();
  // One connection used by one thread at a time: no SQLite mutexes, and no global
  // memory statistics (each of their updates takes a mutex).
  sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  Settings s = parse(argc, argv);
  if (s.command == "selftest") {
    std::printf("SQLite %s, crc32c ok, payload %zu bytes, target %zu bytes\n",
                sqlite3_libversion(),
                makePayload(123456, wallMs()).size(),
                allTargets()[0].space.size() + allTargets()[0].subscriptionId.size() +
                    allTargets()[0].functionId.size() + allTargets()[0].eventType.size());
    return 0;
  }
  if (s.command == "header") {
    std::puts(kRunHeader);
    return 0;
  }
  if (s.command == "backlog-header") {
    std::puts(kBacklogHeader);
    return 0;
  }
  if (s.dir.empty()) die("--dir is required");
  // Bounded whatever happens: a stuck run is killed.
  alarm(s.command == "run" ? unsigned(s.warmup + s.duration) + 120 : 1800);
  if (s.command == "run") return run(s);
  if (s.command == "backlog") return backlog(s);
  if (s.command == "probe") {
    SyncProbe probe(s.dir);
    std::vector<double> ms;
    for (int i = 0; i < 21; ++i) ms.push_back(probe.syncMs());
    std::printf("%.2f\n", median(ms));
    return 0;
  }
  die("unknown command %s", s.command.c_str());
}

}  // namespace
}  // namespace queue_shapes

int main(int argc, char** argv) { return queue_shapes::runCommand(argc, argv); }
