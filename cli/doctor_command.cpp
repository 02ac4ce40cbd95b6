// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <afk/doctor.hpp>
#include <afk/error.hpp>
#include <afk/world.hpp>

#include <iostream>
#include <memory>
#include <string>

namespace afk::cli {

namespace {

struct DoctorCommandOptions {
  bool probe = false;
  bool json = false;
  std::string probe_timeout = "2m";
};

std::string_view label(Check::Status status) {
  switch (status) {
  case Check::Status::ok:
    return "ok  ";
  case Check::Status::warn:
    return "warn";
  case Check::Status::fail:
    return "FAIL";
  case Check::Status::skipped:
    return "skip";
  }
  return "?   ";
}

void print_text(const std::vector<Check>& checks) {
  std::size_t counts[4] = {};
  for (const Check& check : checks) {
    ++counts[static_cast<std::size_t>(check.status)];
    std::cout << label(check.status) << "  " << check.name << ": " << check.detail << '\n';
  }
  std::cout << "doctor: " << counts[0] << " ok, " << counts[1] << " warning(s), " << counts[2]
            << " failed, " << counts[3] << " skipped\n";
}

int doctor(Context& context, const DoctorCommandOptions& options) {
  const Config config = load_effective_config(context.options);
  DoctorOptions doctor_options;
  doctor_options.probe = options.probe;
  const auto timeout = parse_duration(options.probe_timeout);
  if (!timeout) {
    throw Error(ErrorKind::config,
                "--probe-timeout: expected a duration such as \"90s\" or \"2m\", got \"" +
                    options.probe_timeout + "\"");
  }
  doctor_options.probe_timeout = *timeout;

  std::vector<Check> checks;
  try {
    const auto world = World::build(config, *context.log, context.clock);
    EnginePorts ports = world->ports();
    checks = run_doctor(config, ports, doctor_options);
  } catch (const Error& error) {
    // Without the adapters only the checks that need none can run.
    checks = run_static_checks(config);
    Check adapters;
    adapters.name = "adapters";
    adapters.status = Check::Status::fail;
    adapters.kind = error.kind();
    adapters.detail =
        config.t3.url.empty()
            ? std::string("t3.url is not set, so nothing remote was checked")
            : std::string("cannot be built, so nothing remote was checked: ") + error.what();
    checks.push_back(std::move(adapters));
  }

  if (options.json) {
    std::cout << format_doctor_json(checks) << '\n';
  } else {
    print_text(checks);
  }
  const DoctorResult result = doctor_result(checks);
  context.log->info("doctor_done",
                    {{"checks", std::to_string(checks.size())},
                     {"result", result == DoctorResult::healthy           ? "healthy"
                                : result == DoctorResult::config_problems ? "config_problems"
                                                                          : "unavailable"}});
  switch (result) {
  case DoctorResult::healthy:
    return k_exit_ok;
  case DoctorResult::config_problems:
    return k_exit_config;
  case DoctorResult::unavailable:
    return k_exit_unavailable;
  }
  return k_exit_software;
}

} // namespace

void add_doctor_command(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<DoctorCommandOptions>();
  auto* command = app.add_subcommand(
      "doctor",
      "Check that afk can run unattended: config, secret files, tracker access and labels, the "
      "T3 server (version, protocol, token scopes and expiry, liveness, the paths it sees), "
      "checkouts and disk, each repo's deploy stages, notification sinks. Reads only, unless "
      "--probe.");
  command->add_flag("--probe", options->probe,
                    "Also dispatch a throwaway T3 thread (project afk-doctor-probe on git.root) "
                    "asking for PONG, to see an unattended turn through; the thread is deleted "
                    "afterwards. Touches no repository.");
  command
      ->add_option("--probe-timeout", options->probe_timeout,
                   "How long the probe waits for the answer (default 2m)")
      ->type_name("DURATION");
  command->add_flag("--json", options->json, "Print the checks as one JSON document");
  command->footer("Each check prints ok, warn, FAIL or skip. Exit 0 when nothing failed "
                  "(warnings included), 78 when every failure is a configuration problem "
                  "(config, secrets, token scopes, versions, paths), 69 otherwise.");
  command->callback([&context, &exit_code, options] { exit_code = doctor(context, *options); });
}

} // namespace afk::cli
