#pragma once

// The behaviour every Store backend must have, as a typed GoogleTest suite.
//
// A backend instantiates it with a factory type F:
//   struct F {
//     // A store for one test. It need not be empty: tests use their own key prefix
//     // and compare revisions relatively.
//     std::unique_ptr<eg::store::Store> open();
//     // Drops the history before `revision` (etcd's compact).
//     eg::Status compact(eg::store::Store& store, int64_t revision);
//   };
//   using Backends = ::testing::Types<F>;
//   INSTANTIATE_TYPED_TEST_SUITE_P(Name, StoreContractTest, Backends);

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "store/store.h"

namespace eg::store::testing {

using namespace std::chrono_literals;

inline constexpr auto kWait = 10s;

template <class T>
asio::awaitable<void> awaitInto(asio::awaitable<T> aw, std::optional<T>& out) {
  out.emplace(co_await std::move(aw));
}

// Runs a store call on a private io_context on this thread and returns its result;
// throws (failing the test) when it does not finish in time.
template <class T>
T runAwait(asio::awaitable<T> aw, std::chrono::steady_clock::duration limit = kWait) {
  asio::io_context ioc;
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(ioc, awaitInto(std::move(aw), out), [&](std::exception_ptr e) { error = e; });
  ioc.run_for(limit);
  if (error) std::rethrow_exception(error);
  if (!out) throw std::runtime_error("store call did not complete in time");
  return std::move(*out);
}

// Records what a watch delivers; waits with a deadline.
class WatchRecorder {
 public:
  Store::WatchHandler handler() {
    return [this](Result<WatchBatch> result) { record(std::move(result)); };
  }

  void record(Result<WatchBatch> result) {
    std::lock_guard lock(mutex_);
    ++calls_;
    if (closed_) ++callsAfterClose_;
    if (result) {
      for (auto& event : result->events) events_.push_back(event);
      batches_.push_back(std::move(result).value());
    } else {
      errors_.push_back(result.error());
    }
    changed_.notify_all();
  }

  bool waitForEvents(size_t n, std::chrono::steady_clock::duration limit = kWait) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return events_.size() >= n; });
  }

  bool waitForErrors(size_t n, std::chrono::steady_clock::duration limit = kWait) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return errors_.size() >= n; });
  }

  // From now on any call is counted as a call after the watch was cancelled.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }

  std::vector<WatchEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<WatchBatch> batches() {
    std::lock_guard lock(mutex_);
    return batches_;
  }
  std::vector<Error> errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }
  size_t calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  size_t callsAfterClose() {
    std::lock_guard lock(mutex_);
    return callsAfterClose_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<WatchEvent> events_;
  std::vector<WatchBatch> batches_;
  std::vector<Error> errors_;
  size_t calls_ = 0;
  size_t callsAfterClose_ = 0;
  bool closed_ = false;
};

template <class Factory>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.open();
    ASSERT_NE(store_, nullptr);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("/contract/") + info->name() + "/" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "/";
  }

  std::string key(const std::string& name) const { return prefix_ + name; }

  Store& store() { return *store_; }

  int64_t put(const std::string& k, const std::string& v) {
    auto r = runAwait(store_->put(k, v));
    if (!r) throw std::runtime_error("put failed: " + r.error().message);
    return *r;
  }

  int64_t currentRevision() {
    auto r = runAwait(store_->list(prefix_));
    if (!r) throw std::runtime_error("list failed: " + r.error().message);
    return r->revision;
  }

  Factory factory_;
  std::unique_ptr<Store> store_;
  std::string prefix_;
};

TYPED_TEST_SUITE_P(StoreContractTest);

TYPED_TEST_P(StoreContractTest, GetMissingAndPresent) {
  auto missing = runAwait(this->store().get(this->key("missing")));
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_FALSE(missing->has_value());

  int64_t rev = this->put(this->key("a"), std::string("v\0binary\xff", 9));
  auto present = runAwait(this->store().get(this->key("a")));
  ASSERT_TRUE(present) << present.error().message;
  ASSERT_TRUE(present->has_value());
  EXPECT_EQ((*present)->key, this->key("a"));
  EXPECT_EQ((*present)->value, std::string("v\0binary\xff", 9));
  EXPECT_EQ((*present)->createRevision, rev);
  EXPECT_EQ((*present)->modRevision, rev);
}

TYPED_TEST_P(StoreContractTest, EmptyValueRoundTrips) {
  this->put(this->key("empty"), "");
  auto got = runAwait(this->store().get(this->key("empty")));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->value, "");
}

TYPED_TEST_P(StoreContractTest, CreateTwiceIsAlreadyExists) {
  auto first = runAwait(this->store().create(this->key("c"), "1"));
  ASSERT_TRUE(first) << first.error().message;
  auto second = runAwait(this->store().create(this->key("c"), "2"));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kAlreadyExists);
  auto got = runAwait(this->store().get(this->key("c")));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->value, "1");
  EXPECT_EQ((*got)->modRevision, *first);
}

TYPED_TEST_P(StoreContractTest, PutBumpsRevisionAndKeepsCreateRevision) {
  int64_t r1 = this->put(this->key("k"), "1");
  int64_t r2 = this->put(this->key("k"), "2");
  int64_t r3 = this->put(this->key("k"), "2");  // the same value is still a write
  EXPECT_GT(r2, r1);
  EXPECT_GT(r3, r2);
  auto got = runAwait(this->store().get(this->key("k")));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->value, "2");
  EXPECT_EQ((*got)->createRevision, r1);
  EXPECT_EQ((*got)->modRevision, r3);
  EXPECT_GE(this->currentRevision(), r3);
}

TYPED_TEST_P(StoreContractTest, ListByPrefixIsSortedAndExcludesOtherPrefixes) {
  for (const char* name : {"a/2", "a/10", "b/1", "a/1", "ax", "a", "a/"}) {
    this->put(this->key(name), name);
  }
  int64_t last = this->put(this->key("c"), "c");

  auto names = [&](const Result<RangeResult>& r) {
    std::vector<std::string> out;
    for (const auto& kv : r->kvs) out.push_back(kv.key.substr(this->prefix_.size()));
    return out;
  };
  auto dir = runAwait(this->store().list(this->key("a/")));
  ASSERT_TRUE(dir) << dir.error().message;
  EXPECT_EQ(names(dir), (std::vector<std::string>{"a/", "a/1", "a/10", "a/2"}));
  EXPECT_GE(dir->revision, last);
  for (const auto& kv : dir->kvs) EXPECT_EQ(kv.value, kv.key.substr(this->prefix_.size()));

  // A prefix is a prefix of bytes, not of path segments: "a" takes "ax" too.
  auto bare = runAwait(this->store().list(this->key("a")));
  ASSERT_TRUE(bare);
  EXPECT_EQ(names(bare), (std::vector<std::string>{"a", "a/", "a/1", "a/10", "a/2", "ax"}));

  auto none = runAwait(this->store().list(this->key("zzz")));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->kvs.empty());
}

TYPED_TEST_P(StoreContractTest, ListPrefixEndingInHighBytes) {
  for (std::string name : {std::string("\xfe"), std::string("\xff"), std::string("\xff\x01"),
                           std::string("\xff\xff"), std::string("g")}) {
    this->put(this->key(name), "v");
  }
  auto r = runAwait(this->store().list(this->key("\xff")));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->kvs.size(), 3u);
  EXPECT_EQ(r->kvs[0].key, this->key("\xff"));
  EXPECT_EQ(r->kvs[1].key, this->key("\xff\x01"));
  EXPECT_EQ(r->kvs[2].key, this->key("\xff\xff"));
}

TYPED_TEST_P(StoreContractTest, CompareAndSwap) {
  // 0: only when absent.
  auto created = runAwait(this->store().compareAndSwap(this->key("k"), "1", 0));
  ASSERT_TRUE(created) << created.error().message;
  auto again = runAwait(this->store().compareAndSwap(this->key("k"), "x", 0));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kConflict);

  auto wrong = runAwait(this->store().compareAndSwap(this->key("k"), "x", *created + 1000));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, ErrorKind::kConflict);

  auto right = runAwait(this->store().compareAndSwap(this->key("k"), "2", *created));
  ASSERT_TRUE(right) << right.error().message;
  EXPECT_GT(*right, *created);

  auto stale = runAwait(this->store().compareAndSwap(this->key("k"), "x", *created));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind, ErrorKind::kConflict);

  auto got = runAwait(this->store().get(this->key("k")));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->value, "2");
  EXPECT_EQ((*got)->createRevision, *created);
  EXPECT_EQ((*got)->modRevision, *right);
}

TYPED_TEST_P(StoreContractTest, RemoveMissingIsNotFound) {
  auto missing = runAwait(this->store().remove(this->key("nope")));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);

  int64_t put = this->put(this->key("k"), "v");
  auto removed = runAwait(this->store().remove(this->key("k")));
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_GT(*removed, put);
  auto got = runAwait(this->store().get(this->key("k")));
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
  auto twice = runAwait(this->store().remove(this->key("k")));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::kNotFound);

  // Re-creating starts a new life: a new createRevision.
  int64_t recreated = this->put(this->key("k"), "again");
  auto back = runAwait(this->store().get(this->key("k")));
  ASSERT_TRUE(back && back->has_value());
  EXPECT_EQ((*back)->createRevision, recreated);
}

TYPED_TEST_P(StoreContractTest, TxnIsAllOrNothing) {
  int64_t r1 = this->put(this->key("one"), "1");
  int64_t r2 = this->put(this->key("two"), "2");

  // A failing compare among holding ones: nothing changes, no new revision.
  auto failed = runAwait(this->store().txn(
      {Compare{this->key("one"), r1}, Compare{this->key("two"), r2 + 1000},
       Compare{this->key("absent"), 0}},
      {Op{Op::Type::kPut, this->key("one"), "changed"}, Op{Op::Type::kDelete, this->key("two"), {}},
       Op{Op::Type::kPut, this->key("absent"), "new"}}));
  ASSERT_TRUE(failed) << failed.error().message;
  EXPECT_FALSE(failed->succeeded);
  EXPECT_EQ(failed->revision, r2);
  EXPECT_EQ(this->currentRevision(), r2);
  {
    auto one = runAwait(this->store().get(this->key("one")));
    ASSERT_TRUE(one && one->has_value());
    EXPECT_EQ((*one)->value, "1");
    auto absent = runAwait(this->store().get(this->key("absent")));
    ASSERT_TRUE(absent);
    EXPECT_FALSE(absent->has_value());
  }

  // "modRevision 0" fails for a present key.
  auto present = runAwait(this->store().txn({Compare{this->key("one"), 0}},
                                            {Op{Op::Type::kPut, this->key("x"), "x"}}));
  ASSERT_TRUE(present);
  EXPECT_FALSE(present->succeeded);

  // Every compare holds: every op applies under one revision.
  auto ok = runAwait(this->store().txn(
      {Compare{this->key("one"), r1}, Compare{this->key("two"), r2},
       Compare{this->key("absent"), 0}},
      {Op{Op::Type::kPut, this->key("one"), "changed"}, Op{Op::Type::kDelete, this->key("two"), {}},
       Op{Op::Type::kPut, this->key("absent"), "new"}}));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(ok->succeeded);
  EXPECT_GT(ok->revision, r2);

  auto range = runAwait(this->store().list(this->prefix_));
  ASSERT_TRUE(range);
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, this->key("absent"));
  EXPECT_EQ(range->kvs[0].value, "new");
  EXPECT_EQ(range->kvs[0].createRevision, ok->revision);
  EXPECT_EQ(range->kvs[0].modRevision, ok->revision);
  EXPECT_EQ(range->kvs[1].key, this->key("one"));
  EXPECT_EQ(range->kvs[1].value, "changed");
  EXPECT_EQ(range->kvs[1].createRevision, r1);
  EXPECT_EQ(range->kvs[1].modRevision, ok->revision);
}

TYPED_TEST_P(StoreContractTest, PrefixCompareSeesCreatesAndChangesUnderThePrefix) {
  const std::string dir = this->key("dir/");
  const int64_t a = this->put(this->key("dir/a"), "1");
  const int64_t beside = this->put(this->key("dirt"), "1");
  const auto txnIfUnchangedSince = [&](std::string prefix, int64_t revision) {
    auto r = runAwait(this->store().txn({Compare{std::move(prefix), revision, true}},
                                        {Op{Op::Type::kPut, this->key("marker"), "m"}}));
    if (!r) throw std::runtime_error("txn failed: " + r.error().message);
    return r->succeeded;
  };

  EXPECT_TRUE(txnIfUnchangedSince(dir, a));  // a write beside the prefix does not count
  EXPECT_FALSE(txnIfUnchangedSince(dir, a - 1));
  EXPECT_TRUE(txnIfUnchangedSince(this->key("empty/"), 0));

  const int64_t b = this->put(this->key("dir/b"), "1");  // a new key
  EXPECT_FALSE(txnIfUnchangedSince(dir, beside));
  EXPECT_TRUE(txnIfUnchangedSince(dir, b));
  const int64_t changed = this->put(this->key("dir/a"), "2");  // a changed one
  EXPECT_FALSE(txnIfUnchangedSince(dir, b));
  EXPECT_TRUE(txnIfUnchangedSince(dir, changed));
  ASSERT_TRUE(runAwait(this->store().remove(this->key("dir/b"))));  // a deletion does not count
  EXPECT_TRUE(txnIfUnchangedSince(dir, changed));
}

TYPED_TEST_P(StoreContractTest, RevisionIsMonotonic) {
  std::vector<int64_t> revisions;
  revisions.push_back(this->put(this->key("a"), "1"));
  revisions.push_back(*runAwait(this->store().create(this->key("b"), "1")));
  revisions.push_back(*runAwait(this->store().compareAndSwap(this->key("a"), "2", revisions[0])));
  revisions.push_back(*runAwait(this->store().remove(this->key("b"))));
  revisions.push_back(
      runAwait(this->store().txn({}, {Op{Op::Type::kPut, this->key("c"), "1"}}))->revision);
  revisions.push_back(this->put(this->key("a"), "3"));
  for (size_t i = 1; i < revisions.size(); ++i) {
    EXPECT_GT(revisions[i], revisions[i - 1]) << "write " << i;
  }
  EXPECT_GE(this->currentRevision(), revisions.back());
}

TYPED_TEST_P(StoreContractTest, AwaitablesResumeOnTheCallersThread) {
  asio::io_context ioc;
  std::thread::id before, after;
  bool done = false;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        before = std::this_thread::get_id();
        auto r = co_await this->store().put(this->key("k"), "v");
        after = std::this_thread::get_id();
        done = r.ok();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run_for(kWait);
  ASSERT_TRUE(done);
  EXPECT_EQ(before, std::this_thread::get_id());
  EXPECT_EQ(after, before);
}

TYPED_TEST_P(StoreContractTest, WatchFromNextRevisionGetsLiveEvents) {
  int64_t start = this->currentRevision();
  WatchRecorder recorder;
  auto watch = this->store().watch(this->key("w/"), start + 1, recorder.handler());
  int64_t r1 = this->put(this->key("w/a"), "1");
  this->put(this->key("other"), "not watched");
  int64_t r2 = this->put(this->key("w/b"), "2");
  int64_t r3 = this->put(this->key("w/a"), "3");
  ASSERT_TRUE(recorder.waitForEvents(3));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events[0].kv.key, this->key("w/a"));
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[0].kv.modRevision, r1);
  EXPECT_EQ(events[0].kv.createRevision, r1);
  EXPECT_EQ(events[1].kv.key, this->key("w/b"));
  EXPECT_EQ(events[1].kv.modRevision, r2);
  EXPECT_EQ(events[2].kv.value, "3");
  EXPECT_EQ(events[2].kv.modRevision, r3);
  EXPECT_EQ(events[2].kv.createRevision, r1);
  for (const auto& batch : recorder.batches()) {
    ASSERT_FALSE(batch.events.empty());
    EXPECT_EQ(batch.revision, batch.events.back().kv.modRevision);
  }
  EXPECT_TRUE(recorder.errors().empty());
}

TYPED_TEST_P(StoreContractTest, WatchFromOldRevisionReplaysHistoryThenLive) {
  int64_t r1 = this->put(this->key("h/a"), "1");
  int64_t r2 = this->put(this->key("h/b"), "2");
  this->put(this->key("elsewhere"), "x");
  auto r3 = runAwait(this->store().remove(this->key("h/a")));
  ASSERT_TRUE(r3);
  // A later revision than r1 but earlier than current: replay starts there, inclusive.
  WatchRecorder recorder;
  auto watch = this->store().watch(this->key("h/"), r2, recorder.handler());
  int64_t r4 = this->put(this->key("h/c"), "4");
  int64_t r5 = this->put(this->key("h/b"), "5");
  ASSERT_TRUE(recorder.waitForEvents(4));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 4u);
  std::vector<int64_t> revisions;
  for (const auto& event : events) revisions.push_back(event.kv.modRevision);
  EXPECT_EQ(revisions, (std::vector<int64_t>{r2, *r3, r4, r5}));
  EXPECT_EQ(events[0].kv.key, this->key("h/b"));
  EXPECT_EQ(events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[1].kv.key, this->key("h/a"));
  EXPECT_EQ(events[3].kv.createRevision, r2);
  EXPECT_GT(r2, r1);
  EXPECT_TRUE(recorder.errors().empty());
}

TYPED_TEST_P(StoreContractTest, WatchReplayAndConcurrentWritesHaveNoGapOrDuplicate) {
  int64_t from = this->currentRevision() + 1;
  for (int i = 0; i < 20; ++i) this->put(this->key("g/" + std::to_string(i)), "before");
  WatchRecorder recorder;
  // Writes race with the registration: they must come out once each, in order.
  std::thread writer([&] {
    for (int i = 20; i < 60; ++i) this->put(this->key("g/" + std::to_string(i)), "during");
  });
  auto watch = this->store().watch(this->key("g/"), from, recorder.handler());
  writer.join();
  ASSERT_TRUE(recorder.waitForEvents(60));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 60u);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GT(events[i].kv.modRevision, events[i - 1].kv.modRevision) << i;
  }
  for (int i = 0; i < 60; ++i) EXPECT_EQ(events[i].kv.key, this->key("g/" + std::to_string(i)));
}

TYPED_TEST_P(StoreContractTest, DeletesAreDeleteEvents) {
  this->put(this->key("d/k"), "v");
  int64_t start = this->currentRevision();
  WatchRecorder recorder;
  auto watch = this->store().watch(this->key("d/"), start + 1, recorder.handler());
  auto removed = runAwait(this->store().remove(this->key("d/k")));
  ASSERT_TRUE(removed);
  auto txn = runAwait(this->store().txn({}, {Op{Op::Type::kPut, this->key("d/t"), "t"},
                                             Op{Op::Type::kPut, this->key("d/u"), "u"}}));
  ASSERT_TRUE(txn);
  auto txnDelete = runAwait(this->store().txn({}, {Op{Op::Type::kDelete, this->key("d/t"), {}},
                                                   Op{Op::Type::kDelete, this->key("d/u"), {}}}));
  ASSERT_TRUE(txnDelete);
  ASSERT_TRUE(recorder.waitForEvents(5));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[0].kv.key, this->key("d/k"));
  EXPECT_EQ(events[0].kv.modRevision, *removed);
  EXPECT_EQ(events[1].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events[1].kv.modRevision, txn->revision);
  EXPECT_EQ(events[2].kv.modRevision, txn->revision);
  for (int i : {3, 4}) {
    EXPECT_EQ(events[i].type, WatchEvent::Type::kDelete);
    EXPECT_EQ(events[i].kv.modRevision, txnDelete->revision);
  }
}

TYPED_TEST_P(StoreContractTest, DestroyingTheWatchStopsDelivery) {
  int64_t start = this->currentRevision();
  WatchRecorder cancelled;
  WatchRecorder sentinel;
  auto watch = this->store().watch(this->key("s/"), start + 1, cancelled.handler());
  auto sentinelWatch = this->store().watch(this->key("s/"), start + 1, sentinel.handler());
  this->put(this->key("s/1"), "1");
  ASSERT_TRUE(cancelled.waitForEvents(1));
  watch.reset();
  cancelled.close();
  this->put(this->key("s/2"), "2");
  this->put(this->key("s/3"), "3");
  // The sentinel has seen the later writes, so a delivery to the cancelled watch would
  // have happened by now.
  ASSERT_TRUE(sentinel.waitForEvents(3));
  EXPECT_EQ(cancelled.callsAfterClose(), 0u);
  EXPECT_EQ(cancelled.events().size(), 1u);
}

TYPED_TEST_P(StoreContractTest, HandlerMayDestroyItsOwnWatch) {
  int64_t start = this->currentRevision();
  auto holder = std::make_shared<std::unique_ptr<Watch>>();
  std::atomic<int> calls{0};
  WatchRecorder sentinel;
  *holder = this->store().watch(this->key("o/"), start + 1, [holder, &calls](Result<WatchBatch>) {
    ++calls;
    holder->reset();
  });
  auto sentinelWatch = this->store().watch(this->key("o/"), start + 1, sentinel.handler());
  for (int i = 0; i < 3; ++i) this->put(this->key("o/" + std::to_string(i)), "v");
  ASSERT_TRUE(sentinel.waitForEvents(3));
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (calls.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(calls.load(), 1);
  // The handler captured the holder: break the cycle if it never ran. When it ran, it
  // reset the holder itself, maybe still doing so on the store's thread right now.
  if (calls.load() == 0) holder->reset();
}

TYPED_TEST_P(StoreContractTest, WatchFromCompactedRevisionIsCompacted) {
  int64_t r1 = this->put(this->key("x/a"), "1");
  this->put(this->key("x/b"), "2");
  int64_t r3 = this->put(this->key("x/c"), "3");
  ASSERT_TRUE(this->factory_.compact(this->store(), r3));

  WatchRecorder recorder;
  auto watch = this->store().watch(this->key("x/"), r1, recorder.handler());
  ASSERT_TRUE(recorder.waitForErrors(1));
  EXPECT_EQ(recorder.errors()[0].kind, ErrorKind::kCompacted);
  // The watch has ended: later writes are not delivered to it.
  WatchRecorder sentinel;
  auto sentinelWatch = this->store().watch(this->key("x/"), r3, sentinel.handler());
  int64_t r4 = this->put(this->key("x/d"), "4");
  ASSERT_TRUE(sentinel.waitForEvents(2));
  // The compaction revision itself is still kept.
  auto events = sentinel.events();
  EXPECT_EQ(events[0].kv.modRevision, r3);
  EXPECT_EQ(events[1].kv.modRevision, r4);
  EXPECT_EQ(recorder.calls(), 1u);
  EXPECT_TRUE(recorder.events().empty());
}

TYPED_TEST_P(StoreContractTest, ConcurrentCreatesOfOneKeyHaveOneWinner) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 8;
  asio::io_context ioc;
  std::atomic<int> wins{0}, exists{0}, other{0}, finished{0};
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    asio::co_spawn(
        ioc,
        [&, i]() -> asio::awaitable<void> {
          auto r = co_await this->store().create(this->key("race"), std::to_string(i));
          if (r) {
            ++wins;
          } else if (r.error().kind == ErrorKind::kAlreadyExists) {
            ++exists;
          } else {
            ++other;
          }
          ++finished;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&] { ioc.run_for(kWait); });
  for (auto& t : threads) t.join();
  ASSERT_EQ(finished.load(), kThreads * kPerThread);
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(exists.load(), kThreads * kPerThread - 1);
  EXPECT_EQ(other.load(), 0);
}

TYPED_TEST_P(StoreContractTest, ReportsHealthAndName) {
  EXPECT_TRUE(this->store().healthy());
  EXPECT_FALSE(this->store().name().empty());
}

REGISTER_TYPED_TEST_SUITE_P(StoreContractTest, GetMissingAndPresent, EmptyValueRoundTrips,
                            CreateTwiceIsAlreadyExists, PutBumpsRevisionAndKeepsCreateRevision,
                            ListByPrefixIsSortedAndExcludesOtherPrefixes,
                            ListPrefixEndingInHighBytes, CompareAndSwap, RemoveMissingIsNotFound,
                            TxnIsAllOrNothing,
                            PrefixCompareSeesCreatesAndChangesUnderThePrefix, RevisionIsMonotonic,
                            AwaitablesResumeOnTheCallersThread,
                            WatchFromNextRevisionGetsLiveEvents,
                            WatchFromOldRevisionReplaysHistoryThenLive,
                            WatchReplayAndConcurrentWritesHaveNoGapOrDuplicate,
                            DeletesAreDeleteEvents, DestroyingTheWatchStopsDelivery,
                            HandlerMayDestroyItsOwnWatch, WatchFromCompactedRevisionIsCompacted,
                            ConcurrentCreatesOfOneKeyHaveOneWinner, ReportsHealthAndName);

}  // namespace eg::store::testing
