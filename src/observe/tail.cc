#include "observe/tail.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <map>
#include <mutex>
#include <utility>

#include <boost/container/small_vector.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "common/json.h"
#include "common/published.h"

namespace eg::observe {

namespace {

constexpr std::size_t kMaxField = 256;
constexpr std::size_t kMaxError = 512;

std::string_view cut(std::string_view s, std::size_t max) {
  // A character cut in two is written as U+FFFD by JsonWriter.
  return s.size() > max ? s.substr(0, max) : s;
}

void appendTime(std::string& out, std::chrono::system_clock::time_point at) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  char frac[8];
  const int milli = static_cast<int>(ms.count() % 1000);
  frac[0] = '.';
  frac[1] = static_cast<char>('0' + milli / 100);
  frac[2] = static_cast<char>('0' + milli / 10 % 10);
  frac[3] = static_cast<char>('0' + milli % 10);
  frac[4] = 'Z';
  out.append(frac, 5);
}

// Reads top-level members until the event's ID: the parser stops there (a handler that
// answers false), so that a large `data` after it is never read.
class IdFinder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::string id;
  bool found = false;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) { return enter(); }
  bool on_array_end(std::size_t, boost::system::error_code&) { return leave(); }
  bool on_object_begin(boost::system::error_code&) { return enter(); }
  bool on_object_end(std::size_t, boost::system::error_code&) { return leave(); }
  bool on_string_part(std::string_view s, std::size_t, boost::system::error_code&) {
    if (wanted_) id.append(s);
    return true;
  }
  bool on_string(std::string_view s, std::size_t, boost::system::error_code&) {
    if (!wanted_) return true;
    id.append(s);
    found = true;
    return false;  // done: stop reading
  }
  bool on_key_part(std::string_view s, std::size_t, boost::system::error_code&) {
    if (depth_ == 1) key_.append(s);
    return true;
  }
  bool on_key(std::string_view s, std::size_t, boost::system::error_code&) {
    if (depth_ == 1) {
      key_.append(s);
      // 0.1 names it eventID, 1.0 id; an event has one or the other.
      wanted_ = key_ == "eventID" || key_ == "id";
      key_.clear();
    }
    return true;
  }
  bool on_number_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_int64(int64_t, std::string_view, boost::system::error_code&) { return scalar(); }
  bool on_uint64(uint64_t, std::string_view, boost::system::error_code&) { return scalar(); }
  bool on_double(double, std::string_view, boost::system::error_code&) { return scalar(); }
  bool on_bool(bool, boost::system::error_code&) { return scalar(); }
  bool on_null(boost::system::error_code&) { return scalar(); }
  bool on_comment_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_comment(std::string_view, boost::system::error_code&) { return true; }

 private:
  bool enter() {
    wanted_ = false;
    ++depth_;
    return true;
  }
  bool leave() {
    --depth_;
    return true;
  }
  bool scalar() {
    wanted_ = false;
    return true;
  }

  int depth_ = 0;
  bool wanted_ = false;
  std::string key_;
};

}  // namespace

std::string_view outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kReceived: return "received";
    case Outcome::kDelivered: return "delivered";
    case Outcome::kFailed: return "failed";
    case Outcome::kRetrying: return "retrying";
    case Outcome::kDeadLettered: return "deadlettered";
  }
  return "unknown";
}

std::string eventIdOf(std::string_view eventJson) {
  boost::json::basic_parser<IdFinder> parser(boost::json::parse_options{});
  boost::system::error_code ec;
  parser.write_some(false, eventJson.data(), eventJson.size(), ec);
  IdFinder& finder = parser.handler();
  if (!finder.found) return {};
  return std::move(finder.id);
}

std::string sampleJson(const Observation& o, std::chrono::system_clock::time_point at) {
  std::string out;
  out.reserve(256);
  JsonWriter json(out);
  json.raw('{').key("outcome").string(outcomeName(o.outcome));
  json.raw(',').key("space").string(cut(o.space, kMaxField));
  std::string readId;
  std::string_view id = o.eventId;
  if (id.empty() && !o.eventJson.empty()) {
    readId = eventIdOf(o.eventJson);
    id = readId;
  }
  json.raw(',').key("eventId").string(cut(id, kMaxField));
  json.raw(',').key("eventType").string(cut(o.eventType, kMaxField));
  if (!o.functionId.empty()) json.raw(',').key("functionId").string(cut(o.functionId, kMaxField));
  if (!o.subscriptionId.empty()) {
    json.raw(',').key("subscriptionId").string(cut(o.subscriptionId, kMaxField));
  }
  if (o.outcome == Outcome::kReceived) {
    json.raw(',').key("functions").raw('[');
    // As many as fit the bound on a sample's size.
    for (std::size_t i = 0; i < o.functions.size() && i < 32; ++i) {
      if (i > 0) json.raw(',');
      json.string(cut(o.functions[i], kMaxField));
    }
    json.raw(']');
  }
  if (o.httpStatus != 0) {
    json.raw(',').key("status").raw(std::to_string(o.httpStatus));
  } else if (!o.errorKind.empty()) {
    json.raw(',').key("status").string(cut(o.errorKind, kMaxField));
  }
  if (!o.error.empty()) json.raw(',').key("error").string(cut(o.error, kMaxError));
  if (o.outcome != Outcome::kReceived) {
    json.raw(',').key("attempt").raw(std::to_string(o.attempt));
    char buf[32];
    const double ms = std::chrono::duration<double, std::milli>(o.latency).count();
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ms, std::chars_format::fixed, 3);
    json.raw(',').key("latencyMs").raw(std::string_view(buf, ec == std::errc() ? end - buf : 0));
  }
  json.raw(',').key("time").raw('"');
  appendTime(out, at);
  json.raw("\"}");
  return out;
}

bool TailFilter::matches(const Observation& o) const {
  if (!eventType.empty() && eventType != o.eventType) return false;
  if (functionId.empty() || functionId == o.functionId) return true;
  if (o.outcome != Outcome::kReceived) return false;
  return std::find(o.functions.begin(), o.functions.end(), functionId) != o.functions.end();
}

// ---------------------------------------------------------------------------------------

struct TailSubscription::Client {
  Client(std::string s, TailFilter f, const TailSettings& settings)
      : space(std::move(s)),
        filter(std::move(f)),
        ring(std::max<std::size_t>(settings.ringSize, 1)),
        rate(settings.rate),
        burst(std::max(settings.burst, 1.0)),
        tokens(burst),
        refilled(std::chrono::steady_clock::now()) {}

  // A token of the rate, or false (counted) when there is none.
  bool take(std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mu);
    const double elapsed = std::chrono::duration<double>(now - refilled).count();
    if (elapsed > 0) {
      tokens = std::min(burst, tokens + elapsed * rate);
      refilled = now;
    }
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    ++skippedRate;
    return false;
  }

  // Puts a sample in the ring; true when it pushed the oldest out.
  bool push(Outcome outcome, const std::shared_ptr<const std::string>& data) {
    std::shared_ptr<const std::string> dropped;  // freed after the lock
    std::lock_guard lock(mu);
    bool full = false;
    if (count == ring.size()) {
      dropped = std::move(ring[head].data);
      head = (head + 1) % ring.size();
      --count;
      ++skippedSlow;
      full = true;
    }
    TailSample& slot = ring[(head + count) % ring.size()];
    slot.id = nextId++;
    slot.outcome = outcome;
    slot.data = data;
    ++count;
    return full;
  }

  const std::string space;
  const TailFilter filter;
  std::mutex mu;
  std::vector<TailSample> ring;
  std::size_t head = 0;
  std::size_t count = 0;
  uint64_t nextId = 1;
  const double rate;
  const double burst;
  double tokens;
  std::chrono::steady_clock::time_point refilled;
  uint64_t skippedRate = 0;
  uint64_t skippedSlow = 0;
  bool closed = false;
};

struct TailSubscription::Core {
  using Tails = std::map<std::string, std::vector<std::shared_ptr<Client>>, std::less<>>;

  Core(metrics::Registry& registry, TailSettings s)
      : settings(s),
        skipped(registry.counterFamily("eventgateway_tail_skipped_total",
                                       "Observations an event tail left out: above its rate "
                                       "(rate), or not read in time by its client (slow).",
                                       {"reason"})),
        skippedRate(skipped.with({"rate"})),
        skippedSlow(skipped.with({"slow"})),
        tailsGauge(registry.gauge("eventgateway_tails", "Event tails open.")),
        tails(std::make_shared<const Tails>()) {}

  // Tails come and go rarely: each change publishes a new copy, which publish reads
  // without a lock.
  void remove(const std::shared_ptr<Client>& client) {
    std::shared_ptr<const Tails> previous;  // released after the lock
    std::lock_guard lock(mu);
    auto next = std::make_shared<Tails>(*tails.loadFresh());
    const auto it = next->find(client->space);
    if (it == next->end()) return;
    auto& list = it->second;
    const auto pos = std::find(list.begin(), list.end(), client);
    if (pos == list.end()) return;
    list.erase(pos);
    if (list.empty()) next->erase(it);
    previous = tails.publish(std::move(next));
    open.fetch_sub(1, std::memory_order_relaxed);
    tailsGauge.add(-1);
  }

  const TailSettings settings;
  metrics::CounterFamily& skipped;
  metrics::Counter& skippedRate;
  metrics::Counter& skippedSlow;
  metrics::Gauge& tailsGauge;
  std::atomic<std::size_t> open{0};
  std::mutex mu;  // writers of `tails`, and `closed`
  bool closed = false;
  Published<Tails> tails;
};

TailSubscription::TailSubscription(std::weak_ptr<Core> core, std::shared_ptr<Client> client)
    : core_(std::move(core)), client_(std::move(client)) {}

TailSubscription::~TailSubscription() {
  if (auto core = core_.lock()) core->remove(client_);
}

void TailSubscription::drain(TailBatch& batch) {
  batch.samples.clear();
  Client& c = *client_;
  std::lock_guard lock(c.mu);
  batch.samples.reserve(c.count);
  for (std::size_t i = 0; i < c.count; ++i) {
    batch.samples.push_back(std::move(c.ring[(c.head + i) % c.ring.size()]));
  }
  c.head = 0;
  c.count = 0;
  batch.skippedRate = std::exchange(c.skippedRate, 0);
  batch.skippedSlow = std::exchange(c.skippedSlow, 0);
  batch.closed = c.closed;
}

// ---------------------------------------------------------------------------------------

TailHub::TailHub(metrics::Registry& registry, TailSettings settings)
    : core_(std::make_shared<TailSubscription::Core>(registry, settings)), open_(&core_->open) {}

TailHub::~TailHub() { close(); }

Result<std::unique_ptr<TailSubscription>> TailHub::subscribe(std::string space,
                                                             TailFilter filter) {
  auto client = std::make_shared<TailSubscription::Client>(std::move(space), std::move(filter),
                                                           core_->settings);
  std::shared_ptr<const TailSubscription::Core::Tails> previous;  // released after the lock
  {
    std::lock_guard lock(core_->mu);
    if (core_->closed) return Error::unavailable("the gateway is shutting down");
    if (core_->open.load(std::memory_order_relaxed) >= core_->settings.maxTails) {
      return Error::unavailable("too many event tails open (" +
                                std::to_string(core_->settings.maxTails) + ")");
    }
    auto next = std::make_shared<TailSubscription::Core::Tails>(*core_->tails.loadFresh());
    (*next)[client->space].push_back(client);
    previous = core_->tails.publish(std::move(next));
    core_->open.fetch_add(1, std::memory_order_relaxed);
    core_->tailsGauge.add(1);
  }
  return std::unique_ptr<TailSubscription>(new TailSubscription(core_, std::move(client)));
}

void TailHub::publish(const Observation& o) {
  const std::shared_ptr<const TailSubscription::Core::Tails> tails = core_->tails.load();
  const auto it = tails->find(o.space);
  if (it == tails->end()) return;
  const auto now = std::chrono::steady_clock::now();
  boost::container::small_vector<TailSubscription::Client*, 8> takers;
  for (const auto& client : it->second) {
    if (!client->filter.matches(o)) continue;
    if (client->take(now)) {
      takers.push_back(client.get());
    } else {
      core_->skippedRate.inc();
    }
  }
  if (takers.empty()) return;
  // Written once, outside every lock, for all the tails that took it.
  const auto data =
      std::make_shared<const std::string>(sampleJson(o, std::chrono::system_clock::now()));
  for (auto* client : takers) {
    if (client->push(o.outcome, data)) core_->skippedSlow.inc();
  }
}

void TailHub::close() {
  std::shared_ptr<const TailSubscription::Core::Tails> tails;
  {
    std::lock_guard lock(core_->mu);
    core_->closed = true;
    tails = core_->tails.loadFresh();
  }
  for (const auto& [space, clients] : *tails) {
    for (const auto& client : clients) {
      std::lock_guard lock(client->mu);
      client->closed = true;
    }
  }
}

}  // namespace eg::observe
