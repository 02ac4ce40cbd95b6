// SPDX-License-Identifier: MIT
//
// What another tool embedding libafk might do: load afk's configuration, ask the dispatch
// policy what it would start in a repo, and keep a run's state in the same comment format
// afk uses. Only public <afk/...> headers; builds against an installed afk::afk.
#include <afk/config.hpp>
#include <afk/error.hpp>
#include <afk/ids.hpp>
#include <afk/issue.hpp>
#include <afk/log.hpp>
#include <afk/policy.hpp>
#include <afk/run.hpp>
#include <afk/run_record.hpp>
#include <afk/time.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;

afk::Timestamp day_one() {
  return afk::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 1 / 5}};
}

afk::IssueSummary issue(const afk::RepoName& repo, std::int64_t number,
                        std::vector<std::string> labels, afk::Timestamp created_at) {
  return afk::IssueSummary{.ref = afk::IssueRef{.repo = repo, .number = number},
                           .title = "Issue " + std::to_string(number),
                           .labels = std::move(labels),
                           .created_at = created_at};
}

// The evidence a real engine would fetch from the tracker, one candidate at a time.
afk::CandidateEvidence lookup_evidence(const afk::IssueRef& ref) {
  afk::CandidateEvidence evidence;
  if (ref.number == 2) {
    evidence.labeler = {.login = "triage-bot",
                        .actor = afk::LabelerEvidence::Actor::bot,
                        .permission = afk::Permission::write};
  } else {
    evidence.labeler = {.login = "alice",
                        .actor = afk::LabelerEvidence::Actor::human,
                        .permission = afk::Permission::maintain};
  }
  return evidence;
}

// decide_dispatch asks for evidence one candidate at a time; loop until it has enough.
afk::RepoDecision decide(const afk::RepoSnapshot& snapshot, const afk::DispatchRules& rules,
                         afk::Logger& log) {
  std::map<afk::IssueRef, afk::CandidateEvidence> evidence;
  for (;;) {
    afk::RepoDecision decision = afk::decide_dispatch(snapshot, evidence, rules);
    if (!decision.needs_evidence) {
      return decision;
    }
    log.debug("evidence_gathered", {{"issue", decision.needs_evidence->to_string()}});
    const afk::IssueRef& ref = *decision.needs_evidence;
    // Asking again for evidence it already has would loop forever.
    if (!evidence.emplace(ref, lookup_evidence(ref)).second) {
      throw std::logic_error("decide_dispatch asked twice for evidence on " + ref.to_string());
    }
  }
}

int run() {
  int failures = 0;
  const auto check = [&failures](bool ok, std::string_view what) {
    if (!ok) {
      std::cerr << "embed_afk: inconsistent: " << what << '\n';
      ++failures;
    }
  };
  const afk::SystemClock clock;
  const auto log = afk::make_json_lines_logger(std::cerr, clock, afk::Level::debug);

  // An explicit environment rather than Environment::from_process(), so the result does
  // not depend on the shell this runs in. The kill switch stays on: afk is inert.
  const afk::Environment env{.kill_switch = "on", .allowlist = "Acme/Widgets"};
  const afk::Config config = afk::default_config(env);
  const auto repo = afk::RepoName::parse("acme/widgets").value();
  check(!config.armed(), "afk should be disarmed: the kill switch is on");
  check(config.disarmed_reason() == "kill switch on",
        "the disarmed reason should be \"kill switch on\"");
  check(config.allowlisted(repo), "acme/widgets should be allowlisted (names ignore case)");
  log->info("config_loaded", {{"disarmed", config.disarmed_reason()},
                              {"allowlist", std::to_string(config.allowlist.size())}});

  const afk::LabelNames& labels = config.labels;
  const afk::RepoSnapshot snapshot{
      .repo = repo,
      .issues = {issue(repo, 1, {labels.ready, labels.priority_prefix + "2"}, day_one()),
                 issue(repo, 2, {labels.ready, labels.priority_prefix + "1"}, day_one() + 1h),
                 issue(repo, 3, {labels.human}, day_one() - 1h)},
      .frozen = false,
      .default_branch = afk::Verdict::green,
      .in_flight = {}};
  afk::DispatchRules rules{.labels = labels,
                           .trusted_permission = config.tracker.trusted_permission,
                           .max_candidates_checked = 3,
                           .self_login = config.tracker.login,
                           .disarmed_reason = config.disarmed_reason()};

  const afk::RepoDecision disarmed = decide(snapshot, rules, *log);
  check(!disarmed.chosen, "a disarmed afk should choose nothing");
  for (const auto& verdict : disarmed.verdicts) {
    check(verdict.reason == afk::WaitReason::disarmed, "every verdict should be disarmed");
  }

  // What an armed afk would do with the same repo: #2 has the higher priority but a bot
  // labelled it, so #1 is chosen.
  rules.disarmed_reason.clear();
  const afk::RepoDecision armed = decide(snapshot, rules, *log);
  check(armed.chosen && armed.chosen->number == 1, "armed afk should choose #1");
  check(armed.verdicts.size() == snapshot.issues.size(), "there should be one verdict per issue");
  for (const auto& verdict : armed.verdicts) {
    log->info("issue_verdict", {{"issue", verdict.issue.to_string()},
                                {"reason", std::string(afk::to_string(verdict.reason))},
                                {"detail", verdict.detail}});
  }
  if (!armed.chosen) {
    return EXIT_FAILURE;
  }

  const afk::IssueRef& chosen = *armed.chosen;
  const afk::RunRecord record{.run_id = afk::derive_run_id(chosen, 1),
                              .issue = chosen,
                              .attempt = 1,
                              .phase = afk::Phase::claimed,
                              .project_id = afk::derive_project_id(chosen.repo),
                              .thread_id = afk::derive_thread_id(chosen, 1),
                              .branch = config.git.branch_prefix + "1-issue-1",
                              .worktree_path = "",
                              .base_sha = "",
                              .claimed_at = clock.now(),
                              .dispatched_at = std::nullopt,
                              .working_since = std::nullopt,
                              .first_push_at = std::nullopt,
                              .last_push_at = std::nullopt,
                              .first_red_at = std::nullopt,
                              .healthy_since = std::nullopt,
                              .updated_at = clock.now(),
                              .pushed_shas = {},
                              .verdicts = {},
                              .fix_attempts = 0,
                              .turns = 0,
                              .last_turn_id = "",
                              .turn_seen = false,
                              .fix_turn_sent_at = std::nullopt,
                              .answered_requests = {},
                              .lease_holder = "embed_afk",
                              .lease_expires = std::nullopt,
                              .outcome = ""};
  const std::string comment = afk::render_run_comment(record);
  const afk::DecodedRunRecord decoded = afk::decode_run_record(comment, chosen);
  const auto* round_tripped = std::get_if<afk::RunRecord>(&decoded);
  check(round_tripped != nullptr && *round_tripped == record,
        "the run record should decode to itself");
  if (const auto* invalid = std::get_if<afk::InvalidRunRecord>(&decoded)) {
    std::cerr << "embed_afk: run record rejected: " << invalid->reason << '\n';
  }
  log->info("run_record_round_trip",
            {{"run", record.run_id}, {"bytes", std::to_string(comment.size())}});

  std::cout << "config: " << config.disarmed_reason() << ", " << config.allowlist.size()
            << " repo(s) allowlisted\n"
            << "dispatch if armed: " << chosen.to_string() << " (of " << snapshot.issues.size()
            << " issues)\n"
            << "run record: " << comment.size() << " bytes, "
            << (round_tripped != nullptr ? "decodes" : "does not decode") << '\n'
            << (failures == 0 ? "embed_afk: ok" : "embed_afk: FAILED") << '\n';
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

} // namespace

int main() {
  try {
    return run();
  } catch (const afk::Error& e) {
    std::cerr << "embed_afk: " << afk::to_string(e.kind()) << " error: " << e.what() << '\n';
  } catch (const std::exception& e) {
    std::cerr << "embed_afk: " << e.what() << '\n';
  }
  return EXIT_FAILURE;
}
