#include "common/log.h"

#include <chrono>
#include <memory>
#include <mutex>

#include <spdlog/details/fmt_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace eg {
namespace {

void appendJsonString(spdlog::memory_buf_t& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out.append(std::string_view("\\\"")); break;
      case '\\': out.append(std::string_view("\\\\")); break;
      case '\n': out.append(std::string_view("\\n")); break;
      case '\r': out.append(std::string_view("\\r")); break;
      case '\t': out.append(std::string_view("\\t")); break;
      default:
        if (c < 0x20) {
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out.append(esc, esc + 6);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// One JSON object per line; the message is escaped so that any text stays valid JSON.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    time_formatter_.format(msg, time_buf_);
    dest.append(std::string_view("{\"time\":"));
    appendJsonString(dest, std::string_view(time_buf_.data(), time_buf_.size() - 1));
    time_buf_.clear();
    dest.append(std::string_view(",\"level\":"));
    const auto level = spdlog::level::to_string_view(msg.level);
    appendJsonString(dest, std::string_view(level.data(), level.size()));
    dest.append(std::string_view(",\"msg\":"));
    appendJsonString(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(std::string_view("}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }

 private:
  spdlog::pattern_formatter time_formatter_{"%Y-%m-%dT%H:%M:%S.%e%z\n",
                                            spdlog::pattern_time_type::utc, ""};
  spdlog::memory_buf_t time_buf_;
};

}  // namespace

void initLogging(LogFormat format, spdlog::level::level_enum level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("event-gateway", sink);
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

bool parseLogLevel(std::string_view text, spdlog::level::level_enum& out) {
  if (text == "debug") out = spdlog::level::debug;
  else if (text == "info") out = spdlog::level::info;
  else if (text == "warn") out = spdlog::level::warn;
  else if (text == "error") out = spdlog::level::err;
  else return false;
  return true;
}

}  // namespace eg
