// SPDX-License-Identifier: MIT
#include "afk/lifecycle.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace afk {

std::string_view to_string(HumanPolicy policy) noexcept {
  switch (policy) {
  case HumanPolicy::escalate:
    return "escalate";
  case HumanPolicy::proceed:
    return "proceed";
  }
  return "?";
}

std::optional<HumanPolicy> human_policy_from_string(std::string_view text) noexcept {
  if (text == "escalate") {
    return HumanPolicy::escalate;
  }
  if (text == "proceed") {
    return HumanPolicy::proceed;
  }
  return std::nullopt;
}

std::string_view to_string(AgentState state) noexcept {
  switch (state) {
  case AgentState::unknown:
    return "unknown";
  case AgentState::not_visible:
    return "not_visible";
  case AgentState::busy:
    return "busy";
  case AgentState::waiting_on_human:
    return "waiting_on_human";
  case AgentState::idle:
    return "idle";
  case AgentState::failed:
    return "failed";
  case AgentState::interrupted:
    return "interrupted";
  case AgentState::gone:
    return "gone";
  }
  return "?";
}

std::string_view to_string(RunAction action) noexcept {
  switch (action) {
  case RunAction::dispatch:
    return "dispatch";
  case RunAction::start_fix_turn:
    return "start_fix_turn";
  case RunAction::answer_pending:
    return "answer_pending";
  case RunAction::interrupt:
    return "interrupt";
  case RunAction::close_issue:
    return "close_issue";
  case RunAction::escalate:
    return "escalate";
  case RunAction::freeze:
    return "freeze";
  }
  return "?";
}

namespace {

bool agent_active(AgentState state) {
  return state == AgentState::busy || state == AgentState::waiting_on_human;
}

/// One tick's decision for one run. Each rule reads the evidence and the input record
/// and writes only `m_step`, so the order of the rules below is the whole policy.
class Advance {
public:
  Advance(const RunRecord& record, const RunEvidence& evidence, const LifecycleLimits& limits)
      : m_ev(evidence)
      , m_limits(limits)
      , m_before(record)
      , m_step{.record = record, .actions = {}, .to_answer = {}, .reason = {}} {}

  RunStep run() && {
    if (is_terminal(rec().phase)) {
      m_step.reason = "run is " + std::string(to_string(rec().phase));
      return std::move(m_step);
    }
    const bool new_push = record_pushes();
    if (rec().phase != Phase::claimed) {
      // A claimed run has no turn of its own yet: any turn T3 shows is one a crashed
      // tick already started with the same ids, and dispatch() adopts it as the first.
      note_turn();
    }
    switch (rec().phase) {
    case Phase::claimed:
      dispatch();
      break;
    case Phase::dispatched:
    case Phase::working:
      watch_pre_push();
      break;
    case Phase::fixing:
      if (new_push) {
        verify();
      } else if (const auto* verdict = verdict_for_newest();
                 verdict && verdict->verdict == Verdict::green) {
        rec().verdicts = verdict->stages;
        on_green();
      } else {
        if (verdict) {
          rec().verdicts = verdict->stages;
        }
        watch_fix();
      }
      break;
    case Phase::pushed:
    case Phase::ci:
    case Phase::deploying:
    case Phase::healthy:
      verify();
      break;
    case Phase::done:
    case Phase::escalated:
    case Phase::frozen:
      break;
    }
    if (m_step.record != m_before) {
      m_step.record.updated_at = m_ev.now;
    }
    return std::move(m_step);
  }

private:
  RunRecord& rec() { return m_step.record; }
  [[nodiscard]] const AgentEvidence& agent() const { return m_ev.agent; }
  [[nodiscard]] Seconds since(Timestamp t) const { return m_ev.now - t; }

  void wait(std::string reason) { m_step.reason = std::move(reason); }

  /// Appends newly found commits. A new newest SHA restarts verification: its verdicts,
  /// healthy-since and verification clock belong to the SHA, not to the run.
  bool record_pushes() {
    if (!m_ev.pushed_shas || is_terminal(rec().phase)) {
      return false;
    }
    bool added = false;
    for (const auto& sha : *m_ev.pushed_shas) {
      if (std::find(rec().pushed_shas.begin(), rec().pushed_shas.end(), sha) ==
          rec().pushed_shas.end()) {
        rec().pushed_shas.push_back(sha);
        added = true;
      }
    }
    if (added) {
      rec().first_push_at = rec().first_push_at.value_or(m_ev.now);
      rec().last_push_at = m_ev.now;
      rec().verdicts.clear();
      rec().healthy_since.reset();
      rec().phase = Phase::pushed;
    }
    return added;
  }

  /// Tracks which turn the agent is on. Evidence about the turn that was current before
  /// afk asked for a new one is stale (T3 keeps the previous `latestTurn` until the new
  /// turn starts), so it is only trusted once a different turn id has been seen.
  void note_turn() {
    if (agent().turn_id.empty()) {
      return;
    }
    if (!rec().turn_seen) {
      if (agent().turn_id != rec().last_turn_id) {
        rec().last_turn_id = agent().turn_id;
        rec().turn_seen = true;
      }
    } else if (agent().turn_id != rec().last_turn_id && agent_active(agent().state)) {
      // Someone (a person in the T3 cockpit) started another turn on the thread.
      rec().last_turn_id = agent().turn_id;
    }
  }

  /// The agent's state for the turn afk requested last: stale evidence reads as
  /// not yet visible.
  [[nodiscard]] AgentState current_agent_state() const {
    const auto state = agent().state;
    if (state == AgentState::unknown || state == AgentState::gone) {
      return state;
    }
    const bool stale = !m_step.record.turn_seen && !agent().turn_id.empty() &&
                       agent().turn_id == m_step.record.last_turn_id;
    if (stale) {
      return AgentState::not_visible;
    }
    if (!m_step.record.turn_seen && agent().turn_id.empty() && state != AgentState::failed) {
      // No turn yet: only a start failure (which never creates a turn) is news.
      return AgentState::not_visible;
    }
    return state;
  }

  void add(RunAction action) { m_step.actions.push_back(action); }

  void terminal(Phase phase, RunAction action, std::string reason, bool interrupt_agent) {
    if (interrupt_agent && agent_active(current_agent_state())) {
      add(RunAction::interrupt);
    }
    add(action);
    rec().phase = phase;
    rec().outcome = reason;
    m_step.reason = std::move(reason);
  }

  void escalate(std::string reason, bool interrupt_agent = true) {
    terminal(Phase::escalated, RunAction::escalate, std::move(reason), interrupt_agent);
  }

  void freeze(std::string reason, bool interrupt_agent = true) {
    terminal(Phase::frozen, RunAction::freeze, std::move(reason), interrupt_agent);
  }

  void start_turn_bookkeeping() {
    rec().turns += 1;
    rec().turn_seen = false;
  }

  void dispatch() {
    add(RunAction::dispatch);
    start_turn_bookkeeping();
    rec().last_turn_id.clear(); // the first turn has no predecessor to mistake for it
    rec().phase = Phase::dispatched;
    rec().dispatched_at = m_ev.now;
    m_step.reason = "dispatching the agent";
  }

  /// Answers or escalates pending requests. Returns true when the run was escalated.
  bool handle_waiting(bool post_push_red) {
    std::vector<PendingRequest> fresh;
    for (const auto& request : agent().pending) {
      if (std::find(rec().answered_requests.begin(), rec().answered_requests.end(), request.id) ==
          rec().answered_requests.end()) {
        fresh.push_back(request);
      }
    }
    if (fresh.empty()) {
      wait("agent is waiting on a request afk already answered");
      return false;
    }
    if (m_limits.on_waiting_human == HumanPolicy::escalate) {
      std::string reason = "agent is waiting on a human (" + std::to_string(fresh.size()) +
                           " pending request" + (fresh.size() == 1 ? "" : "s") + ")";
      // Not interrupted: the person who picks this up can answer in the T3 cockpit.
      if (post_push_red) {
        freeze(reason + " while fixing a red default branch", false);
      } else {
        escalate(reason, false);
      }
      return true;
    }
    for (const auto& request : fresh) {
      rec().answered_requests.push_back(request.id);
    }
    m_step.to_answer = std::move(fresh);
    add(RunAction::answer_pending);
    m_step.reason = "answering the agent's pending requests: proceed on best judgement";
    return false;
  }

  [[nodiscard]] bool stalled() const {
    return current_agent_state() == AgentState::busy && agent().last_activity &&
           since(*agent().last_activity) >= m_limits.stall_timeout;
  }

  void watch_pre_push() {
    if (!m_ev.pushed_shas) {
      // "Nothing pushed" is part of every escalation below: without it, wait.
      wait("cannot read the default branch; waiting");
      return;
    }
    if (since(rec().claimed_at) >= m_limits.budget_time) {
      escalate("run budget of " + format_duration(m_limits.budget_time) +
               " used up with nothing pushed");
      return;
    }
    if (since(rec().claimed_at) >= m_limits.pre_push_deadline) {
      escalate("nothing pushed within the pre-push deadline of " +
               format_duration(m_limits.pre_push_deadline));
      return;
    }
    switch (current_agent_state()) {
    case AgentState::unknown:
      wait("agent state unknown; waiting");
      return;
    case AgentState::not_visible:
      if (rec().dispatched_at && since(*rec().dispatched_at) >= m_limits.start_timeout) {
        escalate("agent did not start within " + format_duration(m_limits.start_timeout));
      } else {
        wait("waiting for the agent to start");
      }
      return;
    case AgentState::busy:
      if (stalled()) {
        escalate("agent stalled: no activity for " +
                 format_duration(since(*agent().last_activity)));
        return;
      }
      mark_working();
      wait("agent is working");
      return;
    case AgentState::waiting_on_human:
      mark_working();
      handle_waiting(false);
      return;
    case AgentState::idle:
      escalate("agent finished its turn without pushing", false);
      return;
    case AgentState::failed:
      escalate(failure_reason("agent failed"), false);
      return;
    case AgentState::interrupted:
      escalate("agent's turn was interrupted before anything was pushed", false);
      return;
    case AgentState::gone:
      escalate("the T3 thread is gone", false);
      return;
    }
  }

  void mark_working() {
    if (rec().phase == Phase::dispatched) {
      rec().phase = Phase::working;
      rec().working_since = m_ev.now;
    }
  }

  [[nodiscard]] std::string failure_reason(std::string what) const {
    if (!agent().error.empty()) {
      what += ": " + agent().error;
    }
    return what;
  }

  [[nodiscard]] const ShaVerdict* verdict_for_newest() const {
    if (!m_ev.verdict || m_step.record.pushed_shas.empty() ||
        m_ev.verdict->sha != m_step.record.pushed_shas.back()) {
      return nullptr;
    }
    return &*m_ev.verdict;
  }

  [[nodiscard]] Phase phase_for_pending(const ShaVerdict& verdict) const {
    for (const auto& stage : verdict.stages) {
      if (stage.verdict != Verdict::green) {
        return stage.kind == StageKind::deploy ? Phase::deploying : Phase::ci;
      }
    }
    return Phase::ci;
  }

  void verify() {
    const ShaVerdict* verdict = verdict_for_newest();
    const Verdict v = verdict ? verdict->verdict : Verdict::unknown;
    if (verdict) {
      rec().verdicts = verdict->stages;
    }
    if (v == Verdict::green) {
      on_green();
      return;
    }
    if (v == Verdict::red) {
      on_red();
      return;
    }
    if (v == Verdict::unknown && rec().healthy_since) {
      // A blip reading CI or the cluster says nothing about the SHA: keep the healthy
      // clock, but do not finish on it.
      wait("verdict for " + short_sha() + " unknown; healthy since " +
           format_timestamp(*rec().healthy_since));
      return;
    }
    // pending or unknown: keep waiting up to the verification deadline.
    rec().healthy_since.reset();
    if (rec().phase == Phase::healthy) {
      rec().phase = Phase::pushed;
    }
    const Timestamp started = rec().last_push_at.value_or(rec().claimed_at);
    if (since(started) >= m_limits.verify_deadline) {
      escalate("no verdict for " + short_sha() + " within " +
               format_duration(m_limits.verify_deadline));
      return;
    }
    if (v == Verdict::pending) {
      rec().phase = phase_for_pending(*verdict);
      wait("waiting for " + short_sha() + ": " + std::string(to_string(rec().phase)));
    } else {
      wait("verdict for " + short_sha() + " unknown; waiting");
    }
  }

  [[nodiscard]] std::string short_sha() const {
    const auto& shas = m_step.record.pushed_shas;
    return shas.empty() ? std::string("?") : shas.back().substr(0, 12);
  }

  void on_green() {
    const bool agent_working = agent_active(current_agent_state());
    // A red that went away while a fix turn runs (a re-run, a fix that landed another
    // way) makes the fix turn unneeded.
    bool interrupt_agent = rec().phase == Phase::fixing && agent_working;
    if (!rec().healthy_since) {
      rec().healthy_since = m_ev.now;
    }
    // Recovered: a later red starts a new fix-forward window (attempts still add up).
    rec().first_red_at.reset();
    rec().phase = Phase::healthy;
    const bool healthy_long_enough = since(*rec().healthy_since) >= m_limits.healthy_for;
    // Closing the issue ends the run: the agent must not keep pushing after it.
    interrupt_agent = interrupt_agent || (healthy_long_enough && agent_working);
    if (interrupt_agent) {
      add(RunAction::interrupt);
    }
    if (!healthy_long_enough) {
      wait(short_sha() + " is healthy since " + format_timestamp(*rec().healthy_since));
      return;
    }
    rec().phase = Phase::done;
    rec().outcome = rec().fix_attempts > 0 ? "recovered and healthy" : "healthy";
    add(RunAction::close_issue);
    m_step.reason = short_sha() + " is green and rolled out; closing";
  }

  void on_red() {
    rec().healthy_since.reset();
    if (!rec().first_red_at) {
      rec().first_red_at = m_ev.now;
    }
    start_fix_or_freeze("post-push red on " + short_sha());
  }

  [[nodiscard]] std::string exhausted() const {
    const auto& r = m_step.record;
    if (r.fix_attempts >= m_limits.fix_forward_attempts) {
      return "fix-forward exhausted after " + std::to_string(r.fix_attempts) + " attempt" +
             (r.fix_attempts == 1 ? "" : "s");
    }
    if (r.first_red_at && since(*r.first_red_at) >= m_limits.fix_forward_window) {
      return "fix-forward window of " + format_duration(m_limits.fix_forward_window) +
             " since the first red is over";
    }
    if (r.turns >= m_limits.budget_turns) {
      return "turn budget of " + std::to_string(m_limits.budget_turns) + " used up";
    }
    return {};
  }

  void start_fix_or_freeze(const std::string& why) {
    if (auto reason = exhausted(); !reason.empty()) {
      freeze(why + "; " + reason);
      return;
    }
    if (agent_active(current_agent_state())) {
      add(RunAction::interrupt);
    }
    add(RunAction::start_fix_turn);
    start_turn_bookkeeping();
    rec().fix_attempts += 1;
    rec().fix_turn_sent_at = m_ev.now;
    rec().phase = Phase::fixing;
    m_step.reason = why + "; fix-forward attempt " + std::to_string(rec().fix_attempts) + " of " +
                    std::to_string(m_limits.fix_forward_attempts);
  }

  /// A fix turn is running and nothing new was pushed.
  void watch_fix() {
    if (rec().first_red_at && since(*rec().first_red_at) >= m_limits.fix_forward_window) {
      freeze("fix-forward window of " + format_duration(m_limits.fix_forward_window) +
             " since the first red is over");
      return;
    }
    if (!m_ev.pushed_shas) {
      wait("cannot read the default branch; waiting");
      return;
    }
    switch (current_agent_state()) {
    case AgentState::unknown:
      wait("agent state unknown; waiting");
      return;
    case AgentState::not_visible:
      if (rec().fix_turn_sent_at && since(*rec().fix_turn_sent_at) >= m_limits.start_timeout) {
        start_fix_or_freeze("fix turn did not start within " +
                            format_duration(m_limits.start_timeout));
      } else {
        wait("waiting for the fix turn to start");
      }
      return;
    case AgentState::busy:
      if (stalled()) {
        start_fix_or_freeze("fix turn stalled");
        return;
      }
      wait("agent is fixing forward");
      return;
    case AgentState::waiting_on_human:
      handle_waiting(true);
      return;
    case AgentState::idle:
      start_fix_or_freeze("fix turn finished without pushing");
      return;
    case AgentState::failed:
      start_fix_or_freeze(failure_reason("fix turn failed"));
      return;
    case AgentState::interrupted:
      start_fix_or_freeze("fix turn was interrupted");
      return;
    case AgentState::gone:
      // The engine starts the next fix turn on a new thread when the old one is gone.
      start_fix_or_freeze("the T3 thread is gone");
      return;
    }
  }

  const RunEvidence& m_ev;
  const LifecycleLimits& m_limits;
  const RunRecord& m_before;
  RunStep m_step;
};

} // namespace

RunStep advance_run(const RunRecord& record, const RunEvidence& evidence,
                    const LifecycleLimits& limits) {
  return Advance(record, evidence, limits).run();
}

RunRecord account_for_unrecorded_fix_turn(RunRecord record, Timestamp now) {
  // As Advance::start_fix_or_freeze books a fix turn it sends.
  record.turns += 1;
  record.turn_seen = false;
  record.fix_attempts += 1;
  record.fix_turn_sent_at = now;
  record.first_red_at = record.first_red_at.value_or(now);
  record.healthy_since.reset();
  record.phase = Phase::fixing;
  return record;
}

} // namespace afk
