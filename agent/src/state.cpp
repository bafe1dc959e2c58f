#include "state.hpp"

#include "platform/fs.hpp"

namespace muster::agent {

proto::Status save_state(const StatePaths& paths, const AgentState& state) {
  if (auto made = platform::make_private_dir(paths.dir); !made) return made;
  auto root = proto::parse_object(proto::encode(state.enrollment));
  if (!root) return root.error();
  cJSON_AddItemToObject(root->get(), "hub_url", cJSON_CreateString(state.hub_url.c_str()));
  cJSON* labels = cJSON_AddObjectToObject(root->get(), "labels");
  for (const auto& [k, v] : state.labels) cJSON_AddItemToObject(labels, k.c_str(), cJSON_CreateString(v.c_str()));
  if (auto ca = platform::write_file_atomic(paths.xmpp_ca_file(), state.enrollment.ca_pem, false); !ca) return ca;
  return platform::write_file_atomic(paths.state_file(), proto::dump(root->get()), true);
}

proto::Result<AgentState> load_state(const StatePaths& paths) {
  auto content = platform::read_file(paths.state_file());
  if (!content) return content.error();
  auto root = proto::parse_object(*content);
  if (!root) return proto::Error{root.error().code, paths.state_file() + ": " + root.error().message};
  auto enrollment = proto::decode_enrollment(root->get());
  if (!enrollment) return proto::Error{enrollment.error().code, paths.state_file() + ": " + enrollment.error().message};
  AgentState state;
  state.enrollment = std::move(*enrollment);
  proto::FieldReader r(root->get(), "state");
  r.required("hub_url", state.hub_url).optional_labels("labels", state.labels);
  if (!r.ok()) return *r.error();
  return state;
}

}  // namespace muster::agent
