#include "common/result.h"

namespace eg {

const char* errorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalid: return "invalid";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kAlreadyExists: return "already_exists";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kCompacted: return "compacted";
    case ErrorKind::kTooLarge: return "too_large";
    case ErrorKind::kInternal: return "internal";
    case ErrorKind::kRejected: return "rejected";
  }
  return "unknown";
}

}  // namespace eg
