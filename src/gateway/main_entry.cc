#include "gateway/main_entry.h"

#include <cstdio>
#include <exception>
#include <string>

#include <spdlog/spdlog.h>

#include "access/key_set.h"
#include "common/log.h"
#include "gateway/flags.h"
#include "gateway/gateway.h"

namespace eg::gateway {

int runMain(int argc, char** argv) {
  auto outcome = parseFlags(argc, argv);
  switch (outcome.kind) {
    case ParseOutcome::kError:
      std::fprintf(stderr, "%s\n%s", outcome.message.c_str(), usage().c_str());
      return 2;
    case ParseOutcome::kHelp:
      std::fprintf(stdout, "%s", usage().c_str());
      return 0;
    case ParseOutcome::kVersion:
      std::fprintf(stdout, "%s\n", outcome.message.c_str());
      return 0;
    case ParseOutcome::kNewAccessKey: {
      // The scope was validated by parseFlags.
      const auto scope = access::parseScope(outcome.message);
      const auto key = access::generateKey();
      if (!scope || !key) {
        std::fprintf(stderr, "cannot make an access key: %s\n",
                     (!scope ? scope.error() : key.error()).message.c_str());
        return 1;
      }
      std::fprintf(stdout, "key: %s\n%s\n", key->c_str(), access::fileLine(*key, *scope).c_str());
      return 0;
    }
    case ParseOutcome::kRun:
      break;
  }

  initLogging(outcome.settings.logFormat, outcome.settings.logLevel);
  try {
    Gateway gateway(std::move(outcome.settings));
    gateway.start();
    return gateway.runUntilSignalled();
  } catch (const std::exception& e) {
    spdlog::critical("Event Gateway failed to start: {}", e.what());
    return 1;
  }
}

}  // namespace eg::gateway
