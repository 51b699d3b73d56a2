#include "metrics/metrics.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace eg::metrics {
namespace {

TEST(CounterFamilyTest, RendersHelpTypeAndSeriesSortedByLabelValues) {
  CounterFamily family("eventgateway_events_received_total", "Events received.",
                       {"space", "type"});
  family.with({"zeta", "http.request"}).inc(3);
  family.with({"alpha", "user.created"}).inc();
  family.with({"alpha", "http.request"}).inc(2);
  std::string out;
  family.render(out);
  EXPECT_EQ(out,
            "# HELP eventgateway_events_received_total Events received.\n"
            "# TYPE eventgateway_events_received_total counter\n"
            "eventgateway_events_received_total{space=\"alpha\",type=\"http.request\"} 2\n"
            "eventgateway_events_received_total{space=\"alpha\",type=\"user.created\"} 1\n"
            "eventgateway_events_received_total{space=\"zeta\",type=\"http.request\"} 3\n");
}

TEST(CounterFamilyTest, WithoutLabelsRendersBareName) {
  CounterFamily family("requests_total", "Requests.", {});
  family.with({}).inc(7);
  std::string out;
  family.render(out);
  EXPECT_EQ(out, "# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total 7\n");
}

TEST(CounterFamilyTest, NewSeriesStartsAtZeroAndIsRendered) {
  CounterFamily family("dropped_total", "Dropped.", {"space"});
  family.with({"a"});
  std::string out;
  family.render(out);
  EXPECT_NE(out.find("dropped_total{space=\"a\"} 0\n"), std::string::npos) << out;
}

TEST(CounterFamilyTest, SameValuesReturnSameCounter) {
  CounterFamily family("x_total", "X.", {"a", "b"});
  Counter& first = family.with({"1", "2"});
  Counter& again = family.with({"1", "2"});
  Counter& other = family.with({"12", ""});
  EXPECT_EQ(&first, &again);
  EXPECT_NE(&first, &other);
}

TEST(CounterFamilyTest, EscapesLabelValues) {
  CounterFamily family("x_total", "X.", {"v"});
  family.with({"a\\b\"c\nd"}).inc();
  std::string out;
  family.render(out);
  EXPECT_NE(out.find("x_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"), std::string::npos) << out;
}

TEST(CounterFamilyTest, WrongNumberOfValuesThrows) {
  CounterFamily family("x_total", "X.", {"a", "b"});
  EXPECT_THROW(family.with({"1"}), std::invalid_argument);
  EXPECT_THROW(family.with({"1", "2", "3"}), std::invalid_argument);
}

TEST(CounterFamilyTest, InvalidNamesThrow) {
  EXPECT_THROW(CounterFamily("1abc", "", {}), std::invalid_argument);
  EXPECT_THROW(CounterFamily("a-b", "", {}), std::invalid_argument);
  EXPECT_THROW(CounterFamily("ok", "", {"le"}), std::invalid_argument);
  EXPECT_THROW(CounterFamily("ok", "", {"__x"}), std::invalid_argument);
  EXPECT_THROW(CounterFamily("ok", "", {"a:b"}), std::invalid_argument);
  EXPECT_NO_THROW(CounterFamily("ns:sub_total", "", {"_a1"}));
}

TEST(EscapeTest, LabelValue) {
  EXPECT_EQ(escapeLabelValue("plain"), "plain");
  EXPECT_EQ(escapeLabelValue("a\\b"), "a\\\\b");
  EXPECT_EQ(escapeLabelValue("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(escapeLabelValue("l1\nl2"), "l1\\nl2");
  EXPECT_EQ(escapeLabelValue("tab\tstays"), "tab\tstays");
}

TEST(FormatValueTest, ShortestFormAndSpecials) {
  EXPECT_EQ(formatValue(0.005), "0.005");
  EXPECT_EQ(formatValue(2.5), "2.5");
  EXPECT_EQ(formatValue(10), "10");
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(-1.5), "-1.5");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
}

TEST(HistogramTest, RendersCumulativeBucketsSumAndCount) {
  Histogram h({0.1, 0.5, 1});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.3);
  h.observe(2);
  std::string out;
  h.render(out, "d_seconds", "");
  EXPECT_EQ(out,
            "d_seconds_bucket{le=\"0.1\"} 2\n"
            "d_seconds_bucket{le=\"0.5\"} 3\n"
            "d_seconds_bucket{le=\"1\"} 3\n"
            "d_seconds_bucket{le=\"+Inf\"} 4\n"
            "d_seconds_sum 2.45\n"
            "d_seconds_count 4\n");
}

TEST(HistogramTest, ExtraLabelsComeBeforeLe) {
  Histogram h({1});
  h.observe(0.5);
  std::string out;
  h.render(out, "d", "space=\"s\"");
  EXPECT_EQ(out,
            "d_bucket{space=\"s\",le=\"1\"} 1\n"
            "d_bucket{space=\"s\",le=\"+Inf\"} 1\n"
            "d_sum{space=\"s\"} 0.5\n"
            "d_count{space=\"s\"} 1\n");
}

TEST(HistogramTest, BoundsAreSortedDeduplicatedAndInfDropped) {
  Histogram h({1, 0.5, 1, std::numeric_limits<double>::infinity()});
  std::string out;
  h.render(out, "d", "");
  EXPECT_EQ(out,
            "d_bucket{le=\"0.5\"} 0\n"
            "d_bucket{le=\"1\"} 0\n"
            "d_bucket{le=\"+Inf\"} 0\n"
            "d_sum 0\n"
            "d_count 0\n");
}

TEST(HistogramTest, NaNCountsInInfWithoutChangingSum) {
  Histogram h({1});
  h.observe(0.25);
  h.observe(std::nan(""));
  EXPECT_EQ(h.count(), 2u);
  EXPECT_DOUBLE_EQ(h.sum(), 0.25);
}

TEST(HistogramTest, DefaultBucketsAreThePrometheusOnes) {
  EXPECT_EQ(defaultLatencyBuckets(),
            (std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}));
}

TEST(RegistryTest, RendersEverythingInRegistrationOrderThenCollectors) {
  Registry registry;
  registry.counterFamily("a_total", "Counter \"a\".\nSecond line \\ end.", {"space"})
      .with({"s"})
      .inc(5);
  registry.gauge("eventgateway_events_backlog", "Backlog.").set(-3);
  registry.histogram("h_seconds", "Latency.", {0.5}).observe(0.25);
  registry.addCollector([](std::string& out) {
    out += "# HELP c Collected.\n# TYPE c gauge\nc 1\n";
  });
  EXPECT_EQ(registry.render(),
            "# HELP a_total Counter \"a\".\\nSecond line \\\\ end.\n"
            "# TYPE a_total counter\n"
            "a_total{space=\"s\"} 5\n"
            "# HELP eventgateway_events_backlog Backlog.\n"
            "# TYPE eventgateway_events_backlog gauge\n"
            "eventgateway_events_backlog -3\n"
            "# HELP h_seconds Latency.\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"0.5\"} 1\n"
            "h_seconds_bucket{le=\"+Inf\"} 1\n"
            "h_seconds_sum 0.25\n"
            "h_seconds_count 1\n"
            "# HELP c Collected.\n"
            "# TYPE c gauge\n"
            "c 1\n");
}

TEST(RegistryTest, SameNameReturnsSameMetric) {
  Registry registry;
  EXPECT_EQ(&registry.counterFamily("a_total", "A.", {"x"}),
            &registry.counterFamily("a_total", "A.", {"x"}));
  EXPECT_EQ(&registry.gauge("g", "G."), &registry.gauge("g", "G."));
  EXPECT_EQ(&registry.histogram("h", "H.", {1}), &registry.histogram("h", "H.", {1}));
}

TEST(RegistryTest, NameReusedForOtherKindThrows) {
  Registry registry;
  registry.gauge("m", "M.");
  EXPECT_THROW(registry.counterFamily("m", "M.", {}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("m", "M.", {1}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("bad name", "M."), std::invalid_argument);
}

TEST(RegistryTest, CollectorMayRegisterMetricsWithoutDeadlock) {
  Registry registry;
  registry.addCollector([&registry](std::string&) { registry.gauge("late", "Late."); });
  registry.render();
  EXPECT_NE(registry.render().find("# TYPE late gauge\nlate 0\n"), std::string::npos);
}

TEST(ConcurrencyTest, ManyThreadsIncrementAndCreateSeriesExactly) {
  Registry registry;
  CounterFamily& family = registry.counterFamily("c_total", "C.", {"space", "type"});
  Histogram& histogram = registry.histogram("h_seconds", "H.", {0.5});
  constexpr int kThreads = 8;
  constexpr int kIterations = 20000;
  constexpr int kSpaces = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        family.with({"shared", "t"}).inc();
        // Every thread creates the same new series in a different order.
        const std::string space = "s" + std::to_string((i + t * 7) % kSpaces);
        family.with({space, "t"}).inc();
        histogram.observe(i % 2 == 0 ? 0.25 : 1.0);
        if (i % 1000 == 0) registry.render();  // scrapes race with writers
      }
    });
  }
  for (auto& th : threads) th.join();

  EXPECT_EQ(family.with({"shared", "t"}).value(), uint64_t{kThreads} * kIterations);
  uint64_t total = 0;
  for (int s = 0; s < kSpaces; ++s) {
    const uint64_t v = family.with({"s" + std::to_string(s), "t"}).value();
    EXPECT_EQ(v, uint64_t{kThreads} * kIterations / kSpaces) << "space s" << s;
    total += v;
  }
  EXPECT_EQ(total, uint64_t{kThreads} * kIterations);
  EXPECT_EQ(histogram.count(), uint64_t{kThreads} * kIterations);
  EXPECT_DOUBLE_EQ(histogram.sum(), kThreads * (kIterations / 2) * 1.25);

  const std::string out = registry.render();
  EXPECT_NE(out.find("h_seconds_bucket{le=\"0.5\"} " + std::to_string(kThreads * kIterations / 2) +
                     "\n"),
            std::string::npos);
  // One line per series: shared + kSpaces.
  size_t lines = 0;
  for (size_t pos = 0; (pos = out.find("\nc_total{", pos)) != std::string::npos; ++pos) ++lines;
  EXPECT_EQ(lines, size_t{kSpaces} + 1);
}

// --- dynamic families: series that leave the scrape with their last handle ---

TEST(DynamicCounterFamilyTest, ASeriesIsRenderedWhileAHandleLives) {
  DynamicCounterFamily family("calls_total", "Calls.", {"function", "outcome"});
  auto b = family.series({"b", "ok"});
  auto a = family.series({"a", "ok"});
  a->inc(2);
  b->inc();
  std::string out;
  family.render(out);
  EXPECT_EQ(out,
            "# HELP calls_total Calls.\n# TYPE calls_total counter\n"
            "calls_total{function=\"a\",outcome=\"ok\"} 2\n"
            "calls_total{function=\"b\",outcome=\"ok\"} 1\n");
  EXPECT_EQ(family.size(), 2u);

  a.reset();
  out.clear();
  family.render(out);
  EXPECT_EQ(out.find("function=\"a\""), std::string::npos) << out;
  EXPECT_NE(out.find("calls_total{function=\"b\",outcome=\"ok\"} 1\n"), std::string::npos);
  EXPECT_EQ(family.size(), 1u);
  EXPECT_EQ(family.find({"a", "ok"}), nullptr);
}

TEST(DynamicCounterFamilyTest, HandlesOfTheSameValuesShareOneSeries) {
  DynamicCounterFamily family("x_total", "X.", {"k"});
  auto first = family.series({"v"});
  auto again = family.series({"v"});
  EXPECT_EQ(first.get(), again.get());
  EXPECT_EQ(family.find({"v"}).get(), first.get());
  first.reset();
  // Still held by `again`: still rendered, and found.
  EXPECT_EQ(family.find({"v"}).get(), again.get());
  again.reset();
  EXPECT_EQ(family.size(), 0u);
  // Made again, it starts at zero.
  auto fresh = family.series({"v"});
  EXPECT_EQ(fresh->value(), 0u);
}

TEST(DynamicCounterFamilyTest, HandlesMayOutliveTheFamily) {
  std::shared_ptr<Counter> handle;
  {
    DynamicCounterFamily family("x_total", "X.", {"k"});
    handle = family.series({"v"});
  }
  handle->inc();
  EXPECT_EQ(handle->value(), 1u);
  handle.reset();  // the deleter finds no family: nothing to take out
}

TEST(DynamicCounterFamilyTest, WrongNumberOfValuesThrows) {
  DynamicCounterFamily family("x_total", "X.", {"a", "b"});
  EXPECT_THROW(family.series({"1"}), std::invalid_argument);
  EXPECT_THROW(DynamicCounterFamily("bad name", "X.", {}), std::invalid_argument);
  EXPECT_THROW(DynamicCounterFamily("x_total", "X.", {"le"}), std::invalid_argument);
}

TEST(DynamicHistogramFamilyTest, RendersEachLiveSeriesWithItsLabelsBeforeLe) {
  DynamicHistogramFamily family("d_seconds", "D.", {"function"}, {0.1, 1});
  auto f = family.series({"f"});
  f->observe(0.05);
  f->observe(0.5);
  std::string out;
  family.render(out);
  EXPECT_EQ(out,
            "# HELP d_seconds D.\n# TYPE d_seconds histogram\n"
            "d_seconds_bucket{function=\"f\",le=\"0.1\"} 1\n"
            "d_seconds_bucket{function=\"f\",le=\"1\"} 2\n"
            "d_seconds_bucket{function=\"f\",le=\"+Inf\"} 2\n"
            "d_seconds_sum{function=\"f\"} 0.55\n"
            "d_seconds_count{function=\"f\"} 2\n");
  f.reset();
  out.clear();
  family.render(out);
  EXPECT_EQ(out, "# HELP d_seconds D.\n# TYPE d_seconds histogram\n");
}

TEST(DynamicFamilyTest, RegistryRendersThemAndKeepsTheirKind) {
  Registry registry;
  auto& calls = registry.dynamicCounterFamily("calls_total", "Calls.", {"f"});
  auto& again = registry.dynamicCounterFamily("calls_total", "ignored", {"f"});
  EXPECT_EQ(&calls, &again);
  auto& durations = registry.dynamicHistogramFamily("d_seconds", "D.", {"f"}, {1});
  auto c = calls.series({"x"});
  auto d = durations.series({"x"});
  c->inc();
  const std::string out = registry.render();
  EXPECT_NE(out.find("calls_total{f=\"x\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("d_seconds_count{f=\"x\"} 0\n"), std::string::npos) << out;
  EXPECT_THROW(registry.counterFamily("calls_total", "C.", {"f"}), std::invalid_argument);
  EXPECT_THROW(registry.dynamicCounterFamily("d_seconds", "C.", {"f"}), std::invalid_argument);
}

TEST(DynamicFamilyTest, SeriesComeAndGoWhileOthersCountAndScrape) {
  Registry registry;
  auto& family = registry.dynamicCounterFamily("c_total", "C.", {"k"});
  auto kept = family.series({"kept"});
  constexpr int kThreads = 4;
  constexpr int kIterations = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        kept->inc();
        // Series made and dropped, by several threads at once for the same values.
        auto passing = family.series({"p" + std::to_string((i + t) % 7)});
        passing->inc();
        if (i % 500 == 0) registry.render();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(kept->value(), uint64_t{kThreads} * kIterations);
  EXPECT_EQ(family.size(), 1u);
  const std::string out = registry.render();
  EXPECT_EQ(out.find("k=\"p"), std::string::npos) << out;
}

}  // namespace
}  // namespace eg::metrics
