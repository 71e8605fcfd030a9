// mta_session.cpp — see mta_session.hpp. The protocol traps Postfix's milter8.c encodes are
// written beside the code that mirrors them.
#include "bench/loadgen/mta_session.hpp"

namespace aamp::loadgen {
namespace {

// Postfix 3.7 defaults (`postconf -d | grep _macros`). Only macros with a value are sent:
// without TLS the HELO list is empty, and `i` (the queue id) exists only once the first
// recipient has been accepted, so MAIL and the first RCPT go without it.
const std::array<std::vector<std::string>, kMacroStages> kDefaultMacros = {{
    {"j", "{daemon_name}", "{daemon_addr}", "v", "_"},                                          // connect
    {"{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}", "{cert_issuer}"},          // helo
    {"i", "{auth_type}", "{auth_authen}", "{auth_author}", "{mail_addr}", "{mail_host}", "{mail_mailer}"},  // mail
    {"i", "{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}"},                                       // rcpt
    {"i"},                                                                                      // data
    {"i"},                                                                                      // eom
    {"i"},                                                                                      // eoh
}};

// Replies that end the current message (or connection, at CONNECT/HELO).
bool is_final(char code) {
  return code == SMFIR_ACCEPT || code == SMFIR_REJECT || code == SMFIR_TEMPFAIL || code == SMFIR_DISCARD ||
         code == SMFIR_SHUTDOWN || code == SMFIR_REPLYCODE;
}

bool is_refusal(char code) { return code == SMFIR_REJECT || code == SMFIR_TEMPFAIL || code == SMFIR_REPLYCODE; }

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < list.size()) {
    const std::size_t start = list.find_first_not_of(" ,\t\r\n", at);
    if (start == std::string::npos) break;
    const std::size_t stop = list.find_first_of(" ,\t\r\n", start);
    out.push_back(list.substr(start, stop == std::string::npos ? std::string::npos : stop - start));
    at = stop == std::string::npos ? list.size() : stop;
  }
  return out;
}

std::string domain_of(std::string_view address) {
  const std::size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : std::string(address.substr(at + 1));
}

[[noreturn]] void protocol_error(const std::string& what) { throw SessionError(SessionError::Kind::protocol, what); }

}  // namespace

std::string_view to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::accept: return "accept";
    case Verdict::reject: return "reject";
    case Verdict::tempfail: return "tempfail";
    case Verdict::discard: return "discard";
    case Verdict::shutdown: return "shutdown";
  }
  return "?";
}

std::string_view to_string(Stage s) noexcept {
  switch (s) {
    case Stage::mail: return "mail";
    case Stage::rcpt: return "rcpt";
    case Stage::data: return "data";
    case Stage::header: return "header";
    case Stage::eoh: return "eoh";
    case Stage::body: return "body";
    case Stage::eom: return "eom";
  }
  return "?";
}

MtaSession::MtaSession(const Endpoint& endpoint, const SessionOptions& options, Clock::time_point hard_deadline)
    : conn_(endpoint, options.connection, hard_deadline), options_(options) {}

const OptnegReply& MtaSession::negotiate() {
  std::string pkt;
  append_optneg(pkt, kMtaVersion, kMtaActions, kMtaProtocol);
  conn_.write(pkt);
  const Packet p = conn_.read_packet();
  if (p.command != SMFIC_OPTNEG) protocol_error("expected SMFIC_OPTNEG, got " + std::string(reply_name(p.command)));
  auto r = parse_optneg_reply(p.data);
  if (!r) protocol_error("malformed option negotiation reply");
  // milter8_connect(): a newer version or actions we did not offer end the connection.
  if (r->version > kMtaVersion || r->version < 2) protocol_error("filter protocol version " + std::to_string(r->version));
  if ((r->actions & kMtaActions) != r->actions) protocol_error("filter wants actions the MTA did not offer");
  negotiated_ = *r;
  for (std::size_t i = 0; i < kMacroStages; ++i)
    macro_names_[i] = negotiated_.macro_lists[i] ? split_names(*negotiated_.macro_lists[i]) : kDefaultMacros[i];
  return negotiated_;
}

void MtaSession::set_macro(const std::string& name, std::string value) { macros_[name] = std::move(value); }

MacroPairs MtaSession::macros_for(MacroStage stage) const {
  MacroPairs out;
  for (const auto& name : macro_names_[static_cast<std::size_t>(stage)]) {
    auto it = macros_.find(name);
    // A filter may ask for "client_addr" where Postfix spells it "{client_addr}".
    if (it == macros_.end() && name.size() > 1 && name.front() != '{') it = macros_.find("{" + name + "}");
    if (it != macros_.end()) out.emplace_back(name, it->second);
  }
  return out;
}

MtaSession::Reply MtaSession::event(char command, MacroStage stage, std::uint32_t skip_flag, std::uint32_t no_reply_flag,
                                    const std::string& packet, Modifications* mods) {
  // After SMFIR_SKIP, events of the same type are dropped, macros and all; any other event
  // type ends the skipping (milter8_event()).
  if (skip_event_type_ != 0) {
    if (command == skip_event_type_) return {};
    skip_event_type_ = 0;
  }
  // The macros go out even when the event itself is negotiated away ("XXX Is this still
  // necessary?" in milter8.c). With "no DATA" this is the packet that waits for a delayed ACK.
  std::string macros;
  append_macros(macros, command, macros_for(stage));
  conn_.write(macros);
  if (skip_flag != 0 && (negotiated_.protocol & skip_flag) != 0) return {};
  conn_.write(packet);
  if (no_reply_flag != 0 && (negotiated_.protocol & no_reply_flag) != 0) return {Sent::unanswered, SMFIR_CONTINUE, {}};

  // Bounded: a filter may send modifications and progress reports, but not forever.
  for (int replies = 0; replies < 100000; ++replies) {
    Packet p = conn_.read_packet();
    const auto need_empty = [&] {
      if (!p.data.empty()) protocol_error(std::string(reply_name(p.command)) + " followed by data");
    };
    const auto need_action = [&](std::uint32_t flag) {
      if ((negotiated_.actions & flag) == 0) protocol_error(std::string(reply_name(p.command)) + " without negotiating it");
    };
    switch (p.command) {
      case SMFIR_PROGRESS:
        need_empty();
        continue;
      case SMFIR_CONTINUE:
      case SMFIR_ACCEPT:
      case SMFIR_REJECT:
      case SMFIR_TEMPFAIL:
      case SMFIR_DISCARD:
      case SMFIR_SHUTDOWN:
        need_empty();
        return {Sent::answered, p.command, {}};
      case SMFIR_SKIP:
        need_empty();
        skip_event_type_ = command;
        return {Sent::answered, SMFIR_SKIP, {}};
      case SMFIR_REPLYCODE: {
        auto text = parse_reply_code(p.data);
        if (!text) protocol_error("malformed SMFIR_REPLYCODE");
        return {Sent::answered, SMFIR_REPLYCODE, std::move(*text)};
      }
      case SMFIR_QUARANTINE:  // not a decision: the final reply still follows
        need_action(action::quarantine);
        if (mods) mods->quarantine = true;
        continue;
      default:
        break;
    }
    // Message modifications are allowed only in reply to end of body.
    if (command != SMFIC_BODYEOB || mods == nullptr)
      protocol_error("unexpected " + std::string(reply_name(p.command)) + " after event '" + std::string(1, command) + "'");
    switch (p.command) {
      case SMFIR_ADDHEADER: {
        need_action(action::add_headers);
        auto s = parse_cstrings(p.data);
        if (!s || s->size() != 2 || (*s)[0].empty()) protocol_error("malformed SMFIR_ADDHEADER");
        ++mods->add_header;
        break;
      }
      case SMFIR_INSHEADER:
        need_action(action::add_headers);
        if (auto h = parse_indexed_header(p.data); !h || h->name.empty()) protocol_error("malformed SMFIR_INSHEADER");
        ++mods->ins_header;
        break;
      case SMFIR_CHGHEADER:
        need_action(action::change_headers);
        if (auto h = parse_indexed_header(p.data); !h || h->name.empty()) protocol_error("malformed SMFIR_CHGHEADER");
        ++mods->chg_header;
        break;
      case SMFIR_DELRCPT: {
        need_action(action::delete_rcpt);
        auto s = parse_cstrings(p.data);
        if (!s || s->size() != 1) protocol_error("malformed SMFIR_DELRCPT");
        ++mods->del_rcpt;
        break;
      }
      case SMFIR_ADDRCPT:
      case SMFIR_ADDRCPT_PAR: {
        need_action(p.command == SMFIR_ADDRCPT ? action::add_rcpt : action::add_rcpt_par);
        auto s = parse_cstrings(p.data);
        if (!s || s->empty() || s->size() > 2) protocol_error("malformed SMFIR_ADDRCPT");
        ++mods->add_rcpt;
        break;
      }
      case SMFIR_CHGFROM: {
        need_action(action::change_from);
        auto s = parse_cstrings(p.data);
        if (!s || s->empty() || s->size() > 2) protocol_error("malformed SMFIR_CHGFROM");
        ++mods->chg_from;
        break;
      }
      case SMFIR_REPLBODY:
        need_action(action::change_body);
        ++mods->repl_body;
        break;
      default:
        protocol_error("unexpected " + std::string(reply_name(p.command)) + " at end of body");
    }
  }
  protocol_error("too many replies to one event");
}

bool MtaSession::open(const ClientInfo& client) {
  set_macro("j", options_.mta_hostname);
  set_macro("{daemon_name}", options_.mta_hostname);
  set_macro("{daemon_addr}", options_.daemon_addr);
  set_macro("v", options_.mta_version);
  set_macro("_", client.name + " [" + client.addr + "]");
  // Not in Postfix's default lists, but defined: a filter may ask for them by SETSYMLIST.
  set_macro("{client_addr}", client.addr);
  set_macro("{client_name}", client.name);
  set_macro("{client_ptr}", client.name);
  set_macro("{client_port}", std::to_string(client.port));
  set_macro("{client_resolve}", client.name == "unknown" ? "FAIL" : "OK");
  set_macro("{client_connections}", "0");

  // Postfix shows an unverified client as "[addr]" (milter8_conn_event()).
  const std::string host = client.name != "unknown" ? client.name : "[" + client.addr + "]";
  std::string pkt;
  append_connect(pkt, host, client.family, client.port, client.addr);
  Modifications ignored;
  Reply r = event(SMFIC_CONNECT, MacroStage::connect, SMFIP_NOCONNECT, SMFIP_NR_CONN, pkt, &ignored);
  if (r.sent == Sent::answered && is_final(r.code)) {
    connection_done_ = true;  // LIBMILTER_AUTO_DISCONNECT: Postfix closes the socket
    return false;
  }
  pkt.clear();
  append_helo(pkt, client.helo);
  r = event(SMFIC_HELO, MacroStage::helo, SMFIP_NOHELO, SMFIP_NR_HELO, pkt, &ignored);
  if (r.sent == Sent::answered && is_final(r.code)) {
    connection_done_ = true;
    return false;
  }
  return true;
}

MessageOutcome MtaSession::end(const Reply& r, Stage stage) {
  out_.stage = stage;
  switch (r.code) {
    case SMFIR_REJECT: out_.verdict = Verdict::reject; break;
    case SMFIR_TEMPFAIL: out_.verdict = Verdict::tempfail; break;
    case SMFIR_DISCARD: out_.verdict = Verdict::discard; break;
    case SMFIR_SHUTDOWN: out_.verdict = Verdict::shutdown; break;
    case SMFIR_REPLYCODE:
      out_.verdict = r.text.front() == '5' ? Verdict::reject : Verdict::tempfail;
      out_.reply = r.text;
      break;
    default: out_.verdict = Verdict::accept; break;  // ACCEPT, or CONTINUE/SKIP at end of body
  }
  out_.latency = Clock::now() - started_;
  if (out_.verdict == Verdict::shutdown) {
    connection_done_ = true;
  } else {
    // smtpd's mail_reset() tells the filter the transaction is over; the packet waits in the
    // buffer for the next command (milter8_abort() does not read a reply).
    std::string pkt;
    append_empty(pkt, SMFIC_ABORT);
    conn_.write(pkt);
  }
  return out_;
}

bool MtaSession::run_until_eob(const MessageSpec& m, std::string_view queue_id) {
  out_ = MessageOutcome{};
  started_ = Clock::now();
  macros_.erase("i");
  for (const char* name : {"{auth_type}", "{auth_authen}", "{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}"}) macros_.erase(name);
  if (!m.auth_login.empty()) {
    set_macro("{auth_type}", "PLAIN");
    set_macro("{auth_authen}", m.auth_login);
  }
  set_macro("{mail_addr}", m.sender);
  set_macro("{mail_host}", domain_of(m.sender));
  set_macro("{mail_mailer}", "smtp");

  std::string pkt;
  append_args(pkt, SMFIC_MAIL, {"<" + m.sender + ">"});
  Reply r = event(SMFIC_MAIL, MacroStage::mail, SMFIP_NOMAIL, SMFIP_NR_MAIL, pkt, &out_.mods);
  if (r.sent == Sent::answered && is_final(r.code)) {
    end(r, Stage::mail);
    return false;
  }

  unsigned accepted = 0;
  Reply refusal;
  for (const auto& rcpt : m.recipients) {
    set_macro("{rcpt_addr}", rcpt);
    set_macro("{rcpt_host}", domain_of(rcpt));
    set_macro("{rcpt_mailer}", "smtp");
    pkt.clear();
    append_args(pkt, SMFIC_RCPT, {"<" + rcpt + ">"});
    r = event(SMFIC_RCPT, MacroStage::rcpt, SMFIP_NORCPT, SMFIP_NR_RCPT, pkt, &out_.mods);
    if (r.sent == Sent::answered && is_refusal(r.code)) {  // this recipient only
      ++out_.rcpts_refused;
      refusal = r;
      continue;
    }
    if (r.sent == Sent::answered && is_final(r.code)) {  // ACCEPT, DISCARD, SHUTDOWN: the message
      end(r, Stage::rcpt);
      return false;
    }
    // The first accepted recipient opens the cleanup stream: now the queue id exists.
    if (++accepted == 1) set_macro("i", std::string(queue_id));
  }
  if (accepted == 0) {  // every recipient refused: no DATA
    end(refusal, Stage::rcpt);
    return false;
  }

  r = event(SMFIC_DATA, MacroStage::data, SMFIP_NODATA, SMFIP_NR_DATA, [] {
    std::string p;
    append_empty(p, SMFIC_DATA);
    return p;
  }(), &out_.mods);
  if (r.sent == Sent::answered && is_final(r.code)) {
    end(r, Stage::data);
    return false;
  }
  // smtpd hands the socket to cleanup, which sends the content: milter8_send() flushes
  // smtpd's buffer first, so what smtpd wrote last leaves now, in a packet of its own.
  conn_.flush();

  const bool leading_space = (negotiated_.protocol & SMFIP_HDR_LEADSPC) != 0;
  for (const auto& [name, value] : m.headers) {
    pkt.clear();
    append_header(pkt, name, leading_space ? " " + value : value);
    r = event(SMFIC_HEADER, MacroStage::eoh, SMFIP_NOHDRS, SMFIP_NR_HDR, pkt, &out_.mods);
    if (r.sent == Sent::answered && is_final(r.code)) {
      end(r, Stage::header);
      return false;
    }
  }
  pkt.clear();
  append_empty(pkt, SMFIC_EOH);
  r = event(SMFIC_EOH, MacroStage::eoh, SMFIP_NOEOH, SMFIP_NR_EOH, pkt, &out_.mods);
  if (r.sent == Sent::answered && is_final(r.code)) {
    end(r, Stage::eoh);
    return false;
  }
  // Body chunks of at most MILTER_CHUNK_SIZE, each preceded by the end-of-data macros
  // (Postfix sends them as SMFIC_MACRO 'B'; libmilter ignores that class without a reply).
  for (std::size_t at = 0; at < m.body.size(); at += MILTER_CHUNK_SIZE) {
    pkt.clear();
    append_body(pkt, std::string_view(m.body).substr(at, MILTER_CHUNK_SIZE));
    r = event(SMFIC_BODY, MacroStage::eom, SMFIP_NOBODY, SMFIP_NR_BODY, pkt, &out_.mods);
    if (r.sent == Sent::answered && is_final(r.code)) {
      end(r, Stage::body);
      return false;
    }
  }
  return true;
}

MessageOutcome MtaSession::finish_message() {
  std::string pkt;
  append_empty(pkt, SMFIC_BODYEOB);
  const Reply r = event(SMFIC_BODYEOB, MacroStage::eom, 0, 0, pkt, &out_.mods);
  if (r.sent != Sent::answered) protocol_error("no reply to end of body");
  return end(r, Stage::eom);
}

bool MtaSession::start_message(const MessageSpec& message, std::string_view queue_id) {
  return run_until_eob(message, queue_id);
}

MessageOutcome MtaSession::send_message(const MessageSpec& message, std::string_view queue_id) {
  if (!run_until_eob(message, queue_id)) return out_;
  return finish_message();
}

void MtaSession::quit() noexcept {
  try {
    if (!connection_done_) {
      std::string pkt;
      append_empty(pkt, SMFIC_QUIT);
      conn_.write(pkt);
    }
  } catch (...) {  // closing anyway
  }
  conn_.close();
}

}  // namespace aamp::loadgen
