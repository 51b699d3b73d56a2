// The path tree (routing/path_tree.h) against a model: a plain list of routes with a
// matcher and a conflict check written straight from the rules, no tree. The input is a
// program of checks, inserts, removes, finds and matches over patterns and paths drawn
// from a few tokens (so that routes meet), under the policy the first byte picks. Any
// disagreement aborts: which route matches and with which parameters, whether an insert
// is taken and with which error kind, what find and remove answer, the size.

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "byte_reader.h"
#include "routing/path_tree.h"

namespace {

using eg::ErrorKind;
using eg::routing::ConflictPolicy;
using eg::routing::PathParams;
using eg::routing::PathTree;

void check(bool ok) {
  if (!ok) std::abort();
}

// In order of precedence.
enum class Kind { kStatic, kParam, kWildcard };
struct Seg {
  Kind kind;
  std::string text;  // the literal, or the parameter's name
};

std::vector<std::string> splitSlashes(std::string_view s) {
  std::vector<std::string> out;
  for (;;) {
    const size_t slash = s.find('/');
    out.emplace_back(s.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    s.remove_prefix(slash + 1);
  }
}

// A pattern's segments; nullopt when malformed. "/" has none.
std::optional<std::vector<Seg>> parse(std::string_view pattern) {
  if (pattern.empty() || pattern[0] != '/') return std::nullopt;
  std::vector<Seg> out;
  if (pattern.size() == 1) return out;
  for (std::string& text : splitSlashes(pattern.substr(1))) {
    if (!out.empty() && out.back().kind == Kind::kWildcard) return std::nullopt;
    Seg seg{Kind::kStatic, text};
    if (!text.empty() && (text[0] == ':' || text[0] == '*')) {
      seg = {text[0] == ':' ? Kind::kParam : Kind::kWildcard, text.substr(1)};
      if (seg.text.empty()) return std::nullopt;
    }
    out.push_back(std::move(seg));
  }
  return out;
}

struct Route {
  std::string pattern;
  std::vector<Seg> segs;
  int value;
};

class Model {
 public:
  explicit Model(ConflictPolicy policy) : strict_(policy == ConflictPolicy::kStrict) {}

  // What insert answers: nullopt when it takes the pattern.
  std::optional<ErrorKind> check(std::string_view pattern) const {
    const auto q = parse(pattern);
    if (!q) return ErrorKind::kInvalid;
    for (size_t i = 0; i <= q->size(); ++i) {
      // What the routes registered at the place that q's first i segments lead to.
      bool reached = i == 0, route = false, statics = false, param = false, wildcard = false;
      std::string paramName, wildcardName;
      for (const Route& r : routes_) {
        if (!samePlace(r.segs, *q, i)) continue;
        reached = true;
        if (r.segs.size() == i) {
          route = true;
        } else if (r.segs[i].kind == Kind::kStatic) {
          statics = true;
        } else if (r.segs[i].kind == Kind::kParam) {
          param = true;
          paramName = r.segs[i].text;
        } else {
          wildcard = true;
          wildcardName = r.segs[i].text;
        }
      }
      if (!reached) return std::nullopt;
      if (i == q->size()) return route ? std::optional(ErrorKind::kAlreadyExists) : std::nullopt;
      const Seg& s = (*q)[i];
      switch (s.kind) {
        case Kind::kStatic:
          if (strict_ && (param || wildcard)) return ErrorKind::kInvalid;
          break;
        case Kind::kParam:
          if (strict_ && (statics || wildcard || (param && paramName != s.text))) {
            return ErrorKind::kInvalid;
          }
          break;
        case Kind::kWildcard:
          if (wildcard) {
            return strict_ && wildcardName != s.text ? ErrorKind::kInvalid
                                                     : ErrorKind::kAlreadyExists;
          }
          if (strict_ && (param || statics)) return ErrorKind::kInvalid;
          return std::nullopt;
      }
    }
    return std::nullopt;
  }

  void add(std::string_view pattern, int value) {
    routes_.push_back({std::string(pattern), *parse(pattern), value});
  }
  const Route* find(std::string_view pattern) const {
    for (const Route& r : routes_) {
      if (r.pattern == pattern) return &r;
    }
    return nullptr;
  }
  std::optional<int> remove(std::string_view pattern) {
    const Route* r = find(pattern);
    if (r == nullptr) return std::nullopt;
    const int value = r->value;
    routes_.erase(routes_.begin() + (r - routes_.data()));
    return value;
  }
  size_t size() const { return routes_.size(); }

  // Of every route that matches, the one whose segment kinds come first in precedence
  // order, level by level: what the tree's backtracking search finds first.
  const Route* match(std::string_view path, PathParams& params) const {
    if (path.empty() || path[0] != '/') return nullptr;
    const std::vector<std::string> segs =
        path.size() == 1 ? std::vector<std::string>() : splitSlashes(path.substr(1));
    const Route* best = nullptr;
    std::vector<Kind> bestKinds;
    for (const Route& r : routes_) {
      PathParams p;
      std::vector<Kind> kinds;
      if (!matches(r, segs, p, kinds)) continue;
      if (best == nullptr || kinds < bestKinds) {
        best = &r;
        bestKinds = std::move(kinds);
        params = std::move(p);
      }
    }
    return best;
  }

 private:
  // Whether the first i segments of `r` lead to the same place as those of `q`: same
  // kinds, same literals; parameter names do not make a place, and a wildcard ends one.
  static bool samePlace(const std::vector<Seg>& r, const std::vector<Seg>& q, size_t i) {
    if (r.size() < i) return false;
    for (size_t k = 0; k < i; ++k) {
      if (r[k].kind == Kind::kWildcard || r[k].kind != q[k].kind) return false;
      if (r[k].kind == Kind::kStatic && r[k].text != q[k].text) return false;
    }
    return true;
  }

  static bool matches(const Route& r, const std::vector<std::string>& segs, PathParams& params,
                      std::vector<Kind>& kinds) {
    for (size_t i = 0; i < r.segs.size(); ++i) {
      const Seg& s = r.segs[i];
      kinds.push_back(s.kind);
      if (s.kind == Kind::kWildcard) {
        if (segs.size() <= i) return false;  // it takes the rest after a '/', maybe ""
        std::string rest = segs[i];
        for (size_t k = i + 1; k < segs.size(); ++k) rest += "/" + segs[k];
        params.emplace_back(s.text, rest);
        return true;
      }
      if (i >= segs.size()) return false;
      if (s.kind == Kind::kStatic && segs[i] != s.text) return false;
      if (s.kind == Kind::kParam) {
        if (segs[i].empty()) return false;
        params.emplace_back(s.text, segs[i]);
      }
    }
    return segs.size() == r.segs.size();
  }

  bool strict_;
  std::vector<Route> routes_;
};

// A pattern or path of a few segments, mostly from tokens that make routes meet; a
// quarter lack the leading '/'.
std::string text(eg::fuzz::ByteReader& in) {
  static const std::string_view kTokens[] = {"",   "a",  "b",  "ab", ":a", ":b",
                                             "*a", "*b", ":",  "*",  "a:"};
  constexpr size_t kCount = sizeof(kTokens) / sizeof(kTokens[0]);
  const uint8_t head = in.byte();
  std::string out = (head & 0xc0) == 0xc0 ? "" : "/";
  const size_t n = head % 6;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += '/';
    const size_t t = in.pick(kCount + 1);
    out += t < kCount ? kTokens[t] : in.bytes(4);
  }
  return out;
}

bool same(const std::optional<ErrorKind>& want, const eg::Status& got) {
  return want ? !got && got.error().kind == *want : got.ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eg::fuzz::ByteReader in(data, size);
  const ConflictPolicy policy = in.byte() & 1 ? ConflictPolicy::kLenient : ConflictPolicy::kStrict;
  PathTree<int> tree(policy);
  Model model(policy);
  int next = 0;
  while (!in.empty()) {
    const std::string s = text(in);
    switch (in.pick(5)) {
      case 0:
      case 1: {
        const auto want = model.check(s);
        check(same(want, tree.check(s)));
        check(same(want, tree.insert(s, next)));
        if (!want) model.add(s, next++);
        break;
      }
      case 2:
        check(tree.remove(s) == model.remove(s));
        break;
      case 3: {
        const int* got = tree.find(s);
        const Route* want = model.find(s);
        check((got == nullptr) == (want == nullptr) && (!got || *got == want->value));
        break;
      }
      case 4: {
        PathParams got, want;
        const int* value = tree.match(s, &got);
        const Route* route = model.match(s, want);
        check((value == nullptr) == (route == nullptr));
        if (value != nullptr) check(*value == route->value && got == want);
        check(tree.match(s) == value);
        break;
      }
    }
    check(tree.size() == model.size());
  }
  return 0;
}
