// Micro-benchmark of the two storage shapes considered for the embedded delivery queue
// (spec §5): (A) SQLite, (B) append-only segment files of checksummed records. Both get
// the same workload: producers that wait for their event to be durable (group commit by
// one writer thread), a consumer that marks deliveries done or retried, and a backlog
// that is written and never consumed. Standalone on purpose (no project code), so that
// it measures the storage and nothing else. See docs/queue-shapes.md;
// bench/queue_shapes.sh builds it and runs the matrix.
//
//   queue_shapes selftest
//   queue_shapes header | backlog-header
//   queue_shapes run     --shape sqlite|segment --dir D --p 8 --t 1 [options]
//   queue_shapes backlog --shape sqlite|segment --dir D --t 10 [options]
//   queue_shapes probe   --dir D
//
// Build: g++ -std=c++20 -O2 queue_shapes.cc -o queue_shapes -lsqlite3 -lpthread

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "queue/embedded/crc32c.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("queue_shapes: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::_Exit(1);
}

int64_t wallMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- CRC32C (Castagnoli): the embedded queue's own ------------------------------------

// Chains: crc32c(crc32c(0, a), b) is the CRC of a followed by b.
uint32_t crc32c(uint32_t crc, const void* data, size_t n) {
  return eg::queue::crc32c(std::string_view(static_cast<const char*>(data), n), crc);
}

void crcSelfTest() {
  // The standard check value of "123456789", and chaining.
  if (crc32c(0, "123456789", 9) != 0xE3069283u || crc32c(crc32c(0, "1234", 4), "56789", 5) != 0xE3069283u) {
    die("CRC32C self-test failed");
  }
}

// ---- process counters -----------------------------------------------------------------

struct ProcStatus {
  double rssMiB = 0, hwmMiB = 0;
};

ProcStatus procStatus() {
  ProcStatus s;
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return s;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    long kb = 0;
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) s.rssMiB = kb / 1024.0;
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) s.hwmMiB = kb / 1024.0;
  }
  std::fclose(f);
  return s;
}

struct ProcIo {
  uint64_t wchar = 0, syscw = 0, readBytes = 0, writeBytes = 0, cancelledWriteBytes = 0;
};

ProcIo procIo() {
  ProcIo io;
  FILE* f = std::fopen("/proc/self/io", "r");
  if (!f) return io;
  char key[64];
  unsigned long long v;
  while (std::fscanf(f, "%63[^:]: %llu\n", key, &v) == 2) {
    std::string_view k(key);
    if (k == "wchar") io.wchar = v;
    if (k == "syscw") io.syscw = v;
    if (k == "read_bytes") io.readBytes = v;
    if (k == "write_bytes") io.writeBytes = v;
    if (k == "cancelled_write_bytes") io.cancelledWriteBytes = v;
  }
  std::fclose(f);
  return io;
}

double processCpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

double threadCpuSeconds(pthread_t thread) {
  clockid_t id;
  timespec ts{};
  if (pthread_getcpuclockid(thread, &id) != 0 || clock_gettime(id, &ts) != 0) return 0;
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::vector<std::string> filesIn(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t diskBytesOf(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& f : filesIn(dir)) {
    struct stat st;
    if (stat(f.c_str(), &st) == 0) n += uint64_t(st.st_blocks) * 512;
  }
  return n;
}

// Makes the page cache forget the files of `dir`, so that a recovery reads them from the
// disk. Only our own files, no root needed (unlike drop_caches).
void evictFromPageCache(const std::string& dir) {
  for (const auto& f : filesIn(dir)) {
    int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    fdatasync(fd);  // DONTNEED leaves dirty pages alone
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
}

// ---- the workload ------------------------------------------------------------------------

struct TargetSpec {
  std::string space, subscriptionId, functionId, eventType;
};

constexpr int kMaxTargets = 10;
constexpr uint8_t kTargetFlags = 0;
constexpr int64_t kConfigRevision = 4242;
constexpr std::string_view kLastError = "function answered 503 Service Unavailable";

// Ten targets of about 100 bytes each: space, subscription ID (~65), function ID, type.
const std::vector<TargetSpec>& allTargets() {
  static const std::vector<TargetSpec> targets = [] {
    std::vector<TargetSpec> v;
    for (int i = 0; i < kMaxTargets; ++i) {
      char fn[40];
      std::snprintf(fn, sizeof fn, "user-created-handler-%02d", i);
      v.push_back({"default", std::string("user.created,") + fn + ",%2Fmyteam%2Fusers,POST,async",
                   fn, "user.created"});
    }
    return v;
  }();
  return targets;
}

// A CloudEvent as the gateway builds it for a structured POST: ~400 bytes.
std::string makePayload(uint64_t seq, int64_t ms) {
  time_t secs = ms / 1000;
  tm t;
  gmtime_r(&secs, &t);
  char buf[640];
  int n = std::snprintf(
      buf, sizeof buf,
      "{\"eventType\":\"user.created\",\"eventTypeVersion\":\"1.0\","
      "\"cloudEventsVersion\":\"0.1\",\"source\":\"/myteam/users\","
      "\"eventID\":\"%08llx-%04llx-4%03llx-a%03llx-%012llx\","
      "\"eventTime\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\","
      "\"extensions\":{\"eventgateway\":{\"transformed\":\"true\","
      "\"transformationVersion\":\"0.1\"}},\"contentType\":\"application/json\","
      "\"data\":{\"id\":%llu,\"name\":\"Max Mustermann\",\"email\":\"max@example.com\","
      "\"plan\":\"team\",\"signupSource\":\"web\"}}",
      (unsigned long long)(seq * 2654435761u) & 0xffffffffu, (unsigned long long)(seq >> 7) & 0xffff,
      (unsigned long long)seq & 0xfff, (unsigned long long)(seq >> 12) & 0xfff,
      (unsigned long long)seq * 11400714819323198485ull & 0xffffffffffffull, t.tm_year + 1900,
      t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, int(ms % 1000),
      (unsigned long long)seq);
  return std::string(buf, size_t(n));
}

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

// ---- (A) SQLite ------------------------------------------------------------------------

struct SqliteSettings {
  int pageSize = 4096;
  int cacheKiB = 4096;
  int checkpointPages = 1000;
};

void sqliteCheck(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    die("sqlite %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  }
}

void sqliteExec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) die("sqlite '%s': %s", sql, err);
}

// The event once; its deliveries in a WITHOUT ROWID table keyed (event_id, idx), so an
// event's deliveries are adjacent and "is this event done" after a restart is a range
// scan of the primary key, with no extra index. The due index serves the scheduler's
// "what is due next".
constexpr const char* kSqliteSchema = R"sql(
CREATE TABLE IF NOT EXISTS event(
  id INTEGER PRIMARY KEY,
  accepted_at INTEGER NOT NULL,
  config_revision INTEGER NOT NULL,
  payload BLOB NOT NULL,
  request BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS delivery(
  event_id INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  space TEXT NOT NULL,
  subscription_id TEXT NOT NULL,
  function_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  flags INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  PRIMARY KEY (event_id, idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivery_due ON delivery(due_at);
)sql";

sqlite3* sqliteOpen(const std::string& dir, const SqliteSettings& s) {
  std::string path = dir + "/queue.db";
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  sqliteCheck(db, rc, "open");
  // Exclusive locking before the first access: one process owns the queue, and the WAL
  // index lives in heap memory instead of a shared -shm mapping (as src/store does).
  sqliteExec(db, "PRAGMA locking_mode=EXCLUSIVE");
  char sql[128];
  std::snprintf(sql, sizeof sql, "PRAGMA page_size=%d", s.pageSize);  // before the first table
  sqliteExec(db, sql);
  sqlite3_stmt* st = nullptr;
  sqliteCheck(db, sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, nullptr), "wal");
  if (sqlite3_step(st) != SQLITE_ROW ||
      std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) != "wal") {
    die("journal_mode=WAL not accepted");
  }
  sqlite3_finalize(st);
  sqliteExec(db, "PRAGMA synchronous=FULL");
  std::snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", s.cacheKiB);
  sqliteExec(db, sql);
  std::snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint=%d", s.checkpointPages);
  sqliteExec(db, sql);
  sqliteExec(db, "PRAGMA temp_store=MEMORY");
  return db;
}

class SqliteShape final : public Shape {
 public:
  SqliteShape(const std::string& dir, const SqliteSettings& s) : db_(sqliteOpen(dir, s)) {
    sqliteExec(db_, kSqliteSchema);
    begin_ = prepare("BEGIN");
    commit_ = prepare("COMMIT");
    syncFull_ = prepare("PRAGMA synchronous=FULL");
    syncNormal_ = prepare("PRAGMA synchronous=NORMAL");
    insertEvent_ = prepare(
        "INSERT INTO event(id, accepted_at, config_revision, payload, request) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    insertDelivery_ = prepare(
        "INSERT INTO delivery(event_id, idx, space, subscription_id, function_id, event_type,"
        " flags, attempts, due_at, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, '')");
    deleteDelivery_ = prepare("DELETE FROM delivery WHERE event_id = ?1 AND idx = ?2");
    deleteEvent_ = prepare("DELETE FROM event WHERE id = ?1");
    retryDelivery_ = prepare(
        "UPDATE delivery SET attempts = ?3, due_at = ?4, last_error = ?5 "
        "WHERE event_id = ?1 AND idx = ?2");
    sqlite3_stmt* st = prepare("SELECT coalesce(max(id), 0) + 1 FROM event");
    sqlite3_step(st);
    nextEventId_ = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }

  ~SqliteShape() override {
    for (sqlite3_stmt* st : {begin_, commit_, syncFull_, syncNormal_, insertEvent_,
                             insertDelivery_, deleteDelivery_, deleteEvent_, retryDelivery_}) {
      sqlite3_finalize(st);
    }
    sqlite3_close_v2(db_);
  }

  void commit(std::span<Event* const> events, std::span<const Op> ops, bool durable) override {
    // Marks alone need not be durable before anything (a lost done-mark is a duplicate
    // delivery), so a commit of marks only does not sync; the next durable commit's sync
    // of the WAL covers it.
    if (durable != fullSync_) {
      step(durable ? syncFull_ : syncNormal_);
      fullSync_ = durable;
    }
    step(begin_);
    const auto& targets = allTargets();
    for (Event* e : events) {
      e->ref1 = uint64_t(nextEventId_++);
      sqlite3_bind_int64(insertEvent_, 1, int64_t(e->ref1));
      sqlite3_bind_int64(insertEvent_, 2, e->acceptedAtMs);
      sqlite3_bind_int64(insertEvent_, 3, kConfigRevision);
      sqlite3_bind_blob(insertEvent_, 4, e->payload.data(), int(e->payload.size()), SQLITE_STATIC);
      sqlite3_bind_blob(insertEvent_, 5, "", 0, SQLITE_STATIC);
      step(insertEvent_);
      for (uint32_t i = 0; i < e->targets; ++i) {
        const TargetSpec& t = targets[i];
        sqlite3_stmt* st = insertDelivery_;
        sqlite3_bind_int64(st, 1, int64_t(e->ref1));
        sqlite3_bind_int(st, 2, int(i));
        sqlite3_bind_text(st, 3, t.space.data(), int(t.space.size()), SQLITE_STATIC);
        sqlite3_bind_text(st, 4, t.subscriptionId.data(), int(t.subscriptionId.size()),
                          SQLITE_STATIC);
        sqlite3_bind_text(st, 5, t.functionId.data(), int(t.functionId.size()), SQLITE_STATIC);
        sqlite3_bind_text(st, 6, t.eventType.data(), int(t.eventType.size()), SQLITE_STATIC);
        sqlite3_bind_int(st, 7, kTargetFlags);
        sqlite3_bind_int64(st, 8, e->acceptedAtMs);
        step(st);
      }
      pending_ += e->targets;
    }
    for (const Op& op : ops) {
      if (op.kind == Op::kDone) {
        sqlite3_bind_int64(deleteDelivery_, 1, int64_t(op.ref1));
        sqlite3_bind_int(deleteDelivery_, 2, int(op.index));
        step(deleteDelivery_);
        if (sqlite3_changes(db_) != 1) ++misses_;
        if (op.eventDone) {
          sqlite3_bind_int64(deleteEvent_, 1, int64_t(op.ref1));
          step(deleteEvent_);
          if (sqlite3_changes(db_) != 1) ++misses_;
        }
        --pending_;
      } else {
        sqlite3_bind_int64(retryDelivery_, 1, int64_t(op.ref1));
        sqlite3_bind_int(retryDelivery_, 2, int(op.index));
        sqlite3_bind_int(retryDelivery_, 3, int(op.attempts));
        sqlite3_bind_int64(retryDelivery_, 4, op.dueAtMs);
        sqlite3_bind_text(retryDelivery_, 5, kLastError.data(), int(kLastError.size()),
                          SQLITE_STATIC);
        step(retryDelivery_);
        if (sqlite3_changes(db_) != 1) ++misses_;
      }
    }
    step(commit_);
  }

  uint64_t pending() override {
    sqlite3_stmt* st = prepare("SELECT count(*) FROM delivery");
    sqlite3_step(st);
    uint64_t n = uint64_t(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    if (n != pending_) ++misses_;
    return n;
  }
  uint64_t misses() const override { return misses_; }

 private:
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* st = nullptr;
    sqliteCheck(db_, sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr),
                sql);
    return st;
  }
  void step(sqlite3_stmt* st) {
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) die("sqlite step: %s", sqlite3_errmsg(db_));
    sqlite3_reset(st);
  }

  sqlite3* db_;
  sqlite3_stmt *begin_, *commit_, *syncFull_, *syncNormal_, *insertEvent_, *insertDelivery_,
      *deleteDelivery_, *deleteEvent_, *retryDelivery_;
  int64_t nextEventId_ = 1;
  bool fullSync_ = true;
  uint64_t pending_ = 0;
  uint64_t misses_ = 0;
};

// What a restarted queue does before it serves: open, count what is pending (the
// queue-size metric) and read the first due deliveries with their events.
RecoveryResult sqliteRecover(const std::string& dir, const SqliteSettings& s) {
  RecoveryResult r;
  sqlite3* db = sqliteOpen(dir, s);
  sqliteExec(db, kSqliteSchema);
  sqlite3_stmt* st = nullptr;
  sqliteCheck(db, sqlite3_prepare_v2(db, "SELECT count(*) FROM delivery", -1, &st, nullptr), "count");
  sqlite3_step(st);
  r.pending = uint64_t(sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  sqliteCheck(db,
              sqlite3_prepare_v2(
                  db,
                  "SELECT d.idx, d.space, d.subscription_id, d.function_id, d.event_type,"
                  " d.flags, d.attempts, d.due_at, d.last_error, e.payload, e.accepted_at"
                  " FROM delivery d JOIN event e ON e.id = d.event_id"
                  " WHERE d.due_at <= ?1 ORDER BY d.due_at LIMIT 100",
                  -1, &st, nullptr),
              "due");
  sqlite3_bind_int64(st, 1, wallMs());
  std::vector<LoadedDelivery> batch;
  auto text = [st](int c) {
    return std::string(reinterpret_cast<const char*>(sqlite3_column_blob(st, c)),
                       size_t(sqlite3_column_bytes(st, c)));
  };
  while (sqlite3_step(st) == SQLITE_ROW) {
    LoadedDelivery d;
    d.index = uint32_t(sqlite3_column_int(st, 0));
    d.space = text(1);
    d.subscriptionId = text(2);
    d.functionId = text(3);
    d.eventType = text(4);
    d.flags = uint8_t(sqlite3_column_int(st, 5));
    d.attempts = uint32_t(sqlite3_column_int(st, 6));
    d.dueAtMs = sqlite3_column_int64(st, 7);
    d.lastError = text(8);
    d.payload = text(9);
    d.acceptedAtMs = sqlite3_column_int64(st, 10);
    batch.push_back(std::move(d));
  }
  sqlite3_finalize(st);
  r.firstBatch = batch.size();
  // Left open on purpose: closing would checkpoint, and the caller exits at once.
  return r;
}

// ---- (B) segment files -----------------------------------------------------------------
//
// Files NNNNNNNNNNNNNNNN.seg, written front to back; a new one before the current one
// would pass the size limit. Every record:
//
//   u32 crc32c (of the segment number as u32, then everything after the crc) |
//   u32 body length | u8 type | body
//
//   event (1): the form of src/queue/record.h: u8 version | i64 acceptedAtMs |
//              i64 configRevision | str payload | str request | u32 count |
//              count × (str space | str subscriptionId | str functionId | str eventType |
//                       u8 flags | u32 attempts | i64 dueAtMs | str lastError)
//   done  (2): u32 n | n × ref
//   retry (3): u32 n | n × (ref | u32 attempts | i64 dueAtMs | str lastError)
//   ref = u32 segment | u32 offset of the event record | u32 target index; str = u32 + bytes
//
// Memory: one counter of not-done deliveries per segment file, nothing per delivery
// (a consumer reads waiting deliveries back with a cursor). Files are retired from the
// oldest on, once all their deliveries are done, so that no done-mark outlives the file
// it refers to.
//
// Recycling (on by default, as RocksDB's recycle_log_file_num): a retired file is
// renamed to a spare (at most two) and later renamed to the next segment and written
// over from its start. Overwriting allocated blocks does not change the file's size or
// extents, so fdatasync() has no metadata to commit to the ext4 journal: one flush
// instead of two, as SQLite's WAL gets once it restarts from its beginning after a
// checkpoint. The segment number in every CRC makes the old records behind the new ones
// fail their check, so a scan ends there as at a torn tail.

enum RecordType : uint8_t { kEventRecord = 1, kDoneRecord = 2, kRetryRecord = 3 };
constexpr size_t kRecordHead = 9;
constexpr uint8_t kRecordVersion = 1;

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void putStr(std::string& out, std::string_view s) {
  put<uint32_t>(out, uint32_t(s.size()));
  out.append(s);
}

size_t beginRecord(std::string& out, RecordType type) {
  size_t at = out.size();
  out.append(8, '\0');
  out.push_back(char(type));
  return at;
}
void endRecord(std::string& out, size_t at) {
  uint32_t len = uint32_t(out.size() - at - kRecordHead);
  std::memcpy(out.data() + at + 4, &len, 4);
}
uint32_t recordCrc(uint64_t segment, const char* afterCrc, size_t n) {
  uint32_t id = uint32_t(segment);
  return crc32c(crc32c(0, &id, 4), afterCrc, n);
}
// Fills in the CRC of the record at `at`, once its segment is known.
void sealRecord(std::string& out, size_t at, uint64_t segment) {
  uint32_t len;
  std::memcpy(&len, out.data() + at + 4, 4);
  uint32_t crc = recordCrc(segment, out.data() + at + 4, kRecordHead - 4 + len);
  std::memcpy(out.data() + at, &crc, 4);
}

std::string segmentPath(const std::string& dir, uint64_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "/%016llu.seg", (unsigned long long)id);
  return dir + name;
}

void writeAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write: %s", std::strerror(errno));
    }
    p += w;
    n -= size_t(w);
  }
}

class SegmentShape final : public Shape {
 public:
  SegmentShape(std::string dir, uint64_t segmentBytes, bool recycle)
      : dir_(std::move(dir)), segmentBytes_(segmentBytes), recycle_(recycle) {
    dirFd_ = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirFd_ < 0) die("open %s: %s", dir_.c_str(), std::strerror(errno));
    openSegment(1);
  }
  ~SegmentShape() override {
    if (fd_ >= 0) close(fd_);
    close(dirFd_);
  }

  void commit(std::span<Event* const> events, std::span<const Op> ops, bool durable) override {
    buf_.clear();
    records_.clear();
    const auto& targets = allTargets();
    for (Event* e : events) {
      size_t at = beginRecord(buf_, kEventRecord);
      records_.push_back(at);
      e->ref2 = at;  // relative to the batch until the file is known
      put<uint8_t>(buf_, kRecordVersion);
      put<int64_t>(buf_, e->acceptedAtMs);
      put<int64_t>(buf_, kConfigRevision);
      putStr(buf_, e->payload);
      putStr(buf_, {});
      put<uint32_t>(buf_, e->targets);
      for (uint32_t i = 0; i < e->targets; ++i) {
        const TargetSpec& t = targets[i];
        putStr(buf_, t.space);
        putStr(buf_, t.subscriptionId);
        putStr(buf_, t.functionId);
        putStr(buf_, t.eventType);
        put<uint8_t>(buf_, kTargetFlags);
        put<uint32_t>(buf_, 0);
        put<int64_t>(buf_, e->acceptedAtMs);
        putStr(buf_, {});
      }
      endRecord(buf_, at);
    }
    size_t dones = 0, retries = 0;
    for (const Op& op : ops) (op.kind == Op::kDone ? dones : retries)++;
    if (dones > 0) {
      size_t at = beginRecord(buf_, kDoneRecord);
      records_.push_back(at);
      put<uint32_t>(buf_, uint32_t(dones));
      for (const Op& op : ops) {
        if (op.kind != Op::kDone) continue;
        put<uint32_t>(buf_, uint32_t(op.ref1));
        put<uint32_t>(buf_, uint32_t(op.ref2));
        put<uint32_t>(buf_, op.index);
      }
      endRecord(buf_, at);
    }
    if (retries > 0) {
      size_t at = beginRecord(buf_, kRetryRecord);
      records_.push_back(at);
      put<uint32_t>(buf_, uint32_t(retries));
      for (const Op& op : ops) {
        if (op.kind != Op::kRetry) continue;
        put<uint32_t>(buf_, uint32_t(op.ref1));
        put<uint32_t>(buf_, uint32_t(op.ref2));
        put<uint32_t>(buf_, op.index);
        put<uint32_t>(buf_, op.attempts);
        put<int64_t>(buf_, op.dueAtMs);
        putStr(buf_, kLastError);
      }
      endRecord(buf_, at);
    }
    if (size_ > 0 && size_ + buf_.size() > segmentBytes_) openSegment(segments_.back().id + 1);
    Segment& current = segments_.back();
    for (size_t at : records_) sealRecord(buf_, at, current.id);
    for (Event* e : events) {
      e->ref1 = current.id;
      e->ref2 += size_;
      current.live += e->targets;
    }
    writeAll(fd_, buf_.data(), buf_.size());
    size_ += buf_.size();
    if (durable) {
      if (dirDirty_ && fsync(dirFd_) != 0) die("fsync dir: %s", std::strerror(errno));
      dirDirty_ = false;
      if (fdatasync(fd_) != 0) die("fdatasync: %s", std::strerror(errno));
    }
    for (const Op& op : ops) {
      if (op.kind != Op::kDone) continue;
      uint64_t first = segments_.front().id;
      if (op.ref1 < first || op.ref1 - first >= segments_.size()) {
        ++misses_;
        continue;
      }
      Segment& s = segments_[op.ref1 - first];
      if (s.live == 0) ++misses_; else --s.live;
    }
    while (segments_.size() > 1 && segments_.front().live == 0) {
      retire(segments_.front().id);
      segments_.pop_front();
    }
  }

  uint64_t pending() override {
    uint64_t n = 0;
    for (const Segment& s : segments_) n += s.live;
    return n;
  }
  uint64_t misses() const override { return misses_; }

 private:
  struct Segment {
    uint64_t id;
    uint64_t live;  // deliveries of its event records not done
  };

  void openSegment(uint64_t id) {
    if (fd_ >= 0) close(fd_);  // synced by the last durable commit, or holding only marks
    std::string path = segmentPath(dir_, id);
    if (!spares_.empty()) {
      if (rename(spares_.back().c_str(), path.c_str()) != 0) die("rename: %s", std::strerror(errno));
      spares_.pop_back();
      fd_ = open(path.c_str(), O_WRONLY | O_CLOEXEC);  // written over from offset 0
    } else {
      fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd_ < 0) die("open segment: %s", std::strerror(errno));
    segments_.push_back({id, 0});
    size_ = 0;
    dirDirty_ = true;  // the new name must be durable with the first records in it
  }

  // A file whose deliveries are all done. Neither its unlink nor its rename need to be
  // durable at once: if either is lost, a restart finds the file with its done-marks
  // in the files after it (those are still there), or, renamed, with records whose
  // segment number no longer matches.
  void retire(uint64_t id) {
    std::string path = segmentPath(dir_, id);
    if (recycle_ && spares_.size() < kMaxSpares) {
      std::string spare = dir_ + "/spare-" + std::to_string(++spareSeq_);
      if (rename(path.c_str(), spare.c_str()) != 0) die("rename: %s", std::strerror(errno));
      spares_.push_back(spare);
    } else {
      unlink(path.c_str());
    }
  }

  static constexpr size_t kMaxSpares = 2;

  std::string dir_;
  uint64_t segmentBytes_;
  bool recycle_;
  std::vector<std::string> spares_;
  uint64_t spareSeq_ = 0;
  std::vector<size_t> records_;  // starts of the records in buf_
  int dirFd_ = -1, fd_ = -1;
  uint64_t size_ = 0;
  bool dirDirty_ = false;
  std::deque<Segment> segments_;
  std::string buf_;
  uint64_t misses_ = 0;
};

// Reads records one after the other through a 1 MiB buffer; a record that fails its
// length or checksum ends the file (a torn tail after a crash).
class RecordReader {
 public:
  RecordReader(const std::string& path, uint64_t segment)
      : fd_(open(path.c_str(), O_RDONLY | O_CLOEXEC)), segment_(segment) {
    if (fd_ < 0) die("open %s: %s", path.c_str(), std::strerror(errno));
    buf_.resize(1 << 20);
  }
  ~RecordReader() { close(fd_); }
  // The next record's type and body; false at the end or at a bad record (then bad()).
  bool next(uint8_t& type, std::string_view& body, uint64_t& offset) {
    if (!fill(kRecordHead)) return false;
    uint32_t crc, len;
    std::memcpy(&crc, buf_.data() + pos_, 4);
    std::memcpy(&len, buf_.data() + pos_ + 4, 4);
    if (len > (64u << 20) || !fill(kRecordHead + len)) {
      bad_ = true;
      return false;
    }
    if (recordCrc(segment_, buf_.data() + pos_ + 4, kRecordHead - 4 + len) != crc) {
      bad_ = true;
      return false;
    }
    type = uint8_t(buf_[pos_ + 8]);
    body = std::string_view(buf_.data() + pos_ + kRecordHead, len);
    offset = fileOffset_ + pos_;
    pos_ += kRecordHead + len;
    bytes_ += kRecordHead + len;
    return true;
  }
  bool bad() const { return bad_; }
  uint64_t bytes() const { return bytes_; }

 private:
  // Makes `n` bytes available at pos_; false when the file ends first.
  bool fill(size_t n) {
    if (end_ - pos_ >= n) return true;
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    fileOffset_ += pos_;
    end_ -= pos_;
    pos_ = 0;
    if (buf_.size() < n) buf_.resize(n);
    while (end_ < n) {
      ssize_t r = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        if (end_ != 0) bad_ = true;  // a partial record at the end
        return false;
      }
      end_ += size_t(r);
    }
    return true;
  }

  int fd_;
  uint64_t segment_;
  std::string buf_;
  size_t pos_ = 0, end_ = 0;
  uint64_t fileOffset_ = 0, bytes_ = 0;
  bool bad_ = false;
};

class BodyReader {
 public:
  explicit BodyReader(std::string_view b) : b_(b) {}
  template <class T>
  bool get(T& v) {
    if (b_.size() < sizeof(T)) return false;
    std::memcpy(&v, b_.data(), sizeof(T));
    b_.remove_prefix(sizeof(T));
    return true;
  }
  bool str(std::string_view& s) {
    uint32_t n;
    if (!get(n) || b_.size() < n) return false;
    s = b_.substr(0, n);
    b_.remove_prefix(n);
    return true;
  }

 private:
  std::string_view b_;
};

// The same work as sqliteRecover: verify every record, count what is pending, read the
// first due deliveries. Acks and retries of deliveries in files still present are kept
// in memory (none in a backlog that was never consumed).
RecoveryResult segmentRecover(const std::string& dir) {
  RecoveryResult r;
  struct Ref {
    uint32_t seg, off, idx;
    bool operator==(const Ref&) const = default;
  };
  struct RefHash {
    size_t operator()(const Ref& x) const {
      return (uint64_t(x.seg) << 40 ^ uint64_t(x.off) << 8 ^ x.idx) * 0x9E3779B97F4A7C15ull;
    }
  };
  std::map<uint64_t, uint64_t> live;  // segment → deliveries written
  std::unordered_set<Ref, RefHash> done;
  std::unordered_map<Ref, std::pair<uint32_t, int64_t>, RefHash> retried;
  uint64_t written = 0;
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const auto& f : filesIn(dir)) {
    std::string_view name = std::string_view(f).substr(f.rfind('/') + 1);
    if (name.size() != 20 || !name.ends_with(".seg")) continue;  // spares, strays
    files.push_back({std::strtoull(name.data(), nullptr, 10), f});
  }
  for (const auto& [id, path] : files) {
    RecordReader reader(path, id);
    uint8_t type;
    std::string_view body;
    uint64_t offset;
    while (reader.next(type, body, offset)) {
      BodyReader b(body);
      if (type == kEventRecord) {
        uint8_t version;
        int64_t accepted, revision;
        std::string_view payload, request;
        uint32_t count;
        if (!b.get(version) || !b.get(accepted) || !b.get(revision) || !b.str(payload) ||
            !b.str(request) || !b.get(count)) {
          ++r.badRecords;
          continue;
        }
        live[id] += count;
        written += count;
      } else if (type == kDoneRecord || type == kRetryRecord) {
        uint32_t n;
        if (!b.get(n)) {
          ++r.badRecords;
          continue;
        }
        for (uint32_t i = 0; i < n; ++i) {
          Ref ref;
          if (!b.get(ref.seg) || !b.get(ref.off) || !b.get(ref.idx)) break;
          if (type == kDoneRecord) {
            done.insert(ref);
            retried.erase(ref);
          } else {
            uint32_t attempts;
            int64_t due;
            std::string_view error;
            if (!b.get(attempts) || !b.get(due) || !b.str(error)) break;
            retried[ref] = {attempts, due};
          }
        }
      } else {
        ++r.badRecords;
      }
    }
    if (reader.bad()) ++r.badRecords;
    r.bytesScanned += reader.bytes();
  }
  // Marks for files already deleted refer to nothing: count only those that hit.
  uint64_t doneHits = 0;
  for (const Ref& ref : done) doneHits += live.count(ref.seg);
  r.pending = written - doneHits;

  // The cursor's first batch: the oldest not-done deliveries, decoded in full.
  std::vector<LoadedDelivery> batch;
  for (const auto& [id, path] : files) {
    if (batch.size() >= 100) break;
    RecordReader reader(path, id);
    uint8_t type;
    std::string_view body;
    uint64_t offset;
    while (batch.size() < 100 && reader.next(type, body, offset)) {
      if (type != kEventRecord) continue;
      BodyReader b(body);
      uint8_t version;
      int64_t accepted, revision;
      std::string_view payload, request, space, sub, fn, et, error;
      uint32_t count;
      if (!b.get(version) || !b.get(accepted) || !b.get(revision) || !b.str(payload) ||
          !b.str(request) || !b.get(count)) {
        continue;
      }
      for (uint32_t i = 0; i < count && batch.size() < 100; ++i) {
        LoadedDelivery d;
        if (!b.str(space) || !b.str(sub) || !b.str(fn) || !b.str(et) || !b.get(d.flags) ||
            !b.get(d.attempts) || !b.get(d.dueAtMs) || !b.str(error)) {
          break;
        }
        Ref ref{uint32_t(id), uint32_t(offset), i};
        if (done.count(ref)) continue;
        if (auto it = retried.find(ref); it != retried.end()) {
          d.attempts = it->second.first;
          d.dueAtMs = it->second.second;
        }
        d.index = i;
        d.payload = payload;
        d.space = space;
        d.subscriptionId = sub;
        d.functionId = fn;
        d.eventType = et;
        d.lastError = error;
        d.acceptedAtMs = accepted;
        batch.push_back(std::move(d));
      }
    }
  }
  r.firstBatch = batch.size();
  return r;
}

// ---- settings ------------------------------------------------------------------------------

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

std::unique_ptr<Shape> makeShape(const Settings& s) {
  if (s.shape == "sqlite") return std::make_unique<SqliteShape>(s.dir, s.sqlite);
  if (s.shape == "segment" || s.shape == "seg-append") {
    return std::make_unique<SegmentShape>(s.dir, uint64_t(s.segmentMiB) << 20,
                                          s.shape == "segment");
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

// How fast the disk syncs right now: one overwrite of a 4 KiB block and fdatasync(), the
// floor under any durable commit. A virtual disk's sync time can change by an order of
// magnitude from one minute to the next (here: ~0.07 ms or ~4 ms), so every run samples
// it while it measures, as a hint of which phase the run saw.
class SyncProbe {
 public:
  static constexpr size_t kBytes = 4096;
  explicit SyncProbe(const std::string& dir) : path_(dir + "/probe"), block_(kBytes, 'p') {
    fd_ = open(path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0) die("open %s: %s", path_.c_str(), std::strerror(errno));
    if (pwrite(fd_, block_.data(), kBytes, 0) != ssize_t(kBytes) || fsync(fd_) != 0) {
      die("probe: %s", std::strerror(errno));
    }
  }
  ~SyncProbe() {
    close(fd_);
    unlink(path_.c_str());
  }
  double syncMs() {
    auto start = Clock::now();
    if (pwrite(fd_, block_.data(), kBytes, 0) != ssize_t(kBytes) || fdatasync(fd_) != 0) {
      die("probe: %s", std::strerror(errno));
    }
    return seconds(Clock::now() - start) * 1000;
  }

 private:
  std::string path_, block_;
  int fd_ = -1;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
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

const char* kRunHeader =
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

const char* kBacklogHeader =
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

// ---- command line ------------------------------------------------------------------------

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

}  // namespace

int main(int argc, char** argv) {
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
