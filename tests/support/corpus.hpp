// corpus.hpp — the adversarial corpus (tests/corpus/*.eml): reads one file's X-Test-*
// pseudo-headers (its envelope and its expected outcome, format in tests/corpus/README.md),
// and builds the ONE fixed scene every file is judged against (policy, mailboxes, sender
// rules, pair codes, fixed clock). Shared by tests/unit/corpus_test.cpp and
// bench/micro/corpus_bench.cpp. Test-only; no libmilter, no SQLite. Not thread-safe: one
// scene per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/decision.hpp"
#include "policy/facts.hpp"
#include "policy/policy.hpp"
#include "policy/result.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/memory_store.hpp"

namespace aamp::test {

// One queued pair.respond the file expects: its status and, when rejected, its ErrorMsg.
struct ExpectedReply {
  TaskStatus status = TaskStatus::completed;
  std::string error_msg;
};

struct CorpusCase {
  std::string name;   // file name, "120a-brute-force-1.eml"
  std::string group;  // leading digits: files sharing them run in name order on one scene
  std::string category;
  std::string why;

  // Envelope and connection (what the MTA would tell the milter).
  std::vector<std::string> recipients;
  std::string mail_from;  // "" = the null sender
  std::string auth_user;
  std::string client_addr = "198.51.100.7";
  std::int64_t clock_advance = 0;  // seconds the scene's clock moves before this message
  std::string store_fault;         // a Store method that fails once (StoreError busy)

  // Expectations.
  Action action = Action::accept;
  std::optional<std::string> reply_prefix;  // of SmtpReply::str(); set iff reject/tempfail
  std::string verdict;
  std::vector<std::string> audit;  // verdicts of the audit rows this message adds, in order
  std::vector<std::string> deleted_recipients;
  std::optional<std::vector<ExpectedReply>> outbox;  // nullopt: the file says nothing
  std::optional<std::string> in_reply_to;           // of every queued reply; "" = none
  int removed_headers = 0;                           // forged verdicts removed
  std::optional<std::string> verdict_header;         // substring; "none" = no header added
  std::string known_bug;                             // non-empty: expected to fail today
  std::string blackbox;                              // "", "skip <reason>" or "dropped: <reason>"

  std::string message;  // the .eml bytes after the pseudo-headers
};

// Parses one corpus file. An Error names the first problem (unknown X-Test field, missing
// expectation, reply given for an action that has none, ...).
Result<CorpusCase> parse_corpus_case(const std::string& name, const std::string& bytes);

// Every *.eml of `dir`, sorted by name; throws std::runtime_error naming the first file
// that does not parse.
std::vector<CorpusCase> load_corpus(const std::string& dir);
std::string corpus_dir();  // tests/corpus in the source tree

// Groups of consecutive cases with the same `group`, in order.
std::vector<std::vector<const CorpusCase*>> corpus_groups(const std::vector<CorpusCase>& cases);

// The fixed scene (tests/corpus/README.md, "The scene"). Fresh for each group.
struct CorpusScene {
  Policy policy;
  MemoryStore store;
  FixedClock clock;
  CountingRng rng;
  std::int64_t agent = 0, agents_domain = 0, watch = 0, authonly = 0, off = 0;
};
std::unique_ptr<CorpusScene> make_corpus_scene();

// The MessageFacts of a case: envelope from the pseudo-headers, header fields from the
// project's own splitter (policy/header_block.hpp).
MessageFacts corpus_facts(const CorpusCase& c);

// Store calls made so far (every Store method, counted by MemoryStore::calls).
int store_calls(const MemoryStore& store);

}  // namespace aamp::test
