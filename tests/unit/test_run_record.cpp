// SPDX-License-Identifier: MIT
#include "detail/digest.hpp"

#include <afk/ids.hpp>
#include <afk/run_record.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr std::string_view k_open = "<!-- afk:run ";
constexpr std::array k_phases = {
    afk::Phase::claimed, afk::Phase::dispatched, afk::Phase::working, afk::Phase::pushed,
    afk::Phase::ci,      afk::Phase::deploying,  afk::Phase::healthy, afk::Phase::fixing,
    afk::Phase::done,    afk::Phase::escalated,  afk::Phase::frozen,
};
// `,"sum":"` + 64 hex digits + `"}` + ` -->`
constexpr std::size_t k_sealed_suffix = 8 + 64 + 2 + 4;

afk::Timestamp at(std::chrono::seconds offset) {
  return afk::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 11 / 24}} + offset;
}

afk::IssueRef issue_ref(std::string_view repo, std::int64_t number) {
  return afk::IssueRef{.repo = afk::RepoName::parse(repo).value(), .number = number};
}

afk::IssueRef issue_42() {
  return issue_ref("Acme/Widgets", 42);
}

afk::RunRecord minimal_record(const afk::IssueRef& ref = issue_42(), int attempt = 1) {
  return afk::RunRecord{
      .run_id = afk::derive_run_id(ref, attempt),
      .issue = ref,
      .attempt = attempt,
      .phase = afk::Phase::claimed,
      .project_id = afk::derive_project_id(ref.repo),
      .thread_id = afk::derive_thread_id(ref, attempt),
      .branch = "",
      .worktree_path = "",
      .base_sha = "",
      .claimed_at = at(0s),
      .dispatched_at = std::nullopt,
      .working_since = std::nullopt,
      .first_push_at = std::nullopt,
      .last_push_at = std::nullopt,
      .first_red_at = std::nullopt,
      .healthy_since = std::nullopt,
      .updated_at = at(0s),
      .pushed_shas = {},
      .verdicts = {},
      .fix_attempts = 0,
      .turns = 0,
      .last_turn_id = "",
      .turn_seen = false,
      .fix_turn_sent_at = std::nullopt,
      .answered_requests = {},
      .lease_holder = "",
      .lease_expires = std::nullopt,
      .outcome = "",
  };
}

afk::RunRecord full_record() {
  afk::RunRecord record = minimal_record(issue_42(), 2);
  record.phase = afk::Phase::fixing;
  record.branch = "afk/42-add-widget-export";
  record.worktree_path = "/var/lib/afk/worktrees/acme/widgets/42";
  record.base_sha = "0123456789abcdef0123456789abcdef01234567";
  record.dispatched_at = at(10s);
  record.working_since = at(20s);
  record.first_push_at = at(600s);
  record.last_push_at = at(1200s);
  record.first_red_at = at(900s);
  record.healthy_since = at(1500s);
  record.updated_at = at(1600s);
  record.pushed_shas = {"1111111111111111111111111111111111111111",
                        "2222222222222222222222222222222222222222"};
  record.verdicts = {
      afk::StageVerdict{.stage = "github_checks",
                        .kind = afk::StageKind::ci,
                        .verdict = afk::Verdict::red,
                        .detail = "test (ubuntu): 3 failed; «ünïcödé» \"quoted\"\ttab",
                        .url = "https://github.com/acme/widgets/actions/runs/1"},
      afk::StageVerdict{.stage = "kubernetes",
                        .kind = afk::StageKind::deploy,
                        .verdict = afk::Verdict::pending,
                        .detail = "",
                        .url = ""},
  };
  record.fix_attempts = 2;
  record.turns = 3;
  record.last_turn_id = "turn-3";
  record.turn_seen = true;
  record.fix_turn_sent_at = at(1300s);
  record.answered_requests = {"req-1", "req-2"};
  record.lease_holder = "afk-tick-7f9c";
  record.lease_expires = at(1900s);
  record.outcome = "CI red on 2222222: retrying";
  return record;
}

// The JSON a block's checksum covers: the block without its sum member.
std::string unsealed(const std::string& block) {
  return block.substr(k_open.size(), block.size() - k_open.size() - k_sealed_suffix) + "}";
}

// A block whose sum is right for `json`, as a careful forger (or a future afk) would write.
std::string sealed(const std::string& json) {
  return std::string(k_open) + json.substr(0, json.size() - 1) + R"(,"sum":")" +
         afk::detail::sha256_hex(json) + R"("} -->)";
}

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const std::size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from << " not in " << text;
  if (pos != std::string::npos) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// The encoded record with one textual edit, checksum recomputed.
std::string resealed_edit(const afk::RunRecord& record, std::string_view from,
                          std::string_view to) {
  return sealed(replaced(unsealed(afk::encode_run_record(record)), from, to));
}

afk::DecodedRunRecord decode(std::string_view body) {
  return afk::decode_run_record(body, issue_42());
}

std::string reason(const afk::DecodedRunRecord& decoded) {
  const auto* invalid = std::get_if<afk::InvalidRunRecord>(&decoded);
  return invalid == nullptr ? "<not invalid>" : invalid->reason;
}

void expect_invalid(const afk::DecodedRunRecord& decoded, std::string_view expected_reason) {
  ASSERT_TRUE(std::holds_alternative<afk::InvalidRunRecord>(decoded));
  EXPECT_NE(reason(decoded).find(expected_reason), std::string::npos) << reason(decoded);
}

void expect_record(const afk::DecodedRunRecord& decoded, const afk::RunRecord& expected) {
  ASSERT_TRUE(std::holds_alternative<afk::RunRecord>(decoded)) << reason(decoded);
  EXPECT_EQ(std::get<afk::RunRecord>(decoded), expected);
}

std::size_t count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

} // namespace

TEST(Run, names_round_trip_for_every_phase_verdict_and_stage_kind) {
  for (const afk::Phase phase : k_phases) {
    EXPECT_EQ(afk::phase_from_string(afk::to_string(phase)), phase);
  }
  for (const afk::Verdict verdict :
       {afk::Verdict::pending, afk::Verdict::green, afk::Verdict::red, afk::Verdict::unknown}) {
    EXPECT_EQ(afk::verdict_from_string(afk::to_string(verdict)), verdict);
  }
  for (const afk::StageKind kind : {afk::StageKind::ci, afk::StageKind::deploy}) {
    EXPECT_EQ(afk::stage_kind_from_string(afk::to_string(kind)), kind);
  }
  EXPECT_EQ(afk::to_string(afk::Phase::deploying), "deploying");
  EXPECT_EQ(afk::phase_from_string("Done"), std::nullopt);
  EXPECT_EQ(afk::phase_from_string(""), std::nullopt);
  EXPECT_EQ(afk::verdict_from_string("success"), std::nullopt);
  EXPECT_EQ(afk::stage_kind_from_string("cd"), std::nullopt);
}

TEST(Run, terminal_phases_are_done_escalated_and_frozen) {
  for (const afk::Phase phase : k_phases) {
    const bool terminal =
        phase == afk::Phase::done || phase == afk::Phase::escalated || phase == afk::Phase::frozen;
    EXPECT_EQ(afk::is_terminal(phase), terminal) << afk::to_string(phase);
  }
}

TEST(Run, post_push_phases_exclude_escalated) {
  for (const afk::Phase phase : k_phases) {
    const bool post_push = phase == afk::Phase::pushed || phase == afk::Phase::ci ||
                           phase == afk::Phase::deploying || phase == afk::Phase::healthy ||
                           phase == afk::Phase::fixing || phase == afk::Phase::done ||
                           phase == afk::Phase::frozen;
    EXPECT_EQ(afk::is_post_push(phase), post_push) << afk::to_string(phase);
  }
}

TEST(RunRecord, round_trips_a_fully_populated_record) {
  const afk::RunRecord record = full_record();
  expect_record(decode(afk::encode_run_record(record)), record);
}

TEST(RunRecord, round_trips_a_minimal_record) {
  const afk::RunRecord record = minimal_record();
  expect_record(decode(afk::encode_run_record(record)), record);
}

TEST(RunRecord, round_trips_every_phase_and_verdict) {
  for (const afk::Phase phase : k_phases) {
    afk::RunRecord record = minimal_record();
    record.phase = phase;
    for (const afk::Verdict verdict :
         {afk::Verdict::pending, afk::Verdict::green, afk::Verdict::red, afk::Verdict::unknown}) {
      record.verdicts.push_back(afk::StageVerdict{.stage = "s",
                                                  .kind = afk::StageKind::deploy,
                                                  .verdict = verdict,
                                                  .detail = "",
                                                  .url = ""});
    }
    expect_record(decode(afk::encode_run_record(record)), record);
  }
}

TEST(RunRecord, encodes_the_documented_layout) {
  const afk::RunRecord record = minimal_record(issue_ref("acme/widgets", 42));
  const std::string json =
      R"({"v":1,"run_id":"ffd0f81f-6c04-5018-ae16-db8df2a14863","issue":"acme/widgets#42",)"
      R"("attempt":1,"phase":"claimed","project_id":"d294a550-33e6-5fa5-8886-65ede7498dbf",)"
      R"("thread_id":"eb3b0cda-be42-535a-a320-08df0b73a6ea","branch":"","worktree_path":"",)"
      R"("base_sha":"","claimed_at":"2026-11-24T00:00:00Z","updated_at":"2026-11-24T00:00:00Z",)"
      R"("pushed_shas":[],"verdicts":[],"fix_attempts":0,"turns":0,"last_turn_id":"",)"
      R"("turn_seen":false,"answered_requests":[],"lease_holder":"","outcome":""})";
  EXPECT_EQ(afk::encode_run_record(record), sealed(json));
}

TEST(RunRecord, encoding_is_byte_stable) {
  const afk::RunRecord record = full_record();
  const std::string block = afk::encode_run_record(record);
  EXPECT_EQ(afk::encode_run_record(record), block);
  EXPECT_EQ(afk::encode_run_record(full_record()), block);
  const afk::DecodedRunRecord decoded = decode(block);
  ASSERT_TRUE(std::holds_alternative<afk::RunRecord>(decoded)) << reason(decoded);
  EXPECT_EQ(afk::encode_run_record(std::get<afk::RunRecord>(decoded)), block);
}

TEST(RunRecord, encoding_is_one_ascii_line) {
  const std::string block = afk::encode_run_record(full_record());
  for (const char c : block) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
  }
}

TEST(RunRecord, decodes_from_a_rendered_comment) {
  const afk::RunRecord record = full_record();
  const std::string comment =
      afk::render_run_comment(record, "https://t3.example/threads/" + record.thread_id);
  expect_record(decode(comment), record);
}

TEST(RunRecord, decodes_with_crlf_line_endings_around_the_block) {
  const afk::RunRecord record = full_record();
  expect_record(decode("### afk run\r\n\r\n" + afk::encode_run_record(record) + "\r\n"), record);
}

TEST(RunRecord, ordinary_comments_hold_no_record) {
  for (const std::string_view body :
       {"", "LGTM", "<!-- a comment -->", "afk:run is what afk writes", "<!--afk:run {} -->",
        "<!-- afk:runs {} -->"}) {
    EXPECT_TRUE(std::holds_alternative<afk::NoRunRecord>(decode(body))) << body;
  }
}

TEST(RunRecord, rejects_garbage_json) {
  expect_invalid(decode("<!-- afk:run {not json} -->"), "not valid JSON");
  expect_invalid(decode("<!-- afk:run  -->"), "not valid JSON");
  expect_invalid(decode("<!-- afk:run [1,2] -->"), "not a JSON object");
  expect_invalid(decode("<!-- afk:run {\"v\":1} trailing -->"), "not valid JSON");
}

TEST(RunRecord, rejects_a_truncated_block) {
  const std::string block = afk::encode_run_record(full_record());
  expect_invalid(decode(block.substr(0, block.size() - 4)), "truncated");
  expect_invalid(decode(block.substr(0, block.size() / 2) + " -->"), "not valid JSON");
}

TEST(RunRecord, rejects_a_future_version) {
  const afk::RunRecord record = minimal_record();
  expect_invalid(decode(resealed_edit(record, R"("v":1)", R"("v":2)")),
                 "future version 2, this afk understands 1");
  // A future version may checksum differently: the version is judged first.
  expect_invalid(decode(replaced(afk::encode_run_record(record), R"("v":1)", R"("v":3)")),
                 "future version 3");
  expect_invalid(decode(resealed_edit(record, R"("v":1)", R"("v":18446744073709551615)")),
                 "future version 18446744073709551615");
  expect_invalid(decode(resealed_edit(record, R"("v":1)", R"("v":1e30)")), "\"v\"");
}

TEST(RunRecord, rejects_a_version_below_one) {
  const afk::RunRecord record = minimal_record();
  expect_invalid(decode(resealed_edit(record, R"("v":1)", R"("v":0)")), "\"v\"");
  expect_invalid(decode(resealed_edit(record, R"("v":1)", R"("v":-1)")), "\"v\"");
  expect_invalid(decode(resealed_edit(record, R"("v":1)", R"("v":"1")")),
                 "\"v\" is not an integer");
  expect_invalid(decode(resealed_edit(record, R"("v":1)", R"("v":1.0)")),
                 "\"v\" is not an integer");
  expect_invalid(decode(resealed_edit(record, R"("v":1,)", "")), "missing field \"v\"");
}

TEST(RunRecord, rejects_values_of_the_wrong_type) {
  const afk::RunRecord record = full_record();
  const struct {
    std::string_view from;
    std::string_view to;
    std::string_view reason;
  } cases[] = {
      {R"("attempt":2)", R"("attempt":"2")", R"("attempt" is not an integer)"},
      {R"("attempt":2)", R"("attempt":2.5)", R"("attempt" is not an integer)"},
      {R"("attempt":2)", R"("attempt":true)", R"("attempt" is not an integer)"},
      {R"("attempt":2)", R"("attempt":0)", R"("attempt" is out of range)"},
      {R"("attempt":2)", R"("attempt":-2)", R"("attempt" is out of range)"},
      {R"("attempt":2)", R"("attempt":4294967298)", R"("attempt" is out of range)"},
      {R"("attempt":2)", R"("attempt":99999999999999999999999)", R"("attempt" is not an integer)"},
      {R"("attempt":2)", R"("attempt":1e400)", "a number is out of range"},
      {R"("turns":3)", R"("turns":-1)", R"("turns" is out of range)"},
      {R"("fix_attempts":2)", R"("fix_attempts":null)", R"("fix_attempts" is not an integer)"},
      {R"("phase":"fixing")", R"("phase":"finished")", R"("phase" names no phase)"},
      {R"("phase":"fixing")", R"("phase":7)", R"("phase" is not a string)"},
      {R"("branch":"afk/)", R"("branch":["afk/"],"x":")", R"("branch" is not a string)"},
      {R"("claimed_at":"2026-11-24T00:00:00Z")", R"("claimed_at":"yesterday")", R"("claimed_at")"},
      {R"("claimed_at":"2026-11-24T00:00:00Z")", R"("claimed_at":"2026-11-24T01:00:00+01:00")",
       R"("claimed_at" is not a UTC timestamp)"},
      {R"("dispatched_at":"2026-11-24T00:00:10Z")", R"("dispatched_at":1764000000)",
       R"("dispatched_at")"},
      {R"("turn_seen":true)", R"("turn_seen":1)", R"("turn_seen" is not true or false)"},
      {R"("pushed_shas":[)", R"("pushed_shas":[1,)", R"("pushed_shas" holds something other)"},
      {R"("answered_requests":["req-1","req-2"])", R"("answered_requests":{"a":1})",
       R"("answered_requests" is not a list)"},
      {R"("kind":"ci")", R"("kind":"build")", R"("verdicts[0].kind")"},
      {R"("verdict":"pending")", R"("verdict":"yellow")", R"("verdicts[1].verdict")"},
      {R"("url":"")", R"("url":null)", R"("verdicts[1].url" is not a string)"},
      {R"("verdicts":[)", R"("verdicts":["x",)", R"("verdicts" holds something other)"},
      {R"("lease_holder":"afk-tick-7f9c",)", "", R"(missing field "lease_holder")"},
      {R"("issue":"Acme/Widgets#42")", R"("issue":"42")", R"("issue" is not an owner/repo)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.to);
    expect_invalid(decode(resealed_edit(record, c.from, c.to)), c.reason);
  }
}

TEST(RunRecord, rejects_an_edited_field) {
  const std::string block = afk::encode_run_record(full_record());
  expect_invalid(decode(replaced(block, R"("turns":3)", R"("turns":4)")), "checksum mismatch");
  expect_invalid(decode(replaced(block, "afk/42-add", "afk/42-ADD")), "checksum mismatch");
}

TEST(RunRecord, rejects_a_sum_that_is_not_afks_last_member) {
  const std::string json = unsealed(afk::encode_run_record(minimal_record()));
  const std::string sum = afk::detail::sha256_hex(json);
  expect_invalid(decode(std::string(k_open) + json + " -->"), "missing field \"sum\"");
  expect_invalid(
      decode(std::string(k_open) + R"({"sum":")" + sum + R"(",)" + json.substr(1) + " -->"),
      "\"sum\" is not the last member");
  std::string upper = sum;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  expect_invalid(decode(replaced(sealed(json), sum, upper)), "\"sum\" is not the last member");
  expect_invalid(decode(replaced(sealed(json), R"(,"sum")", R"(, "sum")")),
                 "\"sum\" is not the last member");
}

TEST(RunRecord, ignores_unknown_keys_but_covers_them_with_the_sum) {
  const afk::RunRecord record = minimal_record();
  const std::string extended =
      resealed_edit(record, R"("outcome":"")", R"("outcome":"","later":{"a":[1,2]})");
  expect_record(decode(extended), record);
  expect_invalid(decode(replaced(extended, R"("a":[1,2])", R"("a":[1,3])")), "checksum mismatch");
}

TEST(RunRecord, accepts_null_for_an_absent_timestamp) {
  const afk::RunRecord record = minimal_record();
  expect_record(
      decode(resealed_edit(record, R"("outcome":"")", R"("outcome":"","dispatched_at":null)")),
      record);
}

TEST(RunRecord, rejects_a_record_for_another_issue) {
  const std::string block = afk::encode_run_record(minimal_record());
  expect_invalid(afk::decode_run_record(block, issue_ref("acme/widgets", 43)),
                 "the record is for Acme/Widgets#42, not acme/widgets#43");
  expect_invalid(afk::decode_run_record(block, issue_ref("acme/gadgets", 42)), "the record is for");
  expect_record(afk::decode_run_record(block, issue_ref("ACME/WIDGETS", 42)), minimal_record());
}

TEST(RunRecord, rejects_ids_that_do_not_derive_from_the_issue) {
  const afk::RunRecord record = minimal_record();
  const afk::RunRecord other = minimal_record(issue_42(), 2);
  expect_invalid(decode(resealed_edit(record, record.run_id, other.run_id)),
                 "\"run_id\" does not derive from Acme/Widgets#42 attempt 1");
  expect_invalid(decode(resealed_edit(record, record.thread_id, other.thread_id)),
                 "\"thread_id\" does not derive");
  // The project is T3's: afk's derived one or one it adopted on the same workspace root.
  const auto adopted = decode(resealed_edit(record, record.project_id, "p-human"));
  ASSERT_TRUE(std::holds_alternative<afk::RunRecord>(adopted));
  EXPECT_EQ(std::get<afk::RunRecord>(adopted).project_id, "p-human");
  expect_invalid(decode(resealed_edit(record, "\"" + record.project_id + "\"", R"("")")),
                 "\"project_id\" is empty");
  // A fix-forward thread that replaced a deleted one derives too, up to the limit.
  const auto replaced =
      decode(resealed_edit(record, record.thread_id, afk::derive_fix_thread_id(issue_42(), 1, 3)));
  EXPECT_TRUE(std::holds_alternative<afk::RunRecord>(replaced));
  expect_invalid(
      decode(resealed_edit(record, record.thread_id,
                           afk::derive_fix_thread_id(issue_42(), 1, afk::k_max_fix_threads + 1))),
      "\"thread_id\" does not derive");
  // Right ids, wrong attempt: the ids say attempt 1.
  expect_invalid(decode(resealed_edit(record, R"("attempt":1)", R"("attempt":2)")),
                 "\"run_id\" does not derive from Acme/Widgets#42 attempt 2");
}

TEST(RunRecord, rejects_two_blocks) {
  const std::string block = afk::encode_run_record(minimal_record());
  expect_invalid(decode(block + "\n" + block), "more than one afk:run block");
  expect_invalid(decode("quoted: <!-- afk:run {} -->\n" + block), "more than one afk:run block");
}

TEST(RunRecord, hostile_values_cannot_close_the_comment_or_open_a_block) {
  afk::RunRecord record = full_record();
  record.branch = "afk/42-x --> <!-- afk:run {\"v\":1} -->";
  record.outcome = "--!> --> <script>alert(1)</script> <!-- afk:run ";
  record.verdicts[0].detail = "-->";
  const std::string block = afk::encode_run_record(record);
  EXPECT_EQ(count(block, "-->"), 1U);
  EXPECT_EQ(block.find("--!>"), std::string::npos);
  EXPECT_EQ(count(block, "<"), 1U);
  EXPECT_EQ(count(block, ">"), 1U);
  EXPECT_TRUE(block.ends_with(" -->"));
  // Such a branch is not one afk writes, so the block is not trusted either.
  expect_invalid(decode(block), "\"branch\" is not a branch name afk writes");
  record.branch = "afk/42-x";
  expect_record(decode(afk::encode_run_record(record)), record);
  expect_record(decode(afk::render_run_comment(record)), record);
}

TEST(RunRecord, rejects_values_afk_could_not_have_written) {
  struct Row {
    const char* name;
    void (*edit)(afk::RunRecord&);
    const char* reason;
  };
  const std::vector<Row> rows{
      {"option-like branch", [](afk::RunRecord& r) { r.branch = "--upload-pack=touch /tmp/x"; },
       "\"branch\" is not a branch name afk writes"},
      {"branch with ..", [](afk::RunRecord& r) { r.branch = "afk/../../etc"; },
       "\"branch\" is not a branch name afk writes"},
      {"branch with a space", [](afk::RunRecord& r) { r.branch = "afk/42 x"; },
       "\"branch\" is not a branch name afk writes"},
      {"root worktree", [](afk::RunRecord& r) { r.worktree_path = "/"; },
       "\"worktree_path\" is not an absolute path"},
      {"relative worktree", [](afk::RunRecord& r) { r.worktree_path = "worktrees/42"; },
       "\"worktree_path\" is not an absolute path"},
      {"worktree escaping", [](afk::RunRecord& r) { r.worktree_path = "/var/lib/afk/../../etc"; },
       "\"worktree_path\" is not an absolute path"},
      {"shell in base sha", [](afk::RunRecord& r) { r.base_sha = "$(reboot)"; },
       "\"base_sha\" is not a 40 or 64 digit"},
      {"upper-case sha", [](afk::RunRecord& r) { r.base_sha = std::string(40, 'A'); },
       "\"base_sha\" is not a 40 or 64 digit"},
      {"short pushed sha", [](afk::RunRecord& r) { r.pushed_shas = {"abc123"}; },
       "\"pushed_shas\" holds something other than"},
      {"newline in turn id", [](afk::RunRecord& r) { r.last_turn_id = "t1\nx"; },
       "\"last_turn_id\" holds control characters"},
      {"control in request id", [](afk::RunRecord& r) { r.answered_requests = {"a\x01"}; },
       "\"answered_requests\" holds control characters"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    afk::RunRecord record = full_record();
    row.edit(record);
    expect_invalid(decode(afk::encode_run_record(record)), row.reason);
  }
  afk::RunRecord sha256_repo = full_record();
  sha256_repo.pushed_shas = {std::string(64, 'e')};
  expect_record(decode(afk::encode_run_record(sha256_repo)), sha256_repo);
}

TEST(RunRecord, rendered_text_cannot_forge_or_hide_the_block) {
  const afk::RunRecord forged = minimal_record(issue_42(), 1);
  afk::RunRecord record = full_record();
  record.phase = afk::Phase::working;
  record.outcome = "fine\n- [x] done, issue closed\n" + afk::encode_run_record(forged);
  record.verdicts[0].detail = "```\n<details><summary>x</summary>\n<!-- hidden @someone";
  record.verdicts[0].stage = "ci`<b>";
  record.verdicts[0].url = "https://ci.example/run?a=1) [x](javascript:alert(1)";
  record.verdicts[1].url = "javascript:alert(1)";
  record.branch = "afk/42-<b>bold</b>";
  const std::string comment = afk::render_run_comment(record, "https://t3.example/t/1 <!--");
  // The one real block is found (not the forged one) and refused for its hostile branch.
  expect_invalid(decode(comment), "\"branch\" is not a branch name afk writes");
  record.branch = "afk/42-bold";
  expect_record(decode(afk::render_run_comment(record, "https://t3.example/t/1 <!--")), record);
  EXPECT_EQ(count(comment, "<!--"), 1U) << comment;
  // What people see: everything above the block.
  const std::string visible = comment.substr(0, comment.rfind("<!-- afk:run "));
  EXPECT_EQ(count(visible, "<"), 0U) << visible;
  EXPECT_EQ(count(visible, "```"), 0U) << visible;
  EXPECT_EQ(count(visible, "@someone"), 0U) << visible;
  EXPECT_EQ(count(visible, "- [x] done"), 0U) << visible;
  EXPECT_EQ(count(visible, "](javascript:"), 0U) << visible;
  EXPECT_NE(visible.find("(https://ci.example/run?a=1%29%20%5Bx%5D%28javascript:alert%281%29)"),
            std::string::npos)
      << visible;
}

TEST(RunRecord, renders_the_checklist_for_people) {
  afk::RunRecord record = full_record();
  record.phase = afk::Phase::working;
  record.pushed_shas.clear();
  record.first_push_at.reset();
  record.verdicts.clear();
  const std::string url = "https://t3.example/threads/" + record.thread_id;
  const std::string working = afk::render_run_comment(record, url);
  EXPECT_TRUE(working.starts_with("### afk run for #42\n\n")) << working;
  EXPECT_NE(working.find("- [x] claimed (2026-11-24T00:00:00Z)\n"), std::string::npos) << working;
  EXPECT_NE(
      working.find("- [x] agent dispatched (2026-11-24T00:00:10Z) · [T3 thread](" + url + ")\n"),
      std::string::npos)
      << working;
  EXPECT_NE(working.find("- [ ] pushed\n- [ ] CI green\n- [ ] rolled out\n"), std::string::npos)
      << working;
  EXPECT_NE(working.find("- [ ] done"), std::string::npos) << working;
  EXPECT_NE(working.find("- fix-forward attempts: 2, first red at 2026-11-24T00:15:00Z\n"),
            std::string::npos)
      << working;
  EXPECT_NE(working.find("- branch `afk/42-add-widget-export`\n"), std::string::npos) << working;
  EXPECT_NE(working.find("- agent turns: 3\n"), std::string::npos) << working;
  EXPECT_TRUE(working.ends_with("\n\n" + afk::encode_run_record(record) + "\n")) << working;

  record.phase = afk::Phase::done;
  const std::string done = afk::render_run_comment(record);
  EXPECT_EQ(count(done, "- [ ]"), 0U) << done;
  EXPECT_EQ(done.find("T3 thread"), std::string::npos) << done;
}

TEST(RunRecord, renders_the_terminal_outcome) {
  afk::RunRecord record = minimal_record();
  record.phase = afk::Phase::escalated;
  record.outcome = "agent finished without pushing <anything>";
  const std::string escalated = afk::render_run_comment(record);
  EXPECT_NE(escalated.find("- [ ] agent dispatched"), std::string::npos) << escalated;
  EXPECT_NE(escalated.find("- **escalated to a human:** agent finished without pushing "
                           "&lt;anything&gt;\n"),
            std::string::npos)
      << escalated;

  record = full_record();
  record.phase = afk::Phase::frozen;
  record.outcome = "fix-forward exhausted after 5 attempts";
  const std::string frozen = afk::render_run_comment(record);
  EXPECT_NE(frozen.find("- [x] pushed"), std::string::npos) << frozen;
  EXPECT_NE(frozen.find("frozen, broken state kept for forensics:** fix-forward exhausted"),
            std::string::npos)
      << frozen;
  EXPECT_NE(frozen.find("- ci `github_checks`: **red**"), std::string::npos) << frozen;
}

TEST(RunRecord, invalid_utf8_is_replaced_not_thrown) {
  afk::RunRecord record = minimal_record();
  record.outcome = "bad \xff\xfe bytes";
  const std::string block = afk::encode_run_record(record);
  const afk::DecodedRunRecord decoded = decode(block);
  ASSERT_TRUE(std::holds_alternative<afk::RunRecord>(decoded)) << reason(decoded);
  EXPECT_EQ(std::get<afk::RunRecord>(decoded).outcome, "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  EXPECT_NO_THROW((void)afk::render_run_comment(record));

  expect_invalid(decode(replaced(block, "bad ", "bad \xc0\xaf")), "not valid JSON");
}

TEST(RunRecord, survives_deep_nesting_and_huge_input) {
  const std::string deep(20000, '[');
  expect_invalid(decode("<!-- afk:run " + deep + " -->"), "not valid JSON");
  // Well-formed and correctly sealed, but nested deep inside an unknown key.
  const afk::RunRecord record = minimal_record();
  const std::string nested = std::string(5000, '[') + std::string(5000, ']');
  expect_record(decode(resealed_edit(record, R"("outcome":"")", R"("outcome":"","x":)" + nested)),
                record);
  expect_invalid(decode("<!-- afk:run {\"v\":1,\"pad\":\"" + std::string(1 << 18, 'a') + "\"} -->"),
                 "missing field \"sum\"");
}

TEST(RunRecord, every_prefix_decodes_without_throwing) {
  const afk::RunRecord record = full_record();
  const std::string comment = afk::render_run_comment(record);
  const std::size_t block_end = comment.rfind("-->") + 3;
  for (std::size_t length = 0; length <= comment.size(); ++length) {
    const afk::DecodedRunRecord decoded = decode(std::string_view(comment).substr(0, length));
    if (length >= block_end) {
      expect_record(decoded, record);
    } else {
      EXPECT_FALSE(std::holds_alternative<afk::RunRecord>(decoded)) << length;
    }
  }
}

TEST(RunRecord, single_byte_mutations_never_yield_another_record) {
  const afk::RunRecord record = full_record();
  const std::string block = afk::encode_run_record(record);
  const std::size_t json_begin = k_open.size();
  const std::size_t json_end = block.size() - 4;
  // One mutation per position, cycling through bytes that break structure, keep strings and
  // numbers well-formed (so only the checksum can tell), or are not UTF-8. One pass keeps the
  // test fast in Debug builds.
  constexpr std::string_view k_bytes("1\"}\xff\0> a", 8);
  for (std::size_t pos = 0; pos < block.size(); ++pos) {
    std::string mutated = block;
    mutated[pos] = k_bytes[pos % k_bytes.size()];
    if (mutated[pos] == block[pos]) {
      mutated[pos] = k_bytes[(pos + 1) % k_bytes.size()];
    }
    const afk::DecodedRunRecord decoded = decode(mutated);
    if (pos >= json_begin && pos < json_end) {
      EXPECT_TRUE(std::holds_alternative<afk::InvalidRunRecord>(decoded)) << pos;
    } else if (const auto* got = std::get_if<afk::RunRecord>(&decoded)) {
      EXPECT_EQ(*got, record) << pos;
    }
  }
}
