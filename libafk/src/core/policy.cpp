// SPDX-License-Identifier: MIT
#include "afk/policy.hpp"

#include <climits>

#include <algorithm>
#include <cctype>
#include <string>

namespace afk {

std::string_view to_string(WaitReason reason) noexcept {
  switch (reason) {
  case WaitReason::chosen:
    return "chosen";
  case WaitReason::in_flight:
    return "in_flight";
  case WaitReason::disarmed:
    return "disarmed";
  case WaitReason::repo_frozen:
    return "repo_frozen";
  case WaitReason::repo_locked:
    return "repo_locked";
  case WaitReason::default_branch_red:
    return "default_branch_red";
  case WaitReason::not_ready:
    return "not_ready";
  case WaitReason::awaiting_human:
    return "awaiting_human";
  case WaitReason::untrusted_labeler:
    return "untrusted_labeler";
  case WaitReason::blocked:
    return "blocked";
  case WaitReason::queued:
    return "queued";
  case WaitReason::not_checked:
    return "not_checked";
  }
  return "?";
}

bool dispatch_order_before(const IssueSummary& a, const IssueSummary& b,
                           std::string_view priority_prefix) {
  // Unprioritised issues sort after every "priority:N".
  const int pa = priority_from_labels(a.labels, priority_prefix).value_or(INT_MAX);
  const int pb = priority_from_labels(b.labels, priority_prefix).value_or(INT_MAX);
  if (pa != pb) {
    return pa < pb;
  }
  if (a.created_at != b.created_at) {
    return a.created_at < b.created_at;
  }
  return a.ref < b.ref;
}

namespace {

/// "#12" for an issue of `repo`, "owner/repo#12" for any other.
std::string short_ref(const IssueRef& ref, const RepoName& repo) {
  return ref.repo == repo ? "#" + std::to_string(ref.number) : ref.to_string();
}

std::string labeler_name(const LabelerEvidence& labeler) {
  return "@" + labeler.login.value_or("?");
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

} // namespace

std::optional<IssueVerdict> judge_candidate(const IssueRef& issue,
                                            const CandidateEvidence& evidence,
                                            const DispatchRules& rules) {
  const auto untrusted = [&](std::string detail) {
    return IssueVerdict{
        .issue = issue, .reason = WaitReason::untrusted_labeler, .detail = std::move(detail)};
  };
  const auto& labeler = evidence.labeler;
  if (!labeler.login) {
    return untrusted("no record of who applied " + rules.labels.ready);
  }
  switch (labeler.actor) {
  case LabelerEvidence::Actor::bot:
    return untrusted(rules.labels.ready + " applied by bot " + labeler_name(labeler));
  case LabelerEvidence::Actor::app:
    return untrusted(rules.labels.ready + " applied by an app (" + labeler_name(labeler) + ")");
  case LabelerEvidence::Actor::human:
    break;
  }
  if (!rules.self_login.empty() && equal_ignoring_case(*labeler.login, rules.self_login)) {
    return untrusted(rules.labels.ready + " applied by afk's own account " + labeler_name(labeler));
  }
  if (!labeler.permission) {
    return untrusted("cannot read the permission of " + labeler_name(labeler));
  }
  if (*labeler.permission < rules.trusted_permission) {
    return untrusted(labeler_name(labeler) + " has " + std::string(to_string(*labeler.permission)) +
                     " permission; " + std::string(to_string(rules.trusted_permission)) +
                     " or more is needed");
  }

  std::string blocked_by;
  for (const auto& blocker : evidence.blockers) {
    if (blocker.state == BlockerEvidence::State::closed) {
      continue;
    }
    blocked_by += blocked_by.empty() ? "blocked by " : ", ";
    blocked_by += short_ref(blocker.ref, issue.repo);
    if (blocker.state == BlockerEvidence::State::unknown) {
      blocked_by += " (cannot be read)";
    }
  }
  for (const auto& clause : evidence.unreadable_blockers) {
    blocked_by += blocked_by.empty() ? "blocked by " : ", ";
    blocked_by += "an unreadable \"Blocked by\" clause (\"" + clause + "\")";
  }
  if (!blocked_by.empty()) {
    return IssueVerdict{.issue = issue, .reason = WaitReason::blocked, .detail = blocked_by};
  }
  return std::nullopt;
}

RepoDecision decide_dispatch(const RepoSnapshot& snapshot,
                             const std::map<IssueRef, CandidateEvidence>& evidence,
                             const DispatchRules& rules) {
  std::vector<const IssueSummary*> order;
  order.reserve(snapshot.issues.size());
  for (const auto& issue : snapshot.issues) {
    order.push_back(&issue);
  }
  std::sort(order.begin(), order.end(), [&](const IssueSummary* a, const IssueSummary* b) {
    return dispatch_order_before(*a, *b, rules.labels.priority_prefix);
  });

  const auto in_flight = [&](const IssueSummary& issue) {
    return issue.has_label(rules.labels.in_progress) ||
           std::find(snapshot.in_flight.begin(), snapshot.in_flight.end(), issue.ref.number) !=
               snapshot.in_flight.end();
  };
  std::optional<std::int64_t> lock_holder;
  for (const auto* issue : order) {
    if (in_flight(*issue) && (!lock_holder || issue->ref.number < *lock_holder)) {
      lock_holder = issue->ref.number;
    }
  }
  if (!lock_holder && !snapshot.in_flight.empty()) {
    // A run record without its issue in the listing (closed mid-run, label removed):
    // the repo stays locked until that run ends.
    lock_holder = *std::min_element(snapshot.in_flight.begin(), snapshot.in_flight.end());
  }

  RepoDecision decision;
  int checked = 0;
  bool awaiting_evidence = false;
  for (const auto* issue : order) {
    IssueVerdict verdict{.issue = issue->ref, .reason = WaitReason::queued, .detail = {}};
    const auto set = [&](WaitReason reason, std::string detail) {
      verdict.reason = reason;
      verdict.detail = std::move(detail);
    };
    if (!rules.disarmed_reason.empty()) {
      set(WaitReason::disarmed, rules.disarmed_reason);
    } else if (in_flight(*issue)) {
      set(WaitReason::in_flight, "run in progress");
    } else if (issue->has_label(rules.labels.human)) {
      set(WaitReason::awaiting_human, "labelled " + rules.labels.human);
    } else if (!issue->has_label(rules.labels.ready)) {
      set(WaitReason::not_ready, "not labelled " + rules.labels.ready);
    } else if (snapshot.frozen) {
      set(WaitReason::repo_frozen, "repo frozen");
    } else if (lock_holder) {
      set(WaitReason::repo_locked, "repo locked by #" + std::to_string(*lock_holder));
    } else if (snapshot.default_branch == Verdict::red) {
      set(WaitReason::default_branch_red, "default branch red");
    } else if (decision.chosen) {
      set(WaitReason::queued, "queued behind #" + std::to_string(decision.chosen->number));
    } else if (awaiting_evidence) {
      set(WaitReason::not_checked,
          "waiting for #" + std::to_string(decision.needs_evidence->number) + " to be checked");
    } else if (checked >= rules.max_candidates_checked) {
      set(WaitReason::not_checked, "not checked this tick (" +
                                       std::to_string(rules.max_candidates_checked) +
                                       " candidates already checked)");
    } else if (auto found = evidence.find(issue->ref); found == evidence.end()) {
      decision.needs_evidence = issue->ref;
      awaiting_evidence = true;
      set(WaitReason::not_checked, "trust and blockers being checked");
    } else {
      ++checked;
      if (auto rejected = judge_candidate(issue->ref, found->second, rules)) {
        verdict = std::move(*rejected);
      } else {
        decision.chosen = issue->ref;
        set(WaitReason::chosen, "dispatching");
      }
    }
    decision.verdicts.push_back(std::move(verdict));
  }
  return decision;
}

} // namespace afk
