#include "store/notifying_store.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "store/embedded_store.h"
#include "store/store_contract.h"

namespace eg::store {
namespace {

using testing::runAwait;

class NotifyingStoreTest : public ::testing::Test {
 protected:
  NotifyingStoreTest() {
    std::string pattern = "/tmp/eg-notifying-store-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    auto opened = EmbeddedStore::open(dir_);
    if (!opened) throw std::runtime_error(opened.error().message);
    inner_ = std::move(opened).value();
    store_ = std::make_unique<NotifyingStore>(*inner_, [this](int64_t r) { commits_.push_back(r); });
  }
  ~NotifyingStoreTest() override {
    store_.reset();
    inner_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
  std::unique_ptr<EmbeddedStore> inner_;
  std::unique_ptr<NotifyingStore> store_;
  std::vector<int64_t> commits_;
};

TEST_F(NotifyingStoreTest, ReportsEveryWriteThatTookEffectWithItsRevision) {
  auto put = runAwait(store_->put("a", "1"));
  ASSERT_TRUE(put);
  auto created = runAwait(store_->create("b", "1"));
  ASSERT_TRUE(created);
  auto swapped = runAwait(store_->compareAndSwap("a", "2", *put));
  ASSERT_TRUE(swapped);
  auto txn = runAwait(store_->txn({{"c", 0}}, {Op{Op::Type::kPut, "c", "1"}}));
  ASSERT_TRUE(txn && txn->succeeded);
  auto removed = runAwait(store_->remove("b"));
  ASSERT_TRUE(removed);
  EXPECT_EQ(commits_, (std::vector<int64_t>{*put, *created, *swapped, txn->revision, *removed}));
}

TEST_F(NotifyingStoreTest, ReportsNothingForWritesThatDidNotApply) {
  ASSERT_TRUE(runAwait(store_->put("a", "1")));
  commits_.clear();
  EXPECT_FALSE(runAwait(store_->create("a", "2")));
  EXPECT_FALSE(runAwait(store_->compareAndSwap("a", "2", 999)));
  EXPECT_FALSE(runAwait(store_->remove("missing")));
  auto txn = runAwait(store_->txn({{"a", 0}}, {Op{Op::Type::kPut, "a", "3"}}));
  ASSERT_TRUE(txn);
  EXPECT_FALSE(txn->succeeded);
  EXPECT_TRUE(runAwait(store_->get("a")));
  EXPECT_TRUE(runAwait(store_->list("")));
  EXPECT_TRUE(commits_.empty());
}

}  // namespace
}  // namespace eg::store
