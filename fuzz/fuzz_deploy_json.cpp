// SPDX-License-Identifier: MIT
// The deploy stages (GitHub checks, Woodpecker, Kubernetes rollout) over hostile JSON: an
// in-memory transport answers every request 200 with the next body from the input. Only
// afk::Error may come out, and a verdict's detail stays within k_max_stage_detail.
//
// Input (FuzzedDataProvider): the last byte picks the stage (mod 3: checks, Woodpecker,
// Kubernetes); the front holds the response bodies as in fuzz_tracker_json.

#include "fuzz_support.hpp"

#include <afk/deploy.hpp>
#include <afk/issue.hpp>
#include <afk/log.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace {

constexpr std::string_view k_sha = "0123456789abcdef0123456789abcdef01234567";

std::unique_ptr<afk::DeployStage> make_stage(int which, afk::HttpClient& http) {
  switch (which) {
  case 0:
    return afk::make_github_checks_stage(http, "https://github.com");
  case 1:
    return afk::make_woodpecker_stage(http, {.web_url = "https://ci.example", .max_pages = 3});
  default:
    return afk::make_kubernetes_stage(http);
  }
}

afk::StageContext context(int which) {
  afk::StageContext context;
  context.now = afk::fuzz::FixedClock().now();
  context.pushed_at = context.now - std::chrono::seconds{90};
  context.settings.missing_grace = std::chrono::seconds{600};
  if (which == 0) {
    context.settings.required_checks = {"build", "test"};
  }
  context.settings.kubernetes_namespace = "prod";
  context.settings.kubernetes_deployments = {"web", "worker"};
  context.settings.image_annotation = "afk.dev/commit";
  return context;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const int which = provider.ConsumeIntegral<std::uint8_t>() % 3;

  afk::fuzz::FuzzTransport transport(provider);
  afk::NullLogger log;
  const afk::fuzz::FixedClock clock;
  afk::HttpClientOptions options;
  options.base_url = "https://api.example";
  afk::HttpClient http(transport, options, log, clock, afk::fuzz::no_sleep);
  const std::unique_ptr<afk::DeployStage> stage = make_stage(which, http);
  afk::fuzz::expect_only_errors(
      [&] {
        const afk::StageVerdict verdict =
            stage->check(*afk::RepoName::parse("acme/widgets"), k_sha, context(which));
        afk::fuzz::require(verdict.detail.size() <= afk::k_max_stage_detail,
                           "a stage's detail is bounded", verdict.detail);
        afk::fuzz::require(afk::fuzz::decode_utf8(verdict.detail).has_value(),
                           "a stage's detail is valid UTF-8", verdict.detail);
      },
      {}, "the deploy stages throw only afk::Error");
  return 0;
}
