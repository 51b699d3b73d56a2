#pragma once

#include <string>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

// Small helpers over the SQLite C API shared by the embedded store's connections.
namespace eg::store::sqlite {

// Resets a statement and clears its bindings when the scope ends, so that every return
// path leaves the cached statement ready for reuse.
class StatementScope {
 public:
  explicit StatementScope(sqlite3_stmt* s) : s_(s) {}
  ~StatementScope();
  StatementScope(const StatementScope&) = delete;
  StatementScope& operator=(const StatementScope&) = delete;

 private:
  sqlite3_stmt* s_;
};

void bindText(sqlite3_stmt* s, int index, const std::string& text);
void bindBlob(sqlite3_stmt* s, int index, const std::string& bytes);
std::string columnText(sqlite3_stmt* s, int column);
std::string columnBlob(sqlite3_stmt* s, int column);

// The smallest key greater than every key starting with `prefix`; empty when there is
// none (the prefix is empty or all 0xff).
std::string prefixEnd(std::string prefix);

// The VFS both of the store's connections use: it holds an exclusive lock on the database
// for the process, so its connections lock among themselves in memory (no fcntl() per
// statement, a dozen per Config API write otherwise) and share the WAL index on the heap.
inline constexpr const char* kVfs = "unix-excl";

// The store's revision: that of the last write, which the change log always holds (a
// compaction keeps the latest revision), so no commit writes it anywhere else. Data
// directories of earlier versions kept it in meta.revision, updated by every commit;
// that value counts where it is larger.
inline constexpr const char* kRevisionSql =
    "SELECT max(ifnull((SELECT max(rev) FROM log), 0), "
    "ifnull((SELECT value FROM meta WHERE name = 'revision'), 0))";

Status exec(sqlite3* db, const char* sql);
// For rolling back after a failure that is already being reported.
void execQuietly(sqlite3* db, const char* sql);

}  // namespace eg::store::sqlite
