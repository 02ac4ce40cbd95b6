// SPDX-License-Identifier: MIT
#include "support/fault_proxy.hpp"

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace afk::test {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t k_fault_kinds = 8;
constexpr std::size_t k_max_request_bytes = 8U << 20U;
constexpr auto k_poll_slice = 20ms; // how often a waiting connection looks at `stopping`

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string_view reason_phrase(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 409:
    return "Conflict";
  case 415:
    return "Unsupported Media Type";
  case 422:
    return "Unprocessable Entity";
  case 429:
    return "Too Many Requests";
  case 500:
    return "Internal Server Error";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return "Status";
  }
}

struct Request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  [[nodiscard]] std::string path() const { return target.substr(0, target.find('?')); }
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The head, with the body's real length unless `declared_length` says otherwise.
  [[nodiscard]] std::string head(std::optional<std::size_t> declared_length = {}) const {
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + ' ' + std::string(reason_phrase(status)) + "\r\n";
    for (const auto& [name, value] : headers) {
      out += name + ": " + value + "\r\n";
    }
    out += "Content-Length: " + std::to_string(declared_length.value_or(body.size())) + "\r\n";
    out += "Connection: close\r\n\r\n";
    return out;
  }
  [[nodiscard]] std::string wire() const { return head() + body; }
};

Response canned(int status, std::string message) {
  Response response;
  response.status = status;
  response.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  response.body = R"({"message":")" + std::move(message) + R"("})";
  return response;
}

// Hop-by-hop headers and those the proxy sets itself.
bool is_own_header(std::string_view name) {
  for (const std::string_view own :
       {"host", "connection", "keep-alive", "content-length", "transfer-encoding",
        "accept-encoding", "expect", "content-encoding", "proxy-connection"}) {
    if (iequals(name, own)) {
      return true;
    }
  }
  return false;
}

// Replaces `from` (an origin) by `to` wherever it is not followed by another port digit.
std::string replace_origin(std::string text, const std::string& from, const std::string& to) {
  std::size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    const std::size_t end = pos + from.size();
    if (end < text.size() && text[end] >= '0' && text[end] <= '9') {
      pos = end;
      continue;
    }
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

int listen_on_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error("fault proxy: socket() failed");
  }
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("fault proxy: cannot listen on 127.0.0.1");
  }
  port = ntohs(address.sin_port);
  return fd;
}

} // namespace

std::string_view to_string(Fault fault) {
  switch (fault) {
  case Fault::latency:
    return "latency";
  case Fault::reset_before:
    return "reset_before";
  case Fault::reset_mid:
    return "reset_mid";
  case Fault::truncated_body:
    return "truncated_body";
  case Fault::server_error:
    return "server_error";
  case Fault::rate_limited:
    return "rate_limited";
  case Fault::slow_drip:
    return "slow_drip";
  case Fault::silence:
    return "silence";
  }
  return "?";
}

struct FaultProxy::State {
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  std::string upstream;
  std::string upstream_host;
  int upstream_port = 0;
  int listen_fd = -1;
  int port = 0;
  std::atomic<bool> stopping{false};
  std::thread acceptor;

  mutable std::mutex mutex;
  std::condition_variable stop_signal;
  std::vector<FaultRule> rules;
  std::vector<Seen> seen;
  std::array<std::size_t, k_fault_kinds> injected{};
  std::size_t forwarded = 0;
  std::list<Worker> workers; // only the acceptor and the destructor touch it

  [[nodiscard]] std::string origin() const { return "http://127.0.0.1:" + std::to_string(port); }

  void accept_loop() {
    while (!stopping) {
      pollfd ready{.fd = listen_fd, .events = POLLIN, .revents = 0};
      if (::poll(&ready, 1, static_cast<int>(k_poll_slice.count())) <= 0) {
        continue;
      }
      const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        continue;
      }
      reap_finished();
      auto done = std::make_shared<std::atomic<bool>>(false);
      workers.push_back(Worker{std::thread([this, client, done] {
                                 serve(client);
                                 ::close(client);
                                 *done = true;
                               }),
                               done});
    }
  }

  void reap_finished() {
    for (auto it = workers.begin(); it != workers.end();) {
      if (*it->done) {
        it->thread.join();
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Waits `delay`, or less if the proxy stops. False when it stopped.
  bool wait(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex);
    return !stop_signal.wait_for(lock, delay, [this] { return stopping.load(); });
  }

  // Waits until `fd` is readable (or hung up). False when the proxy stops first.
  bool readable(int fd) const {
    while (!stopping) {
      pollfd ready{.fd = fd, .events = POLLIN, .revents = 0};
      const int rc = ::poll(&ready, 1, static_cast<int>(k_poll_slice.count()));
      if (rc > 0) {
        return true;
      }
      if (rc < 0 && errno != EINTR) {
        return false;
      }
    }
    return false;
  }

  std::optional<Request> read_request(int fd) const {
    std::string data;
    std::array<char, 4096> buffer{};
    std::size_t head_end = std::string::npos;
    std::optional<std::size_t> content_length;
    Request request;
    while (true) {
      if (head_end == std::string::npos) {
        head_end = data.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          content_length = parse_head(std::string_view(data).substr(0, head_end), request);
          if (!content_length) {
            return std::nullopt;
          }
        }
      }
      if (head_end != std::string::npos && data.size() >= head_end + 4 + *content_length) {
        request.body = data.substr(head_end + 4, *content_length);
        return request;
      }
      if (data.size() > k_max_request_bytes || !readable(fd)) {
        return std::nullopt;
      }
      const auto n = ::recv(fd, buffer.data(), buffer.size(), 0);
      if (n <= 0) {
        return std::nullopt;
      }
      data.append(buffer.data(), static_cast<std::size_t>(n));
    }
  }

  // Fills method, target and headers; returns the body's length, nullopt for a head it cannot
  // read (chunked request bodies included).
  static std::optional<std::size_t> parse_head(std::string_view head, Request& request) {
    const auto line_end = head.find("\r\n");
    const std::string_view start = head.substr(0, line_end);
    const auto first_space = start.find(' ');
    const auto second_space = start.find(' ', first_space + 1);
    if (first_space == std::string_view::npos || second_space == std::string_view::npos) {
      return std::nullopt;
    }
    request.method = start.substr(0, first_space);
    request.target = start.substr(first_space + 1, second_space - first_space - 1);
    std::size_t length = 0;
    std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      auto end = head.find("\r\n", pos);
      if (end == std::string_view::npos) {
        end = head.size();
      }
      const std::string_view line = head.substr(pos, end - pos);
      pos = end + 2;
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) {
        continue;
      }
      const std::string_view name = trim(line.substr(0, colon));
      const std::string_view value = trim(line.substr(colon + 1));
      if (iequals(name, "transfer-encoding")) {
        return std::nullopt;
      }
      if (iequals(name, "content-length")) {
        if (value.empty() || value.size() > 9 ||
            !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return std::nullopt;
        }
        length = static_cast<std::size_t>(std::stoul(std::string(value)));
      }
      request.headers.emplace_back(name, value);
    }
    return length;
  }

  // The first rule with requests left that matches, counted as injected; records the request
  // (its index in `seen` goes to `index`).
  std::optional<FaultRule> take_rule(const Request& request, std::size_t& index) {
    const std::lock_guard lock(mutex);
    Seen entry{.method = request.method, .target = request.target, .fault = {}};
    std::optional<FaultRule> chosen;
    for (FaultRule& rule : rules) {
      const bool matches = (rule.method.empty() || rule.method == request.method) &&
                           request.path().starts_with(rule.path_prefix);
      if (!matches || rule.count == 0) {
        continue;
      }
      if (rule.count > 0) {
        --rule.count;
      }
      chosen = rule;
      entry.fault = rule.fault;
      ++injected.at(static_cast<std::size_t>(rule.fault));
      break;
    }
    index = seen.size();
    seen.push_back(std::move(entry));
    return chosen;
  }

  void note_forwarded(std::size_t index) {
    const std::lock_guard lock(mutex);
    ++forwarded;
    seen.at(index).forwarded = true;
  }

  // The upstream's answer, its origin rewritten to the proxy's so that Link and Location
  // headers lead back through the proxy.
  Response forward(const Request& request, std::size_t index) {
    httplib::Client client(upstream_host, upstream_port);
    client.set_url_encode(false);
    client.set_connection_timeout(5s);
    client.set_read_timeout(30s);
    client.set_keep_alive(false);
    httplib::Request out;
    out.method = request.method;
    out.path = request.target;
    out.body = request.body;
    for (const auto& [name, value] : request.headers) {
      if (!is_own_header(name)) {
        out.headers.emplace(name, value);
      }
    }
    note_forwarded(index);
    const auto result = client.send(out);
    if (!result) {
      return canned(502, "the fault proxy could not reach its upstream");
    }
    Response response;
    response.status = result->status;
    for (const auto& [name, value] : result->headers) {
      if (!is_own_header(name)) {
        response.headers.emplace_back(name, replace_origin(value, upstream, origin()));
      }
    }
    response.body = replace_origin(result->body, upstream, origin());
    return response;
  }

  static bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // An RST instead of a FIN: SO_LINGER with a zero timeout makes close() abort.
  static void reset(int fd) {
    const linger abort{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }

  void serve(int fd) {
    const auto request = read_request(fd);
    if (!request) {
      return;
    }
    std::size_t index = 0;
    const auto rule = take_rule(*request, index);
    if (!rule) {
      send_all(fd, forward(*request, index).wire());
      return;
    }
    switch (rule->fault) {
    case Fault::latency:
      if (wait(rule->delay)) {
        send_all(fd, forward(*request, index).wire());
      }
      return;
    case Fault::reset_before:
      if (rule->forward) {
        (void)forward(*request, index);
      }
      reset(fd);
      return;
    case Fault::reset_mid: {
      const Response response = forward(*request, index);
      const std::string wire = response.wire();
      const std::size_t cut =
          response.body.empty() ? wire.size() / 2 : wire.size() - (response.body.size() + 1) / 2;
      send_all(fd, std::string_view(wire).substr(0, cut));
      reset(fd);
      return;
    }
    case Fault::truncated_body: {
      const Response response = forward(*request, index);
      const std::size_t declared = std::max<std::size_t>(response.body.size(), 1);
      send_all(fd, response.head(declared) + response.body.substr(0, response.body.size() / 2));
      ::shutdown(fd, SHUT_WR);
      return;
    }
    case Fault::server_error:
      if (rule->forward) {
        (void)forward(*request, index);
      }
      send_all(fd, canned(rule->status, std::string(reason_phrase(rule->status))).wire());
      return;
    case Fault::rate_limited: {
      if (rule->forward) {
        (void)forward(*request, index);
      }
      Response response = canned(429, "API rate limit exceeded");
      response.headers.emplace_back("Retry-After", rule->retry_after);
      send_all(fd, response.wire());
      return;
    }
    case Fault::slow_drip: {
      const std::string wire = forward(*request, index).wire();
      const std::size_t piece = std::max<std::size_t>(rule->drip_bytes, 1);
      for (std::size_t at = 0; at < wire.size(); at += piece) {
        if ((at > 0 && !wait(rule->delay)) ||
            !send_all(fd, std::string_view(wire).substr(at, piece))) {
          return;
        }
      }
      return;
    }
    case Fault::silence: {
      if (rule->forward) {
        (void)forward(*request, index);
      }
      // Until the client gives up: readable with nothing to read is its hang-up.
      std::array<char, 256> sink{};
      while (readable(fd) && ::recv(fd, sink.data(), sink.size(), 0) > 0) {
      }
      return;
    }
    }
  }
};

FaultProxy::FaultProxy(std::string upstream)
    : m_state(std::make_unique<State>()) {
  const std::string prefix = "http://";
  const auto colon = upstream.rfind(':');
  if (!upstream.starts_with(prefix) || colon < prefix.size() ||
      upstream.find('/', prefix.size()) != std::string::npos) {
    throw std::invalid_argument("fault proxy: upstream must be http://host:port, not " + upstream);
  }
  m_state->upstream = upstream;
  m_state->upstream_host = upstream.substr(prefix.size(), colon - prefix.size());
  m_state->upstream_port = std::stoi(upstream.substr(colon + 1));
  m_state->listen_fd = listen_on_loopback(m_state->port);
  m_state->acceptor = std::thread([state = m_state.get()] { state->accept_loop(); });
}

FaultProxy::~FaultProxy() {
  {
    const std::lock_guard lock(m_state->mutex);
    m_state->stopping = true;
  }
  m_state->stop_signal.notify_all();
  m_state->acceptor.join();
  for (auto& worker : m_state->workers) {
    worker.thread.join();
  }
  ::close(m_state->listen_fd);
}

std::string FaultProxy::url() const {
  return m_state->origin();
}

void FaultProxy::add(FaultRule rule) {
  const std::lock_guard lock(m_state->mutex);
  m_state->rules.push_back(std::move(rule));
}

void FaultProxy::clear() {
  const std::lock_guard lock(m_state->mutex);
  m_state->rules.clear();
}

std::vector<FaultProxy::Seen> FaultProxy::requests() const {
  const std::lock_guard lock(m_state->mutex);
  return m_state->seen;
}

std::size_t FaultProxy::injected(Fault fault) const {
  const std::lock_guard lock(m_state->mutex);
  return m_state->injected.at(static_cast<std::size_t>(fault));
}

std::size_t FaultProxy::injected_total() const {
  const std::lock_guard lock(m_state->mutex);
  std::size_t total = 0;
  for (const std::size_t n : m_state->injected) {
    total += n;
  }
  return total;
}

std::size_t FaultProxy::forwarded() const {
  const std::lock_guard lock(m_state->mutex);
  return m_state->forwarded;
}

} // namespace afk::test
