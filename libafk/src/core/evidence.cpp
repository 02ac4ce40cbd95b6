// SPDX-License-Identifier: MIT
#include "afk/evidence.hpp"

#include "afk/error.hpp"

#include <algorithm>

namespace afk {

namespace {

BlockerEvidence::State state_of(TrackerClient& tracker, const IssueRef& ref) {
  try {
    const auto blocker = tracker.get_issue(ref);
    if (!blocker) {
      return BlockerEvidence::State::unknown;
    }
    return blocker->open ? BlockerEvidence::State::open : BlockerEvidence::State::closed;
  } catch (const Error& error) {
    // A blocker in a repo the token cannot read (403) or that refuses us otherwise is
    // unknown, which blocks; a transient failure is retried next tick instead.
    if (error.kind() == ErrorKind::transient) {
      throw;
    }
    return BlockerEvidence::State::unknown;
  }
}

} // namespace

CandidateEvidence gather_candidate_evidence(TrackerClient& tracker, const TrackerIssue& issue,
                                            const LabelNames& labels) {
  const IssueRef& ref = issue.summary.ref;
  CandidateEvidence evidence;

  if (const auto event = tracker.last_labeled(ref, labels.ready)) {
    evidence.labeler.login = event->login;
    evidence.labeler.actor = event->actor;
    if (event->actor == LabelerEvidence::Actor::human) {
      evidence.labeler.permission = tracker.permission(ref.repo, event->login);
    }
  }

  evidence.blockers = tracker.native_blockers(ref);
  const BlockedBy body = parse_blocked_by(issue.body, ref);
  for (const auto& blocker_ref : body.refs) {
    const bool known = std::any_of(evidence.blockers.begin(), evidence.blockers.end(),
                                   [&](const BlockerEvidence& b) { return b.ref == blocker_ref; });
    if (!known) {
      evidence.blockers.push_back({.ref = blocker_ref, .state = state_of(tracker, blocker_ref)});
    }
  }
  evidence.unreadable_blockers = body.unreadable;
  return evidence;
}

} // namespace afk
