#include "events/gateway_event.h"

#include <chrono>
#include <ctime>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

namespace eg::events {
namespace {

bool isLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

void expectUuidV4(const std::string& id) {
  ASSERT_EQ(id.size(), 36u) << id;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      EXPECT_EQ(id[i], '-') << id;
    } else {
      EXPECT_TRUE(isLowerHex(id[i])) << id;
    }
  }
  EXPECT_EQ(id[14], '4') << id;
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
}

TEST(NewEventId, IsUuidV4AndUnique) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = newEventId();
    if (i < 100) expectUuidV4(id);
    EXPECT_TRUE(seen.insert(std::move(id)).second);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(NewEventId, EveryHexDigitPositionVaries) {
  // A fixed or badly shifted nibble would show up as a position that never changes.
  const std::string first = newEventId();
  std::vector<bool> changed(36, false);
  for (int i = 0; i < 200; ++i) {
    const std::string id = newEventId();
    for (std::size_t p = 0; p < 36; ++p) changed[p] = changed[p] || id[p] != first[p];
  }
  for (std::size_t p = 0; p < 36; ++p) {
    const bool fixed = p == 8 || p == 13 || p == 14 || p == 18 || p == 23;
    EXPECT_EQ(changed[p], !fixed) << "position " << p;
  }
}

TEST(NewEventId, ThreadsDoNotRepeatEachOther) {
  std::vector<std::string> a;
  std::vector<std::string> b;
  std::thread ta([&] { for (int i = 0; i < 2000; ++i) a.push_back(newEventId()); });
  std::thread tb([&] { for (int i = 0; i < 2000; ++i) b.push_back(newEventId()); });
  ta.join();
  tb.join();
  std::unordered_set<std::string> all(a.begin(), a.end());
  for (const auto& id : b) EXPECT_TRUE(all.insert(id).second);
}

TEST(NowRfc3339, FormatAndValue) {
  const auto before = std::chrono::system_clock::now();
  const std::string t = nowRfc3339();
  const auto after = std::chrono::system_clock::now();

  ASSERT_EQ(t.size(), 24u) << t;
  EXPECT_TRUE(isRfc3339(t)) << t;
  EXPECT_EQ(t[19], '.');
  EXPECT_EQ(t.back(), 'Z');

  std::tm tm{};
  tm.tm_year = std::stoi(t.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(t.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(t.substr(8, 2));
  tm.tm_hour = std::stoi(t.substr(11, 2));
  tm.tm_min = std::stoi(t.substr(14, 2));
  tm.tm_sec = std::stoi(t.substr(17, 2));
  const auto parsed = std::chrono::system_clock::from_time_t(timegm(&tm)) +
                      std::chrono::milliseconds(std::stoi(t.substr(20, 3)));
  EXPECT_GE(parsed, std::chrono::floor<std::chrono::milliseconds>(before));
  EXPECT_LE(parsed, after);
}

TEST(GatewayEvent, CarriesTheGatewayAttributes) {
  const CloudEvent e = gatewayEvent("user.created");
  EXPECT_EQ(e.eventType, "user.created");
  EXPECT_EQ(e.cloudEventsVersion, "0.1");
  EXPECT_EQ(e.source, "https://serverless.com/event-gateway/#transformationVersion=0.1");
  expectUuidV4(e.eventID);
  ASSERT_TRUE(e.eventTime);
  EXPECT_TRUE(isRfc3339(*e.eventTime));
  EXPECT_FALSE(e.contentType);
  EXPECT_TRUE(e.data.is_null());
  EXPECT_TRUE(e.marked);
  EXPECT_TRUE(e.extensions.empty());
  EXPECT_EQ(allExtensions(e),
            (boost::json::object{{"eventgateway", boost::json::object{
                                                      {"transformed", "true"},
                                                      {"transformation-version", "0.1"}}}}));
  EXPECT_TRUE(validate(e).ok());
  EXPECT_NE(gatewayEvent("x").eventID, gatewayEvent("x").eventID);
}

}  // namespace
}  // namespace eg::events
