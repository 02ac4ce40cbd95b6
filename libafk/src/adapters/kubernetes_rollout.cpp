// SPDX-License-Identifier: MIT
// The Kubernetes rollout stage: is the SHA's pod template the one rolled out, by kubectl's
// rules, for every configured Deployment?
#include "adapters/deploy_json.hpp"
#include "adapters/tracker_json.hpp"

#include <afk/deploy.hpp>
#include <afk/error.hpp>

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace afk {

namespace {

using namespace tracker_json; // NOLINT(google-build-using-namespace)

// An optional integer field (Kubernetes omits zeros).
std::int64_t integer_or_zero(const Reader& in, const json& object, std::string_view key) {
  return has_non_null(object, key) ? in.integer(object, key) : 0;
}

const json& object_or_empty(const Reader& in, const json& object, std::string_view key) {
  static const json k_empty = json::object();
  return has_non_null(object, key) ? in.object(object, key) : k_empty;
}

std::string annotation(const Reader& in, const json& metadata, std::string_view key) {
  const json& annotations = object_or_empty(in, metadata, "annotations");
  return has_non_null(annotations, key) ? in.string(annotations, key) : std::string();
}

struct DeploymentView {
  DeploymentState state;
  std::vector<std::string> images;
  std::string annotation; ///< the configured annotation, template first, then the Deployment
};

DeploymentView read_deployment(const Reader& in, const json& doc, std::string_view annotation_key) {
  DeploymentView view;
  const json& metadata = in.object(doc, "metadata");
  const json& spec = in.object(doc, "spec");
  const json& status = object_or_empty(in, doc, "status");
  const json& pod_template = in.object(spec, "template");
  view.state.name = in.string(metadata, "name");
  view.state.generation = integer_or_zero(in, metadata, "generation");
  if (has_non_null(spec, "replicas")) {
    view.state.spec_replicas = in.integer(spec, "replicas");
  }
  view.state.observed_generation = integer_or_zero(in, status, "observedGeneration");
  view.state.replicas = integer_or_zero(in, status, "replicas");
  view.state.updated_replicas = integer_or_zero(in, status, "updatedReplicas");
  view.state.available_replicas = integer_or_zero(in, status, "availableReplicas");
  if (has_non_null(status, "conditions")) {
    for (const json& condition : in.array(in.member(status, "conditions"), "\"conditions\"")) {
      if (in.string(condition, "type") == "Progressing") {
        view.state.progressing_reason =
            has_non_null(condition, "reason") ? in.string(condition, "reason") : "";
      }
    }
  }
  const json& pod_spec = in.object(pod_template, "spec");
  for (const json& container : in.array(in.member(pod_spec, "containers"), "\"containers\"")) {
    if (has_non_null(container, "image")) {
      view.images.push_back(in.string(container, "image"));
    }
  }
  if (!annotation_key.empty()) {
    view.annotation = annotation(in, object_or_empty(in, pod_template, "metadata"), annotation_key);
    if (view.annotation.empty()) {
      view.annotation = annotation(in, metadata, annotation_key);
    }
  }
  return view;
}

struct DeploymentVerdict {
  Verdict verdict = Verdict::unknown;
  std::string detail;
};

std::string joined(const std::vector<std::string>& images) {
  if (images.empty()) {
    return "no image";
  }
  std::vector<std::string> cut;
  for (const auto& image : images) {
    cut.push_back(truncate_utf8(image, 200));
  }
  return bounded_list(cut, 3, 400);
}

DeploymentVerdict judge(const DeploymentView& view, std::string_view sha) {
  const bool carries =
      std::any_of(view.images.begin(), view.images.end(),
                  [&](const std::string& image) { return image_carries_sha(image, sha); }) ||
      (!view.annotation.empty() && annotation_names_sha(view.annotation, sha));
  if (!carries) {
    return {Verdict::pending,
            "still running " + joined(view.images) + ", not " + std::string(sha.substr(0, 12))};
  }
  const RolloutStatus rollout = rollout_status(view.state);
  switch (rollout.state) {
  case RolloutState::complete:
    return {Verdict::green, rollout.message};
  case RolloutState::failed:
    return {Verdict::red, rollout.message};
  case RolloutState::waiting:
    break;
  }
  return {Verdict::pending, rollout.message};
}

class KubernetesRolloutStage final : public DeployStage {
public:
  explicit KubernetesRolloutStage(HttpClient& http)
      : m_http(http) {}

  StageVerdict check(const RepoName& /*repo*/, std::string_view sha,
                     const StageContext& context) override {
    deploy_json::require_commit_sha(sha);
    const auto& settings = context.settings;
    StageVerdict out{.stage = "kubernetes",
                     .kind = StageKind::deploy,
                     .verdict = Verdict::unknown,
                     .detail = {},
                     .url = {}};
    if (settings.kubernetes_deployments.empty()) {
      out.detail = "no Kubernetes deployment configured";
      return out;
    }
    std::vector<DeploymentVerdict> verdicts;
    Verdict verdict = Verdict::green;
    for (const auto& name : settings.kubernetes_deployments) {
      DeploymentVerdict one =
          read_one(settings.kubernetes_namespace, name, sha, settings.image_annotation);
      verdict = worse(verdict, one.verdict);
      one.detail = truncate_utf8(name, 100) + ": " + one.detail;
      verdicts.push_back(std::move(one));
    }
    std::vector<std::string> items;
    for (const auto& one : verdicts) {
      if (verdict == Verdict::green || one.verdict == verdict) {
        items.push_back(std::move(one.detail));
      }
    }
    out.verdict = verdict;
    out.detail = truncate_utf8(bounded_list(items), k_max_stage_detail);
    return out;
  }

private:
  DeploymentVerdict read_one(const std::string& ns, const std::string& name, std::string_view sha,
                             const std::string& annotation_key) {
    const std::string path =
        "/apis/apps/v1/namespaces/" + encode(ns) + "/deployments/" + encode(name);
    const HttpResponse response = m_http.request("GET", path, {}, true);
    if (response.status == 404) {
      return {Verdict::unknown, "deployment \"" + truncate_utf8(name, 100) +
                                    "\" not found in namespace \"" + ns + "\""};
    }
    const Reader in(endpoint("GET", path));
    const DeploymentView view = in.parse(
        response.body, [&](const json& doc) { return read_deployment(in, doc, annotation_key); });
    if (view.state.name != name) {
      in.fail("\"metadata.name\" is not the deployment asked for");
    }
    return judge(view, sha);
  }

  HttpClient& m_http;
};

bool valid_host(std::string_view host) {
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == ':';
  });
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int value = std::stoi(std::string(port));
  return value >= 1 && value <= 65535;
}

} // namespace

InClusterEnvironment InClusterEnvironment::from_process() {
  InClusterEnvironment env;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at start-up
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST")) {
    env.service_host = host;
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (const char* port = std::getenv("KUBERNETES_SERVICE_PORT")) {
    env.service_port = port;
  }
  return env;
}

KubernetesAccess kubernetes_access(const KubernetesConfig& config,
                                   const InClusterEnvironment& env) {
  if (!config.api_url.empty()) {
    return KubernetesAccess{.base_url = config.api_url, .token_file = {}, .ca_bundle = {}};
  }
  if (!env.service_host || !env.service_port) {
    throw Error(ErrorKind::config,
                "deploy.kubernetes.api_url is empty, so afk must run in a cluster, but "
                "KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not set");
  }
  if (!valid_host(*env.service_host) || !valid_port(*env.service_port)) {
    throw Error(ErrorKind::config,
                "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT do not form a host and port");
  }
  const std::string& host = *env.service_host;
  const bool ipv6 = host.find(':') != std::string::npos;
  return KubernetesAccess{.base_url = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" +
                                      *env.service_port,
                          .token_file = env.token_file,
                          .ca_bundle = env.ca_file};
}

HttpClientOptions kubernetes_http_options(const KubernetesAccess& access) {
  HttpClientOptions options;
  options.base_url = access.base_url;
  options.token_file = access.token_file;
  options.auth_scheme = "Bearer";
  options.default_headers = {{"Accept", "application/json"}};
  return options;
}

std::unique_ptr<DeployStage> make_kubernetes_stage(HttpClient& http) {
  return std::make_unique<KubernetesRolloutStage>(http);
}

} // namespace afk
