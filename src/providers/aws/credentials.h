#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace eg::providers {

struct AwsCredentials {
  std::string accessKeyId;
  std::string secretAccessKey;
  std::string sessionToken;  // empty when none
};

// The standard AWS credential chain, consulted at call time (never at registration):
//   1. the provider's own fields (`given`),
//   2. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
//   3. the shared credentials file: AWS_SHARED_CREDENTIALS_FILE, else
//      $HOME/.aws/credentials; profile AWS_PROFILE, else "default".
// The file is re-read at most every kFileCacheTtl (and whenever its path or profile
// changes), so rotated keys are picked up without a restart. Thread-safe.
//
// When no source has both a key id and a secret the call fails with kUnavailable and
// a message that says where credentials were looked for; no message ever contains a
// key, a secret or a token.
class AwsCredentialChain {
 public:
  static constexpr std::chrono::seconds kFileCacheTtl{5};
  static Result<AwsCredentials> resolve(const std::optional<AwsCredentials>& given);
};

// Parses the INI text of a shared credentials file and returns the keys of `profile`
// (aws_access_key_id, aws_secret_access_key, aws_session_token), or nullopt when the
// profile is absent or lacks the key id or the secret.
std::optional<AwsCredentials> parseSharedCredentials(std::string_view text,
                                                     std::string_view profile);

}  // namespace eg::providers
