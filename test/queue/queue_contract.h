#pragma once

// The behaviour every DeliveryQueue backend must have, as a typed GoogleTest suite.
//
// A backend instantiates it with a factory type F:
//   struct F {
//     static constexpr bool kDurable = ...;  // deliveries survive the queue's end
//     // A started queue for one test, on storage of its own (an empty log, a new stream).
//     std::unique_ptr<eg::queue::DeliveryQueue> open();
//     // Durable backends: a started queue on the storage of the last open(), after the
//     // queue that open() returned was destroyed.
//     std::unique_ptr<eg::queue::DeliveryQueue> reopen();
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Name, QueueContractTest, ::testing::Types<F>);

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "queue/queue.h"

namespace eg::queue::testing {

using namespace std::chrono_literals;

inline constexpr auto kWait = 10s;

inline std::shared_ptr<const EventData> event(std::string payload, std::string request = {}) {
  auto e = std::make_shared<EventData>();
  e->payload = std::move(payload);
  e->request = std::move(request);
  e->acceptedAtMs = nowMs();
  e->configRevision = 7;
  return e;
}

inline Target target(std::string subscription, uint8_t flags = 0) {
  Target t;
  t.space = "space";
  t.subscriptionId = subscription;
  t.functionId = "fn-" + subscription;
  t.eventType = "test.event";
  t.flags = flags;
  return t;
}

// Polls `done` until it holds, at most `limit`.
template <class Predicate>
bool waitUntil(Predicate done, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Enqueues and waits for the answer.
inline Status enqueueNow(DeliveryQueue& q, std::shared_ptr<const EventData> e,
                         std::vector<Target> targets) {
  std::promise<Status> done;
  auto answer = done.get_future();
  q.enqueue(EnqueueRequest{std::move(e), std::move(targets)},
            [&done](Status s) { done.set_value(std::move(s)); });
  if (answer.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "enqueue did not answer in time";
    return Error::timeout("enqueue did not answer");
  }
  return answer.get();
}

// enqueueAll, and waits for the answer.
inline Status enqueueAllNow(DeliveryQueue& q, std::vector<EnqueueRequest> requests) {
  std::promise<Status> done;
  auto answer = done.get_future();
  q.enqueueAll(std::move(requests), [&done](Status s) { done.set_value(std::move(s)); });
  if (answer.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "enqueueAll did not answer in time";
    return Error::timeout("enqueueAll did not answer");
  }
  return answer.get();
}

// A take whose answer is awaited later.
class PendingTake {
 public:
  PendingTake(DeliveryQueue& q, std::size_t max) {
    auto p = std::make_shared<std::promise<std::vector<Lease>>>();
    answer_ = p->get_future();
    q.take(max, [p](std::vector<Lease> leases) { p->set_value(std::move(leases)); });
  }
  bool readyWithin(std::chrono::milliseconds d) {
    return answer_.wait_for(d) == std::future_status::ready;
  }
  std::vector<Lease> get() {
    if (!readyWithin(kWait)) {
      ADD_FAILURE() << "take did not answer in time";
      return {};
    }
    return answer_.get();
  }

 private:
  std::future<std::vector<Lease>> answer_;
};

inline std::vector<Lease> takeNow(DeliveryQueue& q, std::size_t max) {
  return PendingTake(q, max).get();
}

// Takes until `n` leases were handed out in all.
inline std::vector<Lease> takeAll(DeliveryQueue& q, std::size_t n) {
  std::vector<Lease> out;
  while (out.size() < n) {
    auto more = takeNow(q, n - out.size());
    if (more.empty()) break;
    for (auto& l : more) out.push_back(std::move(l));
  }
  return out;
}

template <class F>
class QueueContractTest : public ::testing::Test {
 protected:
  F factory_;
};

TYPED_TEST_SUITE_P(QueueContractTest);

TYPED_TEST_P(QueueContractTest, HandsOutWhatWasQueuedWithItsEventAndTarget) {
  auto q = this->factory_.open();
  auto e = event(R"({"eventID":"1"})", R"({"path":"/"})");
  ASSERT_TRUE(enqueueNow(*q, e, {target("a", Target::kSystem)}).ok());
  auto leases = takeNow(*q, 10);
  ASSERT_EQ(leases.size(), 1u);
  const Delivery& d = leases[0].delivery;
  EXPECT_EQ(d.event->payload, e->payload);
  EXPECT_EQ(d.event->request, e->request);
  EXPECT_EQ(d.event->acceptedAtMs, e->acceptedAtMs);
  EXPECT_EQ(d.event->configRevision, 7);
  EXPECT_EQ(d.target.space, "space");
  EXPECT_EQ(d.target.subscriptionId, "a");
  EXPECT_EQ(d.target.functionId, "fn-a");
  EXPECT_EQ(d.target.eventType, "test.event");
  EXPECT_TRUE(d.target.system());
  EXPECT_FALSE(d.target.deadLetter());
  EXPECT_EQ(d.attempts, 0u);
  EXPECT_LE(d.dueAtMs, nowMs());
  q->complete(std::move(leases[0]));
}

TYPED_TEST_P(QueueContractTest, OneDeliveryPerTargetAndTakeHonoursMax) {
  auto q = this->factory_.open();
  ASSERT_TRUE(enqueueNow(*q, event("{}"), {target("a"), target("b"), target("c")}).ok());
  auto first = takeNow(*q, 2);
  ASSERT_FALSE(first.empty());
  EXPECT_LE(first.size(), 2u);
  auto all = std::move(first);
  for (auto& l : takeAll(*q, 3 - all.size())) all.push_back(std::move(l));
  std::set<std::string> subs;
  for (auto& l : all) subs.insert(l.delivery.target.subscriptionId);
  EXPECT_EQ(subs, (std::set<std::string>{"a", "b", "c"}));
  for (auto& l : all) q->complete(std::move(l));
  EXPECT_TRUE(waitUntil([&] { return q->stats().deliveries == 0; }));
}

TYPED_TEST_P(QueueContractTest, APendingTakeAnswersWhenADeliveryArrives) {
  auto q = this->factory_.open();
  PendingTake pending(*q, 5);
  EXPECT_FALSE(pending.readyWithin(100ms));
  ASSERT_TRUE(enqueueNow(*q, event("late"), {target("a")}).ok());
  auto leases = pending.get();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].delivery.event->payload, "late");
  q->complete(std::move(leases[0]));
}

TYPED_TEST_P(QueueContractTest, CompletedIsNeverHandedOutAgain) {
  auto q = this->factory_.open();
  ASSERT_TRUE(enqueueNow(*q, event("one"), {target("a")}).ok());
  auto leases = takeNow(*q, 1);
  ASSERT_EQ(leases.size(), 1u);
  q->complete(std::move(leases[0]));
  PendingTake pending(*q, 1);
  EXPECT_FALSE(pending.readyWithin(300ms));
  q->close();
  EXPECT_TRUE(pending.get().empty());
}

TYPED_TEST_P(QueueContractTest, ARetryComesBackAtItsTimeWithItsState) {
  auto q = this->factory_.open();
  ASSERT_TRUE(enqueueNow(*q, event("r"), {target("a")}).ok());
  auto leases = takeNow(*q, 1);
  ASSERT_EQ(leases.size(), 1u);
  const auto retriedAt = std::chrono::steady_clock::now();
  q->retry(std::move(leases[0]), 1, nowMs() + 400, "http 503");
  PendingTake pending(*q, 1);
  EXPECT_FALSE(pending.readyWithin(200ms)) << "handed out before it was due";
  auto again = pending.get();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - retriedAt, 350ms);
  EXPECT_EQ(again[0].delivery.attempts, 1u);
  EXPECT_EQ(again[0].delivery.event->payload, "r");
  EXPECT_EQ(again[0].delivery.target.subscriptionId, "a");
  q->complete(std::move(again[0]));
}

TYPED_TEST_P(QueueContractTest, ADueRetryDoesNotWaitBehindLaterOnes) {
  auto q = this->factory_.open();
  ASSERT_TRUE(enqueueNow(*q, event("e"), {target("late"), target("soon")}).ok());
  auto leases = takeAll(*q, 2);
  ASSERT_EQ(leases.size(), 2u);
  for (auto& l : leases) {
    const bool late = l.delivery.target.subscriptionId == "late";
    q->retry(std::move(l), 1, nowMs() + (late ? 60'000 : 100), "x");
  }
  auto next = takeNow(*q, 2);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].delivery.target.subscriptionId, "soon");
  q->complete(std::move(next[0]));
  EXPECT_TRUE(waitUntil([&] { return q->stats().deliveries == 1; }));
}

TYPED_TEST_P(QueueContractTest, AReplacementTakesTheDeliverysPlace) {
  auto q = this->factory_.open();
  ASSERT_TRUE(enqueueNow(*q, event("orig"), {target("a")}).ok());
  auto leases = takeNow(*q, 1);
  ASSERT_EQ(leases.size(), 1u);
  Delivery letter;
  letter.event = event("dead letter");
  letter.target = target("a", Target::kDeadLetter);
  letter.target.functionId = "dlq";
  letter.dueAtMs = nowMs();
  q->replace(std::move(leases[0]), letter);
  auto next = takeNow(*q, 5);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].delivery.event->payload, "dead letter");
  EXPECT_EQ(next[0].delivery.target.functionId, "dlq");
  EXPECT_TRUE(next[0].delivery.target.deadLetter());
  EXPECT_EQ(next[0].delivery.attempts, 0u);
  q->complete(std::move(next[0]));
  EXPECT_TRUE(waitUntil([&] { return q->stats().deliveries == 0; }));
}

TYPED_TEST_P(QueueContractTest, AReleasedLeaseIsHandedOutAgain) {
  auto q = this->factory_.open();
  ASSERT_TRUE(enqueueNow(*q, event("rel"), {target("a")}).ok());
  auto leases = takeNow(*q, 1);
  ASSERT_EQ(leases.size(), 1u);
  q->release(std::move(leases[0]));
  auto again = takeNow(*q, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.event->payload, "rel");
  EXPECT_EQ(again[0].delivery.attempts, 0u);
  q->complete(std::move(again[0]));
}

TYPED_TEST_P(QueueContractTest, StatsCountWhatIsHeld) {
  auto q = this->factory_.open();
  EXPECT_EQ(q->stats().deliveries, 0u);
  ASSERT_TRUE(enqueueNow(*q, event(std::string(1000, 'x')), {target("a"), target("b")}).ok());
  // Stats may follow a moment behind: the backend counts on its own thread.
  EXPECT_TRUE(waitUntil([&] { return q->stats().deliveries == 2; }));
  const Stats held = q->stats();
  EXPECT_GE(held.bytes, 1000u);
  EXPECT_GE(held.oldestSeconds, 0.0);
  EXPECT_FALSE(q->describe().empty());
  for (auto& l : takeAll(*q, 2)) q->complete(std::move(l));
  EXPECT_TRUE(waitUntil([&] { return q->stats().deliveries == 0; }));
}

TYPED_TEST_P(QueueContractTest, CloseAnswersAPendingTakeEmpty) {
  auto q = this->factory_.open();
  PendingTake pending(*q, 1);
  q->close();
  EXPECT_TRUE(pending.get().empty());
}

TYPED_TEST_P(QueueContractTest, ConcurrentProducersAndOneConsumerLoseNothing) {
  auto q = this->factory_.open();
  constexpr int kThreads = 4;
  constexpr int kEvents = 200;
  std::vector<std::thread> producers;
  std::atomic<int> refused{0};
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kEvents; ++i) {
        auto s = enqueueNow(*q, event(std::to_string(t) + "/" + std::to_string(i)),
                            {target("a"), target("b")});
        if (!s) ++refused;
      }
    });
  }
  std::map<std::string, int> seen;
  const std::size_t expected = 2u * kThreads * kEvents;
  std::size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (got < expected && std::chrono::steady_clock::now() < deadline) {
    for (auto& l : takeNow(*q, 64)) {
      ++seen[l.delivery.event->payload + "@" + l.delivery.target.subscriptionId];
      ++got;
      q->complete(std::move(l));
    }
  }
  for (auto& p : producers) p.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(seen.size(), expected) << "a delivery was handed out twice";
}

TYPED_TEST_P(QueueContractTest, EnqueueAllQueuesEveryEventsDeliveries) {
  auto q = this->factory_.open();
  std::vector<EnqueueRequest> requests;
  requests.push_back(EnqueueRequest{event("first"), {target("a"), target("b")}});
  requests.push_back(EnqueueRequest{event("empty"), {}});
  requests.push_back(EnqueueRequest{event("second"), {target("c")}});
  ASSERT_TRUE(enqueueAllNow(*q, std::move(requests)).ok());
  auto leases = takeAll(*q, 3);
  std::set<std::string> got;
  for (auto& l : leases) got.insert(l.delivery.event->payload + "/" + l.delivery.target.subscriptionId);
  EXPECT_EQ(got, (std::set<std::string>{"first/a", "first/b", "second/c"}));
  for (auto& l : leases) q->complete(std::move(l));
  EXPECT_TRUE(enqueueAllNow(*q, {}).ok());
  EXPECT_TRUE(waitUntil([&] { return q->stats().deliveries == 0; }));
}

TYPED_TEST_P(QueueContractTest, WhatWasNotCompletedSurvivesTheQueue) {
  if (!TypeParam::kDurable) GTEST_SKIP() << "not a durable backend";
  {
    auto q = this->factory_.open();
    ASSERT_TRUE(
        enqueueNow(*q, event("kept"), {target("done"), target("retried"), target("held")}).ok());
    auto leases = takeAll(*q, 3);
    ASSERT_EQ(leases.size(), 3u);
    ASSERT_TRUE(enqueueNow(*q, event("kept"), {target("waiting")}).ok());
    for (auto& l : leases) {
      const auto& sub = l.delivery.target.subscriptionId;
      if (sub == "done") {
        q->complete(std::move(l));
      } else if (sub == "retried") {
        q->retry(std::move(l), 3, nowMs() + 200, "timed out");
      }
      // "held" is neither settled nor released when the queue goes (a crash mid-call).
    }
    q->close();
  }
  auto q = this->factory_.reopen();
  ASSERT_NE(q, nullptr);
  auto back = takeAll(*q, 3);
  std::map<std::string, uint32_t> attempts;
  for (auto& l : back) {
    attempts[l.delivery.target.subscriptionId] = l.delivery.attempts;
    EXPECT_EQ(l.delivery.event->payload, "kept");
  }
  EXPECT_EQ(back.size(), 3u);
  EXPECT_FALSE(attempts.contains("done"));
  if (attempts.contains("retried")) {
    EXPECT_GE(attempts["retried"], 3u);
  }
  for (auto& l : back) q->complete(std::move(l));
  q->close();
}

REGISTER_TYPED_TEST_SUITE_P(QueueContractTest, HandsOutWhatWasQueuedWithItsEventAndTarget,
                            OneDeliveryPerTargetAndTakeHonoursMax,
                            APendingTakeAnswersWhenADeliveryArrives,
                            CompletedIsNeverHandedOutAgain, ARetryComesBackAtItsTimeWithItsState,
                            ADueRetryDoesNotWaitBehindLaterOnes,
                            AReplacementTakesTheDeliverysPlace, AReleasedLeaseIsHandedOutAgain,
                            StatsCountWhatIsHeld, CloseAnswersAPendingTakeEmpty,
                            ConcurrentProducersAndOneConsumerLoseNothing,
                            EnqueueAllQueuesEveryEventsDeliveries,
                            WhatWasNotCompletedSurvivesTheQueue);

}  // namespace eg::queue::testing
