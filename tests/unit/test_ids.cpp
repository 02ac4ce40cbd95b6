// SPDX-License-Identifier: MIT
#include "core/uuid.hpp"
#include "detail/digest.hpp"

#include <afk/ids.hpp>

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace {

afk::RepoName repo(std::string_view text) {
  return afk::RepoName::parse(text).value();
}

afk::IssueRef issue(std::string_view text, std::int64_t number) {
  return afk::IssueRef{.repo = repo(text), .number = number};
}

bool is_uuid_v5(const std::string& id) {
  static const std::regex k_form(
      "[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  return std::regex_match(id, k_form);
}

} // namespace

TEST(Digest, sha1_matches_the_fips_180_example) {
  EXPECT_EQ(afk::detail::sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Digest, sha256_matches_the_fips_180_examples) {
  EXPECT_EQ(afk::detail::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(afk::detail::sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Digest, hashes_embedded_nul_bytes) {
  using namespace std::string_literals;
  EXPECT_NE(afk::detail::sha256_hex("a\0b"s), afk::detail::sha256_hex("a"));
}

TEST(Digest, to_hex_is_lower_case_two_digits_per_byte) {
  const std::array<std::uint8_t, 3> bytes = {0x00, 0x0f, 0xab};
  EXPECT_EQ(afk::detail::to_hex(bytes), "000fab");
}

TEST(Uuid, matches_the_rfc_9562_version_5_example) {
  EXPECT_EQ(afk::detail::uuid_v5(afk::detail::k_dns_namespace, "www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2");
}

// Pinned values (cross-checked with Python's uuid.uuid5): changing the namespace or the
// name scheme would orphan every in-flight run, so it must fail loudly here.
TEST(Ids, derive_the_pinned_values_in_afks_namespace) {
  const afk::IssueRef ref = issue("acme/widgets", 42);
  EXPECT_EQ(afk::derive_project_id(ref.repo), "d294a550-33e6-5fa5-8886-65ede7498dbf");
  EXPECT_EQ(afk::derive_run_id(ref, 1), "ffd0f81f-6c04-5018-ae16-db8df2a14863");
  EXPECT_EQ(afk::derive_thread_id(ref, 1), "eb3b0cda-be42-535a-a320-08df0b73a6ea");
  EXPECT_EQ(afk::derive_command_id(ref, 1, "thread.create"),
            "bbb713d6-fe6b-575c-ad63-face2031e005");
  EXPECT_EQ(afk::derive_uuid("project:acme/widgets"), afk::derive_project_id(ref.repo));
}

TEST(Ids, are_stable_across_calls) {
  const afk::IssueRef ref = issue("acme/widgets", 7);
  EXPECT_EQ(afk::derive_run_id(ref, 2), afk::derive_run_id(ref, 2));
  EXPECT_EQ(afk::derive_thread_id(ref, 2), afk::derive_thread_id(ref, 2));
  EXPECT_EQ(afk::derive_command_id(ref, 2, "turn.start:1"),
            afk::derive_command_id(ref, 2, "turn.start:1"));
}

TEST(Ids, ignore_the_case_of_the_repository_name) {
  const afk::IssueRef lower = issue("acme/widgets", 7);
  const afk::IssueRef mixed = issue("Acme/Widgets", 7);
  EXPECT_EQ(afk::derive_project_id(lower.repo), afk::derive_project_id(mixed.repo));
  EXPECT_EQ(afk::derive_run_id(lower, 1), afk::derive_run_id(mixed, 1));
  EXPECT_EQ(afk::derive_thread_id(lower, 1), afk::derive_thread_id(mixed, 1));
  EXPECT_EQ(afk::derive_command_id(lower, 1, "thread.create"),
            afk::derive_command_id(mixed, 1, "thread.create"));
}

TEST(Ids, differ_by_repo_issue_attempt_step_and_kind) {
  const afk::IssueRef ref = issue("acme/widgets", 7);
  const std::set<std::string> ids = {
      afk::derive_project_id(ref.repo),
      afk::derive_project_id(repo("acme/gadgets")),
      afk::derive_run_id(ref, 1),
      afk::derive_run_id(ref, 2),
      afk::derive_run_id(issue("acme/widgets", 8), 1),
      afk::derive_run_id(issue("acme/gadgets", 7), 1),
      afk::derive_thread_id(ref, 1),
      afk::derive_thread_id(ref, 2),
      afk::derive_command_id(ref, 1, "thread.create"),
      afk::derive_command_id(ref, 1, "turn.start:1"),
      afk::derive_command_id(ref, 2, "thread.create"),
      afk::derive_command_id(ref, 1, ""),
  };
  EXPECT_EQ(ids.size(), 12U);
}

TEST(Ids, do_not_collide_when_numbers_run_together) {
  // "#1" attempt 12 and "#11" attempt 2 would both read "…#112" without the separator.
  EXPECT_NE(afk::derive_run_id(issue("acme/widgets", 1), 12),
            afk::derive_run_id(issue("acme/widgets", 11), 2));
}

TEST(Ids, are_lower_case_uuid_version_5) {
  const afk::IssueRef ref = issue("Acme/Widgets", 123456789);
  EXPECT_TRUE(is_uuid_v5(afk::derive_project_id(ref.repo)));
  EXPECT_TRUE(is_uuid_v5(afk::derive_run_id(ref, 3)));
  EXPECT_TRUE(is_uuid_v5(afk::derive_thread_id(ref, 3)));
  EXPECT_TRUE(is_uuid_v5(afk::derive_command_id(ref, 3, "approval.respond:req-1")));
  EXPECT_TRUE(is_uuid_v5(afk::derive_uuid("")));
}
