// SPDX-License-Identifier: MIT
// T3Client over HTTP (afk/t3.hpp): commands to /api/orchestration/dispatch, reads from
// /snapshot and /threads/{id}.
#include "adapters/t3_wire.hpp"
#include "adapters/tracker_json.hpp"

#include <afk/error.hpp>
#include <afk/ids.hpp>
#include <afk/t3.hpp>

#include <mutex>
#include <optional>
#include <utility>

namespace afk {

namespace {

constexpr std::string_view k_dispatch = "/api/orchestration/dispatch";
constexpr std::string_view k_snapshot = "/api/orchestration/snapshot";
constexpr int k_project_successors = 8;

bool is_json(const HttpResponse& response) {
  const auto type = response.header("content-type");
  return type && type->rfind("application/json", 0) == 0;
}

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

class HttpT3Client final : public T3Client {
public:
  HttpT3Client(HttpClient& http, Logger& log, const Clock& clock, std::string pinned_version)
      : m_http(http)
      , m_log(log)
      , m_clock(clock)
      , m_pin(std::move(pinned_version)) {}

  T3Environment environment() override {
    return t3_wire::parse_environment(send("GET", "/.well-known/t3/environment").body);
  }

  T3AuthSession auth_session() override {
    return t3_wire::parse_auth_session(send("GET", "/api/auth/session").body);
  }

  T3Snapshot snapshot() override { return parse_t3_snapshot(send("GET", k_snapshot).body); }

  T3ThreadRead read_thread(std::string_view thread_id) override {
    if (auto detail = read_thread_detail(thread_id)) {
      return std::move(*detail);
    }
    const T3Snapshot all = snapshot();
    T3ThreadRead read{.sequence = all.sequence, .thread = std::nullopt};
    if (const T3Thread* thread = all.thread(thread_id); thread != nullptr && !thread->deleted_at) {
      read.thread = *thread;
    }
    return read;
  }

  std::string ensure_project(const T3ProjectSpec& spec) override {
    check_server();
    const T3Snapshot all = snapshot();
    std::vector<std::string> ids{spec.project_id};
    for (int n = 2; n <= k_project_successors + 1; ++n) {
      ids.push_back(derive_uuid("project-successor:" + spec.project_id + ':' + std::to_string(n)));
    }
    for (const std::string& id : ids) {
      if (const T3Project* project = all.project(id); project != nullptr && !project->deleted_at) {
        return id;
      }
    }
    // Newer servers refuse a second live project on one root: use the one that is there.
    const std::string root = without_trailing_slashes(spec.workspace_root);
    for (const T3Project& project : all.projects) {
      if (!project.deleted_at && without_trailing_slashes(project.workspace_root) == root) {
        m_log.info("t3_project_adopted",
                   {{"project", project.id}, {"workspace_root", project.workspace_root}});
        return project.id;
      }
    }
    for (const std::string& id : ids) {
      if (all.project(id) == nullptr) {
        (void)dispatch(
            t3_wire::project_create(derive_uuid("command:project.create:" + id), id, spec, now()));
        return id;
      }
    }
    throw Error(ErrorKind::permanent,
                "T3 project for " + spec.title + ": every project id afk derives (" +
                    spec.project_id + " and " + std::to_string(k_project_successors) +
                    " successors) was deleted in T3, and ids can never be reused");
  }

  std::int64_t create_thread(const T3ThreadSpec& spec) override {
    check_server();
    const T3Snapshot all = snapshot();
    if (const T3Thread* thread = all.thread(spec.thread_id)) {
      if (thread->deleted_at) {
        throw Error(ErrorKind::permanent, "T3 thread " + spec.thread_id +
                                              " was deleted; a thread id can never be reused");
      }
      return all.sequence; // created by an earlier attempt
    }
    if (all.project(spec.project_id) == nullptr) {
      throw Error(ErrorKind::permanent, "T3 project " + spec.project_id +
                                            " does not exist; cannot create thread " +
                                            spec.thread_id);
    }
    return dispatch(t3_wire::thread_create(spec, now()));
  }

  std::int64_t start_turn(const T3TurnSpec& spec) override {
    check_server();
    if (!read_thread(spec.thread_id).thread) {
      throw Error(ErrorKind::permanent,
                  "T3 thread " + spec.thread_id +
                      " is deleted or missing; T3 would drop a turn start there silently");
    }
    return dispatch(t3_wire::turn_start(spec, now()));
  }

  std::int64_t respond_approval(std::string_view command_id, std::string_view thread_id,
                                std::string_view request_id, T3Decision decision) override {
    check_server();
    return dispatch(t3_wire::approval_respond(command_id, thread_id, request_id, decision, now()));
  }

  std::int64_t respond_user_input(std::string_view command_id, std::string_view thread_id,
                                  std::string_view request_id, const T3Answers& answers) override {
    check_server();
    return dispatch(t3_wire::user_input_respond(command_id, thread_id, request_id, answers, now()));
  }

  std::int64_t interrupt_turn(std::string_view command_id, std::string_view thread_id) override {
    check_server();
    return dispatch(t3_wire::turn_interrupt(command_id, thread_id, now()));
  }

  std::int64_t stop_session(std::string_view command_id, std::string_view thread_id) override {
    check_server();
    return dispatch(t3_wire::session_stop(command_id, thread_id, now()));
  }

  std::int64_t archive_thread(std::string_view command_id, std::string_view thread_id) override {
    check_server();
    return dispatch(t3_wire::thread_archive(command_id, thread_id));
  }

  std::int64_t delete_thread(std::string_view command_id, std::string_view thread_id) override {
    check_server();
    return dispatch(t3_wire::thread_delete(command_id, thread_id));
  }

private:
  [[nodiscard]] T3Time now() const {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(m_clock.now());
  }

  // Reads the descriptor once before the first command: a newer protocol is refused, a
  // version other than the pin is logged once.
  void check_server() {
    const std::lock_guard lock(m_mutex);
    if (m_server_checked) {
      return;
    }
    const T3Environment server = environment();
    const T3Compatibility verdict = t3_compatibility(server, m_pin);
    if (!verdict.refusal.empty()) {
      throw Error(ErrorKind::config, verdict.refusal);
    }
    if (!verdict.warning.empty()) {
      m_log.warn("t3_version_mismatch",
                 {{"server_version", server.server_version}, {"pinned_version", m_pin}});
    }
    m_server_checked = true;
  }

  // /threads/{id} where the server has it; nullopt where it does not (before 0.0.29 an
  // unknown path answers 503 text/plain, or the web app's HTML with 200 — never a 404).
  std::optional<T3ThreadRead> read_thread_detail(std::string_view thread_id) {
    {
      const std::lock_guard lock(m_mutex);
      if (m_has_detail && !*m_has_detail) {
        return std::nullopt;
      }
    }
    HttpClient::RequestOptions how;
    how.pass_statuses = {404, 503};
    const std::string path = "/api/orchestration/threads/" + tracker_json::encode(thread_id);
    const HttpResponse response = send("GET", path, {}, how);
    const bool found = response.status == 200 && is_json(response);
    const bool absent = response.status == 404 && is_json(response) &&
                        t3_wire::error_summary(response.body).rfind("not_found", 0) == 0;
    {
      const std::lock_guard lock(m_mutex);
      m_has_detail = found || absent;
    }
    if (found) {
      return parse_t3_thread_detail(response.body);
    }
    if (absent) {
      return T3ThreadRead{};
    }
    if (response.status == 503 && is_json(response)) {
      // A JSON 503 is the API itself failing, not a missing route.
      throw Error(ErrorKind::transient, "T3 GET " + path + ": server error (503)");
    }
    return std::nullopt;
  }

  // Every request goes through here: T3's 401 and 403 bodies say what is wrong with the
  // token, so they are read rather than left to the generic mapping.
  HttpResponse send(std::string_view method, std::string_view path, std::string body = {},
                    HttpClient::RequestOptions how = {}) {
    how.pass_statuses.push_back(401);
    how.pass_statuses.push_back(403);
    HttpResponse response = m_http.request(method, path, std::move(body), how);
    const std::string what = "T3 " + std::string(method) + ' ' + std::string(path);
    if (response.status == 401) {
      const std::string summary = t3_wire::error_summary(response.body);
      throw Error(ErrorKind::config, what + ": the token was rejected (401" +
                                         (summary.empty() ? "" : ' ' + summary) +
                                         "); check t3.token_file");
    }
    if (response.status == 403) {
      const std::string summary = t3_wire::error_summary(response.body);
      throw Error(ErrorKind::config, what + ": forbidden (403" +
                                         (summary.empty() ? "" : ' ' + summary) +
                                         "): the token lacks a scope afk needs");
    }
    return response;
  }

  std::int64_t dispatch(const std::string& body) {
    const std::string type = t3_wire::command_type(body);
    HttpClient::RequestOptions how;
    how.retry_unsafe = true; // the commandId makes a repeat harmless
    how.pass_statuses = {400, 415};
    HttpResponse response;
    try {
      response = send("POST", k_dispatch, body, how);
    } catch (const Error& error) {
      const std::string hint =
          error.kind() == ErrorKind::transient
              ? " (T3 also answers 500 for a command its invariants reject: unknown thread or "
                "project, a duplicate id)"
              : "";
      throw Error(error.kind(), "T3 " + type + ": " + error.what() + hint);
    }
    if (response.status == 415) {
      throw Error(ErrorKind::permanent,
                  "T3 " + type + ": content type refused (415); nothing was applied");
    }
    if (response.status == 400) {
      const std::string summary = t3_wire::error_summary(response.body);
      if (summary.empty()) {
        throw Error(ErrorKind::permanent,
                    "T3 " + type +
                        ": the command's shape was rejected (400 without an error code); nothing "
                        "was applied — this afk and the T3 server disagree on the schema");
      }
      const bool path_problem = summary.find("invalid_command") != std::string::npos;
      throw Error(path_problem ? ErrorKind::config : ErrorKind::permanent,
                  "T3 " + type + ": refused (400 " + summary + ")" +
                      (path_problem ? "; T3 cannot use a path afk sent: afk's checkout root and "
                                      "T3's view of it must agree"
                                    : ""));
    }
    return t3_wire::parse_sequence(response.body);
  }

  HttpClient& m_http;
  Logger& m_log;
  const Clock& m_clock;
  std::string m_pin;
  std::mutex m_mutex;
  bool m_server_checked = false;
  std::optional<bool> m_has_detail;
};

} // namespace

HttpClientOptions t3_http_options(const T3Config& config) {
  HttpClientOptions options;
  options.base_url = config.url;
  options.token_file = config.token_file;
  options.auth_scheme = "Bearer";
  options.default_headers = {{"Accept", "application/json"}};
  return options;
}

std::unique_ptr<T3Client> make_t3_client(HttpClient& http, Logger& log, const Clock& clock,
                                         std::string pinned_version) {
  return std::make_unique<HttpT3Client>(http, log, clock, std::move(pinned_version));
}

} // namespace afk
