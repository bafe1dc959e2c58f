// The api's core (Auth, Agents, Jobs, Audit) against the in-memory api
// store: who may do what, what a job submit resolves and writes, and that a
// refused request writes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/audit.hpp"
#include "core_fixture.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/signing.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {
namespace {

using testing::CoreTest;
using testing::refusal;

TEST_F(CoreTest, ATokenAuthenticatesAsItsTenantAndRole) {
  const Principal p = principal("acme", Role::operator_);
  EXPECT_EQ(p.tenant, "acme");
  EXPECT_EQ(p.role, Role::operator_);
  EXPECT_EQ(p.kind, TokenKind::api);
  EXPECT_EQ(p.token_id.size(), 16u);
}

TEST_F(CoreTest, BadCredentialsAreRefusedWithTheirReason) {
  const std::string token = auth_->create_api_token("acme", Role::admin, 3600).token;
  EXPECT_EQ(std::string(refusal([&] { auth_->authenticate(""); }).what()), "missing Authorization: Bearer token");
  EXPECT_EQ(refusal([&] { auth_->authenticate("Basic " + token); }).status, 401);
  EXPECT_EQ(refusal([&] { auth_->authenticate("Bearer short"); }).status, 401);
  std::string wrong = token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  EXPECT_EQ(refusal([&] { auth_->authenticate("Bearer " + wrong); }).status, 401);
  for (auto& [hash, record] : store_.tokens) record.fields["expires_at"] = "1";  // expired
  EXPECT_EQ(refusal([&] { auth_->authenticate("Bearer " + token); }).status, 401);
}

TEST_F(CoreTest, TokensAreListedWithoutSecretsAndRevokedById) {
  const NewToken t = auth_->create_api_token("acme", Role::viewer, 3600);
  auth_->create_api_token("other", Role::admin, 3600);
  const std::string list = auth_->list_json("acme");
  EXPECT_NE(list.find(t.id), std::string::npos);
  EXPECT_EQ(list.find(t.token), std::string::npos);
  EXPECT_EQ(refusal([&] { auth_->revoke("other", t.id); }).status, 404);  // not theirs
  EXPECT_EQ(refusal([&] { auth_->revoke("acme", "../../etc"); }).status, 404);
  auth_->revoke("acme", t.id);
  EXPECT_EQ(refusal([&] { auth_->authenticate("Bearer " + t.token); }).status, 401);
}

TEST_F(CoreTest, AnEnrollmentTokenEnrollsAsManyAgentsAsItHasUses) {
  const auto token = auth_->create_enroll_token("acme", {{"role", "web"}}, 2, 3600, "us");
  const Principal p = auth_->authenticate("Bearer " + token.token);
  const std::string facts = proto::encode(proto::Facts{"web-1", "linux", "x86_64", "6.1", "1.0", {{"tier", "a"}}});
  const proto::Enrollment e = agents_->enroll(p, facts);
  EXPECT_TRUE(proto::is_uuid(e.uuid));
  EXPECT_EQ(e.xmpp_domain, "us.example");
  EXPECT_EQ(e.jid, e.uuid + "@us.example");
  const Record agent = store_.agent(e.uuid);
  EXPECT_EQ(agent.field("tenant"), "acme");
  EXPECT_EQ(labels_of(agent), (proto::StringMap{{"role", "web"}, {"tier", "a"}}));
  ASSERT_EQ(store_.account_requests.size(), 1u);
  EXPECT_NE(store_.account_requests[0].find("add-user " + e.jid), std::string::npos);
  agents_->enroll(p, facts);
  EXPECT_EQ(refusal([&] { agents_->enroll(p, facts); }).status, 401);  // no uses left
  EXPECT_EQ(store_.tenant_agents("acme").size(), 2u);
}

TEST_F(CoreTest, AnEnrollmentNoMasterAnsweredGivesItsUseBack) {
  const auto token = auth_->create_enroll_token("acme", {}, 1, 3600, "eu");
  const Principal p = auth_->authenticate("Bearer " + token.token);
  const std::string facts = proto::encode(proto::Facts{"h", "linux", "x86_64", "6.1", "1.0", {}});
  store_.account_answer.reset();
  EXPECT_EQ(refusal([&] { agents_->enroll(p, facts); }).status, 503);
  EXPECT_TRUE(store_.tenant_agents("acme").empty());
  store_.account_answer = "ok";
  agents_->enroll(p, facts);  // the use is still there
  EXPECT_EQ(store_.tenant_agents("acme").size(), 1u);
}

TEST_F(CoreTest, EnrollmentNeedsAnEnrollmentTokenAndValidFacts) {
  const Principal admin = principal("acme", Role::admin);
  EXPECT_EQ(refusal([&] { agents_->enroll(admin, "{}"); }).status, 403);
  const auto token = auth_->create_enroll_token("acme", {}, 5, 3600, "eu");
  const Principal p = auth_->authenticate("Bearer " + token.token);
  EXPECT_EQ(refusal([&] { agents_->enroll(p, "not json"); }).status, 400);
  EXPECT_EQ(refusal([&] { agents_->enroll(p, R"({"hostname": null})"); }).status, 400);
  EXPECT_TRUE(store_.account_requests.empty());
  EXPECT_EQ(store_.token(hash_of(token.token)).field("uses"), "5");  // nothing taken
}

TEST_F(CoreTest, ASubmitSignsTheJobAndQueuesOneTaskPerTarget) {
  const std::string a = enroll("acme", {{"role", "web"}}), b = enroll("acme", {{"role", "db"}});
  enroll("other", {{"role", "web"}});
  const Principal op = principal("acme", Role::operator_);
  const SubmittedJob job =
      jobs_->submit(op, R"({"command": "uptime", "targets": {"all": true}, "concurrency": "50%"})", false);
  ASSERT_TRUE(proto::is_uuid(job.id));
  EXPECT_EQ(job.agents.size(), 2u);
  EXPECT_EQ(queued(), 2u);
  const NewJob& written = store_.jobs.at(job.id);
  EXPECT_EQ(written.tenant, "acme");
  EXPECT_EQ(written.record.field("concurrency"), "1");
  EXPECT_EQ(written.record.field("state"), "running");
  EXPECT_EQ(written.tasks.size(), 2u);
  // The statement is the api's, signed with its key, and binds each task by its proof.
  auto verifier = proto::Verifier::from_pems(keys_.public_pems);
  ASSERT_TRUE(verifier);
  for (const auto& t : written.tasks) {
    proto::Task task;
    task.task_id = t.task_id;
    task.auth = proto::TaskAuth{written.record.field("key_id").value_or(""),
                                written.record.field("signature").value_or(""),
                                written.record.field("statement").value_or(""), t.proof};
    // As the agent reads it off the wire.
    const auto received = proto::decode_task(proto::encode(task));
    ASSERT_TRUE(received) << received.error().message;
    const auto verified = proto::verify_task(*received, t.agent_id, *verifier, unix_time());
    EXPECT_TRUE(verified) << (verified ? "" : verified.error().message);
    EXPECT_FALSE(proto::verify_task(*received, b == t.agent_id ? a : b, *verifier, unix_time()));  // bound to its agent
  }
  const std::string tasks = jobs_->tasks_json(op, job.id, Page{});
  EXPECT_NE(tasks.find(a), std::string::npos);
  EXPECT_NE(tasks.find(b), std::string::npos);
}

TEST_F(CoreTest, TargetsResolveByLabelRegionAndListWithinTheTenant) {
  const std::string web = enroll("acme", {{"role", "web"}}), db = enroll("acme", {{"role", "db"}}, "us");
  const std::string theirs = enroll("other", {{"role", "web"}});
  const Principal op = principal("acme", Role::operator_);
  EXPECT_EQ(jobs_->submit(op, R"({"command": "x", "targets": {"labels": {"role": "web"}}})", true).agents,
            std::vector<std::string>{web});
  EXPECT_EQ(jobs_->submit(op, R"({"command": "x", "targets": {"regions": ["us"]}})", true).agents,
            std::vector<std::string>{db});
  EXPECT_EQ(jobs_->submit(op, R"({"command": "x", "targets": {"agents": [")" + db + R"("]}})", true).agents,
            std::vector<std::string>{db});
  const ApiError foreign =
      refusal([&] { jobs_->submit(op, R"({"command": "x", "targets": {"agents": [")" + theirs + R"("]}})", true); });
  EXPECT_EQ(foreign.status, 400);
  EXPECT_EQ(foreign.code, "unknown_agent");
  EXPECT_EQ(queued(), 0u);  // dry runs write nothing
  EXPECT_TRUE(store_.jobs.empty());
}

TEST_F(CoreTest, ASubmitThatIsRefusedWritesNothing) {
  enroll("acme", {});
  const Principal viewer = principal("acme", Role::viewer), op = principal("acme", Role::operator_);
  const std::string all = R"({"command": "x", "targets": {"all": true}})";
  EXPECT_EQ(refusal([&] { jobs_->submit(viewer, all, false); }).status, 403);
  EXPECT_EQ(refusal([&] { jobs_->submit(op, R"({"command": "x", "as_root": true, "targets": {"all": true}})", false); }).status,
            403);
  EXPECT_EQ(refusal([&] { jobs_->submit(op, R"({"command": "x", "targets": {"regions": ["mars"]}})", false); }).code,
            "invalid_field");
  EXPECT_EQ(refusal([&] { jobs_->submit(op, R"({"command": "x", "targets": {"labels": {"no": "one"}}})", false); }).code,
            "no_targets");
  EXPECT_EQ(refusal([&] { jobs_->submit(op, "{\"command\": ", false); }).status, 400);
  EXPECT_EQ(refusal([&] { jobs_->submit(op, R"({"command": "x"})", false); }).status, 400);
  EXPECT_TRUE(store_.jobs.empty());
  EXPECT_EQ(queued(), 0u);
}

TEST_F(CoreTest, ARevokedAgentIsNoLongerListedOrTargeted) {
  const std::string a = enroll("acme", {{"role", "web"}}), b = enroll("acme", {{"role", "web"}});
  const Principal admin = principal("acme", Role::admin);
  agents_->revoke(admin, a);
  EXPECT_EQ(store_.revoked.count(a), 1u);
  EXPECT_NE(store_.account_requests.back().find("delete-user " + a), std::string::npos);
  EXPECT_EQ(jobs_->submit(admin, R"({"command": "x", "targets": {"all": true}})", true).agents,
            std::vector<std::string>{b});
  EXPECT_EQ(refusal([&] { agents_->revoke(principal("other", Role::admin), b); }).status, 404);
}

TEST_F(CoreTest, AgentsAreListedInIdOrderPageByPage) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(enroll("acme", {}));
  enroll("other", {});
  std::sort(ids.begin(), ids.end());
  const Principal viewer = principal("acme", Role::viewer);
  std::vector<std::string> seen;
  Page page{2, ""};
  for (int pages = 0; pages < 10; ++pages) {
    auto root = proto::parse_object(agents_->list_json(viewer, page));
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(root->get(), "total")->valueint, 5);
    const cJSON* agent = nullptr;
    cJSON_ArrayForEach(agent, cJSON_GetObjectItemCaseSensitive(root->get(), "agents")) {
      seen.push_back(cJSON_GetObjectItemCaseSensitive(agent, "id")->valuestring);
    }
    const cJSON* next = cJSON_GetObjectItemCaseSensitive(root->get(), "next_cursor");
    if (cJSON_IsNull(next)) break;
    page.cursor = next->valuestring;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(refusal([&] { agents_->list_json(viewer, Page{2, "12.5"}); }).status, 400);
}

TEST_F(CoreTest, CancelEndsPendingTasksOnceAndOnlyForTheTenant) {
  enroll("acme", {});
  const Principal op = principal("acme", Role::operator_);
  const std::string job = jobs_->submit(op, R"({"command": "x", "targets": {"all": true}})", false).id;
  EXPECT_EQ(refusal([&] { jobs_->cancel(principal("other", Role::admin), job); }).status, 404);
  EXPECT_EQ(refusal([&] { jobs_->cancel(principal("acme", Role::viewer), job); }).status, 403);
  jobs_->cancel(op, job);
  EXPECT_EQ(store_.jobs[job].record.field("cancel_requested"), "1");
  for (const auto& [agent, state] : store_.task_states[job]) EXPECT_EQ(state, "cancelled");
  store_.jobs[job].record.fields["state"] = "cancelled";
  EXPECT_EQ(refusal([&] { jobs_->cancel(op, job); }).status, 409);
}

TEST_F(CoreTest, JobsAreListedNewestFirstInPages) {
  enroll("acme", {});
  const Principal op = principal("acme", Role::operator_);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(jobs_->submit(op, R"({"command": "x", "targets": {"all": true}})", false).id);
    store_.jobs[ids.back()].created_at = 1000 + i;
  }
  const std::string first = jobs_->list_json(op, Page{2, ""});
  EXPECT_LT(first.find(ids[2]), first.find(ids[1]));
  EXPECT_EQ(first.find(ids[0]), std::string::npos);
  const std::string second = jobs_->list_json(op, Page{2, "1001.000000"});
  EXPECT_NE(second.find(ids[0]), std::string::npos);
  EXPECT_EQ(principal("other", Role::admin).tenant, "other");
  EXPECT_EQ(jobs_->list_json(principal("other", Role::admin), Page{}).find(ids[0]), std::string::npos);
}

TEST_F(CoreTest, TheAuditTrailIsTheAdminsAndNewestFirst) {
  Audit audit(store_);
  const Principal admin = principal("acme", Role::admin);
  audit.record(admin, {"POST", "/api/v1/jobs", "127.0.0.1", 201});
  audit.record(admin, {"DELETE", "/api/v1/agents/x", "127.0.0.1", 404});
  const std::string list = audit.list_json(admin, 10);
  EXPECT_LT(list.find("DELETE"), list.find("POST"));
  EXPECT_EQ(refusal([&] { audit.list_json(principal("acme", Role::operator_), 10); }).status, 403);
  store_.down = true;
  audit.record(admin, {"POST", "/api/v1/jobs", "127.0.0.1", 201});  // logged, not thrown
  store_.down = false;
  EXPECT_EQ(store_.audit["acme"].size(), 2u);
}

}  // namespace
}  // namespace muster::hub
