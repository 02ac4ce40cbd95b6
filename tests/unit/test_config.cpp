// SPDX-License-Identifier: MIT
#include <afk/config.hpp>
#include <afk/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using afk::Config;
using afk::Environment;

constexpr const char* k_source = "t.toml";

// The message of the Error{config} that parsing `text` throws ("" and a failure if none).
std::string problems_of(const std::string& text, const Environment& env = {}) {
  try {
    (void)afk::parse_config(text, k_source, env);
  } catch (const afk::Error& e) {
    EXPECT_EQ(e.kind(), afk::ErrorKind::config);
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return {};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

bool has_line(const std::string& message, const std::string& line) {
  const auto lines = lines_of(message);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

afk::RepoName repo(const char* text) {
  return afk::RepoName::parse(text).value();
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Everything an armed afk needs besides the arming keys.
constexpr const char* k_credentials = R"(
[tracker]
token_file = "/run/secrets/tracker"
login = "afk-bot"
[t3]
url = "https://t3:3773"
token_file = "/run/secrets/t3"
)";

TEST(Config, defaults_are_disarmed) {
  const Config config = afk::default_config({});
  EXPECT_TRUE(config.kill_switch);
  EXPECT_TRUE(config.allowlist.empty());
  EXPECT_FALSE(config.armed());
  EXPECT_EQ(config.disarmed_reason(), "kill switch on and allowlist empty");
  EXPECT_EQ(config.source, std::filesystem::path());
  Config expected;
  EXPECT_EQ(config.tracker, expected.tracker);
  EXPECT_EQ(config.limits, expected.limits);
  EXPECT_EQ(config.git, expected.git);
  EXPECT_EQ(config.deploy, expected.deploy);
}

TEST(Config, empty_file_is_valid_and_disarmed) {
  const Config config = afk::parse_config("", k_source, {});
  EXPECT_FALSE(config.armed());
  EXPECT_EQ(config.source, std::filesystem::path(k_source));
}

TEST(Config, disarmed_reason_names_what_keeps_afk_inert) {
  Config config;
  EXPECT_EQ(config.disarmed_reason(), "kill switch on and allowlist empty");
  config.allowlist.push_back(repo("o/r"));
  EXPECT_EQ(config.disarmed_reason(), "kill switch on");
  EXPECT_FALSE(config.armed());
  config.kill_switch = false;
  EXPECT_EQ(config.disarmed_reason(), "");
  EXPECT_TRUE(config.armed());
  config.allowlist.clear();
  EXPECT_EQ(config.disarmed_reason(), "allowlist empty");
  EXPECT_FALSE(config.armed());
}

TEST(Config, armed_only_when_kill_switch_off_and_allowlist_non_empty) {
  const std::string credentials = k_credentials;
  EXPECT_FALSE(afk::parse_config("kill_switch = false\n" + credentials, k_source, {}).armed());
  EXPECT_FALSE(afk::parse_config("allowlist = [\"o/r\"]\n" + credentials, k_source, {}).armed());
  const Config armed =
      afk::parse_config("kill_switch = false\nallowlist = [\"o/r\"]\n" + credentials, k_source, {});
  EXPECT_TRUE(armed.armed());
  EXPECT_EQ(armed.disarmed_reason(), "");
}

TEST(Config, armed_requires_tracker_and_t3_credentials) {
  const std::string message =
      problems_of("kill_switch = false\nallowlist = [\"o/r\"]\n[tracker]\nlogin = \"afk\"\n");
  const std::string why = ": required when armed (kill switch off and allowlist not empty)";
  EXPECT_EQ(lines_of(message),
            (std::vector<std::string>{"t.toml:3:1: tracker.token_file" + why,
                                      "t.toml: t3.url" + why, "t.toml: t3.token_file" + why}))
      << message;
}

TEST(Config, credentials_are_not_required_while_disarmed) {
  EXPECT_NO_THROW((void)afk::parse_config("allowlist = [\"o/r\"]", k_source, {}));
  EXPECT_NO_THROW((void)afk::parse_config("kill_switch = false", k_source, {}));
}

TEST(Config, default_config_armed_by_environment_reports_missing_credentials) {
  try {
    (void)afk::default_config(Environment{"off", "o/r"});
    FAIL() << "no error";
  } catch (const afk::Error& e) {
    EXPECT_EQ(e.kind(), afk::ErrorKind::config);
    EXPECT_TRUE(has_line(e.what(), "built-in defaults: tracker.token_file: required when armed "
                                   "(kill switch off and allowlist not empty)"))
        << e.what();
  }
}

TEST(Config, reads_every_section) {
  const Config config = afk::parse_config(R"(
kill_switch = false
allowlist = ["Acme/Shop", "acme/api"]
max_parallel_repos = 3
tick_timeout = "90s"
[labels]
ready = "go"
in_progress = "busy"
human = "help"
frozen = "ice"
priority_prefix = "p"
[limits]
fix_forward_attempts = 0
fix_forward_window = "90m"
pre_push_deadline = "1h30m"
stall_timeout = "45s"
start_timeout = "1m"
verify_deadline = "3h"
healthy_for = "0s"
budget_turns = 100
budget_time = "1d"
on_waiting_human = "proceed"
[tracker]
kind = "forgejo"
api_url = "https://codeberg.org/api/v1"
token_file = "/run/secrets/tracker"
login = "afk-bot"
trusted_permission = "maintain"
api_version = "v1"
web_url = "https://codeberg.org"
[t3]
url = "https://t3:3773"
token_file = "/run/secrets/t3"
server_version = "0.4.2"
runtime_mode = "approval-required"
[t3.model]
instance_id = "codex_2"
model = "gpt-5"
[git]
root = "/srv/afk"
clone_url = "https://codeberg.org/{repo}.git"
token_file = "/run/secrets/git"
branch_prefix = "bot/afk-"
trailer = "Run-Id"
disk_budget = "500MiB"
[deploy]
stages = ["woodpecker", "kubernetes"]
[deploy.github_checks]
required = ["build", "test"]
missing_grace = "0s"
[deploy.woodpecker]
url = "https://ci.example.com"
token_file = "/run/secrets/woodpecker"
[deploy.kubernetes]
api_url = "https://k8s:6443"
namespace = "prod"
deployments = ["web", "worker.v2"]
image_annotation = "example.com/sha"
[notify]
slack_webhook_file = "/run/secrets/slack"
ntfy_url = "https://ntfy.sh"
ntfy_topic = "afk"
ntfy_token_file = "/run/secrets/ntfy"
[repos."Acme/Shop"]
default_branch = "trunk"
stages = ["kubernetes"]
required_checks = ["ci"]
kubernetes_namespace = "shop"
kubernetes_deployments = ["shop-web"]
)",
                                          k_source, {});
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  EXPECT_TRUE(config.armed());
  EXPECT_EQ(config.allowlist, (std::vector{repo("acme/shop"), repo("acme/api")}));
  EXPECT_EQ(config.max_parallel_repos, 3U);
  EXPECT_EQ(config.tick_timeout, seconds(90));
  EXPECT_EQ(config.labels, (afk::LabelNames{"go", "busy", "help", "ice", "p"}));
  afk::LifecycleLimits limits;
  limits.fix_forward_attempts = 0;
  limits.fix_forward_window = minutes(90);
  limits.pre_push_deadline = minutes(90);
  limits.stall_timeout = seconds(45);
  limits.start_timeout = minutes(1);
  limits.verify_deadline = hours(3);
  limits.healthy_for = seconds(0);
  limits.budget_turns = 100;
  limits.budget_time = hours(24);
  limits.on_waiting_human = afk::HumanPolicy::proceed;
  EXPECT_EQ(config.limits, limits);
  EXPECT_EQ(config.tracker,
            (afk::TrackerConfig{afk::TrackerKind::forgejo, "https://codeberg.org/api/v1",
                                "/run/secrets/tracker", "afk-bot", afk::Permission::maintain, "v1",
                                "https://codeberg.org"}));
  EXPECT_EQ(config.t3,
            (afk::T3Config{"https://t3:3773", "/run/secrets/t3", "https://t3:3773", "0.4.2",
                           afk::ModelSelection{"codex_2", "gpt-5"}, "approval-required"}));
  EXPECT_EQ(config.git, (afk::GitConfig{"/srv/afk", "https://codeberg.org/{repo}.git",
                                        "/run/secrets/git", "bot/afk-", "Run-Id", 500ULL << 20U}));
  EXPECT_EQ(config.deploy.stages,
            (std::vector{afk::StageType::woodpecker, afk::StageType::kubernetes}));
  EXPECT_EQ(config.deploy.github_checks, (afk::GithubChecksConfig{{"build", "test"}, seconds(0)}));
  EXPECT_EQ(config.deploy.woodpecker,
            (afk::WoodpeckerConfig{"https://ci.example.com", "/run/secrets/woodpecker"}));
  EXPECT_EQ(
      config.deploy.kubernetes,
      (afk::KubernetesConfig{"https://k8s:6443", "prod", {"web", "worker.v2"}, "example.com/sha"}));
  EXPECT_EQ(config.notify, (afk::NotifyConfig{"/run/secrets/slack", "https://ntfy.sh", "afk",
                                              "/run/secrets/ntfy"}));
  ASSERT_EQ(config.repos.size(), 1U);
  const afk::RepoOverrides& shop = config.repos.at("acme/shop");
  EXPECT_EQ(shop.default_branch, "trunk");
  EXPECT_EQ(shop.stages, std::vector{afk::StageType::kubernetes});
  EXPECT_EQ(shop.required_checks, std::vector<std::string>{"ci"});
  EXPECT_EQ(shop.kubernetes_namespace, "shop");
  EXPECT_EQ(shop.kubernetes_deployments, std::vector<std::string>{"shop-web"});
}

TEST(Config, unset_repo_overrides_stay_unset) {
  const Config config =
      afk::parse_config("[repos.\"o/r\"]\ndefault_branch = \"main\"\n", k_source, {});
  const afk::RepoOverrides& overrides = config.repos.at("o/r");
  EXPECT_EQ(overrides.default_branch, "main");
  EXPECT_FALSE(overrides.stages);
  EXPECT_FALSE(overrides.required_checks);
  EXPECT_FALSE(overrides.kubernetes_namespace);
  EXPECT_FALSE(overrides.kubernetes_deployments);
}

TEST(Config, t3_web_url_defaults_to_url) {
  EXPECT_EQ(afk::parse_config("[t3]\nurl = \"https://t3:1\"", k_source, {}).t3.web_url,
            "https://t3:1");
  EXPECT_EQ(afk::parse_config("[t3]\nurl = \"https://t3:1\"\nweb_url = \"https://t3.example\"",
                              k_source, {})
                .t3.web_url,
            "https://t3.example");
}

TEST(Config, disk_budget_takes_binary_units) {
  struct Case {
    const char* text;
    std::uint64_t bytes;
  };
  for (const Case& c : {Case{"3KiB", 3ULL << 10U}, Case{"500MiB", 500ULL << 20U},
                        Case{"20GiB", 20ULL << 30U}, Case{"1TiB", 1ULL << 40U}}) {
    SCOPED_TRACE(c.text);
    const std::string text = std::string("[git]\ndisk_budget = \"") + c.text + "\"";
    EXPECT_EQ(afk::parse_config(text, k_source, {}).git.disk_budget_bytes, c.bytes);
  }
}

struct BadValue {
  const char* text;
  const char* problem; // one whole line of the message
};

TEST(Config, bad_values_are_reported_with_location_and_key) {
  const std::vector<BadValue> cases{
      {"kill_switch = \"yes\"", "t.toml:1:15: kill_switch: expected a boolean, got string"},
      {"kill_switch = 1", "t.toml:1:15: kill_switch: expected a boolean, got integer"},
      {"max_parallel_repos = 0",
       "t.toml:1:22: max_parallel_repos: expected an integer from 1 to 64, got 0"},
      {"max_parallel_repos = 65",
       "t.toml:1:22: max_parallel_repos: expected an integer from 1 to 64, got 65"},
      {"max_parallel_repos = 8.0",
       "t.toml:1:22: max_parallel_repos: expected an integer from 1 to 64, got float"},
      {"tick_timeout = \"0s\"",
       "t.toml:1:16: tick_timeout: expected a duration greater than 0s, got \"0s\""},
      {"allowlist = \"o/r\"",
       "t.toml:1:13: allowlist: expected an array of \"owner/name\" strings, got string"},
      {"allowlist = [\"o/r\", \"no-slash\"]",
       "t.toml:1:21: allowlist[1]: repository name has no '/'; expected \"owner/name\""},
      {"allowlist = [\"o/r\", 7]",
       "t.toml:1:21: allowlist[1]: expected a repository name \"owner/name\", got integer"},
      {"allowlist = [\"o/r\", \"O/R\"]", "t.toml:1:21: allowlist[1]: repeats allowlist[0]"},
      {"labels = \"ready\"", "t.toml:1:10: labels: expected a table, got string"},
      {"[labels]\nready = \"\"", "t.toml:2:9: labels.ready: expected a non-empty string"},
      {"[labels]\nfrozen = \"a\\u0007b\"",
       "t.toml:2:10: labels.frozen: expected a non-empty string without control characters"},
      {"[limits]\nstall_timeout = \"45\"",
       "t.toml:2:17: limits.stall_timeout: expected a duration such as \"45s\", \"30m\", \"2h\", "
       "got \"45\""},
      {"[limits]\nstall_timeout = 45",
       "t.toml:2:17: limits.stall_timeout: expected a duration such as \"45s\", \"30m\", \"2h\", "
       "got integer"},
      {"[limits]\nverify_deadline = \"0s\"",
       "t.toml:2:19: limits.verify_deadline: expected a duration greater than 0s, got \"0s\""},
      {"[limits]\nbudget_time = \"-1h\"",
       "t.toml:2:15: limits.budget_time: expected a duration such as \"45s\", \"30m\", \"2h\", "
       "got \"-1h\""},
      {"[limits]\nfix_forward_attempts = 21",
       "t.toml:2:24: limits.fix_forward_attempts: expected an integer from 0 to 20, got 21"},
      {"[limits]\nbudget_turns = 0",
       "t.toml:2:16: limits.budget_turns: expected an integer from 1 to 100, got 0"},
      {"[limits]\non_waiting_human = \"ask\"",
       "t.toml:2:20: limits.on_waiting_human: expected \"escalate\" or \"proceed\", got \"ask\""},
      {"[tracker]\nkind = \"gitlab\"",
       "t.toml:2:8: tracker.kind: expected \"github\" or \"forgejo\", got \"gitlab\""},
      {"[tracker]\napi_url = \"ftp://example.com\"",
       "t.toml:2:11: tracker.api_url: expected an http:// or https:// URL, got "
       "\"ftp://example.com\""},
      {"[tracker]\nweb_url = \"https://\"",
       "t.toml:2:11: tracker.web_url: expected an http:// or https:// URL with a host, got "
       "\"https://\""},
      {"[tracker]\ntoken_file = \"\"",
       "t.toml:2:14: tracker.token_file: expected a non-empty path to a file, got \"\""},
      {"[tracker]\ntoken_file = \"ghp_0123456789abcdef\"",
       "t.toml:2:14: tracker.token_file: looks like a secret, not a path; secrets are not stored "
       "in the config: give the path of a file holding it"},
      {"[tracker]\nlogin = \"\"", "t.toml:2:9: tracker.login: expected a non-empty string"},
      {"[tracker]\ntrusted_permission = \"admins\"",
       "t.toml:2:22: tracker.trusted_permission: expected \"write\", \"maintain\" or \"admin\", "
       "got \"admins\""},
      {"[t3]\nurl = 3773", "t.toml:2:7: t3.url: expected an http:// or https:// URL, got integer"},
      {"[t3]\nruntime_mode = \"yolo\"",
       "t.toml:2:16: t3.runtime_mode: expected \"approval-required\", \"auto-accept-edits\", "
       "\"full-access\" or \"auto\", got \"yolo\""},
      {"[t3.model]\ninstance_id = \"9lives\"",
       "t.toml:2:15: t3.model.instance_id: expected an id of letters, digits, '_' and '-' that "
       "starts with a letter, at most 64 characters, got \"9lives\""},
      {"[t3.model]\nmodel = \"\"", "t.toml:2:9: t3.model.model: expected a non-empty string"},
      {"[git]\nroot = \"checkouts\"",
       "t.toml:2:8: git.root: expected an absolute path, got \"checkouts\""},
      {"[git]\nclone_url = \"https://github.com/x.git\"",
       "t.toml:2:13: git.clone_url: expected a URL containing \"{repo}\" (replaced by "
       "owner/name), got \"https://github.com/x.git\""},
      {"[git]\nclone_url = \"https://x-access-token:s3cr3t@github.com/{repo}.git\"",
       "t.toml:2:13: git.clone_url: URLs must not carry credentials (user:password@); secrets "
       "are not stored in the config: use the matching *_file key"},
      {"[t3]\nurl = \"admin:hunter2@t3:3773\"",
       "t.toml:2:7: t3.url: URLs must not carry credentials (user:password@); secrets "
       "are not stored in the config: use the matching *_file key"},
      {"[t3]\nurl = \"http:/admin:hunter2@t3\"",
       "t.toml:2:7: t3.url: URLs must not carry credentials (user:password@); secrets "
       "are not stored in the config: use the matching *_file key"},
      {"[notify]\nntfy_url = \"ftp://u:hunter2@ntfy.sh\"\nntfy_topic = \"afk\"",
       "t.toml:2:12: notify.ntfy_url: URLs must not carry credentials (user:password@); secrets "
       "are not stored in the config: use the matching *_file key"},
      {"[git]\nbranch_prefix = \"../x\"",
       "t.toml:2:17: git.branch_prefix: expected a branch-name prefix such as \"afk/\" (letters, "
       "digits, '.', '_', '-' and '/'; no \"..\" or \"//\"; not starting with '/', '-' or '.'), "
       "got \"../x\""},
      {"[git]\ntrailer = \"AFK Run\"",
       "t.toml:2:11: git.trailer: expected a git trailer token (letters, digits and '-', such as "
       "\"AFK-Run\"), got \"AFK Run\""},
      {"[git]\ndisk_budget = \"20\"",
       "t.toml:2:15: git.disk_budget: expected a size greater than 0 with a unit such as "
       "\"500MiB\", \"20GiB\", \"1TiB\" (KiB, MiB, GiB, TiB), got \"20\""},
      {"[git]\ndisk_budget = \"20GB\"",
       "t.toml:2:15: git.disk_budget: expected a size greater than 0 with a unit such as "
       "\"500MiB\", \"20GiB\", \"1TiB\" (KiB, MiB, GiB, TiB), got \"20GB\""},
      {"[git]\ndisk_budget = \"0GiB\"",
       "t.toml:2:15: git.disk_budget: expected a size greater than 0 with a unit such as "
       "\"500MiB\", \"20GiB\", \"1TiB\" (KiB, MiB, GiB, TiB), got \"0GiB\""},
      {"[git]\ndisk_budget = \"99999999TiB\"",
       "t.toml:2:15: git.disk_budget: expected a size greater than 0 with a unit such as "
       "\"500MiB\", \"20GiB\", \"1TiB\" (KiB, MiB, GiB, TiB), got \"99999999TiB\""},
      {"[deploy]\nstages = [\"github_checks\", \"jenkins\"]",
       "t.toml:2:28: deploy.stages[1]: expected \"github_checks\", \"woodpecker\" or "
       "\"kubernetes\", got \"jenkins\""},
      {"[deploy]\nstages = [\"woodpecker\", \"woodpecker\"]",
       "t.toml:2:25: deploy.stages[1]: repeats deploy.stages[0]"},
      {"[deploy]\nstages = []",
       "t.toml:2:10: deploy.stages: expected at least one stage: an array of \"github_checks\", "
       "\"woodpecker\" and \"kubernetes\""},
      {"[deploy.github_checks]\nrequired = [\"\"]",
       "t.toml:2:13: deploy.github_checks.required[0]: expected a non-empty string"},
      {"[deploy.github_checks]\nmissing_grace = \"soon\"",
       "t.toml:2:17: deploy.github_checks.missing_grace: expected a duration such as \"45s\", "
       "\"30m\", \"2h\", got \"soon\""},
      {"[deploy.kubernetes]\nnamespace = \"Prod\"",
       "t.toml:2:13: deploy.kubernetes.namespace: expected a Kubernetes namespace (lower-case "
       "letters, digits and '-', at most 63 characters), got \"Prod\""},
      {"[deploy.kubernetes]\ndeployments = [\"web_1\"]",
       "t.toml:2:16: deploy.kubernetes.deployments[0]: expected a Kubernetes object name "
       "(lower-case letters, digits, '-' and '.'), got \"web_1\""},
      {"[notify]\nntfy_url = \"https://ntfy.sh\"",
       "t.toml:1:1: notify.ntfy_topic: required when notify.ntfy_url is set"},
      {"[repos.\"o/r\"]\nstages = [\"nope\"]",
       "t.toml:2:11: repos.\"o/r\".stages[0]: expected \"github_checks\", \"woodpecker\" or "
       "\"kubernetes\", got \"nope\""},
      {"[repos.\"o/r\"]\ndefault_branch = \"main/\"",
       "t.toml:2:18: repos.\"o/r\".default_branch: expected a branch name (letters, digits, "
       "'.', '_', '-' and '/'), got \"main/\""},
      {"[repos.\"bad name\"]\ndefault_branch = \"main\"",
       "t.toml:1:8: repos.\"bad name\": repository name has no '/'; expected \"owner/name\""},
      {"[repos.\"o/r\"]\n[repos.\"O/R\"]",
       "t.toml:2:8: repos.\"O/R\": same repository as repos.\"o/r\" (names ignore case)"},
      {"repos = { \"o/r\" = 1 }", "t.toml:1:19: repos.\"o/r\": expected a table, got integer"},
  };
  for (const BadValue& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string message = problems_of(c.text);
    EXPECT_EQ(message, c.problem);
  }
}

TEST(Config, unsafe_trusted_permissions_are_refused_with_the_reason) {
  for (const char* level : {"none", "read", "triage"}) {
    SCOPED_TRACE(level);
    const std::string message =
        problems_of(std::string("[tracker]\ntrusted_permission = \"") + level + "\"");
    EXPECT_EQ(message, std::string("t.toml:2:22: tracker.trusted_permission: \"") + level +
                           "\" is unsafe: it would let accounts that cannot push code make afk "
                           "push code; expected \"write\", \"maintain\" or \"admin\"");
  }
}

TEST(Config, unknown_keys_are_reported_with_location_and_the_known_keys) {
  EXPECT_EQ(problems_of("[labels]\nready = \"go\"\n  redy = \"x\"\n"),
            "t.toml:3:3: labels.redy: unknown key; expected one of: ready, in_progress, human, "
            "frozen, priority_prefix");
  EXPECT_EQ(problems_of("[deploy.kubernetes]\nnamspace = \"x\""),
            "t.toml:2:1: deploy.kubernetes.namspace: unknown key; expected one of: api_url, "
            "namespace, deployments, image_annotation");
  EXPECT_EQ(problems_of("[tracker]\nkill_switch = false"),
            "t.toml:2:1: tracker.kill_switch: unknown key; expected one of: kind, api_url, "
            "token_file, login, trusted_permission, api_version, web_url");
  EXPECT_EQ(problems_of("[repos.\"o/r\"]\nbranch = \"main\""),
            "t.toml:2:1: repos.\"o/r\".branch: unknown key; expected one of: default_branch, "
            "stages, required_checks, kubernetes_namespace, kubernetes_deployments");
  const std::string top = problems_of("[limit]\nbudget_turns = 3");
  EXPECT_EQ(top.rfind("t.toml:1:2: limit: unknown key; expected one of: kill_switch, ", 0), 0U)
      << top;
}

TEST(Config, inline_secrets_get_a_dedicated_message) {
  const std::vector<BadValue> cases{
      {"[tracker]\ntoken = \"ghp_x\"",
       "t.toml:2:1: tracker.token: secrets are not stored in the config; use token_file (a path "
       "to a file holding it)"},
      {"[t3]\npassword = \"hunter2\"",
       "t.toml:2:1: t3.password: secrets are not stored in the config; use token_file (a path "
       "to a file holding it)"},
      {"[notify]\nslack_webhook_url = \"https://hooks.slack.com/x\"",
       "t.toml:2:1: notify.slack_webhook_url: secrets are not stored in the config; use "
       "slack_webhook_file (a path to a file holding it)"},
      {"[notify]\nntfy_token = \"tk_x\"",
       "t.toml:2:1: notify.ntfy_token: secrets are not stored in the config; use "
       "ntfy_token_file (a path to a file holding it)"},
      {"[deploy.woodpecker]\napi_key = \"x\"",
       "t.toml:2:1: deploy.woodpecker.api_key: secrets are not stored in the config; use "
       "token_file (a path to a file holding it)"},
      {"[deploy.kubernetes]\nclient_secret = \"x\"",
       "t.toml:2:1: deploy.kubernetes.client_secret: secrets are not stored in the config, and "
       "this table takes none"},
  };
  for (const BadValue& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string message = problems_of(c.text);
    EXPECT_EQ(message, c.problem);
    // The secret itself is never echoed.
    EXPECT_EQ(message.find("hunter2"), std::string::npos);
  }
}

TEST(Config, every_problem_is_reported_at_once_in_file_order) {
  const std::string message = problems_of(R"([limits]
stall_timeout = "soon"
budget_turns = 0
[tracker]
kind = "gitlab"
tokn = "x"
[git]
trailer = ""
)",
                                          Environment{"maybe", "o/r,bad"});
  EXPECT_EQ(lines_of(message),
            (std::vector<std::string>{
                "t.toml:2:17: limits.stall_timeout: expected a duration such as \"45s\", \"30m\", "
                "\"2h\", got \"soon\"",
                "t.toml:3:16: limits.budget_turns: expected an integer from 1 to 100, got 0",
                "t.toml:5:8: tracker.kind: expected \"github\" or \"forgejo\", got \"gitlab\"",
                "t.toml:6:1: tracker.tokn: unknown key; expected one of: kind, api_url, "
                "token_file, login, trusted_permission, api_version, web_url",
                "t.toml:8:11: git.trailer: expected a git trailer token (letters, digits and '-', "
                "such as \"AFK-Run\"), got \"\"",
                "environment variable AFK_KILL_SWITCH: expected true/false, 1/0, yes/no or "
                "on/off, got \"maybe\"",
                "environment variable AFK_ALLOWLIST: entry 2: repository name has no '/'; "
                "expected \"owner/name\"",
            }))
      << message;
}

TEST(Config, toml_syntax_errors_carry_the_location) {
  const std::string message = problems_of("kill_switch = true\nallowlist = [\"o/r\"\n");
  EXPECT_EQ(message.rfind("t.toml:2:", 0), 0U) << message;
  EXPECT_EQ(lines_of(message).size(), 1U) << message;
  const std::string duplicate = problems_of("[labels]\nready = \"a\"\nready = \"b\"\n");
  EXPECT_EQ(duplicate.rfind("t.toml:3:", 0), 0U) << duplicate;
  EXPECT_NE(duplicate.find("'ready'"), std::string::npos) << duplicate;
}

TEST(Config, environment_kill_switch_accepts_only_clear_booleans) {
  struct Case {
    const char* value;
    bool kill_switch;
  };
  for (const Case& c :
       {Case{"true", true}, Case{"FALSE", false}, Case{"1", true}, Case{"0", false},
        Case{"Yes", true}, Case{"no", false}, Case{"ON", true}, Case{" off ", false}}) {
    SCOPED_TRACE(c.value);
    EXPECT_EQ(
        afk::parse_config("kill_switch = true", k_source, Environment{c.value, {}}).kill_switch,
        c.kill_switch);
    EXPECT_EQ(afk::default_config(Environment{c.value, {}}).kill_switch, c.kill_switch);
  }
}

TEST(Config, environment_kill_switch_rejects_anything_else) {
  for (const char* value : {"maybe", "", "2", "enabled", "t"}) {
    SCOPED_TRACE(value);
    EXPECT_EQ(problems_of("", Environment{value, {}}),
              std::string("environment variable AFK_KILL_SWITCH: expected true/false, 1/0, "
                          "yes/no or on/off, got \"") +
                  value + "\"");
  }
}

TEST(Config, environment_overrides_the_file) {
  const Config config = afk::parse_config(
      std::string("kill_switch = true\nallowlist = [\"file/repo\"]\n") + k_credentials, k_source,
      Environment{"false", "env/one, env/two"});
  EXPECT_FALSE(config.kill_switch);
  EXPECT_EQ(config.allowlist, (std::vector{repo("env/one"), repo("env/two")}));
  EXPECT_TRUE(config.armed());
}

TEST(Config, environment_allowlist_trims_names) {
  const Config config = afk::default_config(Environment{{}, "  a/b ,c/d\t"});
  EXPECT_EQ(config.allowlist, (std::vector{repo("a/b"), repo("c/d")}));
}

TEST(Config, empty_environment_allowlist_means_none) {
  for (const char* value : {"", "  "}) {
    SCOPED_TRACE(value);
    const Config config = afk::parse_config("kill_switch = false\nallowlist = [\"o/r\"]", k_source,
                                            Environment{{}, value});
    EXPECT_TRUE(config.allowlist.empty());
    EXPECT_FALSE(config.armed());
    EXPECT_EQ(config.disarmed_reason(), "allowlist empty");
  }
}

TEST(Config, environment_allowlist_rejects_invalid_names) {
  const std::vector<BadValue> cases{
      {"o/r,bad",
       "environment variable AFK_ALLOWLIST: entry 2: repository name has no '/'; expected "
       "\"owner/name\""},
      {"o/r,", "environment variable AFK_ALLOWLIST: entry 2: repository name is empty"},
      {"a/b/c",
       "environment variable AFK_ALLOWLIST: entry 1: repository name has more than one '/'; "
       "expected \"owner/name\""},
      {"o/r, O/R", "environment variable AFK_ALLOWLIST: entry 2: repeats entry 1"},
  };
  for (const BadValue& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(problems_of("", Environment{{}, c.text}), c.problem);
  }
}

TEST(Config, repos_are_keyed_by_canonical_name) {
  const Config config =
      afk::parse_config("[repos.\"Acme/Shop\"]\nkubernetes_namespace = \"shop\"\n", k_source, {});
  ASSERT_EQ(config.repos.count("acme/shop"), 1U);
  EXPECT_EQ(config.repos.at("acme/shop").kubernetes_namespace, "shop");
}

TEST(Config, allowlisted_ignores_case) {
  Config config;
  config.allowlist = {repo("Acme/Shop")};
  EXPECT_TRUE(config.allowlisted(repo("acme/shop")));
  EXPECT_FALSE(config.allowlisted(repo("acme/api")));
}

TEST(Config, enum_names_round_trip) {
  EXPECT_EQ(afk::to_string(afk::TrackerKind::github), "github");
  EXPECT_EQ(afk::to_string(afk::TrackerKind::forgejo), "forgejo");
  EXPECT_EQ(afk::to_string(afk::StageType::github_checks), "github_checks");
  EXPECT_EQ(afk::to_string(afk::StageType::woodpecker), "woodpecker");
  EXPECT_EQ(afk::to_string(afk::StageType::kubernetes), "kubernetes");
  for (const auto p : {afk::Permission::none, afk::Permission::read, afk::Permission::triage,
                       afk::Permission::write, afk::Permission::maintain, afk::Permission::admin}) {
    EXPECT_EQ(afk::permission_from_string(afk::to_string(p)), p);
  }
  EXPECT_EQ(afk::permission_from_string("Write"), std::nullopt);
  EXPECT_EQ(afk::permission_from_string(""), std::nullopt);
}

TEST(Config, load_config_names_the_path_and_the_reason_when_unreadable) {
  const std::filesystem::path missing =
      std::filesystem::path(testing::TempDir()) / "afk-no-such-dir" / "afk.toml";
  try {
    (void)afk::load_config(missing, {});
    FAIL() << "no error";
  } catch (const afk::Error& e) {
    EXPECT_EQ(e.kind(), afk::ErrorKind::config);
    EXPECT_EQ(std::string(e.what()),
              "cannot read config file " + missing.string() + ": No such file or directory");
  }
  const std::filesystem::path directory = testing::TempDir();
  try {
    (void)afk::load_config(directory, {});
    FAIL() << "no error";
  } catch (const afk::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot read config file " + directory.string() + ": Is a directory");
  }
}

TEST(Config, load_config_reports_problems_against_the_path) {
  const std::filesystem::path path =
      std::filesystem::path(testing::TempDir()) / "afk-test-config.toml";
  std::ofstream(path) << "max_parallel_repos = 100\n";
  try {
    (void)afk::load_config(path, {});
    FAIL() << "no error";
  } catch (const afk::Error& e) {
    EXPECT_EQ(std::string(e.what()), path.string() + ":1:22: max_parallel_repos: expected an "
                                                     "integer from 1 to 64, got 100");
  }
  std::ofstream(path) << "max_parallel_repos = 2\n";
  const Config config = afk::load_config(path, {});
  EXPECT_EQ(config.max_parallel_repos, 2U);
  EXPECT_EQ(config.source, path);
  std::filesystem::remove(path);
}

TEST(Config, reference_config_is_valid_disarmed_and_shows_the_defaults) {
  Config reference = afk::load_config(AFK_REFERENCE_CONFIG, {});
  EXPECT_FALSE(reference.armed());
  EXPECT_EQ(reference.disarmed_reason(), "kill switch on and allowlist empty");
  EXPECT_EQ(reference.source, std::filesystem::path(AFK_REFERENCE_CONFIG));
  reference.source.clear();
  const Config defaults = afk::default_config({});
  EXPECT_EQ(reference.kill_switch, defaults.kill_switch);
  EXPECT_EQ(reference.allowlist, defaults.allowlist);
  EXPECT_EQ(reference.max_parallel_repos, defaults.max_parallel_repos);
  EXPECT_EQ(reference.labels, defaults.labels);
  EXPECT_EQ(reference.limits, defaults.limits);
  EXPECT_EQ(reference.tracker, defaults.tracker);
  EXPECT_EQ(reference.t3, defaults.t3);
  EXPECT_EQ(reference.git, defaults.git);
  EXPECT_EQ(reference.deploy, defaults.deploy);
  EXPECT_EQ(reference.notify, defaults.notify);
  EXPECT_EQ(reference.repos, defaults.repos);
}

// The keys the reference sets or shows as "# key = example", dotted under their (possibly
// commented) table header, in file order.
std::vector<std::string> documented_keys(const std::string& text) {
  static const std::regex header(R"(^(?:# )?\[([^\]]+)\]$)");
  static const std::regex assignment(R"(^(?:# )?([a-z_]+) = .*$)");
  std::vector<std::string> keys;
  std::string table;
  for (const std::string& line : lines_of(text)) {
    std::smatch match;
    if (std::regex_match(line, match, header)) {
      table = match[1];
    } else if (std::regex_match(line, match, assignment)) {
      keys.push_back(table.empty() ? match[1].str() : table + "." + match[1].str());
    }
  }
  return keys;
}

TEST(Config, reference_config_documents_every_key_once) {
  const std::vector<std::string> documented = documented_keys(read_text(AFK_REFERENCE_CONFIG));
  const std::vector<std::string> known = afk::config_keys();
  EXPECT_EQ(std::set<std::string>(documented.begin(), documented.end()).size(), documented.size())
      << "a key is documented twice";
  EXPECT_EQ(std::set<std::string>(documented.begin(), documented.end()),
            std::set<std::string>(known.begin(), known.end()))
      << "packaging/afk.toml must document every key the parser reads, and no other";
}

TEST(Config, reference_config_examples_are_valid) {
  // Uncommenting every example must give a valid file that is complete enough to arm.
  static const std::regex example(R"(^# ((?:[a-z_]+ = |\[).*)$)");
  std::string text;
  int uncommented = 0;
  for (const std::string& line : lines_of(read_text(AFK_REFERENCE_CONFIG))) {
    std::smatch match;
    if (std::regex_match(line, match, example)) {
      text += match[1].str() + "\n";
      ++uncommented;
    } else {
      text += line + "\n";
    }
  }
  EXPECT_GT(uncommented, 0);
  // The example [repos."owner/name"] must be allowlisted once armed.
  const Config config =
      afk::parse_config(text, "afk.toml (examples)", Environment{"0", "o/r, owner/name"});
  EXPECT_TRUE(config.armed());
  EXPECT_EQ(config.repos.count("owner/name"), 1U);
  EXPECT_FALSE(config.tracker.token_file.empty());
  EXPECT_FALSE(config.notify.ntfy_topic.empty());
}

// --- secrets are never echoed ---------------------------------------------------------

constexpr const char* k_token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

TEST(Config, values_that_look_like_secrets_are_never_echoed) {
  const std::string token = k_token;
  const std::string hidden = "got a value that looks like a secret (not shown)";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"[tracker]\nkind = \"" + token + "\"",
       "t.toml:2:8: tracker.kind: expected \"github\" or \"forgejo\", " + hidden},
      {"[limits]\nstall_timeout = \"xoxb-1234-5678-abcdef\"",
       "t.toml:2:17: limits.stall_timeout: expected a duration such as \"45s\", \"30m\", \"2h\", " +
           hidden},
      {"[git]\nroot = \"glpat-abcdefghij\"",
       "t.toml:2:8: git.root: expected an absolute path, " + hidden},
      // Anywhere a word starts, not only at the beginning.
      {"[git]\ntrailer = \"Bearer " + token + "\"",
       "t.toml:2:11: git.trailer: expected a git trailer token (letters, digits and '-', such as "
       "\"AFK-Run\"), " +
           hidden},
      {"[labels]\nready = \"" + token + ",x\"",
       "t.toml:2:9: labels.ready: expected a label name without ',' (GitHub's labels= filter "
       "splits on it), " +
           hidden},
      {"[tracker]\nlogin = \"ok\"\n" + token + " = 1",
       "t.toml:3:1: tracker.<a name that looks like a secret (not shown)>: unknown key; "
       "expected one of: kind, api_url, token_file, login, trusted_permission, api_version, "
       "web_url"},
  };
  for (const auto& [text, problem] : cases) {
    SCOPED_TRACE(text);
    const std::string message = problems_of(text);
    EXPECT_EQ(message, problem);
    EXPECT_EQ(message.find("0123456789"), std::string::npos);
    EXPECT_EQ(message.find("abcdef"), std::string::npos);
  }
  const std::string env = problems_of("", Environment{token, {}});
  EXPECT_EQ(env, "environment variable AFK_KILL_SWITCH: expected true/false, 1/0, yes/no or "
                 "on/off, " +
                     hidden);
}

TEST(Config, toml_syntax_errors_do_not_echo_secrets) {
  const std::string token = k_token;
  const std::string message = problems_of(token + " = 1\n" + token + " = 2\n");
  EXPECT_EQ(message.rfind("t.toml:2:", 0), 0U) << message;
  EXPECT_NE(message.find("(something that looks like a secret, not shown)"), std::string::npos)
      << message;
  EXPECT_EQ(message.find("0123456789"), std::string::npos) << message;
}

TEST(Config, urls_carrying_secrets_are_rejected_without_echo) {
  const std::string why = "URLs must not carry credentials (a token, key or webhook address in "
                          "the URL or its parameters); secrets are not stored in the config: use "
                          "the matching *_file key";
  const std::vector<std::string> urls{
      k_token,
      "https://hooks.slack.com/services/T0000/B0000/XXXXsecretXXXX",
      "HTTPS://HOOKS.SLACK.COM/services/T0000/B0000/XXXXsecretXXXX",
      "https://discord.com/api/webhooks/1/XXXXsecretXXXX",
      "https://ntfy.example.com/" + std::string(k_token),
      "https://ntfy.example.com/?token=XXXXsecretXXXX",
      "https://ntfy.example.com/path?x=1&access_token=XXXXsecretXXXX",
      "https://ntfy.example.com/?auth=XXXXsecretXXXX",
      "https://ntfy.example.com/?Key=XXXXsecretXXXX",
      "https://ntfy.example.com/?secret=XXXXsecretXXXX",
      "https://ntfy.example.com/?password=XXXXsecretXXXX",
      "https://ntfy.example.com/?api_key=XXXXsecretXXXX",
      "https://ntfy.example.com/#access_token=XXXXsecretXXXX",
  };
  for (const std::string& url : urls) {
    SCOPED_TRACE(url);
    for (const char* key : {"[notify]\nntfy_url", "[t3]\nurl", "[tracker]\napi_url"}) {
      const std::string text = std::string(key) + " = \"" + url + "\"\nntfy_topic = \"afk\"";
      const std::string message = problems_of(text);
      EXPECT_NE(message.find(why), std::string::npos) << message;
      EXPECT_EQ(message.find("XXXXsecretXXXX"), std::string::npos) << message;
      EXPECT_EQ(message.find("0123456789"), std::string::npos) << message;
    }
  }
  EXPECT_EQ(problems_of("[t3]\nurl = \"" + std::string(k_token) + "\""),
            "t.toml:2:7: t3.url: " + why);
  // Parameters that carry no secret are fine.
  EXPECT_EQ(afk::parse_config("[t3]\nweb_url = \"https://t3.example/?theme=dark\"", k_source, {})
                .t3.web_url,
            "https://t3.example/?theme=dark");
}

// --- URLs ---------------------------------------------------------------------------

TEST(Config, url_schemes_compare_ignoring_case_and_are_stored_lower_case) {
  const Config config = afk::parse_config(
      "[tracker]\napi_url = \"HTTPS://Api.Example.com/v3\"\n[t3]\nurl = \"Http://127.0.0.1:3773\"",
      k_source, {});
  EXPECT_EQ(config.tracker.api_url, "https://Api.Example.com/v3");
  EXPECT_EQ(config.t3.url, "http://127.0.0.1:3773");
}

TEST(Config, urls_need_a_host_and_a_valid_port) {
  const std::string url = "an http:// or https:// URL";
  for (const char* text : {"http://:80", "https:///x", "https://", "https://?q=1", "http://[::1",
                           "http://[::1]x", "http://a b"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(problems_of(std::string("[t3]\nurl = \"") + text + "\""),
              "t.toml:2:7: t3.url: expected " + url + " with a host, got \"" + text + "\"");
  }
  for (const char* text : {"http://h:0", "http://h:65536", "http://h:x", "http://h:"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(problems_of(std::string("[t3]\nurl = \"") + text + "\""),
              "t.toml:2:7: t3.url: expected " + url + " with a port from 1 to 65535, got \"" +
                  text + "\"");
  }
  EXPECT_EQ(afk::parse_config("[t3]\nurl = \"http://[::1]:65535/x\"", k_source, {}).t3.url,
            "http://[::1]:65535/x");
}

TEST(Config, token_bearing_urls_need_https_except_on_loopback) {
  const std::string secure = "an https:// URL, since afk sends a token there (http:// only for a "
                             "loopback host: 127.0.0.0/8, localhost or [::1])";
  struct Key {
    const char* table;
    const char* key;
    const char* dotted;
  };
  for (const Key& k : {Key{"tracker", "api_url", "tracker.api_url"},
                       Key{"deploy.woodpecker", "url", "deploy.woodpecker.url"},
                       Key{"deploy.kubernetes", "api_url", "deploy.kubernetes.api_url"},
                       Key{"notify", "ntfy_url", "notify.ntfy_url"}}) {
    SCOPED_TRACE(k.dotted);
    const auto text = [&](const std::string& url) {
      return std::string("[") + k.table + "]\n" + k.key + " = \"" + url + "\"\n" +
             (std::string(k.table) == "notify" ? "ntfy_topic = \"afk\"\n" : "");
    };
    const int column = static_cast<int>(std::string(k.key).size()) + 4;
    for (const char* url :
         {"http://api.example.com", "http://127.0.0.1.example.com", "http://localhost.example.com",
          "http://127.0.0.256", "http://127.0.0", "http://[::2]"}) {
      SCOPED_TRACE(url);
      EXPECT_EQ(problems_of(text(url)), "t.toml:2:" + std::to_string(column) + ": " + k.dotted +
                                            ": expected " + secure + ", got \"" + url + "\"");
    }
    for (const char* url :
         {"https://api.example.com", "http://127.0.0.1:8001", "http://127.255.1.2/x",
          "http://localhost:9", "HTTP://LOCALHOST", "http://[::1]:8080"}) {
      SCOPED_TRACE(url);
      EXPECT_NO_THROW((void)afk::parse_config(text(url), k_source, {}));
    }
  }
  // t3.url may be plain http when said so (an in-cluster Service); web_url always (no token).
  EXPECT_NO_THROW((void)afk::parse_config("[t3]\nurl = \"http://t3.afk.svc:3773\"\n"
                                          "allow_plain_http = true\n[tracker]\n"
                                          "web_url = \"http://forge\"",
                                          k_source, {}));
  EXPECT_EQ(problems_of("[t3]\nurl = \"http://t3.afk.svc:3773\""),
            "t.toml:2:7: t3.url: expected " + secure +
                ", or t3.allow_plain_http = true when the network to T3 is trusted (a cluster "
                "Service): the T3 token would cross it unencrypted");
}

TEST(Config, clone_url_needs_https_when_a_git_token_is_sent) {
  EXPECT_EQ(problems_of("[git]\nclone_url = \"http://git.example.com/{repo}.git\"\n"
                        "token_file = \"/run/secrets/git\""),
            "t.toml:2:13: git.clone_url: expected an https:// URL, since afk sends a token there "
            "(http:// only for a loopback host: 127.0.0.0/8, localhost or [::1]) when "
            "git.token_file is set");
  EXPECT_NO_THROW((void)afk::parse_config(
      "[git]\nclone_url = \"http://git.example.com/{repo}.git\"", k_source, {}));
  EXPECT_NO_THROW(
      (void)afk::parse_config("[git]\nclone_url = \"http://127.0.0.1:3000/{repo}.git\"\n"
                              "token_file = \"/run/secrets/git\"",
                              k_source, {}));
}

TEST(Config, ntfy_topics_follow_ntfys_rule_and_are_never_echoed) {
  EXPECT_EQ(problems_of("[notify]\nntfy_url = \"https://ntfy.sh\"\nntfy_topic = \"secret topic!\""),
            "t.toml:3:14: notify.ntfy_topic: expected 1 to 64 of A-Z, a-z, 0-9, '-' and '_' "
            "(ntfy's topic names); the value is not shown");
  EXPECT_EQ(problems_of("[notify]\nntfy_topic = \"afk\""),
            "t.toml:2:14: notify.ntfy_topic: set without notify.ntfy_url");
  const auto config = afk::parse_config(
      "[notify]\nntfy_url = \"https://ntfy.sh\"\nntfy_topic = \"afk_alerts-1\"\ntimeout = \"3s\"\n"
      "[git]\nlock_timeout = \"2m\"\n[agent]\npreamble_file = \"/etc/afk/preamble.md\"",
      k_source, {});
  EXPECT_EQ(config.notify.ntfy_topic, "afk_alerts-1");
  EXPECT_EQ(config.notify.timeout, std::chrono::seconds(3));
  EXPECT_EQ(config.git.lock_timeout, std::chrono::minutes(2));
  EXPECT_EQ(config.agent.preamble_file, "/etc/afk/preamble.md");
}

TEST(Config, clone_url_may_be_a_local_file_origin) {
  const auto config = afk::parse_config("[git]\nclone_url = \"FILE:///srv/git/{repo}.git\"\n"
                                        "token_file = \"/run/secrets/git\"",
                                        k_source, {});
  EXPECT_EQ(config.git.clone_url, "file:///srv/git/{repo}.git");
  for (const std::string bad : {"file://host/srv/{repo}.git", "file:///srv/../etc/{repo}",
                                "file:///srv/git/x.git", "file://relative/{repo}"}) {
    EXPECT_NE(problems_of("[git]\nclone_url = \"" + bad + "\"")
                  .find("git.clone_url: expected a file:/// URL with an absolute path"),
              std::string::npos)
        << bad;
  }
}

// --- Forgejo never falls back to GitHub -----------------------------------------------

TEST(Config, forgejo_requires_its_own_api_web_and_clone_urls) {
  const std::string forgejo = "required when tracker.kind is \"forgejo\" (the default ";
  EXPECT_EQ(lines_of(problems_of("[tracker]\nkind = \"forgejo\"")),
            (std::vector<std::string>{
                "t.toml:1:1: tracker.api_url: " + forgejo + "is GitHub's)",
                "t.toml:1:1: tracker.web_url: " + forgejo +
                    "is GitHub's: links would point at github.com)",
                "t.toml: git.clone_url: " + forgejo +
                    "clones from github.com, and git.token_file would be sent there)",
            }));
  EXPECT_EQ(problems_of("[tracker]\nkind = \"forgejo\"\napi_url = \"https://codeberg.org/api/v1\"\n"
                        "web_url = \"https://codeberg.org\"\n[git]\nroot = \"/srv\""),
            "t.toml:5:1: git.clone_url: " + forgejo +
                "clones from github.com, and git.token_file would be sent there)");
  const Config config = afk::parse_config(
      "[tracker]\nkind = \"forgejo\"\napi_url = \"https://codeberg.org/api/v1\"\n"
      "web_url = \"https://codeberg.org\"\n[git]\nclone_url = \"https://codeberg.org/{repo}.git\"",
      k_source, {});
  EXPECT_EQ(config.git.clone_url, "https://codeberg.org/{repo}.git");
  EXPECT_EQ(config.tracker.web_url, "https://codeberg.org");
}

// --- labels -------------------------------------------------------------------------

TEST(Config, label_names_are_valid_github_labels) {
  const std::string fifty(50, 'x');
  const std::string accented = [] {
    std::string out;
    for (int i = 0; i < 50; ++i) {
      out += "\xc3\xa9"; // é: two bytes, one character
    }
    return out;
  }();
  const Config ok = afk::parse_config("[labels]\nready = \"" + fifty + "\"\nhuman = \"" + accented +
                                          "\"\npriority_prefix = \"" + std::string(49, 'p') + "\"",
                                      k_source, {});
  EXPECT_EQ(ok.labels.ready, fifty);
  EXPECT_EQ(ok.labels.human, accented);
  EXPECT_EQ(problems_of("[labels]\nready = \"a,b\""),
            "t.toml:2:9: labels.ready: expected a label name without ',' (GitHub's labels= filter "
            "splits on it), got \"a,b\"");
  EXPECT_EQ(problems_of("[labels]\nfrozen = \"" + fifty + "y\""),
            "t.toml:2:10: labels.frozen: expected a label name of at most 50 characters (GitHub's "
            "limit is 50), got \"" +
                std::string(40, 'x') + "...\"");
  EXPECT_EQ(problems_of("[labels]\npriority_prefix = \"" + fifty + "\""),
            "t.toml:2:19: labels.priority_prefix: expected a label prefix of at most 49 "
            "characters (GitHub's limit is 50), got \"" +
                std::string(40, 'x') + "...\"");
  EXPECT_EQ(problems_of("[labels]\npriority_prefix = \"p,\""),
            "t.toml:2:19: labels.priority_prefix: expected a label prefix without ',' (GitHub's "
            "labels= filter splits on it), got \"p,\"");
  EXPECT_EQ(problems_of("[labels]\nhuman = \"a\\tb\""),
            "t.toml:2:9: labels.human: expected a non-empty string without control characters");
}

TEST(Config, label_names_are_distinct_ignoring_case) {
  const std::string same = " (label names ignore case)";
  EXPECT_EQ(problems_of("[labels]\nready = \"Busy\"\nin_progress = \"busy\""),
            "t.toml:3:15: labels.in_progress: same label as labels.ready" + same);
  // Reported where the file sets it, also when it clashes with a default.
  EXPECT_EQ(problems_of("[labels]\nhuman = \"Agent-In-Progress\""),
            "t.toml:2:9: labels.human: same label as labels.in_progress" + same);
  EXPECT_EQ(problems_of("[labels]\nfrozen = \"x\"\nready = \"X\""),
            "t.toml:3:9: labels.ready: same label as labels.frozen" + same);
  EXPECT_EQ(lines_of(problems_of("[labels]\nready = \"a\"\nin_progress = \"A\"\nhuman = \"a\"")),
            (std::vector<std::string>{
                "t.toml:3:15: labels.in_progress: same label as labels.ready" + same,
                "t.toml:4:9: labels.human: same label as labels.ready" + same,
                "t.toml:4:9: labels.human: same label as labels.in_progress" + same}));
}

TEST(Config, priority_prefix_is_no_prefix_of_afks_labels) {
  const std::string confused = " (ignoring case): priority labels must not be confused with "
                               "afk's own";
  EXPECT_EQ(problems_of("[labels]\npriority_prefix = \"READY-FOR-A\""),
            "t.toml:2:19: labels.priority_prefix: is a prefix of labels.ready" + confused);
  EXPECT_EQ(problems_of("[labels]\npriority_prefix = \"afk-frozen\""),
            "t.toml:2:19: labels.priority_prefix: is a prefix of labels.frozen" + confused);
  EXPECT_EQ(problems_of("[labels]\nready = \"Priority:go\""),
            "t.toml:2:9: labels.ready: starts with labels.priority_prefix" + confused);
  EXPECT_EQ(lines_of(problems_of("[labels]\npriority_prefix = \"\\u0061\"\nready = \"a1\"\n"
                                 "in_progress = \"afk\"")),
            (std::vector<std::string>{
                "t.toml:2:19: labels.priority_prefix: is a prefix of labels.frozen" + confused,
                "t.toml:3:9: labels.ready: starts with labels.priority_prefix" + confused,
                "t.toml:4:15: labels.in_progress: starts with labels.priority_prefix" + confused,
            }));
}

// --- budget_time --------------------------------------------------------------------

TEST(Config, reference_config_documents_budget_time_as_a_pre_push_limit) {
  // The lifecycle checks budget_time only while nothing is pushed, from claimed_at, as it
  // does pre_push_deadline; the reference must say so and not promise "claim to healthy".
  std::string text = read_text(AFK_REFERENCE_CONFIG);
  for (std::size_t at; (at = text.find("\n# ")) != std::string::npos;) {
    text.replace(at, 3, " ");
  }
  EXPECT_NE(text.find("Wall time from claim while nothing is pushed (escalates)"),
            std::string::npos);
  EXPECT_NE(text.find("Runs on the same clock as pre_push_deadline: whichever is shorter fires "
                      "first."),
            std::string::npos);
  EXPECT_EQ(text.find("to healthy"), std::string::npos);
  // Both are accepted whichever is larger.
  EXPECT_NO_THROW((void)afk::parse_config(
      "[limits]\nbudget_time = \"1h\"\npre_push_deadline = \"3h\"", k_source, {}));
  EXPECT_NO_THROW((void)afk::parse_config(
      "[limits]\nbudget_time = \"3h\"\npre_push_deadline = \"1h\"", k_source, {}));
}

// --- armed: every allowlisted repository's stages are checkable ----------------------

std::string armed(const std::string& allowlist, const std::string& rest) {
  return "kill_switch = false\nallowlist = [" + allowlist + "]\n" + rest + k_credentials;
}

TEST(Config, armed_github_checks_stage_needs_a_github_tracker) {
  const std::string forgejo = R"(
[tracker]
kind = "forgejo"
api_url = "https://forgejo.example/api/v1"
web_url = "https://forgejo.example"
token_file = "/run/secrets/tracker"
login = "afk-bot"
[t3]
url = "https://t3:3773"
token_file = "/run/secrets/t3"
[git]
clone_url = "https://forgejo.example/{repo}.git"
)";
  const std::string head = "kill_switch = false\nallowlist = [\"a/b\"]\n";
  EXPECT_EQ(problems_of(head + "[deploy]\nstages = [\"github_checks\"]\n" + forgejo),
            "t.toml:4:10: deploy.stages: stage \"github_checks\" for a/b needs tracker.kind "
            "\"github\": it reads GitHub's check runs (with Forgejo, use \"woodpecker\")");
  EXPECT_NO_THROW((void)afk::parse_config(
      head +
          "[deploy]\nstages = [\"woodpecker\"]\n[deploy.woodpecker]\nurl = \"https://ci\"\n"
          "token_file = \"/run/secrets/ci\"\n" +
          forgejo,
      k_source, {}));
}

TEST(Config, armed_woodpecker_stage_needs_url_and_token) {
  EXPECT_EQ(problems_of(armed(R"("a/b", "C/D")", "[deploy]\nstages = [\"woodpecker\"]\n")),
            "t.toml:4:10: deploy.stages: stage \"woodpecker\" for a/b, C/D needs "
            "deploy.woodpecker.url and deploy.woodpecker.token_file");
  EXPECT_EQ(problems_of(armed(R"("a/b")", "[deploy]\nstages = [\"woodpecker\"]\n"
                                          "[deploy.woodpecker]\nurl = \"https://ci\"\n")),
            "t.toml:4:10: deploy.stages: stage \"woodpecker\" for a/b needs "
            "deploy.woodpecker.token_file");
  EXPECT_NO_THROW((void)afk::parse_config(
      armed(R"("a/b")", "[deploy]\nstages = [\"woodpecker\"]\n[deploy.woodpecker]\n"
                        "url = \"https://ci\"\ntoken_file = \"/run/secrets/ci\"\n"),
      k_source, {}));
  // Disarmed, nothing is checked.
  EXPECT_NO_THROW((void)afk::parse_config(
      "allowlist = [\"a/b\"]\n[deploy]\nstages = [\"woodpecker\"]\n", k_source, {}));
}

TEST(Config, armed_kubernetes_stage_needs_a_deployment) {
  const std::string needs = " needs at least one deployment to watch: set "
                            "deploy.kubernetes.deployments or repos.";
  // Global stages, allowlist from the environment.
  EXPECT_EQ(problems_of(std::string("[deploy]\nstages = [\"github_checks\", \"kubernetes\"]\n") +
                            k_credentials,
                        Environment{"off", "a/b"}),
            "t.toml:2:10: deploy.stages: stage \"kubernetes\" for a/b" + needs +
                "\"a/b\".kubernetes_deployments");
  // A repository's own stages, reported there and naming the table as written.
  EXPECT_EQ(problems_of(armed(R"("a/b", "c/d")", "[repos.\"A/B\"]\nstages = [\"kubernetes\"]\n")),
            "t.toml:4:10: repos.\"A/B\".stages: stage \"kubernetes\" for a/b" + needs +
                "\"A/B\".kubernetes_deployments");
  // Its own empty deployments replace the global ones.
  EXPECT_EQ(problems_of(armed(R"("a/b")", "[deploy]\nstages = [\"kubernetes\"]\n"
                                          "[deploy.kubernetes]\ndeployments = [\"web\"]\n"
                                          "[repos.\"a/b\"]\nkubernetes_deployments = []\n")),
            "t.toml:4:10: deploy.stages: stage \"kubernetes\" for a/b needs at least one "
            "deployment to watch, and repos.\"a/b\".kubernetes_deployments is empty");
  // Satisfied globally, or by the repository's own list.
  EXPECT_NO_THROW((void)afk::parse_config(
      armed(R"("a/b")", "[deploy]\nstages = [\"kubernetes\"]\n[deploy.kubernetes]\n"
                        "deployments = [\"web\"]\n"),
      k_source, {}));
  EXPECT_NO_THROW((void)afk::parse_config(armed(R"("a/b", "c/d")",
                                                "[repos.\"a/b\"]\nstages = [\"kubernetes\"]\n"
                                                "kubernetes_deployments = [\"web\"]\n"),
                                          k_source, {}));
  // A repository whose own stages leave kubernetes out needs no deployment.
  EXPECT_NO_THROW((void)afk::parse_config(
      armed(R"("a/b")", "[deploy]\nstages = [\"kubernetes\"]\n[repos.\"a/b\"]\n"
                        "stages = [\"github_checks\"]\n"),
      k_source, {}));
}

TEST(Config, armed_overrides_must_name_an_allowlisted_repository) {
  const std::string why = ": not in allowlist; a typo here would silently fall back to the "
                          "global stages";
  EXPECT_EQ(
      problems_of(armed(R"("acme/shop")", "[repos.\"acme/shpo\"]\ndefault_branch = \"main\"\n")),
      "t.toml:3:8: repos.\"acme/shpo\"" + why);
  // Names compare ignoring case.
  EXPECT_NO_THROW((void)afk::parse_config(
      armed(R"("Acme/Shop")", "[repos.\"acme/SHOP\"]\ndefault_branch = \"main\"\n"), k_source, {}));
  // Narrowing the allowlist from the environment (an incident) keeps the file's
  // overrides valid, and an allowlist that only the environment gives counts too.
  EXPECT_NO_THROW((void)afk::parse_config(
      armed(R"("acme/shop", "acme/api")", "[repos.\"acme/shop\"]\ndefault_branch = \"main\"\n"),
      k_source, Environment{{}, "acme/api"}));
  EXPECT_NO_THROW((void)afk::parse_config(
      armed(R"("acme/api")", "[repos.\"acme/shop\"]\ndefault_branch = \"main\"\n"), k_source,
      Environment{{}, "acme/shop"}));
  EXPECT_EQ(
      problems_of(armed(R"("acme/api")", "[repos.\"acme/shop\"]\ndefault_branch = \"main\"\n"),
                  Environment{{}, "acme/web"}),
      "t.toml:3:8: repos.\"acme/shop\"" + why);
  // Disarmed, overrides may be staged ahead of the allowlist.
  EXPECT_NO_THROW(
      (void)afk::parse_config("[repos.\"acme/shop\"]\ndefault_branch = \"main\"\n", k_source, {}));
}

} // namespace
