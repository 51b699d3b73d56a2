#pragma once

#include <string_view>

#include <spdlog/spdlog.h>

namespace eg {

enum class LogFormat { kText, kJson };

// Installs the process-wide logger. Text is human-readable (-dev); JSON writes one
// object per line with "time", "level" and "msg". Call once at start-up.
void initLogging(LogFormat format, spdlog::level::level_enum level);

// Parses "debug", "info", "warn", "error"; false when unknown.
bool parseLogLevel(std::string_view text, spdlog::level::level_enum& out);

}  // namespace eg
