// SPDX-License-Identifier: MIT
// Secrets and child processes, end to end with the built `afk` binary (issue 9). The fake
// world (support/world_fixture.hpp) plus a Slack webhook and an ntfy server on loopback; the
// tracker, T3 and ntfy tokens and the Slack webhook URL are distinctive values in files.
// Every afk process runs under a seccomp filter that kills it if it starts a child process,
// and after a whole run (tick to closure, escalation, status, doctor, dispatch, freeze, thaw)
// and after failures (rejected tokens, T3 down, sinks down) everything afk wrote or sent is
// scanned for every secret: stdout, stderr (the log), every request line, header and body
// the fakes received, what T3 and GitHub hold, and every file under git.root.
#include "support/loopback_server.hpp"
#include "support/process.hpp"
#include "support/self_signed.hpp"
#include "support/world_fixture.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using afk::test::k_repo;

// ---- a process that may not start another -------------------------------------------------

#if defined(__x86_64__)
constexpr std::uint32_t k_audit_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t k_audit_arch = AUDIT_ARCH_AARCH64;
#else
constexpr std::uint32_t k_audit_arch = 0; // the tests skip
#endif

// Kills the process (SIGSYS) when it creates a process: fork, vfork, or clone without
// CLONE_THREAD. clone3 answers ENOSYS (its flags are behind a pointer the filter cannot
// read), so glibc falls back to clone for threads and posix_spawn alike.
std::vector<sock_filter> no_children_filter() {
  const auto stmt = [](std::uint16_t code, std::uint32_t k) {
    return sock_filter{code, 0, 0, k};
  };
  const auto jump = [](std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
    return sock_filter{code, jt, jf, k};
  };
  constexpr std::uint32_t kill = SECCOMP_RET_KILL_PROCESS;
  constexpr std::uint32_t allow = SECCOMP_RET_ALLOW;
  std::vector<sock_filter> f;
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, k_audit_arch, 1, 0));
  f.push_back(stmt(BPF_RET | BPF_K, kill));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
#ifdef __NR_clone3
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
#endif
#ifdef __NR_fork
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_fork, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, kill));
#endif
#ifdef __NR_vfork
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_vfork, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, kill));
#endif
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0));
  f.push_back(stmt(BPF_RET | BPF_K, allow));
  // clone(flags, ...): the low 32 bits of the first argument (little-endian).
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args)));
  f.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, allow));
  f.push_back(stmt(BPF_RET | BPF_K, kill));
  return f;
}

constexpr int k_killed_for_a_child = 128 + SIGSYS;

// As afk::test::run_process (exactly `env`, no shell, stdout and stderr captured), under
// no_children_filter(). The exit code is 128 + SIGSYS when the process tried to start one.
afk::test::ProcessResult run_without_children(const std::vector<std::string>& argv,
                                              const std::map<std::string, std::string>& env,
                                              const fs::path& scratch) {
  fs::create_directories(scratch);
  const std::string out_path = (scratch / "stdout").string();
  const std::string err_path = (scratch / "stderr").string();
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : env) {
    env_strings.push_back(key + "=" + value);
  }
  std::vector<char*> c_argv;
  for (const auto& a : argv) {
    c_argv.push_back(const_cast<char*>(a.c_str()));
  }
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (auto& e : env_strings) {
    c_env.push_back(e.data());
  }
  c_env.push_back(nullptr);
  std::vector<sock_filter> filter = no_children_filter();
  const sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};

  // Only async-signal-safe calls between fork and exec: the test process has threads.
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 ||
        ::dup2(err, 2) < 0 || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
      ::_exit(126);
    }
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) {
    throw std::runtime_error("waitpid failed");
  }
  const auto slurp = [](const std::string& p) {
    std::ifstream file(p);
    std::stringstream s;
    s << file.rdbuf();
    return s.str();
  };
  afk::test::ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  return result;
}

// ---- a notification sink that records what it received ------------------------------------

struct SinkRequest {
  std::string method, path, body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class RecordingSink {
public:
  explicit RecordingSink(std::function<void(const httplib::Request&, httplib::Response&)> answer)
      : m_answer(std::move(answer))
      , m_server([this](const httplib::Request& req, httplib::Response& res) {
        {
          const std::lock_guard lock(m_mutex);
          m_requests.push_back(
              {req.method, req.path, req.body, {req.headers.begin(), req.headers.end()}});
        }
        m_answer(req, res);
      }) {}
  [[nodiscard]] std::string url() const { return m_server.url(); }
  [[nodiscard]] std::vector<SinkRequest> requests() const {
    const std::lock_guard lock(m_mutex);
    return m_requests;
  }

private:
  std::function<void(const httplib::Request&, httplib::Response&)> m_answer;
  mutable std::mutex m_mutex;
  std::vector<SinkRequest> m_requests;
  afk::test::LoopbackServer m_server;
};

// A loopback port nothing listens on: bound, never listened on, closed.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

struct Secret {
  std::string name, value;
};

class SecretsE2E : public afk::test::WorldFixture {
protected:
  void SetUp() override {
    if (k_audit_arch == 0) {
      GTEST_SKIP() << "the no-children seccomp filter knows x86_64 and aarch64 only";
    }
    WorldFixture::SetUp();
    m_slack_path = "/services/T0AFKSEC/B0AFKSEC/slack-hook-Vq3ZkP9wLx2";
    std::ofstream(m_dir / "slack-webhook") << m_slack.url() << m_slack_path << "\n";
    std::ofstream(m_dir / "ntfy-token") << k_ntfy_token << "\n";
    std::ifstream t3(m_dir / "t3-token");
    std::getline(t3, m_t3_token);
    m_secrets = {{"tracker token", m_github.options().token},
                 {"T3 token", m_t3_token},
                 {"T3 token signature", m_t3_token.substr(m_t3_token.find('.') + 1)},
                 {"Slack webhook secret", "slack-hook-Vq3ZkP9wLx2"},
                 {"Slack webhook URL", m_slack.url() + m_slack_path},
                 {"ntfy token", k_ntfy_token},
                 {"wrong tracker token", k_wrong_tracker_token},
                 {"wrong T3 token", k_wrong_t3_token}};
  }

  static constexpr const char* k_ntfy_token = "tk_ntfysecretQ7mX2vR8pL4nZ0";
  static constexpr const char* k_wrong_tracker_token = "wrong-tracker-token-7Hq2LzW4c";
  static constexpr const char* k_wrong_t3_token = "wrong-t3-token-P9xK3vB6d";

  // The fixture's config plus both notification sinks; `t3_url` replaces T3's URL,
  // `tracker_url` the tracker's.
  fs::path secrets_config(const std::string& t3_url = {}, const std::string& tracker_url = {}) {
    std::string text = config_text();
    for (const auto& [from, to] : {std::pair{m_t3.url(), t3_url}, {m_github.url(), tracker_url}}) {
      if (!to.empty()) {
        const std::string real = "url = \"" + from + "\"";
        text.replace(text.find(real), real.size(), "url = \"" + to + "\"");
      }
    }
    text += "[notify]\nslack_webhook_file = \"" + (m_dir / "slack-webhook").string() +
            "\"\nntfy_url = \"" + m_ntfy.url() + "\"\nntfy_topic = \"afk-alerts\"\n" +
            "ntfy_token_file = \"" + (m_dir / "ntfy-token").string() + "\"\n";
    const fs::path path = m_dir / "afk-secrets.toml";
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }

  // Runs `afk <args...> --config <file>` as the CronJob would, remembering what it printed.
  afk::test::ProcessResult run_afk(std::vector<std::string> args, const std::string& t3_url = {},
                                   const std::string& tracker_url = {},
                                   std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv{AFK_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.emplace_back("--config");
    argv.emplace_back(secrets_config(t3_url, tracker_url).string());
    std::string joined;
    for (const auto& a : argv) {
      joined += a + ' ';
    }
    env.emplace("PATH", "/usr/bin:/bin");
    env.emplace("HOME", m_dir.string());
    env.emplace("no_proxy", "*");
    env.emplace("ASAN_OPTIONS", "detect_leaks=0"); // LeakSanitizer's exit check clones a tracer
    auto result = run_without_children(argv, env, m_dir / "afk-scratch");
    EXPECT_NE(result.exit_code, k_killed_for_a_child) << joined << "started a child process";
    EXPECT_LT(result.exit_code, 126) << joined << result.err;
    m_places.push_back({"argv of " + joined, joined});
    m_places.push_back({"stdout of " + joined, result.out});
    m_places.push_back({"stderr of " + joined, result.err});
    return result;
  }

  // Everything afk wrote or sent, with where it was. Credentials are checked where they must
  // be (each Authorization header to its own server, the webhook's path on the webhook).
  std::vector<std::pair<std::string, std::string>> everything_afk_left() {
    auto places = m_places;
    m_authorized = 0;
    for (const auto& r : m_github.requests()) {
      const std::string where = "GitHub " + r.method + " " + r.target;
      places.emplace_back(where + " (request line)", r.target);
      places.emplace_back(where + " (body)", r.body);
      for (const auto& [name, value] : r.headers) {
        if (iequals(name, "Authorization")) {
          EXPECT_TRUE(value == "Bearer " + m_github.options().token ||
                      value == "Bearer " + std::string(k_wrong_tracker_token))
              << where << ": " << value;
          m_authorized += value == "Bearer " + m_github.options().token ? 1 : 0;
        } else {
          places.emplace_back(where + " header " + name, name + ": " + value);
        }
      }
    }
    for (std::int64_t n = 1; const auto issue = m_github.issue(k_repo, n); ++n) {
      const std::string where = "GitHub issue #" + std::to_string(n);
      places.emplace_back(where + " body", issue->body);
      for (const auto& [author, body] : issue->comments) {
        places.emplace_back(where + " comment by " + author, body);
      }
    }
    for (const auto& r : m_t3.requests()) {
      const std::string where = "T3 " + r.method + " " + r.path;
      places.emplace_back(where + " (path)", r.path);
      places.emplace_back(where + " (body)", r.body);
      places.emplace_back(where + " (cookie)", r.cookie);
      places.emplace_back(where + " (content type)", r.content_type);
      EXPECT_TRUE(r.authorization.empty() || r.authorization == "Bearer " + m_t3_token ||
                  r.authorization == "Bearer " + std::string(k_wrong_t3_token))
          << where << ": " << r.authorization;
    }
    places.emplace_back("T3's read model", m_t3.snapshot_json());
    for (const auto& r : m_slack.requests()) {
      EXPECT_EQ(r.path, m_slack_path);
      places.emplace_back("Slack body", r.body);
      for (const auto& [name, value] : r.headers) {
        places.emplace_back("Slack header " + name, name + ": " + value);
      }
    }
    for (const auto& r : m_ntfy.requests()) {
      places.emplace_back("ntfy " + r.path, r.path);
      places.emplace_back("ntfy body", r.body);
      for (const auto& [name, value] : r.headers) {
        if (iequals(name, "Authorization")) {
          EXPECT_EQ(value, "Bearer " + std::string(k_ntfy_token));
        } else {
          places.emplace_back("ntfy header " + name, name + ": " + value);
        }
      }
    }
    places.emplace_back("the config file", slurp(m_dir / "afk-secrets.toml"));
    if (fs::exists(m_dir / "checkouts")) {
      for (const auto& entry : fs::recursive_directory_iterator(m_dir / "checkouts")) {
        if (entry.is_regular_file()) {
          places.emplace_back(entry.path().string(), slurp(entry.path()));
        }
      }
    }
    return places;
  }

  // "the <secret> appears in <where>", one per finding.
  std::vector<std::string> leaks() {
    std::vector<std::string> found;
    for (const auto& [where, text] : everything_afk_left()) {
      for (const auto& secret : m_secrets) {
        if (text.find(secret.value) != std::string::npos) {
          found.push_back("the " + secret.name + " appears in " + where);
        }
      }
    }
    return found;
  }

  void expect_no_secret_anywhere() {
    const auto found = leaks();
    EXPECT_GT(everything_afk_left().size(), 50U); // the scan saw the world, not an empty list
    EXPECT_GT(m_authorized, 0);                   // the real token was in use, where it belongs
    EXPECT_TRUE(found.empty()) << testing::PrintToString(found);
  }

  static bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) ==
             std::tolower(static_cast<unsigned char>(y));
    });
  }

  static std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string m_t3_token;
  std::string m_slack_path;
  std::vector<Secret> m_secrets;
  int m_authorized = 0; ///< GitHub requests that carried the real token (everything_afk_left)
  std::vector<std::pair<std::string, std::string>> m_places;
  RecordingSink m_slack{[](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  }};
  RecordingSink m_ntfy{[](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer " + std::string(k_ntfy_token)) {
      res.status = 401;
      res.set_content(R"({"code":40101,"http":401,"error":"unauthorized"})", "application/json");
      return;
    }
    res.set_content(R"({"id":"msg1","time":1767225600,"event":"message","topic":"afk-alerts"})",
                    "application/json");
  }};
};

// The harness can fail: a program that starts a child is killed and reported.
TEST_F(SecretsE2E, the_harness_catches_a_child_process) {
  const auto forked =
      run_without_children({"/bin/sh", "-c", "/bin/true; /bin/true"}, {}, m_dir / "probe");
  EXPECT_EQ(forked.exit_code, k_killed_for_a_child);
  const auto alone = run_without_children({"/bin/true"}, {}, m_dir / "probe");
  EXPECT_EQ(alone.exit_code, 0);
}

// The scan can fail: a secret planted where afk writes is found.
TEST_F(SecretsE2E, the_scan_finds_a_planted_secret) {
  fs::create_directories(m_dir / "checkouts" / "acme");
  std::ofstream(m_dir / "checkouts" / "acme" / "planted") << "token=" << m_t3_token << "\n";
  m_places.emplace_back("a planted log line", std::string("auth ") + k_ntfy_token);
  const auto found = leaks();
  EXPECT_EQ(found.size(), 3U) << testing::PrintToString(found); // the token, its signature, ntfy
}

TEST_F(SecretsE2E, a_whole_run_and_every_operator_verb_leak_no_secret_and_start_no_process) {
  // A run to closure (success notified).
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "GET /healthz returns 200.",
                                {"ready-for-agent"}, "alice");
  ASSERT_EQ(run_afk({"tick"}).exit_code, 0);
  m_t3.advance();
  ASSERT_EQ(m_pushed.size(), 40U);
  ASSERT_EQ(run_afk({"tick"}).exit_code, 0);
  m_github.add_check_run(k_repo, m_pushed, "build", "completed", "success");
  const auto closing = run_afk({"tick"});
  ASSERT_EQ(closing.exit_code, 0) << closing.err;
  EXPECT_NE(closing.out.find("-> done"), std::string::npos) << closing.out;

  // An agent that gives up: escalated (loud notification).
  m_agent_pushes = false;
  m_issue = m_github.open_issue(k_repo, "Add a readiness probe", "", {"ready-for-agent"}, "alice");
  ASSERT_EQ(run_afk({"tick"}).exit_code, 0);
  m_t3.advance();
  ASSERT_EQ(run_afk({"tick"}).exit_code, 0);
  EXPECT_TRUE(has(labels(), "ready-for-human"));

  // The operator verbs, on a third issue whose title tries to drive the operator's terminal.
  m_agent_hangs = true;
  m_issue = m_github.open_issue(k_repo, "Add metrics\x1b]0;owned\x07\x1b[2J \u202Eevil", "",
                                {"ready-for-agent"}, "alice");
  (void)run_afk({"status"});
  (void)run_afk({"status", "--json"});
  (void)run_afk({"doctor"});
  (void)run_afk({"doctor", "--json"});
  (void)run_afk({"tick", "--dry-run"});
  const std::string issue = std::string(k_repo) + "#" + std::to_string(m_issue);
  EXPECT_EQ(run_afk({"dispatch", issue}).exit_code, 0);
  m_t3.step(); // the agent is working when the operator freezes
  EXPECT_EQ(run_afk({"freeze", k_repo, "--reason", "security drill"}).exit_code, 0);
  (void)run_afk({"status"});
  EXPECT_EQ(run_afk({"thaw", k_repo}).exit_code, 0);
  (void)run_afk({"config", "check"});

  // The scan is worth something only if the secrets were used and the sinks were reached.
  EXPECT_GE(m_slack.requests().size(), 3U);
  EXPECT_GE(m_ntfy.requests().size(), 3U);
  expect_no_secret_anywhere();
  // What afk printed for people carries no terminal escapes or bidi overrides from a title.
  for (const auto& [where, text] : m_places) {
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << where;
    EXPECT_EQ(text.find("\u202E"), std::string::npos) << where;
  }
  for (const auto& sink : {m_slack.requests(), m_ntfy.requests()}) {
    for (const auto& r : sink) {
      EXPECT_EQ(r.body.find("\u202E"), std::string::npos) << r.body;
    }
  }
}

TEST_F(SecretsE2E, failures_name_what_failed_without_the_secret) {
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "", {"ready-for-agent"}, "alice");

  // The tracker rejects the token (401 Bad credentials).
  std::ofstream(m_dir / "gh-token", std::ios::trunc) << k_wrong_tracker_token << "\n";
  const auto rejected = run_afk({"tick"});
  EXPECT_NE(rejected.out.find("401"), std::string::npos) << rejected.out << rejected.err;
  (void)run_afk({"status"});
  (void)run_afk({"doctor"});
  std::ofstream(m_dir / "gh-token", std::ios::trunc) << m_github.options().token << "\n";

  // T3 rejects its token: the dispatch fails after the claim.
  std::ofstream(m_dir / "t3-token", std::ios::trunc) << k_wrong_t3_token << "\n";
  const auto t3_rejected = run_afk({"tick"});
  EXPECT_NE((t3_rejected.out + t3_rejected.err).find("401"), std::string::npos)
      << t3_rejected.out << t3_rejected.err;
  (void)run_afk({"doctor"});
  std::ofstream(m_dir / "t3-token", std::ios::trunc) << m_t3_token << "\n";

  // T3 is down.
  const std::string down = "http://127.0.0.1:" + std::to_string(closed_port());
  (void)run_afk({"tick"}, down);
  (void)run_afk({"status"}, down);

  // The tracker presents a certificate nobody vouches for, and the environment holds every
  // switch that turns verification off somewhere else: afk refuses before sending anything.
  const auto cert = afk::test::make_self_signed(m_dir, "tracker", "IP:127.0.0.1");
  ASSERT_TRUE(cert.has_value()) << "no usable " << afk::test::k_openssl;
  afk::test::SelfSignedServer impostor(*cert);
  ASSERT_TRUE(impostor.valid());
  const std::map<std::string, std::string> insecure_env = {{"GIT_SSL_NO_VERIFY", "1"},
                                                           {"CURL_INSECURE", "1"},
                                                           {"AFK_INSECURE", "1"},
                                                           {"AFK_TLS_VERIFY", "false"},
                                                           {"NODE_TLS_REJECT_UNAUTHORIZED", "0"},
                                                           {"PYTHONHTTPSVERIFY", "0"}};
  const auto refused = run_afk({"tick"}, {}, impostor.url(), insecure_env);
  EXPECT_NE(refused.out.find("certificate"), std::string::npos) << refused.out << refused.err;
  (void)run_afk({"doctor"}, {}, impostor.url(), insecure_env);
  EXPECT_EQ(impostor.requests(), 0);

  // The Slack webhook is unreachable when the run ends: the failure names the file, not the URL.
  std::ofstream(m_dir / "slack-webhook", std::ios::trunc)
      << "http://127.0.0.1:" << closed_port() << m_slack_path << "\n";
  m_agent_pushes = false;
  ASSERT_EQ(run_afk({"tick"}).exit_code, 0);
  m_t3.advance();
  const auto unnotified = run_afk({"tick"});
  EXPECT_TRUE(has(labels(), "ready-for-human"));
  EXPECT_NE(unnotified.err.find("slack-webhook"), std::string::npos) << unnotified.err;

  EXPECT_GE(m_github.requests().size(), 10U);
  expect_no_secret_anywhere();
}

} // namespace
