#include "gateway/main_entry.h"

int main(int argc, char** argv) { return eg::gateway::runMain(argc, argv); }
