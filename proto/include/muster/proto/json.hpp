#pragma once
// The one JSON layer of Muster: cJSON behind an owning handle, a type-checked
// reader for untrusted input and a small builder for output.
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cjson/cJSON.h>

#include "muster/proto/result.hpp"

namespace muster::proto {

inline constexpr std::size_t kMaxJsonBytes = 1 << 20;
inline constexpr int kMaxJsonDepth = 32;

using StringMap = std::map<std::string, std::string>;

struct CjsonDeleter {
  void operator()(cJSON* node) const { cJSON_Delete(node); }
};
using JsonPtr = std::unique_ptr<cJSON, CjsonDeleter>;

// Parses text that must be one JSON object; refuses oversize, deep nesting
// and trailing garbage.
Result<JsonPtr> parse_object(std::string_view text, std::size_t max_bytes = kMaxJsonBytes);

std::string dump(const cJSON* node);

// Reads the fields of one untrusted JSON object. The first failure is kept
// and later calls do nothing, so a decoder reads every field in a row and
// checks error() once. Every error names the field.
class FieldReader {
 public:
  FieldReader(const cJSON* object, std::string context);

  FieldReader& required(const char* key, std::string& out, std::size_t max_len = 4096);
  FieldReader& optional(const char* key, std::optional<std::string>& out, std::size_t max_len = 4096);
  FieldReader& required(const char* key, std::int64_t& out, std::int64_t min, std::int64_t max);
  FieldReader& optional(const char* key, std::int64_t& out, std::int64_t min, std::int64_t max);
  FieldReader& optional(const char* key, std::optional<std::int64_t>& out, std::int64_t min, std::int64_t max);
  FieldReader& required(const char* key, double& out);
  FieldReader& optional(const char* key, bool& out);
  FieldReader& optional(const char* key, std::vector<std::string>& out, std::size_t max_items,
                        std::size_t max_len = 4096);
  // Label-like maps: keys and values checked by valid_label_key/value.
  FieldReader& optional_labels(const char* key, StringMap& out);
  // The object itself for nested readers; error if present and not an object.
  FieldReader& optional_object(const char* key, const cJSON*& out);
  // Fails on any member whose value is null: for requests from people and
  // programs, where null would silently mean "default".
  FieldReader& no_nulls();
  // Fails on any member not in `known`.
  FieldReader& only(std::initializer_list<const char*> known);
  // Accepts a missing "v" or "v": 1.
  FieldReader& version(std::int64_t supported);
  // Records a caller-side validation failure in the same chain.
  FieldReader& fail(ErrorCode code, std::string message);

  bool has(const char* key) const;
  bool ok() const { return !error_; }
  const std::optional<Error>& error() const { return error_; }

 private:
  const cJSON* member(const char* key) const;
  bool record(ErrorCode code, const char* key, const std::string& what);

  const cJSON* object_;
  std::string context_;
  std::optional<Error> error_;
};

// Builds one JSON object; dump() returns compact text.
class JsonBuilder {
 public:
  JsonBuilder();
  JsonBuilder& add(const char* key, std::string_view value);
  JsonBuilder& add(const char* key, const char* value) { return add(key, std::string_view(value)); }
  JsonBuilder& add(const char* key, const std::string& value) { return add(key, std::string_view(value)); }
  JsonBuilder& add(const char* key, std::int64_t value);
  JsonBuilder& add(const char* key, int value) { return add(key, static_cast<std::int64_t>(value)); }
  JsonBuilder& add(const char* key, double value);
  JsonBuilder& add(const char* key, bool value);
  JsonBuilder& add(const char* key, const std::optional<std::string>& value);
  JsonBuilder& add(const char* key, const std::optional<std::int64_t>& value);
  JsonBuilder& add(const char* key, const std::vector<std::string>& values);
  JsonBuilder& add(const char* key, const StringMap& values);
  JsonBuilder& add_null(const char* key);
  // Takes ownership of an already built node (object or array).
  JsonBuilder& add_node(const char* key, JsonPtr node);
  std::string dump() const;
  JsonPtr release();

 private:
  JsonPtr root_;
};

// Label keys: 1..63 of [A-Za-z0-9_.-]; values: 0..255 printable ASCII.
bool valid_label_key(std::string_view key);
bool valid_label_value(std::string_view value);

}  // namespace muster::proto
