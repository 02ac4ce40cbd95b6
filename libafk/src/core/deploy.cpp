// SPDX-License-Identifier: MIT
// The pure half of the deploy watcher: settings, status mappings, the fold, and the
// per-stage verdicts over already-parsed evidence. No I/O, no clock.
#include "afk/deploy.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace afk {

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string short_sha(std::string_view sha) {
  return std::string(sha.substr(0, 12));
}

// `token` (at least 7 hex digits) is `sha` or a prefix of it, ignoring ASCII case.
bool names_sha(std::string_view token, std::string_view sha) {
  if (token.size() < 7 || token.size() > sha.size() ||
      !std::all_of(token.begin(), token.end(), is_hex)) {
    return false;
  }
  return std::equal(token.begin(), token.end(), sha.begin(),
                    [](char a, char b) { return lower(a) == lower(b); });
}

int severity(Verdict v) {
  switch (v) {
  case Verdict::green:
    return 0;
  case Verdict::unknown:
    return 1;
  case Verdict::pending:
    return 2;
  case Verdict::red:
    return 3;
  }
  return 1;
}

std::string item(std::string_view name, std::string_view state, std::string_view url) {
  std::string text = truncate_utf8(std::string(name), 120) + " (" + std::string(state) + ")";
  if (!url.empty()) {
    text += " " + truncate_utf8(std::string(url), 300);
  }
  return text;
}

} // namespace

RepoDeploySettings deploy_settings_for(const Config& config, const RepoName& repo) {
  const DeployConfig& deploy = config.deploy;
  RepoDeploySettings settings{.stages = deploy.stages,
                              .required_checks = deploy.github_checks.required,
                              .missing_grace = deploy.github_checks.missing_grace,
                              .kubernetes_namespace = deploy.kubernetes.namespace_name,
                              .kubernetes_deployments = deploy.kubernetes.deployments,
                              .image_annotation = deploy.kubernetes.image_annotation};
  const auto found = config.repos.find(repo.canonical());
  if (found == config.repos.end()) {
    return settings;
  }
  const RepoOverrides& own = found->second;
  if (own.stages) {
    settings.stages = *own.stages;
  }
  if (own.required_checks) {
    settings.required_checks = *own.required_checks;
  }
  if (own.kubernetes_namespace) {
    settings.kubernetes_namespace = *own.kubernetes_namespace;
  }
  if (own.kubernetes_deployments) {
    settings.kubernetes_deployments = *own.kubernetes_deployments;
  }
  return settings;
}

StageKind stage_kind(StageType stage) noexcept {
  return stage == StageType::kubernetes ? StageKind::deploy : StageKind::ci;
}

Verdict worse(Verdict a, Verdict b) noexcept {
  return severity(a) >= severity(b) ? a : b;
}

ShaVerdict fold_stages(std::string sha, std::vector<StageVerdict> asked, std::size_t configured) {
  ShaVerdict result{.sha = std::move(sha), .verdict = Verdict::unknown, .stages = std::move(asked)};
  const auto deciding =
      std::find_if(result.stages.begin(), result.stages.end(),
                   [](const StageVerdict& s) { return s.verdict != Verdict::green; });
  if (deciding != result.stages.end()) {
    result.verdict = deciding->verdict;
  } else if (configured > 0 && result.stages.size() >= configured) {
    result.verdict = Verdict::green;
  }
  return result;
}

std::string truncate_utf8(std::string text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return text;
  }
  constexpr std::string_view k_ellipsis = "…";
  std::size_t cut = max_bytes >= k_ellipsis.size() ? max_bytes - k_ellipsis.size() : 0;
  // Back up over continuation bytes so the cut never splits a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  text.resize(cut);
  if (max_bytes >= k_ellipsis.size()) {
    text += k_ellipsis;
  }
  return text;
}

std::string bounded_list(const std::vector<std::string>& items, std::size_t max_items,
                         std::size_t max_bytes) {
  std::string out;
  std::size_t shown = 0;
  for (const auto& entry : items) {
    const std::size_t extra = entry.size() + (out.empty() ? 0 : 2);
    if (shown == max_items || out.size() + extra > max_bytes) {
      break;
    }
    out += (out.empty() ? "" : "; ") + entry;
    ++shown;
  }
  if (shown < items.size()) {
    out += (out.empty() ? "… and " : " … and ") + std::to_string(items.size() - shown) + " more";
  }
  return out;
}

// GitHub -----------------------------------------------------------------------------------------

Verdict check_run_verdict(std::string_view status, std::string_view conclusion) noexcept {
  if (status == "queued" || status == "in_progress" || status == "waiting" ||
      status == "requested" || status == "pending") {
    return Verdict::pending;
  }
  if (status != "completed") {
    return Verdict::unknown;
  }
  if (conclusion == "success" || conclusion == "neutral" || conclusion == "skipped") {
    return Verdict::green;
  }
  if (conclusion == "failure" || conclusion == "timed_out" || conclusion == "cancelled" ||
      conclusion == "action_required" || conclusion == "stale" || conclusion == "startup_failure") {
    return Verdict::red;
  }
  return Verdict::unknown;
}

Verdict commit_status_verdict(std::string_view state) noexcept {
  if (state == "success") {
    return Verdict::green;
  }
  if (state == "pending") {
    return Verdict::pending;
  }
  if (state == "failure" || state == "error") {
    return Verdict::red;
  }
  return Verdict::unknown;
}

StageVerdict github_checks_verdict(const std::vector<CheckResult>& checks,
                                   const std::vector<std::string>& required, std::string_view sha,
                                   Seconds since_push, Seconds grace) {
  StageVerdict out{.stage = "github_checks",
                   .kind = StageKind::ci,
                   .verdict = Verdict::unknown,
                   .detail = {},
                   .url = {}};
  const bool past_grace = since_push >= grace;
  const std::set<std::string, std::less<>> wanted(required.begin(), required.end());

  std::vector<const CheckResult*> counted;
  for (const auto& check : checks) {
    if (wanted.empty() || wanted.contains(check.name)) {
      counted.push_back(&check);
    }
  }
  std::vector<std::string> missing;
  for (const auto& name : wanted) {
    if (std::none_of(counted.begin(), counted.end(),
                     [&](const CheckResult* c) { return c->name == name; })) {
      missing.push_back(truncate_utf8(name, 120));
    }
  }
  if (wanted.empty() && counted.empty()) {
    out.verdict = past_grace ? Verdict::red : Verdict::pending;
    out.detail = past_grace ? "no checks reported for " + short_sha(sha) + " within " +
                                  format_duration(grace)
                            : "no checks reported yet for " + short_sha(sha);
    return out;
  }

  std::map<Verdict, std::vector<std::string>> by_verdict;
  Verdict verdict = Verdict::green;
  for (const CheckResult* check : counted) {
    verdict = worse(verdict, check->verdict);
    by_verdict[check->verdict].push_back(item(check->name, check->state, check->url));
  }
  if (!missing.empty()) {
    verdict = worse(verdict, past_grace ? Verdict::red : Verdict::pending);
  }
  out.verdict = verdict;

  std::vector<std::string> parts;
  const auto part = [&](std::string_view label, const std::vector<std::string>& items) {
    if (!items.empty()) {
      parts.push_back(std::string(label) + ": " + bounded_list(items, k_max_detail_items, 700));
    }
  };
  switch (verdict) {
  case Verdict::red:
    part("failing", by_verdict[Verdict::red]);
    part(past_grace ? "missing" : "not reported yet", missing);
    break;
  case Verdict::pending:
    part("waiting", by_verdict[Verdict::pending]);
    part("not reported yet", missing);
    break;
  case Verdict::unknown:
    part("unrecognised state", by_verdict[Verdict::unknown]);
    break;
  case Verdict::green:
    parts.push_back(std::to_string(counted.size()) + " check" + (counted.size() == 1 ? "" : "s") +
                    " passed");
    break;
  }
  std::string detail;
  for (const auto& p : parts) {
    detail += (detail.empty() ? "" : "; ") + p;
  }
  out.detail = truncate_utf8(std::move(detail), k_max_stage_detail);
  for (const CheckResult* check : counted) {
    if (check->verdict == verdict && !check->url.empty()) {
      out.url = check->url;
      break;
    }
  }
  return out;
}

// Woodpecker -------------------------------------------------------------------------------------

Verdict woodpecker_status_verdict(std::string_view status) noexcept {
  if (status == "success" || status == "skipped") {
    return Verdict::green;
  }
  if (status == "pending" || status == "running" || status == "blocked" || status == "created") {
    return Verdict::pending;
  }
  if (status == "failure" || status == "error" || status == "killed" || status == "canceled" ||
      status == "declined") {
    return Verdict::red;
  }
  return Verdict::unknown;
}

StageVerdict woodpecker_pipelines_verdict(const std::vector<PipelineResult>& found,
                                          std::string_view sha) {
  StageVerdict out{.stage = "woodpecker",
                   .kind = StageKind::ci,
                   .verdict = Verdict::unknown,
                   .detail = {},
                   .url = {}};
  std::map<std::string, const PipelineResult*> newest; // by event and deployment target
  for (const auto& pipeline : found) {
    if (pipeline.event == "cron") {
      continue;
    }
    const std::string key =
        pipeline.event == "deployment" ? pipeline.event + '/' + pipeline.deploy_to : pipeline.event;
    auto& slot = newest[key];
    if (slot == nullptr || pipeline.number > slot->number) {
      slot = &pipeline;
    }
  }
  if (newest.empty()) {
    out.verdict = Verdict::pending;
    out.detail = "no Woodpecker pipeline for " + short_sha(sha) + " yet";
    return out;
  }
  std::vector<const PipelineResult*> counted;
  for (const auto& [key, pipeline] : newest) {
    counted.push_back(pipeline);
  }
  std::sort(counted.begin(), counted.end(),
            [](const PipelineResult* a, const PipelineResult* b) { return a->number > b->number; });
  Verdict verdict = Verdict::green;
  for (const PipelineResult* pipeline : counted) {
    verdict = worse(verdict, woodpecker_status_verdict(pipeline->status));
  }
  out.verdict = verdict;
  std::vector<std::string> items;
  for (const PipelineResult* pipeline : counted) {
    if (verdict == Verdict::green || woodpecker_status_verdict(pipeline->status) == verdict) {
      std::string event = pipeline->event;
      if (!pipeline->deploy_to.empty()) {
        event += " to " + pipeline->deploy_to;
      }
      items.push_back(item("pipeline #" + std::to_string(pipeline->number) + " " + event,
                           pipeline->status, pipeline->url));
      if (out.url.empty()) {
        out.url = pipeline->url;
      }
    }
  }
  out.detail = truncate_utf8(bounded_list(items), k_max_stage_detail);
  return out;
}

// Kubernetes -------------------------------------------------------------------------------------

RolloutStatus rollout_status(const DeploymentState& d) {
  const std::string name = "\"" + d.name + "\"";
  if (d.generation > d.observed_generation) {
    return {RolloutState::waiting, "Waiting for deployment spec update to be observed..."};
  }
  if (d.progressing_reason == "ProgressDeadlineExceeded") {
    return {RolloutState::failed, "deployment " + name + " exceeded its progress deadline"};
  }
  const std::string waiting = "Waiting for deployment " + name + " rollout to finish: ";
  if (d.spec_replicas && d.updated_replicas < *d.spec_replicas) {
    return {RolloutState::waiting, waiting + std::to_string(d.updated_replicas) + " out of " +
                                       std::to_string(*d.spec_replicas) +
                                       " new replicas have been updated..."};
  }
  if (d.replicas > d.updated_replicas) {
    return {RolloutState::waiting, waiting + std::to_string(d.replicas - d.updated_replicas) +
                                       " old replicas are pending termination..."};
  }
  if (d.available_replicas < d.updated_replicas) {
    return {RolloutState::waiting, waiting + std::to_string(d.available_replicas) + " of " +
                                       std::to_string(d.updated_replicas) +
                                       " updated replicas are available..."};
  }
  return {RolloutState::complete, "deployment " + name + " successfully rolled out"};
}

bool image_carries_sha(std::string_view image, std::string_view sha) {
  image = image.substr(0, image.find('@'));
  const auto slash = image.rfind('/');
  const auto colon = image.rfind(':');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) {
    return false; // no tag (a registry port is not one)
  }
  const std::string_view tag = image.substr(colon + 1);
  std::size_t pos = 0;
  while (pos <= tag.size()) {
    const auto end = std::min(tag.find_first_of("-_.", pos), tag.size());
    if (names_sha(tag.substr(pos, end - pos), sha)) {
      return true;
    }
    pos = end + 1;
  }
  return false;
}

bool annotation_names_sha(std::string_view value, std::string_view sha) {
  return names_sha(value, sha);
}

} // namespace afk
