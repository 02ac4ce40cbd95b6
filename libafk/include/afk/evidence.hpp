// SPDX-License-Identifier: MIT
#pragma once

/// Gathering the expensive evidence the dispatch policy asks for (decide_dispatch's
/// `needs_evidence`), for one candidate at a time, through a TrackerClient.

#include "afk/issue.hpp"
#include "afk/policy.hpp"
#include "afk/tracker.hpp"

namespace afk {

/// Who last applied `labels.ready` and their live permission (not asked for bots and
/// apps, which are never trusted), and every blocker with its state: the tracker's native
/// dependencies plus the body's "Blocked by" references (each looked up once; one the token
/// cannot see, or that no longer exists, is unknown and so blocks), plus the body's
/// unreadable clauses. Throws what the tracker throws for transient failures, so the
/// engine retries the candidate next tick rather than judging it on partial evidence.
[[nodiscard]] CandidateEvidence gather_candidate_evidence(TrackerClient& tracker,
                                                          const TrackerIssue& issue,
                                                          const LabelNames& labels);

} // namespace afk
