#include "muster/proto/json.hpp"

#include <cmath>
#include <set>

#include "muster/proto/text.hpp"

namespace muster::proto {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_json: return "bad_json";
    case ErrorCode::missing_field: return "missing_field";
    case ErrorCode::invalid_field: return "invalid_field";
    case ErrorCode::unknown_field: return "unknown_field";
    case ErrorCode::too_large: return "too_large";
    case ErrorCode::io: return "io";
    case ErrorCode::crypto: return "crypto";
  }
  return "unknown";
}

namespace {

// Depth, duplicate keys and UTF-8 are checked after parsing: cJSON accepts
// all three, and a duplicate key is a classic parser-differential trick.
// `path` names the node (e.g. labels.env or argv[2]) so errors name the field;
// every key in it has already been checked to be UTF-8.
std::optional<std::string> check_tree(const cJSON* node, int depth, const std::string& path) {
  const std::string at = path.empty() ? std::string() : " at " + path;
  if (depth > kMaxJsonDepth) return "nesting deeper than " + std::to_string(kMaxJsonDepth) + at;
  if (cJSON_IsString(node) && !is_utf8(node->valuestring)) return "string is not valid UTF-8" + at;
  if (cJSON_IsNumber(node) && !std::isfinite(node->valuedouble)) return "number out of range" + at;
  if (cJSON_IsObject(node)) {
    std::set<std::string_view> keys;
    for (const cJSON* child = node->child; child != nullptr; child = child->next) {
      if (!is_utf8(child->string)) return "key is not valid UTF-8" + at;
      if (!keys.insert(child->string).second) return std::string("duplicate key \"") + child->string + "\"" + at;
    }
  }
  if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
    std::size_t index = 0;
    for (const cJSON* child = node->child; child != nullptr; child = child->next, ++index) {
      const std::string child_path = cJSON_IsObject(node)
                                         ? (path.empty() ? std::string(child->string) : path + "." + child->string)
                                         : path + "[" + std::to_string(index) + "]";
      if (auto problem = check_tree(child, depth + 1, child_path)) return problem;
    }
  }
  return std::nullopt;
}

// cJSON strings end at the first NUL, so a raw NUL byte or a \u0000 escape
// would silently truncate a value: refuse both. A backslash preceded by an odd
// number of backslashes is itself escaped.
bool has_nul(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return true;
  for (std::size_t pos = text.find("u0000"); pos != std::string_view::npos; pos = text.find("u0000", pos + 1)) {
    std::size_t backslashes = 0;
    while (backslashes < pos && text[pos - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 1) return true;
  }
  return false;
}

}  // namespace

Result<JsonPtr> parse_object(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return Error{ErrorCode::too_large, "JSON text of " + std::to_string(text.size()) + " bytes exceeds " +
                                           std::to_string(max_bytes)};
  }
  if (has_nul(text)) return Error{ErrorCode::bad_json, "JSON text contains a NUL character"};
  const char* end = nullptr;
  JsonPtr root(cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false));
  if (!root) {
    const auto offset = end != nullptr ? static_cast<std::size_t>(end - text.data()) : 0;
    return Error{ErrorCode::bad_json, "malformed JSON near byte " + std::to_string(offset)};
  }
  for (const char* p = end; p < text.data() + text.size(); ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
      return Error{ErrorCode::bad_json, "trailing data after the JSON value"};
    }
  }
  if (!cJSON_IsObject(root.get())) return Error{ErrorCode::bad_json, "JSON value is not an object"};
  if (auto problem = check_tree(root.get(), 0, "")) return Error{ErrorCode::bad_json, *problem};
  return root;
}

std::string dump(const cJSON* node) {
  char* text = cJSON_PrintUnformatted(node);
  if (text == nullptr) return {};
  std::string out(text);
  cJSON_free(text);
  return out;
}

FieldReader::FieldReader(const cJSON* object, std::string context)
    : object_(object), context_(std::move(context)) {
  if (!cJSON_IsObject(object_)) record(ErrorCode::bad_json, nullptr, "is not a JSON object");
}

bool FieldReader::record(ErrorCode code, const char* key, const std::string& what) {
  if (error_) return false;
  std::string name = context_;
  if (key != nullptr) name += name.empty() ? key : std::string(".") + key;
  error_ = Error{code, name.empty() ? "request " + what : name + " " + what};
  return false;
}

FieldReader& FieldReader::fail(ErrorCode code, std::string message) {
  if (!error_) error_ = Error{code, std::move(message)};
  return *this;
}

const cJSON* FieldReader::member(const char* key) const {
  if (error_) return nullptr;
  return cJSON_GetObjectItemCaseSensitive(object_, key);
}

bool FieldReader::has(const char* key) const {
  const cJSON* node = cJSON_IsObject(object_) ? cJSON_GetObjectItemCaseSensitive(object_, key) : nullptr;
  return node != nullptr && !cJSON_IsNull(node);
}

FieldReader& FieldReader::required(const char* key, std::string& out, std::size_t max_len) {
  const cJSON* node = member(key);
  if (error_) return *this;
  if (node == nullptr || cJSON_IsNull(node)) {
    record(ErrorCode::missing_field, key, "is required");
  } else if (!cJSON_IsString(node)) {
    record(ErrorCode::invalid_field, key, "must be a string");
  } else if (std::string_view(node->valuestring).size() > max_len) {
    record(ErrorCode::invalid_field, key, "is longer than " + std::to_string(max_len) + " bytes");
  } else {
    out = node->valuestring;
  }
  return *this;
}

FieldReader& FieldReader::optional(const char* key, std::optional<std::string>& out, std::size_t max_len) {
  if (!has(key)) return *this;
  std::string value;
  required(key, value, max_len);
  if (!error_) out = std::move(value);
  return *this;
}

FieldReader& FieldReader::required(const char* key, std::int64_t& out, std::int64_t min, std::int64_t max) {
  const cJSON* node = member(key);
  if (error_) return *this;
  if (node == nullptr || cJSON_IsNull(node)) {
    record(ErrorCode::missing_field, key, "is required");
    return *this;
  }
  const std::string range = "an integer between " + std::to_string(min) + " and " + std::to_string(max);
  if (!cJSON_IsNumber(node)) {
    record(ErrorCode::invalid_field, key, "must be " + range);
    return *this;
  }
  const double value = node->valuedouble;
  // double(INT64_MAX) rounds up to 2^63, which does not fit: refuse it before the cast.
  if (!std::isfinite(value) || std::floor(value) != value || value < static_cast<double>(min) ||
      value > static_cast<double>(max) || value >= 9223372036854775808.0) {
    record(ErrorCode::invalid_field, key, "must be " + range);
    return *this;
  }
  out = static_cast<std::int64_t>(value);
  return *this;
}

FieldReader& FieldReader::optional(const char* key, std::int64_t& out, std::int64_t min, std::int64_t max) {
  if (has(key)) required(key, out, min, max);
  return *this;
}

FieldReader& FieldReader::optional(const char* key, std::optional<std::int64_t>& out, std::int64_t min,
                                   std::int64_t max) {
  if (!has(key)) return *this;
  std::int64_t value = 0;
  required(key, value, min, max);
  if (!error_) out = value;
  return *this;
}

FieldReader& FieldReader::required(const char* key, double& out) {
  const cJSON* node = member(key);
  if (error_) return *this;
  if (node == nullptr || cJSON_IsNull(node)) {
    record(ErrorCode::missing_field, key, "is required");
  } else if (!cJSON_IsNumber(node) || !std::isfinite(node->valuedouble)) {
    record(ErrorCode::invalid_field, key, "must be a number");
  } else {
    out = node->valuedouble;
  }
  return *this;
}

FieldReader& FieldReader::optional(const char* key, bool& out) {
  const cJSON* node = member(key);
  if (error_ || node == nullptr || cJSON_IsNull(node)) return *this;
  if (!cJSON_IsBool(node)) {
    record(ErrorCode::invalid_field, key, "must be true or false");
  } else {
    out = cJSON_IsTrue(node) != 0;
  }
  return *this;
}

FieldReader& FieldReader::optional(const char* key, std::vector<std::string>& out, std::size_t max_items,
                                   std::size_t max_len) {
  const cJSON* node = member(key);
  if (error_ || node == nullptr || cJSON_IsNull(node)) return *this;
  if (!cJSON_IsArray(node)) {
    record(ErrorCode::invalid_field, key, "must be an array of strings");
    return *this;
  }
  std::vector<std::string> values;
  for (const cJSON* item = node->child; item != nullptr; item = item->next) {
    if (!cJSON_IsString(item)) {
      record(ErrorCode::invalid_field, key, "must be an array of strings");
      return *this;
    }
    if (std::string_view(item->valuestring).size() > max_len) {
      record(ErrorCode::invalid_field, key, "has an item longer than " + std::to_string(max_len) + " bytes");
      return *this;
    }
    if (values.size() == max_items) {
      record(ErrorCode::invalid_field, key, "has more than " + std::to_string(max_items) + " items");
      return *this;
    }
    values.emplace_back(item->valuestring);
  }
  out = std::move(values);
  return *this;
}

FieldReader& FieldReader::optional_labels(const char* key, StringMap& out) {
  const cJSON* node = member(key);
  if (error_ || node == nullptr || cJSON_IsNull(node)) return *this;
  if (!cJSON_IsObject(node)) {
    record(ErrorCode::invalid_field, key, "must be an object of string values");
    return *this;
  }
  StringMap values;
  for (const cJSON* item = node->child; item != nullptr; item = item->next) {
    if (!valid_label_key(item->string)) {
      record(ErrorCode::invalid_field, key,
             "has an invalid key (1-63 characters of A-Z a-z 0-9 _ . -)");
      return *this;
    }
    if (!cJSON_IsString(item) || !valid_label_value(item->valuestring)) {
      record(ErrorCode::invalid_field, key,
             std::string("value of \"") + item->string + "\" must be a string of 0-255 printable ASCII characters");
      return *this;
    }
    if (values.size() == 64) {
      record(ErrorCode::invalid_field, key, "has more than 64 labels");
      return *this;
    }
    values.emplace(item->string, item->valuestring);
  }
  out = std::move(values);
  return *this;
}

FieldReader& FieldReader::optional_object(const char* key, const cJSON*& out) {
  const cJSON* node = member(key);
  if (error_ || node == nullptr || cJSON_IsNull(node)) return *this;
  if (!cJSON_IsObject(node)) {
    record(ErrorCode::invalid_field, key, "must be an object");
  } else {
    out = node;
  }
  return *this;
}

FieldReader& FieldReader::only(std::initializer_list<const char*> known) {
  if (error_) return *this;
  for (const cJSON* child = object_->child; child != nullptr; child = child->next) {
    bool found = false;
    for (const char* name : known) found = found || std::string_view(name) == child->string;
    if (!found) {
      record(ErrorCode::unknown_field, nullptr, std::string("has unknown field \"") + child->string + "\"");
      break;
    }
  }
  return *this;
}

FieldReader& FieldReader::no_nulls() {
  if (error_) return *this;
  for (const cJSON* child = object_->child; child != nullptr; child = child->next) {
    if (cJSON_IsNull(child)) {
      record(ErrorCode::invalid_field, child->string, "must not be null (leave it out for the default)");
      break;
    }
  }
  return *this;
}

FieldReader& FieldReader::version(std::int64_t supported) {
  std::int64_t v = supported;
  optional("v", v, 0, 1000);
  if (!error_ && v != supported) {
    record(ErrorCode::invalid_field, "v", "is version " + std::to_string(v) + ", this build speaks " +
                                              std::to_string(supported));
  }
  return *this;
}

JsonBuilder::JsonBuilder() : root_(cJSON_CreateObject()) {}

JsonBuilder& JsonBuilder::add(const char* key, std::string_view value) {
  cJSON_AddItemToObject(root_.get(), key, cJSON_CreateString(std::string(value).c_str()));
  return *this;
}
JsonBuilder& JsonBuilder::add(const char* key, std::int64_t value) {
  cJSON_AddItemToObject(root_.get(), key, cJSON_CreateNumber(static_cast<double>(value)));
  return *this;
}
JsonBuilder& JsonBuilder::add(const char* key, double value) {
  cJSON_AddItemToObject(root_.get(), key, cJSON_CreateNumber(value));
  return *this;
}
JsonBuilder& JsonBuilder::add(const char* key, bool value) {
  cJSON_AddItemToObject(root_.get(), key, cJSON_CreateBool(value ? 1 : 0));
  return *this;
}
JsonBuilder& JsonBuilder::add(const char* key, const std::optional<std::string>& value) {
  return value ? add(key, std::string_view(*value)) : add_null(key);
}
JsonBuilder& JsonBuilder::add(const char* key, const std::optional<std::int64_t>& value) {
  return value ? add(key, *value) : add_null(key);
}
JsonBuilder& JsonBuilder::add(const char* key, const std::vector<std::string>& values) {
  cJSON* array = cJSON_AddArrayToObject(root_.get(), key);
  for (const auto& value : values) cJSON_AddItemToArray(array, cJSON_CreateString(value.c_str()));
  return *this;
}
JsonBuilder& JsonBuilder::add(const char* key, const StringMap& values) {
  cJSON* object = cJSON_AddObjectToObject(root_.get(), key);
  for (const auto& [k, v] : values) cJSON_AddItemToObject(object, k.c_str(), cJSON_CreateString(v.c_str()));
  return *this;
}
JsonBuilder& JsonBuilder::add_null(const char* key) {
  cJSON_AddItemToObject(root_.get(), key, cJSON_CreateNull());
  return *this;
}
JsonBuilder& JsonBuilder::add_node(const char* key, JsonPtr node) {
  cJSON_AddItemToObject(root_.get(), key, node.release());
  return *this;
}
std::string JsonBuilder::dump() const { return proto::dump(root_.get()); }
JsonPtr JsonBuilder::release() { return std::move(root_); }

bool valid_label_key(std::string_view key) {
  if (key.empty() || key.size() > 63) return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_label_value(std::string_view value) {
  if (value.size() > 255) return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace muster::proto
