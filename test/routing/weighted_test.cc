#include "routing/weighted.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "routing/snapshot_impl.h"
#include "test_helpers.h"

namespace eg::routing {
namespace {

using testing::function;

// A call whose sticky key is `key` (nullopt: the call has none).
class FixedKey final : public PickKey {
 public:
  explicit FixedKey(std::optional<std::string> key) : key_(std::move(key)) {}
  std::optional<std::string_view> value(const providers::StickyBy&) const override {
    ++asked;
    if (!key_) return std::nullopt;
    return std::string_view(*key_);
  }
  mutable int asked = 0;

 private:
  std::optional<std::string> key_;
};

model::Function weightedFunction(std::string id,
                                 std::vector<std::pair<std::string, int>> weights,
                                 std::string stickyBy = "") {
  model::Function f = function("s", std::move(id), "weighted");
  f.provider.clear();
  boost::json::array functions;
  for (auto& [target, weight] : weights) {
    functions.push_back(boost::json::object{{"functionId", target}, {"weight", weight}});
  }
  f.provider["functions"] = std::move(functions);
  if (!stickyBy.empty()) f.provider["stickyBy"] = stickyBy;
  return f;
}

// A snapshot of space "s" with http functions `targets` and the weighted function "w".
std::shared_ptr<const Snapshot> snapshotWith(std::vector<std::pair<std::string, int>> weights,
                                             std::string stickyBy = "",
                                             std::vector<std::string> targets = {"a", "b", "c"}) {
  SnapshotContents contents;
  for (auto& id : targets) contents.functions.push_back(FunctionEntry{function("s", id), nullptr});
  contents.functions.push_back(
      FunctionEntry{weightedFunction("w", std::move(weights), std::move(stickyBy)), nullptr});
  return buildSnapshot(std::move(contents));
}

const FunctionEntry& weightedOf(const Snapshot& snap) {
  const FunctionEntry* w = snap.function("s", "w");
  EXPECT_NE(w, nullptr);
  return *w;
}

std::string pickId(const Snapshot& snap, const PickKey& key = noPickKey()) {
  return pick(weightedOf(snap), key).function.functionId;
}

std::map<std::string, int> tally(const Snapshot& snap, int picks) {
  std::map<std::string, int> counts;
  for (int i = 0; i < picks; ++i) ++counts[pickId(snap)];
  return counts;
}

TEST(WeightedTest, RandomChoiceFollowsTheWeights) {
  auto snap = snapshotWith({{"a", 70}, {"b", 30}});
  constexpr int kPicks = 100'000;
  auto counts = tally(*snap, kPicks);
  EXPECT_EQ(counts.size(), 2u);
  // One standard deviation of the share is 0.0015: 0.01 is far outside chance.
  EXPECT_NEAR(counts["a"] / double(kPicks), 0.70, 0.01);
  EXPECT_NEAR(counts["b"] / double(kPicks), 0.30, 0.01);
}

TEST(WeightedTest, ManyTargetsEachGetTheirShare) {
  auto snap = snapshotWith({{"a", 1}, {"b", 2}, {"c", 7}});
  constexpr int kPicks = 100'000;
  auto counts = tally(*snap, kPicks);
  EXPECT_NEAR(counts["a"] / double(kPicks), 0.1, 0.01);
  EXPECT_NEAR(counts["b"] / double(kPicks), 0.2, 0.01);
  EXPECT_NEAR(counts["c"] / double(kPicks), 0.7, 0.01);
}

TEST(WeightedTest, ZeroWeightIsNeverPicked) {
  auto snap = snapshotWith({{"a", 0}, {"b", 5}, {"c", 0}});
  EXPECT_EQ(tally(*snap, 10'000), (std::map<std::string, int>{{"b", 10'000}}));
  // Sticky or not.
  auto sticky = snapshotWith({{"a", 0}, {"b", 5}, {"c", 0}}, "header:X-User");
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(pickId(*sticky, FixedKey("user-" + std::to_string(i))), "b");
  }
}

TEST(WeightedTest, TargetsAreResolvedToEntriesOfTheSnapshot) {
  auto snap = snapshotWith({{"a", 1}, {"b", 0}, {"c", 2}});
  const FunctionEntry& w = weightedOf(*snap);
  ASSERT_NE(w.weighted, nullptr);
  ASSERT_EQ(w.weighted->targets.size(), 2u);
  EXPECT_EQ(w.weighted->targets[0].function, snap->function("s", "a"));
  EXPECT_EQ(w.weighted->targets[1].function, snap->function("s", "c"));
  EXPECT_EQ(w.weighted->total, 3u);
  // Draws land on the cumulative ranges: [0,1) is a, [1,3) is c.
  EXPECT_EQ(weighted::targetAt(*w.weighted, 0), snap->function("s", "a"));
  EXPECT_EQ(weighted::targetAt(*w.weighted, 1), snap->function("s", "c"));
  EXPECT_EQ(weighted::targetAt(*w.weighted, 2), snap->function("s", "c"));
  EXPECT_EQ(weighted::targetAt(*w.weighted, 3), nullptr);
  // Other functions are not weighted and are their own target, without a key read.
  const FunctionEntry* a = snap->function("s", "a");
  EXPECT_EQ(a->weighted, nullptr);
  FixedKey key("k");
  EXPECT_EQ(&pick(*a, key), a);
  EXPECT_EQ(key.asked, 0);
}

TEST(WeightedTest, MissingAndWeightedTargetsAreLeftOut) {
  SnapshotContents contents;
  contents.functions.push_back(FunctionEntry{function("s", "a"), nullptr});
  contents.functions.push_back(FunctionEntry{weightedFunction("other", {{"a", 1}}), nullptr});
  contents.functions.push_back(
      FunctionEntry{weightedFunction("w", {{"gone", 5}, {"other", 5}, {"a", 1}}), nullptr});
  contents.functions.push_back(FunctionEntry{weightedFunction("stuck", {{"gone", 1}}), nullptr});
  auto snap = buildSnapshot(std::move(contents));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pickId(*snap), "a");
  // Nothing to call: the weighted function itself, whose invoker fails the call.
  const FunctionEntry* stuck = snap->function("s", "stuck");
  ASSERT_NE(stuck, nullptr);
  EXPECT_EQ(stuck->weighted->total, 0u);
  EXPECT_EQ(&pick(*stuck, noPickKey()), stuck);
}

TEST(WeightedTest, TargetsOfAnotherSpaceAreNotReached) {
  SnapshotContents contents;
  contents.functions.push_back(FunctionEntry{function("other", "a"), nullptr});
  contents.functions.push_back(FunctionEntry{function("s", "b"), nullptr});
  contents.functions.push_back(FunctionEntry{weightedFunction("w", {{"a", 9}, {"b", 1}}), nullptr});
  auto snap = buildSnapshot(std::move(contents));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pickId(*snap), "b");
}

TEST(WeightedTest, AStickyKeyAlwaysReachesTheSameTarget) {
  auto snap = snapshotWith({{"a", 50}, {"b", 30}, {"c", 20}}, "header:X-User");
  // A snapshot built again (a configuration change elsewhere) keeps every key's target.
  auto rebuilt = snapshotWith({{"a", 50}, {"b", 30}, {"c", 20}}, "header:X-User");
  for (int i = 0; i < 1000; ++i) {
    const FixedKey key("user-" + std::to_string(i));
    const std::string first = pickId(*snap, key);
    for (int j = 0; j < 10; ++j) ASSERT_EQ(pickId(*snap, key), first) << i;
    ASSERT_EQ(pickId(*rebuilt, key), first) << i;
  }
}

TEST(WeightedTest, StickyKeysSpreadByTheWeights) {
  auto snap = snapshotWith({{"a", 70}, {"b", 30}}, "subject");
  constexpr int kKeys = 20'000;
  std::map<std::string, int> counts;
  for (int i = 0; i < kKeys; ++i) ++counts[pickId(*snap, FixedKey("user-" + std::to_string(i)))];
  EXPECT_NEAR(counts["a"] / double(kKeys), 0.70, 0.02);
  EXPECT_NEAR(counts["b"] / double(kKeys), 0.30, 0.02);
}

TEST(WeightedTest, AStickyKeyMovesOnlyWhenTheWeightsChange) {
  auto before = snapshotWith({{"a", 70}, {"b", 30}}, "header:X-User");
  auto after = snapshotWith({{"a", 60}, {"b", 40}}, "header:X-User");
  auto back = snapshotWith({{"a", 70}, {"b", 30}}, "header:X-User");
  constexpr int kKeys = 10'000;
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    const FixedKey key("user-" + std::to_string(i));
    const std::string was = pickId(*before, key);
    const std::string is = pickId(*after, key);
    if (was != is) {
      ++moved;
      // Shifting weight to b moves keys from a to b, never back.
      EXPECT_EQ(was, "a");
    }
    EXPECT_EQ(pickId(*back, key), was);
  }
  // Only the keys the shift needs: a tenth of them.
  EXPECT_NEAR(moved / double(kKeys), 0.10, 0.02);
}

TEST(WeightedTest, ACallWithoutTheStickyKeyIsRandom) {
  auto snap = snapshotWith({{"a", 50}, {"b", 50}}, "header:X-User");
  std::map<std::string, int> counts;
  const FixedKey none(std::nullopt);
  for (int i = 0; i < 1000; ++i) ++counts[pickId(*snap, none)];
  EXPECT_GT(counts["a"], 350);
  EXPECT_GT(counts["b"], 350);
  EXPECT_EQ(none.asked, 1000);
}

TEST(WeightedTest, TheStickyHashIsFixed) {
  // Every instance and every release must send a key to the same target: these values
  // may never change.
  EXPECT_EQ(weighted::stableHash(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(weighted::stableHash("user-1"), 0x41a2fca5c68401c5ULL);
  EXPECT_EQ(weighted::stableHash("user-2"), 0xa9f4ad0c2263143bULL);
  EXPECT_EQ(weighted::stickyDraw("user-1", 100), 25u);
  EXPECT_EQ(weighted::stickyDraw("user-2", 100), 66u);
}

TEST(WeightedTest, RandomDrawsStayInRange) {
  for (std::uint64_t total : {1ULL, 2ULL, 3ULL, 100ULL, 100'000'000ULL}) {
    for (int i = 0; i < 1000; ++i) ASSERT_LT(weighted::randomDraw(total), total);
  }
}

}  // namespace
}  // namespace eg::routing
