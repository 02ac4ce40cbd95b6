// SPDX-License-Identifier: MIT
// afk doctor (afk/doctor.hpp).
#include <afk/deploy.hpp>
#include <afk/doctor.hpp>
#include <afk/ids.hpp>
#include <afk/prompt.hpp>
#include <afk/t3.hpp>
#include <afk/tracker.hpp>
#include <afk/worktree.hpp>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

namespace afk {

namespace {

namespace fs = std::filesystem;
using Status = Check::Status;

constexpr std::string_view k_probe = "probe";
constexpr std::string_view k_probe_project = "afk-doctor-probe";
constexpr std::string_view k_probe_question = "Reply with the single word PONG.";

Check make_check(std::string name, Status status, std::string detail,
                 ErrorKind kind = ErrorKind::config) {
  Check check;
  check.name = std::move(name);
  check.status = status;
  check.detail = std::move(detail);
  check.kind = kind;
  return check;
}
Check ok(std::string name, std::string detail) {
  return make_check(std::move(name), Status::ok, std::move(detail));
}
Check warn(std::string name, std::string detail) {
  return make_check(std::move(name), Status::warn, std::move(detail));
}
Check fail(std::string name, ErrorKind kind, std::string detail) {
  return make_check(std::move(name), Status::fail, std::move(detail), kind);
}
Check skipped(std::string name, std::string detail) {
  return make_check(std::move(name), Status::skipped, std::move(detail));
}

// Runs one check: an afk::Error, or anything else thrown, becomes its failure.
template <typename Body> Check guarded(std::string name, Body&& body) {
  try {
    return body();
  } catch (const Error& error) {
    return fail(std::move(name), error.kind(),
                std::string(to_string(error.kind())) + " error: " + error.what());
  } catch (const std::exception& error) {
    return fail(std::move(name), ErrorKind::permanent,
                std::string("internal error: ") + error.what());
  }
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    out += (out.empty() ? "" : std::string(separator)) + item;
  }
  return out;
}

std::string short_sha(std::string_view sha) {
  return std::string(sha.substr(0, 7));
}

std::string bytes_text(std::uint64_t bytes) {
  constexpr std::array<const char*, 5> units{"B", "KiB", "MiB", "GiB", "TiB"};
  auto value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < units.size()) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units.at(unit));
  return text;
}

// A path as T3 stores a workspace root: absolute, normalised, no trailing slash.
std::string normalized(const fs::path& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  std::string text = (ec ? path : absolute).lexically_normal().string();
  while (text.size() > 1 && text.back() == '/') {
    text.pop_back();
  }
  return text;
}

bool contains_icase(std::string_view text, std::string_view needle) {
  return std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         }) != text.end();
}

// What the configuration leaves nothing to look at.
struct Scope {
  bool repos = true;   // the allowlist names repositories
  bool tracker = true; // tracker.token_file is set
  bool t3 = true;      // t3.url is set
};

Scope scope_of(const Config& config) {
  return {.repos = !config.allowlist.empty(),
          .tracker = !config.tracker.token_file.empty(),
          .t3 = !config.t3.url.empty()};
}

std::vector<std::string> skipped_areas(const Scope& scope) {
  std::vector<std::string> areas;
  if (!scope.repos) {
    areas.emplace_back("every per-repository check (allowlist empty)");
  }
  if (!scope.tracker) {
    areas.emplace_back("tracker, labels and stages (tracker.token_file not set)");
  }
  if (!scope.t3) {
    areas.emplace_back("T3 and the probe (t3.url not set)");
  }
  return areas;
}

// ---- checks that need no port -----------------------------------------------------------

Check config_check(const Config& config) {
  const std::vector<std::string> areas = skipped_areas(scope_of(config));
  const std::string skips = areas.empty() ? "" : "; skipped: " + join(areas, ", ");
  if (config.armed()) {
    std::vector<std::string> names;
    for (const RepoName& repo : config.allowlist) {
      names.push_back(repo.full());
    }
    return ok("config", "armed for " + std::to_string(names.size()) +
                            " repo(s): " + join(names, ", ") + skips);
  }
  return warn("config", "disarmed (" + config.disarmed_reason() + "): a tick does nothing" +
                            (areas.empty() ? "; every check still runs" : skips));
}

Check preamble_check(const Config& config) {
  const fs::path& path = config.agent.preamble_file;
  if (path.empty()) {
    return ok("preamble", "the built-in preamble (agent.preamble_file not set)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail("preamble", ErrorKind::config,
                "cannot read agent.preamble_file " + path.string() + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::vector<std::string> problems = preamble_problems(text.str());
  if (!problems.empty()) {
    return fail("preamble", ErrorKind::config,
                "agent.preamble_file " + path.string() + ": " + join(problems, "; "));
  }
  return ok("preamble", path.string() + ": no problems");
}

// A secret file afk reads at every use: present, a regular file, readable, not blank, and
// better not readable by everyone. Its content is never shown.
Check secret_check(const std::string& key, const fs::path& path) {
  const std::string name = "secret " + key;
  const std::string where = key + " " + path.string();
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return fail(name, ErrorKind::config, where + ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return fail(name, ErrorKind::config, where + ": not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(name, ErrorKind::config, where + ": cannot be read: " + std::strerror(errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  const std::string text = content.str();
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; })) {
    return fail(name, ErrorKind::config, where + ": empty");
  }
  if ((info.st_mode & S_IROTH) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777U));
    return warn(name, where + ": readable by every user (mode " + mode + "); chmod 600 it");
  }
  return ok(name, where + ": readable, not world-readable");
}

std::vector<Check> secret_checks(const Config& config) {
  const std::vector<std::pair<std::string, fs::path>> files{
      {"tracker.token_file", config.tracker.token_file},
      {"t3.token_file", config.t3.token_file},
      {"git.token_file", config.git.token_file},
      {"deploy.woodpecker.token_file", config.deploy.woodpecker.token_file},
      {"notify.ntfy_token_file", config.notify.ntfy_token_file},
      {"notify.slack_webhook_file", config.notify.slack_webhook_file}};
  std::vector<Check> checks;
  for (const auto& [key, path] : files) {
    if (!path.empty()) {
      checks.push_back(secret_check(key, path));
    }
  }
  return checks;
}

Check checkout_root_check(const Config& config) {
  const std::string name = "checkout root";
  const fs::path& root = config.git.root;
  std::error_code ec;
  if (fs::exists(root, ec)) {
    if (!fs::is_directory(root, ec)) {
      return fail(name, ErrorKind::config, "git.root " + root.string() + " is not a directory");
    }
    if (::access(root.c_str(), W_OK | X_OK) != 0) {
      return fail(name, ErrorKind::config,
                  "git.root " + root.string() + " is not writable: " + std::strerror(errno));
    }
    return ok(name, "git.root " + root.string() + " is writable");
  }
  fs::path ancestor = root.parent_path();
  while (!ancestor.empty() && !fs::exists(ancestor, ec) && ancestor != ancestor.parent_path()) {
    ancestor = ancestor.parent_path();
  }
  if (!ancestor.empty() && ::access(ancestor.c_str(), W_OK | X_OK) == 0) {
    return ok(name, "git.root " + root.string() + " does not exist yet; afk creates it (under " +
                        ancestor.string() + ", writable)");
  }
  return fail(name, ErrorKind::config,
              "git.root " + root.string() + " does not exist and cannot be created");
}

// ---- tracker ------------------------------------------------------------------------------

std::optional<std::string> configured_default_branch(const Config& config, const RepoName& repo) {
  const auto overrides = config.repos.find(repo.canonical());
  if (overrides != config.repos.end()) {
    return overrides->second.default_branch;
  }
  return std::nullopt;
}

// The default branch and its head, found the way a tick finds them.
struct BranchHead {
  std::string branch;
  bool configured = false;
  std::optional<std::string> sha;
};

BranchHead default_branch_head(const Config& config, EnginePorts& ports, const RepoName& repo) {
  BranchHead head;
  const std::optional<std::string> configured = configured_default_branch(config, repo);
  head.configured = configured.has_value();
  head.branch = configured ? *configured : ports.tracker.default_branch(repo);
  head.sha = ports.tracker.branch_head(repo, head.branch);
  return head;
}

std::string missing_branch(const RepoName& repo, const BranchHead& head) {
  return head.configured ? "repos.\"" + repo.full() + "\".default_branch = \"" + head.branch +
                               "\", but the tracker has no such branch"
                         : "the tracker names the default branch \"" + head.branch +
                               "\" but has no head for it";
}

Check tracker_check(const Config& config, EnginePorts& ports, const RepoName& repo) {
  const std::string name = "tracker " + repo.full();
  return guarded(name, [&] {
    const BranchHead head = default_branch_head(config, ports, repo);
    if (!head.sha) {
      return fail(name, head.configured ? ErrorKind::config : ErrorKind::permanent,
                  missing_branch(repo, head));
    }
    return ok(name, "readable: default branch " + head.branch +
                        (head.configured ? " (configured)" : "") + " at " + short_sha(*head.sha));
  });
}

Check labels_check(const Config& config, EnginePorts& ports, const RepoName& repo) {
  const std::string name = "labels " + repo.full();
  return guarded(name, [&] {
    std::vector<std::string> counts;
    for (const std::string* label : {&config.labels.ready, &config.labels.in_progress,
                                     &config.labels.human, &config.labels.frozen}) {
      counts.push_back(*label + " " +
                       std::to_string(ports.tracker.list_open_issues(repo, *label).size()));
    }
    return ok(name, "open issues by label: " + join(counts, ", ") +
                        " (the tracker port cannot list labels: one that does not exist yet "
                        "reads as no issues)");
  });
}

// ---- T3 -----------------------------------------------------------------------------------

Check t3_server_check(const Config& config, EnginePorts& ports) {
  const std::string name = "t3 server";
  return guarded(name, [&] {
    const T3Environment environment = ports.t3.environment();
    const T3Compatibility compatibility = t3_compatibility(environment, config.t3.server_version);
    const std::string detail = "T3 " + environment.server_version + ", protocol " +
                               std::to_string(environment.protocol_version) + " at " +
                               config.t3.url;
    if (!compatibility.refusal.empty()) {
      return fail(name, ErrorKind::config, detail + ": " + compatibility.refusal);
    }
    if (!compatibility.warning.empty()) {
      return warn(name, detail + ": " + compatibility.warning);
    }
    if (config.t3.allow_plain_http && config.t3.url.starts_with("http://")) {
      return warn(name, detail + ": t3.allow_plain_http is set, so the T3 token crosses the "
                                 "network unencrypted; keep T3 behind a NetworkPolicy or serve "
                                 "it over https");
    }
    if (config.t3.server_version.empty()) {
      return warn(name, detail + ": t3.server_version is not set, so nothing pins the version "
                                 "afk was tested with");
    }
    return ok(name, detail + ", as pinned");
  });
}

Check t3_token_check(const Config& config, EnginePorts& ports, const DoctorOptions& options) {
  const std::string name = "t3 token";
  return guarded(name, [&] {
    const T3AuthSession session = ports.t3.auth_session();
    const std::vector<std::string> problems =
        t3_token_problems(session, ports.clock.now(), options.token_warn_within);
    const bool usable = session.authenticated && session.has_scope("orchestration:read") &&
                        session.has_scope("orchestration:operate");
    if (!usable) {
      return fail(name, ErrorKind::config,
                  config.t3.token_file.string() + ": " + join(problems, "; "));
    }
    if (!problems.empty()) {
      return warn(name, join(problems, "; ") + "; issue a new one (t3 auth session issue)");
    }
    return ok(name, "authenticated" + (session.method.empty() ? "" : " (" + session.method + ")") +
                        " with orchestration:read and orchestration:operate" +
                        (session.expires_at ? ", expires " + format_timestamp(*session.expires_at)
                                            : ", no expiry reported"));
  });
}

Check t3_liveness_check(EnginePorts& ports) {
  const std::string name = "t3 liveness";
  return guarded(name, [&] {
    const T3Snapshot snapshot = ports.t3.snapshot();
    if (snapshot.sequence < 0) {
      return fail(name, ErrorKind::protocol,
                  "the snapshot's sequence is " + std::to_string(snapshot.sequence));
    }
    const auto projects = std::count_if(snapshot.projects.begin(), snapshot.projects.end(),
                                        [](const T3Project& p) { return !p.deleted_at; });
    const auto threads = std::count_if(snapshot.threads.begin(), snapshot.threads.end(),
                                       [](const T3Thread& t) { return !t.deleted_at; });
    return ok(name, "snapshot readable at sequence " + std::to_string(snapshot.sequence) + ": " +
                        std::to_string(projects) + " live project(s), " + std::to_string(threads) +
                        " live thread(s)");
  });
}

// The live project a dispatch would use for `repo`: its derived id, else the one afk made
// under a successor id (titled "owner/name"), else one T3 holds on the same root.
const T3Project* repo_project(const T3Snapshot& snapshot, const RepoName& repo,
                              const std::string& checkout) {
  const auto live_where = [&snapshot](const auto& match) -> const T3Project* {
    const auto found =
        std::find_if(snapshot.projects.begin(), snapshot.projects.end(),
                     [&match](const T3Project& p) { return !p.deleted_at && match(p); });
    return found == snapshot.projects.end() ? nullptr : &*found;
  };
  const std::string derived = derive_project_id(repo);
  if (const T3Project* project = live_where([&](const T3Project& p) { return p.id == derived; })) {
    return project;
  }
  if (const T3Project* project =
          live_where([&](const T3Project& p) { return p.title == repo.full(); })) {
    return project;
  }
  return live_where([&](const T3Project& p) { return normalized(p.workspace_root) == checkout; });
}

Check t3_project_check(const Config& config, EnginePorts& ports, const RepoName& repo) {
  const std::string name = "t3 project " + repo.full();
  return guarded(name, [&] {
    const std::string checkout = normalized(repo_layout(config.git.root, repo).checkout);
    const T3Snapshot snapshot = ports.t3.snapshot();
    const T3Project* project = repo_project(snapshot, repo, checkout);
    if (project == nullptr) {
      return ok(name, "not in T3 yet: the first dispatch creates it on " + checkout +
                          " (T3 answering invalid_command then means T3 cannot see that path)");
    }
    if (normalized(project->workspace_root) != checkout) {
      return fail(name, ErrorKind::config,
                  "project " + project->id + " is on " + project->workspace_root +
                      ", but afk passes " + checkout +
                      ": afk and T3 disagree about the path, so agents would work elsewhere");
    }
    return ok(name, "project " + project->id + " is on " + checkout + ", the path afk passes");
  });
}

// ---- git ----------------------------------------------------------------------------------

Check checkout_check(const Config& config, EnginePorts& ports, const DoctorOptions& options,
                     const RepoName& repo) {
  const std::string name = "checkout " + repo.full();
  return guarded(name, [&] {
    const RepoLayout layout = repo_layout(config.git.root, repo);
    std::error_code ec;
    if (!fs::exists(layout.checkout, ec)) {
      return ok(name,
                "no checkout yet: the first dispatch clones it into " + layout.checkout.string());
    }
    const RepoDiskUsage usage = ports.worktrees.disk_usage(repo);
    const std::size_t worktrees = ports.worktrees.list(repo).size();
    const std::string detail = "checkout " + bytes_text(usage.checkout_bytes) + ", " +
                               std::to_string(worktrees) + " worktree(s) " +
                               bytes_text(usage.worktree_bytes) + ", " +
                               std::to_string(usage.pack_files) + " pack file(s)";
    if (usage.pack_files > options.pack_files_warn) {
      return warn(name, detail + ": libgit2 cannot repack; with no run of " + repo.full() +
                            " in flight, delete " + layout.checkout.string() +
                            " (the next dispatch clones afresh) or run `flock " +
                            layout.lock_file.string() + " git -C " + layout.checkout.string() +
                            " gc`");
    }
    return ok(name, detail);
  });
}

Check budget_check(const Config& config, EnginePorts& ports) {
  const std::string name = "disk budget";
  return guarded(name, [&] {
    std::uint64_t total = 0;
    for (const RepoName& repo : config.allowlist) {
      total += ports.worktrees.disk_usage(repo).total();
    }
    const std::string detail = bytes_text(total) + " of git.disk_budget_bytes " +
                               bytes_text(config.git.disk_budget_bytes) + " under " +
                               config.git.root.string();
    if (total > config.git.disk_budget_bytes) {
      return warn(name, detail + ": over budget; afk evicts finished runs' worktrees, escalated "
                                 "and frozen ones stay until a person clears them");
    }
    return ok(name, detail);
  });
}

// ---- stages -------------------------------------------------------------------------------

std::string stage_text(const StageVerdict& stage) {
  return stage.stage + " " + std::string(to_string(stage.verdict)) +
         (stage.detail.empty() ? "" : ": " + one_line(stage.detail, 300));
}

Check stages_check(const Config& config, EnginePorts& ports, const RepoName& repo) {
  const std::string name = "stages " + repo.full();
  return guarded(name, [&] {
    const BranchHead head = default_branch_head(config, ports, repo);
    if (!head.sha) {
      return fail(name, head.configured ? ErrorKind::config : ErrorKind::permanent,
                  missing_branch(repo, head));
    }
    const ShaVerdict verdict = ports.deploy.verdict(repo, *head.sha, ports.clock.now());
    const std::string at = head.branch + " at " + short_sha(*head.sha);
    for (const StageVerdict& stage : verdict.stages) {
      if (stage.verdict == Verdict::unknown) {
        return fail(name, ErrorKind::permanent,
                    "stage " + stage.stage + " cannot be read for " + at +
                        (stage.detail.empty() ? "" : ": " + one_line(stage.detail, 300)));
      }
    }
    std::vector<std::string> stages;
    for (const StageVerdict& stage : verdict.stages) {
      stages.push_back(stage_text(stage));
    }
    const std::string asked = stages.empty() ? "no stage answered" : join(stages, "; ");
    switch (verdict.verdict) {
    case Verdict::red:
      return warn(name, "default branch is red: dispatch is gated (" + at + ": " + asked + ")");
    case Verdict::green:
    case Verdict::pending:
      return ok(name, at + " is " + std::string(to_string(verdict.verdict)) + " (" + asked + ")");
    case Verdict::unknown:
      break;
    }
    return fail(name, ErrorKind::permanent, "no verdict for " + at + " (" + asked + ")");
  });
}

// ---- notify -------------------------------------------------------------------------------

Check notify_check(const Config& config) {
  std::vector<std::string> sinks{"log"};
  if (!config.notify.slack_webhook_file.empty()) {
    sinks.emplace_back("slack");
  }
  if (!config.notify.ntfy_url.empty() && !config.notify.ntfy_topic.empty()) {
    sinks.push_back("ntfy (" + config.notify.ntfy_url + ")");
  }
  return ok("notify", "sinks: " + join(sinks, ", ") +
                          "; nothing sent (the notifier has no test message and reports "
                          "delivery failures only to the log)");
}

// ---- the probe (pilot 1) ------------------------------------------------------------------

struct ProbeIds {
  std::string thread, create_command, turn_command, message, delete_command;
};

// Ids from a fixed name, the time and a counter, so a rerun never meets a thread id T3
// already holds (deleted ones included).
ProbeIds probe_ids(const T3Snapshot& snapshot, Timestamp now) {
  const std::string base = "doctor-probe:" + format_timestamp(now) + ':';
  for (int n = 1;; ++n) {
    const std::string prefix = base + std::to_string(n) + ':';
    ProbeIds ids{.thread = derive_uuid(prefix + "thread"),
                 .create_command = derive_uuid(prefix + "thread.create"),
                 .turn_command = derive_uuid(prefix + "turn.start"),
                 .message = derive_uuid(prefix + "message"),
                 .delete_command = derive_uuid(prefix + "thread.delete")};
    if (snapshot.thread(ids.thread) == nullptr) {
      return ids;
    }
  }
}

bool settled(AgentState state) {
  switch (state) {
  case AgentState::unknown:
  case AgentState::not_visible:
  case AgentState::busy:
    return false;
  case AgentState::waiting_on_human:
  case AgentState::idle:
  case AgentState::failed:
  case AgentState::interrupted:
  case AgentState::gone:
    return true;
  }
  return false;
}

// The assistant's text for `turn_id`, in order.
std::string answer_of(const T3ThreadRead& read, const std::string& turn_id) {
  std::string answer;
  if (read.thread) {
    for (const T3Message& message : read.thread->messages) {
      if (message.role == T3Role::assistant && message.turn_id == turn_id) {
        answer += (answer.empty() ? "" : "\n") + message.text;
      }
    }
  }
  return answer;
}

std::string pending_text(const std::vector<PendingRequest>& pending) {
  std::vector<std::string> items;
  for (const PendingRequest& request : pending) {
    items.push_back(request.kind == PendingRequest::Kind::approval
                        ? "an approval"
                        : "an answer to " + one_line(join(request.questions, " / "), 200));
  }
  return join(items, ", ");
}

Check run_probe(const Config& config, EnginePorts& ports, const DoctorOptions& options,
                std::optional<ProbeIds>& created) {
  const std::string name(k_probe);
  T3Client& t3 = ports.t3;
  const std::string root = normalized(config.git.root);
  const std::string project = t3.ensure_project({.project_id = derive_uuid("doctor-probe:project"),
                                                 .title = std::string(k_probe_project),
                                                 .workspace_root = root});
  const ProbeIds ids = probe_ids(t3.snapshot(), ports.clock.now());
  created = ids;
  T3ThreadSpec thread;
  thread.command_id = ids.create_command;
  thread.thread_id = ids.thread;
  thread.project_id = project;
  thread.title = "afk doctor probe";
  thread.model.instance_id = config.t3.model.instance_id;
  thread.model.model = config.t3.model.model;
  thread.runtime_mode = config.t3.runtime_mode;
  (void)t3.create_thread(thread);
  T3TurnSpec turn;
  turn.command_id = ids.turn_command;
  turn.thread_id = ids.thread;
  turn.message_id = ids.message;
  turn.text = k_probe_question;
  turn.runtime_mode = config.t3.runtime_mode;
  const std::int64_t sequence = t3.start_turn(turn);

  const auto sleep = options.sleep ? options.sleep : [](std::chrono::milliseconds duration) {
    std::this_thread::sleep_for(duration);
  };
  T3TurnWatch watch;
  watch.message_id = ids.message;
  watch.dispatch_sequence = sequence;
  const std::string setup = config.t3.model.instance_id + "/" + config.t3.model.model + ", " +
                            config.t3.runtime_mode + ", in " + root;
  std::chrono::milliseconds waited{0};
  for (;;) {
    const T3ThreadRead read = t3.read_thread(ids.thread);
    const AgentEvidence evidence = t3_agent_evidence(read, watch);
    if (settled(evidence.state)) {
      switch (evidence.state) {
      case AgentState::waiting_on_human:
        return fail(name, ErrorKind::config,
                    "the agent waits for " + pending_text(evidence.pending) + " (" + setup +
                        "): an unattended run would stall there");
      case AgentState::failed:
        // A provider that is not logged in or whose API fails is the operator's to fix.
        return fail(name,
                    t3_is_provider_failure_text(answer_of(read, evidence.turn_id))
                        ? ErrorKind::config
                        : ErrorKind::permanent,
                    "the turn failed (" + setup + "): " + one_line(evidence.error, 300));
      case AgentState::idle: {
        const std::string answer = answer_of(read, evidence.turn_id);
        if (t3_is_provider_failure_text(answer)) {
          return fail(name, ErrorKind::config,
                      "the provider failed (" + setup + "): " + one_line(answer, 300));
        }
        if (!contains_icase(answer, "PONG")) {
          return fail(name, ErrorKind::permanent,
                      "asked for PONG, the agent answered \"" + one_line(answer, 200) + "\" (" +
                          setup + ")");
        }
        return ok(name, "an unattended turn answered PONG (" + setup + ")");
      }
      default:
        return fail(name, ErrorKind::permanent,
                    "the probe thread ended " + std::string(to_string(evidence.state)) +
                        (evidence.error.empty() ? "" : ": " + one_line(evidence.error, 300)));
      }
    }
    if (waited >= options.probe_timeout) {
      return fail(name, ErrorKind::transient,
                  "no answer within " + format_duration(options.probe_timeout) + " (agent " +
                      std::string(to_string(evidence.state)) + ", " + setup + ")");
    }
    sleep(options.probe_poll);
    waited += options.probe_poll;
  }
}

Check probe_check(const Config& config, EnginePorts& ports, const DoctorOptions& options) {
  if (!options.probe) {
    return skipped(std::string(k_probe),
                   "not asked for: --probe dispatches a throwaway thread to see an unattended "
                   "turn through");
  }
  std::optional<ProbeIds> created;
  Check result =
      guarded(std::string(k_probe), [&] { return run_probe(config, ports, options, created); });
  if (!created) {
    return result;
  }
  // Whatever happened, the throwaway thread goes (deleting also stops its session).
  try {
    if (ports.t3.read_thread(created->thread).thread) {
      (void)ports.t3.delete_thread(created->delete_command, created->thread);
    }
    result.detail += "; probe thread " + created->thread + " deleted";
  } catch (const Error& error) {
    result.detail += "; the probe thread " + created->thread +
                     " could not be deleted: " + std::string(error.what());
    if (result.status == Status::ok) {
      result.status = Status::warn;
    }
  }
  return result;
}

} // namespace

std::string_view to_string(Check::Status status) noexcept {
  switch (status) {
  case Status::ok:
    return "ok";
  case Status::warn:
    return "warn";
  case Status::fail:
    return "fail";
  case Status::skipped:
    return "skipped";
  }
  return "unknown";
}

std::vector<Check> run_static_checks(const Config& config) {
  std::vector<Check> checks{config_check(config), preamble_check(config)};
  for (Check& check : secret_checks(config)) {
    checks.push_back(std::move(check));
  }
  checks.push_back(checkout_root_check(config));
  return checks;
}

std::vector<Check> run_doctor(const Config& config, EnginePorts& ports,
                              const DoctorOptions& options) {
  const Scope scope = scope_of(config);
  std::vector<Check> checks = run_static_checks(config);
  const auto add = [&checks](Check check) {
    checks.push_back(std::move(check));
  };
  if (scope.tracker) {
    for (const RepoName& repo : config.allowlist) {
      add(tracker_check(config, ports, repo));
      add(labels_check(config, ports, repo));
    }
  }
  if (scope.t3) {
    add(t3_server_check(config, ports));
    add(t3_token_check(config, ports, options));
    add(t3_liveness_check(ports));
    for (const RepoName& repo : config.allowlist) {
      add(t3_project_check(config, ports, repo));
    }
  }
  for (const RepoName& repo : config.allowlist) {
    add(checkout_check(config, ports, options, repo));
  }
  if (scope.repos) {
    add(budget_check(config, ports));
  }
  if (scope.tracker) {
    for (const RepoName& repo : config.allowlist) {
      add(stages_check(config, ports, repo));
    }
  }
  add(notify_check(config));
  add(scope.t3 ? probe_check(config, ports, options)
               : skipped(std::string(k_probe), "t3.url not set"));
  return checks;
}

DoctorResult doctor_result(const std::vector<Check>& checks) noexcept {
  DoctorResult result = DoctorResult::healthy;
  for (const Check& check : checks) {
    if (check.status != Status::fail) {
      continue;
    }
    if (check.kind != ErrorKind::config) {
      return DoctorResult::unavailable;
    }
    result = DoctorResult::config_problems;
  }
  return result;
}

std::string format_doctor_json(const std::vector<Check>& checks) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Check& check : checks) {
    nlohmann::ordered_json item{
        {"name", check.name}, {"status", to_string(check.status)}, {"detail", check.detail}};
    if (check.status == Status::fail) {
      item["kind"] = to_string(check.kind);
    }
    list.push_back(std::move(item));
  }
  const DoctorResult result = doctor_result(checks);
  const char* result_text = result == DoctorResult::healthy           ? "healthy"
                            : result == DoctorResult::config_problems ? "config_problems"
                                                                      : "unavailable";
  const nlohmann::ordered_json document{{"checks", std::move(list)}, {"result", result_text}};
  return document.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

} // namespace afk
