#include "routing/weighted.h"

#include "common/hash.h"

#include <random>

#include "routing/snapshot.h"

namespace eg::routing {

namespace {

class NoKey final : public PickKey {
 public:
  std::optional<std::string_view> value(const providers::StickyBy&) const override {
    return std::nullopt;
  }
};

// SplitMix64: one add and a few multiplies per draw, statistically sound for choosing
// among targets; seeded once per thread, so that no two threads share state or a lock.
class SplitMix64 {
 public:
  SplitMix64() {
    std::random_device device;
    state_ = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

// x scaled from [0, 2^64) onto [0, total): the high half of the 128-bit product. The
// bias (at most total / 2^64) is far below anything a weight can express.
std::uint64_t scale(std::uint64_t x, std::uint64_t total) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(x) * total) >> 64);
}

}  // namespace

const PickKey& noPickKey() {
  static const NoKey kNoKey;
  return kNoKey;
}

namespace weighted {

const FunctionEntry* targetAt(const WeightedTargets& w, std::uint64_t draw) {
  // Targets are few (at most model::kMaxWeightedTargets, usually two): a linear scan
  // beats a binary search on them.
  for (const auto& target : w.targets) {
    if (draw < target.upTo) return target.function;
  }
  return nullptr;
}

std::uint64_t randomDraw(std::uint64_t total) {
  thread_local SplitMix64 generator;
  return scale(generator.next(), total);
}

std::uint64_t stableHash(std::string_view key) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (const unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;  // FNV-1a 64 prime
  }
  return mix64(h);
}

std::uint64_t stickyDraw(std::string_view key, std::uint64_t total) {
  return scale(stableHash(key), total);
}

}  // namespace weighted

const FunctionEntry& pickTarget(const WeightedTargets& w, const FunctionEntry& self,
                                const PickKey& key) {
  if (w.total == 0) return self;
  std::optional<std::string_view> sticky;
  if (w.stickyBy.kind != providers::StickyBy::Kind::kNone) sticky = key.value(w.stickyBy);
  const std::uint64_t draw = sticky ? weighted::stickyDraw(*sticky, w.total) : weighted::randomDraw(w.total);
  const FunctionEntry* target = weighted::targetAt(w, draw);
  return target != nullptr ? *target : self;
}

}  // namespace eg::routing
