#include "store/embedded_reader.h"

#include <utility>

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "common/call_on.h"
#include "store/sqlite_util.h"

namespace eg::store {

using namespace sqlite;

Result<std::unique_ptr<EmbeddedReader>> EmbeddedReader::open(
    const std::string& dbPath, std::chrono::milliseconds busyTimeout) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(dbPath.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                           kVfs);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Error::internal("cannot open " + dbPath + " for reading: " + message);
  }
  sqlite3_busy_timeout(db, static_cast<int>(busyTimeout.count()));
  sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<EmbeddedReader> reader(new EmbeddedReader(db));
  const auto prepare = [&](const char* sql, sqlite3_stmt** out) {
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr) == SQLITE_OK;
  };
  if (!prepare(kRevisionSql, &reader->revision_) ||
      !prepare("SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ?1 AND key < ?2 "
               "ORDER BY key",
               &reader->range_) ||
      !prepare("SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ?1 ORDER BY key",
               &reader->rangeAll_)) {
    return Error::internal(dbPath + ": cannot prepare the list statements: " +
                           sqlite3_errmsg(db));
  }
  return reader;
}

EmbeddedReader::EmbeddedReader(sqlite3* db)
    : db_(db), thread_(std::make_unique<BackgroundThread>("eg-store-lists")) {}

EmbeddedReader::~EmbeddedReader() {
  // The statements and the connection are the thread's: done with once it has read the
  // ranges queued and returned.
  thread_.reset();
  for (sqlite3_stmt* s : {revision_, range_, rangeAll_}) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

Error EmbeddedReader::sqliteError(const char* what) const {
  return Error::internal(std::string("sqlite: ") + what + ": " + sqlite3_errmsg(db_));
}

asio::awaitable<Result<RangeResult>> EmbeddedReader::list(std::string prefix) {
  using R = Result<RangeResult>;
  return callOn<R>(thread_->context(), [this, prefix = std::move(prefix)]() -> R { return read(prefix); });
}

Result<RangeResult> EmbeddedReader::read(const std::string& prefix) {
  // One read transaction: the revision and the keys are of the same commit.
  if (auto s = exec(db_, "BEGIN"); !s) return std::move(s).error();
  auto result = [&]() -> Result<RangeResult> {
    RangeResult range;
    {
      StatementScope scope(revision_);
      if (sqlite3_step(revision_) != SQLITE_ROW) return sqliteError("list revision");
      range.revision = sqlite3_column_int64(revision_, 0);
    }
    // A key range rather than LIKE/substr: keys are compared as bytes.
    const std::string end = prefixEnd(prefix);
    sqlite3_stmt* s = end.empty() ? rangeAll_ : range_;
    StatementScope scope(s);
    bindText(s, 1, prefix);
    if (!end.empty()) bindText(s, 2, end);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      range.kvs.push_back(KeyValue{columnText(s, 0), columnBlob(s, 1),
                                   sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3)});
    }
    if (rc != SQLITE_DONE) return sqliteError("list");
    return range;
  }();
  execQuietly(db_, "COMMIT");
  return result;
}

}  // namespace eg::store
