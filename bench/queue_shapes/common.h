// What every part of the queue_shapes benchmark shares: settings, the workload's events
// and marks, the Shape interface both storage shapes implement, and the helpers for
// timing and process counters. Each .cc of the program includes this first; what a
// file offers the others is declared here under its name, and the rest stays private to
// it (an unnamed namespace), as it was in the single file this grew out of.
//
//   common.cc         the helpers below: errors, CRC, /proc counters, files, the workload
//   sqlite_shape.cc   (A) SQLite
//   segment_shape.cc  (B) segment files
//   driver.cc         run (producers, writer, consumer) and backlog (fill, then recover)
//   main.cc           the command line
#pragma once

#include <pthread.h>
#include <time.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "queue/embedded/crc32c.h"

namespace queue_shapes {

using Clock = std::chrono::steady_clock;

// Prints "queue_shapes: <message>" and exits with 1 at once (no destructors).
[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Inline: called for every event and every record, as they were in one file.
inline int64_t wallMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- CRC32C (Castagnoli): the embedded queue's own ------------------------------------

// Chains: crc32c(crc32c(0, a), b) is the CRC of a followed by b.
inline uint32_t crc32c(uint32_t crc, const void* data, size_t n) {
  return eg::queue::crc32c(std::string_view(static_cast<const char*>(data), n), crc);
}

void crcSelfTest();

// ---- process counters -----------------------------------------------------------------

struct ProcStatus {
  double rssMiB = 0, hwmMiB = 0;
};

ProcStatus procStatus();

struct ProcIo {
  uint64_t wchar = 0, syscw = 0, readBytes = 0, writeBytes = 0, cancelledWriteBytes = 0;
};

ProcIo procIo();
double processCpuSeconds();
double threadCpuSeconds(pthread_t thread);

// ---- files --------------------------------------------------------------------------------

// The entries of `dir` (not starting with '.'), as paths, sorted.
std::vector<std::string> filesIn(const std::string& dir);
uint64_t diskBytesOf(const std::string& dir);
void evictFromPageCache(const std::string& dir);
// Writes all of it, or dies.
void writeAll(int fd, const char* p, size_t n);

// ---- measuring the disk ---------------------------------------------------------------------

// How fast the disk syncs right now: one overwrite of a 4 KiB block and fdatasync(), the
// floor under any durable commit. A virtual disk's sync time can change by an order of
// magnitude from one minute to the next (here: ~0.07 ms or ~4 ms), so every run samples
// it while it measures, as a hint of which phase the run saw.
class SyncProbe {
 public:
  static constexpr size_t kBytes = 4096;
  explicit SyncProbe(const std::string& dir);
  ~SyncProbe();
  double syncMs();

 private:
  std::string path_, block_;
  int fd_ = -1;
};

double median(std::vector<double> v);

// ---- the workload ------------------------------------------------------------------------

struct TargetSpec {
  std::string space, subscriptionId, functionId, eventType;
};

inline constexpr int kMaxTargets = 10;
inline constexpr uint8_t kTargetFlags = 0;
inline constexpr int64_t kConfigRevision = 4242;
inline constexpr std::string_view kLastError = "function answered 503 Service Unavailable";

// Ten targets of about 100 bytes each: space, subscription ID (~65), function ID, type.
const std::vector<TargetSpec>& allTargets();

// A CloudEvent as the gateway builds it for a structured POST: ~400 bytes.
std::string makePayload(uint64_t seq, int64_t ms);

// One accepted event and its T deliveries, owned by the I/O thread from submission until
// its last delivery is done; the writer borrows it for one commit.
struct Event {
  uint64_t seq = 0;
  int64_t acceptedAtMs = 0;
  std::string payload;
  uint32_t targets = 0;    // the first `targets` of allTargets()
  uint32_t remaining = 0;  // deliveries not yet done (I/O thread)
  Clock::time_point submitted;
  uint64_t ref1 = 0, ref2 = 0;  // where the shape put it (filled by commit)
};

// A done-mark or a retry of one delivery, by the refs its event got from the shape.
struct Op {
  enum Kind : uint8_t { kDone, kRetry };
  Kind kind = kDone;
  bool eventDone = false;  // kDone of the event's last delivery
  uint32_t index = 0;      // which of the event's targets
  uint32_t attempts = 0;
  int64_t dueAtMs = 0;
  uint64_t ref1 = 0, ref2 = 0;
};

// A delivery as a consumer reading the queue back gets it.
struct LoadedDelivery {
  std::string payload, space, subscriptionId, functionId, eventType, lastError;
  int64_t acceptedAtMs = 0, dueAtMs = 0;
  uint32_t attempts = 0, index = 0;
  uint8_t flags = 0;
};

struct RecoveryResult {
  uint64_t pending = 0;  // deliveries not done
  uint64_t firstBatch = 0;  // due deliveries read back (at most 100)
  uint64_t bytesScanned = 0;
  uint64_t badRecords = 0;
};

// A storage shape, driven by one thread.
class Shape {
 public:
  virtual ~Shape() = default;
  // Stores `events` (filling their refs) and applies `ops`, as one write; with `durable`
  // it is on disk when commit returns.
  virtual void commit(std::span<Event* const> events, std::span<const Op> ops,
                      bool durable) = 0;
  // Deliveries the shape holds as not done, by its own bookkeeping.
  virtual uint64_t pending() = 0;
  // Ops that found nothing to change (must stay 0).
  virtual uint64_t misses() const { return 0; }
};

// ---- settings ------------------------------------------------------------------------------

struct SqliteSettings {
  int pageSize = 4096;
  int cacheKiB = 4096;
  int checkpointPages = 1000;
};

// Parsed once from the command line (main.cc); the defaults are the script's.
struct Settings {
  std::string command;
  std::string shape;
  std::string dir;
  int producers = 8;
  int targets = 1;
  double duration = 10;
  double warmup = 1;
  int deliveryMs = 0;   // time a delivery takes before it is marked
  int retryMs = 200;    // delay of the one retry of a failing delivery
  int failPct = 30;     // deliveries that fail once
  int segmentMiB = 16;
  SqliteSettings sqlite;
  long deliveries = 1000000;  // backlog
  int batch = 256;            // events per commit while filling the backlog
};

// ---- sqlite_shape.cc ----------------------------------------------------------------------

std::unique_ptr<Shape> makeSqliteShape(const std::string& dir, const SqliteSettings& s);
// What a restarted queue does before it serves: open, count what is pending (the
// queue-size metric) and read the first due deliveries with their events.
RecoveryResult sqliteRecover(const std::string& dir, const SqliteSettings& s);

// ---- segment_shape.cc ---------------------------------------------------------------------

// `recycle`: retired files are written over instead of new ones created (see the file).
std::unique_ptr<Shape> makeSegmentShape(std::string dir, uint64_t segmentBytes, bool recycle);
// The same work as sqliteRecover, over every segment file of `dir`.
RecoveryResult segmentRecover(const std::string& dir);

// ---- driver.cc -----------------------------------------------------------------------------

// The shape named by s.shape (sqlite, segment, seg-append), or dies.
std::unique_ptr<Shape> makeShape(const Settings& s);
// One configuration of the matrix: prints one row under kRunHeader.
int run(const Settings& s);
// Fill a backlog, crash, recover cold and warm: prints one row under kBacklogHeader.
int backlog(const Settings& s);
extern const char* const kRunHeader;
extern const char* const kBacklogHeader;

}  // namespace queue_shapes
