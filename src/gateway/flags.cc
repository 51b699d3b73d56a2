#include "gateway/flags.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <thread>

#include "access/scope.h"
#include "common/duration.h"
#include "model/codec.h"
#include "model/validation.h"

#ifndef EG_VERSION
#define EG_VERSION "dev"
#endif

namespace eg::gateway {
namespace {

// A setter returns the reason a value is rejected, or nullopt when it was taken.
using Setter = std::function<std::optional<std::string>(Settings&, std::string_view)>;

struct FlagDef {
  std::string_view name;
  std::string_view valueName;  // empty for booleans
  std::string_view help;
  std::string defaultText;  // empty: no "(default ...)" in usage
  Setter set;
};

int defaultIoThreads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(std::min<unsigned>(cores, 1024));
}

// Decimal only and the whole text: "12abc", "", " 1" and "0x10" are all rejected.
std::optional<std::string> parseInteger(std::string_view text, int64_t min, int64_t max,
                                        int64_t& out) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ptr != end || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return std::string("not a decimal integer");
  }
  const bool tooSmall = ec == std::errc::result_out_of_range ? text.front() == '-' : value < min;
  const bool tooLarge = ec == std::errc::result_out_of_range ? text.front() != '-' : value > max;
  if (tooSmall || tooLarge) {
    // A bound nobody would type reads better as a one-sided limit.
    if (max >= std::numeric_limits<int>::max()) {
      return tooSmall ? "must be at least " + std::to_string(min)
                      : "must be at most " + std::to_string(max);
    }
    return "must be between " + std::to_string(min) + " and " + std::to_string(max);
  }
  out = value;
  return std::nullopt;
}

template <class T>
Setter integerSetter(T Settings::*field, int64_t min, int64_t max) {
  return [field, min, max](Settings& s, std::string_view text) -> std::optional<std::string> {
    int64_t value = 0;
    if (auto err = parseInteger(text, min, max, value)) return err;
    s.*field = static_cast<T>(value);
    return std::nullopt;
  };
}

Setter stringSetter(std::string Settings::*field) {
  return [field](Settings& s, std::string_view text) -> std::optional<std::string> {
    s.*field = std::string(text);
    return std::nullopt;
  };
}

// The spellings strconv.ParseBool accepts.
std::optional<bool> parseBool(std::string_view text) {
  for (std::string_view t : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (text == t) return true;
  }
  for (std::string_view f : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (text == f) return false;
  }
  return std::nullopt;
}

// Go durations ("30s", "500ms", "1m30s") of at least 1ms and, when `max` is given, at
// most `max`; the reason names the bounds.
Setter durationSetter(std::chrono::milliseconds Settings::*field,
                      std::optional<std::chrono::milliseconds> max = std::nullopt) {
  return [field, max](Settings& s, std::string_view text) -> std::optional<std::string> {
    const auto value = parseGoDuration(text);
    if (!value) return std::string("not a duration such as 30s or 500ms");
    if (max && (value->count() < 1 || *value > *max)) {
      return "must be between 1ms and " + formatGoDuration(*max);
    }
    if (value->count() < 1) return std::string("must be at least 1ms");
    s.*field = *value;
    return std::nullopt;
  };
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// One NATS server of -queue: "host:port" or "[v6 address]:port", port 1-65535.
bool isHostPort(std::string_view server) {
  size_t colon = std::string_view::npos;
  if (server.starts_with('[')) {
    const size_t close = server.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    if (close + 1 >= server.size() || server[close + 1] != ':') return false;
    colon = close + 1;
  } else {
    colon = server.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    if (server.substr(0, colon).find(':') != std::string_view::npos) return false;
  }
  for (char c : server.substr(0, colon)) {
    if (c == '/' || c == '@' || c == ' ' || c == '?' || c == '#') return false;
  }
  int64_t port = 0;
  return !parseInteger(server.substr(colon + 1), 1, 65535, port);
}

// -queue: "embedded", "memory" or "nats://host:port[,host:port...]". The value is kept
// as given; the queue backend reads the server list from it.
std::optional<std::string> checkQueue(std::string_view text) {
  if (text == "embedded" || text == "memory") return std::nullopt;
  constexpr std::string_view kNats = "nats://";
  if (!text.starts_with(kNats)) {
    return std::string("must be embedded, memory or nats://host:port[,host:port...]");
  }
  std::string_view servers = text.substr(kNats.size());
  while (true) {
    const size_t comma = servers.find(',');
    const std::string_view server = servers.substr(0, comma);
    if (!isHostPort(server)) {
      return "bad NATS server " + quoted(server) + ": want host:port";
    }
    if (comma == std::string_view::npos) break;
    servers.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

// Parsing state beyond Settings: which flags were given, for defaults that depend on
// other flags.
struct Extra {
  bool version = false;
  bool logFormatSet = false;
  std::optional<std::string> newAccessKey;  // -new-access-key: its scope
};

std::vector<FlagDef> flagTable(Extra& extra) {
  constexpr int64_t kMaxPort = 65535;
  constexpr int64_t kMaxInt = std::numeric_limits<int>::max();
  constexpr int64_t kMiB = 1024 * 1024;
  // Ten million decisions is a few GiB of keys and authorizations: far past any
  // deployment's number of distinct credentials within one TTL.
  constexpr int64_t kMaxAuthorizerCacheSize = 10'000'000;
  const Settings d;
  std::vector<FlagDef> flags = {
      {"access-keys", "file",
       "Config API access keys, one \"<sha256 hex of the key> <scope>\" a line; every request "
       "but GET /v1/status then needs \"Authorization: Bearer <key>\" (re-read on SIGHUP)", "",
       [](Settings& s, std::string_view text) -> std::optional<std::string> {
         if (text.empty()) return std::string("must name a file");
         s.accessKeys = std::string(text);
         return std::nullopt;
       }},
      {"authorizer-cache-size", "n",
       "authorizer decisions cached at most, for event types with an authorizerCache; "
       "the least recently used go first; 0 caches none",
       std::to_string(d.authorizerCacheSize),
       integerSetter(&Settings::authorizerCacheSize, 0, kMaxAuthorizerCacheSize)},
      {"config-port", "port", "port of the Config API", std::to_string(d.configPort),
       integerSetter(&Settings::configPort, 1, kMaxPort)},
      {"config-tls-cert", "file", "PEM certificate chain: serve the Config API over TLS "
       "(with -config-tls-key)", "", stringSetter(&Settings::configTlsCert)},
      {"config-tls-client-ca", "file", "PEM CA certificates: Config API clients must present "
       "a certificate they signed (mutual TLS; with -config-tls-cert)", "",
       stringSetter(&Settings::configTlsClientCa)},
      {"config-tls-key", "file", "PEM private key of -config-tls-cert", "",
       stringSetter(&Settings::configTlsKey)},
      {"db-hosts", "hosts", "comma-separated etcd endpoints, used without -dev", quoted("127.0.0.1:2379"),
       [](Settings& s, std::string_view text) -> std::optional<std::string> {
         std::vector<std::string> hosts;
         size_t start = 0;
         while (true) {
           const size_t comma = text.find(',', start);
           std::string_view host = text.substr(start, comma == std::string_view::npos
                                                          ? std::string_view::npos
                                                          : comma - start);
           while (!host.empty() && host.front() == ' ') host.remove_prefix(1);
           while (!host.empty() && host.back() == ' ') host.remove_suffix(1);
           if (host.empty()) return std::string("empty host in list");
           hosts.emplace_back(host);
           if (comma == std::string_view::npos) break;
           start = comma + 1;
         }
         s.dbHosts = std::move(hosts);
         return std::nullopt;
       }},
      {"db-prefix", "prefix", "key prefix of the configuration in etcd", quoted(d.dbPrefix),
       stringSetter(&Settings::dbPrefix)},
      {"db-tls-ca", "file", "PEM CA bundle that verifies the etcd servers", "",
       stringSetter(&Settings::dbTlsCa)},
      {"db-tls-cert", "file", "PEM client certificate for etcd (with -db-tls-key)", "",
       stringSetter(&Settings::dbTlsCert)},
      {"db-tls-key", "file", "PEM private key of -db-tls-cert", "",
       stringSetter(&Settings::dbTlsKey)},
      {"delivery-backoff", "kind",
       "how retry delays of an async delivery grow: exponential, linear or constant "
       "(a subscription's deliveryPolicy overrides any -delivery-* default)",
       quoted(model::backoffName(d.deliveryBackoff)),
       [](Settings& s, std::string_view text) -> std::optional<std::string> {
         const auto value = model::parseBackoff(text);
         if (!value) return std::string("must be exponential, linear or constant");
         s.deliveryBackoff = *value;
         return std::nullopt;
       }},
      {"delivery-backoff-delay", "duration",
       "delay before the first retry of an async delivery; later ones grow from it",
       formatGoDuration(d.deliveryBackoffDelay),
       durationSetter(&Settings::deliveryBackoffDelay, model::kMaxDeliveryBackoff)},
      {"delivery-max-backoff", "duration", "longest delay between two attempts of an async delivery",
       formatGoDuration(d.deliveryMaxBackoff),
       durationSetter(&Settings::deliveryMaxBackoff, model::kMaxDeliveryBackoff)},
      {"delivery-max-event-age", "duration",
       "no attempt is made once an event is this old: it goes to the dead-letter function "
       "or is dropped",
       formatGoDuration(d.deliveryMaxEventAge),
       durationSetter(&Settings::deliveryMaxEventAge, model::kMaxDeliveryEventAge)},
      {"delivery-retries", "n", "retries of an async delivery after its first attempt",
       std::to_string(d.deliveryRetries),
       integerSetter(&Settings::deliveryRetries, 0, model::kMaxDeliveryRetries)},
      {"dev", "", "development mode: embedded store, text logs", "",
       [](Settings& s, std::string_view text) -> std::optional<std::string> {
         const auto value = parseBool(text);
         if (!value) return std::string("not a boolean");
         s.dev = *value;
         return std::nullopt;
       }},
      {"embed-data-dir", "dir", "directory of the embedded store (-dev); survives restarts",
       quoted(d.embedDataDir), stringSetter(&Settings::embedDataDir)},
      {"events-port", "port", "port of the Events API", std::to_string(d.eventsPort),
       integerSetter(&Settings::eventsPort, 1, kMaxPort)},
      {"events-tls-cert", "file", "PEM certificate chain: serve the Events API over TLS "
       "(with -events-tls-key)", "", stringSetter(&Settings::eventsTlsCert)},
      {"events-tls-client-ca", "file", "PEM CA certificates: Events API clients must present "
       "a certificate they signed (mutual TLS; with -events-tls-cert)", "",
       stringSetter(&Settings::eventsTlsClientCa)},
      {"events-tls-key", "file", "PEM private key of -events-tls-cert", "",
       stringSetter(&Settings::eventsTlsKey)},
      {"io-threads", "n", "threads serving network I/O (both APIs and outbound calls)",
       std::to_string(defaultIoThreads()), integerSetter(&Settings::ioThreads, 1, 1024)},
      {"log-format", "format", "log format: text or json (default text with -dev, json otherwise)",
       "",
       [&extra](Settings& s, std::string_view text) -> std::optional<std::string> {
         if (text == "text") {
           s.logFormat = LogFormat::kText;
         } else if (text == "json") {
           s.logFormat = LogFormat::kJson;
         } else {
           return std::string("must be text or json");
         }
         extra.logFormatSet = true;
         return std::nullopt;
       }},
      {"log-level", "level", "least severe level logged: debug, info, warn or error",
       quoted("info"),
       [](Settings& s, std::string_view text) -> std::optional<std::string> {
         // parseLogLevel knows more spellings than the four we document; keep to those.
         if (text != "debug" && text != "info" && text != "warn" && text != "error") {
           return std::string("must be one of debug, info, warn, error");
         }
         if (!parseLogLevel(text, s.logLevel)) return std::string("unknown level");
         return std::nullopt;
       }},
      {"idle-timeout", "duration", "keep-alive connections idle this long are closed",
       formatGoDuration(d.idleTimeout),
       durationSetter(&Settings::idleTimeout, kMaxServerTimeout)},
      {"max-connections", "n", "client connections served at once per API; more are refused",
       std::to_string(d.maxConnections), integerSetter(&Settings::maxConnections, 1, kMaxInt)},
      {"queue", "kind",
       "where async deliveries wait: embedded (a log on disk), memory (lost on a crash) or "
       "nats://host:port[,host:port...] (NATS JetStream, shared by a cluster)",
       quoted(d.queue),
       [](Settings& s, std::string_view text) -> std::optional<std::string> {
         if (auto reason = checkQueue(text)) return reason;
         s.queue = std::string(text);
         return std::nullopt;
       }},
      {"queue-creds", "file", "NATS credentials file (JWT and NKey seed) of -queue nats://...",
       "", stringSetter(&Settings::queueCreds)},
      {"queue-dir", "dir",
       "directory of the embedded queue's log (default <embed-data-dir>/queue)", "",
       stringSetter(&Settings::queueDir)},
      {"queue-max-bytes", "bytes",
       "size of the embedded queue's log or of the NATS stream; when full, events answer 503",
       std::to_string(d.queueMaxBytes),
       integerSetter(&Settings::queueMaxBytes, kMiB, std::numeric_limits<int64_t>::max())},
      {"queue-lease", "duration",
       "NATS: how long a delivery stays with an instance that stopped answering for it "
       "(crashed) before another instance makes it; longer calls are kept alive",
       formatGoDuration(d.queueLease), durationSetter(&Settings::queueLease, std::chrono::hours(1))},
      {"queue-replicas", "n", "replicas of the NATS stream (-queue nats://...)",
       std::to_string(d.queueReplicas), integerSetter(&Settings::queueReplicas, 1, 5)},
      {"queue-tls-ca", "file", "PEM CA bundle that verifies the NATS servers", "",
       stringSetter(&Settings::queueTlsCa)},
      {"queue-tls-cert", "file", "PEM client certificate for NATS (with -queue-tls-key)", "",
       stringSetter(&Settings::queueTlsCert)},
      {"queue-tls-key", "file", "PEM private key of -queue-tls-cert", "",
       stringSetter(&Settings::queueTlsKey)},
      {"read-timeout", "duration", "time a client has to send a whole request; slower ones "
       "are disconnected", formatGoDuration(d.readTimeout),
       durationSetter(&Settings::readTimeout, kMaxServerTimeout)},
      {"metrics-open", "", "with -access-keys, /v1/metrics and /metrics still need no key", "",
       [](Settings& s, std::string_view text) -> std::optional<std::string> {
         const auto value = parseBool(text);
         if (!value) return std::string("not a boolean");
         s.metricsOpen = *value;
         return std::nullopt;
       }},
      {"new-access-key", "scope",
       "print a new random access key and its -access-keys line for SCOPE (admin, "
       "space:<name> or space:<name>:read), then exit", "",
       [&extra](Settings&, std::string_view text) -> std::optional<std::string> {
         auto scope = access::parseScope(text);
         if (!scope) return scope.error().message;
         extra.newAccessKey = scope->text();
         return std::nullopt;
       }},
      {"max-body-size", "bytes", "largest event body accepted, in bytes; larger ones answer 413",
       std::to_string(d.maxBodySize),
       integerSetter(&Settings::maxBodySize, 1, std::numeric_limits<int64_t>::max())},
      {"version", "", "print the version and exit", "",
       [&extra](Settings&, std::string_view text) -> std::optional<std::string> {
         const auto value = parseBool(text);
         if (!value) return std::string("not a boolean");
         extra.version = *value;
         return std::nullopt;
       }},
      {"workers", "n", "async deliveries running at once", std::to_string(d.workers),
       integerSetter(&Settings::workers, 1, kMaxInt)},
      {"workers-backlog", "n", "async deliveries queued while all workers are busy",
       std::to_string(d.workersBacklog), integerSetter(&Settings::workersBacklog, 1, kMaxInt)},
  };
  std::sort(flags.begin(), flags.end(),
            [](const FlagDef& a, const FlagDef& b) { return a.name < b.name; });
  return flags;
}

ParseOutcome error(std::string message) {
  ParseOutcome out;
  out.kind = ParseOutcome::kError;
  out.message = std::move(message);
  return out;
}

// Checks that span flags; each single value was checked by its setter.
std::optional<std::string> validate(const Settings& s) {
  const auto pair = [](const std::string& a, std::string_view aName, const std::string& b,
                       std::string_view bName) -> std::optional<std::string> {
    if (a.empty() != b.empty()) {
      return "-" + std::string(a.empty() ? aName : bName) + " is required with -" +
             std::string(a.empty() ? bName : aName);
    }
    return std::nullopt;
  };
  if (auto e = pair(s.eventsTlsCert, "events-tls-cert", s.eventsTlsKey, "events-tls-key")) return e;
  if (auto e = pair(s.configTlsCert, "config-tls-cert", s.configTlsKey, "config-tls-key")) return e;
  if (!s.eventsTlsClientCa.empty() && s.eventsTlsCert.empty()) {
    return std::string("-events-tls-cert is required with -events-tls-client-ca");
  }
  if (!s.configTlsClientCa.empty() && s.configTlsCert.empty()) {
    return std::string("-config-tls-cert is required with -config-tls-client-ca");
  }
  if (auto e = pair(s.dbTlsCert, "db-tls-cert", s.dbTlsKey, "db-tls-key")) return e;
  if (auto e = pair(s.queueTlsCert, "queue-tls-cert", s.queueTlsKey, "queue-tls-key")) return e;
  // The first delay is capped by the longest one: a larger first delay is a mistake.
  if (s.deliveryBackoffDelay > s.deliveryMaxBackoff) {
    return "-delivery-backoff-delay (" + formatGoDuration(s.deliveryBackoffDelay) +
           ") must not exceed -delivery-max-backoff (" + formatGoDuration(s.deliveryMaxBackoff) + ")";
  }
  if (s.eventsPort == s.configPort) {
    return "-events-port and -config-port must differ (both are " + std::to_string(s.eventsPort) +
           ")";
  }
  return std::nullopt;
}

}  // namespace

ParseOutcome parseFlags(int argc, const char* const* argv) {
  Settings settings;
  settings.ioThreads = defaultIoThreads();
  Extra extra;
  const std::vector<FlagDef> flags = flagTable(extra);

  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return error("unexpected argument " + quoted(arg) + ": only flags are accepted");
    }
    size_t dashes = 1;
    if (arg[1] == '-') {
      dashes = 2;
      if (arg.size() == 2) {  // "--" ends the flags; nothing may follow
        if (i + 1 < argc) {
          return error("unexpected argument " + quoted(argv[i + 1]) + ": only flags are accepted");
        }
        break;
      }
    }
    std::string_view name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      return error("bad flag syntax: " + std::string(arg));
    }
    std::optional<std::string_view> value;
    if (const size_t eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const auto def = std::find_if(flags.begin(), flags.end(),
                                  [name](const FlagDef& f) { return f.name == name; });
    if (def == flags.end()) {
      if (name == "help" || name == "h") {
        ParseOutcome out;
        out.kind = ParseOutcome::kHelp;
        return out;
      }
      return error("flag provided but not defined: -" + std::string(name));
    }
    if (def->valueName.empty()) {
      // A boolean takes its value only after "=": "-dev false" leaves "false" as an argument.
      if (!value) value = "true";
    } else if (!value) {
      if (i + 1 >= argc) return error("flag needs an argument: -" + std::string(name));
      value = argv[++i];
    }
    if (auto reason = def->set(settings, *value)) {
      return error("invalid value " + quoted(*value) + " for flag -" + std::string(name) + ": " +
                   *reason);
    }
  }

  if (extra.version) {
    ParseOutcome out;
    out.kind = ParseOutcome::kVersion;
    out.settings = std::move(settings);
    out.message = "Event Gateway version " EG_VERSION;
    return out;
  }
  if (extra.newAccessKey) {
    ParseOutcome out;
    out.kind = ParseOutcome::kNewAccessKey;
    out.settings = std::move(settings);
    out.message = *extra.newAccessKey;
    return out;
  }
  if (!extra.logFormatSet) settings.logFormat = settings.dev ? LogFormat::kText : LogFormat::kJson;
  if (auto reason = validate(settings)) return error(*reason);

  ParseOutcome out;
  out.kind = ParseOutcome::kRun;
  out.settings = std::move(settings);
  return out;
}

std::string usage() {
  Extra extra;
  const std::vector<FlagDef> flags = flagTable(extra);
  std::string out = "Usage of event-gateway:\n";
  for (const FlagDef& f : flags) {
    out.append("  -").append(f.name);
    if (!f.valueName.empty()) out.append(" ").append(f.valueName);
    out.append("\n    \t").append(f.help);
    if (!f.defaultText.empty()) out.append(" (default ").append(f.defaultText).append(")");
    out.push_back('\n');
  }
  out.append("  -help\n    \tprint this help and exit (also -h)\n");
  return out;
}

}  // namespace eg::gateway
