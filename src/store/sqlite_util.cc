#include "store/sqlite_util.h"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

namespace eg::store::sqlite {

StatementScope::~StatementScope() {
  if (s_ != nullptr) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

void bindText(sqlite3_stmt* s, int index, const std::string& text) {
  sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

void bindBlob(sqlite3_stmt* s, int index, const std::string& bytes) {
  // A zero-length blob bound from a null pointer would become NULL; "" never is null.
  sqlite3_bind_blob(s, index, bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()),
                    SQLITE_TRANSIENT);
}

std::string columnText(sqlite3_stmt* s, int column) {
  const auto* data = sqlite3_column_text(s, column);
  int size = sqlite3_column_bytes(s, column);
  return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data), size);
}

std::string columnBlob(sqlite3_stmt* s, int column) {
  const void* data = sqlite3_column_blob(s, column);
  int size = sqlite3_column_bytes(s, column);
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

std::string prefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

Status exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return Error::internal(std::string("sqlite: ") + sql + ": " + text);
  }
  return {};
}

void execQuietly(sqlite3* db, const char* sql) {
  if (auto s = exec(db, sql); !s) spdlog::debug("store: {}", s.error().message);
}

}  // namespace eg::store::sqlite
