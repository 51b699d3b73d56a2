#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "routing/snapshot.h"

namespace eg::routing {

// Route patterns and request paths (same rules as the Go gateway):
//   - a pattern starts with '/'; "/" is the root route (no segments);
//   - otherwise the text after the leading '/' splits on '/' into segments, so a
//     trailing slash is significant ("/a/" is the segments "a","" and differs from
//     "/a") and empty segments ("//") are static segments of their own;
//   - ":name" is a parameter (one non-empty segment), "*name" a wildcard that must be
//     the last segment and captures the rest of the path without its leading '/'
//     ("/*rest" on "/a/b" gives rest="a/b"; "/a/*rest" on "/a/" gives rest="");
//     names are required.
// Matching prefers, at each level, a static segment over a parameter over a wildcard,
// and backtracks when the preferred branch fails deeper down. Each node sits at one
// depth, so a match visits every node at most once.
enum class SegmentKind { kStatic, kParam, kWildcard };

struct PatternSegment {
  SegmentKind kind = SegmentKind::kStatic;
  std::string_view text;  // the literal for static segments, else the name without ':'/'*'
};

// Splits a pattern into segments; kInvalid (with a message naming the pattern) when it
// does not start with '/', a parameter or wildcard has no name, or a wildcard is not last.
Result<std::vector<PatternSegment>> parsePattern(std::string_view pattern);

// parsePattern without the segments, for the Config API's validation.
Status validateRoutePath(std::string_view pattern);

// How insert() treats patterns that overlap ones already registered.
enum class ConflictPolicy {
  // The Go gateway's rules, used for sync subscriptions: at one place of the tree
  // there are either static segments, or one parameter (one name), or one wildcard.
  kStrict,
  // Static, parameter and wildcard children may live side by side (precedence decides)
  // and a parameter's name may differ per route; used where overlaps are allowed (CORS).
  kLenient,
};

// A trie over '/'-separated segments mapping route patterns to values. Not
// thread-safe; immutable use (check/find/match) from many threads is fine.
template <class T>
class PathTree {
 public:
  explicit PathTree(ConflictPolicy policy = ConflictPolicy::kStrict) : policy_(policy) {}
  PathTree(PathTree&&) noexcept = default;
  PathTree& operator=(PathTree&&) noexcept = default;

  // Whether insert(pattern) would succeed: kInvalid for a malformed pattern or a
  // conflict (message names the existing route), kAlreadyExists when the same route
  // (same segments; under kStrict also the same names) is registered.
  Status check(std::string_view pattern) const;
  Status insert(std::string_view pattern, T value);
  // Removes the route registered under exactly `pattern`; nullopt when there is none.
  std::optional<T> remove(std::string_view pattern);
  // The value registered under exactly `pattern`.
  const T* find(std::string_view pattern) const;
  // The value of the route matching the request path; `params` (when not null) gets the
  // parameter and wildcard values, in pattern order. The only allocations are params'.
  const T* match(std::string_view path, PathParams* params = nullptr) const;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ConflictPolicy policy() const { return policy_; }

 private:
  struct Terminal {
    T value;
    std::string pattern;
    std::vector<std::string> names;  // parameter and wildcard names, in order
  };
  struct Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> statics;
    std::unique_ptr<Node> param;
    std::string paramName;  // of the route that created `param`
    std::optional<Terminal> route;     // a route ending here
    std::optional<Terminal> wildcard;  // a route "<here>/*name"
    bool unused() const { return statics.empty() && !param && !route && !wildcard; }
  };
  struct MatchState {
    PathParams* out = nullptr;
    std::size_t pos = 0;
  };

  Status checkSegments(const std::vector<PatternSegment>& segments,
                       std::string_view pattern) const;
  const Terminal* findTerminal(const std::vector<PatternSegment>& segments) const;
  const Terminal* walk(const Node& node, std::string_view rest, bool more,
                       MatchState& state) const;
  static void beginParams(const Terminal& t, MatchState& state);
  static void fillParam(std::string_view value, MatchState& state);
  static std::string_view anyRoute(const Node& node);

  Node root_;
  ConflictPolicy policy_;
  std::size_t size_ = 0;
};

namespace path_tree_detail {
Error conflict(std::string_view pattern, std::string_view what, std::string_view existing);
Error duplicate(std::string_view pattern);
}  // namespace path_tree_detail

template <class T>
std::string_view PathTree<T>::anyRoute(const Node& node) {
  if (node.route) return node.route->pattern;
  if (node.wildcard) return node.wildcard->pattern;
  if (!node.statics.empty()) return anyRoute(*node.statics.begin()->second);
  if (node.param) return anyRoute(*node.param);
  return {};
}

template <class T>
Status PathTree<T>::checkSegments(const std::vector<PatternSegment>& segments,
                                  std::string_view pattern) const {
  using path_tree_detail::conflict;
  const bool strict = policy_ == ConflictPolicy::kStrict;
  const Node* node = &root_;
  for (const auto& seg : segments) {
    if (node == nullptr) return {};  // the rest of the pattern is new ground
    switch (seg.kind) {
      case SegmentKind::kStatic: {
        if (strict && node->param) {
          return conflict(pattern, "static segment \"" + std::string(seg.text) +
                                       "\" where parameter \":" + node->paramName +
                                       "\" is registered",
                          anyRoute(*node->param));
        }
        if (strict && node->wildcard) {
          return conflict(pattern, "static segment \"" + std::string(seg.text) +
                                       "\" where a wildcard is registered",
                          node->wildcard->pattern);
        }
        auto it = node->statics.find(seg.text);
        node = it == node->statics.end() ? nullptr : it->second.get();
        break;
      }
      case SegmentKind::kParam: {
        if (strict && !node->statics.empty()) {
          return conflict(pattern, "parameter \":" + std::string(seg.text) +
                                       "\" where a static segment is registered",
                          anyRoute(*node->statics.begin()->second));
        }
        if (strict && node->wildcard) {
          return conflict(pattern, "parameter \":" + std::string(seg.text) +
                                       "\" where a wildcard is registered",
                          node->wildcard->pattern);
        }
        if (strict && node->param && node->paramName != seg.text) {
          return conflict(pattern, "parameter with different name (\"" + node->paramName +
                                       "\") already defined",
                          anyRoute(*node->param));
        }
        node = node->param.get();
        break;
      }
      case SegmentKind::kWildcard: {
        if (node->wildcard) {
          if (strict && node->wildcard->names.back() != seg.text) {
            return conflict(pattern, "wildcard with different name (\"" +
                                         node->wildcard->names.back() + "\") already defined",
                            node->wildcard->pattern);
          }
          return path_tree_detail::duplicate(pattern);
        }
        if (strict && (node->param || !node->statics.empty())) {
          return conflict(pattern, "wildcard \"*" + std::string(seg.text) +
                                       "\" where other segments are registered",
                          anyRoute(node->param ? *node->param : *node->statics.begin()->second));
        }
        return {};
      }
    }
  }
  if (node != nullptr && node->route) return path_tree_detail::duplicate(pattern);
  return {};
}

template <class T>
Status PathTree<T>::check(std::string_view pattern) const {
  auto segments = parsePattern(pattern);
  if (!segments) return std::move(segments).error();
  return checkSegments(*segments, pattern);
}

template <class T>
Status PathTree<T>::insert(std::string_view pattern, T value) {
  auto segments = parsePattern(pattern);
  if (!segments) return std::move(segments).error();
  if (auto st = checkSegments(*segments, pattern); !st) return st;

  Terminal terminal{std::move(value), std::string(pattern), {}};
  Node* node = &root_;
  for (const auto& seg : *segments) {
    switch (seg.kind) {
      case SegmentKind::kStatic: {
        auto it = node->statics.find(seg.text);
        if (it == node->statics.end()) {
          it = node->statics.emplace(std::string(seg.text), std::make_unique<Node>()).first;
        }
        node = it->second.get();
        break;
      }
      case SegmentKind::kParam:
        terminal.names.emplace_back(seg.text);
        if (!node->param) {
          node->param = std::make_unique<Node>();
          node->paramName = std::string(seg.text);
        }
        node = node->param.get();
        break;
      case SegmentKind::kWildcard:
        terminal.names.emplace_back(seg.text);
        node->wildcard.emplace(std::move(terminal));
        ++size_;
        return {};
    }
  }
  node->route.emplace(std::move(terminal));
  ++size_;
  return {};
}

template <class T>
const typename PathTree<T>::Terminal* PathTree<T>::findTerminal(
    const std::vector<PatternSegment>& segments) const {
  const Node* node = &root_;
  for (const auto& seg : segments) {
    switch (seg.kind) {
      case SegmentKind::kStatic: {
        auto it = node->statics.find(seg.text);
        if (it == node->statics.end()) return nullptr;
        node = it->second.get();
        break;
      }
      case SegmentKind::kParam:
        if (!node->param) return nullptr;
        node = node->param.get();
        break;
      case SegmentKind::kWildcard:
        return node->wildcard ? &*node->wildcard : nullptr;
    }
  }
  return node->route ? &*node->route : nullptr;
}

template <class T>
const T* PathTree<T>::find(std::string_view pattern) const {
  auto segments = parsePattern(pattern);
  if (!segments) return nullptr;
  const Terminal* t = findTerminal(*segments);
  return t != nullptr && t->pattern == pattern ? &t->value : nullptr;
}

template <class T>
std::optional<T> PathTree<T>::remove(std::string_view pattern) {
  auto segments = parsePattern(pattern);
  if (!segments) return std::nullopt;
  // The chain of nodes from the root, to prune the ones the route alone kept alive.
  std::vector<std::pair<Node*, const PatternSegment*>> chain;
  chain.reserve(segments->size() + 1);
  Node* node = &root_;
  std::optional<Terminal>* slot = nullptr;
  for (const auto& seg : *segments) {
    if (seg.kind == SegmentKind::kWildcard) {
      slot = &node->wildcard;
      break;
    }
    Node* next = nullptr;
    if (seg.kind == SegmentKind::kStatic) {
      auto it = node->statics.find(seg.text);
      if (it != node->statics.end()) next = it->second.get();
    } else {
      next = node->param.get();
    }
    if (next == nullptr) return std::nullopt;
    chain.emplace_back(node, &seg);
    node = next;
  }
  if (slot == nullptr) slot = &node->route;
  if (!*slot || (*slot)->pattern != pattern) return std::nullopt;
  std::optional<T> removed(std::move((*slot)->value));
  slot->reset();
  --size_;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    Node* parent = it->first;
    const PatternSegment& seg = *it->second;
    if (seg.kind == SegmentKind::kStatic) {
      auto child = parent->statics.find(seg.text);
      if (!child->second->unused()) break;
      parent->statics.erase(child);
    } else {
      if (!parent->param->unused()) break;
      parent->param.reset();
      parent->paramName.clear();
    }
  }
  return removed;
}

template <class T>
void PathTree<T>::beginParams(const Terminal& t, MatchState& state) {
  if (state.out == nullptr) return;
  state.out->clear();
  state.out->reserve(t.names.size());
  for (const auto& name : t.names) state.out->emplace_back(name, std::string());
  state.pos = t.names.size();
}

template <class T>
void PathTree<T>::fillParam(std::string_view value, MatchState& state) {
  if (state.out == nullptr) return;
  (*state.out)[--state.pos].second.assign(value);
}

template <class T>
const typename PathTree<T>::Terminal* PathTree<T>::walk(const Node& node, std::string_view rest,
                                                        bool more, MatchState& state) const {
  if (!more) {
    if (!node.route) return nullptr;
    beginParams(*node.route, state);
    return &*node.route;
  }
  const auto slash = rest.find('/');
  const std::string_view segment = rest.substr(0, slash);
  const bool nextMore = slash != std::string_view::npos;
  const std::string_view next = nextMore ? rest.substr(slash + 1) : std::string_view();

  if (auto it = node.statics.find(segment); it != node.statics.end()) {
    if (const Terminal* t = walk(*it->second, next, nextMore, state)) return t;
  }
  if (node.param && !segment.empty()) {
    if (const Terminal* t = walk(*node.param, next, nextMore, state)) {
      fillParam(segment, state);
      return t;
    }
  }
  if (node.wildcard) {
    beginParams(*node.wildcard, state);
    fillParam(rest, state);
    return &*node.wildcard;
  }
  return nullptr;
}

template <class T>
const T* PathTree<T>::match(std::string_view path, PathParams* params) const {
  if (path.empty() || path.front() != '/') return nullptr;
  MatchState state{params, 0};
  const bool more = path.size() > 1;  // "/" is the root route
  const Terminal* t = walk(root_, path.substr(1), more, state);
  return t == nullptr ? nullptr : &t->value;
}

}  // namespace eg::routing
