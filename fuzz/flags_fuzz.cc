// The command line (gateway/flags.h): the input, split on NUL bytes, is argv after the
// program name. Whatever parseFlags answers must not crash, an error must say why, and
// settings it accepts must be within the ranges that flags.h and usage() promise and
// that the rest of the program relies on (a timeout must fit in a steady_clock deadline).

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "access/scope.h"
#include "gateway/flags.h"
#include "model/validation.h"

namespace {

using namespace std::chrono_literals;
using eg::gateway::ParseOutcome;
using eg::gateway::Settings;

void check(bool ok) {
  if (!ok) std::abort();
}

bool within(std::chrono::milliseconds d, std::chrono::milliseconds min,
            std::chrono::milliseconds max) {
  return d >= min && d <= max;
}

// now() + d, as every deadline is made, stays within the clock's range.
bool fitsADeadline(std::chrono::milliseconds d) {
  using Clock = std::chrono::steady_clock;
  const auto room = Clock::time_point::max() - Clock::now();
  return d.count() >= 0 && d <= std::chrono::duration_cast<std::chrono::milliseconds>(room);
}

void checkSettings(const Settings& s) {
  check(s.eventsPort >= 1 && s.configPort >= 1 && s.eventsPort != s.configPort);
  check(s.eventsTlsCert.empty() == s.eventsTlsKey.empty());
  check(s.configTlsCert.empty() == s.configTlsKey.empty());
  check(s.dbTlsCert.empty() == s.dbTlsKey.empty());
  check(s.queueTlsCert.empty() == s.queueTlsKey.empty());
  check(!s.dbHosts.empty());
  for (const std::string& host : s.dbHosts) {
    check(!host.empty() && host.front() != ' ' && host.back() != ' ' &&
          host.find(',') == std::string::npos);
  }
  check(s.workers >= 1 && s.workersBacklog >= 1);
  check(s.ioThreads >= 1 && s.ioThreads <= 1024);
  check(s.maxBodySize >= 1 && s.maxConnections >= 1);
  for (auto timeout : {s.readTimeout, s.idleTimeout}) {
    check(within(timeout, 1ms, eg::gateway::kMaxServerTimeout) && fitsADeadline(timeout));
  }
  check(s.deliveryRetries >= 0 && s.deliveryRetries <= eg::model::kMaxDeliveryRetries);
  check(within(s.deliveryBackoffDelay, 1ms, eg::model::kMaxDeliveryBackoff));
  check(within(s.deliveryMaxBackoff, 1ms, eg::model::kMaxDeliveryBackoff));
  check(s.deliveryBackoffDelay <= s.deliveryMaxBackoff);
  check(within(s.deliveryMaxEventAge, 1ms, eg::model::kMaxDeliveryEventAge));
  check(s.queue == "embedded" || s.queue == "memory" || s.queue.starts_with("nats://"));
  check(s.queueMaxBytes >= (uint64_t{1} << 20));
  check(s.queueReplicas >= 1 && s.queueReplicas <= 5);
  check(within(s.queueLease, 1ms, 1h));
  check(s.logLevel == spdlog::level::debug || s.logLevel == spdlog::level::info ||
        s.logLevel == spdlog::level::warn || s.logLevel == spdlog::level::err);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);  // NUL-ended pieces
  std::vector<const char*> argv{"event-gateway"};
  for (size_t at = 0; at < size; at = text.find('\0', at) + 1) {
    argv.push_back(text.c_str() + at);
    if (text.find('\0', at) == std::string::npos) break;
  }
  const ParseOutcome out = eg::gateway::parseFlags(static_cast<int>(argv.size()), argv.data());
  switch (out.kind) {
    case ParseOutcome::kRun: checkSettings(out.settings); break;
    case ParseOutcome::kError:
    case ParseOutcome::kVersion: check(!out.message.empty()); break;
    case ParseOutcome::kHelp: break;
    case ParseOutcome::kNewAccessKey: check(eg::access::parseScope(out.message).ok()); break;
  }
  return 0;
}
