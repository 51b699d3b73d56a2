#pragma once

#include <bit>
#include <cstdint>
#include <deque>

namespace eg::queue {

// Which slots of the embedded log hold a delivery still to be made: one bit per slot
// from the oldest live one to the newest, so that memory follows the span of live
// slots (which compaction keeps short), never the number of deliveries behind them.
class LiveSlots {
 public:
  void set(uint64_t slot) {
    if (words_.empty()) base_ = slot & ~uint64_t{63};
    if (slot < base_) {  // older than anything held: grow at the front
      const uint64_t newBase = slot & ~uint64_t{63};
      words_.insert(words_.begin(), (base_ - newBase) / 64, 0);
      base_ = newBase;
    }
    const uint64_t index = (slot - base_) / 64;
    if (index >= words_.size()) words_.resize(index + 1, 0);
    uint64_t& word = words_[index];
    const uint64_t bit = uint64_t{1} << (slot % 64);
    if ((word & bit) == 0) {
      word |= bit;
      ++count_;
    }
  }

  // True when the slot was live.
  bool clear(uint64_t slot) {
    if (slot < base_ || (slot - base_) / 64 >= words_.size()) return false;
    uint64_t& word = words_[(slot - base_) / 64];
    const uint64_t bit = uint64_t{1} << (slot % 64);
    if ((word & bit) == 0) return false;
    word &= ~bit;
    --count_;
    while (!words_.empty() && words_.front() == 0) {
      words_.pop_front();
      base_ += 64;
    }
    return true;
  }

  bool test(uint64_t slot) const {
    if (slot < base_ || (slot - base_) / 64 >= words_.size()) return false;
    return (words_[(slot - base_) / 64] >> (slot % 64)) & 1;
  }

  uint64_t count() const { return count_; }
  // The oldest live slot, or 0 when none.
  uint64_t oldest() const {
    if (words_.empty()) return 0;
    return base_ + static_cast<uint64_t>(std::countr_zero(words_.front()));
  }
  std::size_t memoryBytes() const { return words_.size() * sizeof(uint64_t); }

 private:
  uint64_t base_ = 0;  // slot of words_[0]'s bit 0; a multiple of 64
  std::deque<uint64_t> words_;
  uint64_t count_ = 0;
};

}  // namespace eg::queue
