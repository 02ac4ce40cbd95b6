// SPDX-License-Identifier: MIT
#pragma once

/// T3Client: T3 Code's orchestration HTTP API as afk needs it, written against the real
/// wire contract (../shared/reference/t3-orchestration-api.md; what a real v0.0.27 server
/// did, §12, wins over the source reading).
///
/// Writing: every command is one bare JSON object discriminated by `type`, sent to
/// POST /api/orchestration/dispatch with a commandId the caller derives (afk/ids.hpp).
/// T3 applies a commandId once and answers a repeat with the original sequence, so a 5xx
/// or a lost connection is retried with the *same* commandId; a 4xx is never retried. A
/// 400 without an error code means "shape rejected, nothing applied". Preconditions the
/// server only reports as an opaque 500 (unknown or deleted thread, duplicate ids) are
/// checked in the read model first. Over HTTP T3 ignores `bootstrap`, so afk creates the
/// worktree itself and sends project.create, thread.create, then thread.turn.start.
///
/// Reading: /snapshot (and, where the server has them, /threads/{id}, feature-detected by
/// a JSON 200 — unknown paths answer 503 text/plain or an HTML page, never 404) parsed
/// into the plain structs below. Unknown keys are ignored and unknown enum values become
/// `unknown`; a body that is not the documented shape at all is Error{protocol}.
///
/// Liveness (t3_agent_evidence) is a pure function of one read and what afk remembers of
/// the turn it asked for last; see its contract.
///
/// Auth: `Authorization: Bearer <token>` read from the token file on every request; no
/// cookie is ever sent (a stray cookie would win over the bearer).

#include "afk/config.hpp"
#include "afk/http.hpp"
#include "afk/lifecycle.hpp"
#include "afk/log.hpp"
#include "afk/time.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace afk {

/// The orchestration protocol version this build speaks. A server declaring a higher one
/// (descriptor field orchestrationProtocolVersion; absent means 1) is refused.
inline constexpr int k_t3_protocol_version = 1;

/// T3's timestamps carry milliseconds; ordering events within a second needs them.
using T3Time = std::chrono::sys_time<std::chrono::milliseconds>;

/// Parses T3's IsoDateTime ("2026-11-24T13:57:03.907Z", fraction optional). nullopt for
/// anything else.
[[nodiscard]] std::optional<T3Time> parse_t3_time(std::string_view text);
/// "2026-11-24T13:57:03.907Z": what afk sends as createdAt.
[[nodiscard]] std::string format_t3_time(T3Time time);

/// GET /.well-known/t3/environment (no auth).
struct T3Environment {
  std::string environment_id;
  std::string label;
  std::string server_version;
  int protocol_version = 1; ///< 1 when the server does not declare one
};

/// What afk makes of a descriptor: `refusal` is non-empty when afk must not talk to this
/// server (a protocol newer than k_t3_protocol_version); `warning` is non-empty when the
/// server version differs from `pinned_version` (empty pin: no warning).
struct T3Compatibility {
  std::string refusal;
  std::string warning;
};
[[nodiscard]] T3Compatibility t3_compatibility(const T3Environment& environment,
                                               std::string_view pinned_version);

/// GET /api/auth/session: T3's view of the token afk sends (always 200 there).
struct T3AuthSession {
  bool authenticated = false;
  std::vector<std::string> scopes;
  std::optional<Timestamp> expires_at;
  std::string method; ///< sessionMethod, e.g. "bearer-access-token"
  [[nodiscard]] bool has_scope(std::string_view scope) const;
};

/// Problems with the token for afk's purposes (not authenticated, missing
/// orchestration:read or orchestration:operate, expiring within `warn_within` of `now`),
/// one line each; empty when it is fit.
[[nodiscard]] std::vector<std::string> t3_token_problems(const T3AuthSession& session,
                                                         Timestamp now, Seconds warn_within);

// --- The read model -------------------------------------------------------------------

enum class T3SessionStatus { idle, starting, running, ready, interrupted, stopped, error, unknown };
enum class T3TurnState { running, interrupted, completed, error, unknown };
enum class T3Role { user, assistant, system, unknown };

[[nodiscard]] std::string_view to_string(T3SessionStatus status) noexcept;
[[nodiscard]] std::string_view to_string(T3TurnState state) noexcept;

struct T3LatestTurn {
  std::string turn_id;
  T3TurnState state = T3TurnState::unknown;
  std::string assistant_message_id;
};

struct T3Session {
  T3SessionStatus status = T3SessionStatus::unknown;
  std::string active_turn_id;
  std::string last_error;
  std::optional<T3Time> updated_at;
};

struct T3Message {
  std::string id;
  T3Role role = T3Role::unknown;
  std::string text;
  std::string turn_id; ///< "" when null (a user message never carries one)
  bool streaming = false;
  std::optional<T3Time> created_at;
  std::optional<T3Time> updated_at;
};

/// One activity, with the payload fields afk reads pulled out.
struct T3Activity {
  std::string id;
  std::string tone; ///< info | tool | approval | error (kept as sent)
  std::string kind; ///< e.g. "approval.requested", "provider.turn.start.failed"
  std::string summary;
  std::string turn_id;
  std::optional<T3Time> created_at;
  std::string request_id;             ///< payload.requestId
  std::vector<std::string> questions; ///< payload.questions[].id (for Claude: the question text)
  std::string detail;                 ///< payload.detail, else payload.message
};

struct T3Checkpoint {
  std::string turn_id;
  std::string status; ///< ready | missing | error
};

struct T3Thread {
  std::string id;
  std::string project_id;
  std::string title;
  std::string runtime_mode;
  std::string interaction_mode;
  std::string branch;        ///< "" when null
  std::string worktree_path; ///< "" when null
  std::optional<T3LatestTurn> latest_turn;
  std::optional<T3Session> session;
  std::optional<T3Time> created_at;
  std::optional<T3Time> updated_at;
  std::optional<T3Time> archived_at;
  std::optional<T3Time> deleted_at;
  std::vector<T3Message> messages;
  std::vector<T3Activity> activities;
  std::vector<T3Checkpoint> checkpoints;
};

struct T3Project {
  std::string id;
  std::string title;
  std::string workspace_root;
  std::optional<T3Time> deleted_at;
};

struct T3Snapshot {
  std::int64_t sequence = 0; ///< snapshotSequence
  std::vector<T3Project> projects;
  std::vector<T3Thread> threads;
  /// By id, deleted ones included; nullptr when absent.
  [[nodiscard]] const T3Thread* thread(std::string_view id) const;
  [[nodiscard]] const T3Project* project(std::string_view id) const;
};

/// One thread as read at one point in T3's event sequence. `thread` is nullopt when the
/// thread does not exist or was deleted.
struct T3ThreadRead {
  std::int64_t sequence = 0;
  std::optional<T3Thread> thread;
};

/// Parses a /snapshot body. Throws Error{protocol} naming the field when the body is not
/// the documented shape; unknown keys and enum values are tolerated.
[[nodiscard]] T3Snapshot parse_t3_snapshot(std::string_view body);
/// Parses a /threads/{id} body ({snapshotSequence, thread, page?}). Throws as above.
[[nodiscard]] T3ThreadRead parse_t3_thread_detail(std::string_view body);

// --- Liveness -------------------------------------------------------------------------

/// What afk remembers of the turn it asked for last on a thread.
struct T3TurnWatch {
  std::string message_id;             ///< the messageId of the user message afk sent with it
  std::string previous_turn_id;       ///< the thread's turn before it ("" for the first turn)
  std::int64_t dispatch_sequence = 0; ///< T3's answer to the turn start; 0 if unknown
  bool interrupt_requested = false;   ///< afk asked for an interrupt since
};

/// The agent's state on the turn `watch` describes, from one read (pure; see the
/// reference §5.6 and §12). Rules, in order:
///  - no thread, or a deleted one → gone;
///  - a read older than the dispatch sequence → unknown (ask again);
///  - afk's message not (yet) in the thread → not_visible;
///  - only evidence newer than afk's message counts: the session if updated at or after
///    it, activities created at or after it, assistant messages after it, and latestTurn
///    only when it names a turn other than previous_turn_id (T3 keeps showing the old
///    turn right after a follow-up, and latestTurn goes null between turns);
///  - session starting/running → busy, or waiting_on_human when approvals or questions
///    of this turn are unresolved (their ids and questions in `pending`);
///  - a provider.turn.start.failed activity (a turn that never starts has no latestTurn),
///    session error, session stopped with lastError, or latestTurn error → failed with
///    T3's text verbatim in `error` — or interrupted when afk asked for an interrupt
///    (T3 ends an interrupted turn as `error`);
///  - latestTurn interrupted, or session stopped/interrupted → interrupted;
///  - session ready/idle with an assistant message (or a completed latestTurn) of the
///    new turn → idle, unless that answer is a provider failure in disguise ("Not logged
///    in", "API Error: …", see t3_is_provider_failure_text) → failed;
///  - anything else (requested, nothing shown yet) → not_visible; values T3 should not
///    send → unknown.
/// `turn_id` is the new turn's id once seen; `last_activity` the newest timestamp in the
/// evidence (for stall detection).
[[nodiscard]] AgentEvidence t3_agent_evidence(const T3ThreadRead& read, const T3TurnWatch& watch);

/// True for an assistant answer that reports a provider failure rather than work: T3
/// completes such turns normally ("Not logged in · Please run /login", "API Error: 500 …",
/// "Failed to authenticate. API Error: 401 …").
[[nodiscard]] bool t3_is_provider_failure_text(std::string_view text);

// --- Commands -------------------------------------------------------------------------

struct T3ModelSelection {
  std::string instance_id = "claudeAgent";
  std::string model = "claude-sonnet-4-6";
};

/// The project a repository's threads live in. `workspace_root` is afk's warm checkout of
/// the repository, a path T3 must see too.
struct T3ProjectSpec {
  std::string project_id; ///< derive_project_id(repo)
  std::string title;      ///< "owner/name"
  std::string workspace_root;
};

struct T3ThreadSpec {
  std::string command_id;
  std::string thread_id;
  std::string project_id;
  std::string title;
  T3ModelSelection model;
  std::string runtime_mode = "full-access";
  std::string interaction_mode = "default";
  std::string branch;        ///< the worktree's branch
  std::string worktree_path; ///< the worktree afk prepared: the agent's working directory
};

struct T3TurnSpec {
  std::string command_id;
  std::string thread_id;
  std::string message_id;
  std::string text; ///< what the agent is asked (preamble + issue, or a fix-forward brief)
  std::string runtime_mode = "full-access"; ///< required on the wire; T3 uses the thread's
  std::string interaction_mode = "default";
};

enum class T3Decision { accept, accept_for_session, decline, cancel };

/// A question id (for Claude, the question text) and the chosen answer.
using T3Answers = std::vector<std::pair<std::string, std::string>>;

class T3Client {
public:
  virtual ~T3Client() = default;

  /// GET /.well-known/t3/environment.
  [[nodiscard]] virtual T3Environment environment() = 0;
  /// GET /api/auth/session.
  [[nodiscard]] virtual T3AuthSession auth_session() = 0;
  /// GET /api/orchestration/snapshot: every project and thread, deleted ones included.
  [[nodiscard]] virtual T3Snapshot snapshot() = 0;
  /// One thread with its messages and activities: /threads/{id} where the server has it
  /// (from 0.0.29; /snapshot bodies are emptied from 0.0.32), else from /snapshot.
  [[nodiscard]] virtual T3ThreadRead read_thread(std::string_view thread_id) = 0;

  /// The id of the live project afk's threads for this repository go in: the spec's id if
  /// it is live; else a live project on the same workspace root (newer servers refuse a
  /// second one there); else a new project is created under the first id of the spec's
  /// deterministic sequence (project_id, then derived successors) that was never used —
  /// deleted projects stay listed and their ids can never be reused. Throws Error{config}
  /// when T3 cannot see the workspace root.
  [[nodiscard]] virtual std::string ensure_project(const T3ProjectSpec& spec) = 0;

  /// The commands below return T3's sequence for the command (a repeat returns the
  /// original). Each throws afk::Error: config (401, 403 with the missing scope named, a
  /// server protocol afk does not speak, T3 cannot see a path), permanent (the command's
  /// shape was rejected — 400 with no code, 415 — or a precondition failed: the thread is
  /// deleted or missing), transient (5xx or transport failures after retrying with the
  /// same commandId; a 500 also covers T3's opaque invariant violations), protocol (an
  /// answer that is not {"sequence": N}).

  /// thread.create; a thread that already exists under this id (created by an earlier,
  /// interrupted attempt) is success, answered with the current sequence.
  virtual std::int64_t create_thread(const T3ThreadSpec& spec) = 0;
  /// thread.turn.start on a live thread (T3 silently drops a turn on a deleted thread, so
  /// this checks first).
  virtual std::int64_t start_turn(const T3TurnSpec& spec) = 0;
  virtual std::int64_t respond_approval(std::string_view command_id, std::string_view thread_id,
                                        std::string_view request_id, T3Decision decision) = 0;
  virtual std::int64_t respond_user_input(std::string_view command_id, std::string_view thread_id,
                                          std::string_view request_id,
                                          const T3Answers& answers) = 0;
  /// thread.turn.interrupt without a turnId (one naming an old turn rewrites that turn).
  virtual std::int64_t interrupt_turn(std::string_view command_id, std::string_view thread_id) = 0;
  virtual std::int64_t stop_session(std::string_view command_id, std::string_view thread_id) = 0;
  virtual std::int64_t archive_thread(std::string_view command_id, std::string_view thread_id) = 0;
  virtual std::int64_t delete_thread(std::string_view command_id, std::string_view thread_id) = 0;
};

/// HttpClient options for T3: base URL, token file, Bearer, Accept JSON.
[[nodiscard]] HttpClientOptions t3_http_options(const T3Config& config);

/// The HTTP implementation. `pinned_version` as in t3_compatibility. Before its first
/// command it reads the descriptor once: a newer protocol is refused (Error{config}) and a
/// version other than the pin is logged once (warn `t3_version_mismatch`). `clock` dates
/// createdAt. Borrowed collaborators must outlive the client; safe to share between
/// threads.
[[nodiscard]] std::unique_ptr<T3Client>
make_t3_client(HttpClient& http, Logger& log, const Clock& clock, std::string pinned_version = {});

} // namespace afk
