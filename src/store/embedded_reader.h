#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/background_thread.h"
#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace eg::store {

// Reads ranges of the embedded store for lists, on a read-only connection and a thread
// of its own. A WAL reader and the writer do not wait for each other, so a long list
// holds up no write; the thread runs at a lower CPU priority (nice 10), so a list that
// shares a core with the I/O threads gives way to them. Each range is one read
// transaction: its keys and its revision are one consistent view.
class EmbeddedReader {
 public:
  // `dbPath` must hold the store's schema already.
  static Result<std::unique_ptr<EmbeddedReader>> open(const std::string& dbPath,
                                                      std::chrono::milliseconds busyTimeout);
  // Completes the ranges queued, then joins.
  ~EmbeddedReader();
  EmbeddedReader(const EmbeddedReader&) = delete;
  EmbeddedReader& operator=(const EmbeddedReader&) = delete;

  // Every key starting with `prefix`, sorted, and the revision of that view.
  asio::awaitable<Result<RangeResult>> list(std::string prefix);

 private:
  explicit EmbeddedReader(sqlite3* db);
  Result<RangeResult> read(const std::string& prefix);
  Error sqliteError(const char* what) const;

  sqlite3* db_;
  sqlite3_stmt* revision_ = nullptr;
  sqlite3_stmt* range_ = nullptr;     // with an end key
  sqlite3_stmt* rangeAll_ = nullptr;  // without
  std::unique_ptr<BackgroundThread> thread_;  // reset (joined) before the connection closes
};

}  // namespace eg::store
