// SPDX-License-Identifier: MIT
// The GitHub checks stage: check runs and commit statuses for one SHA.
#include "adapters/deploy_json.hpp"
#include "adapters/tracker_json.hpp"

#include <afk/deploy.hpp>
#include <afk/error.hpp>

#include <map>
#include <tuple>
#include <utility>

namespace afk {

namespace {

using namespace tracker_json; // NOLINT(google-build-using-namespace)

// A URL the server may send as null or leave out.
std::string optional_url(const Reader& in, const json& item, std::string_view key) {
  return has_non_null(item, key) ? in.string(item, key) : std::string();
}

class GithubChecksStage final : public DeployStage {
public:
  GithubChecksStage(HttpClient& http, std::string web_url)
      : m_http(http)
      , m_web_url(std::move(web_url)) {}

  StageVerdict check(const RepoName& repo, std::string_view sha,
                     const StageContext& context) override {
    deploy_json::require_commit_sha(sha);
    const std::string commit = repo_path(repo) + "/commits/" + std::string(sha);
    std::vector<CheckResult> checks = check_runs(commit + "/check-runs?filter=latest&per_page=100");
    for (auto& status : statuses(commit + "/status?per_page=100")) {
      checks.push_back(std::move(status));
    }
    StageVerdict verdict =
        github_checks_verdict(checks, context.settings.required_checks, sha,
                              context.now - context.pushed_at, context.settings.missing_grace);
    if (verdict.url.empty() && !m_web_url.empty()) {
      verdict.url = m_web_url + "/" + repo.full() + "/commit/" + std::string(sha);
    }
    return verdict;
  }

private:
  // The newest run per check suite and name: a re-run replaces the run it repeats, while
  // two workflows' jobs that share a name stay two checks.
  std::vector<CheckResult> check_runs(const std::string& path) {
    const Reader in(endpoint("GET", path));
    std::map<std::tuple<std::int64_t, std::string>, std::pair<std::int64_t, CheckResult>> newest;
    for (const std::string& page : m_http.get_pages(path, k_max_pages)) {
      in.parse(page, [&](const json& doc) {
        (void)in.integer(doc, "total_count");
        for (const json& run : in.array(in.member(doc, "check_runs"), "\"check_runs\"")) {
          const std::int64_t id = in.positive(run, "id");
          const std::string status = in.string(run, "status");
          const std::string conclusion = in.string_or_empty(run, "conclusion");
          const std::int64_t suite = has_non_null(run, "check_suite")
                                         ? in.positive(in.object(run, "check_suite"), "id")
                                         : 0;
          std::string url = optional_url(in, run, "html_url");
          if (url.empty()) {
            url = optional_url(in, run, "details_url");
          }
          CheckResult result{.name = in.string(run, "name"),
                             .verdict = check_run_verdict(status, conclusion),
                             .state =
                                 status == "completed" && !conclusion.empty() ? conclusion : status,
                             .url = std::move(url)};
          auto& slot = newest[{suite, result.name}];
          if (id > slot.first) {
            slot = {id, std::move(result)};
          }
        }
      });
    }
    std::vector<CheckResult> out;
    for (auto& [key, entry] : newest) {
      out.push_back(std::move(entry.second));
    }
    return out;
  }

  // The combined status lists the newest status per context; its own "state" is not read:
  // with no status at all it says "pending", which is "nothing reported", not "running".
  std::vector<CheckResult> statuses(const std::string& path) {
    const Reader in(endpoint("GET", path));
    std::vector<CheckResult> out;
    for (const std::string& page : m_http.get_pages(path, k_max_pages)) {
      in.parse(page, [&](const json& doc) {
        (void)in.string(doc, "state");
        for (const json& status : in.array(in.member(doc, "statuses"), "\"statuses\"")) {
          const std::string state = in.string(status, "state");
          out.push_back(CheckResult{.name = in.string(status, "context"),
                                    .verdict = commit_status_verdict(state),
                                    .state = state,
                                    .url = optional_url(in, status, "target_url")});
        }
      });
    }
    return out;
  }

  static constexpr std::size_t k_max_pages = 10;
  HttpClient& m_http;
  std::string m_web_url;
};

} // namespace

std::unique_ptr<DeployStage> make_github_checks_stage(HttpClient& http, std::string web_url) {
  return std::make_unique<GithubChecksStage>(http, std::move(web_url));
}

} // namespace afk
