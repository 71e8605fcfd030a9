// aamp_bench_db — builds the benchmark's policy database through the store's own admin API:
// 1,000 protected mailboxes, 100,000 sender rules (100 per mailbox: exact, @domain and
// wildcard, every tenth with dispatch-context rules) and 10,000 live pair codes, named per
// corpus.hpp so milter_loadgen's "allowed" senders are allowed and its "denied" ones are not.
// Writes the codes in clear to --codes-out for the loadgen (the database keeps only hashes).
// --replies N also queues N pair.respond replies in the outbox (bench/run's reply drain).
// --db takes a SQLite path or a PostgreSQL URL (PolicyAdmin opens either).
// Single-threaded; benchmark set-up only.
//
//   aamp_bench_db --db PATH|URL --codes-out FILE [--mailboxes N] [--rules-per-mailbox N] [--codes N]
//                 [--replies N]
#include <getopt.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "bench/loadgen/corpus.hpp"
#include "policy/store.hpp"
#include "store/admin.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: aamp_bench_db --db PATH|URL --codes-out FILE [--mailboxes N] [--rules-per-mailbox N] [--codes N]\n"
               "                     [--replies N]\n");
}

// `count` pair.respond replies (completed), as a pairing would queue them, due now.
void enqueue_replies(aamp::store::PolicyAdmin& admin, int count, aamp::UnixTime now) {
  namespace b = aamp::bench;
  for (int k = 0; k < count; ++k) {
    aamp::OutboxReply r;
    r.message_id = "<bench-reply-" + std::to_string(k) + "@mx.bench.test>";
    r.from = b::mailbox_address(k % b::kCodeMailboxes);
    r.to = "requester" + std::to_string(k) + "@requesters.bench.test";
    r.task_id = "bench-pair-" + std::to_string(k);
    r.status = aamp::TaskStatus::completed;
    r.created_at = now;
    r.next_attempt_at = now;
    admin.enqueue_reply(r, now);
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace b = aamp::bench;
  std::string db, codes_out;
  int mailboxes = b::kMailboxes, rules = b::kRulesPerMailbox, codes = b::kPairCodes, replies = 0;
  const option longopts[] = {{"db", required_argument, nullptr, 'd'},
                             {"codes-out", required_argument, nullptr, 'o'},
                             {"mailboxes", required_argument, nullptr, 'm'},
                             {"rules-per-mailbox", required_argument, nullptr, 'r'},
                             {"codes", required_argument, nullptr, 'c'},
                             {"replies", required_argument, nullptr, 'q'},
                             {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "", longopts, nullptr)) != -1;) {
    switch (c) {
      case 'd': db = optarg; break;
      case 'o': codes_out = optarg; break;
      case 'm': mailboxes = std::atoi(optarg); break;
      case 'r': rules = std::atoi(optarg); break;
      case 'c': codes = std::atoi(optarg); break;
      case 'q': replies = std::atoi(optarg); break;
      default: usage(); return 2;
    }
  }
  // The loadgen's names assume the corpus sizes as upper bounds.
  if (db.empty() || codes_out.empty() || optind != argc || mailboxes < 1 || mailboxes > b::kMailboxes ||
      rules < 1 || rules > b::kRulesPerMailbox || codes < 0 || codes > 1'000'000 || replies < 0 ||
      replies > 1'000'000) {
    usage();
    return 2;
  }
  const int code_mailboxes = std::min(mailboxes, b::kCodeMailboxes);
  try {
    const auto now = static_cast<aamp::UnixTime>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    aamp::store::PolicyAdmin admin(db, {.create = true, .migrate = true});
    std::vector<std::int64_t> ids;
    for (int i = 0; i < mailboxes; ++i) {
      aamp::ProtectedMailbox m;
      m.address = b::mailbox_address(i);
      ids.push_back(admin.add_mailbox(m, now, "bench", "benchmark mailbox"));
    }
    admin.insert_rules(static_cast<std::int64_t>(mailboxes) * rules, [&](std::int64_t n) {
      const int i = static_cast<int>(n / rules), j = static_cast<int>(n % rules);
      const b::RuleSpec spec = b::rule(i, j);
      aamp::SenderRule r;
      r.mailbox_id = ids[static_cast<std::size_t>(i)];
      r.pattern = spec.pattern;
      if (spec.needs_context) r.context[b::kContextKey] = {b::kContextValueA, b::kContextValueB};
      r.origin = aamp::RuleOrigin::configured;
      r.created_at = now;
      r.created_by = "bench";
      return r;
    });
    // Codes live for a week: the database is built once and copied before each run.
    std::ofstream out(codes_out);
    std::mt19937_64 rng(std::random_device{}());
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int k = 0; k < codes; ++k) {
      const int i = k % code_mailboxes;
      std::string code;
      for (int c = 0; c < 8; ++c) code.push_back(kAlphabet[rng() % 64]);
      admin.add_pair_code(ids[static_cast<std::size_t>(i)], code, now, now + 7 * 24 * 3600, {}, "bench");
      out << i << ' ' << code << '\n';
    }
    if (!out.flush()) {
      std::fprintf(stderr, "aamp_bench_db: cannot write %s\n", codes_out.c_str());
      return 2;
    }
    enqueue_replies(admin, replies, now);
    std::printf("%s: %d mailboxes, %lld sender rules, %d pair codes, %d queued replies\n", admin.path().c_str(),
                mailboxes, static_cast<long long>(mailboxes) * rules, codes, replies);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aamp_bench_db: %s\n", e.what());
    return 1;
  }
  return 0;
}
