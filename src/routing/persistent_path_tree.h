#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "routing/path_tree.h"
#include "routing/persistent_map.h"

namespace eg::routing {

// Values of a path's parameters and wildcard, in pattern order, viewing the path.
using ParamValues = boost::container::small_vector<std::string_view, 8>;

// The names of `pattern`'s parameters and wildcard, in order, paired with `values`.
void nameParams(std::string_view pattern, const ParamValues& values, PathParams& out);

// PathTree's matching (same pattern rules and precedence, path_tree.h) over immutable
// nodes shared between versions: set() copies only the nodes on the pattern's way, so a
// route change costs O(path length), whatever the number of routes, and every earlier
// tree stays valid. Patterns lead to slots: patterns that differ only in parameter
// names ("/a/:x", "/a/:y") share one. A slot holds a Leaf, a pointer-like value
// (usually a shared_ptr to what the caller keeps for that slot); an empty one is no
// route. Overlapping patterns are all kept (precedence decides, as kLenient).
template <class Leaf>
class PersistentPathTree {
 public:
  // The leaf of the slot `pattern` leads to; null (or empty) when none or malformed.
  const Leaf* find(std::string_view pattern) const {
    auto segments = parsePattern(pattern);
    if (!segments) return nullptr;
    const Node* node = root_.get();
    for (const auto& seg : *segments) {
      if (node == nullptr) return nullptr;
      switch (seg.kind) {
        case SegmentKind::kStatic: {
          const NodePtr* child = node->statics.find(seg.text);
          node = child == nullptr ? nullptr : child->get();
          break;
        }
        case SegmentKind::kParam:
          node = node->param.get();
          break;
        case SegmentKind::kWildcard:
          return node->wildcard ? &node->wildcard : nullptr;
      }
    }
    return node != nullptr && node->route ? &node->route : nullptr;
  }

  // The tree with `leaf` in the slot of `pattern` (an empty leaf removes the route);
  // kInvalid for a malformed pattern.
  Result<PersistentPathTree> set(std::string_view pattern, Leaf leaf) const {
    auto segments = parsePattern(pattern);
    if (!segments) return std::move(segments).error();
    PersistentPathTree out;
    out.root_ = setIn(root_.get(), {}, *segments, 0, std::move(leaf));
    return out;
  }

  // The leaf of the route matching the request path, with its parameter values.
  const Leaf* match(std::string_view path, ParamValues& values) const {
    values.clear();
    if (path.empty() || path.front() != '/' || !root_) return nullptr;
    return walk(*root_, path.substr(1), path.size() > 1, values);
  }

  bool empty() const { return !root_; }

  // Whether `pattern` may join the tree under PathTree's kStrict rules (path_tree.h):
  // kInvalid for a malformed pattern or a conflict (the message names a route there),
  // kAlreadyExists when its slot is taken. `patternOf(leaf)` is the pattern a slot's
  // leaf routes, which names parameters and routes in messages.
  template <class PatternOf>
  Status checkStrict(std::string_view pattern, PatternOf&& patternOf) const {
    using path_tree_detail::conflict;
    auto segments = parsePattern(pattern);
    if (!segments) return std::move(segments).error();
    const auto anyRoute = [&](const Node& from) { return patternOf(anyLeaf(from)); };
    // The name of the parameter or wildcard at `depth` of a pattern that has one there.
    const auto nameAt = [](std::string_view p, std::size_t depth) -> std::string {
      auto parts = parsePattern(p);
      if (!parts || depth >= parts->size()) return {};
      return std::string((*parts)[depth].text);
    };
    const Node* node = root_.get();
    for (std::size_t depth = 0; depth < segments->size(); ++depth) {
      if (node == nullptr) return {};  // the rest of the pattern is new ground
      const PatternSegment& seg = (*segments)[depth];
      switch (seg.kind) {
        case SegmentKind::kStatic: {
          if (node->param) {
            const std::string_view other = anyRoute(*node->param);
            return conflict(pattern, "static segment \"" + std::string(seg.text) +
                                         "\" where parameter \":" + nameAt(other, depth) +
                                         "\" is registered",
                            other);
          }
          if (node->wildcard) {
            return conflict(pattern, "static segment \"" + std::string(seg.text) +
                                         "\" where a wildcard is registered",
                            patternOf(node->wildcard));
          }
          const NodePtr* child = node->statics.find(seg.text);
          node = child == nullptr ? nullptr : child->get();
          break;
        }
        case SegmentKind::kParam: {
          if (!node->statics.empty()) {
            return conflict(pattern, "parameter \":" + std::string(seg.text) +
                                         "\" where a static segment is registered",
                            anyRoute(firstStatic(*node)));
          }
          if (node->wildcard) {
            return conflict(pattern, "parameter \":" + std::string(seg.text) +
                                         "\" where a wildcard is registered",
                            patternOf(node->wildcard));
          }
          if (node->param) {
            const std::string_view other = anyRoute(*node->param);
            if (const std::string name = nameAt(other, depth); name != seg.text) {
              return conflict(pattern, "parameter with different name (\"" + name +
                                           "\") already defined",
                              other);
            }
          }
          node = node->param.get();
          break;
        }
        case SegmentKind::kWildcard: {
          if (node->wildcard) {
            const std::string_view other = patternOf(node->wildcard);
            if (const std::string name = nameAt(other, depth); name != seg.text) {
              return conflict(pattern, "wildcard with different name (\"" + name +
                                           "\") already defined",
                              other);
            }
            return path_tree_detail::duplicate(pattern);
          }
          if (node->param || !node->statics.empty()) {
            return conflict(pattern, "wildcard \"*" + std::string(seg.text) +
                                         "\" where other segments are registered",
                            anyRoute(node->param ? *node->param : firstStatic(*node)));
          }
          return {};
        }
      }
    }
    if (node != nullptr && node->route) return path_tree_detail::duplicate(pattern);
    return {};
  }

 private:
  struct Node;
  using NodePtr = std::shared_ptr<const Node>;
  struct SegmentOf {
    std::string_view operator()(const NodePtr& node) const { return node->segment; }
  };
  struct Node {
    std::string segment;  // the static segment leading here from the parent's statics
    PersistentMap<NodePtr, SegmentOf> statics;
    NodePtr param;
    Leaf route;     // a route ending here
    Leaf wildcard;  // a route "<here>/*name"
    bool unused() const { return statics.empty() && !param && !route && !wildcard; }
  };

  static NodePtr setIn(const Node* node, std::string_view segment,
                       const std::vector<PatternSegment>& segments, std::size_t i, Leaf leaf) {
    auto copy = node != nullptr ? std::make_shared<Node>(*node) : std::make_shared<Node>();
    if (node == nullptr) copy->segment = segment;
    if (i == segments.size()) {
      copy->route = std::move(leaf);
    } else {
      const PatternSegment& seg = segments[i];
      switch (seg.kind) {
        case SegmentKind::kStatic: {
          const NodePtr* child = copy->statics.find(seg.text);
          NodePtr next = setIn(child ? child->get() : nullptr, seg.text, segments, i + 1,
                               std::move(leaf));
          copy->statics = next ? copy->statics.set(std::move(next)) : copy->statics.erase(seg.text);
          break;
        }
        case SegmentKind::kParam:
          copy->param = setIn(copy->param.get(), {}, segments, i + 1, std::move(leaf));
          break;
        case SegmentKind::kWildcard:
          copy->wildcard = std::move(leaf);
          break;
      }
    }
    if (copy->unused()) return nullptr;
    return copy;
  }

  // The static child of `node` whose segment sorts first (the one PathTree would name).
  static const Node& firstStatic(const Node& node) {
    const Node* first = nullptr;
    node.statics.forEach([&](const NodePtr& child) {
      if (first == nullptr || child->segment < first->segment) first = child.get();
    });
    return *first;
  }

  // A leaf at or below `node`, found as PathTree finds one to name.
  static const Leaf& anyLeaf(const Node& node) {
    if (node.route) return node.route;
    if (node.wildcard) return node.wildcard;
    if (!node.statics.empty()) return anyLeaf(firstStatic(node));
    return anyLeaf(*node.param);
  }

  const Leaf* walk(const Node& node, std::string_view rest, bool more, ParamValues& values) const {
    if (!more) return node.route ? &node.route : nullptr;
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const bool nextMore = slash != std::string_view::npos;
    const std::string_view next = nextMore ? rest.substr(slash + 1) : std::string_view();

    if (const NodePtr* child = node.statics.find(segment)) {
      if (const Leaf* leaf = walk(**child, next, nextMore, values)) return leaf;
    }
    if (node.param && !segment.empty()) {
      values.push_back(segment);
      if (const Leaf* leaf = walk(*node.param, next, nextMore, values)) return leaf;
      values.pop_back();
    }
    if (node.wildcard) {
      values.push_back(rest);
      return &node.wildcard;
    }
    return nullptr;
  }

  NodePtr root_;
};

}  // namespace eg::routing
