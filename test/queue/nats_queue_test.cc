#include "queue/nats/nats_queue.h"

#include <poll.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "queue/queue_contract.h"
#include "queue/nats_test_server.h"

namespace eg::queue::testing {
namespace {

using natstest::NatsServers;
using natstest::natsServerInstalled;

// Each queue of a test gets a stream, subject and consumer of its own, so that tests
// sharing one server never see each other's deliveries.
NatsQueueOptions optionsFor(std::vector<std::string> servers) {
  static std::atomic<int> counter{0};
  const std::string n = std::to_string(getpid()) + "_" + std::to_string(++counter);
  NatsQueueOptions o;
  o.servers = std::move(servers);
  o.replicas = 1;
  o.maxBytes = 16 << 20;
  o.stream = "EGTEST_" + n;
  o.subject = "egtest." + n;
  o.consumer = "egtest_" + n;
  return o;
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A started queue that is connected and set up (as the contract's factories promise).
std::unique_ptr<NatsQueue> startReady(const NatsQueueOptions& options,
                                      std::chrono::milliseconds limit = 10s) {
  auto q = std::make_unique<NatsQueue>(options);
  auto s = q->start();
  if (!s) {
    ADD_FAILURE() << "start: " << s.error().message;
    return q;
  }
  if (!waitUntil([&] { return q->ready(); }, limit)) {
    ADD_FAILURE() << "the NATS queue did not get ready; enqueue says: "
                  << enqueueNow(*q, event("probe"), {target("probe")}).error().message;
  }
  return q;
}

// One server for the whole contract suite (a process), started on first use.
NatsServers& sharedServer() {
  static std::unique_ptr<NatsServers> server = std::make_unique<NatsServers>(1);
  return *server;
}

struct NatsFactory {
  static constexpr bool kDurable = true;

  // A skip recorded while the fixture is made skips the test's body too.
  NatsFactory() { skipWithoutServer(); }
  static void skipWithoutServer() {
    if (!natsServerInstalled()) GTEST_SKIP() << natstest::natsServerBinary() << " not found";
  }
  std::unique_ptr<DeliveryQueue> open() {
    options_ = optionsFor(sharedServer().servers());
    return startReady(options_);
  }
  std::unique_ptr<DeliveryQueue> reopen() { return startReady(options_); }

  NatsQueueOptions options_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Nats, QueueContractTest, ::testing::Types<NatsFactory>);

namespace {

class NatsQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!natsServerInstalled()) GTEST_SKIP() << natstest::natsServerBinary() << " not found";
  }
};

TEST_F(NatsQueueTest, StartsWithoutNatsRefusesAtOnceAndWorksOnceNatsIsUp) {
  NatsServers servers(1);
  servers.kill(0);
  NatsQueue q(optionsFor(servers.servers()));
  ASSERT_TRUE(q.start().ok()) << "NATS being down is no reason not to start";
  EXPECT_FALSE(q.ready());
  PendingTake pending(q, 1);

  const auto before = std::chrono::steady_clock::now();
  Status refused = enqueueNow(q, event("early"), {target("a")});
  EXPECT_LT(std::chrono::steady_clock::now() - before, 500ms) << "refused without waiting";
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(refused.error().message.find("NATS"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(pending.readyWithin(200ms)) << "a take waits while NATS is down";

  servers.start(0);
  ASSERT_TRUE(servers.waitReady(0));
  ASSERT_TRUE(waitUntil([&] { return q.ready(); }, 15s)) << "connected in the background";
  ASSERT_TRUE(enqueueNow(q, event("late"), {target("a")}).ok());
  auto leases = pending.get();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].delivery.event->payload, "late");
  q.complete(std::move(leases[0]));
}

TEST_F(NatsQueueTest, GoesOnAfterTheServerIsKilledAndRestarted) {
  NatsServers servers(1);
  auto opts = optionsFor(servers.servers());
  // An enqueue right after the kill, before the client noticed, waits for this.
  opts.publishTimeout = 1s;
  auto q = startReady(opts);
  ASSERT_TRUE(enqueueNow(*q, event("kept"), {target("a"), target("b"), target("c")}).ok());
  auto held = takeNow(*q, 1);
  ASSERT_EQ(held.size(), 1u);
  std::set<std::string> handedOut = {held[0].delivery.target.subscriptionId};

  servers.kill(0);
  auto refused = enqueueNow(*q, event("down"), {target("a")});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  servers.start(0);
  ASSERT_TRUE(servers.waitReady(0));
  ASSERT_TRUE(waitUntil([&] { return q->ready(); }, 15s)) << "did not reconnect";

  // The lease taken before the restart is settled after it. A server killed mid-way may
  // have lost the consumer's record of what it handed out, so a delivery may come again
  // (at least once); none is lost.
  q->complete(std::move(held[0]));
  ASSERT_TRUE(enqueueNow(*q, event("after"), {target("d")}).ok());
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (handedOut.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    for (auto& l : takeNow(*q, 5)) {
      handedOut.insert(l.delivery.target.subscriptionId);
      q->complete(std::move(l));
    }
  }
  EXPECT_EQ(handedOut, (std::set<std::string>{"a", "b", "c", "d"}));
}

TEST_F(NatsQueueTest, GoesAwayInBoundedTimeWhenTheServerHangs) {
  NatsServers servers(1);
  auto opts = optionsFor(servers.servers());
  opts.publishTimeout = 1s;
  auto q = startReady(opts);
  ASSERT_TRUE(enqueueNow(*q, event("one"), {target("a")}).ok());
  auto leases = takeNow(*q, 1);
  ASSERT_EQ(leases.size(), 1u);

  servers.freeze(0);
  std::promise<Status> answer;
  q->enqueue(EnqueueRequest{event("stuck"), {target("a")}},
             [&answer](Status s) { answer.set_value(std::move(s)); });
  q->complete(std::move(leases[0]));  // its ack waits for a server that does not answer
  PendingTake pending(*q, 1);
  const auto before = std::chrono::steady_clock::now();
  q.reset();
  const auto took = std::chrono::steady_clock::now() - before;
  servers.thaw(0);
  EXPECT_LT(took, 8s);
  auto f = answer.get_future();
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready) << "the enqueue was never answered";
  auto s = f.get();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(pending.get().empty());
  std::cout << "[          ] destroyed in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
}

TEST_F(NatsQueueTest, StartFailsForUnusableTlsAndCredentialsFiles) {
  auto opts = optionsFor({"127.0.0.1:1"});
  opts.tlsCa = "/nonexistent/ca.pem";
  auto s = NatsQueue(opts).start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(s.error().message.find("/nonexistent/ca.pem"), std::string::npos);

  opts = optionsFor({"127.0.0.1:1"});
  opts.credsFile = "/nonexistent/user.creds";
  s = NatsQueue(opts).start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/nonexistent/user.creds"), std::string::npos);

  const std::string garbage = std::filesystem::temp_directory_path() /
                              ("eg-nats-creds-" + std::to_string(getpid()));
  std::ofstream(garbage) << "secret-looking text that is no credentials file\n";
  opts.credsFile = garbage;
  s = NatsQueue(opts).start();
  std::filesystem::remove(garbage);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.find("secret"), std::string::npos) << "never quotes the file";

  opts = optionsFor({"127.0.0.1:1"});
  opts.tlsCert = "/etc/hostname";  // readable, but without its key
  s = NatsQueue(opts).start();
  ASSERT_FALSE(s.ok());
}

// A private CA, a server certificate for 127.0.0.1 and a client certificate it signed, and
// an unrelated CA; made with the openssl command.
class Certificates {
 public:
  Certificates() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "eg-nats-tls-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    std::ofstream(dir_ + "/server.ext") << "subjectAltName=IP:127.0.0.1\n"
                                           "extendedKeyUsage=serverAuth\n";
    std::ofstream(dir_ + "/client.ext") << "extendedKeyUsage=clientAuth\n";
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string sign = " -CA ca.crt -CAkey ca.key -CAcreateserial -days 2";
    const std::string script =
        "cd " + dir_ + " && (openssl req -x509" + key +
        " -keyout ca.key -out ca.crt -days 2 -subj /CN=eg-test-ca" +
        " && openssl req" + key + " -keyout server.key -out server.csr -subj /CN=127.0.0.1" +
        " && openssl x509 -req -in server.csr" + sign + " -out server.crt -extfile server.ext" +
        " && openssl req" + key + " -keyout client.key -out client.csr -subj /CN=eg-client" +
        " && openssl x509 -req -in client.csr" + sign + " -out client.crt -extfile client.ext" +
        " && openssl req -x509" + key +
        " -keyout other.key -out other.crt -days 2 -subj /CN=other-ca) > openssl.log 2>&1";
    ok_ = std::system(script.c_str()) == 0;
  }
  ~Certificates() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  natstest::NatsTlsFiles files() const {
    return {path("ca.crt"), path("server.crt"), path("server.key"), path("client.crt"),
            path("client.key")};
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

TEST_F(NatsQueueTest, TalksTlsWithAClientCertificateAndTrustsOnlyItsCa) {
  Certificates certs;
  ASSERT_TRUE(certs.ok()) << "openssl failed";
  NatsServers servers(1, certs.files());
  auto opts = optionsFor(servers.servers());
  opts.tlsCa = certs.path("ca.crt");
  opts.tlsCert = certs.path("client.crt");
  opts.tlsKey = certs.path("client.key");
  auto q = startReady(opts);
  ASSERT_TRUE(enqueueNow(*q, event("secret"), {target("a")}).ok());
  auto leases = takeNow(*q, 1);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].delivery.event->payload, "secret");
  q->complete(std::move(leases[0]));

  auto untrusting = opts;
  untrusting.tlsCa = certs.path("other.crt");
  NatsQueue other(untrusting);
  ASSERT_TRUE(other.start().ok());
  EXPECT_FALSE(waitUntil([&] { return other.ready(); }, 1500ms)) << "trusted a stranger's CA";
  auto refused = enqueueNow(other, event("x"), {target("a")});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  std::cout << "[          ] " << refused.error().message << "\n";
}

TEST_F(NatsQueueTest, ReplicasTheServerCannotHaveAreReportedInItsWords) {
  auto opts = optionsFor(sharedServer().servers());
  opts.replicas = 3;
  NatsQueue q(opts);
  ASSERT_TRUE(q.start().ok());
  std::string message;
  EXPECT_TRUE(waitUntil(
      [&] {
        auto s = enqueueNow(q, event("x"), {target("a")});
        message = s ? "" : s.error().message;
        return message.find("replicas") != std::string::npos;
      },
      10s))
      << "last refusal: " << message;
  EXPECT_FALSE(q.ready());
}

TEST_F(NatsQueueTest, AFullStreamRefusesWithUnavailableUntilThereIsRoomAgain) {
  auto opts = optionsFor(sharedServer().servers());
  opts.maxBytes = 16 * 1024;
  auto q = startReady(opts);
  Status refused;
  int stored = 0;
  for (int i = 0; i < 100 && refused; ++i) {
    refused = enqueueNow(*q, event(std::string(1000, 'x')), {target("a")});
    if (refused) ++stored;
  }
  ASSERT_FALSE(refused.ok()) << "never full";
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(refused.error().message, "delivery queue is full");
  EXPECT_GT(stored, 5);
  auto leases = takeAll(*q, 2);
  for (auto& l : leases) q->complete(std::move(l));
  EXPECT_TRUE(waitUntil([&] { return enqueueNow(*q, event("room"), {target("a")}).ok(); }, 5s));
}

TEST_F(NatsQueueTest, AnEventLargerThanTheServerTakesIsRefused) {
  auto q = startReady(optionsFor(sharedServer().servers()));
  auto s = enqueueNow(*q, event(std::string(2 << 20, 'x')), {target("a")});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(s.error().message.find("max_payload"), std::string::npos) << s.error().message;
}

// Deletes a stream as an operator (or a server that lost its data) would.
bool deleteStream(const std::string& server, const std::string& stream) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, ("nats://" + server).c_str()) != NATS_OK) return false;
  jsCtx* js = nullptr;
  bool ok = natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
            js_DeleteStream(js, stream.c_str(), nullptr, nullptr) == NATS_OK;
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return ok;
}

TEST_F(NatsQueueTest, AStreamThatVanishesIsCreatedAgain) {
  const auto opts = optionsFor(sharedServer().servers());
  auto q = startReady(opts);
  PendingTake pending(*q, 1);
  ASSERT_TRUE(deleteStream(opts.servers[0], opts.stream));
  EXPECT_TRUE(waitUntil([&] { return enqueueNow(*q, event("again"), {target("a")}).ok(); }, 10s))
      << "the stream and the consumer were not set up again";
  auto leases = pending.get();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].delivery.event->payload, "again");
  q->complete(std::move(leases[0]));
}

TEST_F(NatsQueueTest, TwoInstancesShareTheDeliveriesEachHandedToOne) {
  const auto opts = optionsFor(sharedServer().servers());
  std::unique_ptr<NatsQueue> queues[] = {startReady(opts), startReady(opts)};
  constexpr int kEvents = 60;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(enqueueNow(*queues[i % 2], event(std::to_string(i)), {target("a")}).ok());
  }
  std::mutex mu;
  std::map<std::string, int> seen;
  std::atomic<int> total{0};
  int perQueue[2] = {0, 0};
  auto consume = [&](int which) {
    NatsQueue& q = *queues[which];
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (total < kEvents && std::chrono::steady_clock::now() < deadline) {
      PendingTake pending(q, 7);
      while (!pending.readyWithin(50ms)) {
        if (total >= kEvents || std::chrono::steady_clock::now() >= deadline) q.close();
      }
      for (auto& l : pending.get()) {
        {
          std::lock_guard lock(mu);
          ++seen[l.delivery.event->payload];
          ++perQueue[which];
        }
        ++total;
        q.complete(std::move(l));
      }
    }
    q.close();
  };
  std::thread a(consume, 0), b(consume, 1);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), kEvents);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kEvents));
  for (const auto& [payload, count] : seen) EXPECT_EQ(count, 1) << payload << " handed out twice";
  std::cout << "[          ] handed out by each instance: " << perQueue[0] << ", " << perQueue[1]
            << "\n";
}

TEST_F(NatsQueueTest, AnUnsettledLeaseOfAQueueThatGoesIsHandedToTheOtherAtOnce) {
  const auto opts = optionsFor(sharedServer().servers());  // ackWait: a minute
  auto first = startReady(opts);
  auto second = startReady(opts);
  ASSERT_TRUE(enqueueNow(*first, event("held"), {target("a")}).ok());
  auto held = takeNow(*first, 1);
  ASSERT_EQ(held.size(), 1u);
  PendingTake pending(*second, 1);
  EXPECT_FALSE(pending.readyWithin(300ms)) << "handed out while leased";
  const auto gone = std::chrono::steady_clock::now();
  first.reset();  // the lease is still held here, unsettled
  auto again = pending.get();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - gone, 5s) << "not after the ack wait";
  EXPECT_EQ(again[0].delivery.event->payload, "held");
  EXPECT_EQ(again[0].delivery.attempts, 0u);
  held.clear();  // a lease outliving its queue ends quietly
  second->complete(std::move(again[0]));
  EXPECT_FALSE(PendingTake(*second, 1).readyWithin(300ms)) << "delivered twice";
}

// The child process of the next test: holds a lease until it is killed.
TEST(NatsQueueChild, DISABLED_HoldsALeaseUntilKilled) {
  const char* server = std::getenv("EG_NATS_CHILD_SERVER");
  const char* name = std::getenv("EG_NATS_CHILD_NAME");
  if (server == nullptr || name == nullptr) GTEST_SKIP() << "run by a test, not alone";
  NatsQueueOptions o;
  o.servers = {server};
  o.replicas = 1;
  o.maxBytes = 16 << 20;
  o.stream = std::string("EGTEST_") + name;
  o.subject = std::string("egtest.") + name;
  o.consumer = std::string("egtest_") + name;
  o.ackWait = 1s;
  auto q = startReady(o);
  auto leases = takeNow(*q, 1);
  ASSERT_EQ(leases.size(), 1u);
  std::cout << "\nHELD " << leases[0].delivery.event->payload << std::endl;
  std::this_thread::sleep_for(60s);
}

TEST_F(NatsQueueTest, ALeaseIsKeptWhileItsInstanceLivesAndRedeliveredAfterAKill9) {
  auto opts = optionsFor(sharedServer().servers());
  opts.ackWait = 1s;
  const std::string name = opts.stream.substr(std::string("EGTEST_").size());
  auto q = startReady(opts);
  ASSERT_TRUE(enqueueNow(*q, event("long call"), {target("a")}).ok());

  // Everything the child needs is made before fork: after it, only exec.
  std::vector<std::string> env = {"EG_NATS_CHILD_SERVER=" + opts.servers[0],
                                  "EG_NATS_CHILD_NAME=" + name};
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string arg0 = "queue_test", arg1 = "--gtest_also_run_disabled_tests",
              arg2 = "--gtest_filter=NatsQueueChild.DISABLED_HoldsALeaseUntilKilled";
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], 1);
    ::close(out[0]);
    execve("/proc/self/exe", argv, envp.data());
    _exit(127);
  }
  ::close(out[1]);
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (output.find("HELD long call") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[512];
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  auto reap = [&] {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  };
  if (output.find("HELD long call") == std::string::npos) {
    reap();
    FAIL() << "the child did not take the lease; its output:\n" << output;
  }

  PendingTake pending(*q, 1);
  EXPECT_FALSE(pending.readyWithin(2500ms)) << "redelivered although its holder kept it alive";
  const auto killed = std::chrono::steady_clock::now();
  reap();
  auto again = pending.get();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.event->payload, "long call");
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 4s) << "not about one ack wait after";
  q->complete(std::move(again[0]));
}

// The stream leader's index in `servers`, or -1.
int streamLeader(const NatsServers& servers, const NatsQueueOptions& o) {
  for (int i = 0; i < servers.size(); ++i) {
    if (!servers.running(i)) continue;
    natsConnection* nc = nullptr;
    if (natsConnection_ConnectTo(&nc, ("nats://" + servers.server(i)).c_str()) != NATS_OK) {
      continue;
    }
    jsCtx* js = nullptr;
    jsStreamInfo* info = nullptr;
    int leader = -1;
    if (natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
        js_GetStreamInfo(&info, js, o.stream.c_str(), nullptr, nullptr) == NATS_OK &&
        info->Cluster != nullptr && info->Cluster->Leader != nullptr) {
      leader = servers.indexOf(info->Cluster->Leader);
    }
    jsStreamInfo_Destroy(info);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    if (leader >= 0) return leader;
  }
  return -1;
}

TEST_F(NatsQueueTest, AClusterLosesNothingAcknowledgedWhenTheStreamLeaderDies) {
  NatsServers cluster(3);
  auto opts = optionsFor(cluster.servers());
  opts.replicas = 3;
  auto q = startReady(opts, 30s);
  ASSERT_TRUE(q->ready());
  std::set<std::string> acknowledged;
  for (int i = 0; i < 10; ++i) {
    const std::string payload = "before " + std::to_string(i);
    ASSERT_TRUE(enqueueNow(*q, event(payload), {target("a")}).ok());
    acknowledged.insert(payload);
  }
  const int leader = streamLeader(cluster, opts);
  ASSERT_GE(leader, 0);
  cluster.kill(leader);

  std::map<std::string, int> refusals;  // while a new leader is elected
  const auto killed = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration downtime{};
  for (int i = 0; i < 10 && std::chrono::steady_clock::now() < killed + 30s;) {
    const std::string payload = "after " + std::to_string(i);
    auto s = enqueueNow(*q, event(payload), {target("a")});
    if (s.ok()) {
      if (acknowledged.size() == 10) downtime = std::chrono::steady_clock::now() - killed;
      acknowledged.insert(payload);
      ++i;
    } else {
      ++refusals[s.error().message];
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_EQ(acknowledged.size(), 20u) << "enqueue did not go on after the leader died";

  std::set<std::string> seen;
  const auto takeDeadline = std::chrono::steady_clock::now() + 30s;
  while (seen.size() < acknowledged.size() && std::chrono::steady_clock::now() < takeDeadline) {
    PendingTake pending(*q, 20);
    if (!pending.readyWithin(5s)) break;
    for (auto& l : pending.get()) {
      seen.insert(l.delivery.event->payload);
      q->complete(std::move(l));
    }
  }
  for (const auto& p : acknowledged) EXPECT_TRUE(seen.contains(p)) << p << " was lost";
  std::cout << "[          ] enqueue refused for "
            << std::chrono::duration_cast<std::chrono::milliseconds>(downtime).count()
            << " ms after the leader died:\n";
  for (const auto& [message, count] : refusals) {
    std::cout << "[          ]   " << count << " x " << message << "\n";
  }
}

}  // namespace
}  // namespace eg::queue::testing
