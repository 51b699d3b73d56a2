#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "metrics/metrics.h"
#include "observe/observation.h"

namespace eg::observe {

// Which observations of its space a tail wants.
struct TailFilter {
  std::string eventType;   // empty: any
  std::string functionId;  // empty: any; a kReceived matches when the event goes to it
  bool matches(const Observation& o) const;
};

// | option     | default | meaning                                                         |
// |------------|---------|-----------------------------------------------------------------|
// | ringSize   | 256     | samples a tail holds for its client; one that reads slower      |
// |            |         | loses the oldest ("slow" skips)                                 |
// | rate       | 100     | samples per second a tail takes at most; beyond, observations   |
// | burst      | 100     | are skipped ("rate" skips), after a burst of `burst` at once    |
// | maxTails   | 100     | tails open at once; more are refused                            |
struct TailSettings {
  std::size_t ringSize = 256;
  double rate = 100;
  double burst = 100;
  std::size_t maxTails = 100;
};

// One observation as a tail's client gets it.
struct TailSample {
  uint64_t id = 0;  // the tail's own sequence, from 1: it grows, with gaps where skipped
  Outcome outcome = Outcome::kReceived;
  std::shared_ptr<const std::string> data;  // JSON, shared by every tail that took it
};

// What a tail had for its client since the last drain.
struct TailBatch {
  std::vector<TailSample> samples;  // in the order they were published
  uint64_t skippedRate = 0;  // observations beyond the tail's rate
  uint64_t skippedSlow = 0;  // samples dropped because the client did not take them
  bool closed = false;       // the hub closed: the tail ends
};

class TailHub;

// One client's tail, from TailHub::subscribe; leaves the hub when destroyed. Drained by
// one thread at a time (the client's connection); filled by any.
class TailSubscription {
 public:
  ~TailSubscription();
  TailSubscription(const TailSubscription&) = delete;
  TailSubscription& operator=(const TailSubscription&) = delete;

  // Moves what is waiting into `batch` (its samples replaced).
  void drain(TailBatch& batch);

 private:
  friend class TailHub;
  struct Client;
  struct Core;
  TailSubscription(std::weak_ptr<Core> core, std::shared_ptr<Client> client);
  std::weak_ptr<Core> core_;
  std::shared_ptr<Client> client_;
};

// The live tails (spec §7): every observation of a space is offered to that space's
// tails, each of which keeps a sample in a ring of its own, within its rate. Nothing
// waits for a client: a full ring loses its oldest sample, an observation above the
// rate is skipped, both counted for the client (TailBatch) and in
// eventgateway_tail_skipped_total{reason="slow"|"rate"}; eventgateway_tails is the number
// open. Memory is bounded by maxTails rings of ringSize samples of bounded size.
//
// Thread-safe. publish costs one relaxed load while no tail is open (check active()
// first: the caller then builds nothing), and takes no lock of the hub's; a tail's own
// lock is held only to take a token or to put a sample in its ring. The registry
// outlives the hub; subscriptions may outlive it (they then only end).
class TailHub {
 public:
  explicit TailHub(metrics::Registry& registry, TailSettings settings = {});
  ~TailHub();
  TailHub(const TailHub&) = delete;
  TailHub& operator=(const TailHub&) = delete;

  // Whether any tail is open, in any space.
  bool active() const { return open_->load(std::memory_order_relaxed) != 0; }

  // A new tail of `space`; kUnavailable when maxTails are open or the hub is closed.
  Result<std::unique_ptr<TailSubscription>> subscribe(std::string space, TailFilter filter);

  // Offers `o` to the tails of its space.
  void publish(const Observation& o);

  // Ends every tail (their next drain says closed) and refuses new ones: shutdown.
  void close();

 private:
  std::shared_ptr<TailSubscription::Core> core_;
  const std::atomic<std::size_t>* open_;  // the count in *core_
};

// The sample's JSON: {"outcome", "space", "eventId", "eventType", "functionId",
// "subscriptionId", "functions", "status", "error", "attempt", "latencyMs", "time"},
// fields without a value left out; strings cut at 256 bytes (the error at 512).
std::string sampleJson(const Observation& o, std::chrono::system_clock::time_point at);

// The ID of the event whose JSON is `eventJson` ("eventID", or "id" in 1.0), reading no
// further than it; empty when there is none.
std::string eventIdOf(std::string_view eventJson);

}  // namespace eg::observe
