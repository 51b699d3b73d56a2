#include "routing/routing_table.h"

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "metrics/metrics.h"
#include "model/keys.h"
#include "observe/function_metrics.h"
#include "providers/weighted/weighted_provider.h"
#include "routing/snapshot_impl.h"
#include "test_helpers.h"

namespace eg::routing {
namespace {

using model::ResourceKind;
using model::SubscriptionType;

// A small world in which random changes often collide: few spaces (one a prefix of
// another, so store key order differs from tuple order), few functions, overlapping
// path patterns, shared event types.
const std::vector<std::string> kSpaces{"s", "s-x", "t"};
const std::vector<std::string> kFunctions{"f1", "f2", "f3", "w"};
const std::vector<std::string> kPatterns{"/",      "/a",     "/a/",    "/a/b",     "/a/:x",
                                         "/a/:y",  "/a/:x/c", "/a/*rest", "/:p",    "/b/:q/:r",
                                         "//",     "/*all",  "bad"};
const std::vector<std::string> kPaths{"/",     "/a",     "/a/",    "/a/b",  "/a/z",  "/a/z/c",
                                      "/a/b/c", "/x",    "//",     "/b/1/2", "/a//c", "/q/r/s"};
const std::vector<std::string> kMethods{"GET", "POST"};
const std::vector<std::string> kEventTypes{"http.request", "e1", "e2"};

class World {
 public:
  explicit World(unsigned seed) : rng_(seed) {
    registry_.add("fake", std::make_unique<testing::FakeFactory>(created_));
  }

  // One random change, applied to the table and to the reference contents.
  void step() {
    const std::string& space = pick(kSpaces);
    switch (rng_() % 10) {
      case 0:
      case 1:
        putFunction(space, pick(kFunctions));
        break;
      case 2:
        remove(ResourceKind::kFunction, space, pick(kFunctions));
        break;
      case 3:
      case 4:
      case 5:
        putSubscription(space);
        break;
      case 6:
        remove(ResourceKind::kSubscription, space, "sub" + std::to_string(rng_() % 12));
        break;
      case 7: {
        model::EventType e = testing::eventType(space, pick(kEventTypes));
        eventTypes_[model::resourceKey(ResourceKind::kEventType, space, e.name)] = e;
        table_.putEventType(e);
        if (rng_() % 3 == 0) remove(ResourceKind::kEventType, space, pick(kEventTypes));
        break;
      }
      case 8: {
        model::Cors c = testing::cors(space, pick(kMethods), pick(kPatterns), "o" + space);
        c.corsId = "c" + std::to_string(rng_() % 4);
        cors_[model::resourceKey(ResourceKind::kCors, space, c.corsId)] = c;
        table_.putCors(c);
        break;
      }
      case 9:
        remove(ResourceKind::kCors, space, "c" + std::to_string(rng_() % 4));
        break;
    }
  }

  std::shared_ptr<const Snapshot> incremental() const { return table_.snapshot(0); }

  std::shared_ptr<const Snapshot> rebuilt() const {
    SnapshotContents contents;
    for (const auto& [k, f] : functions_) {
      FunctionEntry entry;
      entry.function = f;
      entry.invoker = makeInvoker(f, registry_);
      contents.functions.push_back(std::move(entry));
    }
    for (const auto& [k, e] : eventTypes_) contents.eventTypes.push_back(e);
    for (const auto& [k, s] : subscriptions_) contents.subscriptions.push_back(s);
    for (const auto& [k, c] : cors_) contents.cors.push_back(c);
    return buildSnapshot(std::move(contents));
  }

  std::mt19937& rng() { return rng_; }

 private:
  const std::string& pick(const std::vector<std::string>& from) { return from[rng_() % from.size()]; }

  void putFunction(const std::string& space, const std::string& id) {
    model::Function f;
    if (id == "w") {
      f = testing::function(space, id, std::string(providers::kWeightedType));
      f.provider = boost::json::object{};
      boost::json::array targets;
      for (const std::string target : {"f1", "f2", "f3", "w"}) {
        if (rng_() % 2 == 0) continue;
        targets.push_back(boost::json::object{{"functionId", target}, {"weight", rng_() % 3}});
      }
      f.provider["functions"] = std::move(targets);
    } else {
      f = testing::function(space, id, rng_() % 8 == 0 ? "unknown" : "fake");
      f.provider["url"] = "http://127.0.0.1:" + std::to_string(rng_() % 100) + "/";
    }
    functions_[model::resourceKey(ResourceKind::kFunction, space, id)] = f;
    table_.putFunction(f, ++revision_);
  }

  void putSubscription(const std::string& space) {
    const auto type = static_cast<SubscriptionType>(rng_() % 3);
    model::Subscription s = testing::subscription(space, "sub" + std::to_string(rng_() % 12), type,
                                                  pick(kEventTypes), pick(kFunctions),
                                                  pick(kMethods), pick(kPatterns));
    if (type == SubscriptionType::kSync && rng_() % 3 == 0) {
      s.cors = model::CorsRules{};
      s.cors->origins = {s.subscriptionId};
    }
    if (rng_() % 4 == 0) {
      // Valid filters, or (rarely) ones in a dialect that does not exist.
      s.filters = rng_() % 5 == 0
                      ? boost::json::array{boost::json::object{{"regex", boost::json::object{}}}}
                      : boost::json::array{boost::json::object{
                            {"exact", boost::json::object{{"type", pick(kEventTypes)}}}}};
    }
    subscriptions_[model::resourceKey(ResourceKind::kSubscription, space, s.subscriptionId)] = s;
    table_.putSubscription(s);
  }

  void remove(ResourceKind kind, const std::string& space, const std::string& id) {
    const std::string key = model::resourceKey(kind, space, id);
    switch (kind) {
      case ResourceKind::kFunction:
        functions_.erase(key);
        table_.removeFunction(space, id);
        break;
      case ResourceKind::kEventType:
        eventTypes_.erase(key);
        table_.removeEventType(space, id);
        break;
      case ResourceKind::kSubscription:
        subscriptions_.erase(key);
        table_.removeSubscription(space, id);
        break;
      case ResourceKind::kCors:
        cors_.erase(key);
        table_.removeCors(space, id);
        break;
    }
  }

  std::mt19937 rng_;
  providers::ProviderRegistry registry_;
  std::shared_ptr<std::atomic<int>> created_ = std::make_shared<std::atomic<int>>(0);
  RoutingTable table_{registry_};
  int64_t revision_ = 0;
  // The reference contents, by store key (the order a full build reads them in).
  std::map<std::string, model::Function> functions_;
  std::map<std::string, model::EventType> eventTypes_;
  std::map<std::string, model::Subscription> subscriptions_;
  std::map<std::string, model::Cors> cors_;
};

std::string who(const Route* r) {
  if (r == nullptr) return "-";
  return r->subscription->space + "/" + r->subscription->subscriptionId + "->" +
         r->function->function.functionId + (r->filter ? "+filter" : "");
}

std::string targets(const FunctionEntry* f) {
  if (f == nullptr) return "-";
  std::string out = f->function.functionId + (f->invoker ? "+invoker" : "");
  if (f->weighted) {
    out += " [";
    for (const auto& t : f->weighted->targets) {
      out += t.function->function.functionId + "@" + std::to_string(t.upTo) + " ";
    }
    out += "]";
  }
  return out;
}

std::string rules(const model::CorsRules* r) { return r == nullptr ? "-" : r->origins.front(); }

// Every question routing asks, answered by both snapshots.
void expectSameAnswers(const Snapshot& want, const Snapshot& got, int step) {
  for (const auto& method : kMethods) {
    for (const auto& path : kPaths) {
      EXPECT_EQ(rules(want.cors(method, path)), rules(got.cors(method, path)))
          << "step " << step << " cors " << method << " " << path;
      for (const auto& type : kEventTypes) {
        auto w = want.findSync(method, path, type);
        auto g = got.findSync(method, path, type);
        ASSERT_EQ(w.has_value(), g.has_value())
            << "step " << step << " sync " << method << " " << path << " " << type << ": "
            << (w ? who(&w->route) : who(g ? &g->route : nullptr));
        if (w) {
          EXPECT_EQ(who(&w->route), who(&g->route)) << "step " << step << " " << path;
          EXPECT_EQ(w->params, g->params) << "step " << step << " " << path;
        }
      }
    }
    for (const auto& pattern : kPatterns) {
      for (const auto& type : kEventTypes) {
        auto w = want.findAsync(method, pattern, type);
        auto g = got.findAsync(method, pattern, type);
        std::string ws, gs;
        for (const auto& r : w) ws += who(&r) + " ";
        for (const auto& r : g) gs += who(&r) + " ";
        EXPECT_EQ(ws, gs) << "step " << step << " async " << method << " " << pattern;
      }
    }
  }
  for (const auto& space : kSpaces) {
    for (int i = 0; i < 12; ++i) {
      const std::string id = "sub" + std::to_string(i);
      EXPECT_EQ(who(want.findSubscription(space, id)), who(got.findSubscription(space, id)))
          << "step " << step << " subscription " << space << "/" << id;
    }
    for (const auto& fn : kFunctions) {
      EXPECT_EQ(targets(want.function(space, fn)), targets(got.function(space, fn)))
          << "step " << step << " function " << space << "/" << fn;
      for (const auto& pattern : kPatterns) {
        EXPECT_EQ(who(want.findInvoke(space, fn, pattern)), who(got.findInvoke(space, fn, pattern)))
            << "step " << step << " invoke " << space << "/" << fn << " " << pattern;
      }
    }
    for (const auto& type : kEventTypes) {
      EXPECT_EQ(want.eventType(space, type) != nullptr, got.eventType(space, type) != nullptr)
          << "step " << step << " event type " << space << "/" << type;
    }
  }
  const auto wc = want.counts();
  const auto gc = got.counts();
  ASSERT_EQ(wc.size(), gc.size()) << "step " << step;
  for (const auto& [space, c] : wc) {
    ASSERT_EQ(gc.count(space), 1u) << "step " << step << " " << space;
    const auto& d = gc.at(space);
    EXPECT_EQ(std::tie(c.functions, c.eventTypes, c.subscriptions),
              std::tie(d.functions, d.eventTypes, d.subscriptions))
        << "step " << step << " " << space;
  }
}

// The incremental table gives, after every change of a random sequence, the answers a
// full rebuild from the same resources gives.
TEST(RoutingTableTest, AnswersAsAFullRebuildAfterEveryChange) {
  spdlog::set_level(spdlog::level::off);
  for (unsigned seed : {1u, 2u, 3u, 4u}) {
    World world(seed);
    for (int step = 0; step < 1500; ++step) {
      world.step();
      expectSameAnswers(*world.rebuilt(), *world.incremental(), step);
      if (::testing::Test::HasFailure()) {
        spdlog::set_level(spdlog::level::info);
        FAIL() << "seed " << seed;
      }
    }
  }
  spdlog::set_level(spdlog::level::info);
}

// A snapshot taken before changes keeps answering as it did.
TEST(RoutingTableTest, SnapshotsDoNotSeeLaterChanges) {
  spdlog::set_level(spdlog::level::off);
  World world(9);
  for (int i = 0; i < 300; ++i) world.step();
  auto kept = world.incremental();
  auto reference = world.rebuilt();
  for (int i = 0; i < 300; ++i) world.step();
  expectSameAnswers(*reference, *kept, -1);
  spdlog::set_level(spdlog::level::info);
}

// Readers route on published snapshots while a writer changes the table and publishes
// after each change (under TSan in scripts/test.sh): no data race, and every answer is
// a consistent one.
TEST(RoutingTableTest, ReadersRouteWhileAWriterChurns) {
  spdlog::set_level(spdlog::level::off);
  World world(21);
  std::mutex mu;
  std::shared_ptr<const Snapshot> published = world.incremental();
  std::atomic<bool> done{false};
  std::atomic<long> answers{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      while (!done.load(std::memory_order_relaxed)) {
        std::shared_ptr<const Snapshot> snap;
        {
          std::lock_guard lock(mu);
          snap = published;
        }
        for (int i = 0; i < 50; ++i) {
          const auto& path = kPaths[rng() % kPaths.size()];
          const auto& type = kEventTypes[rng() % kEventTypes.size()];
          if (auto m = snap->findSync("GET", path, type)) {
            // A route found is whole: its function is the one it names.
            ASSERT_EQ(m->route.function->function.functionId, m->route.subscription->functionId);
            ASSERT_EQ(m->route.subscription->eventType, type);
            answers.fetch_add(1, std::memory_order_relaxed);
          }
          for (const auto& r : snap->findAsync("POST", kPatterns[rng() % kPatterns.size()], type)) {
            ASSERT_EQ(r.function->function.space, r.subscription->space);
            answers.fetch_add(1, std::memory_order_relaxed);
          }
        }
      }
    });
  }
  for (int step = 0; step < 3000; ++step) {
    world.step();
    auto next = world.incremental();
    std::lock_guard lock(mu);
    published = std::move(next);
  }
  done = true;
  for (auto& r : readers) r.join();
  expectSameAnswers(*world.rebuilt(), *world.incremental(), -1);
  EXPECT_GT(answers.load(), 0);
  spdlog::set_level(spdlog::level::info);
}

// A function's series (observe::FunctionStats) go over to the entry that replaces it,
// on a PUT and when everything is read again, and go with its last entry once deleted.
TEST(RoutingTableTest, AChangedFunctionCountsOnInTheSameSeries) {
  metrics::Registry registry;
  observe::FunctionMetrics counts(registry);
  providers::ProviderRegistry providers;
  providers.add("fake", std::make_unique<testing::FakeFactory>(std::make_shared<std::atomic<int>>(0)));
  const auto record = [&](const Snapshot& snapshot) {
    const FunctionEntry* entry = snapshot.function("s", "f");
    ASSERT_NE(entry, nullptr);
    entry->stats.record(counts, "s", "f", observe::Outcome::kDelivered, std::chrono::milliseconds(1));
  };
  const auto delivered = [&] {
    const std::string text = registry.render();
    const std::string prefix =
        "eventgateway_function_calls_total{space=\"s\",function=\"f\",outcome=\"delivered\"} ";
    const auto at = text.find(prefix);
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + prefix.size()));
  };

  RoutingTable table(providers);
  table.putFunction(testing::function("s", "f"), 1);
  record(*table.snapshot(1));
  table.putFunction(testing::function("s", "f"), 2);  // a PUT: a new entry
  record(*table.snapshot(2));
  EXPECT_EQ(delivered(), 2);

  RoutingTable relisted(providers);  // everything read again after a compaction
  relisted.putFunction(testing::function("s", "f"), 2, &table);
  table.removeFunction("s", "f");
  record(*relisted.snapshot(3));
  EXPECT_EQ(delivered(), 3);

  relisted.removeFunction("s", "f");
  EXPECT_EQ(delivered(), -1);
}

}  // namespace
}  // namespace eg::routing
