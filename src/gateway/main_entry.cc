#include "gateway/main_entry.h"

#include <cstdio>
#include <exception>
#include <string>

#include <spdlog/spdlog.h>

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
