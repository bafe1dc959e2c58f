#include "enroll.hpp"

#include "muster/proto/http_client.hpp"
#include "platform/facts.hpp"
#include "version.hpp"

namespace muster::agent {

proto::Result<AgentState> enroll(const EnrollOptions& options) {
  proto::Facts facts = platform::collect_facts();
  facts.agent_version = kAgentVersion;
  facts.labels = options.labels;
  std::string url = options.hub_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/api/v1/enroll";

  auto response = proto::http_post_json(url, options.token, proto::encode(facts), options.ca_file);
  if (!response) return response.error();
  if (response->status != 201) {
    // The hub's errors are {"error": {"code", "message"}}; show them as given.
    std::string detail = response->body.substr(0, 512);
    if (proto::ApiErrorBody error; proto::parse_api_error(response->body, error)) {
      detail = error.code + ": " + error.message;
    }
    return proto::Error{proto::ErrorCode::io,
                        "enrollment refused (HTTP " + std::to_string(response->status) + "): " + detail};
  }
  auto enrollment = proto::decode_enrollment(response->body);
  if (!enrollment) return proto::Error{enrollment.error().code, "bad enrollment answer: " + enrollment.error().message};

  AgentState state{std::move(*enrollment), options.hub_url, options.labels};
  if (auto saved = save_state(StatePaths(options.state_dir), state); !saved) return saved.error();
  return state;
}

}  // namespace muster::agent
