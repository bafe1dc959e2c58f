// Admin commands: tokens create|list|revoke, enroll-token create, audit.
#include "commands.hpp"
#include "display.hpp"
#include "errors.hpp"
#include "terminal.hpp"

namespace muster::cli {
namespace {

std::size_t output_width() { return stdout_is_terminal() ? terminal_width() : 0; }

// Prints the API's raw answer for --json; true if it did.
bool printed_json(Invocation& in, const std::string& raw) {
  if (!in.json()) return false;
  std::printf("%s\n", raw.c_str());
  return true;
}

void print_created_token(const cJSON* t) {
  std::printf("id:       %s\nkind:     %s\n", field_text(t, "id").c_str(), field_text(t, "kind").c_str());
  if (const std::string role = field_text(t, "role"); !role.empty()) std::printf("role:     %s\n", role.c_str());
  if (const std::string uses = field_text(t, "uses"); !uses.empty()) {
    std::printf("uses:     %s\nregion:   %s\nlabels:   %s\n", uses.c_str(), field_text(t, "region").c_str(),
                labels_text(t, "labels").c_str());
  }
  std::printf("expires:  %s UTC\ntoken:    %s\n", time_text(field_number(t, "expires_at")).c_str(),
              field_text(t, "token").c_str());
  std::fprintf(stderr, "(the token is shown only now; the hub keeps only its hash)\n");
}

int create_api_token(Invocation& in) {
  const std::string role = in.options().value("--role");
  if (role != "platform" && role != "admin" && role != "operator" && role != "viewer") {
    throw usage_error("--role must be viewer, operator, admin or platform");
  }
  proto::JsonBuilder body;
  body.add("kind", "api").add("role", role);
  if (in.options().has("--ttl")) body.add("ttl_s", parse_int_option("--ttl", in.options().value("--ttl"), 1, std::int64_t{1} << 40));
  const std::string raw = in.api().call_raw("POST", "/api/v1/tokens", body.dump());
  if (printed_json(in, raw)) return kExitOk;
  if (auto t = proto::parse_object(raw)) print_created_token(t->get());
  return kExitOk;
}

int create_enroll_token(Invocation& in) {
  proto::JsonBuilder body;
  body.add("kind", "enroll");
  proto::StringMap labels;
  for (const auto& l : in.options().all("--label")) {
    const auto eq = l.find('=');
    if (eq == std::string::npos || eq == 0) throw usage_error("--label takes KEY=VALUE, not \"" + l + "\"");
    labels[l.substr(0, eq)] = l.substr(eq + 1);
  }
  if (!labels.empty()) body.add("labels", labels);
  if (in.options().has("--uses")) body.add("uses", parse_int_option("--uses", in.options().value("--uses"), 1, std::int64_t{1} << 30));
  if (in.options().has("--ttl")) body.add("ttl_s", parse_int_option("--ttl", in.options().value("--ttl"), 1, std::int64_t{1} << 40));
  if (in.options().has("--region")) body.add("region", in.options().value("--region"));
  const std::string raw = in.api().call_raw("POST", "/api/v1/tokens", body.dump());
  if (printed_json(in, raw)) return kExitOk;
  if (auto t = proto::parse_object(raw)) print_created_token(t->get());
  return kExitOk;
}

int list_tokens(Invocation& in) {
  const std::string raw = in.api().call_raw("GET", "/api/v1/tokens");
  if (printed_json(in, raw)) return kExitOk;
  auto answer = proto::parse_object(raw);
  const cJSON* tokens = answer ? cJSON_GetObjectItemCaseSensitive(answer->get(), "tokens") : nullptr;
  Table table({"ID", "KIND", "ROLE/USES LEFT", "REGION", "LABELS", "CREATED (UTC)", "EXPIRES (UTC)"});
  for (const cJSON* t = cJSON_IsArray(tokens) ? tokens->child : nullptr; t != nullptr; t = t->next) {
    const std::string kind = field_text(t, "kind");
    table.add({field_text(t, "id"), kind, kind == "enroll" ? field_text(t, "uses_left") : field_text(t, "role"),
               field_text(t, "region"), labels_text(t, "labels"), time_text(field_number(t, "created_at")),
               time_text(field_number(t, "expires_at"))});
  }
  table.print(stdout, output_width());
  return kExitOk;
}

int revoke_token(Invocation& in) {
  const auto& ids = in.options().positional;
  if (ids.size() != 1) throw usage_error("muster tokens revoke takes one token ID (muster tokens list shows them)");
  const std::string raw = in.api().call_raw("DELETE", "/api/v1/tokens/" + ids[0]);
  if (printed_json(in, raw)) return kExitOk;
  std::printf("token %s revoked: it stops working at once\n", ids[0].c_str());
  return kExitOk;
}

int audit(Invocation& in) {
  const std::int64_t limit = parse_int_option("--limit", in.options().value("--limit", "50"), 1, 1000);
  const std::string raw = in.api().call_raw("GET", "/api/v1/audit?limit=" + std::to_string(limit));
  if (printed_json(in, raw)) return kExitOk;
  auto answer = proto::parse_object(raw);
  const cJSON* entries = answer ? cJSON_GetObjectItemCaseSensitive(answer->get(), "entries") : nullptr;
  Table table({"TIME (UTC)", "STATUS", "METHOD", "PATH", "TOKEN", "ROLE", "FROM"});
  for (const cJSON* e = cJSON_IsArray(entries) ? entries->child : nullptr; e != nullptr; e = e->next) {
    table.add({time_text(field_number(e, "at")), field_text(e, "status"), field_text(e, "method"),
               field_text(e, "path"), field_text(e, "token"), field_text(e, "role"), field_text(e, "from")});
  }
  table.print(stdout, output_width());
  return kExitOk;
}

}  // namespace

std::vector<Command> admin_commands() {
  return {
      {"tokens create", "--role viewer|operator|admin|platform [--ttl S]", "create an API token (admin)",
       "viewer reads; operator also runs and cancels jobs; admin also manages tokens\n"
       "and agents and reads the audit trail; platform also manages tenants. No token\n"
       "gets a role above the one that creates it.\n",
       {{"--role", "ROLE", "viewer, operator, admin or platform"},
        {"--ttl", "S", "lifetime in seconds (default: the hub's)"}},
       create_api_token},
      {"tokens list", "", "list API and enrollment tokens (admin; never their secrets)", "", {}, list_tokens},
      {"tokens revoke", "ID", "revoke a token (admin); it stops working at once", "", {}, revoke_token},
      {"enroll-token create", "[--label K=V ...] [--uses N] [--ttl S] [--region R]",
       "create an enrollment token for muster-agent enroll (admin)",
       "Agents enrolled with it get its labels (overlaid with their own) and join its region.\n",
       {{"--label", "K=V", "label every agent enrolled with it gets", true},
        {"--uses", "N", "how many agents may enroll with it"},
        {"--ttl", "S", "lifetime in seconds"},
        {"--region", "R", "region the agents join (default: the hub's first)"}},
       create_enroll_token},
      {"audit", "[--limit N]", "show the audit trail of API writes, newest first (admin)", "",
       {{"--limit", "N", "at most N entries (default 50)"}}, audit},
  };
}

}  // namespace muster::cli
