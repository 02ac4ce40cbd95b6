// SPDX-License-Identifier: MIT
// The Kubernetes rollout stage against a strict loopback API server serving Deployment
// objects and Status errors, and a differential test against the real `kubectl rollout
// status` on the same objects.
#include "support/loopback_server.hpp"
#include "support/process.hpp"

#include <afk/deploy.hpp>
#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/log.hpp>
#include <afk/time.hpp>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using afk::StageType;
using afk::Timestamp;
using afk::Verdict;
using nlohmann::json;

constexpr std::string_view k_token = "eyJhbGciOiJSUzI1NiJ9.k8s-SECRET";
constexpr std::string_view k_sha = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
constexpr std::string_view k_new_image = "registry.example:5000/acme/web:main-4b825dc642cb";
constexpr std::string_view k_old_image = "registry.example:5000/acme/web:main-0a1b2c3d4e5f";

struct Rollout {
  std::string image = std::string(k_new_image);
  std::int64_t generation = 2;
  std::int64_t observed = 2;
  std::optional<std::int64_t> spec_replicas = 3;
  std::int64_t replicas = 3;
  std::int64_t updated = 3;
  std::int64_t available = 3;
  std::string progressing_reason = "NewReplicaSetAvailable";
  json template_annotations = json::object();
};

// A Deployment as GET /apis/apps/v1/namespaces/{ns}/deployments/{name} returns it.
json deployment(std::string_view name, const Rollout& r, std::string_view ns = "default") {
  json spec = {{"selector", {{"matchLabels", {{"app", name}}}}},
               {"template",
                {{"metadata",
                  {{"creationTimestamp", nullptr},
                   {"labels", {{"app", name}}},
                   {"annotations", r.template_annotations}}},
                 {"spec",
                  {{"containers", json::array({{{"name", "web"},
                                                {"image", r.image},
                                                {"resources", json::object()},
                                                {"terminationMessagePath", "/dev/termination-log"},
                                                {"imagePullPolicy", "IfNotPresent"}},
                                               {{"name", "log-shipper"},
                                                {"image", "fluent/fluent-bit:3.1"},
                                                {"resources", json::object()}}})},
                   {"restartPolicy", "Always"},
                   {"terminationGracePeriodSeconds", 30},
                   {"dnsPolicy", "ClusterFirst"},
                   {"schedulerName", "default-scheduler"}}}}},
               {"strategy",
                {{"type", "RollingUpdate"},
                 {"rollingUpdate", {{"maxUnavailable", "25%"}, {"maxSurge", "25%"}}}}},
               {"revisionHistoryLimit", 10},
               {"progressDeadlineSeconds", 600}};
  if (r.spec_replicas) {
    spec["replicas"] = *r.spec_replicas;
  }
  json status = {
      {"observedGeneration", r.observed},
      {"replicas", r.replicas},
      {"updatedReplicas", r.updated},
      {"readyReplicas", r.available},
      {"availableReplicas", r.available},
      {"conditions",
       json::array(
           {{{"type", "Available"},
             {"status", r.available > 0 ? "True" : "False"},
             {"lastUpdateTime", "2026-03-01T11:40:00Z"},
             {"lastTransitionTime", "2026-03-01T11:40:00Z"},
             {"reason", "MinimumReplicasAvailable"},
             {"message", "Deployment has minimum availability."}},
            {{"type", "Progressing"},
             {"status", r.progressing_reason == "ProgressDeadlineExceeded" ? "False" : "True"},
             {"lastUpdateTime", "2026-03-01T11:50:00Z"},
             {"lastTransitionTime", "2026-03-01T11:30:00Z"},
             {"reason", r.progressing_reason},
             {"message", "ReplicaSet \"" + std::string(name) + "-7d4b9c8f6\" is progressing."}}})}};
  if (r.replicas > r.available) {
    status["unavailableReplicas"] = r.replicas - r.available;
  }
  return {{"kind", "Deployment"},
          {"apiVersion", "apps/v1"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"uid", "5b0e8c6a-3f1d-4b8e-9b2a-0c1d2e3f4a5b"},
            {"resourceVersion", "48211"},
            {"generation", r.generation},
            {"creationTimestamp", "2026-02-01T10:00:00Z"},
            {"labels", {{"app", name}}},
            {"annotations", {{"deployment.kubernetes.io/revision", "7"}}}}},
          {"spec", spec},
          {"status", status}};
}

json status_error(int code, std::string_view reason, std::string message) {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", json::object()},
          {"status", "Failure"},
          {"message", std::move(message)},
          {"reason", reason},
          {"code", code}};
}

// The API server, as far as `rollout status` and afk read it: discovery, GET/LIST/WATCH of
// Deployments, Status errors. `require_token` makes it demand the service account token.
class FakeApiServer {
public:
  explicit FakeApiServer(bool require_token)
      : m_require_token(require_token) {}

  [[nodiscard]] std::string url() const { return m_server.url(); }
  template <class Edit> void edit(Edit edit) {
    const std::lock_guard lock(m_mutex);
    edit(*this);
  }
  [[nodiscard]] std::vector<std::string> seen() const {
    const std::lock_guard lock(m_mutex);
    return m_seen;
  }

  std::map<std::string, json> deployments; ///< by "namespace/name"
  int failures = 0;
  bool garbage = false;
  bool forbidden = false;
  std::chrono::milliseconds delay{0};

private:
  static void reply(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    m_seen.push_back(req.target);
    if (delay > 0ms) {
      std::this_thread::sleep_for(delay);
    }
    if (m_require_token &&
        req.get_header_value("Authorization") != "Bearer " + std::string(k_token)) {
      reply(res, 401, status_error(401, "Unauthorized", "Unauthorized"));
      return;
    }
    if (m_require_token && req.get_header_value("Accept") != "application/json") {
      reply(res, 406, status_error(406, "NotAcceptable", "only application/json is served"));
      return;
    }
    if (req.method != "GET") {
      reply(res, 405,
            status_error(405, "MethodNotAllowed", "the server does not allow this method"));
      return;
    }
    if (failures > 0) {
      --failures;
      reply(res, 503, status_error(503, "ServiceUnavailable", "etcdserver: leader changed"));
      return;
    }
    if (garbage) {
      res.status = 200;
      res.set_content("k8s\x00\x0a\x0fprotobuf", "application/vnd.kubernetes.protobuf");
      return;
    }
    const std::string path = req.path;
    if (path == "/api") {
      reply(res, 200,
            {{"kind", "APIVersions"},
             {"versions", json::array({"v1"})},
             {"serverAddressByClientCIDRs",
              json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", "127.0.0.1:6443"}}})}});
      return;
    }
    if (path == "/apis") {
      const json apps_v1 = {{"groupVersion", "apps/v1"}, {"version", "v1"}};
      reply(res, 200,
            {{"kind", "APIGroupList"},
             {"apiVersion", "v1"},
             {"groups", json::array({{{"name", "apps"},
                                      {"versions", json::array({apps_v1})},
                                      {"preferredVersion", apps_v1}}})}});
      return;
    }
    if (path == "/api/v1") {
      reply(res, 200,
            {{"kind", "APIResourceList"}, {"groupVersion", "v1"}, {"resources", json::array()}});
      return;
    }
    if (path == "/apis/apps/v1") {
      reply(res, 200,
            {{"kind", "APIResourceList"},
             {"apiVersion", "v1"},
             {"groupVersion", "apps/v1"},
             {"resources",
              json::array({{{"name", "deployments"},
                            {"singularName", "deployment"},
                            {"namespaced", true},
                            {"kind", "Deployment"},
                            {"verbs", json::array({"create", "delete", "deletecollection", "get",
                                                   "list", "patch", "update", "watch"})},
                            {"shortNames", json::array({"deploy"})},
                            {"categories", json::array({"all"})}}})}});
      return;
    }
    const std::string prefix = "/apis/apps/v1/namespaces/";
    if (!path.starts_with(prefix)) {
      reply(res, 404,
            status_error(404, "NotFound", "the server could not find the requested resource"));
      return;
    }
    const std::string rest = path.substr(prefix.size());
    const std::string ns = rest.substr(0, rest.find('/'));
    const std::string tail = rest.substr(ns.size());
    if (forbidden) {
      reply(res, 403,
            status_error(403, "Forbidden",
                         "deployments.apps is forbidden: User \"system:serviceaccount:afk:afk\" "
                         "cannot get resource \"deployments\" in API group \"apps\" in the "
                         "namespace \"" +
                             ns + "\""));
      return;
    }
    if (tail == "/deployments") {
      if (req.get_param_value("watch") == "true" || req.get_param_value("watch") == "1") {
        // No change to report: the stream ends at once and a client watches again later.
        res.status = 200;
        res.set_content("", "application/json");
        return;
      }
      const std::string selector = req.get_param_value("fieldSelector");
      json items = json::array();
      for (const auto& [key, item] : deployments) {
        if (key.starts_with(ns + "/") &&
            (selector.empty() ||
             selector == "metadata.name=" + item["metadata"]["name"].get<std::string>())) {
          items.push_back(item);
        }
      }
      reply(res, 200,
            {{"kind", "DeploymentList"},
             {"apiVersion", "apps/v1"},
             {"metadata", {{"resourceVersion", "48211"}}},
             {"items", items}});
      return;
    }
    if (tail.starts_with("/deployments/")) {
      const std::string name = tail.substr(std::string("/deployments/").size());
      const auto found = deployments.find(ns + "/" + name);
      if (found == deployments.end()) {
        reply(res, 404,
              status_error(404, "NotFound", "deployments.apps \"" + name + "\" not found"));
        return;
      }
      reply(res, 200, found->second);
      return;
    }
    reply(res, 404,
          status_error(404, "NotFound", "the server could not find the requested resource"));
  }

  bool m_require_token;
  mutable std::mutex m_mutex;
  std::vector<std::string> m_seen;
  afk::test::LoopbackServer m_server{[this](const httplib::Request& req, httplib::Response& res) {
    const std::lock_guard lock(m_mutex);
    handle(req, res);
  }};
};

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] Timestamp now() const override {
    return *afk::parse_timestamp("2026-03-01T12:00:00Z");
  }
};

class KubernetesRolloutTest : public ::testing::Test {
protected:
  KubernetesRolloutTest() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() /
            ("afk-k8s-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::create_directories(m_dir);
    std::ofstream(m_dir / "token") << k_token; // the mounted token has no newline
    m_transport = afk::make_curl_transport({.total_timeout = 400ms});
    const afk::KubernetesAccess access{
        .base_url = m_api.url(), .token_file = m_dir / "token", .ca_bundle = {}};
    auto options = afk::kubernetes_http_options(access);
    options.retry.max_attempts = 2;
    m_http = std::make_unique<afk::HttpClient>(*m_transport, options, m_log, m_clock,
                                               [](std::chrono::milliseconds) {});
    m_settings.stages = {StageType::kubernetes};
    m_settings.kubernetes_namespace = "prod";
    m_settings.kubernetes_deployments = {"web"};
  }
  ~KubernetesRolloutTest() override { fs::remove_all(m_dir); }

  afk::ShaVerdict verdict() {
    afk::DeployStages stages;
    stages[StageType::kubernetes] = afk::make_kubernetes_stage(*m_http);
    const auto watcher = afk::make_deploy_watcher(
        std::move(stages), [this](const afk::RepoName&) { return m_settings; }, m_clock, m_log);
    return watcher->verdict(*afk::RepoName::parse("acme/web"), k_sha, m_clock.now());
  }
  void serve(std::string_view name, const Rollout& rollout) {
    m_api.edit([&](FakeApiServer& api) {
      api.deployments["prod/" + std::string(name)] = deployment(name, rollout, "prod");
    });
  }

  FakeApiServer m_api{true};
  fs::path m_dir;
  afk::NullLogger m_log;
  FixedClock m_clock;
  afk::RepoDeploySettings m_settings;
  std::unique_ptr<afk::HttpTransport> m_transport;
  std::unique_ptr<afk::HttpClient> m_http;
};

TEST(KubernetesAccess, ExplicitUrlOrInClusterServiceAccount) {
  afk::KubernetesConfig config;
  config.api_url = "http://127.0.0.1:8001";
  const afk::InClusterEnvironment none{};
  EXPECT_EQ(afk::kubernetes_access(config, none),
            (afk::KubernetesAccess{
                .base_url = "http://127.0.0.1:8001", .token_file = {}, .ca_bundle = {}}));

  config.api_url.clear();
  afk::InClusterEnvironment env{.service_host = "10.96.0.1",
                                .service_port = "443",
                                .token_file = "/tmp/sa/token",
                                .ca_file = "/tmp/sa/ca.crt"};
  EXPECT_EQ(afk::kubernetes_access(config, env),
            (afk::KubernetesAccess{.base_url = "https://10.96.0.1:443",
                                   .token_file = "/tmp/sa/token",
                                   .ca_bundle = "/tmp/sa/ca.crt"}));
  env.service_host = "fd00:10:96::1";
  EXPECT_EQ(afk::kubernetes_access(config, env).base_url, "https://[fd00:10:96::1]:443");

  const auto config_error = [&](const afk::InClusterEnvironment& e) {
    try {
      (void)afk::kubernetes_access(config, e);
    } catch (const afk::Error& error) {
      return error.kind() == afk::ErrorKind::config;
    }
    return false;
  };
  EXPECT_TRUE(config_error(none));
  EXPECT_TRUE(config_error({.service_host = "10.96.0.1", .service_port = std::nullopt}));
  EXPECT_TRUE(config_error({.service_host = "10.96.0.1/evil", .service_port = "443"}));
  EXPECT_TRUE(config_error({.service_host = "10.96.0.1", .service_port = "99999"}));
  EXPECT_TRUE(config_error({.service_host = "", .service_port = "443"}));

  const afk::InClusterEnvironment standard{};
  EXPECT_EQ(standard.token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(standard.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
}

TEST(KubernetesAccess, HttpOptionsCarryTheTokenFile) {
  const auto options = afk::kubernetes_http_options(
      {.base_url = "https://10.96.0.1:443", .token_file = "/tmp/sa/token", .ca_bundle = "/tmp/ca"});
  EXPECT_EQ(options.base_url, "https://10.96.0.1:443");
  EXPECT_EQ(options.token_file, "/tmp/sa/token");
  EXPECT_EQ(options.auth_scheme, "Bearer");
  EXPECT_EQ(options.default_headers, (afk::HttpHeaders{{"Accept", "application/json"}}));
}

TEST_F(KubernetesRolloutTest, RolledOutNewImageIsGreen) {
  serve("web", Rollout{});
  const auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::green);
  ASSERT_EQ(v.stages.size(), 1U);
  EXPECT_EQ(v.stages[0].stage, "kubernetes");
  EXPECT_EQ(v.stages[0].kind, afk::StageKind::deploy);
  EXPECT_EQ(v.stages[0].detail, R"(web: deployment "web" successfully rolled out)");
  EXPECT_EQ(m_api.seen(),
            std::vector<std::string>{"/apis/apps/v1/namespaces/prod/deployments/web"});
}

TEST_F(KubernetesRolloutTest, EveryKubectlOutcomeFromTheWire) {
  struct Row {
    Rollout rollout;
    Verdict expected;
    std::string detail;
  };
  const std::vector<Row> rows = {
      {Rollout{.updated = 1, .available = 1, .progressing_reason = "ReplicaSetUpdated"},
       Verdict::pending,
       R"(web: Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...)"},
      {Rollout{.replicas = 4}, Verdict::pending,
       R"(web: Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...)"},
      {Rollout{.spec_replicas = 2, .replicas = 2, .updated = 2, .available = 1}, Verdict::pending,
       R"(web: Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...)"},
      {Rollout{.generation = 3}, Verdict::pending,
       "web: Waiting for deployment spec update to be observed..."},
      {Rollout{.updated = 1, .available = 1, .progressing_reason = "ProgressDeadlineExceeded"},
       Verdict::red, R"(web: deployment "web" exceeded its progress deadline)"},
  };
  for (const auto& row : rows) {
    serve("web", row.rollout);
    const auto v = verdict();
    EXPECT_EQ(v.verdict, row.expected) << row.detail;
    EXPECT_EQ(v.stages[0].detail, row.detail);
  }
}

TEST_F(KubernetesRolloutTest, StuckOnTheOldImageIsPendingNeverGreen) {
  serve("web", Rollout{.image = std::string(k_old_image)}); // fully rolled out, old image
  auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(v.stages[0].detail,
            "web: still running registry.example:5000/acme/web:main-0a1b2c3d4e5f; "
            "fluent/fluent-bit:3.1, not 4b825dc642cb");
  // The old rollout's deadline is not this SHA's failure either.
  serve("web", Rollout{.image = std::string(k_old_image),
                       .progressing_reason = "ProgressDeadlineExceeded"});
  EXPECT_EQ(verdict().verdict, Verdict::pending);
}

TEST_F(KubernetesRolloutTest, TheConfiguredAnnotationCarriesTheSha) {
  m_settings.image_annotation = "afk.dev/commit";
  serve("web", Rollout{.image = "registry.example/acme/web@sha256:9a8b7c",
                       .template_annotations = {{"afk.dev/commit", std::string(k_sha)}}});
  EXPECT_EQ(verdict().verdict, Verdict::green);
  serve("web", Rollout{.image = "registry.example/acme/web@sha256:9a8b7c",
                       .template_annotations = {{"afk.dev/commit", "0a1b2c3d4e5f"}}});
  EXPECT_EQ(verdict().verdict, Verdict::pending);
  m_settings.image_annotation.clear();
  serve("web", Rollout{.image = "registry.example/acme/web@sha256:9a8b7c",
                       .template_annotations = {{"afk.dev/commit", std::string(k_sha)}}});
  EXPECT_EQ(verdict().verdict, Verdict::pending) << "an annotation nobody configured is not read";
}

TEST_F(KubernetesRolloutTest, RegressionAfterHealthyIsReadFresh) {
  serve("web", Rollout{});
  EXPECT_EQ(verdict().verdict, Verdict::green);
  // A pod of the new ReplicaSet crashes: availability drops.
  serve("web", Rollout{.available = 2});
  auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(
      v.stages[0].detail,
      R"(web: Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...)");
  // Someone rolls the Deployment to another image.
  serve("web", Rollout{.image = std::string(k_old_image), .generation = 3, .observed = 3});
  EXPECT_EQ(verdict().verdict, Verdict::pending);
  serve("web",
        Rollout{.updated = 2, .available = 2, .progressing_reason = "ProgressDeadlineExceeded"});
  EXPECT_EQ(verdict().verdict, Verdict::red);
}

TEST_F(KubernetesRolloutTest, EveryDeploymentMustBeRolledOut) {
  m_settings.kubernetes_deployments = {"web", "worker", "cron"};
  serve("web", Rollout{});
  serve("worker", Rollout{.updated = 1, .available = 1});
  serve("cron", Rollout{});
  auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(
      v.stages[0].detail,
      R"(worker: Waiting for deployment "worker" rollout to finish: 1 out of 3 new replicas have been updated...)");
  serve("cron",
        Rollout{.updated = 1, .available = 1, .progressing_reason = "ProgressDeadlineExceeded"});
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.stages[0].detail, R"(cron: deployment "cron" exceeded its progress deadline)");
  serve("worker", Rollout{});
  serve("cron", Rollout{});
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::green);
  EXPECT_EQ(
      v.stages[0].detail,
      R"(web: deployment "web" successfully rolled out; worker: deployment "worker" successfully rolled out; cron: deployment "cron" successfully rolled out)");
}

TEST_F(KubernetesRolloutTest, MissingDeploymentsAndApiErrorsAreUnknown) {
  auto v = verdict(); // nothing served: 404 with a Status body
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_EQ(v.stages[0].detail, R"(web: deployment "web" not found in namespace "prod")");

  serve("web", Rollout{});
  m_api.edit([](FakeApiServer& api) { api.forbidden = true; });
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("403"), std::string::npos) << v.stages[0].detail;
  m_api.edit([](FakeApiServer& api) { api.forbidden = false; });

  m_api.edit([](FakeApiServer& api) { api.failures = 2; });
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("503"), std::string::npos) << v.stages[0].detail;

  m_api.edit([](FakeApiServer& api) { api.garbage = true; });
  EXPECT_EQ(verdict().verdict, Verdict::unknown);
  m_api.edit([](FakeApiServer& api) { api.garbage = false; });

  m_api.edit([](FakeApiServer& api) { api.delay = 700ms; });
  EXPECT_EQ(verdict().verdict, Verdict::unknown);
  m_api.edit([](FakeApiServer& api) { api.delay = 0ms; });

  std::ofstream(m_dir / "token") << "expired";
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_EQ(v.stages[0].detail.find("expired"), std::string::npos) << "no token in the detail";
  std::ofstream(m_dir / "token") << k_token;

  m_api.edit([](FakeApiServer& api) {
    api.deployments["prod/web"]["spec"]["template"]["spec"].erase("containers");
  });
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("\"containers\" is missing"), std::string::npos)
      << v.stages[0].detail;

  m_settings.kubernetes_deployments.clear();
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_EQ(v.stages[0].detail, "no Kubernetes deployment configured");
}

// ---- kubectl as the oracle ------------------------------------------------------------------

afk::DeploymentState state_of(const Rollout& r) {
  return afk::DeploymentState{.name = "web",
                              .generation = r.generation,
                              .observed_generation = r.observed,
                              .spec_replicas = r.spec_replicas,
                              .replicas = r.replicas,
                              .updated_replicas = r.updated,
                              .available_replicas = r.available,
                              .progressing_reason = r.progressing_reason};
}

// kubectl's output without client-go's klog lines ("W1124 18:43:36.039035 …"), which report
// how its informer's watch went, not the verdict.
std::string without_klog(const std::string& text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = std::min(text.find('\n', pos), text.size());
    const std::string line = text.substr(pos, end - pos);
    const bool klog = line.size() > 5 && std::string("IWEF").find(line[0]) != std::string::npos &&
                      std::all_of(line.begin() + 1, line.begin() + 5,
                                  [](char c) { return c >= '0' && c <= '9'; });
    if (!klog) {
      out += line + "\n";
    }
    pos = end + 1;
  }
  return out;
}

TEST(KubectlOracle, RolloutStatusAgreesWithKubectl) {
  const fs::path kubectl = "/usr/bin/kubectl";
  if (!fs::exists(kubectl)) {
    GTEST_SKIP() << "kubectl is not at /usr/bin/kubectl: install kubernetes-client to run the "
                    "differential test against `kubectl rollout status`";
  }
  const fs::path scratch =
      fs::temp_directory_path() / ("afk-kubectl-" + std::to_string(::getpid()));
  fs::create_directories(scratch / "home");
  std::ofstream(scratch / "kubeconfig") << "";

  struct Case {
    std::string name;
    Rollout rollout;
  };
  const std::vector<Case> cases = {
      {"complete", Rollout{}},
      {"updating",
       Rollout{.updated = 1, .available = 1, .progressing_reason = "ReplicaSetUpdated"}},
      {"old replicas", Rollout{.replicas = 4}},
      {"unavailable", Rollout{.spec_replicas = 2, .replicas = 2, .updated = 2, .available = 1}},
      {"unobserved", Rollout{.generation = 3}},
      {"deadline",
       Rollout{.updated = 1, .available = 1, .progressing_reason = "ProgressDeadlineExceeded"}},
      {"deadline but unobserved",
       Rollout{.generation = 5, .observed = 4, .progressing_reason = "ProgressDeadlineExceeded"}},
      {"no spec.replicas",
       Rollout{.spec_replicas = std::nullopt, .replicas = 1, .updated = 1, .available = 1}},
      {"scaled to zero", Rollout{.spec_replicas = 0, .replicas = 0, .updated = 0, .available = 0}},
      {"deadline after completion", Rollout{.progressing_reason = "ProgressDeadlineExceeded"}},
  };
  FakeApiServer api(false);
  for (const auto& c : cases) {
    api.edit(
        [&](FakeApiServer& a) { a.deployments["default/web"] = deployment("web", c.rollout); });
    const auto result = afk::test::run_process(
        {kubectl.string(), "--server=" + api.url(), "-n", "default", "--request-timeout=5s",
         "rollout", "status", "deployment/web", "--watch=false"},
        {{"HOME", (scratch / "home").string()}, {"KUBECONFIG", (scratch / "kubeconfig").string()}},
        scratch / "run");
    const afk::RolloutStatus ours = afk::rollout_status(state_of(c.rollout));
    if (ours.state == afk::RolloutState::failed) {
      EXPECT_EQ(result.exit_code, 1) << c.name << ": " << result.err;
      EXPECT_EQ(without_klog(result.err), "error: " + ours.message + "\n") << c.name;
    } else {
      EXPECT_EQ(result.exit_code, 0) << c.name << ": " << result.err;
      EXPECT_EQ(result.out, ours.message + "\n") << c.name << ": " << result.err;
    }
  }
  // kubectl really read the fake: discovery, then the LIST its informer starts with.
  const auto seen = api.seen();
  EXPECT_NE(std::find(seen.begin(), seen.end(), "/apis/apps/v1?timeout=5s"), seen.end());
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(), [](const std::string& target) {
    return target.find("/apis/apps/v1/namespaces/default/deployments?") == 0 &&
           target.find("fieldSelector=metadata.name%3Dweb") != std::string::npos;
  }));
  fs::remove_all(scratch);
}

} // namespace
