#include "providers/weighted/weighted_provider.h"

#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "model/limits.h"

namespace eg::providers {
namespace {

namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

std::string errorOf(std::string_view providerJson) {
  auto settings = parseWeightedProvider(obj(providerJson));
  if (settings) return "<ok>";
  EXPECT_EQ(settings.error().kind, ErrorKind::kInvalid);
  return settings.error().message;
}

TEST(WeightedProviderTest, TargetsAndWeightsInTheirOrder) {
  auto settings = parseWeightedProvider(obj(
      R"({"functions":[{"functionId":"v1","weight":70},{"functionId":"v2","weight":30.0},
                       {"functionId":"v3","weight":0}],"other":"kept"})"));
  ASSERT_TRUE(settings) << settings.error().message;
  ASSERT_EQ(settings->functions.size(), 3u);
  EXPECT_EQ(settings->functions[0].functionId, "v1");
  EXPECT_EQ(settings->functions[0].weight, 70u);
  EXPECT_EQ(settings->functions[1].weight, 30u);
  EXPECT_EQ(settings->functions[2].weight, 0u);
  EXPECT_EQ(settings->stickyBy.kind, StickyBy::Kind::kNone);
}

TEST(WeightedProviderTest, FunctionsIsARequiredNonEmptyArray) {
  EXPECT_EQ(errorOf(R"({})"), R"(Missing required field "functions" in provider.)");
  EXPECT_EQ(errorOf(R"({"functions":null})"), R"(Missing required field "functions" in provider.)");
  EXPECT_EQ(errorOf(R"({"functions":{"functionId":"a","weight":1}})"),
            R"(Field "provider.functions" must be an array of {"functionId", "weight"} objects.)");
  EXPECT_EQ(errorOf(R"({"functions":[]})"),
            R"(Field "provider.functions" must name at least one function.)");
}

TEST(WeightedProviderTest, EachTargetIsAFunctionIdAndAWeight) {
  EXPECT_EQ(errorOf(R"({"functions":["a"]})"),
            R"(Field "provider.functions[0]" must be an object {"functionId", "weight"}.)");
  EXPECT_EQ(errorOf(R"({"functions":[{"functionId":"a","weight":1},{"weight":1}]})"),
            R"(Missing required field "provider.functions[1].functionId".)");
  EXPECT_EQ(errorOf(R"({"functions":[{"functionId":"a"}]})"),
            R"(Missing required field "provider.functions[0].weight".)");
  EXPECT_EQ(errorOf(R"({"functions":[{"functionId":7,"weight":1}]})"),
            R"(Field "provider.functions[0].functionId" must be a string.)");
  EXPECT_EQ(errorOf(R"({"functions":[{"functionId":"a b","weight":1}]})"),
            R"(Field "provider.functions[0].functionId" may only contain letters, digits, ".", "-" and "_".)");
  EXPECT_EQ(errorOf(R"({"functions":[{"functionId":"a","weight":1,"wieght":2}]})"),
            R"(Field "provider.functions[0].wieght" is unknown; a target has functionId and weight.)");
}

TEST(WeightedProviderTest, WeightsAreWholeNumbersWithinBounds) {
  const std::string bad = R"(Field "provider.functions[0].weight" must be a whole number between 0 and 1000000.)";
  for (const char* weight : {"-1", "1.5", "\"10\"", "true", "1000001", "1e300", "18446744073709551615"}) {
    EXPECT_EQ(errorOf(std::string(R"({"functions":[{"functionId":"a","weight":)") + weight + "}]}"), bad)
        << weight;
  }
  EXPECT_EQ(errorOf(R"({"functions":[{"functionId":"a","weight":1000000}]})"), "<ok>");
  EXPECT_EQ(model::kMaxWeight, 1'000'000u);
}

TEST(WeightedProviderTest, AtLeastOneWeightAboveZero) {
  EXPECT_EQ(errorOf(R"({"functions":[{"functionId":"a","weight":0},{"functionId":"b","weight":0}]})"),
            R"(Field "provider.functions" must give at least one function a weight above 0.)");
  EXPECT_EQ(errorOf(R"({"functions":[{"functionId":"a","weight":0},{"functionId":"b","weight":1}]})"),
            "<ok>");
}

TEST(WeightedProviderTest, NoFunctionTwice) {
  EXPECT_EQ(errorOf(R"({"functions":[{"functionId":"a","weight":1},{"functionId":"a","weight":2}]})"),
            R"(Field "provider.functions[1].functionId" names function "a" a second time.)");
}

TEST(WeightedProviderTest, AtMostTheTargetBound) {
  json::array functions;
  for (std::size_t i = 0; i < model::kMaxWeightedTargets; ++i) {
    functions.push_back(json::object{{"functionId", "f" + std::to_string(i)}, {"weight", 1}});
  }
  EXPECT_TRUE(parseWeightedProvider(json::object{{"functions", functions}}));
  functions.push_back(json::object{{"functionId", "one-more"}, {"weight", 1}});
  auto over = parseWeightedProvider(json::object{{"functions", functions}});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().message, R"(Field "provider.functions" must have at most 100 entries.)");
}

TEST(WeightedProviderTest, StickyByAHeaderOrAnAttribute) {
  auto header = parseWeightedProvider(
      obj(R"({"functions":[{"functionId":"a","weight":1}],"stickyBy":"header:X-User"})"));
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header->stickyBy.kind, StickyBy::Kind::kHeader);
  EXPECT_EQ(header->stickyBy.name, "X-User");
  for (const char* attribute : {"subject", "source", "id", "userid"}) {
    auto a = parseWeightedProvider(json::object{
        {"functions", json::array{json::object{{"functionId", "a"}, {"weight", 1}}}},
        {"stickyBy", attribute}});
    ASSERT_TRUE(a) << attribute << ": " << a.error().message;
    EXPECT_EQ(a->stickyBy.kind, StickyBy::Kind::kAttribute);
    EXPECT_EQ(a->stickyBy.name, attribute);
  }
  // "" and null: not sticky, as the other providers read their empty strings.
  for (const char* none : {R"("")", "null"}) {
    auto n = parseWeightedProvider(obj(
        std::string(R"({"functions":[{"functionId":"a","weight":1}],"stickyBy":)") + none + "}"));
    ASSERT_TRUE(n);
    EXPECT_EQ(n->stickyBy.kind, StickyBy::Kind::kNone);
  }
}

TEST(WeightedProviderTest, BadStickyByNamesTheField) {
  const auto with = [](std::string_view sticky) {
    return std::string(R"({"functions":[{"functionId":"a","weight":1}],"stickyBy":)") +
           std::string(sticky) + "}";
  };
  const std::string form =
      R"(Field "provider.stickyBy" must be "header:<Name>", a context attribute ("subject", "source", ...) or an extension name ([a-z0-9]{1,20}).)";
  EXPECT_EQ(errorOf(with("5")), R"(Field "provider.stickyBy" must be a string.)");
  EXPECT_EQ(errorOf(with(R"("UserId")")), form);
  EXPECT_EQ(errorOf(with(R"("data")")), form);
  EXPECT_EQ(errorOf(with(R"("data.user")")), form);
  EXPECT_EQ(errorOf(with(R"("averyveryverylongextensionname")")), form);
  EXPECT_EQ(errorOf(with(R"("header:")")),
            R"(Field "provider.stickyBy" has an invalid header name after "header:".)");
  EXPECT_EQ(errorOf(with(R"("header:X User")")),
            R"(Field "provider.stickyBy" has an invalid header name after "header:".)");
}

TEST(WeightedProviderTest, NamesTargetReadsEvenAnInvalidProvider) {
  EXPECT_TRUE(namesTarget(obj(R"({"functions":[{"functionId":"a","weight":1},{"functionId":"b"}]})"), "b"));
  EXPECT_FALSE(namesTarget(obj(R"({"functions":[{"functionId":"a","weight":1}]})"), "b"));
  EXPECT_FALSE(namesTarget(obj(R"({"functions":"b"})"), "b"));
  EXPECT_FALSE(namesTarget(obj(R"({})"), "b"));
}

TEST(WeightedProviderTest, ItsOwnInvokerFailsSayingWhy) {
  WeightedProviderFactory factory;
  EXPECT_TRUE(factory.validate(obj(R"({"functions":[{"functionId":"a","weight":1}]})")));
  EXPECT_FALSE(factory.validate(obj(R"({})")));
  model::Function fn;
  fn.space = "s";
  fn.functionId = "w";
  fn.type = "weighted";
  auto invoker = factory.create(fn);
  ASSERT_NE(invoker, nullptr);
  boost::asio::io_context ioc;
  std::optional<Result<CallResult>> out;
  boost::asio::co_spawn(
      ioc, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await invoker->call("{}")); },
      boost::asio::detached);
  ioc.run();
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(*out);
  EXPECT_EQ(out->error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(out->error().message,
            R"(function call failed: weighted function "w" has no target that can be called)");
}

}  // namespace
}  // namespace eg::providers
