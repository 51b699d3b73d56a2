#pragma once

#include <cstdint>
#include <string_view>

namespace eg::queue {

// CRC-32C (Castagnoli), as iSCSI and ext4 use it: the SSE4.2 instruction where the CPU
// has it, a table otherwise. `crc` continues an earlier value (0 to start).
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

}  // namespace eg::queue
