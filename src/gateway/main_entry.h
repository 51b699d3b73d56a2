#pragma once

namespace eg::gateway {

// The whole program: flags → logging → Gateway. Returns the exit code (2 for usage
// errors, 1 for start-up failures, 0 after a clean stop).
int runMain(int argc, char** argv);

}  // namespace eg::gateway
