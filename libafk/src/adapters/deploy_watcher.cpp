// SPDX-License-Identifier: MIT
// The DeployWatcher: asks a repository's stages in order and folds their answers.
#include <afk/deploy.hpp>
#include <afk/error.hpp>

#include <utility>

namespace afk {

namespace {

class StagedDeployWatcher final : public DeployWatcher {
public:
  StagedDeployWatcher(DeployStages stages,
                      std::function<RepoDeploySettings(const RepoName&)> settings,
                      const Clock& clock, Logger& log)
      : m_stages(std::move(stages))
      , m_settings(std::move(settings))
      , m_clock(clock)
      , m_log(log) {}

  ShaVerdict verdict(const RepoName& repo, std::string_view sha, Timestamp pushed_at) override {
    const StageContext context{
        .now = m_clock.now(), .pushed_at = pushed_at, .settings = m_settings(repo)};
    std::vector<StageVerdict> asked;
    for (const StageType type : context.settings.stages) {
      StageVerdict verdict = ask(type, repo, sha, context);
      verdict.stage = std::string(to_string(type));
      verdict.kind = stage_kind(type);
      verdict.detail = truncate_utf8(std::move(verdict.detail), k_max_stage_detail);
      const bool green = verdict.verdict == Verdict::green;
      asked.push_back(std::move(verdict));
      if (!green) {
        break; // later stages are not asked about a SHA an earlier one holds back
      }
    }
    return fold_stages(std::string(sha), std::move(asked), context.settings.stages.size());
  }

private:
  StageVerdict ask(StageType type, const RepoName& repo, std::string_view sha,
                   const StageContext& context) {
    const auto found = m_stages.find(type);
    if (found == m_stages.end() || !found->second) {
      return StageVerdict{.stage = {},
                          .kind = StageKind::ci,
                          .verdict = Verdict::unknown,
                          .detail = "stage " + std::string(to_string(type)) +
                                    " is configured but not available in this afk",
                          .url = {}};
    }
    try {
      return found->second->check(repo, sha, context);
    } catch (const Error& error) {
      m_log.warn("deploy_stage_unreadable", {{"repo", repo.full()},
                                             {"sha", std::string(sha)},
                                             {"stage", std::string(to_string(type))},
                                             {"kind", std::string(to_string(error.kind()))},
                                             {"error", error.what()}});
      return StageVerdict{.stage = {},
                          .kind = StageKind::ci,
                          .verdict = Verdict::unknown,
                          .detail =
                              "cannot read " + std::string(to_string(type)) + ": " + error.what(),
                          .url = {}};
    }
  }

  DeployStages m_stages;
  std::function<RepoDeploySettings(const RepoName&)> m_settings;
  const Clock& m_clock;
  Logger& m_log;
};

} // namespace

std::unique_ptr<DeployWatcher>
make_deploy_watcher(DeployStages stages,
                    std::function<RepoDeploySettings(const RepoName&)> settings, const Clock& clock,
                    Logger& log) {
  return std::make_unique<StagedDeployWatcher>(std::move(stages), std::move(settings), clock, log);
}

} // namespace afk
