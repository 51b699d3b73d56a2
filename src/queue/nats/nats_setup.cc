#include "queue/nats/nats_setup.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

namespace eg::queue::nats {
namespace {

// A delayed retry waits as an unacknowledged message; the server's default (1000) would
// stop handing out fresh deliveries while that many retries wait. The C client cannot ask
// for "unlimited" (it leaves out values below 1), hence a large bound.
constexpr int64_t kMaxAckPending = 1'000'000;
constexpr int64_t kNanosPerMilli = 1'000'000;

// The connection is made in the background (the control thread polls its status); the
// library wants a callback to make natsConnection_Connect return at once.
void onConnected(natsConnection*, void*) {}

// Errors the library meets on its own threads (a slow consumer, say); no closure, so it
// can be called at any time.
void onAsyncError(natsConnection*, natsSubscription*, natsStatus error, void*) {
  spdlog::warn("delivery queue (NATS): {}", natsStatus_GetText(error));
}

Status checkReadable(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) {
    return Error::invalid(std::string("cannot read the ") + what + " " + path + ": " +
                          std::strerror(errno));
  }
  return {};
}

// A credentials file holds a user JWT and an nkey seed; the library reads it only when it
// connects, which is too late to tell the operator at start-up. Its content (a secret)
// is never logged nor put into an error.
Status checkCreds(const std::string& path) {
  if (auto s = checkReadable(path, "NATS credentials file"); !s) return s;
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("NATS USER JWT") == std::string::npos ||
      text.find("NKEY SEED") == std::string::npos) {
    return Error::invalid("the NATS credentials file " + path +
                          " holds no user JWT and nkey seed");
  }
  return {};
}

std::string withScheme(const std::string& server) {
  return server.find("://") == std::string::npos ? "nats://" + server : server;
}

jsOptions requestOptions(const NatsQueueOptions& options) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = options.publishTimeout.count();
  return o;
}

}  // namespace

Error unavailable(const std::string& reason) {
  return Error::unavailable(std::string(kUnavailable) + reason);
}

std::string lastError(natsStatus status, jsErrCode code) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  std::string out = text != nullptr && *text != '\0' ? text : natsStatus_GetText(status);
  // The library puts where it failed first: "(jsm.c:1033): ...".
  if (!out.empty() && out.front() == '(') {
    if (auto end = out.find("): "); end != std::string::npos) out.erase(0, end + 3);
  }
  if (code != 0) out += " (error " + std::to_string(static_cast<int>(code)) + ")";
  return out;
}

Result<natsOptions*> makeConnectionOptions(const NatsQueueOptions& options) {
  if (options.servers.empty()) return Error::invalid("no NATS server given");
  for (const auto& server : options.servers) {
    if (server.empty()) return Error::invalid("an empty NATS server in the list");
  }
  for (const auto& [path, what] : {std::pair{&options.tlsCa, "NATS TLS CA file"},
                                   std::pair{&options.tlsCert, "NATS TLS certificate"},
                                   std::pair{&options.tlsKey, "NATS TLS key"}}) {
    if (!path->empty()) {
      if (auto s = checkReadable(*path, what); !s) return std::move(s).error();
    }
  }
  if (options.tlsCert.empty() != options.tlsKey.empty()) {
    return Error::invalid("a NATS TLS client certificate needs its key, and a key its certificate");
  }
  if (!options.credsFile.empty()) {
    if (auto s = checkCreds(options.credsFile); !s) return std::move(s).error();
  }

  natsOptions* raw = nullptr;
  if (natsOptions_Create(&raw) != NATS_OK) return Error::internal("natsOptions_Create failed");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> opts(raw, natsOptions_Destroy);

  std::vector<std::string> urls;
  for (const auto& s : options.servers) urls.push_back(withScheme(s));
  std::vector<const char*> urlPtrs;
  for (const auto& u : urls) urlPtrs.push_back(u.c_str());

  natsStatus s =
      natsOptions_SetServers(opts.get(), urlPtrs.data(), static_cast<int>(urlPtrs.size()));
  if (s != NATS_OK) return Error::invalid("bad NATS server list: " + lastError(s));
  s = natsOptions_SetName(opts.get(), "eventgateway");
  // Connecting and reconnecting go on forever in the background; a server that vanished
  // without closing the connection is noticed by pings within ~15 s.
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), 2000);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), 500);
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(opts.get(), 250, 1000);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts.get(), true, onConnected, nullptr);
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts.get(), 5000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts.get(), 2);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts.get(), onAsyncError, nullptr);
  if (s != NATS_OK) return Error::internal("setting NATS options failed: " + lastError(s));

  if (!options.tlsCa.empty() || !options.tlsCert.empty()) {
    s = natsOptions_SetSecure(opts.get(), true);
    if (s == NATS_OK && !options.tlsCa.empty()) {
      s = natsOptions_LoadCATrustedCertificates(opts.get(), options.tlsCa.c_str());
      if (s != NATS_OK) {
        return Error::invalid("cannot use the NATS TLS CA file " + options.tlsCa + ": " +
                              lastError(s));
      }
    }
    if (s == NATS_OK && !options.tlsCert.empty()) {
      s = natsOptions_LoadCertificatesChain(opts.get(), options.tlsCert.c_str(),
                                            options.tlsKey.c_str());
      if (s != NATS_OK) {
        return Error::invalid("cannot use the NATS TLS certificate " + options.tlsCert +
                              " and key " + options.tlsKey + ": " + lastError(s));
      }
    }
    if (s != NATS_OK) return Error::internal("setting up TLS to NATS failed: " + lastError(s));
  }
  if (!options.credsFile.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(opts.get(), options.credsFile.c_str(), nullptr);
    if (s != NATS_OK) {
      return Error::invalid("cannot use the NATS credentials file " + options.credsFile + ": " +
                            lastError(s));
    }
  }
  return opts.release();
}

Status ensureStream(jsCtx* js, const NatsQueueOptions& options) {
  jsOptions jo = requestOptions(options);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {options.subject.c_str()};
  cfg.Name = options.stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  // WorkQueue: a message is gone once acked, so the stream holds exactly what is due or
  // in flight. DiscardNew: a full stream refuses new deliveries instead of dropping old.
  cfg.Retention = js_WorkQueuePolicy;
  cfg.Storage = js_FileStorage;
  cfg.Discard = js_DiscardNew;
  cfg.Replicas = options.replicas;
  cfg.MaxBytes = static_cast<int64_t>(options.maxBytes);

  const std::string name = "stream " + options.stream;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, options.stream.c_str(), &jo, &code);
  if (s == NATS_NOT_FOUND) {
    s = js_AddStream(&info, js, &cfg, &jo, &code);
    jsStreamInfo_Destroy(info);
    if (s == NATS_OK) {
      spdlog::info("delivery queue (NATS): created {} ({} replicas, {} bytes at most)",
                   name, options.replicas, options.maxBytes);
      return {};
    }
    if (code == JSStreamNameExistErr) return {};  // another instance was quicker
    return unavailable("cannot create " + name + ": " + lastError(s, code));
  }
  if (s != NATS_OK) return unavailable("cannot look up " + name + ": " + lastError(s, code));
  std::unique_ptr<jsStreamInfo, void (*)(jsStreamInfo*)> held(info, jsStreamInfo_Destroy);

  const jsStreamConfig& have = *info->Config;
  if (have.Retention != js_WorkQueuePolicy) {
    return unavailable(name + " exists but is not a work queue (another application's?)");
  }
  const bool sameSubjects = have.SubjectsLen == 1 && have.Subjects != nullptr &&
                            options.subject == have.Subjects[0];
  if (sameSubjects && have.MaxBytes == cfg.MaxBytes && have.Replicas == cfg.Replicas &&
      have.Discard == js_DiscardNew) {
    return {};
  }
  jsStreamInfo* updated = nullptr;
  s = js_UpdateStream(&updated, js, &cfg, &jo, &code);
  jsStreamInfo_Destroy(updated);
  if (s != NATS_OK) {
    // The stream works as it is: say what the server refused, and go on with it.
    spdlog::error(
        "delivery queue (NATS): cannot bring {} to {} replicas and {} bytes at most "
        "(it has {} and {}): {}",
        name, options.replicas, options.maxBytes, have.Replicas, have.MaxBytes,
        lastError(s, code));
    return {};
  }
  spdlog::info("delivery queue (NATS): updated {} to {} replicas, {} bytes at most", name,
               options.replicas, options.maxBytes);
  return {};
}

Status ensureConsumer(jsCtx* js, const NatsQueueOptions& options) {
  jsOptions jo = requestOptions(options);
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = options.consumer.c_str();
  cfg.DeliverPolicy = js_DeliverAll;
  cfg.AckPolicy = js_AckExplicit;
  cfg.AckWait = options.ackWait.count() * kNanosPerMilli;
  cfg.MaxAckPending = kMaxAckPending;
  cfg.FilterSubject = options.subject.c_str();
  cfg.ReplayPolicy = js_ReplayInstant;

  const std::string name = "consumer " + options.consumer;
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&info, js, options.stream.c_str(), options.consumer.c_str(),
                                    &jo, &code);
  if (s == NATS_NOT_FOUND) {
    s = js_AddConsumer(&info, js, options.stream.c_str(), &cfg, &jo, &code);
    jsConsumerInfo_Destroy(info);
    if (s == NATS_OK || code == JSConsumerNameExistErr || code == JSConsumerExistingActiveErr) {
      return {};
    }
    return unavailable("cannot create " + name + ": " + lastError(s, code));
  }
  if (s != NATS_OK) return unavailable("cannot look up " + name + ": " + lastError(s, code));
  std::unique_ptr<jsConsumerInfo, void (*)(jsConsumerInfo*)> held(info, jsConsumerInfo_Destroy);
  const jsConsumerConfig& have = *info->Config;
  if (have.AckWait == cfg.AckWait && have.MaxAckPending == cfg.MaxAckPending) return {};
  jsConsumerInfo* updated = nullptr;
  s = js_UpdateConsumer(&updated, js, options.stream.c_str(), &cfg, &jo, &code);
  jsConsumerInfo_Destroy(updated);
  if (s != NATS_OK) {
    spdlog::error("delivery queue (NATS): cannot update {} (ack wait {} ms): {}", name,
                  options.ackWait.count(), lastError(s, code));
  }
  return {};
}

Result<natsSubscription*> subscribe(jsCtx* js, const NatsQueueOptions& options) {
  jsOptions jo = requestOptions(options);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  // Bound to the existing durable: the library neither creates it nor deletes it when
  // the subscription goes.
  so.Stream = options.stream.c_str();
  so.Consumer = options.consumer.c_str();
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PullSubscribe(&sub, js, options.subject.c_str(), options.consumer.c_str(),
                                  &jo, &so, &code);
  if (s != NATS_OK) {
    return unavailable("cannot subscribe to consumer " + options.consumer + ": " +
                       lastError(s, code));
  }
  // The library derives a buffer limit from MaxAckPending that overflows an int; the
  // buffer never holds more than one fetch asked for anyway.
  natsSubscription_SetPendingLimits(sub, -1, -1);
  return sub;
}

Result<StreamState> streamState(jsCtx* js, const NatsQueueOptions& options,
                                std::chrono::milliseconds wait) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = wait.count();
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, options.stream.c_str(), &jo, &code);
  if (s == NATS_NOT_FOUND) return Error::notFound("stream " + options.stream + " is gone");
  if (s != NATS_OK) return unavailable("stream info: " + lastError(s, code));
  StreamState out;
  out.messages = info->State.Msgs;
  out.bytes = info->State.Bytes;
  out.firstMs = info->State.Msgs > 0 ? info->State.FirstTime / kNanosPerMilli : 0;
  jsStreamInfo_Destroy(info);
  return out;
}

}  // namespace eg::queue::nats
