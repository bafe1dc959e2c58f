#include "display.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace muster::cli {

std::string field_text(const cJSON* object, const char* key) {
  const cJSON* node = cJSON_GetObjectItemCaseSensitive(object, key);
  if (cJSON_IsString(node)) return node->valuestring;
  if (cJSON_IsBool(node)) return cJSON_IsTrue(node) ? "yes" : "no";
  if (cJSON_IsNumber(node)) {
    const double v = node->valuedouble;
    if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    return std::to_string(v);
  }
  return "";
}

double field_number(const cJSON* object, const char* key, double fallback) {
  const cJSON* node = cJSON_GetObjectItemCaseSensitive(object, key);
  return cJSON_IsNumber(node) ? node->valuedouble : fallback;
}

std::string labels_text(const cJSON* object, const char* key) {
  const cJSON* labels = cJSON_GetObjectItemCaseSensitive(object, key);
  std::string out;
  if (!cJSON_IsObject(labels)) return out;
  for (const cJSON* l = labels->child; l != nullptr; l = l->next) {
    out += (out.empty() ? "" : ",") + std::string(l->string) + "=" + (cJSON_IsString(l) ? l->valuestring : "");
  }
  return out;
}

std::string time_text(double unix_seconds) {
  if (!(unix_seconds > 0)) return "";
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

void print_prefixed(std::FILE* out, const std::string& prefix, const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::fprintf(out, "%s%.*s\n", prefix.c_str(), static_cast<int>(end - start), text.data() + start);
    start = end + 1;
  }
}

void Table::print(std::FILE* out, std::size_t width) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    if (width > 0 && line.size() > width) line.resize(width);
    line.erase(line.find_last_not_of(' ') + 1);  // empty last cells leave no trailing blanks
    std::fprintf(out, "%s\n", line.c_str());
  }
}

}  // namespace muster::cli
