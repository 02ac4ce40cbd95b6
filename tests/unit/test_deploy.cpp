// SPDX-License-Identifier: MIT
// The deploy watcher's pure parts (mappings, per-stage verdicts, kubectl's rollout rule,
// the SHA in an image tag, the fold) and the watcher over in-memory stages.
#include <afk/config.hpp>
#include <afk/deploy.hpp>
#include <afk/error.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using afk::CheckResult;
using afk::PipelineResult;
using afk::RolloutState;
using afk::StageKind;
using afk::StageType;
using afk::StageVerdict;
using afk::Verdict;

constexpr std::string_view k_sha = "abc1234f00dfeedbeef0123456789abcdef01234";

afk::RepoName repo(std::string_view text) {
  return *afk::RepoName::parse(text);
}

// ---- mappings ----------------------------------------------------------------------------

TEST(CheckRunVerdict, MapsEveryStatusAndConclusion) {
  struct Row {
    std::string_view status;
    std::string_view conclusion;
    Verdict expected;
  };
  const std::vector<Row> rows = {
      {"queued", "", Verdict::pending},
      {"in_progress", "", Verdict::pending},
      {"waiting", "", Verdict::pending},
      {"requested", "", Verdict::pending},
      {"pending", "", Verdict::pending},
      {"completed", "success", Verdict::green},
      {"completed", "neutral", Verdict::green},
      {"completed", "skipped", Verdict::green},
      {"completed", "failure", Verdict::red},
      {"completed", "timed_out", Verdict::red},
      {"completed", "cancelled", Verdict::red},
      {"completed", "action_required", Verdict::red},
      {"completed", "stale", Verdict::red},
      {"completed", "startup_failure", Verdict::red},
      {"completed", "", Verdict::unknown},
      {"completed", "exploded", Verdict::unknown},
      {"completed", "SUCCESS", Verdict::unknown},
      {"teleporting", "success", Verdict::unknown},
      {"", "", Verdict::unknown},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(afk::check_run_verdict(row.status, row.conclusion), row.expected)
        << row.status << "/" << row.conclusion;
  }
}

TEST(CommitStatusVerdict, MapsEveryState) {
  EXPECT_EQ(afk::commit_status_verdict("success"), Verdict::green);
  EXPECT_EQ(afk::commit_status_verdict("pending"), Verdict::pending);
  EXPECT_EQ(afk::commit_status_verdict("failure"), Verdict::red);
  EXPECT_EQ(afk::commit_status_verdict("error"), Verdict::red);
  EXPECT_EQ(afk::commit_status_verdict("queued"), Verdict::unknown);
  EXPECT_EQ(afk::commit_status_verdict(""), Verdict::unknown);
}

TEST(WoodpeckerStatusVerdict, MapsEveryStatusValueOfV3_17) {
  struct Row {
    std::string_view status;
    Verdict expected;
  };
  // The StatusValue enum of Woodpecker's swagger v3.17.0, in its order.
  const std::vector<Row> rows = {
      {"skipped", Verdict::green},  {"pending", Verdict::pending}, {"running", Verdict::pending},
      {"success", Verdict::green},  {"failure", Verdict::red},     {"killed", Verdict::red},
      {"canceled", Verdict::red},   {"error", Verdict::red},       {"blocked", Verdict::pending},
      {"declined", Verdict::red},   {"created", Verdict::pending}, {"started", Verdict::unknown},
      {"Success", Verdict::unknown}};
  for (const auto& row : rows) {
    EXPECT_EQ(afk::woodpecker_status_verdict(row.status), row.expected) << row.status;
  }
}

TEST(Worse, RedOverPendingOverUnknownOverGreen) {
  const std::vector<Verdict> order = {Verdict::green, Verdict::unknown, Verdict::pending,
                                      Verdict::red};
  for (std::size_t i = 0; i < order.size(); ++i) {
    for (std::size_t j = 0; j < order.size(); ++j) {
      EXPECT_EQ(afk::worse(order[i], order[j]), order[std::max(i, j)]) << i << "," << j;
    }
  }
}

TEST(StageKindOf, KubernetesIsDeployTheRestCi) {
  EXPECT_EQ(afk::stage_kind(StageType::github_checks), StageKind::ci);
  EXPECT_EQ(afk::stage_kind(StageType::woodpecker), StageKind::ci);
  EXPECT_EQ(afk::stage_kind(StageType::kubernetes), StageKind::deploy);
}

// ---- the fold ----------------------------------------------------------------------------

StageVerdict stage(std::string name, Verdict verdict) {
  return StageVerdict{.stage = std::move(name), .kind = StageKind::ci, .verdict = verdict};
}

TEST(FoldStages, FirstStageThatIsNotGreenDecides) {
  struct Row {
    std::vector<StageVerdict> asked;
    std::size_t configured;
    Verdict expected;
  };
  const std::vector<Row> rows = {
      {{}, 0, Verdict::unknown},
      {{}, 2, Verdict::unknown},
      {{stage("a", Verdict::green)}, 1, Verdict::green},
      {{stage("a", Verdict::green), stage("b", Verdict::green)}, 2, Verdict::green},
      {{stage("a", Verdict::green)}, 2, Verdict::unknown}, // a stage was never asked
      {{stage("a", Verdict::red)}, 2, Verdict::red},
      {{stage("a", Verdict::pending)}, 2, Verdict::pending},
      {{stage("a", Verdict::unknown)}, 2, Verdict::unknown},
      {{stage("a", Verdict::green), stage("b", Verdict::red)}, 2, Verdict::red},
      {{stage("a", Verdict::green), stage("b", Verdict::pending)}, 3, Verdict::pending},
      {{stage("a", Verdict::pending), stage("b", Verdict::red)}, 2, Verdict::pending},
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto folded = afk::fold_stages(std::string(k_sha), rows[i].asked, rows[i].configured);
    EXPECT_EQ(folded.verdict, rows[i].expected) << "row " << i;
    EXPECT_EQ(folded.sha, k_sha);
    EXPECT_EQ(folded.stages, rows[i].asked);
  }
}

// ---- bounded text ------------------------------------------------------------------------

TEST(BoundedList, NamesAtMostMaxItemsAndCountsTheRest) {
  const std::vector<std::string> items = {"a", "b", "c", "d", "e"};
  EXPECT_EQ(afk::bounded_list(items, 5, 100), "a; b; c; d; e");
  EXPECT_EQ(afk::bounded_list(items, 2, 100), "a; b … and 3 more");
  EXPECT_EQ(afk::bounded_list(items, 5, 4), "a; b … and 3 more");
  EXPECT_EQ(afk::bounded_list(items, 0, 100), "… and 5 more");
  EXPECT_EQ(afk::bounded_list({}, 3, 100), "");
}

TEST(BoundedList, ThousandsOfItemsStayWithinTheStageCap) {
  std::vector<std::string> items;
  for (int i = 0; i < 5000; ++i) {
    items.push_back("check-" + std::to_string(i) + " (failure) https://ci.example/" +
                    std::to_string(i));
  }
  const std::string text = afk::bounded_list(items);
  EXPECT_LE(text.size(), afk::k_max_stage_detail);
  EXPECT_NE(text.find("… and 4992 more"), std::string::npos) << text;
}

TEST(TruncateUtf8, CutsOnCharacterBoundaries) {
  EXPECT_EQ(afk::truncate_utf8("short", 10), "short");
  EXPECT_EQ(afk::truncate_utf8("abcdefghij", 6), "abc…");
  // "é" is two bytes: a cut inside it backs up before it.
  const std::string cut = afk::truncate_utf8("aé" + std::string(10, 'x'), 5);
  EXPECT_EQ(cut, "a…");
  EXPECT_LE(afk::truncate_utf8(std::string(10000, 'y'), 1500).size(), 1500U);
}

// ---- GitHub checks -----------------------------------------------------------------------

CheckResult check(std::string name, Verdict verdict, std::string state = "x") {
  return CheckResult{.name = name,
                     .verdict = verdict,
                     .state = std::move(state),
                     .url = "https://github.com/acme/api/runs/" + name};
}

TEST(GithubChecksVerdict, AllChecksCountWithoutRequiredOnes) {
  const std::vector<CheckResult> green = {check("build", Verdict::green),
                                          check("lint", Verdict::green)};
  auto v = afk::github_checks_verdict(green, {}, k_sha, 1min, 10min);
  EXPECT_EQ(v.verdict, Verdict::green);
  EXPECT_EQ(v.detail, "2 checks passed");

  auto red = green;
  red.push_back(check("test", Verdict::red, "failure"));
  red.push_back(check("e2e", Verdict::pending, "in_progress"));
  v = afk::github_checks_verdict(red, {}, k_sha, 1min, 10min);
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.detail, "failing: test (failure) https://github.com/acme/api/runs/test");
  EXPECT_EQ(v.url, "https://github.com/acme/api/runs/test");

  auto pending = green;
  pending.push_back(check("e2e", Verdict::pending, "queued"));
  pending.push_back(check("odd", Verdict::unknown, "exploded"));
  v = afk::github_checks_verdict(pending, {}, k_sha, 1min, 10min);
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(v.detail, "waiting: e2e (queued) https://github.com/acme/api/runs/e2e");

  auto unknown = green;
  unknown.push_back(check("odd", Verdict::unknown, "exploded"));
  v = afk::github_checks_verdict(unknown, {}, k_sha, 1min, 10min);
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_EQ(v.detail, "unrecognised state: odd (exploded) https://github.com/acme/api/runs/odd");
}

TEST(GithubChecksVerdict, NoChecksIsPendingWithinTheGraceAndRedAfter) {
  auto v = afk::github_checks_verdict({}, {}, k_sha, 9min, 10min);
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(v.detail, "no checks reported yet for abc1234f00df");
  v = afk::github_checks_verdict({}, {}, k_sha, 10min, 10min);
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.detail, "no checks reported for abc1234f00df within 10m");
}

TEST(GithubChecksVerdict, OnlyRequiredChecksCountAndEachMustBeThere) {
  const std::vector<std::string> required = {"build", "deploy-gate"};
  const std::vector<CheckResult> checks = {check("build", Verdict::green),
                                           check("flaky-optional", Verdict::red, "failure")};
  auto v = afk::github_checks_verdict(checks, required, k_sha, 5min, 10min);
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(v.detail, "not reported yet: deploy-gate");
  v = afk::github_checks_verdict(checks, required, k_sha, 11min, 10min);
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.detail, "missing: deploy-gate");

  auto all = checks;
  all.push_back(check("deploy-gate", Verdict::green));
  v = afk::github_checks_verdict(all, required, k_sha, 11min, 10min);
  EXPECT_EQ(v.verdict, Verdict::green) << "the failing optional check is ignored";
  EXPECT_EQ(v.detail, "2 checks passed");

  all.push_back(check("deploy-gate", Verdict::red, "failure")); // same name, another suite
  v = afk::github_checks_verdict(all, required, k_sha, 11min, 10min);
  EXPECT_EQ(v.verdict, Verdict::red);
}

TEST(GithubChecksVerdict, ManyFailuresAreListedBounded) {
  std::vector<CheckResult> checks;
  for (int i = 0; i < 300; ++i) {
    checks.push_back(check("job-" + std::to_string(i), Verdict::red, "failure"));
  }
  const auto v = afk::github_checks_verdict(checks, {}, k_sha, 1min, 10min);
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_LE(v.detail.size(), afk::k_max_stage_detail);
  EXPECT_NE(v.detail.find("job-0 (failure)"), std::string::npos);
  EXPECT_NE(v.detail.find("more"), std::string::npos);
}

// ---- Woodpecker --------------------------------------------------------------------------

PipelineResult pipeline(std::int64_t number, std::string event, std::string status,
                        std::string deploy_to = "") {
  return PipelineResult{.number = number,
                        .event = std::move(event),
                        .deploy_to = std::move(deploy_to),
                        .status = std::move(status),
                        .url = "https://ci.example/repos/7/pipeline/" + std::to_string(number)};
}

TEST(WoodpeckerPipelinesVerdict, NewestPerEventCountsAndCronDoesNot) {
  auto v = afk::woodpecker_pipelines_verdict({}, k_sha);
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(v.detail, "no Woodpecker pipeline for abc1234f00df yet");

  // A failed push pipeline restarted (a newer push pipeline) and green.
  v = afk::woodpecker_pipelines_verdict(
      {pipeline(11, "push", "failure"), pipeline(14, "push", "success")}, k_sha);
  EXPECT_EQ(v.verdict, Verdict::green);
  EXPECT_EQ(v.detail, "pipeline #14 push (success) https://ci.example/repos/7/pipeline/14");

  // Push green, but the deployment pipeline for the same commit failed.
  v = afk::woodpecker_pipelines_verdict(
      {pipeline(14, "push", "success"), pipeline(15, "deployment", "failure", "production")},
      k_sha);
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(
      v.detail,
      "pipeline #15 deployment to production (failure) https://ci.example/repos/7/pipeline/15");
  EXPECT_EQ(v.url, "https://ci.example/repos/7/pipeline/15");

  // Two deployment targets are two pipelines that both count.
  v = afk::woodpecker_pipelines_verdict({pipeline(16, "deployment", "success", "staging"),
                                         pipeline(15, "deployment", "running", "production")},
                                        k_sha);
  EXPECT_EQ(v.verdict, Verdict::pending);

  // A failed cron run on the same commit is not the push's verdict.
  v = afk::woodpecker_pipelines_verdict(
      {pipeline(20, "cron", "failure"), pipeline(14, "push", "success")}, k_sha);
  EXPECT_EQ(v.verdict, Verdict::green);
  v = afk::woodpecker_pipelines_verdict({pipeline(20, "cron", "success")}, k_sha);
  EXPECT_EQ(v.verdict, Verdict::pending);
}

// ---- kubectl's rollout rule --------------------------------------------------------------

afk::DeploymentState deployment(std::int64_t generation, std::int64_t observed,
                                std::optional<std::int64_t> spec, std::int64_t replicas,
                                std::int64_t updated, std::int64_t available,
                                std::string reason = "NewReplicaSetAvailable") {
  return afk::DeploymentState{.name = "web",
                              .generation = generation,
                              .observed_generation = observed,
                              .spec_replicas = spec,
                              .replicas = replicas,
                              .updated_replicas = updated,
                              .available_replicas = available,
                              .progressing_reason = std::move(reason)};
}

TEST(RolloutStatus, FollowsKubectlRuleForRule) {
  struct Row {
    afk::DeploymentState d;
    RolloutState state;
    std::string message;
  };
  const std::vector<Row> rows = {
      {deployment(2, 2, 3, 3, 3, 3), RolloutState::complete,
       R"(deployment "web" successfully rolled out)"},
      {deployment(2, 2, 3, 3, 1, 1, "ReplicaSetUpdated"), RolloutState::waiting,
       R"(Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...)"},
      {deployment(2, 2, 3, 4, 3, 3), RolloutState::waiting,
       R"(Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...)"},
      {deployment(2, 2, 2, 2, 2, 1), RolloutState::waiting,
       R"(Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...)"},
      {deployment(3, 2, 3, 3, 3, 3), RolloutState::waiting,
       "Waiting for deployment spec update to be observed..."},
      {deployment(2, 2, 3, 3, 1, 1, "ProgressDeadlineExceeded"), RolloutState::failed,
       R"(deployment "web" exceeded its progress deadline)"},
      // The deadline only counts once the current spec is observed.
      {deployment(3, 2, 3, 3, 1, 1, "ProgressDeadlineExceeded"), RolloutState::waiting,
       "Waiting for deployment spec update to be observed..."},
      // Without spec.replicas kubectl skips the updated-vs-desired rule.
      {deployment(1, 1, std::nullopt, 0, 0, 0), RolloutState::complete,
       R"(deployment "web" successfully rolled out)"},
      // Scaled to zero is rolled out.
      {deployment(4, 4, 0, 0, 0, 0), RolloutState::complete,
       R"(deployment "web" successfully rolled out)"},
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto status = afk::rollout_status(rows[i].d);
    EXPECT_EQ(status.state, rows[i].state) << "row " << i;
    EXPECT_EQ(status.message, rows[i].message) << "row " << i;
  }
}

// ---- the SHA in an image or annotation ---------------------------------------------------

TEST(ImageCarriesSha, TagTokenMustBeAPrefixOfTheSha) {
  struct Row {
    std::string_view image;
    bool expected;
  };
  const std::vector<Row> rows = {
      {"app:abc1234", true},
      {"app:sha-abc1234", true},
      {"app:main-abc1234f00d", true},
      {"registry.example:5000/team/app:abc1234f00dfeedbeef0123456789abcdef01234", true},
      {"app:v1.2.3-abc1234@sha256:0123456789abcdef", true},
      {"app:ABC1234F", true},
      {"app:build_abc1234", true},
      {"app:abc12345", false}, // not a prefix: differs at the 8th digit
      {"app:abc123", false},   // too short to be unambiguous
      {"app:xabc1234", false}, // not delimited
      {"app:abc1234x", false}, // not delimited
      {"app:abc1234f00dfeedbeef0123456789abcdef012345", false}, // longer than the SHA
      {"app", false},
      {"registry.example:5000/app", false}, // a port is not a tag
      {"app@sha256:abc1234f00dfeedbeef", false},
      {"app:latest", false},
      {"abc1234/app:v1", false},
      {"", false},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(afk::image_carries_sha(row.image, k_sha), row.expected) << row.image;
  }
}

TEST(AnnotationNamesSha, WholeValueIsTheShaOrAPrefix) {
  EXPECT_TRUE(afk::annotation_names_sha(k_sha, k_sha));
  EXPECT_TRUE(afk::annotation_names_sha("abc1234", k_sha));
  EXPECT_TRUE(afk::annotation_names_sha("ABC1234F00D", k_sha));
  EXPECT_FALSE(afk::annotation_names_sha("abc123", k_sha));
  EXPECT_FALSE(afk::annotation_names_sha("abc12345", k_sha));
  EXPECT_FALSE(afk::annotation_names_sha("sha-abc1234", k_sha));
  EXPECT_FALSE(afk::annotation_names_sha(" abc1234", k_sha));
  EXPECT_FALSE(afk::annotation_names_sha("", k_sha));
}

// ---- settings ----------------------------------------------------------------------------

TEST(DeploySettingsFor, RepoOverridesWinFieldByField) {
  afk::Config config;
  config.deploy.stages = {StageType::github_checks, StageType::kubernetes};
  config.deploy.github_checks.required = {"build"};
  config.deploy.github_checks.missing_grace = 7min;
  config.deploy.kubernetes.namespace_name = "prod";
  config.deploy.kubernetes.deployments = {"web"};
  config.deploy.kubernetes.image_annotation = "afk.dev/sha";
  config.repos["acme/worker"] = afk::RepoOverrides{
      .stages = std::vector<StageType>{StageType::woodpecker},
      .required_checks = std::vector<std::string>{},
      .kubernetes_deployments = std::vector<std::string>{"worker", "cron"},
  };

  const auto plain = afk::deploy_settings_for(config, repo("acme/api"));
  EXPECT_EQ(plain, (afk::RepoDeploySettings{.stages = config.deploy.stages,
                                            .required_checks = {"build"},
                                            .missing_grace = 7min,
                                            .kubernetes_namespace = "prod",
                                            .kubernetes_deployments = {"web"},
                                            .image_annotation = "afk.dev/sha"}));
  const auto own = afk::deploy_settings_for(config, repo("Acme/Worker"));
  EXPECT_EQ(own, (afk::RepoDeploySettings{.stages = {StageType::woodpecker},
                                          .required_checks = {},
                                          .missing_grace = 7min,
                                          .kubernetes_namespace = "prod",
                                          .kubernetes_deployments = {"worker", "cron"},
                                          .image_annotation = "afk.dev/sha"}));
}

// ---- the watcher over in-memory stages ---------------------------------------------------

class ScriptedStage final : public afk::DeployStage {
public:
  explicit ScriptedStage(std::function<StageVerdict(const afk::StageContext&)> answer)
      : m_answer(std::move(answer)) {}
  StageVerdict check(const afk::RepoName& /*repo*/, std::string_view sha,
                     const afk::StageContext& context) override {
    ++calls;
    seen_sha = std::string(sha);
    return m_answer(context);
  }
  int calls = 0;
  std::string seen_sha;

private:
  std::function<StageVerdict(const afk::StageContext&)> m_answer;
};

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] afk::Timestamp now() const override { return at; }
  afk::Timestamp at = *afk::parse_timestamp("2026-03-01T12:00:00Z");
};

class RecordingLogger final : public afk::Logger {
public:
  void write(const afk::LogRecord& record) override { records.push_back(record); }
  std::vector<afk::LogRecord> records;
};

struct WatcherRig {
  explicit WatcherRig(std::vector<StageType> order) {
    settings.stages = std::move(order);
    settings.missing_grace = 10min;
  }
  ScriptedStage* add(StageType type, std::function<StageVerdict(const afk::StageContext&)> answer) {
    auto stage = std::make_unique<ScriptedStage>(std::move(answer));
    ScriptedStage* raw = stage.get();
    stages[type] = std::move(stage);
    return raw;
  }
  std::unique_ptr<afk::DeployWatcher> make() {
    return afk::make_deploy_watcher(
        std::move(stages), [this](const afk::RepoName&) { return settings; }, clock, log);
  }
  afk::RepoDeploySettings settings;
  afk::DeployStages stages;
  FixedClock clock;
  RecordingLogger log;
};

StageVerdict answer(Verdict verdict, std::string detail = "") {
  return StageVerdict{.stage = "ignored",
                      .kind = StageKind::deploy,
                      .verdict = verdict,
                      .detail = std::move(detail),
                      .url = "https://x.example"};
}

TEST(DeployWatcher, AsksStagesInOrderAndStopsAtTheFirstThatIsNotGreen) {
  for (const Verdict first : {Verdict::red, Verdict::pending, Verdict::unknown}) {
    WatcherRig rig({StageType::github_checks, StageType::kubernetes});
    auto* checks = rig.add(StageType::github_checks, [&](const auto&) { return answer(first); });
    auto* rollout =
        rig.add(StageType::kubernetes, [](const auto&) { return answer(Verdict::green); });
    const auto watcher = rig.make();
    const auto v = watcher->verdict(repo("acme/api"), k_sha, rig.clock.at - 1min);
    EXPECT_EQ(v.verdict, first);
    EXPECT_EQ(checks->calls, 1);
    EXPECT_EQ(rollout->calls, 0) << "a build that is not green is not asked about rollout";
    ASSERT_EQ(v.stages.size(), 1U);
    EXPECT_EQ(v.stages[0].stage, "github_checks");
    EXPECT_EQ(v.stages[0].kind, StageKind::ci);
  }
}

TEST(DeployWatcher, GreenOnlyWhenEveryStageIsGreen) {
  WatcherRig rig({StageType::github_checks, StageType::woodpecker, StageType::kubernetes});
  afk::Timestamp pushed{};
  afk::Timestamp now{};
  auto* checks = rig.add(StageType::github_checks, [&](const afk::StageContext& context) {
    pushed = context.pushed_at;
    now = context.now;
    return answer(Verdict::green, "2 checks passed");
  });
  rig.add(StageType::woodpecker, [](const auto&) { return answer(Verdict::green); });
  rig.add(StageType::kubernetes, [](const auto&) { return answer(Verdict::green, "rolled out"); });
  const auto watcher = rig.make();
  const auto v = watcher->verdict(repo("acme/api"), k_sha, rig.clock.at - 3min);
  EXPECT_EQ(v.verdict, Verdict::green);
  EXPECT_EQ(v.sha, k_sha);
  EXPECT_EQ(checks->seen_sha, k_sha);
  EXPECT_EQ(pushed, rig.clock.at - 3min);
  EXPECT_EQ(now, rig.clock.at);
  ASSERT_EQ(v.stages.size(), 3U);
  EXPECT_EQ(v.stages[2].stage, "kubernetes");
  EXPECT_EQ(v.stages[2].kind, StageKind::deploy);
  EXPECT_EQ(v.stages[2].detail, "rolled out");
}

TEST(DeployWatcher, AStageThatThrowsIsUnknownReportedAndLogged) {
  for (const auto kind : {afk::ErrorKind::transient, afk::ErrorKind::config,
                          afk::ErrorKind::protocol, afk::ErrorKind::permanent}) {
    WatcherRig rig({StageType::github_checks, StageType::kubernetes});
    rig.add(StageType::github_checks, [](const auto&) { return answer(Verdict::green); });
    rig.add(StageType::kubernetes, [kind](const auto&) -> StageVerdict {
      throw afk::Error(kind, "GET /apis/apps/v1/namespaces/prod/deployments/web: 503");
    });
    const auto v = rig.make()->verdict(repo("acme/api"), k_sha, rig.clock.at);
    EXPECT_EQ(v.verdict, Verdict::unknown);
    ASSERT_EQ(v.stages.size(), 2U);
    EXPECT_EQ(v.stages[1].verdict, Verdict::unknown);
    EXPECT_EQ(v.stages[1].detail,
              "cannot read kubernetes: GET /apis/apps/v1/namespaces/prod/deployments/web: 503");
    ASSERT_EQ(rig.log.records.size(), 1U);
    EXPECT_EQ(rig.log.records[0].event, "deploy_stage_unreadable");
    EXPECT_EQ(rig.log.records[0].level, afk::Level::warn);
  }
}

TEST(DeployWatcher, AConfiguredStageWithoutAnImplementationIsUnknown) {
  WatcherRig rig({StageType::woodpecker});
  const auto v = rig.make()->verdict(repo("acme/api"), k_sha, rig.clock.at);
  EXPECT_EQ(v.verdict, Verdict::unknown);
  ASSERT_EQ(v.stages.size(), 1U);
  EXPECT_EQ(v.stages[0].detail, "stage woodpecker is configured but not available in this afk");
}

TEST(DeployWatcher, NoStagesIsNeverGreen) {
  WatcherRig rig({});
  const auto v = rig.make()->verdict(repo("acme/api"), k_sha, rig.clock.at);
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_TRUE(v.stages.empty());
}

TEST(DeployWatcher, OversizedDetailFromAStageIsCut) {
  WatcherRig rig({StageType::github_checks});
  rig.add(StageType::github_checks,
          [](const auto&) { return answer(Verdict::red, std::string(100000, 'z')); });
  const auto v = rig.make()->verdict(repo("acme/api"), k_sha, rig.clock.at);
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_LE(v.stages[0].detail.size(), afk::k_max_stage_detail);
}

} // namespace
