// SPDX-License-Identifier: MIT
#pragma once

// An HTTPS server on 127.0.0.1 with a self-signed certificate made at test time by the
// openssl binary, for tests that TLS verification holds. It counts the HTTP requests that
// got through the handshake (a refused handshake never reaches it).

#include "support/process.hpp"

#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

namespace afk::test {

inline constexpr const char* k_openssl = "/usr/bin/openssl";

struct SelfSignedCert {
  std::filesystem::path cert, key;
};

// A P-256 key and a one-day certificate for `subject_alt_name` (e.g. "IP:127.0.0.1",
// "DNS:afk.invalid") under `dir`; nullopt when there is no openssl binary or it fails.
inline std::optional<SelfSignedCert> make_self_signed(const std::filesystem::path& dir,
                                                      const std::string& name,
                                                      const std::string& subject_alt_name) {
  if (!std::filesystem::exists(k_openssl)) {
    return std::nullopt;
  }
  SelfSignedCert made{dir / (name + ".crt"), dir / (name + ".key")};
  const auto result = run_process(
      {k_openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", made.key.string(), "-out", made.cert.string(), "-days", "1", "-subj",
       "/CN=afk-test", "-addext", "subjectAltName=" + subject_alt_name},
      {{"PATH", "/usr/bin:/bin"}}, dir / ("openssl-" + name));
  if (result.exit_code != 0) {
    return std::nullopt;
  }
  return made;
}

class SelfSignedServer {
public:
  explicit SelfSignedServer(const SelfSignedCert& cert)
      : m_server(cert.cert.c_str(), cert.key.c_str()) {
    if (!m_server.is_valid()) {
      return; // the certificate or key did not load: valid() says so
    }
    m_server.Get(".*", [this](const httplib::Request&, httplib::Response& res) {
      ++m_requests;
      res.set_content(R"({"hello":"tls"})", "application/json");
    });
    m_port = m_server.bind_to_any_port("127.0.0.1");
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    while (!m_server.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~SelfSignedServer() {
    m_server.stop();
    if (m_thread.joinable()) {
      m_thread.join();
    }
  }
  SelfSignedServer(const SelfSignedServer&) = delete;
  SelfSignedServer& operator=(const SelfSignedServer&) = delete;
  SelfSignedServer(SelfSignedServer&&) = delete;
  SelfSignedServer& operator=(SelfSignedServer&&) = delete;

  [[nodiscard]] bool valid() const { return m_server.is_valid(); }
  [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(m_port); }
  [[nodiscard]] int requests() const { return m_requests; }

private:
  httplib::SSLServer m_server;
  int m_port = 0;
  std::atomic<int> m_requests{0};
  std::thread m_thread;
};

} // namespace afk::test
