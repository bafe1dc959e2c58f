#include "api/routes.hpp"

#include "api/events.hpp"
#include "api/http_io.hpp"
#include "api/openapi_json.hpp"
#include "core/errors.hpp"
#include "muster/proto/messages.hpp"

namespace muster::hub {
namespace {

std::vector<std::string> split_path(const std::string& uri) {
  const std::string path = uri.substr(0, uri.find('?'));
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool matches(const char* pattern, const std::vector<std::string>& parts, std::vector<std::string>& params) {
  const auto want = split_path(pattern);
  if (want.size() != parts.size()) return false;
  std::vector<std::string> found;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i][0] == ':') {
      found.push_back(parts[i]);
    } else if (want[i] != parts[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

const Principal& who(const Call& c) { return *c.principal; }

void healthz(Call& c) {
  std::string store_state = "ok";
  try {
    c.services.store.run({"PING"});
  } catch (const StoreError&) {
    store_state = "unavailable";
  }
  send_json(c.response, store_state == "ok" ? 200 : 503,
            proto::JsonBuilder()
                .add("status", store_state == "ok" ? "ok" : "degraded")
                .add("role", to_string(c.services.config.role))
                .add("store", store_state)
                .dump());
}

void openapi(Call& c) { send_json(c.response, 200, kOpenApiJson); }

void enroll(Call& c) {
  const auto enrollment = c.services.agents.enroll(who(c), read_body(c.request, c.response));
  send_json(c.response, 201, proto::encode(enrollment));
}

void list_tokens(Call& c) { send_json(c.response, 200, c.services.auth.list_json(who(c).tenant)); }

void create_token(Call& c) {
  send_json(c.response, 201,
            c.services.auth.create_from_request(who(c), read_body(c.request, c.response), c.services.config));
}

void revoke_token(Call& c) {
  c.services.auth.revoke(who(c).tenant, c.params[0]);
  send_json(c.response, 200, proto::JsonBuilder().add("id", c.params[0]).add("revoked", true).dump());
}

void list_audit(Call& c) {
  send_json(c.response, 200, c.services.audit.list_json(who(c), Query(c.request.getURI()).page().limit));
}

void list_tenants(Call& c) { send_json(c.response, 200, c.services.tenants.list_json(who(c))); }
void create_tenant(Call& c) {
  send_json(c.response, 201, c.services.tenants.create(who(c), read_body(c.request, c.response)));
}
void get_tenant(Call& c) { send_json(c.response, 200, c.services.tenants.get_json(who(c), c.params[0])); }
void update_tenant(Call& c) {
  send_json(c.response, 200, c.services.tenants.update(who(c), c.params[0], read_body(c.request, c.response)));
}
void delete_tenant(Call& c) { send_json(c.response, 200, c.services.tenants.remove(who(c), c.params[0])); }

void list_agents(Call& c) {
  send_json(c.response, 200, c.services.agents.list_json(who(c), Query(c.request.getURI()).page()));
}
void get_agent(Call& c) { send_json(c.response, 200, c.services.agents.get_json(who(c), c.params[0])); }
void revoke_agent(Call& c) { send_json(c.response, 200, c.services.agents.revoke(who(c), c.params[0])); }

void submit_job(Call& c) {
  const bool dry_run = Query(c.request.getURI()).flag("dry_run");
  const auto job = c.services.jobs.submit(who(c), read_body(c.request, c.response), dry_run);
  proto::JsonBuilder b;
  if (dry_run) {
    b.add("dry_run", true).add("agents", job.agents);
  } else {
    b.add("id", job.id);
  }
  b.add("tasks", static_cast<std::int64_t>(job.agents.size()));
  send_json(c.response, dry_run ? 200 : 201, b.dump());
}

void list_jobs(Call& c) {
  send_json(c.response, 200, c.services.jobs.list_json(who(c), Query(c.request.getURI()).page()));
}
void get_job(Call& c) { send_json(c.response, 200, c.services.jobs.get_json(who(c), c.params[0])); }
void job_tasks(Call& c) {
  send_json(c.response, 200, c.services.jobs.tasks_json(who(c), c.params[0], Query(c.request.getURI()).page()));
}
void job_events(Call& c) {
  c.services.jobs.get_json(who(c), c.params[0]);  // 404 unless the caller may see this job
  open_job_events(*c.streams, who(c), c.params[0], c.request, c.response);
}
void cancel_job(Call& c) { send_json(c.response, 200, c.services.jobs.cancel(who(c), c.params[0])); }

}  // namespace

const std::vector<Route>& api_routes() {
  static const std::vector<Route> routes = {
      {"GET", "/healthz", Access::open, healthz},
      {"GET", "/api/v1/openapi.json", Access::open, openapi},
      {"POST", "/api/v1/enroll", Access::any_token, enroll},
      {"GET", "/api/v1/tokens", Access::admin, list_tokens},
      {"POST", "/api/v1/tokens", Access::admin, create_token},
      {"DELETE", "/api/v1/tokens/:id", Access::admin, revoke_token},
      {"GET", "/api/v1/audit", Access::admin, list_audit},
      {"GET", "/api/v1/tenants", Access::platform, list_tenants},
      {"POST", "/api/v1/tenants", Access::platform, create_tenant},
      {"GET", "/api/v1/tenants/:name", Access::platform, get_tenant},
      {"PATCH", "/api/v1/tenants/:name", Access::platform, update_tenant},
      {"DELETE", "/api/v1/tenants/:name", Access::platform, delete_tenant},
      {"GET", "/api/v1/agents", Access::viewer, list_agents},
      {"GET", "/api/v1/agents/:id", Access::viewer, get_agent},
      {"DELETE", "/api/v1/agents/:id", Access::admin, revoke_agent},
      {"POST", "/api/v1/jobs", Access::operator_, submit_job},
      {"GET", "/api/v1/jobs", Access::viewer, list_jobs},
      {"GET", "/api/v1/jobs/:id", Access::viewer, get_job},
      {"GET", "/api/v1/jobs/:id/tasks", Access::viewer, job_tasks},
      {"GET", "/api/v1/jobs/:id/events", Access::viewer, job_events},
      {"POST", "/api/v1/jobs/:id/cancel", Access::operator_, cancel_job},
  };
  return routes;
}

const Route& match_route(const std::string& method, const std::string& uri, std::vector<std::string>& params) {
  const auto parts = split_path(uri);
  std::string allowed;
  for (const auto& route : api_routes()) {
    std::vector<std::string> found;
    if (!matches(route.pattern, parts, found)) continue;
    if (method == route.method) {
      params = std::move(found);
      return route;
    }
    allowed += (allowed.empty() ? "" : ", ") + std::string(route.method);
  }
  if (allowed.empty()) throw ApiError(404, "not_found", "no route " + uri.substr(0, 256));
  throw ApiError(405, "method_not_allowed", uri.substr(0, 256) + " accepts " + allowed + " only");
}

}  // namespace muster::hub
