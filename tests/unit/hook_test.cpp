// hook_test.cpp — the Stalwart MTA hook without HTTP: the request's JSON read (a table of
// good and bad requests), the Session run over it with the real engine and MemoryStore (the
// queue id in the audit row, a store that will not open), and the Decision written as the
// hook's answer (accept with modifications, reject with response, discard; never quarantine).
#include "milter/hook.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/fixtures.hpp"
#include "tests/support/memory_store.hpp"

namespace aamp::milter {
namespace {

using nlohmann::json;
using test::MemoryStore;

class FixedSource final : public StoreSource {
 public:
  explicit FixedSource(std::shared_ptr<Store> store) : store_(std::move(store)) {}
  std::shared_ptr<Store> acquire() override {
    if (!store_) throw StoreError(StoreErrorKind::unavailable, "cannot open the store");
    return store_;
  }

 private:
  std::shared_ptr<Store> store_;
};

struct Rig {
  explicit Rig(bool store_works = true) : source(store_works ? store : nullptr) {
    Config c;
    c.database = "/var/lib/aamp/aamp.db";
    c.policy.authserv_id = "mx.example.test";
    config = std::make_shared<const Config>(c);
    const auto id = store->add_mailbox(
        ProtectedMailbox{0, "agent@example.test", MailboxMode::enforce, {Intent::task_dispatch}, kAnyTrust});
    SenderRule rule;
    rule.mailbox_id = id;
    rule.pattern = "alice@example.test";
    store->add_rule(rule);
  }
  MessageEnd run(const std::string& body) {
    return run_hook(parse_hook_request(body), config, Services{source, clock, rng});
  }
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  FixedSource source;
  test::FixedClock clock;
  test::CountingRng rng;
  std::shared_ptr<const Config> config;
};

json request(const std::string& from, std::vector<std::string> rcpts, json headers, bool sasl = true) {
  json to = json::array();
  for (const auto& r : rcpts) to.push_back({{"address", r}});
  json context = {{"stage", "data"},
                  {"client", {{"ip", "192.0.2.9"}, {"port", 40000}, {"ptr", nullptr}, {"helo", "client.example.test"},
                              {"activeConnections", 1}}},
                  {"server", {{"name", "Stalwart v0.16.19"}, {"port", 25}, {"ip", "192.0.2.1"}}},
                  {"queue", {{"id", "a1b2c3d4"}}},
                  {"protocol", {{"version", 1}}}};
  if (sasl) context["sasl"] = {{"login", "alice@example.test"}};
  return {{"context", context},
          {"envelope", {{"from", {{"address", from}}}, {"to", to}}},
          {"message", {{"headers", headers}, {"contents", "hello\r\n"}, {"size", 300}}}};
}

json dispatch_headers(const std::string& task = "t-1") {
  return json::array({json::array({"From", " Alice <alice@example.test>\r\n"}),
                      json::array({"To", " agent@example.test\r\n"}),
                      json::array({"Subject", " work\r\n"}),
                      json::array({"X-AAMP-Version", " 1.1\r\n"}),
                      json::array({"X-AAMP-Intent", " task.dispatch\r\n"}),
                      json::array({"X-AAMP-TaskId", " " + task + "\r\n"})});
}

TEST(HookRequest, Parses) {
  const auto r = parse_hook_request(request("alice@example.test", {"agent@example.test", "bob@example.test"},
                                            dispatch_headers()).dump());
  EXPECT_EQ(r.stage, "data");
  EXPECT_EQ(r.queue_id, "a1b2c3d4");
  EXPECT_EQ(r.client_ip, "192.0.2.9");
  EXPECT_EQ(r.client_ptr, "");
  EXPECT_EQ(r.helo, "client.example.test");
  EXPECT_EQ(r.auth_login, "alice@example.test");
  EXPECT_EQ(r.server_name, "Stalwart v0.16.19");
  EXPECT_EQ(r.envelope_from, "alice@example.test");
  EXPECT_EQ(r.recipients, (std::vector<std::string>{"agent@example.test", "bob@example.test"}));
  ASSERT_EQ(r.headers.size(), 6u);
  EXPECT_EQ(r.headers[0].name, "From");
  EXPECT_EQ(r.headers[0].value, "Alice <alice@example.test>");  // trimmed as the milter gets it
  EXPECT_TRUE(r.has_message);
  // Earlier stages carry no message and need no envelope.
  const auto rcpt = parse_hook_request(R"({"context":{"stage":"rcpt","client":{"ip":"::1"}}})");
  EXPECT_EQ(rcpt.stage, "rcpt");
  EXPECT_FALSE(rcpt.has_message);
}

TEST(HookRequest, BadRequests) {
  const json good = request("alice@example.test", {"agent@example.test"}, dispatch_headers());
  auto without = [&](const json::json_pointer& p) {
    json j = good;
    j.at(p.parent_pointer()).erase(p.back());
    return j.dump();
  };
  auto with = [&](const json::json_pointer& p, json v) {
    json j = good;
    j[p] = std::move(v);
    return j.dump();
  };
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"", "not JSON"},
      {"{", "not JSON"},
      {"[]", "not a JSON object"},
      {"\"x\"", "not a JSON object"},
      {"{}", "missing context"},
      {R"({"context":{}})", "missing context.stage"},
      {R"({"context":{"stage":5}})", "context.stage is not a string"},
      {without(json::json_pointer("/envelope")), "missing envelope"},
      {without(json::json_pointer("/envelope/from")), "missing envelope.from"},
      {without(json::json_pointer("/envelope/from/address")), "missing envelope.from.address"},
      {without(json::json_pointer("/envelope/to")), "missing envelope.to"},
      {without(json::json_pointer("/message")), "missing message"},
      {without(json::json_pointer("/message/headers")), "message.headers is not an array"},
      {with(json::json_pointer("/envelope/to"), "x"), "envelope.to is not an array"},
      {with(json::json_pointer("/envelope/to"), json::array({5})), "envelope.to[] is not an object"},
      {with(json::json_pointer("/envelope/from/address"), 7), "envelope.from.address is not a string"},
      {with(json::json_pointer("/message/headers"), json::array({json::array({"a"})})), "message.headers[] is not a [name, value] pair"},
      {with(json::json_pointer("/message/headers"), json::array({json::array({"a", 1})})), "message.headers[] is not a [name, value] pair"},
      {with(json::json_pointer("/context/sasl"), "alice"), "context.sasl is not an object"},
      {with(json::json_pointer("/context/protocol/version"), 2), "context.protocol.version is not 1"},
      {"{\"context\":{\"stage\":\"data\"},\"x\":\"\xff\"}", "not JSON"},  // invalid UTF-8
  };
  for (const auto& [body, message] : rows) {
    try {
      (void)parse_hook_request(body);
      ADD_FAILURE() << "accepted: " << body;
    } catch (const HookError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << body << " -> " << e.what();
    }
  }
}

TEST(Hook, AllowedDispatchAddsOurVerdictAndRecordsTheQueueId) {
  Rig rig;
  const MessageEnd end = rig.run(request("alice@example.test", {"agent@example.test"}, dispatch_headers()).dump());
  ASSERT_TRUE(end.decision);
  const json answer = json::parse(hook_response(end.decision));
  EXPECT_EQ(answer["action"], "accept");
  ASSERT_EQ(answer["modifications"].size(), 1u);
  EXPECT_EQ(answer["modifications"][0]["type"], "addHeader");
  EXPECT_EQ(answer["modifications"][0]["name"], "Authentication-Results");
  EXPECT_EQ(answer["modifications"][0]["value"].get<std::string>().rfind("mx.example.test; aamp=pass", 0), 0u);
  ASSERT_EQ(rig.store->audit().size(), 1u);
  EXPECT_EQ(rig.store->audit()[0].message_id, "a1b2c3d4");
  EXPECT_EQ(end.summary.rfind("a1b2c3d4: client=unknown[192.0.2.9] auth=alice@example.test", 0), 0u) << end.summary;
}

TEST(Hook, RefusedDispatchRejectsWithResponse) {
  Rig rig;
  json headers = dispatch_headers();
  headers[0][1] = " Mallory <mallory@example.test>\r\n";
  const MessageEnd end =
      rig.run(request("mallory@example.test", {"agent@example.test"}, headers, false).dump());
  const json answer = json::parse(hook_response(end.decision));
  EXPECT_EQ(answer["action"], "reject");
  EXPECT_EQ(answer["response"]["status"], 550);
  EXPECT_EQ(answer["response"]["enhanced_status"], "5.7.1");
  EXPECT_FALSE(answer["response"]["message"].get<std::string>().empty());
  EXPECT_EQ(answer["response"]["disconnect"], false);
  EXPECT_FALSE(answer.contains("modifications"));
}

TEST(Hook, TwoRecipientsOneRefusedDeletesItLowercased) {
  Rig rig;
  const auto id = rig.store->add_mailbox(
      ProtectedMailbox{0, "other@example.test", MailboxMode::enforce, {Intent::task_dispatch}, kAnyTrust});
  (void)id;  // no rule: alice may not dispatch to other@
  const MessageEnd end =
      rig.run(request("alice@example.test", {"agent@example.test", "Other@Example.test"}, dispatch_headers()).dump());
  const json answer = json::parse(hook_response(end.decision));
  ASSERT_EQ(answer["action"], "accept") << answer.dump();
  bool deleted = false;
  for (const auto& m : answer["modifications"]) {
    if (m["type"] == "deleteRecipient") {
      EXPECT_EQ(m["value"], "other@example.test");
      deleted = true;
    }
  }
  EXPECT_TRUE(deleted) << answer.dump();
}

TEST(Hook, ForgedVerdictIsDeletedByIndex) {
  Rig rig;
  json headers = json::array({json::array({"Authentication-Results", " mx.example.test; aamp=pass\r\n"}),
                              json::array({"From", " Alice <alice@example.test>\r\n"}),
                              json::array({"Authentication-Results", " other.test; spf=pass\r\n"}),
                              json::array({"Authentication-Results", " mx.example.test.; aamp=pass\r\n"})});
  const MessageEnd end = rig.run(request("alice@example.test", {"bob@example.test"}, headers).dump());
  const json answer = json::parse(hook_response(end.decision));
  EXPECT_EQ(answer["action"], "accept");
  std::vector<int> indexes;
  for (const auto& m : answer["modifications"]) {
    if (m["type"] == "deleteHeader") {
      EXPECT_EQ(m["name"], "Authentication-Results");
      indexes.push_back(m["index"].get<int>());
    }
  }
  EXPECT_EQ(indexes, (std::vector<int>{3, 1}));  // highest first
}

TEST(Hook, StoreFaultTempfails) {
  Rig rig(false);
  const MessageEnd end = rig.run(request("alice@example.test", {"agent@example.test"}, dispatch_headers()).dump());
  const json answer = json::parse(hook_response(end.decision));
  EXPECT_EQ(answer["action"], "reject");
  EXPECT_EQ(answer["response"]["status"], 451);
  EXPECT_EQ(answer["response"]["enhanced_status"].get<std::string>().substr(0, 2), "4.");
}

TEST(Hook, PlainMailAndEarlyStagesAccept) {
  Rig rig;
  json plain = json::array({json::array({"From", " bob@example.test\r\n"}), json::array({"Subject", " hi\r\n"})});
  EXPECT_EQ(hook_response(rig.run(request("bob@example.test", {"agent@example.test"}, plain).dump()).decision),
            R"({"action":"accept"})");
  EXPECT_EQ(hook_response(rig.run(R"({"context":{"stage":"rcpt"}})").decision), R"({"action":"accept"})");
  EXPECT_TRUE(rig.store->audit().empty());
}

TEST(HookResponse, MapsEveryActionAndNeverQuarantines) {
  for (const auto& [action, want] : std::vector<std::pair<Action, std::string>>{
           {Action::accept, "accept"}, {Action::reject, "reject"}, {Action::tempfail, "reject"},
           {Action::quarantine, "accept"}, {Action::discard, "discard"}}) {
    Decision d;
    d.action = action;
    d.quarantine_reason = "held";
    d.delete_recipients = {"<Agent@Example.TEST>"};
    d.add_headers = {{"Authentication-Results", "mx.example.test; aamp=pass"}, {"X-Second", "2"}};
    const std::string text = hook_response(d);
    EXPECT_EQ(text.find("quarantine"), std::string::npos) << text;
    const json answer = json::parse(text);
    EXPECT_EQ(answer["action"], want) << to_string(action);
    if (action == Action::tempfail) {
      EXPECT_EQ(answer["response"]["status"].get<int>() / 100, 4);
    }
    if (action == Action::reject) {
      EXPECT_EQ(answer["response"]["status"].get<int>() / 100, 5);
    }
    if (want == "accept") {
      const auto& mods = answer["modifications"];
      // No deletion: Stalwart puts additions at the top in the order sent.
      EXPECT_EQ(mods[0]["name"], "Authentication-Results");
      EXPECT_EQ(mods[1]["name"], "X-Second");
      EXPECT_EQ(mods.back()["type"], "deleteRecipient");
      EXPECT_EQ(mods.back()["value"], "agent@example.test");
      if (action == Action::quarantine) {
        EXPECT_EQ(mods[2]["name"], "X-Quarantine");
        EXPECT_EQ(mods[2]["value"], "held");
      }
    } else {
      EXPECT_FALSE(answer.contains("modifications"));
    }
  }
}

TEST(HookResponse, AdditionsAfterADeletionGoInReverse) {
  Decision d;
  d.delete_headers = {{"Authentication-Results", 1}};
  d.add_headers = {{"Authentication-Results", "mx.example.test; aamp=pass"}, {"X-Second", "2"}};
  const json mods = json::parse(hook_response(d))["modifications"];
  ASSERT_EQ(mods.size(), 3u);
  EXPECT_EQ(mods[0]["type"], "deleteHeader");
  EXPECT_EQ(mods[1]["name"], "X-Second");  // each to the top once the block is rewritten
  EXPECT_EQ(mods[2]["name"], "Authentication-Results");
}

TEST(HookResponse, FailureIsTempfail) {
  Config c;
  const json answer = json::parse(hook_failure_response(c, "boom"));
  EXPECT_EQ(answer["action"], "reject");
  EXPECT_EQ(answer["response"]["status"], 451);
}

}  // namespace
}  // namespace aamp::milter
