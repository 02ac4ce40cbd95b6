// SPDX-License-Identifier: MIT
#pragma once

/// `afk doctor`: is this installation fit to run unattended? Each check is independent (one
/// that fails or throws never stops the others; an afk::Error is reported with its kind and
/// message) and reads only, except the opt-in probe. The checks, in order:
///
///  - config: armed or not, and which checks have nothing to look at (no repositories, no
///    tracker token); preamble: agent.preamble_file readable and without problems
///    (prompt.hpp preamble_problems);
///  - secret <key>: every configured secret file (tracker, T3, git, Woodpecker, ntfy token,
///    Slack webhook) is a readable, non-empty regular file; readable by every user → warn.
///    Contents are never printed;
///  - checkout root: git.root exists (or can be made) and is writable;
///  - tracker <repo>: the token reads the repository's default branch and its head (the
///    configured repos."o/n".default_branch when set, else the tracker's, as a tick does);
///  - labels <repo>: listing open issues per afk label works. The tracker port cannot list a
///    repository's labels, so a label that does not exist yet reads as "no issues";
///  - t3 server: the descriptor (t3_compatibility: a newer protocol → fail, a version other
///    than t3.server_version → warn); t3 token: T3's view of the token (not authenticated or
///    lacking orchestration:read or :operate → fail, expiring within token_warn_within →
///    warn); t3 liveness: the snapshot parses (the read model liveness comes from);
///  - t3 project <repo>: afk's project for the repository (its derived id, else a live one
///    titled "owner/name" or on the same workspace root) is on the path afk passes, the
///    repository's warm checkout; absent means the first dispatch creates it;
///  - checkout <repo>: disk usage and pack files (many → warn with adr/0005's remedy);
///    disk budget: all repositories against git.disk_budget_bytes (over → warn);
///  - stages <repo>: the default branch head's verdict (a stage that cannot be read → fail
///    naming it; red → warn, dispatch is gated; pending or green → ok);
///  - notify: the sinks configured. Nothing is sent: the port has no test message and the
///    fanout reports failures only to the log, so a "test page" could not be checked;
///  - probe (opt-in, pilot 1): a throwaway thread in the project "afk-doctor-probe" on git.root
///    with the configured model and runtime mode is asked to reply PONG and watched with
///    t3_agent_evidence until it answers, fails, waits on a human (an unattended run would
///    stall on approvals) or probe_timeout passes; a provider failure dressed as an answer
///    ("Not logged in", "API Error: …") fails. The thread is deleted afterwards, whatever
///    happened; the project stays (T3 never lets a deleted project's id be used again) and is
///    reused next time. No repository's issues or worktrees are touched.

#include "afk/config.hpp"
#include "afk/engine.hpp"
#include "afk/error.hpp"
#include "afk/time.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

struct Check {
  enum class Status { ok, warn, fail, skipped };
  std::string name; ///< e.g. "t3 token", "stages acme/web"
  Status status = Status::ok;
  std::string detail; ///< one line for a person; never a secret
  /// What kind of problem a failure is: config when an operator fixes it in the
  /// configuration, a secret or a server setting; otherwise the kind of the error met.
  /// Meaningful only when status is fail.
  ErrorKind kind = ErrorKind::config;
  bool operator==(const Check&) const = default;
};

/// "ok", "warn", "fail", "skipped".
[[nodiscard]] std::string_view to_string(Check::Status status) noexcept;

struct DoctorOptions {
  bool probe = false; ///< dispatch the throwaway thread (pilot 1)
  std::chrono::seconds probe_timeout{120};
  std::chrono::milliseconds probe_poll{1000}; ///< between reads of the probe thread
  /// Waits between polls (injected so tests run instantly); empty: std::this_thread.
  std::function<void(std::chrono::milliseconds)> sleep;
  Seconds token_warn_within = std::chrono::hours(24 * 7);
  std::size_t pack_files_warn = 50; ///< more pack files than this in a checkout → warn
};

/// The checks that need no port (config, preamble, secret files, checkout root): what
/// afk doctor can still say when the adapters cannot be built. Never throws.
[[nodiscard]] std::vector<Check> run_static_checks(const Config& config);

/// Every check above, in that order, over `ports`. Never throws.
[[nodiscard]] std::vector<Check> run_doctor(const Config& config, EnginePorts& ports,
                                            const DoctorOptions& options);

/// What the checks add up to: healthy (nothing failed), config_problems (every failure is
/// of kind config: an operator must fix the configuration), unavailable (something afk
/// needs cannot be reached or does not work).
enum class DoctorResult { healthy, config_problems, unavailable };
[[nodiscard]] DoctorResult doctor_result(const std::vector<Check>& checks) noexcept;

/// The checks as one JSON document: {"checks":[{"name","status","detail"[,"kind"]}],
/// "result":"healthy"|"config_problems"|"unavailable"}; "kind" only on failures.
[[nodiscard]] std::string format_doctor_json(const std::vector<Check>& checks);

} // namespace afk
