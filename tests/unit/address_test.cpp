// address_test.cpp — table tests for policy/address.hpp: the one mailbox of a From value,
// and everything GMime would repair that another reader would read differently.
#include "policy/address.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace aamp {
namespace {

using namespace std::string_literals;

TEST(FromMailbox, Parse) {
  struct Row {
    const char* label;
    std::string input;
    std::optional<std::string> want;  // nullopt: refused
  };
  const std::vector<Row> rows = {
      {"bare", "dispatcher@example.com", "dispatcher@example.com"},
      {"angle", "<dispatcher@example.com>", "dispatcher@example.com"},
      {"display name", "Disp <d@example.com>", "d@example.com"},
      {"domain lower-cased, local kept", "Disp <Dispatcher@EXAMPLE.Com>", "Dispatcher@example.com"},
      {"quoted display name with comma", "\"Disp, Inc\" <d@example.com>", "d@example.com"},
      {"dotted display name", "Mr. Smith <d@example.com>", "d@example.com"},
      {"comment", "d@example.com (Disp)", "d@example.com"},
      {"comment with at", "d@example.com (a@b)", "d@example.com"},
      {"encoded-word display name", "=?utf-8?q?x=40y?= <d@example.com>", "d@example.com"},
      {"quoted local part", "\"a@b\"@Example.com", "\"a@b\"@example.com"},
      {"idn to a-label", "d@B\xc3\xbc" "cher.example", "d@xn--bcher-kva.example"},
      {"a-label kept", "d@xn--bcher-kva.example", "d@xn--bcher-kva.example"},
      {"utf-8 local part", "j\xc3\xb6rg@example.com", "j\xc3\xb6rg@example.com"},
      {"domain literal", "d@[192.0.2.1]", "d@[192.0.2.1]"},
      {"single-label domain", "d@localhost", "d@localhost"},
      {"underscore domain", "d@my_host.example.com", "d@my_host.example.com"},
      {"upper-case a-label", "d@XN--BCHER-KVA.example", "d@xn--bcher-kva.example"},
      {"atext local part", "a.b+c!#$%&'*/^`{|}~@example.com", "a.b+c!#$%&'*/^`{|}~@example.com"},
      {"tab around", "\tDisp\t<d@example.com>\t", "d@example.com"},
      {"bracket in local part", "a <b[c]d@example.com>", std::nullopt},
      {"bracket in display name", "a[b] <c@example.com>", std::nullopt},
      {"bracket hiding an angle", "N <d[x@example.com>-er <d]y@example.com>", std::nullopt},
      {"stray close angle", "x@example.com>", std::nullopt},
      {"leading dots in display name", "....tcher <d@example.com>", std::nullopt},
      {"no space before angle", "Disp<d@example.com>", "d@example.com"},
      {"two mailboxes", "a@example.com, b@example.com", std::nullopt},
      {"trailing comma", "<a@example.com>,", std::nullopt},
      {"trailing semicolon", "a@example.com;", std::nullopt},
      {"group", "team: a@example.com;", std::nullopt},
      {"empty group", "undisclosed-recipients:;", std::nullopt},
      {"double at", "a@b@example.com", std::nullopt},
      {"at in bare display name", "a@evil.com <d@example.com>", std::nullopt},
      {"second bare word", "<d@example.com> junk", std::nullopt},
      {"no domain", "dispatcher", std::nullopt},
      {"no local part", "@example.com", std::nullopt},
      {"empty domain", "d@", std::nullopt},
      {"trailing dot", "d@example.com.", std::nullopt},
      {"leading dot", "d@.example.com", std::nullopt},
      {"double dot", "d@example..com", std::nullopt},
      {"local double dot", "a..b@example.com", std::nullopt},
      {"encoded-word addr", "<=?utf-8?q?a=40b.com?=>", std::nullopt},
      {"encoded-word local part", "=?utf-8?q?a?=@example.com", std::nullopt},
      {"unbalanced quote", "\"a@example.com", std::nullopt},
      {"unbalanced comment", "a@example.com (x", std::nullopt},
      {"stray close paren", "a@example.com )", std::nullopt},
      {"deep comments", "a@example.com " + std::string(40, '(') + std::string(40, ')'), std::nullopt},
      {"nul", "a@example.com\0b@evil.com"s, std::nullopt},
      {"latin-1", "caf\xe9@example.com", std::nullopt},
      {"empty", "", std::nullopt},
      {"unopened angle", "Dispatcher@example.com>", std::nullopt},
      {"unclosed angle", "D <d@example.com", std::nullopt},
      {"two angles", "<a> <d@example.com>", std::nullopt},
      {"at outside angle", "d@example.com <x>", std::nullopt},
      {"text after angle", "<d@example.com> x", std::nullopt},
      {"comment after angle", "<d@example.com> (Disp)", "d@example.com"},
      {"too long", std::string(20000, 'a') + "@example.com", std::nullopt},
      // IDNA mapping must not turn the domain written into another one (tests/corpus 076-078).
      {"fullwidth full stop", "d@example\xef\xbc\x8e" "com", std::nullopt},
      {"ideographic full stop", "d@b\xc3\xbc" "cher\xe3\x80\x82" "example", std::nullopt},
      {"zero-width space", "d@exam\xe2\x80\x8b" "ple.com", std::nullopt},
      {"soft hyphen", "d@exam\xc2\xad" "ple.com", std::nullopt},
      {"fullwidth letter", "d@\xef\xbc\xa5xample.com", std::nullopt},
      {"malformed a-label re-encoded", "d@xn--example.com", std::nullopt},
      {"homoglyph is its own a-label", "d@ex\xd0\xb0mple.com", "d@xn--exmple-4nf.com"},
      {"upper-case u-label", "d@EX\xc3\x84MPLE.com", "d@xn--exmple-cua.com"},
      {"display name and idn", "J\xc3\xb6rg <d@b\xc3\xbc" "cher.example>", "d@xn--bcher-kva.example"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = parse_from_mailbox(row.input);
    ASSERT_EQ(got.ok(), row.want.has_value()) << (got.ok() ? *got : got.error());
    if (row.want) {
      EXPECT_EQ(*got, *row.want);
    }
    const auto slow = parse_from_mailbox_gmime(row.input);  // the fast path agrees with GMime
    ASSERT_EQ(slow.ok(), got.ok());
    if (slow.ok()) {
      EXPECT_EQ(*slow, *got);
    }
  }
}

TEST(FromMailbox, ConcurrentUse) {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (std::size_t i = 0; i < ok.size(); ++i)
    threads.emplace_back([&ok, i] { ok[i] = parse_from_mailbox("a@example.com").ok() ? 1 : 0; });
  for (auto& t : threads) t.join();
  for (const int o : ok) EXPECT_EQ(o, 1);
}

}  // namespace
}  // namespace aamp
