// SPDX-License-Identifier: MIT
#pragma once

/// afk's configuration: one TOML file (reference: packaging/afk.toml, every key
/// documented there), loaded into a plain struct. Unknown keys and invalid values are
/// rejected with file, line and column. Secrets are never in the file, only paths to
/// files holding them. afk is disabled by default: the kill switch is on and the
/// allowlist is empty, and either alone keeps it inert.
///
/// Environment overrides for the arming keys: AFK_KILL_SWITCH (a boolean: true/false,
/// 1/0, yes/no, on/off, any case), AFK_ALLOWLIST (comma-separated owner/repo, spaces
/// around names ignored; empty means none). AFK_CONFIG names the file when the CLI has no
/// --config. When armed, tracker.token_file, tracker.login, t3.url and t3.token_file must
/// be set; the stages each allowlisted repository uses (its own or deploy.stages) must be
/// checkable ("woodpecker": deploy.woodpecker.url and token_file; "kubernetes": at least
/// one deployment; "github_checks": a GitHub tracker), reported at the stages key that
/// selects them; and every [repos."owner/name"] table must name an allowlisted
/// repository. Secret files are not opened here: that is `afk doctor`'s job.
///
/// URLs: http:// or https:// (scheme in any case, stored in lower case) with a host, and
/// no credentials (user:password@, a token or webhook address, a query or fragment
/// parameter named like token=, auth=, key=, secret=, password=). URLs afk sends a token
/// to (tracker.api_url, deploy.woodpecker.url, deploy.kubernetes.api_url,
/// notify.ntfy_url, git.clone_url when git.token_file is set) must be https:// unless
/// their host is loopback (127.0.0.0/8, localhost, [::1]); t3.url may be http://. With
/// tracker.kind "forgejo", tracker.api_url, tracker.web_url and git.clone_url must be set:
/// their defaults are GitHub's. Label names are at most 50 characters, without ',', and
/// distinct ignoring case; priority_prefix is no prefix of them.
///
/// Problems are reported one per line, in file order: "<source>:<line>:<column>:
/// <dotted.key>: <what was expected>". A required key that is absent is reported at its
/// table's header, or without a position when the table is absent too; environment
/// problems read "environment variable AFK_ALLOWLIST: <why>". A value that looks like a
/// secret is never echoed: it reads "a value that looks like a secret (not shown)".

#include "afk/issue.hpp"
#include "afk/lifecycle.hpp"
#include "afk/time.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

enum class TrackerKind { github, forgejo };
/// The least repository permission the last labeller must hold to be trusted.
enum class Permission { none, read, triage, write, maintain, admin };
/// Deploy stages a repo can require, in the order they are checked.
enum class StageType { github_checks, woodpecker, kubernetes };

[[nodiscard]] std::string_view to_string(TrackerKind kind) noexcept;
[[nodiscard]] std::string_view to_string(Permission permission) noexcept;
[[nodiscard]] std::string_view to_string(StageType stage) noexcept;
[[nodiscard]] std::optional<Permission> permission_from_string(std::string_view text) noexcept;

struct TrackerConfig {
  TrackerKind kind = TrackerKind::github;
  std::string api_url = "https://api.github.com";
  std::filesystem::path token_file; ///< required when armed
  std::string login;                ///< afk's own account: its comments are records
  Permission trusted_permission = Permission::write;
  std::string api_version = "2022-11-28";     ///< X-GitHub-Api-Version
  std::string web_url = "https://github.com"; ///< for links in comments and pages
  bool operator==(const TrackerConfig&) const = default;
};

struct ModelSelection {
  std::string instance_id = "claudeAgent";
  std::string model = "claude-sonnet-4-6";
  bool operator==(const ModelSelection&) const = default;
};

struct T3Config {
  std::string url; ///< e.g. "http://t3.afk.svc:3773"
  std::filesystem::path token_file;
  std::string web_url;        ///< base for deep links to threads; defaults to url
  std::string server_version; ///< pin; a different server version is reported
  ModelSelection model;
  std::string runtime_mode = "full-access";
  /// url may be plain http:// to a host other than this machine (a cluster Service): the
  /// token then crosses that network unencrypted, so it takes saying so.
  bool allow_plain_http = false;
  bool operator==(const T3Config&) const = default;
};

struct GitConfig {
  std::filesystem::path root = "/var/lib/afk/checkouts";   ///< persistent checkouts + worktrees
  std::string clone_url = "https://github.com/{repo}.git"; ///< "{repo}" becomes owner/name
  std::filesystem::path token_file;                        ///< optional: for private clones
  std::string branch_prefix = "afk/";
  std::string trailer = "AFK-Run";
  std::uint64_t disk_budget_bytes = 20ULL << 30U;  ///< "20GiB" in the file
  Seconds lock_timeout = std::chrono::seconds(60); ///< wait for another afk on a checkout
  bool operator==(const GitConfig&) const = default;
};

struct GithubChecksConfig {
  std::vector<std::string> required; ///< empty: every check run and status counts
  Seconds missing_grace = std::chrono::minutes(10);
  bool operator==(const GithubChecksConfig&) const = default;
};

struct WoodpeckerConfig {
  std::string url;
  std::filesystem::path token_file;
  bool operator==(const WoodpeckerConfig&) const = default;
};

struct KubernetesConfig {
  std::string api_url; ///< empty: in-cluster (service account token + CA, host from env)
  std::string namespace_name = "default";
  std::vector<std::string> deployments;
  std::string image_annotation; ///< optional: annotation carrying the deployed SHA
  bool operator==(const KubernetesConfig&) const = default;
};

struct DeployConfig {
  std::vector<StageType> stages{StageType::github_checks};
  GithubChecksConfig github_checks;
  WoodpeckerConfig woodpecker;
  KubernetesConfig kubernetes;
  bool operator==(const DeployConfig&) const = default;
};

struct NotifyConfig {
  std::filesystem::path slack_webhook_file; ///< empty: no Slack
  std::string ntfy_url;                     ///< empty: no ntfy
  std::string ntfy_topic;
  std::filesystem::path ntfy_token_file;
  Seconds timeout = std::chrono::seconds(10); ///< per request to a sink
  bool operator==(const NotifyConfig&) const = default;
};

/// What the agent is told ([agent]).
struct AgentConfig {
  std::filesystem::path preamble_file; ///< empty: the built-in preamble (prompt.hpp)
  bool operator==(const AgentConfig&) const = default;
};

/// Per-repo overrides ([repos."owner/name"]); unset fields fall back to the global ones.
struct RepoOverrides {
  std::optional<std::string> default_branch;
  std::optional<std::vector<StageType>> stages;
  std::optional<std::vector<std::string>> required_checks;
  std::optional<std::string> kubernetes_namespace;
  std::optional<std::vector<std::string>> kubernetes_deployments;
  bool operator==(const RepoOverrides&) const = default;
};

struct Config {
  std::filesystem::path source; ///< the file it came from ("" for defaults)
  bool kill_switch = true;
  std::vector<RepoName> allowlist;
  std::size_t max_parallel_repos = 8;
  /// The most one `afk tick` may take: past it no request starts and no new work begins,
  /// and what is left waits for the next tick (the CronJob runs every 5 minutes).
  Seconds tick_timeout = std::chrono::minutes(4);
  LabelNames labels;
  LifecycleLimits limits;
  TrackerConfig tracker;
  T3Config t3;
  GitConfig git;
  DeployConfig deploy;
  NotifyConfig notify;
  AgentConfig agent;
  std::map<std::string, RepoOverrides> repos; ///< keyed by RepoName::canonical()

  /// Armed means the kill switch is off *and* the allowlist is not empty.
  [[nodiscard]] bool armed() const noexcept { return !kill_switch && !allowlist.empty(); }
  /// Why afk is inert, or "" when armed: "kill switch on", "allowlist empty", or both.
  [[nodiscard]] std::string disarmed_reason() const;
  [[nodiscard]] bool allowlisted(const RepoName& repo) const;
};

/// The environment variables afk reads (injected so tests need not touch the process).
struct Environment {
  std::optional<std::string> kill_switch; ///< AFK_KILL_SWITCH
  std::optional<std::string> allowlist;   ///< AFK_ALLOWLIST
  /// Reads AFK_KILL_SWITCH and AFK_ALLOWLIST from the process environment.
  [[nodiscard]] static Environment from_process();
};

/// Parses configuration text. `source_name` is used in error messages ("afk.toml:12:5:
/// limits.stall_timeout: expected a duration such as \"45s\", \"30m\", \"2h\""). Every
/// problem found is reported, one per line, in one Error{config}; a TOML syntax error
/// stops parsing and is the only one. Applies `env` last. The result's `source` is
/// `source_name`.
[[nodiscard]] Config parse_config(std::string_view text, std::string_view source_name,
                                  const Environment& env);

/// Reads and parses `path`; the result's `source` is `path`. Throws Error{config} naming
/// the path and the OS reason if it cannot be read, or listing the problems if invalid.
[[nodiscard]] Config load_config(const std::filesystem::path& path, const Environment& env);

/// The built-in defaults with `env` applied: what afk runs with when no file is given.
/// Throws Error{config} if `env` is invalid or arms afk (the defaults lack the keys an
/// armed afk needs).
[[nodiscard]] Config default_config(const Environment& env);

/// Every key the file may set, dotted as in messages, in the order they are read:
/// "kill_switch", ..., "repos.\"owner/name\".default_branch" (the name is a placeholder).
/// Derived from the parser itself, so documentation can be checked against it.
[[nodiscard]] std::vector<std::string> config_keys();

} // namespace afk
