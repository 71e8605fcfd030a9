// hook.cpp — see hook.hpp.
#include "milter/hook.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "milter/apply_plan.hpp"
#include "policy/engine.hpp"
#include "policy/text.hpp"
#include "policy/text_safety.hpp"

namespace aamp::milter {

namespace {

using nlohmann::json;

// A field of `object` that must be a string, or null/absent when optional.
std::string string_at(const json& object, const char* key, const char* where, bool required) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) throw HookError(std::string("missing ") + where);
    return {};
  }
  if (!it->is_string()) throw HookError(std::string(where) + " is not a string");
  return it->get<std::string>();
}

const json* object_at(const json& object, const char* key, const char* where, bool required) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) throw HookError(std::string("missing ") + where);
    return nullptr;
  }
  if (!it->is_object()) throw HookError(std::string(where) + " is not an object");
  return &*it;
}

// The macros a milter session would have seen (Session reads `i`, `{auth_authen}`,
// `{daemon_name}`, `{client_addr}`).
class MapMacros final : public Macros {
 public:
  std::map<std::string, std::string, std::less<>> values;
  std::optional<std::string_view> get(std::string_view name) const override {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return std::string_view(it->second);
  }
};

json reply_json(const SmtpReply& reply) {
  int status = 451;
  try {
    status = std::stoi(reply.code);
  } catch (const std::exception&) {
    // plan_application checked the reply; unreachable
  }
  return json{{"status", status}, {"enhanced_status", reply.xcode}, {"message", reply.text}, {"disconnect", false}};
}

}  // namespace

HookRequest parse_hook_request(std::string_view body) {
  const json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded()) throw HookError("the request is not JSON");
  if (!doc.is_object()) throw HookError("the request is not a JSON object");
  HookRequest out;
  const json* context = object_at(doc, "context", "context", true);
  out.stage = string_at(*context, "stage", "context.stage", true);
  if (const json* client = object_at(*context, "client", "context.client", false)) {
    out.client_ip = string_at(*client, "ip", "context.client.ip", false);
    out.client_ptr = string_at(*client, "ptr", "context.client.ptr", false);
    out.helo = string_at(*client, "helo", "context.client.helo", false);
  }
  if (const json* sasl = object_at(*context, "sasl", "context.sasl", false)) {
    out.auth_login = string_at(*sasl, "login", "context.sasl.login", false);
  }
  if (const json* server = object_at(*context, "server", "context.server", false)) {
    out.server_name = string_at(*server, "name", "context.server.name", false);
  }
  if (const json* queue = object_at(*context, "queue", "context.queue", false)) {
    out.queue_id = string_at(*queue, "id", "context.queue.id", false);
  }
  if (const json* protocol = object_at(*context, "protocol", "context.protocol", false)) {
    const auto version = protocol->find("version");
    if (version != protocol->end() && !(version->is_number_integer() && version->get<long long>() == 1)) {
      throw HookError("context.protocol.version is not 1");
    }
  }
  const bool data = out.stage == "data";
  if (const json* envelope = object_at(doc, "envelope", "envelope", data)) {
    const json* from = object_at(*envelope, "from", "envelope.from", data);
    if (from != nullptr) out.envelope_from = string_at(*from, "address", "envelope.from.address", true);
    const auto to = envelope->find("to");
    if (to == envelope->end() || to->is_null()) {
      if (data) throw HookError("missing envelope.to");
    } else {
      if (!to->is_array()) throw HookError("envelope.to is not an array");
      for (const auto& rcpt : *to) {
        if (!rcpt.is_object()) throw HookError("envelope.to[] is not an object");
        out.recipients.push_back(string_at(rcpt, "address", "envelope.to[].address", true));
      }
    }
  }
  if (const json* message = object_at(doc, "message", "message", data)) {
    out.has_message = true;
    const auto headers = message->find("headers");
    if (headers == message->end() || !headers->is_array()) throw HookError("message.headers is not an array");
    for (const auto& field : *headers) {
      if (!field.is_array() || field.size() != 2 || !field[0].is_string() || !field[1].is_string()) {
        throw HookError("message.headers[] is not a [name, value] pair");
      }
      // Stalwart sends the value raw (" value\r\n", folds kept); the milter gets it trimmed.
      out.headers.push_back(HeaderField{std::string(trim(field[0].get_ref<const std::string&>())),
                                        std::string(trim(field[1].get_ref<const std::string&>()))});
    }
  }
  return out;
}

MessageEnd run_hook(const HookRequest& request, std::shared_ptr<const Config> config, Services services) {
  // Nothing is decided before DATA: the milter never rejects at RCPT either.
  if (request.stage != "data" || !request.has_message) return MessageEnd{};
  Session session(std::move(config), services);
  MapMacros macros;
  macros.values["{daemon_name}"] = request.server_name;
  macros.values["{client_addr}"] = request.client_ip;
  if (!request.queue_id.empty()) macros.values["i"] = request.queue_id;
  if (!request.auth_login.empty()) macros.values["{auth_authen}"] = request.auth_login;
  session.negotiate(false);
  session.connect(request.client_ptr.empty() ? "unknown" : request.client_ptr, request.client_ip, macros);
  session.helo(request.helo);
  session.mail_from(request.envelope_from, macros);
  for (const auto& rcpt : request.recipients) session.rcpt_to(rcpt, macros);
  for (const auto& field : request.headers) session.header(field.name, field.value);
  (void)session.end_of_headers();  // decide or pass: either way end_of_message says
  return session.end_of_message(macros);
}

std::string hook_response(const std::optional<Decision>& decision) {
  if (!decision) return json{{"action", "accept"}}.dump();
  const ApplyPlan plan = plan_application(*decision);
  json out;
  switch (plan.status) {
    case EomStatus::tempfail:
    case EomStatus::reject:
      // Stalwart sends `response` to the client as it is (hooks/message.rs); a 4xx code
      // makes the client retry, so a tempfail is a reject with a 4xx response.
      out["action"] = "reject";
      if (plan.reply) out["response"] = reply_json(*plan.reply);
      return out.dump(-1, ' ', false, json::error_handler_t::replace);
    case EomStatus::discard:
      out["action"] = "discard";
      return out.dump(-1, ' ', false, json::error_handler_t::replace);
    case EomStatus::proceed:
      break;
  }
  out["action"] = "accept";  // never "quarantine": Stalwart drops the message on it
  json mods = json::array();
  for (const auto& removal : plan.removals) {
    mods.push_back({{"type", "deleteHeader"}, {"index", removal.index}, {"name", removal.name}});
  }
  // Stalwart (apply_milter_modifications, as the emulator plays it) puts additions at the top
  // in the order sent while no field is deleted, but once a deletion rewrites the block each
  // addition goes to the top in turn, as smfi_insheader(0) does, which is the order the plan
  // was made for. Either way the result keeps the Decision's order.
  auto add = [&mods](const HeaderAddition& h) {
    mods.push_back({{"type", "addHeader"}, {"name", h.name}, {"value", h.value}});
  };
  if (plan.removals.empty()) {
    for (auto it = plan.insertions.rbegin(); it != plan.insertions.rend(); ++it) add(*it);
  } else {
    for (const auto& insertion : plan.insertions) add(insertion);
  }
  if (plan.quarantine_reason) {
    mods.push_back({{"type", "addHeader"}, {"name", "X-Quarantine"}, {"value", *plan.quarantine_reason}});
  }
  for (const auto& rcpt : plan.delete_recipients) {
    // Stalwart matches the lowercased address without angle brackets.
    std::string_view address = trim(rcpt);
    if (address.size() >= 2 && address.front() == '<' && address.back() == '>') address = address.substr(1, address.size() - 2);
    mods.push_back({{"type", "deleteRecipient"}, {"value", to_lower(address)}});
  }
  if (!mods.empty()) out["modifications"] = std::move(mods);
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string hook_failure_response(const Config& config, std::string_view why) {
  Decision d = failure_decision(config.policy.on.internal_error, FailureKind::internal_error, why);
  return hook_response(d);
}

}  // namespace aamp::milter
