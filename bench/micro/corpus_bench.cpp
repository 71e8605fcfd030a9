// corpus_bench.cpp — the adversarial corpus (tests/corpus) through aamp::decide: what a
// whole pass costs per message, and the worst single message (the bound stated in
// docs/reliability.md, "Adversarial corpus"). Reference: the corpus's plain allowed
// dispatch (001) measured in the same run; worst_vs_dispatch is the ratio. Each sequence
// group gets a fresh scene (built outside the timed region); the header blocks are split
// beforehand, so only decide() is timed. Single-threaded.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "policy/engine.hpp"
#include "tests/support/corpus.hpp"

namespace {

struct Prepared {
  const aamp::test::CorpusCase* c;
  aamp::MessageFacts facts;
};

const std::vector<aamp::test::CorpusCase>& corpus() {
  static const std::vector<aamp::test::CorpusCase> cases = aamp::test::load_corpus(aamp::test::corpus_dir());
  return cases;
}

std::vector<std::vector<Prepared>> prepared_groups() {
  std::vector<std::vector<Prepared>> out;
  for (const auto& group : aamp::test::corpus_groups(corpus())) {
    out.emplace_back();
    for (const auto* c : group) out.back().push_back({c, aamp::test::corpus_facts(*c)});
  }
  return out;
}

// One pass over the corpus per iteration; the iteration time is the sum of the decide()
// calls (manual time). Per file, the fastest of its runs is kept (the least disturbed by
// the machine); the worst file is the largest of those.
void BM_CorpusPass(benchmark::State& state) {
  const auto groups = prepared_groups();
  std::map<std::string, double> best_us;  // file -> fastest run seen
  std::size_t messages = 0;
  for (auto _ : state) {
    double pass_seconds = 0;
    for (const auto& group : groups) {
      const auto scene = aamp::test::make_corpus_scene();
      for (const auto& p : group) {
        scene->clock.advance(p.c->clock_advance);
        if (!p.c->store_fault.empty()) scene->store.fail_next(aamp::StoreErrorKind::busy, p.c->store_fault);
        const auto start = std::chrono::steady_clock::now();
        auto d = aamp::decide(p.facts, aamp::EngineContext{scene->policy, scene->store, scene->clock, scene->rng});
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        benchmark::DoNotOptimize(d);
        pass_seconds += s;
        auto [it, fresh] = best_us.try_emplace(p.c->name, s * 1e6);
        if (!fresh) it->second = std::min(it->second, s * 1e6);
        ++messages;
      }
    }
    state.SetIterationTime(pass_seconds);
  }
  const auto worst = std::max_element(best_us.begin(), best_us.end(),
                                      [](const auto& a, const auto& b) { return a.second < b.second; });
  double total_best = 0;
  for (const auto& [name, us] : best_us) total_best += us;
  const double dispatch_us = best_us.count("001-valid-dispatch-smtp-auth.eml") != 0
                                 ? best_us["001-valid-dispatch-smtp-auth.eml"]
                                 : std::numeric_limits<double>::quiet_NaN();
  state.counters["files"] = static_cast<double>(best_us.size());
  state.counters["mean_us"] = total_best / static_cast<double>(best_us.size());
  state.counters["worst_us"] = worst->second;
  state.counters["dispatch_us"] = dispatch_us;
  state.counters["worst_vs_dispatch"] = worst->second / dispatch_us;
  state.counters["msgs_per_s"] =
      benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
  state.SetLabel("worst=" + worst->first);
}
BENCHMARK(BM_CorpusPass)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The heaviest files on their own, beside the reference dispatch. The scene is renewed
// every 4096 messages (untimed) so that audit rows do not pile up.
const char* const kSingleFiles[] = {
    "001-valid-dispatch-smtp-auth.eml",           // reference: a plain allowed dispatch
    "133-three-thousand-authres-fail.eml",        // 3,000 Authentication-Results parsed
    "134-two-thousand-forged-verdicts.eml",       // 2,000 forged verdicts to remove
    "135-twelve-thousand-headers-aamp-last.eml",  // 12,000 headers
    "129-three-thousand-duplicate-intents.eml",   // 3,000 duplicate fields
    "125-subject-folded-20000-times.eml",         // 20,000 folds
    "181-structuredresult-nesting-3000.eml",      // JSON nesting bomb
    "396-thousand-recipients-one-denied.eml",     // 1,001 recipients
};

void BM_CorpusFile(benchmark::State& state) {
  const std::string name = kSingleFiles[state.range(0)];
  const auto it = std::find_if(corpus().begin(), corpus().end(), [&](const auto& c) { return c.name == name; });
  if (it == corpus().end()) {
    state.SkipWithError(("no such corpus file: " + name).c_str());
    return;
  }
  const aamp::MessageFacts facts = aamp::test::corpus_facts(*it);
  auto scene = aamp::test::make_corpus_scene();
  std::size_t n = 0;
  for (auto _ : state) {
    if (++n % 4096 == 0) {
      state.PauseTiming();
      scene = aamp::test::make_corpus_scene();
      state.ResumeTiming();
    }
    auto d = aamp::decide(facts, aamp::EngineContext{scene->policy, scene->store, scene->clock, scene->rng});
    benchmark::DoNotOptimize(d);
  }
  state.SetLabel(name);
  state.counters["header_bytes"] = static_cast<double>(it->message.size());
}
BENCHMARK(BM_CorpusFile)->DenseRange(0, static_cast<int>(std::size(kSingleFiles)) - 1)->Unit(benchmark::kMicrosecond);

}  // namespace
