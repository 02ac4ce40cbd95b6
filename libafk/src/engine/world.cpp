// SPDX-License-Identifier: MIT
// The composition root (afk/world.hpp).
#include <afk/deploy.hpp>
#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/notify.hpp>
#include <afk/t3.hpp>
#include <afk/tracker.hpp>
#include <afk/worktree.hpp>
#include <afk/world.hpp>

#include <algorithm>
#include <set>
#include <utility>

namespace afk {

namespace {

// The stages any allowlisted repository uses.
std::set<StageType> stages_in_use(const Config& config) {
  std::set<StageType> used;
  for (const RepoName& repo : config.allowlist) {
    for (const StageType stage : deploy_settings_for(config, repo).stages) {
      used.insert(stage);
    }
  }
  return used;
}

class OwnedWorld final : public World {
public:
  OwnedWorld(const Config& config, Logger& log, const Clock& clock, Deadline deadline)
      : m_log(log)
      , m_clock(clock)
      , m_deadline(deadline)
      , m_transport(make_curl_transport({})) {
    const bool github = config.tracker.kind == TrackerKind::github;
    m_tracker_http = client(*m_transport, github ? github_http_options(config.tracker)
                                                 : forgejo_http_options(config.tracker));
    m_tracker =
        github ? make_github_tracker(*m_tracker_http) : make_forgejo_tracker(*m_tracker_http);

    m_t3_http = client(*m_transport, t3_http_options(config.t3));
    m_t3 = make_t3_client(*m_t3_http, log, clock, config.t3.server_version);

    m_worktrees = make_libgit2_worktrees(worktree_options_from(config.git), log);

    DeployStages stages;
    const std::set<StageType> used = stages_in_use(config);
    if (used.count(StageType::github_checks) > 0 && github) {
      stages[StageType::github_checks] =
          make_github_checks_stage(*m_tracker_http, config.tracker.web_url);
    }
    if (used.count(StageType::woodpecker) > 0) {
      m_woodpecker_http = client(*m_transport, woodpecker_http_options(config.deploy.woodpecker));
      stages[StageType::woodpecker] =
          make_woodpecker_stage(*m_woodpecker_http, {.web_url = config.deploy.woodpecker.url});
    }
    if (used.count(StageType::kubernetes) > 0) {
      const KubernetesAccess access =
          kubernetes_access(config.deploy.kubernetes, InClusterEnvironment::from_process());
      CurlOptions curl;
      curl.ca_bundle = access.ca_bundle;
      m_kubernetes_transport = make_curl_transport(curl);
      m_kubernetes_http = client(*m_kubernetes_transport, kubernetes_http_options(access));
      stages[StageType::kubernetes] = make_kubernetes_stage(*m_kubernetes_http);
    }
    m_deploy = make_deploy_watcher(
        std::move(stages),
        [config](const RepoName& repo) { return deploy_settings_for(config, repo); }, clock, log);

    CurlOptions quick;
    quick.total_timeout = config.notify.timeout;
    m_notify_transport = make_curl_transport(quick);
    m_notifier = make_notifier(config.notify, *m_notify_transport, log, clock);
  }

  EnginePorts ports() override {
    return EnginePorts{.tracker = *m_tracker,
                       .t3 = *m_t3,
                       .worktrees = *m_worktrees,
                       .deploy = *m_deploy,
                       .notifier = *m_notifier,
                       .clock = m_clock,
                       .log = m_log};
  }

private:
  std::unique_ptr<HttpClient> client(HttpTransport& transport, HttpClientOptions options) {
    options.deadline = m_deadline;
    return std::make_unique<HttpClient>(transport, std::move(options), m_log, m_clock);
  }

  Logger& m_log;
  const Clock& m_clock;
  Deadline m_deadline;
  std::unique_ptr<HttpTransport> m_transport;
  std::unique_ptr<HttpTransport> m_kubernetes_transport;
  std::unique_ptr<HttpTransport> m_notify_transport;
  std::unique_ptr<HttpClient> m_tracker_http;
  std::unique_ptr<HttpClient> m_t3_http;
  std::unique_ptr<HttpClient> m_woodpecker_http;
  std::unique_ptr<HttpClient> m_kubernetes_http;
  std::unique_ptr<TrackerClient> m_tracker;
  std::unique_ptr<T3Client> m_t3;
  std::unique_ptr<WorktreeManager> m_worktrees;
  std::unique_ptr<DeployWatcher> m_deploy;
  std::unique_ptr<Notifier> m_notifier;
};

} // namespace

std::unique_ptr<World> World::build(const Config& config, Logger& log, const Clock& clock,
                                    Deadline deadline) {
  return std::make_unique<OwnedWorld>(config, log, clock, deadline);
}

} // namespace afk
