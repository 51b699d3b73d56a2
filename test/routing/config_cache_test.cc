#include "routing/config_cache.h"

#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fake_store.h"
#include "model/codec.h"
#include "model/keys.h"
#include "test_helpers.h"

namespace eg::routing {
namespace {

using model::ResourceKind;
using model::SubscriptionType;
using namespace std::chrono_literals;
using testing::FakeStore;

std::string key(ResourceKind kind, const std::string& space, const std::string& id) {
  return model::resourceKey(kind, space, id);
}

class ConfigCacheTest : public ::testing::Test {
 protected:
  ConfigCacheTest() {
    registry_.add("fake", std::make_unique<testing::FakeFactory>(created_));
  }

  int64_t putFunction(const std::string& space, const std::string& id) {
    return store_.putNow(key(ResourceKind::kFunction, space, id),
                         model::encodeStored(testing::function(space, id)));
  }
  int64_t putSubscription(const model::Subscription& s) {
    return store_.putNow(key(ResourceKind::kSubscription, s.space, s.subscriptionId),
                         model::encodeStored(s));
  }
  int64_t putEventType(const std::string& space, const std::string& name) {
    return store_.putNow(key(ResourceKind::kEventType, space, name),
                         model::encodeStored(testing::eventType(space, name)));
  }

  void start(ConfigCache& cache) {
    auto st = testing::runAwaitable(cache.start());
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  bool waitFor(ConfigCache& cache, int64_t revision, std::chrono::milliseconds timeout = 2s) {
    return testing::runAwaitable(cache.waitForRevision(revision, timeout));
  }

  static model::Subscription sync(const std::string& space, const std::string& id,
                                  const std::string& path, const std::string& fn = "f1") {
    return testing::subscription(space, id, SubscriptionType::kSync, "http.request", fn, "GET",
                                 path);
  }

  FakeStore store_;
  providers::ProviderRegistry registry_;
  std::shared_ptr<std::atomic<int>> created_ = std::make_shared<std::atomic<int>>(0);
};

TEST_F(ConfigCacheTest, InitialListPublishesSnapshot) {
  putFunction("s1", "f1");
  putEventType("s1", "user.created");
  const int64_t rev = putSubscription(sync("s1", "sub1", "/users/:id"));
  ConfigCache cache(store_, registry_);
  start(cache);
  auto snap = cache.snapshot();
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->revision(), rev);
  EXPECT_EQ(cache.appliedRevision(), rev);
  auto m = snap->findSync("GET", "/users/9", "http.request");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->params, (PathParams{{"id", "9"}}));
  ASSERT_NE(m->route.function->invoker, nullptr);
  EXPECT_NE(snap->eventType("s1", "user.created"), nullptr);
  EXPECT_EQ(snap->counts().at("s1").subscriptions, 1u);
}

TEST_F(ConfigCacheTest, SnapshotsLeaveMetadataOut) {
  auto fn = testing::function("s1", "f1");
  fn.metadata = model::Metadata{{"team", "a"}};
  store_.putNow(key(ResourceKind::kFunction, "s1", "f1"), model::encodeStored(fn));
  auto et = testing::eventType("s1", "e");
  et.metadata = model::Metadata{{"team", "a"}};
  store_.putNow(key(ResourceKind::kEventType, "s1", "e"), model::encodeStored(et));
  auto sub = sync("s1", "sub1", "/a");
  sub.metadata = model::Metadata{{"team", "a"}};
  putSubscription(sub);
  ConfigCache cache(store_, registry_);
  start(cache);
  auto snap = cache.snapshot();
  ASSERT_NE(snap->function("s1", "f1"), nullptr);
  EXPECT_FALSE(snap->function("s1", "f1")->function.metadata);
  ASSERT_NE(snap->eventType("s1", "e"), nullptr);
  EXPECT_FALSE(snap->eventType("s1", "e")->metadata);
  auto m = snap->findSync("GET", "/a", "http.request");
  ASSERT_TRUE(m.has_value());
  EXPECT_FALSE(m->route.subscription->metadata);
}

TEST_F(ConfigCacheTest, StartFailsWhenStoreUnavailable) {
  store_.setListFails(true);
  ConfigCache cache(store_, registry_);
  auto st = testing::runAwaitable(cache.start());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kUnavailable);
}

TEST_F(ConfigCacheTest, WatchUpdatesAndDeletesReachTheSnapshot) {
  putFunction("s1", "f1");
  ConfigCache cache(store_, registry_);
  start(cache);
  EXPECT_FALSE(cache.snapshot()->findSync("GET", "/a", "http.request").has_value());

  const int64_t rev = putSubscription(sync("s1", "sub-a", "/a"));
  ASSERT_TRUE(waitFor(cache, rev));
  EXPECT_GE(cache.snapshot()->revision(), rev);
  EXPECT_GE(cache.appliedRevision(), rev);
  ASSERT_TRUE(cache.snapshot()->findSync("GET", "/a", "http.request").has_value());

  const int64_t delRev = store_.removeNow(key(ResourceKind::kSubscription, "s1", "sub-a"));
  ASSERT_TRUE(waitFor(cache, delRev));
  EXPECT_FALSE(cache.snapshot()->findSync("GET", "/a", "http.request").has_value());
  EXPECT_EQ(cache.snapshot()->counts().count("s1"), 1u);
  EXPECT_EQ(cache.snapshot()->counts().at("s1").subscriptions, 0u);
}

TEST_F(ConfigCacheTest, WaitForRevisionTimesOut) {
  ConfigCache cache(store_, registry_);
  start(cache);
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_FALSE(waitFor(cache, 100, 50ms));
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(elapsed, 45ms);
  EXPECT_LT(elapsed, 1s);
  EXPECT_TRUE(waitFor(cache, 0, 50ms));  // already there
}

TEST_F(ConfigCacheTest, WaitForRevisionWakesPromptly) {
  putFunction("s1", "f1");
  ConfigCache cache(store_, registry_);
  start(cache);
  const int64_t next = store_.putNow("unrelated", "x") + 1;
  // The write happens while the wait is pending; the waiter wakes long before its timeout.
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    putSubscription(sync("s1", "late", "/late"));
  });
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(waitFor(cache, next, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  writer.join();
  EXPECT_TRUE(cache.snapshot()->findSync("GET", "/late", "http.request").has_value());
}

TEST_F(ConfigCacheTest, SnapshotListenersAreCalled) {
  ConfigCache cache(store_, registry_);
  start(cache);
  std::atomic<int64_t> seen{0};
  cache.onSnapshot([&](const Snapshot& s) { seen = s.revision(); });
  const int64_t rev = putFunction("s1", "f1");
  ASSERT_TRUE(waitFor(cache, rev));
  for (int i = 0; i < 200 && seen.load() < rev; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(seen.load(), rev);
}

TEST_F(ConfigCacheTest, CheckSyncRouteConflictsAndSentinel) {
  putFunction("s1", "f1");
  putFunction("s2", "f1");
  putSubscription(sync("s1", "sub-param", "/users/:id"));
  const int64_t sentinelRev = store_.putNow(std::string(model::kRoutesSentinelKey), "1");
  ConfigCache cache(store_, registry_);
  start(cache);

  auto check = cache.checkSyncRoute(sync("s2", "other", "/users/me"));
  EXPECT_EQ(check.routesModRevision, sentinelRev);
  ASSERT_FALSE(check.status.ok());
  EXPECT_EQ(check.status.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(check.status.error().message.find("/users/:id"), std::string::npos);

  check = cache.checkSyncRoute(sync("s2", "other", "/users/:name"));
  ASSERT_FALSE(check.status.ok());
  EXPECT_EQ(check.status.error().kind, ErrorKind::kInvalid);

  // Same (method, path, eventType) in another space: a conflict; the same ID: exists.
  check = cache.checkSyncRoute(sync("s2", "other", "/users/:id"));
  ASSERT_FALSE(check.status.ok());
  EXPECT_EQ(check.status.error().kind, ErrorKind::kInvalid);
  check = cache.checkSyncRoute(sync("s1", "sub-param", "/users/:id"));
  ASSERT_FALSE(check.status.ok());
  EXPECT_EQ(check.status.error().kind, ErrorKind::kAlreadyExists);

  // Other method, other event type, deeper path, async: no conflict.
  auto post = sync("s2", "p", "/users/me");
  post.method = "POST";
  EXPECT_TRUE(cache.checkSyncRoute(post).status.ok());
  auto otherType = sync("s2", "t", "/users/me");
  otherType.eventType = "user.created";
  EXPECT_TRUE(cache.checkSyncRoute(otherType).status.ok());
  EXPECT_TRUE(cache.checkSyncRoute(sync("s2", "d", "/users/:id/posts")).status.ok());
  auto async = sync("s2", "as", "/users/me");
  async.type = SubscriptionType::kAsync;
  EXPECT_TRUE(cache.checkSyncRoute(async).status.ok());
  EXPECT_FALSE(cache.checkSyncRoute(sync("s2", "bad", "/*w/x")).status.ok());

  // The index follows the watch: after the delete, the static route is free.
  const int64_t rev = store_.removeNow(key(ResourceKind::kSubscription, "s1", "sub-param"));
  const int64_t sentinel2 = store_.putNow(std::string(model::kRoutesSentinelKey), "2");
  ASSERT_TRUE(waitFor(cache, sentinel2));
  EXPECT_GT(sentinel2, rev);
  check = cache.checkSyncRoute(sync("s2", "other", "/users/me"));
  EXPECT_TRUE(check.status.ok());
  EXPECT_EQ(check.routesModRevision, sentinel2);
}

TEST_F(ConfigCacheTest, SentinelAbsentIsZero) {
  ConfigCache cache(store_, registry_);
  start(cache);
  EXPECT_EQ(cache.checkSyncRoute(sync("s1", "x", "/")).routesModRevision, 0);
}

TEST_F(ConfigCacheTest, ValueThatDoesNotDecodeIsSkipped) {
  putFunction("s1", "f1");
  store_.putNow(key(ResourceKind::kFunction, "s1", "broken"), "{not json");
  store_.putNow(key(ResourceKind::kSubscription, "s1", "broken"), "[]");
  ConfigCache cache(store_, registry_);
  start(cache);
  auto snap = cache.snapshot();
  EXPECT_NE(snap->function("s1", "f1"), nullptr);
  EXPECT_EQ(snap->function("s1", "broken"), nullptr);
  EXPECT_EQ(snap->counts().at("s1").functions, 1u);
  EXPECT_EQ(snap->counts().at("s1").subscriptions, 0u);

  // A value that stops decoding removes the resource.
  const int64_t rev = store_.putNow(key(ResourceKind::kFunction, "s1", "f1"), "garbage");
  ASSERT_TRUE(waitFor(cache, rev));
  EXPECT_EQ(cache.snapshot()->function("s1", "f1"), nullptr);
}

TEST_F(ConfigCacheTest, ValueUnderAnotherKeyIsSkipped) {
  store_.putNow(key(ResourceKind::kFunction, "s1", "alias"),
                model::encodeStored(testing::function("s1", "real")));
  ConfigCache cache(store_, registry_);
  start(cache);
  EXPECT_EQ(cache.snapshot()->function("s1", "real"), nullptr);
  EXPECT_EQ(cache.snapshot()->function("s1", "alias"), nullptr);
}

TEST_F(ConfigCacheTest, InvokersAreReusedWhenTheFunctionDidNotChange) {
  putFunction("s1", "f1");
  putFunction("s1", "f2");
  ConfigCache cache(store_, registry_);
  start(cache);
  EXPECT_EQ(created_->load(), 2);
  auto first = cache.snapshot();
  auto f1Before = first->function("s1", "f1")->invoker;
  auto f2Before = first->function("s1", "f2")->invoker;
  ASSERT_NE(f1Before, nullptr);

  // An unrelated change: both invokers survive.
  int64_t rev = putSubscription(sync("s1", "sub", "/x"));
  ASSERT_TRUE(waitFor(cache, rev));
  EXPECT_EQ(cache.snapshot()->function("s1", "f1")->invoker, f1Before);
  EXPECT_EQ(cache.snapshot()->function("s1", "f2")->invoker, f2Before);
  EXPECT_EQ(created_->load(), 2);

  // f2 re-registered: a new invoker for f2 only.
  rev = putFunction("s1", "f2");
  ASSERT_TRUE(waitFor(cache, rev));
  EXPECT_EQ(cache.snapshot()->function("s1", "f1")->invoker, f1Before);
  EXPECT_NE(cache.snapshot()->function("s1", "f2")->invoker, f2Before);
  EXPECT_EQ(created_->load(), 3);
  // The old snapshot keeps its own invoker alive.
  EXPECT_EQ(first->function("s1", "f2")->invoker, f2Before);
}

TEST_F(ConfigCacheTest, CompactionRelistsAndWatchesAgain) {
  putFunction("s1", "f1");
  ConfigCache cache(store_, registry_);
  start(cache);
  const int listsBefore = store_.listCalls();
  EXPECT_EQ(cache.relists(), 0u);

  // Changes the old watch never delivers, then the watch ends with kCompacted.
  store_.compactAndEndWatches(0);
  const int64_t missed = putSubscription(sync("s1", "missed", "/missed"));
  ASSERT_TRUE(waitFor(cache, missed));
  EXPECT_GT(store_.listCalls(), listsBefore);
  EXPECT_EQ(cache.relists(), 1u);
  EXPECT_TRUE(cache.snapshot()->findSync("GET", "/missed", "http.request").has_value());
  EXPECT_FALSE(cache.checkSyncRoute(sync("s2", "x", "/missed")).status.ok());

  // The new watch delivers later changes.
  const int64_t later = putSubscription(sync("s1", "later", "/later"));
  ASSERT_TRUE(waitFor(cache, later));
  EXPECT_TRUE(cache.snapshot()->findSync("GET", "/later", "http.request").has_value());
}

TEST_F(ConfigCacheTest, CompactionRetriesWhileStoreIsDown) {
  ConfigCache cache(store_, registry_);
  start(cache);
  store_.setListFails(true);
  store_.compactAndEndWatches(0);
  for (int i = 0; i < 500 && store_.listCalls() < 3; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_GE(store_.listCalls(), 3);  // initial list + at least two retries
  EXPECT_NE(cache.snapshot(), nullptr);  // routing goes on
  store_.setListFails(false);
  const int64_t rev = putFunction("s1", "f1");
  ASSERT_TRUE(waitFor(cache, rev, 5s));
  EXPECT_NE(cache.snapshot()->function("s1", "f1"), nullptr);
}

TEST_F(ConfigCacheTest, UnavailableKeepsTheLastSnapshot) {
  putFunction("s1", "f1");
  ConfigCache cache(store_, registry_);
  start(cache);
  auto before = cache.snapshot();
  store_.interruptWatches();
  const int64_t rev = putFunction("s1", "f2");  // the watch resumes
  ASSERT_TRUE(waitFor(cache, rev));
  EXPECT_NE(cache.snapshot()->function("s1", "f1"), nullptr);
  EXPECT_NE(cache.snapshot()->function("s1", "f2"), nullptr);
  EXPECT_EQ(before->function("s1", "f2"), nullptr);
  EXPECT_EQ(cache.relists(), 0u);  // resumed, not read again
}

TEST_F(ConfigCacheTest, ManyQuickWritesCoalesceButEndCurrent) {
  putFunction("s1", "f1");
  // Before the cache, so that it outlives the cache's thread, which may still publish.
  std::atomic<int> published{0};
  ConfigCache cache(store_, registry_);
  start(cache);
  cache.onSnapshot([&](const Snapshot&) { ++published; });
  int64_t last = 0;
  for (int i = 0; i < 200; ++i) {
    last = putSubscription(sync("s1", "sub" + std::to_string(i), "/p" + std::to_string(i)));
  }
  ASSERT_TRUE(waitFor(cache, last));
  auto snap = cache.snapshot();
  EXPECT_EQ(snap->revision(), last);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(snap->findSync("GET", "/p" + std::to_string(i), "http.request").has_value()) << i;
  }
  EXPECT_LE(published.load(), 200);
}

// Readers keep the snapshot they loaded last per thread: they must still see every
// published one, never go back, and see a write once waitForRevision said it is there.
TEST_F(ConfigCacheTest, ReadersOnOtherThreadsFollowEveryPublish) {
  putFunction("s1", "f1");
  ConfigCache cache(store_, registry_);
  start(cache);
  std::atomic<bool> done{false};
  std::atomic<int> backwards{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      int64_t seen = 0;
      while (!done.load()) {
        const int64_t revision = cache.snapshot()->revision();
        if (revision < seen) ++backwards;
        seen = revision;
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    const std::string path = "/r" + std::to_string(i);
    const int64_t revision = putSubscription(sync("s1", "sub" + std::to_string(i), path));
    ASSERT_TRUE(waitFor(cache, revision));
    // A thread that has read before, and one that has not.
    std::shared_ptr<const Snapshot> warm = cache.snapshot();
    EXPECT_GE(warm->revision(), revision);
    EXPECT_TRUE(warm->findSync("GET", path, "http.request").has_value()) << path;
    std::thread([&] {
      EXPECT_GE(cache.snapshot()->revision(), revision);
      EXPECT_GE(cache.snapshot()->revision(), revision);
    }).join();
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(backwards.load(), 0);

  // A second cache on the same threads is not mistaken for the first.
  FakeStore other;
  ConfigCache second(other, registry_);
  auto st = testing::runAwaitable(second.start());
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(second.snapshot()->function("s1", "f1"), nullptr);
  EXPECT_NE(cache.snapshot()->function("s1", "f1"), nullptr);
}

TEST_F(ConfigCacheTest, StopKeepsLastSnapshotReadable) {
  putFunction("s1", "f1");
  ConfigCache cache(store_, registry_);
  start(cache);
  cache.stop();
  putFunction("s1", "f2");
  EXPECT_NE(cache.snapshot()->function("s1", "f1"), nullptr);
  EXPECT_EQ(cache.snapshot()->function("s1", "f2"), nullptr);
}

}  // namespace
}  // namespace eg::routing
