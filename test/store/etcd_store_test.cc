#include "store/etcd_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/etcd_codec.h"
#include "store/etcd_test_cluster.h"
#include "store/store_contract.h"

namespace eg::store {
namespace {

using testing::EtcdCluster;
using testing::runAwait;
using testing::WatchRecorder;
using namespace std::chrono_literals;

std::unique_ptr<EtcdStore> openOrDie(EtcdStoreOptions options) {
  auto r = EtcdStore::open(std::move(options));
  if (!r) throw std::runtime_error("open failed: " + r.error().message);
  return std::move(r).value();
}

// One single-member etcd for the whole test process, killed at exit.
EtcdCluster& sharedEtcd() {
  static EtcdCluster* cluster = [] {
    if (!testing::etcdInstalled()) {
      throw std::runtime_error("etcd is not installed: apt-get install -y etcd-server");
    }
    static EtcdCluster c(1);
    return &c;
  }();
  return *cluster;
}

EtcdStoreOptions sharedOptions(std::string prefix) {
  EtcdStoreOptions options;
  options.endpoints = sharedEtcd().endpoints();
  options.keyPrefix = std::move(prefix);
  return options;
}

int64_t putOrDie(Store& store, const std::string& key, const std::string& value) {
  auto r = runAwait(store.put(key, value));
  if (!r) throw std::runtime_error("put failed: " + r.error().message);
  return *r;
}

}  // namespace

namespace testing {

struct EtcdFactory {
  std::unique_ptr<Store> open() { return openOrDie(sharedOptions("/contract-store/")); }
  Status compact(Store& store, int64_t revision) {
    return runAwait(dynamic_cast<EtcdStore&>(store).compact(revision));
  }
};

using EtcdBackends = ::testing::Types<EtcdFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Etcd, StoreContractTest, EtcdBackends);

}  // namespace testing

namespace {

// ---- codec -----------------------------------------------------------------------------

TEST(EtcdCodecTest, Base64RoundTripsEveryByteAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 1) {
    std::string bytes = all.substr(0, n);
    auto decoded = etcd::base64Decode(etcd::base64Encode(bytes));
    ASSERT_TRUE(decoded) << n;
    EXPECT_EQ(*decoded, bytes) << n;
  }
  EXPECT_EQ(etcd::base64Encode("foo"), "Zm9v");
  EXPECT_EQ(etcd::base64Encode("fo"), "Zm8=");
  EXPECT_EQ(etcd::base64Encode("f"), "Zg==");
  EXPECT_FALSE(etcd::base64Decode("Zm9v!"));
  EXPECT_FALSE(etcd::base64Decode("Z"));
}

TEST(EtcdCodecTest, PrefixEnd) {
  EXPECT_EQ(etcd::prefixEnd("/a/"), "/a0");
  EXPECT_EQ(etcd::prefixEnd("a\xff"), "b");
  EXPECT_EQ(etcd::prefixEnd("a\xff\xff"), "b");
  EXPECT_EQ(etcd::prefixEnd("\xff"), std::string(1, '\0'));
  EXPECT_EQ(etcd::prefixEnd(""), std::string(1, '\0'));
}

TEST(EtcdCodecTest, ErrorsMapToKinds) {
  EXPECT_EQ(etcd::errorFromResponse(503, R"({"error":"etcdserver: no leader","code":14})").kind,
            ErrorKind::kUnavailable);
  auto invalid = etcd::errorFromResponse(
      400, R"({"error":"etcdserver: duplicate key given in txn request","code":3})");
  EXPECT_EQ(invalid.kind, ErrorKind::kInvalid);
  EXPECT_EQ(invalid.message, "etcdserver: duplicate key given in txn request");
  auto future = etcd::errorFromResponse(
      400, R"({"error":"etcdserver: mvcc: required revision is a future revision","code":11})");
  EXPECT_EQ(future.kind, ErrorKind::kInternal);
  EXPECT_NE(future.message.find("future revision"), std::string::npos);
  auto compacted = etcd::errorFromResponse(
      400, R"({"error":"etcdserver: mvcc: required revision has been compacted","code":11})");
  EXPECT_EQ(compacted.kind, ErrorKind::kCompacted);
  EXPECT_EQ(etcd::errorFromResponse(500, "not json").kind, ErrorKind::kInternal);
}

TEST(EtcdCodecTest, WatchLines) {
  auto created =
      etcd::parseWatchLine(R"({"result":{"header":{"revision":"4"},"created":true}})", "/p/");
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->headerRevision, 4);

  auto events = etcd::parseWatchLine(
      R"({"result":{"header":{"revision":"6"},"events":[)"
      R"({"kv":{"key":"L3AvYQ==","create_revision":"5","mod_revision":"5","value":"MQ=="}},)"
      R"({"type":"DELETE","kv":{"key":"L3AvYg==","mod_revision":"6"}}]}})",
      "/p/");
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->events.size(), 2u);
  EXPECT_EQ(events->events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events->events[0].kv.key, "a");
  EXPECT_EQ(events->events[0].kv.value, "1");
  EXPECT_EQ(events->events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events->events[1].kv.key, "b");
  EXPECT_EQ(events->events[1].kv.modRevision, 6);

  auto compacted = etcd::parseWatchLine(
      R"({"result":{"header":{},"canceled":true,"compact_revision":"3"}})", "/p/");
  ASSERT_TRUE(compacted);
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compactRevision, 3);

  auto error = etcd::parseWatchLine(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"no leader"}})", "/p/");
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().kind, ErrorKind::kUnavailable);
  EXPECT_FALSE(etcd::parseWatchLine("{", "/p/"));
}

// Found by fuzz/etcd_codec_fuzz.cc: an empty message made an Error that said nothing.
TEST(EtcdCodecTest, AWatchErrorAlwaysSaysSomething) {
  auto error = etcd::parseWatchLine(R"({"error":{"grpc_code":14,"message":""}})", "/p/");
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(error.error().message, "etcd watch error");
  EXPECT_EQ(etcd::errorFromResponse(500, R"({"error":"","message":""})").message,
            R"(etcd answered HTTP 500: {"error":"","message":""})");
}

// Found by fuzz/etcd_codec_fuzz.cc: a revision was taken as it came, int64's maximum
// (the watch then computed revision + 1) and uint64s (cast to negative) included.
TEST(EtcdCodecTest, RevisionsOutsideEtcdsRangeAreErrors) {
  for (const char* bad : {R"("9223372036854775807")", "9223372036854775807",
                          "18446744073709551615", R"("-1")", "-1", "1.5", R"("12abc")",
                          R"("")", "true", "{}"}) {
    const std::string created =
        std::string(R"({"result":{"header":{"revision":)") + bad + R"(},"created":true}})";
    auto watch = etcd::parseWatchLine(created, "/p/");
    ASSERT_FALSE(watch) << bad;
    EXPECT_EQ(watch.error().kind, ErrorKind::kInternal);
    const std::string kvs =
        std::string(R"({"kvs":[{"key":"L3AvYQ==","mod_revision":)") + bad + "}]}";
    auto range = etcd::parseRangeResponse(parseJson(kvs)->as_object(), "/p/");
    ASSERT_FALSE(range) << bad;
    EXPECT_EQ(range.error().kind, ErrorKind::kInternal);
    EXPECT_NE(range.error().message.find("mod_revision"), std::string::npos);
  }
  auto largest = etcd::parseWatchLine(
      R"({"result":{"header":{"revision":9223372036854775806},"compact_revision":"7"}})", "/p/");
  ASSERT_TRUE(largest) << largest.error().message;
  EXPECT_EQ(largest->headerRevision, 9223372036854775806);
  EXPECT_EQ(largest->compactRevision, 7);
}

TEST(EtcdCodecTest, WatchEventsOutOfRevisionOrderAreAnError) {
  auto r = etcd::parseWatchLine(
      R"({"result":{"header":{"revision":"6"},"events":[)"
      R"({"kv":{"key":"L3AvYQ==","mod_revision":"6"}},)"
      R"({"kv":{"key":"L3AvYg==","mod_revision":"5"}}]}})",
      "/p/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInternal);
}

TEST(EtcdCodecTest, RangeAndTxnResponses) {
  auto range = etcd::parseRangeResponse(
      parseJson(R"({"header":{"revision":"12"},"kvs":[{"key":"L3AvYQ==","value":"MQ==",)"
                R"("create_revision":"2","mod_revision":"12"}],"count":"1"})")->as_object(),
      "/p/");
  ASSERT_TRUE(range) << range.error().message;
  EXPECT_EQ(range->revision, 12);
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0].key, "a");
  EXPECT_EQ(range->kvs[0].createRevision, 2);
  auto empty =
      etcd::parseRangeResponse(parseJson(R"({"header":{"revision":"3"}})")->as_object(), "/p/");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->kvs.empty());
  EXPECT_FALSE(*etcd::rangeHasMore(parseJson(R"({"header":{"revision":"3"}})")->as_object()));
  EXPECT_TRUE(*etcd::rangeHasMore(parseJson(R"({"more":true})")->as_object()));
  EXPECT_FALSE(etcd::rangeHasMore(parseJson(R"({"more":"true"})")->as_object()));

  auto txn = etcd::parseTxnResponse(
      parseJson(R"({"header":{"revision":"13"},"succeeded":true})")->as_object());
  ASSERT_TRUE(txn);
  EXPECT_TRUE(txn->succeeded);
  EXPECT_EQ(txn->revision, 13);
  auto failed = etcd::parseTxnResponse(parseJson(R"({"header":{"revision":"13"}})")->as_object());
  ASSERT_TRUE(failed);
  EXPECT_FALSE(failed->succeeded);

  // Missing and mistyped fields are errors, not defaults.
  for (const char* bad :
       {R"({"kvs":{}})", R"({"kvs":[1]})", R"({"header":[]})", R"({"kvs":[{"key":"L3AvYQ=="}]})",
        R"({"kvs":[{"key":7,"mod_revision":"1"}]})",
        R"({"kvs":[{"key":"L3AvYQ=!","mod_revision":"1"}]})"}) {
    EXPECT_FALSE(etcd::parseRangeResponse(parseJson(bad)->as_object(), "/p/")) << bad;
  }
  EXPECT_FALSE(etcd::parseTxnResponse(parseJson(R"({"succeeded":"true"})")->as_object()));
  for (const char* bad :
       {R"({"result":{"created":"true"}})", R"({"result":{"canceled":1}})",
        R"({"result":{"cancel_reason":{}}})", R"({"result":{"events":{}}})",
        R"({"result":{"events":[{"type":"DELET","kv":{"key":"L3AvYQ==","mod_revision":"2"}}]}})",
        R"({"result":{"events":[{"type":2,"kv":{"key":"L3AvYQ==","mod_revision":"2"}}]}})",
        R"({"result":{"events":[{"kv":{"key":"L3AvYQ=="}}]}})"}) {
    auto r = etcd::parseWatchLine(bad, "/p/");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInternal) << bad;
  }
}

// Found by fuzz/etcd_codec_fuzz.cc: an error quoted etcd's bytes as they were, and a
// Config API error body holding them was not valid JSON.
TEST(EtcdCodecTest, ErrorMessagesQuoteOnlyPrintableText) {
  const auto e = etcd::errorFromResponse(502, "\xff\xfe<html>\n\x01");
  EXPECT_EQ(e.message, "etcd answered HTTP 502: \\xff\\xfe<html>\\x0a\\x01");
  EXPECT_TRUE(parseJson(errorBody(e.message)));
  const auto line = etcd::parseWatchLine("\xc3(", "/p/");
  ASSERT_FALSE(line);
  EXPECT_NE(line.error().message.find("\\xc3("), std::string::npos);
  // A key outside the prefix: "/q/\xff" in base64.
  const auto outside = etcd::parseRangeResponse(
      parseJson(R"({"kvs":[{"key":"L3Ev/w=="}]})")->as_object(), "/p/");
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message.find("/q/\\xff"), std::string::npos);
  EXPECT_TRUE(parseJson(errorBody(outside.error().message)));
}

// ---- options ---------------------------------------------------------------------------

TEST(EtcdStoreOpenTest, RejectsBadOptions) {
  auto bad = [](EtcdStoreOptions o) {
    auto r = EtcdStore::open(std::move(o));
    return !r && r.error().kind == ErrorKind::kInvalid;
  };
  EtcdStoreOptions none;
  none.endpoints.clear();
  EXPECT_TRUE(bad(none));
  EtcdStoreOptions scheme;
  scheme.endpoints = {"ftp://127.0.0.1:2379"};
  EXPECT_TRUE(bad(scheme));
  EtcdStoreOptions mixed;
  mixed.endpoints = {"http://127.0.0.1:2379", "https://127.0.0.1:2380"};
  EXPECT_TRUE(bad(mixed));
  EtcdStoreOptions path;
  path.endpoints = {"http://127.0.0.1:2379/v3"};
  EXPECT_TRUE(bad(path));
  EtcdStoreOptions certOnly;
  certOnly.certFile = "/nonexistent.pem";
  EXPECT_TRUE(bad(certOnly));
  EtcdStoreOptions missingCa;
  missingCa.caFile = "/nonexistent/ca.pem";
  EXPECT_TRUE(bad(missingCa));

  EtcdStoreOptions good;
  good.endpoints = {"127.0.0.1:1", "http://localhost:2"};
  auto r = EtcdStore::open(good);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->name(), "etcd");
  EXPECT_EQ((*r)->currentEndpoint(), "http://127.0.0.1:1");
}

// ---- unreachable -----------------------------------------------------------------------

TEST(EtcdStoreTest, UnreachableIsUnavailableWithinTheTimeout) {
  EtcdStoreOptions options;
  options.endpoints = {"127.0.0.1:" + std::to_string(testing::freePort()),
                       "127.0.0.1:" + std::to_string(testing::freePort())};
  options.requestTimeout = 500ms;
  auto store = openOrDie(options);
  EXPECT_TRUE(store->healthy());

  WatchRecorder recorder;
  auto watch = store->watch("w/", 0, recorder.handler());

  const auto start = std::chrono::steady_clock::now();
  auto r = runAwait(store->put("k", "v"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, options.requestTimeout + 500ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(r.error().message.find("127.0.0.1"), std::string::npos) << r.error().message;
  EXPECT_FALSE(store->healthy());
  auto g = runAwait(store->get("k"));
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().kind, ErrorKind::kUnavailable);

  // One report for the whole outage, however many reconnection attempts fail.
  ASSERT_TRUE(recorder.waitForErrors(1));
  std::this_thread::sleep_for(400ms);  // several backoff rounds; nothing to poll for
  ASSERT_EQ(recorder.errors().size(), 1u);
  EXPECT_EQ(recorder.errors()[0].kind, ErrorKind::kUnavailable);
  watch.reset();
  recorder.close();
}

// ---- single member ---------------------------------------------------------------------

TEST(EtcdStoreTest, PrefixesIsolateStores) {
  const std::string base =
      "/iso-" + std::to_string(getpid()) + "-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  auto a = openOrDie(sharedOptions(base + "/a/"));
  auto b = openOrDie(sharedOptions(base + "/b/"));
  auto raw = openOrDie(sharedOptions(""));

  WatchRecorder watchA;
  int64_t start = runAwait(a->list(""))->revision;
  auto wa = a->watch("", start + 1, watchA.handler());

  putOrDie(*a, "k", "from a");
  putOrDie(*b, "k", "from b");
  putOrDie(*b, "only-b", "b");
  int64_t last = putOrDie(*a, "z", "a");

  auto ga = runAwait(a->get("k"));
  ASSERT_TRUE(ga && ga->has_value());
  EXPECT_EQ((*ga)->key, "k");
  EXPECT_EQ((*ga)->value, "from a");
  EXPECT_FALSE(runAwait(a->get("only-b"))->has_value());

  auto la = runAwait(a->list(""));
  ASSERT_TRUE(la);
  ASSERT_EQ(la->kvs.size(), 2u);
  EXPECT_EQ(la->kvs[0].key, "k");
  EXPECT_EQ(la->kvs[1].key, "z");
  EXPECT_EQ(runAwait(b->list(""))->kvs.size(), 2u);

  // Underneath, the keys carry the prefixes.
  auto all = runAwait(raw->list(base + "/"));
  ASSERT_TRUE(all);
  std::vector<std::string> keys;
  for (const auto& kv : all->kvs) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{base + "/a/k", base + "/a/z", base + "/b/k",
                                            base + "/b/only-b"}));

  ASSERT_TRUE(watchA.waitForEvents(2));
  auto events = watchA.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv.key, "k");
  EXPECT_EQ(events[1].kv.key, "z");
  EXPECT_EQ(events[1].kv.modRevision, last);

  auto removed = runAwait(b->remove("z"));
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().kind, ErrorKind::kNotFound);
}

std::string uniquePrefix(std::string_view what) {
  return "/" + std::string(what) + "-" + std::to_string(getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "/";
}

// Puts `count` keys "<name>NNNN" = "v" in transactions of 100.
void putMany(Store& store, const std::string& name, int count) {
  for (int first = 0; first < count; first += 100) {
    std::vector<Op> ops;
    for (int i = first; i < std::min(count, first + 100); ++i) {
      char key[16];
      std::snprintf(key, sizeof key, "%04d", i);
      ops.push_back(Op{Op::Type::kPut, name + key, "v"});
    }
    auto r = runAwait(store.txn({}, std::move(ops)));
    if (!r) throw std::runtime_error("txn failed: " + r.error().message);
  }
}

TEST(EtcdStoreTest, ListReadsInPagesOfAtMostThePageSize) {
  const std::string prefix = uniquePrefix("pages");
  auto writer = openOrDie(sharedOptions(prefix));
  putMany(*writer, "k", 40);
  const int64_t revision = putOrDie(*writer, "z", "last");

  auto options = sharedOptions(prefix);
  options.listPageKeys = 3;
  auto store = openOrDie(options);
  auto r = runAwait(store->list(""));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->revision, revision);
  ASSERT_EQ(r->kvs.size(), 41u);
  for (size_t i = 0; i + 1 < r->kvs.size(); ++i) EXPECT_LT(r->kvs[i].key, r->kvs[i + 1].key);
  EXPECT_EQ(r->kvs.front().key, "k0000");
  EXPECT_EQ(r->kvs.back().value, "last");
  EXPECT_EQ(store->rangeRequests(), 14u);  // 13 pages of 3, then 2 keys

  // A prefix's list pages within the prefix only.
  auto some = runAwait(store->list("k003"));
  ASSERT_TRUE(some);
  ASSERT_EQ(some->kvs.size(), 10u);
  EXPECT_EQ(some->kvs.front().key, "k0030");
  EXPECT_EQ(some->kvs.back().key, "k0039");
  EXPECT_TRUE(runAwait(store->list("nothing"))->kvs.empty());
}

TEST(EtcdStoreTest, ListPagesShrinkToTheByteBudget) {
  const std::string prefix = uniquePrefix("bytes");
  auto writer = openOrDie(sharedOptions(prefix));
  putMany(*writer, "k", 40);
  auto options = sharedOptions(prefix);
  options.listPageBytes = 1;  // every key is over it
  auto store = openOrDie(options);
  auto r = runAwait(store->list(""));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->kvs.size(), 40u);
  EXPECT_EQ(store->rangeRequests(), 25u);  // a first page of 16, then one key a page
}

// Keys move from the start of the range to its end and back, each move one transaction,
// while lists read one key a page: a list that did not read every page at one revision
// would see a moved key twice or not at all.
TEST(EtcdStoreTest, AListIsOneConsistentViewWhileKeysChange) {
  const std::string prefix = uniquePrefix("consistent");
  auto writer = openOrDie(sharedOptions(prefix));
  constexpr int kKeys = 30;
  putMany(*writer, "a", kKeys);
  std::atomic<bool> done{false};
  std::atomic<int> moves{0};
  std::thread mover([&] {
    for (int round = 0; !done.load(); ++round) {
      for (int i = 0; i < kKeys && !done.load(); ++i) {
        char n[16];
        std::snprintf(n, sizeof n, "%04d", i);
        const bool forth = round % 2 == 0;
        auto r = runAwait(writer->txn(
            {}, {Op{Op::Type::kDelete, (forth ? "a" : "z") + std::string(n), {}},
                 Op{Op::Type::kPut, (forth ? "z" : "a") + std::string(n), "v"}}));
        if (!r) return;
        moves.fetch_add(1);
      }
    }
  });
  auto options = sharedOptions(prefix);
  options.listPageKeys = 1;
  auto reader = openOrDie(options);
  int lists = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((lists < 10 || moves.load() < 20) && std::chrono::steady_clock::now() < deadline) {
    auto r = runAwait(reader->list(""));
    ASSERT_TRUE(r) << r.error().message;
    std::set<std::string> numbers;
    for (const auto& kv : r->kvs) numbers.insert(kv.key.substr(1));
    EXPECT_EQ(r->kvs.size(), static_cast<size_t>(kKeys)) << "at revision " << r->revision;
    EXPECT_EQ(numbers.size(), static_cast<size_t>(kKeys)) << "at revision " << r->revision;
    ++lists;
  }
  done.store(true);
  mover.join();
  EXPECT_GE(moves.load(), 20);
}

// A compaction between two pages takes the list's revision away: it reads again.
TEST(EtcdStoreTest, AListCompactedUnderItReadsAgain) {
  const std::string prefix = uniquePrefix("relist");
  auto writer = openOrDie(sharedOptions(prefix));
  constexpr int kKeys = 200;
  putMany(*writer, "k", kKeys);
  auto options = sharedOptions(prefix);
  options.listPageKeys = 1;
  bool readAgain = false;
  for (int attempt = 0; attempt < 5 && !readAgain; ++attempt) {
    auto reader = openOrDie(options);
    // Compacts once the list is a few pages in (a list takes ~kKeys round trips).
    std::thread compactor([&] {
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (reader->rangeRequests() < 3 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
      const int64_t revision = putOrDie(*writer, "~compact", "x");
      auto compacted = runAwait(writer->compact(revision));
      if (!compacted) ADD_FAILURE() << compacted.error().message;
    });
    auto r = runAwait(reader->list("k"));
    compactor.join();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->kvs.size(), static_cast<size_t>(kKeys));
    readAgain = reader->rangeRequests() > static_cast<uint64_t>(kKeys);
  }
  EXPECT_TRUE(readAgain) << "no compaction landed while a list was paging";
}

TEST(EtcdStoreTest, DuplicateKeysInATxnAreInvalid) {
  auto store = openOrDie(sharedOptions("/dup/"));
  auto r = runAwait(store->txn({}, {Op{Op::Type::kPut, "k", "1"}, Op{Op::Type::kDelete, "k", {}}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(r.error().message.find("duplicate key"), std::string::npos);
  EXPECT_TRUE(store->healthy());  // etcd answered: it is reachable
  auto empty = runAwait(store->put("", "v"));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind, ErrorKind::kInvalid);
}

TEST(EtcdStoreTest, WatchFromZeroStartsAfterTheCurrentRevision) {
  auto store = openOrDie(sharedOptions("/zero-" + std::to_string(getpid()) + "/"));
  putOrDie(*store, "before", "1");
  WatchRecorder recorder;
  auto watch = store->watch("", 0, recorder.handler());
  // The watch is registered once it sees its own stream created; until then a write
  // may or may not precede it, so write until one is seen, then check order and content.
  int64_t seen = 0;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (recorder.events().empty() && std::chrono::steady_clock::now() < deadline) {
    seen = putOrDie(*store, "after", "2");
    recorder.waitForEvents(1, 100ms);
  }
  ASSERT_FALSE(recorder.events().empty());
  for (const auto& e : recorder.events()) EXPECT_EQ(e.kv.key, "after");
  EXPECT_LE(recorder.events().back().kv.modRevision, seen);
}

TEST(EtcdStoreTest, IdleStreamIsReplacedQuietly) {
  auto options = sharedOptions("/idle-" + std::to_string(getpid()) + "/");
  options.watchIdleTimeout = 200ms;
  auto store = openOrDie(options);
  int64_t start = runAwait(store->list(""))->revision;
  WatchRecorder recorder;
  auto watch = store->watch("", start + 1, recorder.handler());
  std::this_thread::sleep_for(700ms);  // several idle periods pass; nothing to poll for
  int64_t r = putOrDie(*store, "k", "v");
  ASSERT_TRUE(recorder.waitForEvents(1));
  EXPECT_EQ(recorder.events()[0].kv.modRevision, r);
  EXPECT_TRUE(recorder.errors().empty());
  EXPECT_TRUE(store->healthy());
}

TEST(EtcdStoreTest, CompactionEndsAWatchThatCannotResume) {
  auto writer = openOrDie(sharedOptions("/compact-" + std::to_string(getpid()) + "/"));
  int64_t r1 = putOrDie(*writer, "a", "1");
  putOrDie(*writer, "b", "2");
  int64_t r3 = putOrDie(*writer, "c", "3");
  ASSERT_TRUE(runAwait(writer->compact(r3)));

  WatchRecorder recorder;
  auto watch = writer->watch("", r1, recorder.handler());
  ASSERT_TRUE(recorder.waitForErrors(1));
  EXPECT_EQ(recorder.errors()[0].kind, ErrorKind::kCompacted);
  EXPECT_NE(recorder.errors()[0].message.find(std::to_string(r1)), std::string::npos);
  putOrDie(*writer, "d", "4");
  auto after = runAwait(writer->compact(r3 + 1000000));  // the future: etcd refuses
  ASSERT_FALSE(after);
  EXPECT_NE(after.error().message.find("future"), std::string::npos);
  EXPECT_EQ(recorder.calls(), 1u);
}

// ---- three members ---------------------------------------------------------------------

class EtcdClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::etcdInstalled()) << "apt-get install -y etcd-server";
    cluster_ = std::make_unique<EtcdCluster>(3);
    leader_ = cluster_->leader();
    ASSERT_GE(leader_, 0);
    follower_ = (leader_ + 1) % 3;
  }

  // Endpoints with `first` in front.
  EtcdStoreOptions optionsStartingAt(int first) {
    EtcdStoreOptions options;
    options.endpoints.push_back(cluster_->endpoint(first));
    for (int i = 0; i < 3; ++i) {
      if (i != first) options.endpoints.push_back(cluster_->endpoint(i));
    }
    options.keyPrefix = "/cluster/";
    return options;
  }

  // Retries a write until it succeeds; every attempt must end within the request timeout.
  int64_t putEventually(EtcdStore& store, const std::string& key, const std::string& value,
                        std::chrono::milliseconds limit = 20'000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto start = std::chrono::steady_clock::now();
      auto r = runAwait(store.put(key, value));
      EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
      if (r) return *r;
      EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable) << r.error().message;
      last = r.error().message;
      std::this_thread::sleep_for(50ms);
    }
    throw std::runtime_error("write did not succeed in time: " + last);
  }

  std::unique_ptr<EtcdCluster> cluster_;
  int leader_ = -1;
  int follower_ = -1;
};

TEST_F(EtcdClusterTest, FailsOverWhenAMemberStops) {
  auto store = openOrDie(optionsStartingAt(follower_));
  putOrDie(*store, "k", "1");
  EXPECT_EQ(store->currentEndpoint(), "http://" + cluster_->endpoint(follower_));

  cluster_->stop(follower_);
  // Its pooled connection dies with it; the next endpoint takes the very first attempt.
  const auto start = std::chrono::steady_clock::now();
  auto r = runAwait(store->put("k", "2"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_NE(store->currentEndpoint(), "http://" + cluster_->endpoint(follower_));
  EXPECT_TRUE(store->healthy());
  auto got = runAwait(store->get("k"));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->value, "2");
  EXPECT_EQ((*got)->modRevision, *r);
}

TEST_F(EtcdClusterTest, WatchResumesWithoutLossOrDuplicateWhenItsMemberStops) {
  auto watcher = openOrDie(optionsStartingAt(follower_));
  auto writerOptions = optionsStartingAt(leader_);
  writerOptions.endpoints.erase(std::find(writerOptions.endpoints.begin(),
                                          writerOptions.endpoints.end(),
                                          cluster_->endpoint(follower_)));
  auto writer = openOrDie(writerOptions);

  int64_t start = runAwait(watcher->list("w/"))->revision;
  WatchRecorder recorder;
  auto watch = watcher->watch("w/", start + 1, recorder.handler());

  std::vector<int64_t> written;
  for (int i = 0; i < 20; ++i) written.push_back(putOrDie(*writer, "w/" + std::to_string(i), "v"));
  ASSERT_TRUE(recorder.waitForEvents(20));

  // Writes go on while the stream's member is gone and while the watch reconnects.
  std::atomic<bool> stopped{false};
  std::thread killer([&] {
    cluster_->stop(follower_);
    stopped = true;
  });
  for (int i = 20; i < 60; ++i) written.push_back(putOrDie(*writer, "w/" + std::to_string(i), "v"));
  killer.join();
  for (int i = 60; i < 80; ++i) written.push_back(putOrDie(*writer, "w/" + std::to_string(i), "v"));
  ASSERT_TRUE(recorder.waitForEvents(80));

  auto events = recorder.events();
  ASSERT_EQ(events.size(), 80u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].kv.modRevision, written[i]) << i;
    EXPECT_EQ(events[i].kv.key, "w/" + std::to_string(i));
  }
  ASSERT_EQ(recorder.errors().size(), 1u);
  EXPECT_EQ(recorder.errors()[0].kind, ErrorKind::kUnavailable);
  EXPECT_NE(watcher->currentEndpoint(), "http://" + cluster_->endpoint(follower_));
}

TEST_F(EtcdClusterTest, WritesResumeAfterTheLeaderStops) {
  auto store = openOrDie(optionsStartingAt(leader_));
  int64_t before = putOrDie(*store, "k", "1");
  cluster_->stop(leader_);
  int64_t after = putEventually(*store, "k", "2");
  EXPECT_GT(after, before);
  EXPECT_TRUE(store->healthy());
  EXPECT_NE(store->currentEndpoint(), "http://" + cluster_->endpoint(leader_));
  ASSERT_TRUE(cluster_->waitHealthy());
  EXPECT_NE(cluster_->leader(), leader_);
}

TEST_F(EtcdClusterTest, AllMembersStoppedIsUnavailableThenRecovers) {
  auto options = optionsStartingAt(leader_);
  auto store = openOrDie(options);
  int64_t start = runAwait(store->list("r/"))->revision;
  WatchRecorder recorder;
  auto watch = store->watch("r/", start + 1, recorder.handler());
  int64_t first = putOrDie(*store, "r/before", "1");
  ASSERT_TRUE(recorder.waitForEvents(1));

  // The member serving the stream goes last: otherwise the watch could move to a member
  // still alive for a moment, and that second loss would be a second outage.
  for (int i = 0; i < 3; ++i) {
    if (i != leader_) cluster_->stop(i);
  }
  cluster_->stop(leader_);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = runAwait(store->put("r/down", "x"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, options.requestTimeout + 500ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
  EXPECT_FALSE(store->healthy());
  auto l = runAwait(store->list("r/"));
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().kind, ErrorKind::kUnavailable);
  ASSERT_TRUE(recorder.waitForErrors(1));

  for (int i = 0; i < 3; ++i) cluster_->start(i);
  int64_t second = putEventually(*store, "r/after", "2");
  EXPECT_TRUE(store->healthy());
  ASSERT_TRUE(recorder.waitForEvents(2, 15s));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv.modRevision, first);
  EXPECT_EQ(events[1].kv.modRevision, second);
  EXPECT_EQ(events[1].kv.key, "r/after");
  // One outage, one report.
  EXPECT_EQ(recorder.errors().size(), 1u) << [&] {
    std::string all;
    for (const auto& e : recorder.errors()) all += e.message + "\n";
    return all;
  }();
  auto got = runAwait(store->get("r/before"));
  ASSERT_TRUE(got && got->has_value());
}

// ---- TLS -------------------------------------------------------------------------------

class TlsFiles {
 public:
  TlsFiles() {
    std::string pattern = "/tmp/eg-etcd-tls-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    std::ofstream(dir_ + "/server.ext") << "subjectAltName=IP:127.0.0.1\n"
                                           "extendedKeyUsage=serverAuth,clientAuth\n";
    std::ofstream(dir_ + "/client.ext") << "extendedKeyUsage=clientAuth\n";
    const std::string d = dir_;
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::string script =
        "cd " + d + " && (openssl req -x509" + key +
        " -keyout ca.key -out ca.crt -days 2 -subj /CN=eg-test-ca"
        " && openssl req" +
        key +
        " -keyout server.key -out server.csr -subj /CN=127.0.0.1"
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
        " -out server.crt -days 2 -extfile server.ext"
        " && openssl req" +
        key +
        " -keyout client.key -out client.csr -subj /CN=eg-client"
        " && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
        " -out client.crt -days 2 -extfile client.ext"
        " && openssl req -x509" +
        key +
        " -keyout other.key -out other.crt -days 2 -subj /CN=other-ca"
        ") > openssl.log 2>&1";
    ok_ = std::system(script.c_str()) == 0;
  }
  ~TlsFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
  bool ok_ = false;
};

TEST(EtcdTlsTest, ClientCertificatesAndPrivateCa) {
  TlsFiles files;
  ASSERT_TRUE(files.ok()) << "openssl failed";
  EtcdCluster cluster(1, testing::EtcdTlsFiles{files.path("server.crt"), files.path("server.key"),
                                               files.path("ca.crt")});
  EtcdStoreOptions options;
  options.endpoints = cluster.endpoints();
  options.keyPrefix = "/tls/";
  options.caFile = files.path("ca.crt");
  options.certFile = files.path("client.crt");
  options.keyFile = files.path("client.key");
  auto store = openOrDie(options);
  EXPECT_EQ(store->currentEndpoint(), "https://" + cluster.endpoint(0));

  // The member takes a moment to listen: poll the first write.
  Result<int64_t> first = Error::unavailable("not tried");
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    first = runAwait(store->put("k", "1"));
    if (first) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(first) << first.error().message;

  WatchRecorder recorder;
  auto watch = store->watch("", *first, recorder.handler());
  auto created = runAwait(store->create("n", "v"));
  ASSERT_TRUE(created) << created.error().message;
  auto dup = runAwait(store->create("n", "v"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind, ErrorKind::kAlreadyExists);
  ASSERT_TRUE(recorder.waitForEvents(2));
  EXPECT_EQ(recorder.events()[1].kv.key, "n");
  auto got = runAwait(store->get("k"));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->value, "1");

  // Without a client certificate etcd refuses the handshake.
  auto noCert = options;
  noCert.certFile.clear();
  noCert.keyFile.clear();
  noCert.requestTimeout = 1s;
  auto refused = runAwait(openOrDie(noCert)->get("k"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);

  // A server certificate from another CA is not trusted.
  auto otherCa = options;
  otherCa.caFile = files.path("other.crt");
  otherCa.requestTimeout = 1s;
  auto untrusted = runAwait(openOrDie(otherCa)->get("k"));
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace eg::store
