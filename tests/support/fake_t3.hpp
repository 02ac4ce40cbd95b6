// SPDX-License-Identifier: MIT
#pragma once

// A strict fake T3 Code server on 127.0.0.1 and an ephemeral port, for afk's T3 client tests,
// the engine's end-to-end tests and the sandbox. It speaks the orchestration HTTP API as
// /work/shared/reference/t3-orchestration-api.md describes it (§12, observed on a real v0.0.27,
// wins over the earlier sections; T3's source settles what neither says):
//
// - GET /.well-known/t3/environment (no auth), GET /api/auth/session (always 200),
//   GET /api/orchestration/snapshot, POST /api/orchestration/dispatch, and from 0.0.29
//   GET /api/orchestration/shell and GET /api/orchestration/threads/{id}. Any other GET answers
//   503 text/plain (or 200 text/html with `static_bundle`), never 404.
// - Auth before body validation; 400 with an empty body and no Content-Type for any shape error;
//   415 for a non-JSON content type; malformed JSON 500 (0.0.27) or 400 (0.0.29+); 403 scope
//   checks after decoding; normalizer failures 400 invalid_command; invariant violations 500.
// - One global event sequence; idempotent commandIds; read-your-writes snapshots; deleted items
//   kept with deletedAt.
// - A scripted provider: each turn start is played out by a `ScriptedAgent` when the test calls
//   advance()/step(), or by a background thread (set_auto_advance). The provider's events advance
//   the global sequence and move session/latestTurn the way the real server does (§12.2, §12.4).
//
// It depends on nothing in libafk on purpose: it is a second, independent reading of the contract.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk::test {

enum class T3Version { v0_0_27, v0_0_29, v0_0_32 };

// "0.0.27", "0.0.29" or "0.0.32": the serverVersion the descriptor reports.
[[nodiscard]] std::string_view server_version(T3Version version);

// The eight scopes `t3 auth session issue` grants in 0.0.27–0.0.32, in the server's order.
[[nodiscard]] const std::vector<std::string>& all_t3_scopes();

struct FakeT3Options {
  T3Version version = T3Version::v0_0_27;
  // Unknown GET paths: false → 503 text/plain "No static directory configured and no dev URL
  // set." (a server without a web bundle); true → 200 text/html (the packaged server's SPA).
  bool static_bundle = false;
  // T3 runs as root: Claude refuses --dangerously-skip-permissions, so every turn of a
  // `full-access` claudeAgent thread fails to start ("Claude Code process exited with code 1").
  bool runs_as_root = false;
  // orchestrationProtocolVersion in the descriptor; absent (as in 0.0.27–0.0.32) when unset.
  std::optional<int> protocol_version;
  // Normalizer: does this absolute, normalized workspaceRoot exist as a directory?
  // Default: std::filesystem::is_directory.
  std::function<bool(const std::string& path)> directory_exists;
  // Normalizer with createWorkspaceRootIfMissing:true: create it, return whether that worked.
  // Default: std::filesystem::create_directories.
  std::function<bool(const std::string& path)> create_directory;
  // Provider instances this "build" has configured; a thread naming another instanceId fails
  // at turn start with the real activity text. The driver of each is its own id.
  std::vector<std::string> provider_instances = {"claudeAgent", "codex", "cursor", "opencode"};
  // The descriptor's label.
  std::string label = "fake-t3";
};

// One file of a checkpoint's diff, as the checkpoint reactor reports it.
struct CheckpointFile {
  std::string path;
  std::string kind = "modified"; // T3 reports a new file as "modified" too
  int additions = 0;
  int deletions = 0;
};

// What the scripted agent decides for one turn. The fake plays it out on advance()/step(), or
// in the background (set_auto_advance).
struct TurnPlan {
  enum class Ending {
    completed,    // assistant message, session back to ready, checkpoint (git) → completed
    error,        // runtime.error, session error with lastError=error_text, checkpoint "error"
    start_failed, // never runs: ready+lastError, provider.turn.start.failed, error, stopped
    // Interrupted from outside the API (the T3 UI's stop button): ends the way a real
    // interrupt does (§12.4): runtime.error "[ede_diagnostic] …", session error, turn "error".
    interrupted_by_client,
    hang, // stays running until the client interrupts it or stops the session
  };
  Ending ending = Ending::completed;
  std::string assistant_text = "Done."; // e.g. "Not logged in · Please run /login"
  std::string error_text;               // lastError for error/start_failed
  // Raised one after another before the ending; each waits for a thread.approval.respond
  // (approval.requested, detail "Bash: <command>") or thread.user-input.respond
  // (user-input.requested with that question text as question id and header "Question",
  // options "Yes"/"No"). The session stays running while it waits.
  std::vector<std::string> approvals;
  std::vector<std::string> questions;
  bool git_workspace = true;         // false: no checkpoint, latestTurn stays null after completion
  std::vector<CheckpointFile> files; // the checkpoint's files
};

struct TurnContext {
  std::string thread_id, turn_id, project_id;
  std::string branch;         // "" when the thread has none
  std::string worktree_path;  // the agent's cwd: the thread's worktreePath, else workspaceRoot
  std::string workspace_root; // the project's
  std::string message_text;
  int turn_number = 0;                        // 1 for the thread's first turn
  std::string runtime_mode, interaction_mode; // the thread's stored modes
};

// Decides a turn; may do real work (git) in ctx.worktree_path. Called on the thread that
// advances the fake, without the fake's lock held; it must not call advance()/step().
using ScriptedAgent = std::function<TurnPlan(const TurnContext& ctx)>;

class FakeT3 {
public:
  explicit FakeT3(FakeT3Options options = {});
  ~FakeT3();
  FakeT3(const FakeT3&) = delete;
  FakeT3& operator=(const FakeT3&) = delete;
  FakeT3(FakeT3&&) = delete;
  FakeT3& operator=(FakeT3&&) = delete;

  [[nodiscard]] std::string url() const; // "http://127.0.0.1:<port>"
  [[nodiscard]] const FakeT3Options& options() const;

  // Like `t3 auth session issue`: a bearer token with `scopes` valid for `ttl` (zero or negative:
  // already expired). Several tokens can be valid at once.
  std::string issue_token(std::vector<std::string> scopes = all_t3_scopes(),
                          std::chrono::seconds ttl = std::chrono::hours(24 * 30));
  void revoke_token(const std::string& token);

  // Default agent: completes with "Done." in a git workspace.
  void set_agent(ScriptedAgent agent);

  // Plays every pending provider reaction and turn forward until each waits (on a human, or
  // hangs) or ends. Returns how many threads changed.
  int advance();
  // Plays one stage of each thread (start → running; running → next request or the ending;
  // one queued reaction). Returns how many threads changed. Lets a test observe "running".
  int step();
  // A background thread calls step() every `delay` (for the sandbox and timing tests).
  void set_auto_advance(std::chrono::milliseconds delay);
  void stop_auto_advance();

  // Inspection (thread-safe).
  // The read model as GET /api/orchestration/snapshot serves it, but always with the thread
  // bodies (0.0.32's /snapshot empties messages, activities and checkpoints; this does not).
  [[nodiscard]] std::string snapshot_json() const;
  [[nodiscard]] std::int64_t sequence() const;
  struct Received {
    std::string method, path, content_type, authorization, cookie, body;
    int status = 0;
  };
  [[nodiscard]] std::vector<Received> requests() const; // in order, with the status answered
  [[nodiscard]] std::vector<std::string> accepted_commands() const; // applied bodies, first time

  // Fault injection: the next `count` requests on `path` (e.g. "/api/orchestration/dispatch")
  // answer `status` with an EnvironmentInternalError body. `after_apply`: the request is first
  // processed normally (a command is applied) and the answer is lost all the same.
  void fail_next(const std::string& path, int status, int count = 1, bool after_apply = false);
  // Delays every response (before it is processed) by `delay`.
  void set_delay(std::chrono::milliseconds delay);

private:
  struct State;
  std::unique_ptr<State> m_state;
};

} // namespace afk::test
