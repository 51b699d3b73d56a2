#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "routing/path_tree.h"
#include "routing/persistent_map.h"
#include "routing/persistent_path_tree.h"

namespace eg::routing {
namespace {

struct Entry {
  std::string key;
  int value;
};
using EntryPtr = std::shared_ptr<const Entry>;
struct EntryKey {
  std::string_view operator()(const EntryPtr& e) const { return e->key; }
};
using Map = PersistentMap<EntryPtr, EntryKey>;

EntryPtr entry(std::string key, int value) {
  return std::make_shared<const Entry>(Entry{std::move(key), value});
}

void expectSame(const Map& map, const std::map<std::string, int>& model) {
  ASSERT_EQ(map.size(), model.size());
  for (const auto& [k, v] : model) {
    const EntryPtr* found = map.find(k);
    ASSERT_NE(found, nullptr) << k;
    EXPECT_EQ((*found)->value, v) << k;
  }
  std::size_t visited = 0;
  map.forEach([&](const EntryPtr& e) {
    ++visited;
    auto it = model.find(e->key);
    ASSERT_NE(it, model.end()) << e->key;
    EXPECT_EQ(it->second, e->value);
  });
  EXPECT_EQ(visited, model.size());
}

TEST(PersistentMapTest, FollowsAnOrdinaryMapThroughRandomChanges) {
  std::mt19937 rng(7);
  Map map;
  std::map<std::string, int> model;
  for (int step = 0; step < 20000; ++step) {
    const std::string key = "k" + std::to_string(rng() % 3000);
    if (rng() % 3 == 0) {
      map = map.erase(key);
      model.erase(key);
    } else {
      const int value = static_cast<int>(rng() % 1000);
      map = map.set(entry(key, value));
      model[key] = value;
    }
    ASSERT_EQ(map.size(), model.size());
    if (step % 1000 == 0) expectSame(map, model);
    ASSERT_EQ(map.find("absent") == nullptr, true);
  }
  expectSame(map, model);
  // Down to nothing again.
  for (const auto& [k, v] : model) map = map.erase(k);
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.find("k1"), nullptr);
}

TEST(PersistentMapTest, EarlierVersionsStayAsTheyWere) {
  std::vector<Map> versions{Map{}};
  std::vector<std::map<std::string, int>> models{{}};
  std::mt19937 rng(11);
  for (int step = 0; step < 300; ++step) {
    Map next = versions.back();
    auto model = models.back();
    const std::string key = std::to_string(rng() % 100);
    if (rng() % 4 == 0) {
      next = next.erase(key);
      model.erase(key);
    } else {
      next = next.set(entry(key, step));
      model[key] = step;
    }
    versions.push_back(next);
    models.push_back(model);
  }
  for (std::size_t i = 0; i < versions.size(); ++i) expectSame(versions[i], models[i]);
}

// assign() changes in place only the nodes no copy holds: copies taken now and then, as
// snapshots are, stay as they were while one map takes runs of changes in place.
TEST(PersistentMapTest, AssignInPlaceLeavesEveryCopyAsItWas) {
  Map live;
  std::map<std::string, int> model;
  std::vector<Map> copies;
  std::vector<std::map<std::string, int>> copyModels;
  std::mt19937 rng(23);
  for (int step = 0; step < 5000; ++step) {
    const std::string key = std::to_string(rng() % 700);
    if (rng() % 5 == 0) {
      live = live.erase(key);
      model.erase(key);
    } else {
      live.assign(entry(key, step));
      model[key] = step;
    }
    if (rng() % 50 == 0) {
      copies.push_back(live);
      copyModels.push_back(model);
    }
  }
  expectSame(live, model);
  ASSERT_GT(copies.size(), 10u);
  for (std::size_t i = 0; i < copies.size(); ++i) expectSame(copies[i], copyModels[i]);
}

TEST(PersistentMapTest, ErasingAnAbsentKeySharesTheMap) {
  Map map = Map{}.set(entry("a", 1));
  Map same = map.erase("b");
  EXPECT_EQ(same.size(), 1u);
  EXPECT_EQ(same.find("a"), map.find("a"));  // the very same node
}

TEST(PersistentMapTest, TupleKeysKeepTheirPartsApart) {
  struct Pair {
    std::string a, b;
  };
  struct PairKey {
    KeyViews<2> operator()(const std::shared_ptr<const Pair>& p) const { return {p->a, p->b}; }
  };
  PersistentMap<std::shared_ptr<const Pair>, PairKey> map;
  map = map.set(std::make_shared<const Pair>(Pair{"ab", "c"}));
  map = map.set(std::make_shared<const Pair>(Pair{"a", "bc"}));
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ((*map.find(KeyViews<2>{"a", "bc"}))->b, "bc");
  EXPECT_EQ((*map.find(KeyViews<2>{"ab", "c"}))->b, "c");
  EXPECT_EQ(map.find(KeyViews<2>{"abc", ""}), nullptr);
}

// The persistent tree answers as PathTree (kLenient) does for the same routes.
TEST(PersistentPathTreeTest, MatchesAsThePathTree) {
  const std::vector<std::string> patterns{"/",         "/a",      "/a/",    "/a/b",   "/a/:x",
                                          "/a/:x/c",   "/a/*rest", "/:p",   "/:p/b",  "//",
                                          "/a/b/*w",   "/b/:q/:r", "/b/c/d", "/*all", "/a/:y/d"};
  const std::vector<std::string> paths{"/",     "/a",    "/a/",    "/a/b",  "/a/z",  "/a/z/c",
                                       "/a/z/d", "/a/b/c", "/x",   "/x/b",  "//",    "/b/c/d",
                                       "/b/1/2", "/q/r/s", "/a/b/", "",     "a",     "/a//c"};
  std::mt19937 rng(5);
  for (int round = 0; round < 200; ++round) {
    PathTree<std::string> reference(ConflictPolicy::kLenient);
    PersistentPathTree<std::shared_ptr<const std::string>> tree;
    for (const auto& p : patterns) {
      if (rng() % 2 == 0) continue;
      if (reference.insert(p, p)) {
        // A slot already taken keeps its first route, as the reference does.
        if (tree.find(p) == nullptr) {
          auto next = tree.set(p, std::make_shared<const std::string>(p));
          ASSERT_TRUE(next.ok());
          tree = std::move(*next);
        }
      }
    }
    for (const auto& path : paths) {
      PathParams expected;
      const std::string* want = reference.match(path, &expected);
      ParamValues values;
      const auto* got = tree.match(path, values);
      ASSERT_EQ(want == nullptr, got == nullptr) << path;
      if (want == nullptr) continue;
      EXPECT_EQ(**got, *want) << path;
      PathParams params;
      nameParams(**got, values, params);
      EXPECT_EQ(params, expected) << path;
    }
  }
}

TEST(PersistentPathTreeTest, RemovingARoutePrunesItAndLeavesEarlierTreesAlone) {
  PersistentPathTree<std::shared_ptr<const int>> tree;
  tree = *tree.set("/a/:x/c", std::make_shared<const int>(1));
  tree = *tree.set("/a/b", std::make_shared<const int>(2));
  const auto before = tree;
  tree = *tree.set("/a/:y/c", nullptr);  // the same slot
  ParamValues values;
  EXPECT_EQ(tree.match("/a/z/c", values), nullptr);
  ASSERT_NE(before.match("/a/z/c", values), nullptr);
  EXPECT_EQ(values, (ParamValues{"z"}));
  tree = *tree.set("/a/b", nullptr);
  EXPECT_TRUE(tree.empty());
  EXPECT_FALSE(tree.set("no-slash", nullptr).ok());
}

}  // namespace
}  // namespace eg::routing
