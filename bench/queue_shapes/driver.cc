// The workload driver: `run` measures one configuration of the matrix with producers, the
// shape's writer and a consumer; `backlog` fills a shape without consuming, crashes and
// times the recovery. Both print one row of their table.
#include "common.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace queue_shapes {

std::unique_ptr<Shape> makeShape(const Settings& s) {
  if (s.shape == "sqlite") return makeSqliteShape(s.dir, s.sqlite);
  if (s.shape == "segment" || s.shape == "seg-append") {
    return makeSegmentShape(s.dir, uint64_t(s.segmentMiB) << 20, s.shape == "segment");
  }
  die("unknown shape '%s' (sqlite, segment or seg-append)", s.shape.c_str());
}

// ---- run: producers, writer, consumer ----------------------------------------------------
//
// Two threads, as in the gateway: the I/O thread and the queue's writer. The I/O thread
// simulates P clients that each have one request in flight (the gateway serves requests
// as coroutines on its I/O threads, not as threads of their own): it submits P events,
// and whenever the writer reports events durable it answers them (latency sample),
// submits the next event of each of those clients, and "delivers" the new deliveries:
// done at once (or after --delivery-ms), except --fail-pct of them, which fail once,
// are retried after --retry-ms, and are then done. Everything one turn of its loop
// produced is handed to the writer at once, as an event loop would.
//
// The writer takes everything submitted since its last commit (group commit): new
// events, done-marks and retries, writes them and, if there are new events, makes them
// durable before it releases their clients.

namespace {

struct Shared {
  std::mutex mu;
  std::condition_variable writerCv, ioCv;
  std::vector<Event*> toWrite;  // new events, I/O → writer
  std::vector<Op> ops;          // marks, I/O → writer
  std::vector<Event*> durable;  // writer → I/O
  bool stop = false;

  std::atomic<bool> measuring{false};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> commits{0};        // durable commits
  std::atomic<uint64_t> markCommits{0};    // commits of marks only
};

uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void writerLoop(Shared& sh, Shape& shape) {
  std::vector<Event*> events;
  std::vector<Op> ops;
  for (;;) {
    {
      std::unique_lock lock(sh.mu);
      sh.writerCv.wait(lock, [&] { return sh.stop || !sh.toWrite.empty() || !sh.ops.empty(); });
      if (sh.stop) return;
      events.swap(sh.toWrite);
      ops.swap(sh.ops);
    }
    bool durable = !events.empty();
    shape.commit(events, ops, durable);
    (durable ? sh.commits : sh.markCommits).fetch_add(1, std::memory_order_relaxed);
    if (durable) {
      std::lock_guard lock(sh.mu);
      sh.durable.insert(sh.durable.end(), events.begin(), events.end());
      sh.ioCv.notify_one();
    }
    events.clear();
    ops.clear();
  }
}

// Latencies in buckets 1% wide (constant memory, so that the harness's RSS does not
// grow with the number of samples), and the exact maximum.
class LatencyHistogram {
 public:
  void add(double us) {
    size_t b = us <= 1 ? 0 : size_t(std::log(us) / kLogStep) + 1;
    if (b >= counts_.size()) b = counts_.size() - 1;
    ++counts_[b];
    ++n_;
    max_ = std::max(max_, us);
  }
  // The upper bound of the bucket holding the p-quantile, in µs.
  double percentile(double p) const {
    if (n_ == 0) return 0;
    uint64_t rank = std::min(n_ - 1, uint64_t(p * double(n_))), seen = 0;
    for (size_t b = 0; b < counts_.size(); ++b) {
      seen += counts_[b];
      if (seen > rank) return std::min(max_, std::exp(double(b) * kLogStep));
    }
    return max_;
  }
  double max() const { return max_; }

 private:
  static constexpr double kLogStep = 0.00995033085;  // ln(1.01)
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(2400);  // up to ~4.6 hours
  uint64_t n_ = 0;
  double max_ = 0;
};

struct Timed {
  Clock::time_point due;
  Event* event;
  uint32_t index;
};

void ioLoop(Shared& sh, const Settings& s, LatencyHistogram& latenciesUs) {
  uint64_t seq = 0;
  std::vector<Event*> submit, durable;
  std::vector<Op> ops;
  std::deque<Timed> delayed, retries;  // constant delays: FIFO is time order
  const auto deliveryDelay = std::chrono::milliseconds(s.deliveryMs);
  const auto retryDelay = std::chrono::milliseconds(s.retryMs);

  auto newEvent = [&](Clock::time_point now) {
    auto* e = new Event;
    e->seq = ++seq;
    e->acceptedAtMs = wallMs();
    e->payload = makePayload(e->seq, e->acceptedAtMs);
    e->targets = uint32_t(s.targets);
    e->remaining = e->targets;
    e->submitted = now;
    submit.push_back(e);
  };
  auto done = [&](Event* e, uint32_t index) {
    Op op{Op::kDone, --e->remaining == 0, index, 0, 0, e->ref1, e->ref2};
    ops.push_back(op);
    if (op.eventDone) delete e;
  };
  auto deliver = [&](Event* e, uint32_t index, Clock::time_point now) {
    if (mix(e->seq * kMaxTargets + index) % 100 < uint64_t(s.failPct)) {
      ops.push_back(Op{Op::kRetry, false, index, 1, wallMs() + s.retryMs, e->ref1, e->ref2});
      retries.push_back({now + retryDelay, e, index});
    } else {
      done(e, index);
    }
  };

  Clock::time_point now = Clock::now();
  for (int i = 0; i < s.producers; ++i) newEvent(now);
  for (;;) {
    if (!submit.empty() || !ops.empty()) {
      std::lock_guard lock(sh.mu);
      sh.toWrite.insert(sh.toWrite.end(), submit.begin(), submit.end());
      sh.ops.insert(sh.ops.end(), ops.begin(), ops.end());
      sh.writerCv.notify_one();
    }
    submit.clear();
    ops.clear();
    {
      std::unique_lock lock(sh.mu);
      auto ready = [&] { return sh.stop || !sh.durable.empty(); };
      Clock::time_point next = Clock::time_point::max();
      if (!delayed.empty()) next = delayed.front().due;
      if (!retries.empty()) next = std::min(next, retries.front().due);
      if (next == Clock::time_point::max()) {
        sh.ioCv.wait(lock, ready);
      } else {
        sh.ioCv.wait_until(lock, next, ready);
      }
      if (sh.stop) return;
      durable.swap(sh.durable);
    }
    now = Clock::now();
    bool measuring = sh.measuring.load(std::memory_order_relaxed);
    for (Event* e : durable) {
      if (measuring) {
        latenciesUs.add(std::chrono::duration<double, std::micro>(now - e->submitted).count());
      }
      newEvent(now);  // that client's next request
      // Stored now; the harness keeps only what a lease needs (refs, counters), so
      // that RSS shows the storage and not payloads held for pending retries.
      std::string().swap(e->payload);
      for (uint32_t i = 0; i < e->targets; ++i) {
        if (s.deliveryMs > 0) {
          delayed.push_back({now + deliveryDelay, e, i});
        } else {
          deliver(e, i, now);
        }
      }
    }
    if (measuring) sh.accepted.fetch_add(durable.size(), std::memory_order_relaxed);
    durable.clear();
    while (!delayed.empty() && delayed.front().due <= now) {
      deliver(delayed.front().event, delayed.front().index, now);
      delayed.pop_front();
    }
    while (!retries.empty() && retries.front().due <= now) {
      done(retries.front().event, retries.front().index);
      retries.pop_front();
    }
  }
}

struct Snapshot {
  Clock::time_point at;
  double cpu = 0, writerCpu = 0;
  ProcIo io;
  uint64_t accepted = 0, commits = 0, markCommits = 0;
};

Snapshot snapshot(Shared& sh, pthread_t writer) {
  Snapshot s;
  s.at = Clock::now();
  s.cpu = processCpuSeconds();
  s.writerCpu = threadCpuSeconds(writer);
  s.io = procIo();
  s.accepted = sh.accepted.load();
  s.commits = sh.commits.load();
  s.markCommits = sh.markCommits.load();
  return s;
}

}  // namespace

const char* const kRunHeader =
    "shape       T    P     ev/s  p50 ms  p99 ms  max ms  cpu us/ev  writer us/ev"
    "  written B/ev  device B/ev  RSS MiB  files MiB  sync ms  slow %";

int run(const Settings& s) {
  auto shape = makeShape(s);
  Shared sh;
  LatencyHistogram latencies;
  std::thread writer([&] { writerLoop(sh, *shape); });
  std::thread io([&] { ioLoop(sh, s, latencies); });

  // This thread samples the disk's sync time four times a second while the others run;
  // its CPU time and bytes are taken out of the totals.
  SyncProbe probe(s.dir);
  std::vector<double> syncs;
  std::this_thread::sleep_for(std::chrono::duration<double>(s.warmup));
  sh.measuring = true;
  Snapshot a = snapshot(sh, writer.native_handle());
  double probeCpu = threadCpuSeconds(pthread_self());
  auto end = a.at + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(s.duration));
  for (auto next = a.at + std::chrono::milliseconds(125); next < end;
       next += std::chrono::milliseconds(250)) {
    std::this_thread::sleep_until(next);
    syncs.push_back(probe.syncMs());
  }
  std::this_thread::sleep_until(end);
  sh.measuring = false;
  Snapshot b = snapshot(sh, writer.native_handle());
  probeCpu = threadCpuSeconds(pthread_self()) - probeCpu;
  ProcStatus mem = procStatus();
  uint64_t files = diskBytesOf(s.dir);
  {
    std::lock_guard lock(sh.mu);
    sh.stop = true;
    sh.writerCv.notify_all();
    sh.ioCv.notify_all();
  }
  io.join();
  writer.join();
  // What the shape says is pending must be what a restart would find.
  uint64_t pending = shape->pending();  // SQLite: also its rows against its own count
  if (s.shape != "sqlite") {
    RecoveryResult r = segmentRecover(s.dir);
    if (r.pending != pending) {
      die("%s: %llu deliveries pending, recovery finds %llu", s.shape.c_str(),
          (unsigned long long)pending, (unsigned long long)r.pending);
    }
  }
  if (shape->misses() != 0) {
    die("%s: %llu marks missed their delivery", s.shape.c_str(),
        (unsigned long long)shape->misses());
  }

  double secs = seconds(b.at - a.at);
  double n = double(b.accepted - a.accepted);
  if (n == 0) die("no event accepted in %.1f s", secs);
  double commits = double(b.commits - a.commits);
  if (commits > 0 && n / commits < 0.9 * s.producers) {
    // The closed loop should always find all P clients waiting; say so if it did not.
    std::fprintf(stderr, "queue_shapes: %s T=%d P=%d: %.1f events per commit\n", s.shape.c_str(),
                 s.targets, s.producers, n / commits);
  }
  double probeBytes = double(syncs.size() * SyncProbe::kBytes);
  double written = double(b.io.wchar - a.io.wchar) - probeBytes;
  double device = double(b.io.writeBytes - a.io.writeBytes) -
                  double(b.io.cancelledWriteBytes - a.io.cancelledWriteBytes) - probeBytes;
  size_t slow = size_t(std::count_if(syncs.begin(), syncs.end(), [](double ms) { return ms >= 1; }));
  std::printf("%-10s %2d %4d %8.0f %7.2f %7.2f %7.2f %10.1f %13.1f %13.0f %12.0f %8.1f %10.1f %8.2f %7.0f\n",
              s.shape.c_str(), s.targets, s.producers, n / secs,
              latencies.percentile(0.50) / 1000, latencies.percentile(0.99) / 1000,
              latencies.max() / 1000, (b.cpu - a.cpu - probeCpu) / n * 1e6,
              (b.writerCpu - a.writerCpu) / n * 1e6, written / n, std::max(0.0, device) / n,
              mem.rssMiB, double(files) / (1 << 20), median(syncs),
              syncs.empty() ? 0.0 : 100.0 * double(slow) / double(syncs.size()));
  std::fflush(stdout);
  return 0;
}

// ---- backlog: fill without consuming, then recover ------------------------------------
//
// Each step in a child process of its own: the filler exits without closing anything
// (what kill -9 leaves: SQLite's WAL not checkpointed), and each recovery starts with
// an empty heap and an honest RSS.

namespace {

struct FillResult {
  double seconds = 0, rssEmptyMiB = 0, rssFullMiB = 0, hwmMiB = 0;
  uint64_t pending = 0, diskBytes = 0;
};

struct RecoverResultMsg {
  double ms = 0, rssMiB = 0, hwmMiB = 0, readMiB = 0;
  RecoveryResult r;
};

template <class T, class F>
T inChild(F&& body) {
  int fds[2];
  if (pipe(fds) != 0) die("pipe: %s", std::strerror(errno));
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    T result = body();
    writeAll(fds[1], reinterpret_cast<const char*>(&result), sizeof result);
    std::_Exit(0);  // no destructors, no sqlite3_close: a crash as far as storage goes
  }
  close(fds[1]);
  T result{};
  size_t got = 0;
  while (got < sizeof result) {
    ssize_t r = ::read(fds[0], reinterpret_cast<char*>(&result) + got, sizeof result - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += size_t(r);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != sizeof result || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    die("child step failed");
  }
  return result;
}

}  // namespace

const char* const kBacklogHeader =
    "shape       T  deliveries  fill s  fill ev/s  files MiB  RSS empty MiB  RSS full MiB"
    "  recover cold ms (MiB read)  recover warm ms  RSS after MiB  pending found";

int backlog(const Settings& s) {
  FillResult fill = inChild<FillResult>([&] {
    FillResult f;
    auto shape = makeShape(s);
    f.rssEmptyMiB = procStatus().rssMiB;
    uint64_t events = uint64_t(s.deliveries) / uint64_t(s.targets);
    std::vector<std::unique_ptr<Event>> owned;
    std::vector<Event*> batch;
    auto start = Clock::now();
    for (uint64_t seq = 1; seq <= events;) {
      owned.clear();
      batch.clear();
      for (int i = 0; i < s.batch && seq <= events; ++i, ++seq) {
        auto e = std::make_unique<Event>();
        e->seq = seq;
        e->acceptedAtMs = wallMs();
        e->payload = makePayload(seq, e->acceptedAtMs);
        e->targets = uint32_t(s.targets);
        batch.push_back(e.get());
        owned.push_back(std::move(e));
      }
      shape->commit(batch, {}, true);
    }
    f.seconds = seconds(Clock::now() - start);
    owned.clear();
    owned.shrink_to_fit();
    ProcStatus m = procStatus();
    f.rssFullMiB = m.rssMiB;
    f.hwmMiB = m.hwmMiB;
    f.pending = events * uint64_t(s.targets);
    f.diskBytes = diskBytesOf(s.dir);
    // A crash: nothing closed, SQLite's last commits left in its WAL (not checkpointed).
    (void)shape.release();
    return f;
  });
  auto recover = [&](bool cold) {
    if (cold) evictFromPageCache(s.dir);
    return inChild<RecoverResultMsg>([&] {
      RecoverResultMsg m;
      ProcIo before = procIo();
      auto start = Clock::now();
      m.r = s.shape == "sqlite" ? sqliteRecover(s.dir, s.sqlite) : segmentRecover(s.dir);
      m.ms = seconds(Clock::now() - start) * 1000;
      m.readMiB = double(procIo().readBytes - before.readBytes) / (1 << 20);
      ProcStatus st = procStatus();
      m.rssMiB = st.rssMiB;
      m.hwmMiB = st.hwmMiB;
      return m;
    });
  };
  RecoverResultMsg cold = recover(true);
  RecoverResultMsg warm = recover(false);
  if (cold.r.pending != fill.pending || warm.r.pending != fill.pending ||
      cold.r.firstBatch != 100 || cold.r.badRecords != 0) {
    std::fprintf(stderr,
                 "queue_shapes: %s backlog: wrote %llu, recovery found %llu pending, "
                 "%llu in first batch, %llu bad records\n",
                 s.shape.c_str(), (unsigned long long)fill.pending,
                 (unsigned long long)cold.r.pending, (unsigned long long)cold.r.firstBatch,
                 (unsigned long long)cold.r.badRecords);
  }
  std::printf("%-10s %2d %11ld %7.1f %10.0f %10.1f %14.1f %13.1f %15.0f (%7.1f) %16.0f %14.1f %14llu\n",
              s.shape.c_str(), s.targets, s.deliveries, fill.seconds,
              double(fill.pending / uint64_t(s.targets)) / fill.seconds,
              double(fill.diskBytes) / (1 << 20), fill.rssEmptyMiB, fill.rssFullMiB, cold.ms,
              cold.readMiB, warm.ms, std::max(cold.rssMiB, warm.rssMiB),
              (unsigned long long)cold.r.pending);
  std::fflush(stdout);
  return 0;
}

}  // namespace queue_shapes
