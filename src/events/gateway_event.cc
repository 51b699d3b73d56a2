#include "events/gateway_event.h"

#include <chrono>
#include <cstdint>
#include <random>
#include <utility>

namespace eg::events {

namespace {

constexpr char kHex[] = "0123456789abcdef";

std::mt19937_64& generator() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  return engine;
}

void writeDigits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::string newEventId() {
  auto& engine = generator();
  uint64_t hi = engine();
  uint64_t lo = engine();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10xx

  std::string id(36, '-');
  int pos = 0;
  auto put = [&](uint64_t word, int nibbles, int shift) {
    for (int i = 0; i < nibbles; ++i, shift -= 4) id[pos++] = kHex[(word >> shift) & 0xf];
  };
  // 8-4-4-4-12 hex digits.
  put(hi, 8, 60);
  ++pos;
  put(hi, 4, 28);
  ++pos;
  put(hi, 4, 12);
  ++pos;
  put(lo, 4, 60);
  ++pos;
  put(lo, 12, 44);
  return id;
}

std::string nowRfc3339() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto day = floor<days>(now);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<milliseconds>(now - day)};

  std::string out(24, '\0');  // 2018-04-05T17:31:00.123Z
  char* p = out.data();
  writeDigits(p, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  p[4] = '-';
  writeDigits(p + 5, static_cast<unsigned>(ymd.month()), 2);
  p[7] = '-';
  writeDigits(p + 8, static_cast<unsigned>(ymd.day()), 2);
  p[10] = 'T';
  writeDigits(p + 11, static_cast<unsigned>(hms.hours().count()), 2);
  p[13] = ':';
  writeDigits(p + 14, static_cast<unsigned>(hms.minutes().count()), 2);
  p[16] = ':';
  writeDigits(p + 17, static_cast<unsigned>(hms.seconds().count()), 2);
  p[19] = '.';
  writeDigits(p + 20, static_cast<unsigned>(hms.subseconds().count()), 3);
  p[23] = 'Z';
  return out;
}

CloudEvent gatewayEvent(std::string eventType) {
  CloudEvent event;
  event.eventType = std::move(eventType);
  event.source = kGatewaySource;
  event.eventID = newEventId();
  event.eventTime = nowRfc3339();
  boost::json::object marker;
  marker.reserve(2);
  marker.emplace("transformed", "true");
  marker.emplace("transformation-version", kTransformationVersion);
  event.extensions.emplace("eventgateway", std::move(marker));
  return event;
}

}  // namespace eg::events
