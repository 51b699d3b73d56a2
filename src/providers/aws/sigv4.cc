#include "providers/aws/sigv4.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <mutex>
#include <unordered_map>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace eg::providers::sigv4 {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::size_t kMaxCachedKeys = 256;

bool isUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Form decoding, as query strings are read by the services: %XX and '+' as space. An
// invalid escape stays as it is.
std::string formDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 && hexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Trimmed, with each run of whitespace inside as one space.
std::string canonicalValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pendingSpace = false;
  for (const char c : value) {
    if (isSpace(c)) {
      pendingSpace = !out.empty();
      continue;
    }
    if (pendingSpace) out += ' ';
    pendingSpace = false;
    out += c;
  }
  return out;
}

bool isUnsigned(std::string_view lowerName) {
  return lowerName == "authorization" || lowerName == "connection" ||
         lowerName == "user-agent" || lowerName == "expect" || lowerName == "x-amzn-trace-id";
}

// Canonical headers (each "name:value\n") and the signed header list, sorted by name.
std::pair<std::string, std::string> canonicalHeaders(const Headers& headers) {
  std::map<std::string, std::string> byName;
  for (const auto& [name, value] : headers) {
    std::string key = lower(name);
    if (isUnsigned(key)) continue;
    auto [it, inserted] = byName.try_emplace(std::move(key), canonicalValue(value));
    if (!inserted) {
      it->second += ',';
      it->second += canonicalValue(value);
    }
  }
  std::string canonical;
  std::string names;
  for (const auto& [name, value] : byName) {
    canonical += name;
    canonical += ':';
    canonical += value;
    canonical += '\n';
    if (!names.empty()) names += ';';
    names += name;
  }
  return {std::move(canonical), std::move(names)};
}

const std::string* findHeader(const Headers& headers, std::string_view lowerName) {
  for (const auto& [name, value] : headers) {
    if (lower(name) == lowerName) return &value;
  }
  return nullptr;
}

}  // namespace

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char b : bytes) {
    const auto c = static_cast<unsigned char>(b);
    out += kDigits[c >> 4];
    out += kDigits[c & 0x0f];
  }
  return out;
}

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return hex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string uriEncode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char b : text) {
    const auto c = static_cast<unsigned char>(b);
    if (isUnreserved(c)) {
      out += b;
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0x0f];
    }
  }
  return out;
}

std::string amzDate(std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string canonicalUri(std::string_view path) {
  if (path.empty() || path == "/") return "/";
  // Repeated slashes are one; "." segments vanish; ".." removes the segment before.
  std::string collapsed;
  collapsed.reserve(path.size());
  for (const char c : path) {
    if (c == '/' && !collapsed.empty() && collapsed.back() == '/') continue;
    collapsed += c;
  }
  std::vector<std::string> segments;
  std::string_view rest(collapsed);
  for (;;) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (segment != ".") {
      segments.push_back(uriEncode(segment));
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::string out;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out += '/';
    out += segments[i];
  }
  if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
  return out;
}

std::string canonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    std::string key = formDecode(pair.substr(0, eq));
    // Services ignore parameters without a name.
    if (key.empty()) continue;
    std::string value =
        eq == std::string_view::npos ? std::string() : formDecode(pair.substr(eq + 1));
    params.emplace_back(uriEncode(key), uriEncode(value));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out += '&';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

std::string canonicalRequest(const SigningRequest& request) {
  const std::size_t q = request.target.find('?');
  const std::string_view path = request.target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : request.target.substr(q + 1);
  auto [headers, names] = canonicalHeaders(request.headers);
  const std::string* contentSha = findHeader(request.headers, "x-amz-content-sha256");

  std::string out;
  out += request.method;
  out += '\n';
  out += canonicalUri(path);
  out += '\n';
  out += canonicalQuery(query);
  out += '\n';
  out += headers;
  out += '\n';
  out += names;
  out += '\n';
  // As the service reads the header: trimmed, as it is signed above.
  out += contentSha != nullptr ? canonicalValue(*contentSha) : sha256Hex(request.payload);
  return out;
}

std::string stringToSign(std::string_view amzDate, std::string_view region,
                         std::string_view service, std::string_view canonicalRequest) {
  std::string out;
  out += kAlgorithm;
  out += '\n';
  out += amzDate;
  out += '\n';
  out += amzDate.substr(0, 8);
  out += '/';
  out += region;
  out += '/';
  out += service;
  out += "/aws4_request\n";
  out += sha256Hex(canonicalRequest);
  return out;
}

std::string signingKey(std::string_view secret, std::string_view date, std::string_view region,
                       std::string_view service) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::string> cache;

  std::string cacheKey;
  cacheKey.reserve(secret.size() + date.size() + region.size() + service.size() + 3);
  cacheKey.append(secret).append(1, '\n').append(date).append(1, '\n').append(region).append(
      1, '\n').append(service);
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(cacheKey); it != cache.end()) return it->second;
  }
  const std::string kDate = hmacSha256(std::string("AWS4").append(secret), date);
  const std::string kRegion = hmacSha256(kDate, region);
  const std::string kService = hmacSha256(kRegion, service);
  std::string key = hmacSha256(kService, "aws4_request");
  std::lock_guard lock(mutex);
  // Keys change daily; dropping them all when full keeps the cache small and simple.
  if (cache.size() >= kMaxCachedKeys) cache.clear();
  cache.emplace(std::move(cacheKey), key);
  return key;
}

SignedHeaders sign(const SigningRequest& request, const AwsCredentials& credentials,
                   std::chrono::system_clock::time_point now) {
  const std::string date = amzDate(now);
  SignedHeaders result;
  result.headers.emplace_back("X-Amz-Date", date);
  if (!credentials.sessionToken.empty()) {
    result.headers.emplace_back("X-Amz-Security-Token", credentials.sessionToken);
  }
  if (request.contentSha256Header) {
    result.headers.emplace_back("X-Amz-Content-Sha256", sha256Hex(request.payload));
  }

  SigningRequest full = request;
  full.headers.insert(full.headers.end(), result.headers.begin(), result.headers.end());
  const std::string canonical = canonicalRequest(full);
  const std::string toSign = stringToSign(date, request.region, request.service, canonical);
  const std::string key =
      signingKey(credentials.secretAccessKey, std::string_view(date).substr(0, 8),
                 request.region, request.service);
  const std::string signature = hex(hmacSha256(key, toSign));
  result.signedHeaderNames = canonicalHeaders(full.headers).second;

  result.authorization.reserve(200);
  result.authorization += kAlgorithm;
  result.authorization += " Credential=";
  result.authorization += credentials.accessKeyId;
  result.authorization += '/';
  result.authorization += std::string_view(date).substr(0, 8);
  result.authorization += '/';
  result.authorization += request.region;
  result.authorization += '/';
  result.authorization += request.service;
  result.authorization += "/aws4_request, SignedHeaders=";
  result.authorization += result.signedHeaderNames;
  result.authorization += ", Signature=";
  result.authorization += signature;
  result.headers.emplace_back("Authorization", result.authorization);
  return result;
}

}  // namespace eg::providers::sigv4
