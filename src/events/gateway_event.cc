#include "events/gateway_event.h"

#include <chrono>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>

namespace eg::events {

namespace {

std::mt19937_64& generator() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  return engine;
}

// "00".."ff" for every byte: two characters per lookup.
constexpr std::array<std::array<char, 2>, 256> kHexPairs = [] {
  constexpr char hex[] = "0123456789abcdef";
  std::array<std::array<char, 2>, 256> pairs{};
  for (std::size_t i = 0; i < 256; ++i) pairs[i] = {hex[i >> 4], hex[i & 0xf]};
  return pairs;
}();

// The bytes of `word` from its most significant, as hex pairs: `bytes` of them.
char* putHex(char* out, uint64_t word, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8, out += 2) {
    std::memcpy(out, kHexPairs[(word >> shift) & 0xff].data(), 2);
  }
  return out;
}

void writeDigits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

void appendEventId(std::string& out) {
  auto& engine = generator();
  uint64_t hi = engine();
  uint64_t lo = engine();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10xx

  // 8-4-4-4-12 hex digits.
  const std::size_t at = out.size();
  out.append(36, '-');
  char* p = out.data() + at;
  p = putHex(p, hi >> 32, 4) + 1;
  p = putHex(p, hi >> 16, 2) + 1;
  p = putHex(p, hi, 2) + 1;
  p = putHex(p, lo >> 48, 2) + 1;
  putHex(p, lo, 6);
}

std::string newEventId() {
  std::string id;
  appendEventId(id);
  return id;
}

void appendRfc3339(std::string& out) {
  using namespace std::chrono;
  const auto now = floor<milliseconds>(system_clock::now());
  const auto second = floor<seconds>(now);
  // The date and time up to the second change once a second: formatted again only
  // then, per thread.
  thread_local sys_seconds lastSecond{};
  thread_local std::array<char, 19> prefix{};  // 2018-04-05T17:31:00
  if (second != lastSecond || lastSecond == sys_seconds{}) {
    const auto day = floor<days>(second);
    const year_month_day ymd{day};
    const hh_mm_ss hms{second - day};
    char* p = prefix.data();
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
    lastSecond = second;
  }

  const std::size_t at = out.size();
  out.append(24, 'Z');  // 2018-04-05T17:31:00.123Z
  char* p = out.data() + at;
  std::memcpy(p, prefix.data(), prefix.size());
  p[19] = '.';
  writeDigits(p + 20, static_cast<unsigned>((now - second).count()), 3);
}

std::string nowRfc3339() {
  std::string out;
  appendRfc3339(out);
  return out;
}

CloudEvent gatewayEvent(std::string eventType) {
  CloudEvent event;
  event.eventType = std::move(eventType);
  event.source = kGatewaySource;
  event.eventID = newEventId();
  event.eventTime = nowRfc3339();
  event.marked = true;
  return event;
}

}  // namespace eg::events
