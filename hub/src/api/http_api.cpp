#include "api/http_api.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/NumberParser.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <iostream>
#include <vector>

#include "core/errors.hpp"
#include "core/tasks.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

std::vector<std::string> split_path(const std::string& uri) {
  std::string path = uri.substr(0, uri.find('?'));
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

void send_json(HTTPServerResponse& response, int status, const std::string& body) {
  response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  response.set("Cache-Control", "no-store");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body;
}

void send_error(HTTPServerResponse& response, int status, const std::string& code, const std::string& message) {
  proto::JsonBuilder error;
  error.add("code", code).add("message", message);
  send_json(response, status, proto::JsonBuilder().add_node("error", error.release()).dump());
}

// Reads at most kMaxRequestBody bytes. A larger body is read on (up to a
// bound) and discarded, so the client gets the 413 instead of a reset.
std::string read_body(HTTPServerRequest& request, HTTPServerResponse& response) {
  constexpr std::size_t kDrainLimit = 16 * kMaxRequestBody;
  std::string body;
  std::size_t seen = 0;
  std::istream& in = request.stream();
  char buffer[16384];
  while (seen <= kDrainLimit && (in.read(buffer, sizeof buffer) || in.gcount() > 0)) {
    const auto n = static_cast<std::size_t>(in.gcount());
    seen += n;
    if (seen <= kMaxRequestBody) body.append(buffer, n);
  }
  if (seen > kMaxRequestBody) {
    response.setKeepAlive(false);
    throw ApiError(413, "too_large", "request body over " + std::to_string(kMaxRequestBody) + " bytes");
  }
  return body;
}

// Query parameters, strictly: unknown names are ignored, bad values refused.
class Query {
 public:
  explicit Query(const std::string& uri) {
    try {
      params_ = Poco::URI(uri).getQueryParameters();
    } catch (const Poco::Exception&) {
      throw ApiError(400, "invalid_field", "malformed query string");
    }
  }
  std::optional<std::string> get(const std::string& name) const {
    for (const auto& [k, v] : params_) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  bool flag(const std::string& name) const {
    const auto v = get(name);
    if (!v) return false;
    if (*v == "1" || *v == "true" || v->empty()) return true;
    if (*v == "0" || *v == "false") return false;
    throw ApiError(400, "invalid_field", name + " must be 1 or 0");
  }
  Page page() const {
    Page page;
    if (const auto limit = get("limit")) {
      unsigned value = 0;
      if (!Poco::NumberParser::tryParseUnsigned(*limit, value) || value < 1 || value > 1000) {
        throw ApiError(400, "invalid_field", "limit must be an integer between 1 and 1000");
      }
      page.limit = value;
    }
    if (const auto cursor = get("cursor")) {
      double value = 0;
      if (cursor->empty() || cursor->size() > 32 || !Poco::NumberParser::tryParseFloat(*cursor, value) || value < 0) {
        throw ApiError(400, "invalid_field", "cursor must be the next_cursor of a previous page");
      }
      page.cursor = *cursor;
    }
    return page;
  }

 private:
  Poco::URI::QueryParameters params_;
};

class ApiHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit ApiHandler(ApiServices& services) : s_(services) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    int status = 200;
    try {
      route(request, response);
      status = response.getStatus();
    } catch (const ApiError& e) {
      status = e.status;
      send_error(response, e.status, e.code, e.what());
    } catch (const StoreError& e) {
      status = 503;
      std::cerr << "muster-hub api: store: " << e.what() << std::endl;
      send_error(response, 503, "unavailable", std::string("the store is unavailable: ") + e.what());
    } catch (const std::exception& e) {
      status = 500;
      std::cerr << "muster-hub api: " << request.getMethod() << " " << request.getURI() << ": " << e.what()
                << std::endl;
      if (!response.sent()) send_error(response, 500, "internal", e.what());
    }
    if (request.getMethod() != HTTPRequest::HTTP_GET) audit(request, status);
  }

 private:
  void expect_method(HTTPServerRequest& request, const std::string& method) {
    if (request.getMethod() != method) {
      throw ApiError(405, "method_not_allowed", request.getURI() + " accepts " + method + " only");
    }
  }

  Principal authenticate(HTTPServerRequest& request) {
    principal_ = s_.auth.authenticate(request.get("Authorization", ""));
    return *principal_;
  }

  // Every write by a known token, refused or not, goes to its tenant's audit
  // stream; requests without a valid token have no tenant to record under.
  void audit(HTTPServerRequest& request, int status) {
    if (!principal_) return;
    try {
      const std::string path = request.getURI().substr(0, 512);
      s_.store.run({"XADD", keys::audit(principal_->tenant), "MAXLEN", "~", "100000", "*", "at",
                    format_time(unix_time()), "token", principal_->token_id, "kind",
                    principal_->kind == TokenKind::api ? "api" : "enroll", "role", to_string(principal_->role),
                    "method", request.getMethod(), "path", path, "from", request.clientAddress().host().toString(),
                    "status", std::to_string(status)});
    } catch (const StoreError& e) {
      std::cerr << "muster-hub api: audit not recorded: " << e.what() << std::endl;
    }
  }

  std::string audit_json(const Principal& p, const Query& query) {
    const Page page = query.page();
    const Reply entries = s_.store.run({"XREVRANGE", keys::audit(p.tenant), "+", "-", "COUNT", std::to_string(page.limit)});
    proto::JsonPtr list(cJSON_CreateArray());
    for (const auto& entry : entries.elements) {
      if (entry.elements.size() != 2) continue;
      const Reply& f = entry.elements[1];
      proto::JsonBuilder b;
      b.add("id", entry.elements[0].text);
      for (const char* name : {"token", "kind", "role", "method", "path", "from"}) b.add(name, f.field(name).value_or(""));
      b.add("at", std::stod(f.field("at").value_or("0")))
          .add("status", static_cast<std::int64_t>(std::stoll(f.field("status").value_or("0"))));
      cJSON_AddItemToArray(list.get(), b.release().release());
    }
    return proto::JsonBuilder().add_node("entries", std::move(list)).dump();
  }

  static void require_admin(const Principal& p) {
    require_api_token(p);
    if (p.role != Role::admin) throw ApiError(403, "forbidden", "this needs the admin role");
  }

  void route(HTTPServerRequest& request, HTTPServerResponse& response) {
    const auto parts = split_path(request.getURI());
    if (parts.size() == 1 && parts[0] == "healthz") {
      expect_method(request, HTTPRequest::HTTP_GET);
      std::string store_state = "ok";
      try {
        s_.store.run({"PING"});
      } catch (const StoreError&) {
        store_state = "unavailable";
      }
      send_json(response, store_state == "ok" ? 200 : 503,
                proto::JsonBuilder()
                    .add("status", store_state == "ok" ? "ok" : "degraded")
                    .add("role", to_string(s_.config.role))
                    .add("store", store_state)
                    .dump());
      return;
    }
    if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") {
      throw ApiError(404, "not_found", "no route " + request.getURI());
    }
    const std::string& resource = parts[2];
    const std::size_t n = parts.size();
    // Authenticate before reading the body: strangers get nothing parsed.
    if (resource == "enroll" && n == 3) {
      expect_method(request, HTTPRequest::HTTP_POST);
      const Principal p = authenticate(request);
      const auto enrollment = s_.agents.enroll(p, read_body(request, response));
      send_json(response, 201, proto::encode(enrollment));
    } else if (resource == "tokens" && n == 3) {
      const Principal p = authenticate(request);
      if (request.getMethod() == HTTPRequest::HTTP_GET) {
        require_admin(p);
        send_json(response, 200, s_.auth.list_json(p.tenant));
      } else {
        expect_method(request, HTTPRequest::HTTP_POST);
        create_token(p, read_body(request, response), response);
      }
    } else if (resource == "tokens" && n == 4) {
      expect_method(request, HTTPRequest::HTTP_DELETE);
      const Principal p = authenticate(request);
      require_admin(p);
      s_.auth.revoke(p.tenant, parts[3]);
      send_json(response, 200, proto::JsonBuilder().add("id", parts[3]).add("revoked", true).dump());
    } else if (resource == "audit" && n == 3) {
      expect_method(request, HTTPRequest::HTTP_GET);
      const Principal p = authenticate(request);
      require_admin(p);
      send_json(response, 200, audit_json(p, Query(request.getURI())));
    } else if (resource == "agents" && n == 3) {
      expect_method(request, HTTPRequest::HTTP_GET);
      const Principal p = authenticate(request);
      require_api_token(p);
      send_json(response, 200, s_.agents.list_json(p));
    } else if (resource == "agents" && n == 4) {
      const Principal p = authenticate(request);
      if (request.getMethod() == HTTPRequest::HTTP_DELETE) {
        require_admin(p);
        send_json(response, 200, s_.agents.revoke(p, parts[3]));
      } else {
        expect_method(request, HTTPRequest::HTTP_GET);
        require_api_token(p);
        send_json(response, 200, s_.agents.get_json(p, parts[3]));
      }
    } else if (resource == "jobs" && n == 3) {
      const Principal p = authenticate(request);
      const Query query(request.getURI());
      if (request.getMethod() == HTTPRequest::HTTP_POST) {
        const bool dry_run = query.flag("dry_run");
        const auto job = s_.jobs.submit(p, read_body(request, response), dry_run);
        proto::JsonBuilder b;
        if (dry_run) {
          b.add("dry_run", true).add("agents", job.agents);
        } else {
          b.add("id", job.id);
        }
        b.add("tasks", static_cast<std::int64_t>(job.agents.size()));
        send_json(response, dry_run ? 200 : 201, b.dump());
      } else {
        expect_method(request, HTTPRequest::HTTP_GET);
        send_json(response, 200, s_.jobs.list_json(p, query.page()));
      }
    } else if (resource == "jobs" && n == 4) {
      expect_method(request, HTTPRequest::HTTP_GET);
      send_json(response, 200, s_.jobs.get_json(authenticate(request), parts[3]));
    } else if (resource == "jobs" && n == 5 && parts[4] == "tasks") {
      expect_method(request, HTTPRequest::HTTP_GET);
      send_json(response, 200, s_.jobs.tasks_json(authenticate(request), parts[3], Query(request.getURI()).page()));
    } else if (resource == "jobs" && n == 5 && parts[4] == "events") {
      expect_method(request, HTTPRequest::HTTP_GET);
      const Principal p = authenticate(request);
      s_.jobs.get_json(p, parts[3]);  // 404 unless the caller may see this job
      stream_events(parts[3], request, response);
    } else if (resource == "jobs" && n == 5 && parts[4] == "cancel") {
      expect_method(request, HTTPRequest::HTTP_POST);
      send_json(response, 200, s_.jobs.cancel(authenticate(request), parts[3]));
    } else {
      throw ApiError(404, "not_found", "no route " + request.getURI());
    }
  }

  // Server-sent events: task state changes and output chunks in store order,
  // resumable with Last-Event-ID; ends after the job's final event.
  void stream_events(const std::string& job_id, HTTPServerRequest& request, HTTPServerResponse& response) {
    std::string last_id = request.get("Last-Event-ID", "0");
    if (last_id.empty() || last_id.size() > 40 || last_id.find_first_not_of("0123456789-") != std::string::npos) {
      last_id = "0";
    }
    auto client = s_.store.connect_dedicated(30000);
    response.setChunkedTransferEncoding(true);
    response.setContentType("text/event-stream");
    response.set("Cache-Control", "no-store");
    std::ostream& out = response.send();
    const std::string stream = keys::job_events(job_id);
    for (;;) {
      const Reply r = run_on(*client, {"XREAD", "COUNT", "200", "BLOCK", "15000", "STREAMS", stream, last_id});
      bool finished = false;
      if (r.is_nil() || r.elements.empty()) {
        out << ": keepalive\n\n";
        out.flush();
        const std::string state = run_on(*client, {"HGET", keys::job(job_id), "state"}).text;
        if (!out || state != "running") return;
        continue;
      }
      for (const auto& entry : r.elements[0].elements.size() == 2 ? r.elements[0].elements[1].elements : std::vector<Reply>{}) {
        if (entry.elements.size() != 2) continue;
        last_id = entry.elements[0].text;
        const Reply& f = entry.elements[1];
        const std::string type = f.field("type").value_or("state");
        proto::JsonBuilder data;
        if (type == "output") {
          data.add("agent_id", f.field("agent").value_or("")).add("stream", f.field("stream").value_or(""))
              .add("seq", static_cast<std::int64_t>(std::stoll(f.field("seq").value_or("0")))).add("data", f.field("data").value_or(""));
        } else if (type == "job") {
          data.add("job_id", job_id).add("state", f.field("state").value_or(""));
          finished = true;
        } else {
          data.add("agent_id", f.field("agent").value_or("")).add("state", f.field("state").value_or(""));
        }
        out << "id: " << last_id << "\nevent: " << type << "\ndata: " << data.dump() << "\n\n";
      }
      out.flush();
      if (!out || finished) return;
    }
  }

  static void require_api_token(const Principal& p) {
    if (p.kind != TokenKind::api) throw ApiError(403, "forbidden", "an enrollment token cannot use this endpoint");
  }

  void create_token(const Principal& p, const std::string& body, HTTPServerResponse& response) {
    require_api_token(p);
    if (p.role != Role::admin) throw ApiError(403, "forbidden", "creating tokens needs the admin role");
    auto root = proto::parse_object(body);
    if (!root) throw ApiError(400, proto::to_string(root.error().code), root.error().message);
    std::string kind, role_text = "viewer";
    std::int64_t ttl_s = 86400, uses = 1;
    proto::StringMap labels;
    proto::FieldReader r(root->get(), "");
    std::optional<std::string> region;
    r.only({"kind", "role", "ttl_s", "uses", "labels", "region"})
        .no_nulls()
        .optional("region", region, 64)
        .required("kind", kind, 16)
        .optional("ttl_s", ttl_s, 60, 366LL * 86400)
        .optional("uses", uses, 1, 1000000)
        .optional_labels("labels", labels);
    std::optional<std::string> role_field;
    r.optional("role", role_field, 16);
    if (role_field) role_text = *role_field;
    Role role{};
    if (r.ok() && kind != "api" && kind != "enroll") r.fail(proto::ErrorCode::invalid_field, "kind must be api or enroll");
    if (r.ok() && !parse_role(role_text, role)) r.fail(proto::ErrorCode::invalid_field, "role must be admin, operator or viewer");
    if (r.ok() && kind == "api" && (r.has("uses") || r.has("labels") || region)) {
      r.fail(proto::ErrorCode::invalid_field, "uses, labels and region belong to enrollment tokens");
    }
    if (r.ok() && region && s_.config.region(*region) == nullptr) {
      r.fail(proto::ErrorCode::invalid_field, "region " + *region + " is not configured");
    }
    if (r.ok() && kind == "enroll" && role_field) r.fail(proto::ErrorCode::invalid_field, "role belongs to api tokens");
    if (!r.ok()) throw ApiError(400, proto::to_string(r.error()->code), r.error()->message);

    const NewToken t = kind == "api" ? s_.auth.create_api_token(p.tenant, role, ttl_s)
                                     : s_.auth.create_enroll_token(p.tenant, labels, uses, ttl_s, region.value_or(""));
    proto::JsonBuilder b;
    b.add("token", t.token).add("id", t.id).add("kind", kind).add("expires_at", t.expires_at);
    if (kind == "api") {
      b.add("role", to_string(role));
    } else {
      b.add("uses", uses).add("labels", labels).add("region", region.value_or(s_.config.regions.front().name));
    }
    send_json(response, 201, b.dump());
  }

  ApiServices& s_;
  std::optional<Principal> principal_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(ApiServices& services) : s_(services) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override { return new ApiHandler(s_); }

 private:
  ApiServices& s_;
};

}  // namespace

HttpApi::HttpApi(ApiServices services) : services_(services) {}
HttpApi::~HttpApi() { stop(); }

void HttpApi::start() {
  const auto& c = services_.config;
  const Poco::Net::SocketAddress address(c.api_host, c.api_port);
  Poco::Net::ServerSocket socket;
  if (!c.tls_cert.empty()) {
    Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, c.tls_key,
                                                             c.tls_cert, "", Poco::Net::Context::VERIFY_NONE);
    context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                              Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    socket = Poco::Net::SecureServerSocket(address, 128, context);
  } else {
    socket = Poco::Net::ServerSocket(address, 128);
  }
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(c.api_threads);
  params->setMaxQueued(256);
  params->setKeepAlive(true);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(services_), socket, params);
  server_->start();
}

void HttpApi::stop() {
  if (server_) {
    server_->stopAll(true);
    server_.reset();
  }
}

unsigned short HttpApi::port() const { return server_ ? server_->port() : 0; }

}  // namespace muster::hub
