// SPDX-License-Identifier: MIT
#pragma once

/// DeployWatcher: is this exact commit built, deployed and healthy?
///
/// A repository configures ordered stages (deploy.stages, or its own [repos."owner/name"]
/// stages): GitHub checks, Woodpecker CI, Kubernetes rollout. The watcher asks them in
/// order and folds their answers into one verdict for a SHA (adr/0006-deploy-watcher.md):
///  - the first stage that is not green decides, and later stages are not asked (a red or
///    pending build is not asked about its rollout);
///  - every stage green is green; no stage at all is unknown, never green;
///  - a stage that cannot be read (any afk::Error: transport, 5xx, auth, garbage) is
///    unknown with the error in its detail: reported, waited on, never green.
/// The watcher reports the *current* state only. How long a SHA must stay healthy, the
/// verification deadline and what a regression after healthy means are the lifecycle's
/// (lifecycle.hpp: RunRecord::healthy_since, LifecycleLimits::healthy_for).
///
/// Stage details are bounded (k_max_stage_detail): they end up in an issue comment and in
/// the fix-forward prompt. Failing checks are listed by name with their URLs, the rest
/// summarised as "… and N more".

#include "afk/config.hpp"
#include "afk/http.hpp"
#include "afk/issue.hpp"
#include "afk/lifecycle.hpp"
#include "afk/log.hpp"
#include "afk/run.hpp"
#include "afk/time.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

/// The most bytes a stage's detail holds (longer text is cut on a UTF-8 boundary).
inline constexpr std::size_t k_max_stage_detail = 1500;
/// The most items (checks, pipelines, deployments) a detail names one by one.
inline constexpr std::size_t k_max_detail_items = 8;

/// What one repository's verification uses: deploy.* with its [repos."owner/name"]
/// overrides applied.
struct RepoDeploySettings {
  std::vector<StageType> stages;
  std::vector<std::string> required_checks; ///< empty: every check run and status counts
  Seconds missing_grace{};
  std::string kubernetes_namespace;
  std::vector<std::string> kubernetes_deployments;
  std::string image_annotation; ///< empty: only image tags carry the SHA
  bool operator==(const RepoDeploySettings&) const = default;
};

/// The settings for `repo`: its overrides where set, the global deploy.* otherwise. Pure.
[[nodiscard]] RepoDeploySettings deploy_settings_for(const Config& config, const RepoName& repo);

/// What a stage is told besides the repository and the SHA.
struct StageContext {
  Timestamp now{};
  /// When afk first saw the SHA pushed: the missing-checks grace runs from here.
  Timestamp pushed_at{};
  RepoDeploySettings settings;
};

/// One stage (a port): its current verdict for one SHA. Implementations fill `verdict`,
/// `detail` and `url`; the watcher sets `stage` and `kind`. Throws afk::Error when the
/// stage cannot be read (the watcher turns that into Verdict::unknown).
class DeployStage {
public:
  virtual ~DeployStage() = default;
  [[nodiscard]] virtual StageVerdict check(const RepoName& repo, std::string_view sha,
                                           const StageContext& context) = 0;
};

/// The port the engine uses: the folded verdict for `sha` in `repo`. The default-branch
/// head's verdict is also what the dispatch policy's red-main gate reads. Never throws for
/// a stage's failure (that stage is unknown); throws only what the settings lookup throws.
class DeployWatcher {
public:
  virtual ~DeployWatcher() = default;
  [[nodiscard]] virtual ShaVerdict verdict(const RepoName& repo, std::string_view sha,
                                           Timestamp pushed_at) = 0;
};

using DeployStages = std::map<StageType, std::unique_ptr<DeployStage>>;

/// The watcher over `stages` (a configured stage type without an implementation reads as
/// unknown). `settings` gives each repository's settings (deploy_settings_for over the
/// loaded Config, usually); `clock` gives `now` once per verdict; stage failures are logged
/// at warn as `deploy_stage_unreadable` (repo, sha, stage, error). Borrowed collaborators
/// must outlive the watcher.
[[nodiscard]] std::unique_ptr<DeployWatcher>
make_deploy_watcher(DeployStages stages,
                    std::function<RepoDeploySettings(const RepoName&)> settings, const Clock& clock,
                    Logger& log);

// ---- the fold and its pieces (pure, exposed for table tests) -------------------------------

/// ci for github_checks and woodpecker, deploy for kubernetes.
[[nodiscard]] StageKind stage_kind(StageType stage) noexcept;

/// The worse of two verdicts: red > pending > unknown > green. Something in progress says
/// more than something unreadable, and both keep a SHA from being green.
[[nodiscard]] Verdict worse(Verdict a, Verdict b) noexcept;

/// Folds the stages asked for `sha`, in order, out of `configured` stages: the first stage
/// that is not green decides; all `configured` stages green is green; nothing configured,
/// or fewer stages answered than configured without one that is not green, is unknown.
[[nodiscard]] ShaVerdict fold_stages(std::string sha, std::vector<StageVerdict> asked,
                                     std::size_t configured);

/// "a; b; c … and 4 more": at most `max_items` items, and at most `max_bytes` bytes before
/// the "… and N more" tail (items that do not fit are counted in N).
[[nodiscard]] std::string bounded_list(const std::vector<std::string>& items,
                                       std::size_t max_items = k_max_detail_items,
                                       std::size_t max_bytes = k_max_stage_detail - 40);

/// `text` cut to at most `max_bytes` bytes on a UTF-8 boundary, ending in "…" when cut.
[[nodiscard]] std::string truncate_utf8(std::string text, std::size_t max_bytes);

// GitHub ---------------------------------------------------------------------------------------

/// A check run's verdict: status queued/in_progress/waiting/requested/pending → pending;
/// completed with conclusion success/neutral/skipped → green; failure/timed_out/cancelled/
/// action_required/stale/startup_failure → red; anything else (an unknown status, completed
/// without or with an unknown conclusion) → unknown. `conclusion` is "" for null.
[[nodiscard]] Verdict check_run_verdict(std::string_view status,
                                        std::string_view conclusion) noexcept;

/// A commit status's (or the combined status's) state: success → green, pending → pending,
/// failure/error → red, anything else → unknown.
[[nodiscard]] Verdict commit_status_verdict(std::string_view state) noexcept;

/// One check as the GitHub checks stage counts it: the newest run of a check run, or a
/// commit status context.
struct CheckResult {
  std::string name;
  Verdict verdict = Verdict::unknown;
  std::string state; ///< what GitHub said: a conclusion, a status or a commit state
  std::string url;
};

/// The GitHub checks verdict over every check reported for `sha`. With `required` names,
/// only those count: each must be present and green; one not reported is pending within
/// `grace` of the push and red ("missing") after it. Without, every check counts, and no
/// check at all is pending within the grace and red after it ("no checks reported for
/// <sha> within <grace>"). Otherwise red > pending > unknown > green over the counted checks.
[[nodiscard]] StageVerdict github_checks_verdict(const std::vector<CheckResult>& checks,
                                                 const std::vector<std::string>& required,
                                                 std::string_view sha, Seconds since_push,
                                                 Seconds grace);

// Woodpecker -----------------------------------------------------------------------------------

/// A Woodpecker pipeline StatusValue: success, skipped → green; pending, running, blocked
/// (awaiting approval), created → pending; failure, error, killed, canceled, declined → red;
/// anything else → unknown.
[[nodiscard]] Verdict woodpecker_status_verdict(std::string_view status) noexcept;

struct PipelineResult {
  std::int64_t number = 0;
  std::string event;     ///< push, manual, deployment, tag, cron, …
  std::string deploy_to; ///< deployment target, for event "deployment"
  std::string status;
  std::string url;
};

/// The Woodpecker verdict over the pipelines found for `sha` (any order): the newest
/// (highest number) pipeline per event (and deployment target) counts, so a restart
/// replaces the run it restarts; cron pipelines do not count (the schedule, not the push,
/// started them). None that counts → pending. Otherwise red > pending > unknown > green.
[[nodiscard]] StageVerdict woodpecker_pipelines_verdict(const std::vector<PipelineResult>& found,
                                                        std::string_view sha);

// Kubernetes -----------------------------------------------------------------------------------

/// What `kubectl rollout status` reads of a Deployment.
struct DeploymentState {
  std::string name;
  std::int64_t generation = 0;          ///< metadata.generation
  std::int64_t observed_generation = 0; ///< status.observedGeneration
  std::optional<std::int64_t> spec_replicas;
  std::int64_t replicas = 0;           ///< status.replicas
  std::int64_t updated_replicas = 0;   ///< status.updatedReplicas
  std::int64_t available_replicas = 0; ///< status.availableReplicas
  std::string progressing_reason;      ///< reason of the Progressing condition, "" if none
};

enum class RolloutState { waiting, complete, failed };

struct RolloutStatus {
  RolloutState state = RolloutState::waiting;
  /// kubectl's text without its trailing newline (and without "error: " when failed).
  std::string message;
  bool operator==(const RolloutStatus&) const = default;
};

/// kubectl's DeploymentStatusViewer (pkg/polymorphichelpers/rollout_status.go), rule for
/// rule: spec update not yet observed → waiting; Progressing reason ProgressDeadlineExceeded
/// → failed; fewer updated than spec replicas, old replicas pending termination, or fewer
/// available than updated → waiting; otherwise complete.
[[nodiscard]] RolloutStatus rollout_status(const DeploymentState& deployment);

/// True when `image`'s tag carries `sha`: one of the tag's tokens (split at '-', '_' and
/// '.') is at least 7 hex digits and a prefix of the SHA ("app:abc1234", "app:sha-abc1234",
/// "reg:5000/app:main-abc1234def@sha256:…"). "app:abc12345" does not carry abc1234f…: a
/// token must be a prefix of the SHA, not merely begin with one. A digest alone never does.
[[nodiscard]] bool image_carries_sha(std::string_view image, std::string_view sha);

/// True when an annotation value names `sha`: the SHA itself or a prefix of at least 7 hex
/// digits (ASCII case ignored), with nothing else.
[[nodiscard]] bool annotation_names_sha(std::string_view value, std::string_view sha);

// Adapters -------------------------------------------------------------------------------------

/// GitHub checks over a client made with github_http_options (tracker.hpp). Reads
/// GET /repos/{o}/{r}/commits/{sha}/check-runs and …/status, every page; the newest run per
/// check suite and name counts. `web_url` (tracker.web_url) builds the stage's link.
[[nodiscard]] std::unique_ptr<DeployStage> make_github_checks_stage(HttpClient& http,
                                                                    std::string web_url);

/// HttpClient options for Woodpecker: base deploy.woodpecker.url, its token_file as a
/// Bearer token, Accept: application/json.
[[nodiscard]] HttpClientOptions woodpecker_http_options(const WoodpeckerConfig& config);

struct WoodpeckerStageOptions {
  std::string web_url;       ///< server URL, for links to pipelines
  std::size_t max_pages = 5; ///< pipeline list pages read per check, 50 each
  std::size_t per_page = 50;
};

/// Woodpecker over a client made with woodpecker_http_options: looks the repository up
/// (GET /api/repos/lookup/{owner}/{name}), then pages GET /api/repos/{id}/pipelines newest
/// first for pipelines whose commit is the SHA (v3.17 has no commit filter), stopping at a
/// short page, after max_pages, or at the first page without a match once matches were seen.
[[nodiscard]] std::unique_ptr<DeployStage> make_woodpecker_stage(HttpClient& http,
                                                                 WoodpeckerStageOptions options);

/// Where the in-cluster service account lives (injected so tests need no real machine).
struct InClusterEnvironment {
  std::optional<std::string> service_host; ///< KUBERNETES_SERVICE_HOST
  std::optional<std::string> service_port; ///< KUBERNETES_SERVICE_PORT
  std::filesystem::path token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::filesystem::path ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  /// Reads the two variables from the process environment; paths are the standard ones.
  [[nodiscard]] static InClusterEnvironment from_process();
};

/// How to reach the API server.
struct KubernetesAccess {
  std::string base_url;
  std::filesystem::path token_file; ///< empty: no Authorization header (e.g. kubectl proxy)
  std::filesystem::path ca_bundle;  ///< for CurlOptions::ca_bundle; empty: the system store
  bool operator==(const KubernetesAccess&) const = default;
};

/// deploy.kubernetes.api_url when set (no token, system CA: a `kubectl proxy` or a
/// gateway); otherwise in-cluster: https://<host>:<port> (an IPv6 host bracketed) with the
/// service account token and CA. Throws Error{config} when in-cluster and either variable
/// is missing or the host or port is malformed.
[[nodiscard]] KubernetesAccess kubernetes_access(const KubernetesConfig& config,
                                                 const InClusterEnvironment& env);

/// HttpClient options for the API server: base URL, Bearer token file, Accept:
/// application/json.
[[nodiscard]] HttpClientOptions kubernetes_http_options(const KubernetesAccess& access);

/// Kubernetes rollout over a client made with kubernetes_http_options: for each configured
/// Deployment (GET /apis/apps/v1/namespaces/{ns}/deployments/{name}), the pod template must
/// carry the SHA (an image tag, or the configured annotation on the Deployment or its pod
/// template) — otherwise pending, "still running <images>" — and the rollout must be
/// complete by rollout_status(): complete → green, failed → red, waiting → pending. A
/// Deployment that is not there is unknown. The stage is the worst of its Deployments.
[[nodiscard]] std::unique_ptr<DeployStage> make_kubernetes_stage(HttpClient& http);

} // namespace afk
