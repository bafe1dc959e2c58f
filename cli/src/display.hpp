#pragma once
// Showing API answers to people: lenient field reads (a missing or odd field
// shows as empty, never fails a listing), times, labels and aligned tables.
#include <cstdio>
#include <string>
#include <vector>

#include <cjson/cJSON.h>

namespace muster::cli {

// A field as text: strings as they are, whole numbers without decimals,
// booleans as yes/no, null or missing as "".
std::string field_text(const cJSON* object, const char* key);
double field_number(const cJSON* object, const char* key, double fallback = 0);
// {"k": "v", ...} as "k=v,k2=v2" (sorted as the hub sent them).
std::string labels_text(const cJSON* object, const char* key);
// A unix time as "2026-12-02 20:15:54" UTC; "" for 0 or missing.
std::string time_text(double unix_seconds);

// Each line of `text` (a last line without newline too) as "PREFIXline".
void print_prefixed(std::FILE* out, const std::string& prefix, const std::string& text);

class Table {
 public:
  explicit Table(std::vector<std::string> headings) : rows_{std::move(headings)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::size_t rows() const { return rows_.size() - 1; }
  // Columns padded to their widest cell; the last column is not padded and
  // is cut so a line fits `width` columns (0: never cut).
  void print(std::FILE* out, std::size_t width = 0) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace muster::cli
