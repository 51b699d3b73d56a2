#include "queue/memory/memory_queue.h"

#include <gtest/gtest.h>

#include "queue/queue_contract.h"

namespace eg::queue::testing {
namespace {

struct MemoryFactory {
  static constexpr bool kDurable = false;
  std::unique_ptr<DeliveryQueue> open() {
    auto q = std::make_unique<MemoryQueue>(10'000);
    EXPECT_TRUE(q->start().ok());
    return q;
  }
  std::unique_ptr<DeliveryQueue> reopen() { return nullptr; }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Memory, QueueContractTest, ::testing::Types<MemoryFactory>);

TEST(MemoryQueueTest, AnEventThatDoesNotFitWholeIsRefusedAndTakesNoRoom) {
  MemoryQueue q(3);
  ASSERT_TRUE(q.start().ok());
  ASSERT_TRUE(enqueueNow(q, event("a"), {target("1"), target("2")}).ok());
  const Status refused = enqueueNow(q, event("b"), {target("1"), target("2")});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(q.stats().deliveries, 2u);
  ASSERT_TRUE(enqueueNow(q, event("c"), {target("1")}).ok());
  EXPECT_EQ(q.stats().deliveries, 3u);
}

TEST(MemoryQueueTest, EventsQueuedTogetherFitWholeOrNoneIsQueued) {
  MemoryQueue q(3);
  ASSERT_TRUE(q.start().ok());
  ASSERT_TRUE(enqueueNow(q, event("a"), {target("1")}).ok());
  std::vector<EnqueueRequest> batch;
  batch.push_back(EnqueueRequest{event("b"), {target("1")}});
  batch.push_back(EnqueueRequest{event("c"), {target("1"), target("2")}});
  const Status refused = enqueueAllNow(q, batch);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(q.stats().deliveries, 1u);
  batch.pop_back();
  batch.push_back(EnqueueRequest{event("c"), {target("1")}});
  ASSERT_TRUE(enqueueAllNow(q, batch).ok());
  EXPECT_EQ(q.stats().deliveries, 3u);
}

TEST(MemoryQueueTest, RoomIsGivenBackOnlyWhenADeliveryIsSettledForGood) {
  MemoryQueue q(1);
  ASSERT_TRUE(q.start().ok());
  ASSERT_TRUE(enqueueNow(q, event("a"), {target("1")}).ok());
  auto leases = takeNow(q, 1);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_FALSE(enqueueNow(q, event("b"), {target("1")}).ok()) << "in flight still holds room";
  q.retry(std::move(leases[0]), 1, nowMs() + 50, "x");
  EXPECT_FALSE(enqueueNow(q, event("b"), {target("1")}).ok()) << "a retry still holds room";
  leases = takeNow(q, 1);
  ASSERT_EQ(leases.size(), 1u);
  q.complete(std::move(leases[0]));
  EXPECT_TRUE(enqueueNow(q, event("b"), {target("1")}).ok());
}

}  // namespace
}  // namespace eg::queue::testing
