// Tenants through the api's core, against the in-memory api store: only a
// platform token manages them; suspension refuses the tenant's tokens and
// agents and cancels its running jobs; deletion revokes agents and tokens
// for good; quotas refuse what is over them and write nothing.
#include "core_fixture.hpp"

namespace muster::hub {
namespace {

using testing::CoreTest;
using testing::refusal;

class TenantsTest : public CoreTest {
 protected:
  // Creates the tenant and returns its first admin token.
  std::string create(const std::string& body) {
    auto root = proto::parse_object(tenants_->create(platform_, body));
    const cJSON* admin = cJSON_GetObjectItemCaseSensitive(root->get(), "admin_token");
    return cJSON_GetObjectItemCaseSensitive(admin, "token")->valuestring;
  }
  Principal as(const std::string& token) { return auth_->authenticate("Bearer " + token); }

  void SetUp() override {
    CoreTest::SetUp();
    store_.create_tenant("ops", Record{{{"state", "active"}}});
    platform_ = principal("ops", Role::platform);
  }

  Principal platform_;
};

TEST_F(TenantsTest, OnlyPlatformTokensManageTenants) {
  const Principal admin = principal("ops", Role::admin);
  EXPECT_EQ(refusal([&] { tenants_->create(admin, R"({"name": "acme"})"); }).status, 403);
  EXPECT_EQ(refusal([&] { tenants_->list_json(admin); }).status, 403);
  EXPECT_EQ(refusal([&] { tenants_->remove(admin, "ops"); }).status, 403);
  // Nor can an admin make itself a platform token.
  EXPECT_EQ(refusal([&] { auth_->create_from_request(admin, R"({"kind": "api", "role": "platform"})", config_); })
                .status,
            403);
  EXPECT_EQ(store_.tenant_records.size(), 1u);
}

TEST_F(TenantsTest, ANewTenantComesWithItsFirstAdminToken) {
  const std::string token = create(R"({"name": "acme", "quotas": {"agents": 5}})");
  const Principal admin = as(token);
  EXPECT_EQ(admin.tenant, "acme");
  EXPECT_EQ(admin.role, Role::admin);
  EXPECT_EQ(admin.quotas.agents, 5);
  EXPECT_EQ(admin.quotas.jobs_per_minute, 0);  // the hub's default: no limit
  const std::string listed = tenants_->list_json(platform_);
  EXPECT_NE(listed.find(R"("name":"acme","state":"active")"), std::string::npos) << listed;
  // A name is taken once.
  EXPECT_EQ(refusal([&] { create(R"({"name": "acme"})"); }).status, 409);
}

TEST_F(TenantsTest, BadRequestsAreRefusedAndWriteNothing) {
  for (const char* body : {R"({"name": "Acme"})", R"({"name": "a{b}"})", R"({"name": ""})", R"({"name": "-x"})",
                           R"({"name": "acme", "colour": "red"})", R"({"name": "acme", "quotas": {"agents": -1}})",
                           R"({"name": "acme", "quotas": {"cpus": 1}})", R"({"name": null})", "[1]", "{"}) {
    const ApiError e = refusal([&] { create(body); });
    EXPECT_EQ(e.status, 400) << body;
  }
  EXPECT_EQ(refusal([&] { create(R"({"name": ")" + std::string(64, 'a') + R"("})"); }).status, 400);
  EXPECT_EQ(refusal([&] { tenants_->update(platform_, "nobody", R"({"state": "suspended"})"); }).status, 404);
  create(R"({"name": "acme"})");
  EXPECT_EQ(refusal([&] { tenants_->update(platform_, "acme", R"({"state": "gone"})"); }).status, 400);
  EXPECT_EQ(store_.tenant_records.size(), 2u);
  EXPECT_EQ(store_.tenant_records["acme"].field("state"), "active");
}

TEST_F(TenantsTest, ASuspendedTenantIsRefusedUntilItResumes) {
  const std::string token = create(R"({"name": "acme"})");
  const std::string agent = enroll("acme", {});
  const auto job = jobs_->submit(as(token), R"({"command": "sleep 60", "targets": {"all": true}})", false);
  tenants_->update(platform_, "acme", R"({"state": "suspended"})");
  const ApiError e = refusal([&] { as(token); });
  EXPECT_EQ(e.status, 403);
  EXPECT_EQ(e.code, "tenant_suspended");
  EXPECT_EQ(store_.refused.count(agent), 1u);
  EXPECT_EQ(store_.jobs[job.id].record.field("cancel_requested"), "1");
  // Another tenant is untouched.
  EXPECT_EQ(as(auth_->create_api_token("other", Role::viewer, 60).token).tenant, "other");

  tenants_->update(platform_, "acme", R"({"state": "active"})");
  EXPECT_EQ(as(token).tenant, "acme");
  EXPECT_EQ(store_.refused.count(agent), 0u);
}

TEST_F(TenantsTest, APlatformTokenCannotSuspendOrDeleteItsOwnTenant) {
  EXPECT_EQ(refusal([&] { tenants_->update(platform_, "ops", R"({"state": "suspended"})"); }).status, 409);
  EXPECT_EQ(refusal([&] { tenants_->remove(platform_, "ops"); }).status, 409);
  EXPECT_EQ(store_.tenant_records["ops"].field("state"), "active");
}

TEST_F(TenantsTest, DeletingATenantRevokesItsAgentsAndTokensForGood) {
  const std::string token = create(R"({"name": "acme"})");
  const std::string a = enroll("acme", {}), b = enroll("acme", {});
  const std::string out = tenants_->remove(platform_, "acme");
  EXPECT_NE(out.find(R"("agents_revoked":2,"tokens_revoked":)"), std::string::npos) << out;
  EXPECT_EQ(refusal([&] { as(token); }).status, 401);
  EXPECT_EQ(store_.revoked.count(a) + store_.revoked.count(b), 2u);
  std::size_t deletions = 0;
  for (const auto& request : store_.account_requests) deletions += request.find(" delete-user ") != std::string::npos;
  EXPECT_EQ(deletions, 2u);
  EXPECT_TRUE(store_.tokens_by_tenant["acme"].empty());
  // The name stays taken: the tenant's jobs and audit trail are kept under it.
  EXPECT_EQ(refusal([&] { create(R"({"name": "acme"})"); }).status, 409);
  EXPECT_EQ(refusal([&] { tenants_->update(platform_, "acme", R"({"state": "active"})"); }).status, 409);
}

TEST_F(TenantsTest, QuotasRefuseWhatIsOverThemAndWriteNothing) {
  const std::string token = create(R"({"name": "acme", "quotas": {"agents": 1, "jobs_per_minute": 2}})");
  enroll("acme", {});
  const auto enroll_token = auth_->create_enroll_token("acme", {}, 5, 3600, "eu");
  const ApiError full = refusal([&] {
    agents_->enroll(as(enroll_token.token), proto::encode(proto::Facts{"h", "linux", "x86_64", "6.1", "1.0", {}}));
  });
  EXPECT_EQ(full.status, 403);
  EXPECT_EQ(full.code, "quota_exceeded");
  EXPECT_EQ(store_.tokens[hash_of(enroll_token.token)].field("uses"), "5");  // no use taken

  const std::string job = R"({"command": "true", "targets": {"all": true}})";
  jobs_->submit(as(token), job, false);
  jobs_->submit(as(token), job, false);
  jobs_->submit(as(token), job, true);  // a dry run is not a job
  const std::size_t jobs_before = store_.jobs.size();
  const ApiError over = refusal([&] { jobs_->submit(as(token), job, false); });
  EXPECT_EQ(over.status, 429);
  EXPECT_EQ(over.code, "quota_exceeded");
  EXPECT_GE(over.retry_after_s, 1);
  EXPECT_LE(over.retry_after_s, 60);
  EXPECT_EQ(store_.jobs.size(), jobs_before);
  // A raised quota takes effect for the next request.
  tenants_->update(platform_, "acme", R"({"quotas": {"jobs_per_minute": 3}})");
  EXPECT_FALSE(jobs_->submit(as(token), job, false).id.empty());
}

}  // namespace
}  // namespace muster::hub
