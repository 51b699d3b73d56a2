#include "providers/aws/credentials.h"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

namespace eg::providers {

namespace {

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

struct FileCache {
  std::mutex mutex;
  std::string path;
  std::string profile;
  std::chrono::steady_clock::time_point loadedAt;
  bool loaded = false;
  bool readable = false;
  std::optional<AwsCredentials> credentials;
};

FileCache& fileCache() {
  static FileCache cache;
  return cache;
}

// The credentials of `profile` in the file at `path`, read at most every kFileCacheTtl.
// `readable` tells the caller whether the file could be opened, for the message.
std::optional<AwsCredentials> fromFile(const std::string& path, const std::string& profile,
                                       bool& readable) {
  FileCache& cache = fileCache();
  std::lock_guard lock(cache.mutex);
  const auto now = std::chrono::steady_clock::now();
  if (!cache.loaded || cache.path != path || cache.profile != profile ||
      now - cache.loadedAt >= AwsCredentialChain::kFileCacheTtl) {
    cache.path = path;
    cache.profile = profile;
    cache.loadedAt = now;
    cache.loaded = true;
    std::ifstream in(path, std::ios::binary);
    cache.readable = static_cast<bool>(in);
    cache.credentials.reset();
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      cache.credentials = parseSharedCredentials(text.str(), profile);
    }
  }
  readable = cache.readable;
  return cache.credentials;
}

}  // namespace

std::optional<AwsCredentials> parseSharedCredentials(std::string_view text,
                                                     std::string_view profile) {
  AwsCredentials found;
  bool inProfile = false;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      const std::size_t close = line.find(']');
      std::string_view name = trim(line.substr(1, close == std::string_view::npos ? line.npos
                                                                                  : close - 1));
      // The config file's "[profile name]" spelling is accepted here too.
      if (name.substr(0, 8) == "profile ") name = trim(name.substr(8));
      inProfile = name == profile;
      continue;
    }
    if (!inProfile) continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, eq));
    const std::string_view value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") found.accessKeyId = value;
    if (key == "aws_secret_access_key") found.secretAccessKey = value;
    if (key == "aws_session_token") found.sessionToken = value;
  }
  if (found.accessKeyId.empty() || found.secretAccessKey.empty()) return std::nullopt;
  return found;
}

Result<AwsCredentials> AwsCredentialChain::resolve(const std::optional<AwsCredentials>& given) {
  if (given && !given->accessKeyId.empty() && !given->secretAccessKey.empty()) return *given;

  AwsCredentials fromEnv{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                         env("AWS_SESSION_TOKEN")};
  if (!fromEnv.accessKeyId.empty() && !fromEnv.secretAccessKey.empty()) return fromEnv;

  std::string path = env("AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty()) {
    const std::string home = env("HOME");
    if (!home.empty()) path = home + "/.aws/credentials";
  }
  std::string profile = env("AWS_PROFILE");
  if (profile.empty()) profile = "default";

  bool readable = false;
  if (!path.empty()) {
    if (auto credentials = fromFile(path, profile, readable)) return *std::move(credentials);
  }

  std::string where;
  if (path.empty()) {
    where = "no shared credentials file (HOME is not set)";
  } else if (!readable) {
    where = "no readable shared credentials file at " + path;
  } else {
    where = "no profile \"" + profile + "\" with aws_access_key_id and aws_secret_access_key in " +
            path;
  }
  return Error::unavailable(
      "no AWS credentials: set awsAccessKeyId and awsSecretAccessKey in the function's "
      "provider, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the gateway's environment, "
      "or a shared credentials file (" + where + ")");
}

}  // namespace eg::providers
