// (A) SQLite: one transaction per group commit, in WAL mode with synchronous=FULL for
// commits that hold new events. SQLite is already a dependency of the gateway (src/store),
// which is why it is one of the two candidates.
#include "common.h"

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace queue_shapes {
namespace {

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

}  // namespace

std::unique_ptr<Shape> makeSqliteShape(const std::string& dir, const SqliteSettings& s) {
  return std::make_unique<SqliteShape>(dir, s);
}

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

}  // namespace queue_shapes
