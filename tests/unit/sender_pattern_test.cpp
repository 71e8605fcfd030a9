// sender_pattern_test.cpp — sender patterns, context-rule matching and rule narrowing.
#include "policy/sender_pattern.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace aamp {
namespace {

TEST(SenderPattern, ParsesToCanonicalForms) {
  struct Row {
    const char* in;
    PatternKind kind;
    const char* text;
  };
  const Row rows[] = {
      {"Alice@Example.com", PatternKind::exact, "alice@example.com"},
      {"<alice@example.com>", PatternKind::exact, "alice@example.com"},
      {"@example.com", PatternKind::domain, "@example.com"},
      {"*@Example.com", PatternKind::domain, "@example.com"},
      {"*", PatternKind::wildcard, "*"},
      {"ci-*@example.com", PatternKind::wildcard, "ci-*@example.com"},
      {"*@*.example.com", PatternKind::wildcard, "*@*.example.com"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.in);
    const auto p = parse_sender_pattern(r.in);
    ASSERT_TRUE(p.ok()) << p.error();
    EXPECT_EQ(p->kind, r.kind);
    EXPECT_EQ(p->text, r.text);
  }
}

TEST(SenderPattern, RefusesMalformed) {
  for (const char* bad : {"", "  ", "alice", "a@b@c", "alice@", "@", "al ice@example.com", "a@exa..mple",
                          "a@.example", "@*.example.com", "a\x01@example.com"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_sender_pattern(bad).ok());
  }
  EXPECT_FALSE(parse_sender_pattern(std::string(400, 'a') + "@example.com").ok());
}

TEST(SenderPattern, Matches) {
  struct Row {
    const char* pattern;
    const char* address;
    bool want;
  };
  const Row rows[] = {
      {"alice@example.com", "alice@example.com", true},
      {"alice@example.com", "ALICE@EXAMPLE.COM", true},
      {"alice@example.com", "alice@example.com.evil", false},
      {"@example.com", "bob@example.com", true},
      {"@example.com", "bob@sub.example.com", false},
      {"@example.com", "bob@notexample.com", false},
      {"@example.com", "@example.com", false},
      {"*", "anyone@anywhere.example", true},
      {"ci-*@example.com", "ci-bot7@example.com", true},
      {"ci-*@example.com", "cd-bot@example.com", false},
      {"*@*.example.com", "x@deep.sub.example.com", true},
      {"*@*.example.com", "x@example.com", false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.pattern) + " ~ " + r.address);
    EXPECT_EQ(matches(*parse_sender_pattern(r.pattern), r.address), r.want);
  }
}

TEST(SenderPattern, GlobIsLinearOnHostileInput) {
  const std::string text(20000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(glob_match("*a*a*a*a*a*a*a*a*a*", text));
}

TEST(ContextRules, EachKeyMustBePresentWithAnAllowedValue) {
  const ContextRules rules{{"project", {"p1", "p2"}}, {"source", {"ci"}}};
  std::string why;
  EXPECT_TRUE(context_allows({}, {}));
  EXPECT_TRUE(context_allows(rules, {{"project", "p2"}, {"source", "ci"}, {"extra", "x"}}));
  EXPECT_FALSE(context_allows(rules, {{"project", "p2"}}, &why));
  EXPECT_EQ(why, "dispatch context has no 'source'");
  EXPECT_FALSE(context_allows(rules, {{"project", "p3"}, {"source", "ci"}}, &why));
  EXPECT_EQ(why, "dispatch context 'project' is not an allowed value");
  EXPECT_FALSE(context_allows({{"k", {}}}, {{"k", ""}}));  // an emptied key allows nothing
}

TEST(ContextRules, NarrowingNeverWidens) {
  const ContextRules issued{{"project", {"p1", "p2"}}};
  EXPECT_EQ(narrow_rules(issued, {}), issued);
  EXPECT_EQ(narrow_rules(issued, {{"project", {"p2", "p9"}}}), (ContextRules{{"project", {"p2"}}}));
  EXPECT_EQ(narrow_rules(issued, {{"source", {"ci"}}}), (ContextRules{{"project", {"p1", "p2"}}, {"source", {"ci"}}}));
  EXPECT_EQ(narrow_rules({}, {{"source", {"ci"}}}), (ContextRules{{"source", {"ci"}}}));
  EXPECT_EQ(narrow_rules(issued, {{"project", {"p9"}}}), (ContextRules{{"project", {}}}));
}

TEST(Addresses, StripAddressExtension) {
  struct Row {
    const char* address;
    const char* delimiters;
    const char* want;
  };
  const Row rows[] = {
      {"agent+tag@x.example", "+", "agent@x.example"},
      {"agent+a+b@x.example", "+", "agent@x.example"},
      {"agent-tag@x.example", "+-", "agent@x.example"},
      {"agent-tag@x.example", "+", "agent-tag@x.example"},
      {"+agent@x.example", "+", "+agent@x.example"},  // a leading delimiter is not an extension
      {"agent+tag@x.example", "", "agent+tag@x.example"},
      {"agent@x+y.example", "+", "agent@x+y.example"},  // only the local part
      {"no-at-sign", "+", "no-at-sign"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.address);
    EXPECT_EQ(strip_address_extension(r.address, r.delimiters), r.want);
  }
}

TEST(Addresses, NormalizeAndDomain) {
  EXPECT_EQ(normalize_address(" <Alice@Example.COM> "), "alice@example.com");
  EXPECT_EQ(normalize_address("<>"), "");
  EXPECT_EQ(domain_of("a@b.example"), "b.example");
  EXPECT_EQ(domain_of("nodomain"), "");
}

// Each spelling below was delivered to agent@example.test by Postfix 3.7 while the milter
// saw it as written (tests/corpus 397-399): the lookup must see the mailbox it reaches.
TEST(Addresses, RecipientAsTheMailboxItReaches) {
  struct Row {
    const char* label;
    const char* input;
    const char* want;
  };
  const std::vector<Row> rows = {
      {"plain", "<Agent@Example.NET>", "agent@example.net"},
      {"trailing dot", "<agent@example.net.>", "agent@example.net"},
      {"quoted local part", "<\"agent\"@example.net>", "agent@example.net"},
      {"quoted-pair in the local part", "<\"ag\\ent\"@example.net>", "agent@example.net"},
      {"quoted local part with a space", "<\"a b\"@example.net>", "a b@example.net"},
      {"source route", "<@relay.example:agent@example.net>", "agent@example.net"},
      {"source route of two hops", "<@a.example,@b.example:agent@example.net>", "agent@example.net"},
      {"all at once", "<@r.example:\"Agent\"@Example.NET.>", "agent@example.net"},
      {"two trailing dots stay", "<agent@example.net..>", "agent@example.net.."},
      {"a bare domain's dot stays", "<agent@.>", "agent@."},
      {"unterminated quote stays", "<\"agent@example.net>", "\"agent@example.net"},
      {"null sender", "<>", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(normalize_recipient(row.input), row.want);
  }
}

}  // namespace
}  // namespace aamp
