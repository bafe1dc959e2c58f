#pragma once
// POST /api/v1/jobs bodies: parsed and validated before anything is read or
// written, so every refusal changes nothing. Kept apart so it can be fuzzed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "muster/proto/json.hpp"
#include "muster/proto/messages.hpp"

namespace muster::hub {

inline constexpr std::int64_t kDefaultTimeout = 300;
inline constexpr std::int64_t kDefaultDeadline = 3600;

struct JobRequest {
  std::optional<std::string> command;
  std::vector<std::string> argv;
  std::vector<std::string> target_agents;
  proto::StringMap target_labels;
  std::vector<std::string> target_regions;
  proto::StringMap target_facts;  // os, arch
  bool target_all = false;
  bool has_filter = false;
  std::int64_t timeout_s = kDefaultTimeout;
  std::int64_t output_quota = proto::kDefaultOutputQuota;
  std::int64_t deadline_s = kDefaultDeadline;
  std::string concurrency;   // "" (no limit), "N" or "N%"
  std::string max_failures;  // same
  bool as_root = false;      // keep root on agents that run as root (admin only)
};

// Throws ApiError (400) naming the first bad field.
JobRequest parse_job_request(const std::string& body);
// "" → 0 (no limit); "N" → N; "P%" → ceil(total × P / 100), at least 1.
std::int64_t resolve_limit(const std::string& limit, std::size_t total);

}  // namespace muster::hub
