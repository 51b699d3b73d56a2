#include "access/key_store.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace eg::access {
namespace {

std::shared_ptr<const KeySet> setOf(const std::string& key, const char* scope) {
  auto set = KeySet::parse(toHex(sha256(key)) + " " + scope + "\n");
  EXPECT_TRUE(set) << set.error().message;
  return *set;
}

TEST(KeyStoreTest, ReplaceIsSeenByLaterReads) {
  KeyStore store(setOf("old", "admin"));
  EXPECT_NE(store.current()->find("old"), nullptr);
  const auto held = store.current();
  store.replace(setOf("new", "space:a"));
  EXPECT_EQ(store.current()->find("old"), nullptr);
  EXPECT_NE(store.current()->find("new"), nullptr);
  // A reader that loaded the old set keeps it whole until it lets go.
  EXPECT_NE(held->find("old"), nullptr);
}

TEST(KeyStoreTest, ReadersOnOtherThreadsSeeEveryReplace) {
  // Set i holds one key whose scope names space "s<i>".
  const auto setNumber = [](int i) { return setOf("k" + std::to_string(i), ("space:s" + std::to_string(i)).c_str()); };
  KeyStore store(setNumber(0));
  std::atomic<int> published{0};
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const int before = published.load(std::memory_order_acquire);
        const auto set = store.current();
        // The set read is at least as new as the last one published before the read.
        const int number = std::stoi(set->entries().at(0).scope.space.substr(1));
        if (number < before) stale.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  for (int i = 1; i <= 300; ++i) {
    store.replace(setNumber(i));
    published.store(i, std::memory_order_release);
  }
  while (reads.load() < 1000) std::this_thread::yield();
  stop.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_NE(store.current()->find("k300"), nullptr);
}

TEST(KeyStoreTest, StoresDoNotShareTheirPerThreadCache) {
  KeyStore a(setOf("a", "admin"));
  KeyStore b(setOf("b", "admin"));
  EXPECT_NE(a.current()->find("a"), nullptr);
  EXPECT_NE(b.current()->find("b"), nullptr);
  EXPECT_NE(a.current()->find("a"), nullptr);
}

}  // namespace
}  // namespace eg::access
