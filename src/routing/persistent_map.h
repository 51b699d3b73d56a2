#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "common/hash.h"

namespace eg::routing {

// Keys of persistent maps: one string_view, or a fixed tuple of them (e.g. space and ID).
// They view the value that holds them, so that a map stores no key of its own.
template <std::size_t N>
using KeyViews = std::array<std::string_view, N>;

namespace persistent_detail {

inline std::uint64_t hashKey(std::string_view key) { return std::hash<std::string_view>{}(key); }

template <std::size_t N>
std::uint64_t hashKey(const KeyViews<N>& key) {
  std::uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (std::string_view part : key) {
    // boost::hash_combine's mix, widened to 64 bits; the part's length keeps
    // ("ab","c") and ("a","bc") apart.
    h ^= hashKey(part) + part.size() + 0x9e3779b97f4a7c15ULL + (h << 12) + (h >> 4);
  }
  // Each 5-bit slice of the result spreads keys evenly.
  return mix64(h);
}

}  // namespace persistent_detail

// An immutable hash map with structural sharing (a CHAMP trie: 32-way nodes indexed by
// 5-bit slices of a 64-bit hash, values and child nodes in separate compact arrays).
// set() and erase() return a new map that shares every node but the O(log32 n) ones on
// the changed key's path, so a change costs the same at 10 entries as at a million, and
// old versions stay valid and readable, unchanged, for as long as someone holds them.
//
// V is the stored value (usually a shared_ptr to an immutable object); KeyOf maps a value
// to its key (string_view or KeyViews<N>), which must view data the value keeps alive.
// Any number of threads may read one map; a map object itself is not written concurrently.
template <class V, class KeyOf>
class PersistentMap {
 public:
  using Key = std::invoke_result_t<KeyOf, const V&>;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const V* find(const Key& key) const {
    const std::uint64_t hash = persistent_detail::hashKey(key);
    const Node* node = root_.get();
    for (unsigned shift = 0; node != nullptr; shift += kBits) {
      if (shift > kMaxShift) {
        for (const V& v : node->values) {
          if (KeyOf{}(v) == key) return &v;
        }
        return nullptr;
      }
      const std::uint32_t bit = bitOf(hash, shift);
      if (node->dataMap & bit) {
        const V& v = node->values[indexOf(node->dataMap, bit)];
        return KeyOf{}(v) == key ? &v : nullptr;
      }
      if (!(node->nodeMap & bit)) return nullptr;
      node = node->children[indexOf(node->nodeMap, bit)].get();
    }
    return nullptr;
  }

  // The map with `value` under its key, replacing the value that was there.
  [[nodiscard]] PersistentMap set(V value) const {
    PersistentMap out = *this;
    out.assign(std::move(value));  // this map still holds every node: the path is copied
    return out;
  }

  // Puts `value` under its key in this map itself. Nodes that no other map holds are
  // changed in place, the others copied as set() copies them; so a run of changes
  // between two copies of this map copies each node at most once (a bulk load copies
  // none). Must not run while another thread copies this map object.
  void assign(V value) {
    const Key key = KeyOf{}(value);
    bool added = false;
    root_ = setIn(std::move(root_), std::move(value), persistent_detail::hashKey(key), 0, added);
    if (added) ++size_;
  }

  // The map without `key`; this map itself (sharing everything) when the key is absent.
  [[nodiscard]] PersistentMap erase(const Key& key) const {
    bool removed = false;
    NodePtr root = eraseIn(root_, key, persistent_detail::hashKey(key), 0, removed);
    if (!removed) return *this;
    PersistentMap out;
    out.root_ = std::move(root);
    out.size_ = size_ - 1;
    return out;
  }

  // Calls f(const V&) for every value, in no particular order.
  template <class F>
  void forEach(F&& f) const {
    if (root_) visit(*root_, f);
  }

 private:
  static constexpr unsigned kBits = 5;
  // Levels below this shift (past the hash's 64 bits) hold every value whose hash is the
  // same, in a plain list.
  static constexpr unsigned kMaxShift = 60;

  struct Node;
  using NodePtr = std::shared_ptr<const Node>;
  struct Node {
    std::uint32_t dataMap = 0;  // slots holding a value
    std::uint32_t nodeMap = 0;  // slots holding a child node
    std::vector<V> values;      // in slot order (a collision node: all of them)
    std::vector<NodePtr> children;
  };

  static std::uint32_t bitOf(std::uint64_t hash, unsigned shift) {
    return std::uint32_t{1} << ((hash >> shift) & 31);
  }
  static std::size_t indexOf(std::uint32_t map, std::uint32_t bit) {
    return static_cast<std::size_t>(std::popcount(map & (bit - 1)));
  }
  static std::uint64_t hashOf(const V& v) { return persistent_detail::hashKey(KeyOf{}(v)); }

  // A node holding two values whose hashes agree below `shift`.
  static NodePtr pair(V a, std::uint64_t ha, V b, std::uint64_t hb, unsigned shift) {
    auto node = std::make_shared<Node>();
    if (shift > kMaxShift) {
      node->values.reserve(2);
      node->values.push_back(std::move(a));
      node->values.push_back(std::move(b));
      return node;
    }
    const std::uint32_t ba = bitOf(ha, shift);
    const std::uint32_t bb = bitOf(hb, shift);
    if (ba == bb) {
      node->nodeMap = ba;
      node->children.push_back(pair(std::move(a), ha, std::move(b), hb, shift + kBits));
      return node;
    }
    node->dataMap = ba | bb;
    node->values.reserve(2);
    if (ba < bb) {
      node->values.push_back(std::move(a));
      node->values.push_back(std::move(b));
    } else {
      node->values.push_back(std::move(b));
      node->values.push_back(std::move(a));
    }
    return node;
  }

  // `node` with `value` set, changed in place when nothing else holds it, else a copy.
  static NodePtr setIn(NodePtr node, V value, std::uint64_t hash, unsigned shift, bool& added) {
    if (node == nullptr) {
      auto fresh = std::make_shared<Node>();
      fresh->dataMap = shift > kMaxShift ? 0 : bitOf(hash, shift);
      fresh->values.push_back(std::move(value));
      added = true;
      return fresh;
    }
    // use_count 1: this path is the only holder (no snapshot, no other map), and every
    // ancestor was unique too, or it would have been copied and this node shared.
    std::shared_ptr<Node> own = node.use_count() == 1 ? std::const_pointer_cast<Node>(node)
                                                       : std::make_shared<Node>(*node);
    node.reset();
    Node& n = *own;
    if (shift > kMaxShift) {
      for (V& v : n.values) {
        if (KeyOf{}(v) == KeyOf{}(value)) {
          v = std::move(value);
          return own;
        }
      }
      n.values.push_back(std::move(value));
      added = true;
      return own;
    }
    const std::uint32_t bit = bitOf(hash, shift);
    if (n.dataMap & bit) {
      const std::size_t i = indexOf(n.dataMap, bit);
      if (KeyOf{}(n.values[i]) == KeyOf{}(value)) {
        n.values[i] = std::move(value);
        return own;
      }
      // Two keys share this slot: they move down into a node of their own.
      V existing = std::move(n.values[i]);
      n.values.erase(n.values.begin() + static_cast<std::ptrdiff_t>(i));
      n.dataMap &= ~bit;
      const std::uint64_t existingHash = hashOf(existing);
      n.nodeMap |= bit;
      n.children.insert(n.children.begin() + static_cast<std::ptrdiff_t>(indexOf(n.nodeMap, bit)),
                        pair(std::move(existing), existingHash, std::move(value), hash,
                             shift + kBits));
      added = true;
      return own;
    }
    if (n.nodeMap & bit) {
      const std::size_t i = indexOf(n.nodeMap, bit);
      n.children[i] = setIn(std::move(n.children[i]), std::move(value), hash, shift + kBits, added);
      return own;
    }
    n.dataMap |= bit;
    n.values.insert(n.values.begin() + static_cast<std::ptrdiff_t>(indexOf(n.dataMap, bit)),
                    std::move(value));
    added = true;
    return own;
  }

  // The node without `key` (null when nothing is left); `node` itself when it lacks it.
  static NodePtr eraseIn(const NodePtr& node, const Key& key, std::uint64_t hash, unsigned shift,
                         bool& removed) {
    if (!node) return node;
    if (shift > kMaxShift) {
      auto it = std::find_if(node->values.begin(), node->values.end(),
                             [&](const V& v) { return KeyOf{}(v) == key; });
      if (it == node->values.end()) return node;
      removed = true;
      if (node->values.size() == 1) return nullptr;
      auto copy = std::make_shared<Node>(*node);
      copy->values.erase(copy->values.begin() + (it - node->values.begin()));
      return copy;
    }
    const std::uint32_t bit = bitOf(hash, shift);
    if (node->dataMap & bit) {
      const std::size_t i = indexOf(node->dataMap, bit);
      if (!(KeyOf{}(node->values[i]) == key)) return node;
      removed = true;
      if (node->values.size() == 1 && node->children.empty()) return nullptr;
      auto copy = std::make_shared<Node>(*node);
      copy->values.erase(copy->values.begin() + static_cast<std::ptrdiff_t>(i));
      copy->dataMap &= ~bit;
      return copy;
    }
    if (!(node->nodeMap & bit)) return node;
    const std::size_t i = indexOf(node->nodeMap, bit);
    NodePtr child = eraseIn(node->children[i], key, hash, shift + kBits, removed);
    if (!removed) return node;
    auto copy = std::make_shared<Node>(*node);
    if (child && !(child->children.empty() && child->values.size() == 1)) {
      copy->children[i] = std::move(child);
      return copy;
    }
    copy->children.erase(copy->children.begin() + static_cast<std::ptrdiff_t>(i));
    copy->nodeMap &= ~bit;
    if (child) {
      // A child left with one value folds into this node: a key lives as high as its
      // hash lets it, so that equal maps have equal shapes and lookups stay short.
      copy->dataMap |= bit;
      copy->values.insert(copy->values.begin() + static_cast<std::ptrdiff_t>(indexOf(copy->dataMap, bit)),
                          child->values.front());
    }
    if (copy->values.empty() && copy->children.empty()) return nullptr;
    return copy;
  }

  template <class F>
  static void visit(const Node& node, F& f) {
    for (const V& v : node.values) f(v);
    for (const NodePtr& child : node.children) visit(*child, f);
  }

  NodePtr root_;
  std::size_t size_ = 0;
};

}  // namespace eg::routing
