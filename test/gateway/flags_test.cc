#include "gateway/flags.h"

#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace eg::gateway {
namespace {

ParseOutcome parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"event-gateway"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parseFlags(static_cast<int>(argv.size()), argv.data());
}

Settings run(std::initializer_list<const char*> args) {
  ParseOutcome out = parse(args);
  EXPECT_EQ(out.kind, ParseOutcome::kRun) << out.message;
  return out.settings;
}

void expectError(std::initializer_list<const char*> args, const std::string& message) {
  const ParseOutcome out = parse(args);
  EXPECT_EQ(out.kind, ParseOutcome::kError);
  EXPECT_EQ(out.message, message);
}

TEST(FlagsTest, DefaultsMatchTheSpec) {
  const Settings s = run({});
  EXPECT_FALSE(s.dev);
  EXPECT_EQ(s.embedDataDir, "default.eventgateway");
  EXPECT_EQ(s.dbHosts, std::vector<std::string>{"127.0.0.1:2379"});
  EXPECT_EQ(s.dbPrefix, "/eventgateway");
  EXPECT_EQ(s.dbTlsCa, "");
  EXPECT_EQ(s.dbTlsCert, "");
  EXPECT_EQ(s.dbTlsKey, "");
  EXPECT_EQ(s.eventsPort, 4000);
  EXPECT_EQ(s.configPort, 4001);
  EXPECT_EQ(s.eventsTlsCert, "");
  EXPECT_EQ(s.eventsTlsKey, "");
  EXPECT_EQ(s.configTlsCert, "");
  EXPECT_EQ(s.configTlsKey, "");
  EXPECT_EQ(s.workers, 100);
  EXPECT_EQ(s.workersBacklog, 200);
  const unsigned cores = std::thread::hardware_concurrency();
  EXPECT_EQ(s.ioThreads, cores == 0 ? 1 : static_cast<int>(cores));
  EXPECT_EQ(s.maxBodySize, size_t{6} * 1024 * 1024);
  EXPECT_EQ(s.logLevel, spdlog::level::info);
  EXPECT_EQ(s.logFormat, LogFormat::kJson);
  // Spec §5.
  EXPECT_EQ(s.deliveryRetries, 10);
  EXPECT_EQ(s.deliveryBackoff, model::Backoff::kExponential);
  EXPECT_EQ(s.deliveryBackoffDelay, std::chrono::milliseconds(200));
  EXPECT_EQ(s.deliveryMaxBackoff, std::chrono::milliseconds(60'000));
  EXPECT_EQ(s.deliveryMaxEventAge, std::chrono::milliseconds(24 * 3'600'000));
  EXPECT_EQ(s.queue, "embedded");
  EXPECT_EQ(s.queueDir, "");
  EXPECT_EQ(s.queueMaxBytes, uint64_t{1073741824});
  EXPECT_EQ(s.queueReplicas, 3);
  EXPECT_EQ(s.queueTlsCa, "");
  EXPECT_EQ(s.queueTlsCert, "");
  EXPECT_EQ(s.queueTlsKey, "");
  EXPECT_EQ(s.queueCreds, "");
  // Spec §6, authorizer caching.
  EXPECT_EQ(s.authorizerCacheSize, 10'000u);
}

TEST(FlagsTest, DevDefaultsToTextLogs) {
  EXPECT_EQ(run({"-dev"}).logFormat, LogFormat::kText);
  EXPECT_EQ(run({"-dev", "-log-format=json"}).logFormat, LogFormat::kJson);
  EXPECT_EQ(run({"-log-format=json", "-dev"}).logFormat, LogFormat::kJson);
  EXPECT_EQ(run({"-log-format", "text"}).logFormat, LogFormat::kText);
}

TEST(FlagsTest, OneAndTwoDashesWithEqualsOrSeparateValue) {
  EXPECT_EQ(run({"-events-port=5000"}).eventsPort, 5000);
  EXPECT_EQ(run({"--events-port=5000"}).eventsPort, 5000);
  EXPECT_EQ(run({"-events-port", "5000"}).eventsPort, 5000);
  EXPECT_EQ(run({"--events-port", "5000"}).eventsPort, 5000);
}

TEST(FlagsTest, EveryFlagSetsItsField) {
  const Settings s = run({"-dev",
                          "-embed-data-dir=/tmp/x",
                          "-db-hosts=a:1, b:2 ,c:3",
                          "-db-prefix=/p",
                          "-db-tls-ca=ca.pem",
                          "-db-tls-cert=c.pem",
                          "-db-tls-key=k.pem",
                          "-events-port=1",
                          "-config-port=65535",
                          "-events-tls-cert=ec",
                          "-events-tls-key=ek",
                          "-config-tls-cert=cc",
                          "-config-tls-key=ck",
                          "-workers=3",
                          "-workers-backlog=4",
                          "-io-threads=5",
                          "-max-body-size=1024",
                          "-log-level=debug",
                          "-log-format=json"});
  EXPECT_TRUE(s.dev);
  EXPECT_EQ(s.embedDataDir, "/tmp/x");
  EXPECT_EQ(s.dbHosts, (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_EQ(s.dbPrefix, "/p");
  EXPECT_EQ(s.dbTlsCa, "ca.pem");
  EXPECT_EQ(s.dbTlsCert, "c.pem");
  EXPECT_EQ(s.dbTlsKey, "k.pem");
  EXPECT_EQ(s.eventsPort, 1);
  EXPECT_EQ(s.configPort, 65535);
  EXPECT_EQ(s.eventsTlsCert, "ec");
  EXPECT_EQ(s.eventsTlsKey, "ek");
  EXPECT_EQ(s.configTlsCert, "cc");
  EXPECT_EQ(s.configTlsKey, "ck");
  EXPECT_EQ(s.workers, 3);
  EXPECT_EQ(s.workersBacklog, 4);
  EXPECT_EQ(s.ioThreads, 5);
  EXPECT_EQ(s.maxBodySize, 1024u);
  EXPECT_EQ(s.logLevel, spdlog::level::debug);
  EXPECT_EQ(s.logFormat, LogFormat::kJson);
}

TEST(FlagsTest, LogLevels) {
  EXPECT_EQ(run({"-log-level=debug"}).logLevel, spdlog::level::debug);
  EXPECT_EQ(run({"-log-level=info"}).logLevel, spdlog::level::info);
  EXPECT_EQ(run({"-log-level=warn"}).logLevel, spdlog::level::warn);
  EXPECT_EQ(run({"-log-level=error"}).logLevel, spdlog::level::err);
  expectError({"-log-level=loud"},
              "invalid value \"loud\" for flag -log-level: must be one of debug, info, warn, error");
  expectError({"-log-format=xml"}, "invalid value \"xml\" for flag -log-format: must be text or json");
}

TEST(FlagsTest, BooleanForms) {
  EXPECT_TRUE(run({"-dev"}).dev);
  EXPECT_TRUE(run({"--dev"}).dev);
  EXPECT_TRUE(run({"-dev=true"}).dev);
  EXPECT_TRUE(run({"-dev=1"}).dev);
  EXPECT_TRUE(run({"-dev=T"}).dev);
  EXPECT_FALSE(run({"-dev=false"}).dev);
  EXPECT_FALSE(run({"-dev=0"}).dev);
  EXPECT_FALSE(run({"-dev", "-dev=False"}).dev);
  expectError({"-dev=yes"}, "invalid value \"yes\" for flag -dev: not a boolean");
  // A boolean never takes the next argument, so it stays an argument.
  expectError({"-dev", "false"}, "unexpected argument \"false\": only flags are accepted");
}

TEST(FlagsTest, LastOccurrenceWins) {
  EXPECT_EQ(run({"-workers=5", "--workers", "7"}).workers, 7);
}

TEST(FlagsTest, ValueMayStartWithDashOrContainEquals) {
  EXPECT_EQ(run({"-db-prefix", "-x"}).dbPrefix, "-x");
  EXPECT_EQ(run({"-db-prefix=a=b"}).dbPrefix, "a=b");
  EXPECT_EQ(run({"-db-prefix="}).dbPrefix, "");
}

TEST(FlagsTest, DoubleDashEndsFlags) {
  EXPECT_EQ(run({"-workers=2", "--"}).workers, 2);
  expectError({"--", "-workers=2"}, "unexpected argument \"-workers=2\": only flags are accepted");
}

TEST(FlagsTest, PositionalArgumentsAreErrors) {
  expectError({"serve"}, "unexpected argument \"serve\": only flags are accepted");
  expectError({"-dev", "x"}, "unexpected argument \"x\": only flags are accepted");
  expectError({"-"}, "unexpected argument \"-\": only flags are accepted");
}

TEST(FlagsTest, UnknownFlag) {
  expectError({"-nope"}, "flag provided but not defined: -nope");
  expectError({"--nope=3"}, "flag provided but not defined: -nope");
  expectError({"-Dev"}, "flag provided but not defined: -Dev");
}

TEST(FlagsTest, BadSyntax) {
  expectError({"---dev"}, "bad flag syntax: ---dev");
  expectError({"-=x"}, "bad flag syntax: -=x");
  expectError({"--=x"}, "bad flag syntax: --=x");
}

TEST(FlagsTest, MissingValue) {
  expectError({"-workers"}, "flag needs an argument: -workers");
  expectError({"-dev", "--db-hosts"}, "flag needs an argument: -db-hosts");
}

TEST(FlagsTest, NumbersMustParseFully) {
  expectError({"-workers=12abc"}, "invalid value \"12abc\" for flag -workers: not a decimal integer");
  expectError({"-workers="}, "invalid value \"\" for flag -workers: not a decimal integer");
  expectError({"-workers= 1"}, "invalid value \" 1\" for flag -workers: not a decimal integer");
  expectError({"-workers=0x10"}, "invalid value \"0x10\" for flag -workers: not a decimal integer");
  expectError({"-workers=1.5"}, "invalid value \"1.5\" for flag -workers: not a decimal integer");
  expectError({"-max-body-size=99999999999999999999999"},
              "invalid value \"99999999999999999999999\" for flag -max-body-size: must be at most "
              "9223372036854775807");
}

TEST(FlagsTest, Ranges) {
  expectError({"-events-port=0"}, "invalid value \"0\" for flag -events-port: must be between 1 and 65535");
  expectError({"-config-port=65536"},
              "invalid value \"65536\" for flag -config-port: must be between 1 and 65535");
  expectError({"-events-port=-1"}, "invalid value \"-1\" for flag -events-port: must be between 1 and 65535");
  expectError({"-workers=0"}, "invalid value \"0\" for flag -workers: must be at least 1");
  expectError({"-workers=2147483648"},
              "invalid value \"2147483648\" for flag -workers: must be at most 2147483647");
  expectError({"-workers=-99999999999999999999"},
              "invalid value \"-99999999999999999999\" for flag -workers: must be at least 1");
  expectError({"-workers-backlog=0"}, "invalid value \"0\" for flag -workers-backlog: must be at least 1");
  expectError({"-io-threads=0"}, "invalid value \"0\" for flag -io-threads: must be between 1 and 1024");
  expectError({"-max-body-size=0"}, "invalid value \"0\" for flag -max-body-size: must be at least 1");
  EXPECT_EQ(run({"-workers=2147483647"}).workers, 2147483647);
}

TEST(FlagsTest, AuthorizerCacheSize) {
  EXPECT_EQ(run({"-authorizer-cache-size=0"}).authorizerCacheSize, 0u);
  EXPECT_EQ(run({"-authorizer-cache-size", "250"}).authorizerCacheSize, 250u);
  EXPECT_EQ(run({"-authorizer-cache-size=10000000"}).authorizerCacheSize, 10'000'000u);
  expectError({"-authorizer-cache-size=-1"},
              "invalid value \"-1\" for flag -authorizer-cache-size: must be between 0 and 10000000");
  expectError({"-authorizer-cache-size=10000001"},
              "invalid value \"10000001\" for flag -authorizer-cache-size: must be between 0 and "
              "10000000");
  expectError({"-authorizer-cache-size=lots"},
              "invalid value \"lots\" for flag -authorizer-cache-size: not a decimal integer");
  EXPECT_NE(usage().find("  -authorizer-cache-size n\n    \tauthorizer decisions cached at most"),
            std::string::npos);
  EXPECT_NE(usage().find("0 caches none (default 10000)\n"), std::string::npos);
}

TEST(FlagsTest, DbHostsList) {
  EXPECT_EQ(run({"-db-hosts=h:1"}).dbHosts, std::vector<std::string>{"h:1"});
  expectError({"-db-hosts=a:1,,b:2"}, "invalid value \"a:1,,b:2\" for flag -db-hosts: empty host in list");
  expectError({"-db-hosts="}, "invalid value \"\" for flag -db-hosts: empty host in list");
}

TEST(FlagsTest, CrossFlagValidation) {
  expectError({"-events-tls-cert=c"}, "-events-tls-key is required with -events-tls-cert");
  expectError({"-config-tls-key=k"}, "-config-tls-cert is required with -config-tls-key");
  expectError({"-db-tls-cert=c"}, "-db-tls-key is required with -db-tls-cert");
  expectError({"-events-tls-client-ca=ca"}, "-events-tls-cert is required with -events-tls-client-ca");
  expectError({"-config-tls-client-ca=ca"}, "-config-tls-cert is required with -config-tls-client-ca");
  expectError({"-events-port=4001"}, "-events-port and -config-port must differ (both are 4001)");
}

TEST(FlagsTest, Help) {
  EXPECT_EQ(parse({"-h"}).kind, ParseOutcome::kHelp);
  EXPECT_EQ(parse({"-help"}).kind, ParseOutcome::kHelp);
  EXPECT_EQ(parse({"--help"}).kind, ParseOutcome::kHelp);
  // Help stops parsing where it stands, as in Go: what follows is not looked at.
  EXPECT_EQ(parse({"-help", "-nope"}).kind, ParseOutcome::kHelp);
  EXPECT_EQ(parse({"-nope", "-help"}).kind, ParseOutcome::kError);
}

TEST(FlagsTest, Version) {
  const ParseOutcome out = parse({"-version"});
  EXPECT_EQ(out.kind, ParseOutcome::kVersion);
  EXPECT_EQ(out.message, "Event Gateway version " EG_VERSION);
  EXPECT_EQ(parse({"--version=true", "-workers=1"}).kind, ParseOutcome::kVersion);
  EXPECT_EQ(parse({"-version=false"}).kind, ParseOutcome::kRun);
  // Syntax errors still win over -version; cross-flag checks do not apply to it.
  EXPECT_EQ(parse({"-version", "-nope"}).kind, ParseOutcome::kError);
  EXPECT_EQ(parse({"-version", "-events-tls-cert=c"}).kind, ParseOutcome::kVersion);
}

TEST(FlagsTest, UsageListsEveryFlagSortedWithDefaults) {
  const std::string text = usage();
  EXPECT_EQ(text.rfind("Usage of event-gateway:\n", 0), 0u);
  const std::vector<std::string> names = {
      "authorizer-cache-size",
      "config-port", "config-tls-cert", "config-tls-key", "db-hosts",       "db-prefix",
      "db-tls-ca",   "db-tls-cert",     "db-tls-key",
      "delivery-backoff", "delivery-backoff-delay", "delivery-max-backoff",
      "delivery-max-event-age", "delivery-retries",
      "dev", "embed-data-dir",
      "events-port", "events-tls-cert", "events-tls-key", "idle-timeout",   "io-threads",
      "log-format",  "log-level",       "max-body-size",  "max-connections",
      "queue", "queue-creds", "queue-dir", "queue-lease", "queue-max-bytes", "queue-replicas", "queue-tls-ca",
      "queue-tls-cert", "queue-tls-key", "read-timeout",
      "version",     "workers",         "workers-backlog",
      "help"};
  size_t last = 0;
  for (const auto& name : names) {
    const size_t at = text.find("\n  -" + name + (name == "dev" || name == "version" || name == "help" ? "\n" : " "));
    ASSERT_NE(at, std::string::npos) << name << "\n" << text;
    EXPECT_GT(at, last) << name << " out of order";
    last = at;
  }
  EXPECT_NE(text.find("  -config-port port\n    \tport of the Config API (default 4001)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("(default \"127.0.0.1:2379\")"), std::string::npos);
  EXPECT_NE(text.find("(default \"/eventgateway\")"), std::string::npos);
  EXPECT_NE(text.find("(default \"default.eventgateway\")"), std::string::npos);
  EXPECT_NE(text.find("(default 4000)"), std::string::npos);
  EXPECT_NE(text.find("(default 100)"), std::string::npos);
  EXPECT_NE(text.find("(default 200)"), std::string::npos);
  EXPECT_NE(text.find("(default 6291456)"), std::string::npos);
  EXPECT_NE(text.find("(default \"info\")"), std::string::npos);
}

}  // namespace
}  // namespace eg::gateway

namespace eg::gateway {
namespace {

TEST(FlagsTest, TimeoutsTakeGoDurations) {
  const auto out = parse({"-read-timeout=1m30s", "--idle-timeout", "250ms", "-max-connections=7"});
  ASSERT_EQ(out.kind, ParseOutcome::kRun) << out.message;
  EXPECT_EQ(out.settings.readTimeout, std::chrono::milliseconds(90'000));
  EXPECT_EQ(out.settings.idleTimeout, std::chrono::milliseconds(250));
  EXPECT_EQ(out.settings.maxConnections, 7u);
  EXPECT_EQ(parse({"-read-timeout=2s"}).settings.readTimeout, std::chrono::milliseconds(2000));
  for (const char* bad : {"-read-timeout=10", "-read-timeout=fast", "-read-timeout=0s",
                          "-idle-timeout=", "-read-timeout=5x", "-max-connections=0"}) {
    const auto r = parse({bad});
    EXPECT_EQ(r.kind, ParseOutcome::kError) << bad;
    EXPECT_NE(r.message.find("invalid value"), std::string::npos) << r.message;
  }
  EXPECT_NE(usage().find("  -read-timeout duration\n"), std::string::npos) << usage();
  EXPECT_NE(usage().find("(default 30s)"), std::string::npos);
}

// Found by fuzz/flags_fuzz.cc: Go's longest duration passed, and now() + timeout, the
// deadline of every request, overflowed steady_clock.
TEST(FlagsTest, TimeoutsAreAtMostADay) {
  EXPECT_EQ(run({"-read-timeout=24h", "-idle-timeout=24h"}).readTimeout, kMaxServerTimeout);
  for (const char* bad : {"-read-timeout=2562047h", "-idle-timeout=2562047h47m16s",
                          "-read-timeout=24h0m0.001s"}) {
    const auto r = parse({bad});
    EXPECT_EQ(r.kind, ParseOutcome::kError) << bad;
    EXPECT_NE(r.message.find("must be between 1ms and 24h0m0s"), std::string::npos) << r.message;
  }
}

}  // namespace
}  // namespace eg::gateway

namespace eg::gateway {
namespace {

TEST(FlagsTest, DeliveryDefaults) {
  const auto out = parse({"-delivery-retries=0", "-delivery-backoff", "linear",
                          "--delivery-backoff-delay=1.5s", "-delivery-max-backoff=2m",
                          "-delivery-max-event-age=1h30m"});
  ASSERT_EQ(out.kind, ParseOutcome::kRun) << out.message;
  EXPECT_EQ(out.settings.deliveryRetries, 0);
  EXPECT_EQ(out.settings.deliveryBackoff, model::Backoff::kLinear);
  EXPECT_EQ(out.settings.deliveryBackoffDelay, std::chrono::milliseconds(1500));
  EXPECT_EQ(out.settings.deliveryMaxBackoff, std::chrono::milliseconds(120'000));
  EXPECT_EQ(out.settings.deliveryMaxEventAge, std::chrono::milliseconds(5'400'000));
  EXPECT_EQ(run({"-delivery-backoff=constant"}).deliveryBackoff, model::Backoff::kConstant);
  EXPECT_EQ(run({"-delivery-backoff=exponential"}).deliveryBackoff, model::Backoff::kExponential);
  EXPECT_EQ(run({"-delivery-retries=1000"}).deliveryRetries, 1000);
  // Sub-millisecond rounds up: only zero is zero, and zero is refused.
  EXPECT_EQ(run({"-delivery-backoff-delay=10us"}).deliveryBackoffDelay, std::chrono::milliseconds(1));
  EXPECT_EQ(run({"-delivery-max-event-age=720h"}).deliveryMaxEventAge,
            std::chrono::milliseconds(720LL * 3'600'000));

  expectError({"-delivery-retries=1001"},
              "invalid value \"1001\" for flag -delivery-retries: must be between 0 and 1000");
  expectError({"-delivery-retries=-1"},
              "invalid value \"-1\" for flag -delivery-retries: must be between 0 and 1000");
  expectError({"-delivery-backoff=fibonacci"},
              "invalid value \"fibonacci\" for flag -delivery-backoff: must be exponential, linear or constant");
  expectError({"-delivery-backoff-delay=0"},
              "invalid value \"0\" for flag -delivery-backoff-delay: must be between 1ms and 24h0m0s");
  expectError({"-delivery-backoff-delay=200"},
              "invalid value \"200\" for flag -delivery-backoff-delay: not a duration such as 30s or 500ms");
  expectError({"-delivery-max-backoff=25h"},
              "invalid value \"25h\" for flag -delivery-max-backoff: must be between 1ms and 24h0m0s");
  expectError({"-delivery-max-event-age=721h"},
              "invalid value \"721h\" for flag -delivery-max-event-age: must be between 1ms and 720h0m0s");
  expectError({"-delivery-max-event-age=-1h"},
              "invalid value \"-1h\" for flag -delivery-max-event-age: not a duration such as 30s or 500ms");
  // maxBackoff caps every delay: a first delay above it is a mistake, defaults included.
  expectError({"-delivery-backoff-delay=2m"},
              "-delivery-backoff-delay (2m0s) must not exceed -delivery-max-backoff (1m0s)");
  expectError({"-delivery-max-backoff=100ms"},
              "-delivery-backoff-delay (200ms) must not exceed -delivery-max-backoff (100ms)");
  EXPECT_EQ(run({"-delivery-backoff-delay=2m", "-delivery-max-backoff=2m"}).deliveryBackoffDelay,
            std::chrono::milliseconds(120'000));
}

TEST(FlagsTest, QueueKinds) {
  EXPECT_EQ(run({"-queue=memory"}).queue, "memory");
  EXPECT_EQ(run({"-queue", "embedded"}).queue, "embedded");
  EXPECT_EQ(run({"-queue=nats://127.0.0.1:4222"}).queue, "nats://127.0.0.1:4222");
  EXPECT_EQ(run({"-queue=nats://a:4222,b.example.com:4223,[::1]:4224"}).queue,
            "nats://a:4222,b.example.com:4223,[::1]:4224");
  const std::string kinds = "must be embedded, memory or nats://host:port[,host:port...]";
  expectError({"-queue=disk"}, "invalid value \"disk\" for flag -queue: " + kinds);
  expectError({"-queue="}, "invalid value \"\" for flag -queue: " + kinds);
  expectError({"-queue=Memory"}, "invalid value \"Memory\" for flag -queue: " + kinds);
  expectError({"-queue=tls://a:4222"}, "invalid value \"tls://a:4222\" for flag -queue: " + kinds);
  expectError({"-queue=nats://"},
              "invalid value \"nats://\" for flag -queue: bad NATS server \"\": want host:port");
  expectError({"-queue=nats://a"},
              "invalid value \"nats://a\" for flag -queue: bad NATS server \"a\": want host:port");
  expectError({"-queue=nats://a:0"},
              "invalid value \"nats://a:0\" for flag -queue: bad NATS server \"a:0\": want host:port");
  expectError({"-queue=nats://a:4222,"},
              "invalid value \"nats://a:4222,\" for flag -queue: bad NATS server \"\": want host:port");
  expectError({"-queue=nats://a:4222,nats://b:4222"},
              "invalid value \"nats://a:4222,nats://b:4222\" for flag -queue: bad NATS server "
              "\"nats://b:4222\": want host:port");
  expectError({"-queue=nats://:4222"},
              "invalid value \"nats://:4222\" for flag -queue: bad NATS server \":4222\": want host:port");
  expectError({"-queue=nats://a:b:4222"},
              "invalid value \"nats://a:b:4222\" for flag -queue: bad NATS server \"a:b:4222\": want host:port");
  expectError({"-queue=nats://user@a:4222"},
              "invalid value \"nats://user@a:4222\" for flag -queue: bad NATS server \"user@a:4222\": "
              "want host:port");
  expectError({"-queue=nats://[::1]4222"},
              "invalid value \"nats://[::1]4222\" for flag -queue: bad NATS server \"[::1]4222\": "
              "want host:port");
}

TEST(FlagsTest, QueueSettings) {
  const Settings s = run({"-queue-dir=/var/lib/eg/queue", "-queue-max-bytes=1048576",
                          "-queue-replicas=5", "-queue-tls-ca=ca.pem", "-queue-tls-cert=c.pem",
                          "-queue-tls-key=k.pem", "-queue-creds=user.creds"});
  EXPECT_EQ(s.queueDir, "/var/lib/eg/queue");
  EXPECT_EQ(s.queueMaxBytes, uint64_t{1048576});
  EXPECT_EQ(s.queueReplicas, 5);
  EXPECT_EQ(s.queueTlsCa, "ca.pem");
  EXPECT_EQ(s.queueTlsCert, "c.pem");
  EXPECT_EQ(s.queueTlsKey, "k.pem");
  EXPECT_EQ(s.queueCreds, "user.creds");
  EXPECT_EQ(run({"-queue-replicas=1"}).queueReplicas, 1);
  EXPECT_EQ(s.queueLease, std::chrono::seconds(30));
  EXPECT_EQ(run({"-queue-lease=3s"}).queueLease, std::chrono::seconds(3));
  expectError({"-queue-lease=2h"},
              "invalid value \"2h\" for flag -queue-lease: must be between 1ms and 1h0m0s");
  EXPECT_EQ(run({"-queue-max-bytes=17179869184"}).queueMaxBytes, uint64_t{17179869184});

  expectError({"-queue-max-bytes=1048575"},
              "invalid value \"1048575\" for flag -queue-max-bytes: must be at least 1048576");
  expectError({"-queue-max-bytes=1GiB"},
              "invalid value \"1GiB\" for flag -queue-max-bytes: not a decimal integer");
  expectError({"-queue-replicas=0"},
              "invalid value \"0\" for flag -queue-replicas: must be between 1 and 5");
  expectError({"-queue-replicas=6"},
              "invalid value \"6\" for flag -queue-replicas: must be between 1 and 5");
  expectError({"-queue-tls-cert=c"}, "-queue-tls-key is required with -queue-tls-cert");
  expectError({"-queue-tls-key=k"}, "-queue-tls-cert is required with -queue-tls-key");
}

TEST(FlagsTest, UsageShowsTheDeliveryAndQueueDefaults) {
  const std::string text = usage();
  for (const char* expected : {
           "  -delivery-retries n\n",
           "(default 10)\n  -dev\n",
           "  -delivery-backoff kind\n",
           "(default \"exponential\")\n  -delivery-backoff-delay duration\n",
           "(default 200ms)\n  -delivery-max-backoff duration\n",
           "(default 1m0s)\n  -delivery-max-event-age duration\n",
           "(default 24h0m0s)\n  -delivery-retries n\n",
           "  -queue kind\n",
           "(default \"embedded\")\n  -queue-creds file\n",
           "  -queue-dir dir\n    \tdirectory of the embedded queue's log (default <embed-data-dir>/queue)\n",
           "(default 1073741824)\n  -queue-replicas n\n",
           "(default 3)\n  -queue-tls-ca file\n",
           "  -idle-timeout duration\n    \tkeep-alive connections idle this long are closed (default 1m0s)\n",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
}

}  // namespace
}  // namespace eg::gateway

namespace eg::gateway {
namespace {

TEST(FlagsTest, AccessKeyFlags) {
  const Settings d = run({});
  EXPECT_EQ(d.accessKeys, "");
  EXPECT_FALSE(d.metricsOpen);
  const Settings s = run({"-access-keys", "/etc/eg/keys", "--metrics-open"});
  EXPECT_EQ(s.accessKeys, "/etc/eg/keys");
  EXPECT_TRUE(s.metricsOpen);
  EXPECT_FALSE(run({"-metrics-open=false"}).metricsOpen);
  expectError({"-access-keys="}, "invalid value \"\" for flag -access-keys: must name a file");
  expectError({"-access-keys"}, "flag needs an argument: -access-keys");
}

TEST(FlagsTest, NewAccessKeyTakesAValidScope) {
  for (const char* scope : {"admin", "space:a", "space:a:read"}) {
    const ParseOutcome out = parse({"-new-access-key", scope});
    EXPECT_EQ(out.kind, ParseOutcome::kNewAccessKey) << out.message;
    EXPECT_EQ(out.message, scope);
  }
  EXPECT_EQ(parse({"--new-access-key=space:x", "-dev"}).kind, ParseOutcome::kNewAccessKey);
  expectError({"-new-access-key", "root"},
              "invalid value \"root\" for flag -new-access-key: unknown scope \"root\": want "
              "admin, space:<name> or space:<name>:read");
  expectError({"-new-access-key", "space:a b"},
              "invalid value \"space:a b\" for flag -new-access-key: invalid space name in scope "
              "\"space:a b\": a space name is 1 to 256 of letters, digits, \".\", \"-\" and \"_\"");
  expectError({"-new-access-key"}, "flag needs an argument: -new-access-key");
  const std::string text = usage();
  EXPECT_NE(text.find("  -access-keys file\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  -metrics-open\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  -new-access-key scope\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace eg::gateway
