// SPDX-License-Identifier: MIT
// The Woodpecker CI stage: the pipelines a Woodpecker server ran for one SHA.
#include "adapters/deploy_json.hpp"
#include "adapters/tracker_json.hpp"

#include <afk/deploy.hpp>
#include <afk/error.hpp>

#include <utility>

namespace afk {

namespace {

using namespace tracker_json; // NOLINT(google-build-using-namespace)

class WoodpeckerStage final : public DeployStage {
public:
  WoodpeckerStage(HttpClient& http, WoodpeckerStageOptions options)
      : m_http(http)
      , m_options(std::move(options)) {
    if (m_options.max_pages == 0 || m_options.per_page == 0) {
      throw Error(ErrorKind::config, "woodpecker stage: max_pages and per_page must be positive");
    }
    while (!m_options.web_url.empty() && m_options.web_url.back() == '/') {
      m_options.web_url.pop_back();
    }
  }

  StageVerdict check(const RepoName& repo, std::string_view sha,
                     const StageContext& /*context*/) override {
    deploy_json::require_commit_sha(sha);
    const std::int64_t repo_id = lookup(repo);
    std::vector<PipelineResult> found;
    std::size_t listed = 0;
    for (std::size_t page = 1; page <= m_options.max_pages; ++page) {
      const std::string path = "/api/repos/" + std::to_string(repo_id) +
                               "/pipelines?page=" + std::to_string(page) +
                               "&perPage=" + std::to_string(m_options.per_page);
      const HttpResponse response = m_http.request("GET", path);
      const Reader in(endpoint("GET", path));
      const std::size_t before = found.size();
      const std::size_t count = in.parse(response.body, [&](const json& doc) {
        const json& pipelines = in.array(doc, "the response");
        for (const json& pipeline : pipelines) {
          if (in.string(pipeline, "commit") != sha) {
            continue;
          }
          const std::int64_t number = in.positive(pipeline, "number");
          found.push_back(PipelineResult{
              .number = number,
              .event = in.string(pipeline, "event"),
              .deploy_to =
                  has_non_null(pipeline, "deploy_to") ? in.string(pipeline, "deploy_to") : "",
              .status = in.string(pipeline, "status"),
              .url = m_options.web_url + "/repos/" + std::to_string(repo_id) + "/pipeline/" +
                     std::to_string(number)});
        }
        return pipelines.size();
      });
      listed += count;
      // Newest first: the SHA's pipelines sit together, restarts of them before them.
      const bool passed_them = before > 0 && found.size() == before;
      if (count < m_options.per_page || passed_them) {
        break;
      }
    }
    StageVerdict verdict = woodpecker_pipelines_verdict(found, sha);
    if (found.empty()) {
      verdict.detail += " (looked at the newest " + std::to_string(listed) + " pipelines)";
    }
    return verdict;
  }

private:
  std::int64_t lookup(const RepoName& repo) {
    // Woodpecker's route takes the full name with its slash as is (/lookup/*repo_full_name).
    const std::string path =
        "/api/repos/lookup/" + encode(repo.owner()) + '/' + encode(repo.name());
    const HttpResponse response = m_http.request("GET", path);
    const Reader in(endpoint("GET", path));
    return in.parse(response.body, [&](const json& doc) { return in.positive(doc, "id"); });
  }

  HttpClient& m_http;
  WoodpeckerStageOptions m_options;
};

} // namespace

HttpClientOptions woodpecker_http_options(const WoodpeckerConfig& config) {
  HttpClientOptions options;
  options.base_url = config.url;
  options.token_file = config.token_file;
  options.auth_scheme = "Bearer";
  options.default_headers = {{"Accept", "application/json"}};
  return options;
}

std::unique_ptr<DeployStage> make_woodpecker_stage(HttpClient& http,
                                                   WoodpeckerStageOptions options) {
  return std::make_unique<WoodpeckerStage>(http, std::move(options));
}

} // namespace afk
