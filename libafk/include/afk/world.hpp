// SPDX-License-Identifier: MIT
#pragma once

/// The composition root: the adapters a Config names, built and owned in one place, and
/// lent to the engine as EnginePorts. The CLI builds one per command; an embedder can build
/// its own EnginePorts from its own adapters instead.

#include "afk/config.hpp"
#include "afk/engine.hpp"
#include "afk/log.hpp"
#include "afk/time.hpp"

#include <memory>

namespace afk {

class World {
public:
  /// Builds every adapter `config` calls for: the tracker (GitHub or Forgejo), the T3
  /// client (pinned to t3.server_version), libgit2 worktrees under git.root, the deploy
  /// stages the allowlisted repositories use (GitHub checks share the tracker's client;
  /// Woodpecker; Kubernetes in-cluster or at deploy.kubernetes.api_url) and the notifier
  /// fanout. Opens no connection and reads no secret. Throws Error{config} when a used stage
  /// cannot be set up (e.g. Kubernetes in-cluster outside a cluster). `log` and `clock` must
  /// outlive the World. Every request to the tracker, T3 and the deploy stages stops at
  /// `deadline` (HttpClientOptions::deadline); notifications keep their own notify.timeout,
  /// so a page is not dropped because the work before it ran long.
  [[nodiscard]] static std::unique_ptr<World> build(const Config& config, Logger& log,
                                                    const Clock& clock, Deadline deadline = {});
  virtual ~World() = default;

  /// The ports, borrowed from this World.
  [[nodiscard]] virtual EnginePorts ports() = 0;
};

} // namespace afk
