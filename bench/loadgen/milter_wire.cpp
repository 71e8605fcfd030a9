// milter_wire.cpp — see milter_wire.hpp. Framing: uint32 length (network order) counting
// the command byte and payload, then the command byte, then the payload.
#include "bench/loadgen/milter_wire.hpp"

#include <cctype>

namespace aamp::loadgen {
namespace {

void put_u32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xFF));
  out.push_back(static_cast<char>((v >> 16) & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

std::uint32_t get_u32(std::string_view s, std::size_t at) {
  auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

void put_cstring(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

// Writes the length prefix for a packet whose payload is appended afterwards.
std::size_t begin_packet(std::string& out, char command) {
  const std::size_t at = out.size();
  put_u32(out, 0);
  out.push_back(command);
  return at;
}

void end_packet(std::string& out, std::size_t at) {
  const auto len = static_cast<std::uint32_t>(out.size() - at - 4);
  for (int i = 0; i < 4; ++i) out[at + static_cast<std::size_t>(i)] = static_cast<char>((len >> (24 - 8 * i)) & 0xFF);
}

}  // namespace

void append_packet(std::string& out, char command, std::string_view payload) {
  put_u32(out, static_cast<std::uint32_t>(payload.size() + 1));
  out.push_back(command);
  out.append(payload);
}

void append_optneg(std::string& out, std::uint32_t version, std::uint32_t actions, std::uint32_t protocol) {
  const std::size_t at = begin_packet(out, SMFIC_OPTNEG);
  put_u32(out, version);
  put_u32(out, actions);
  put_u32(out, protocol);
  end_packet(out, at);
}

void append_macros(std::string& out, char for_command, const MacroPairs& macros) {
  const std::size_t at = begin_packet(out, SMFIC_MACRO);
  out.push_back(for_command);
  for (const auto& [name, value] : macros) {
    put_cstring(out, name);
    put_cstring(out, value);
  }
  end_packet(out, at);
}

void append_connect(std::string& out, std::string_view host, char family, std::uint16_t port, std::string_view addr) {
  const std::size_t at = begin_packet(out, SMFIC_CONNECT);
  put_cstring(out, host);
  out.push_back(family);
  if (family != SMFIA_UNKNOWN) {
    out.push_back(static_cast<char>((port >> 8) & 0xFF));  // network order
    out.push_back(static_cast<char>(port & 0xFF));
    put_cstring(out, addr);
  }
  end_packet(out, at);
}

void append_helo(std::string& out, std::string_view name) {
  const std::size_t at = begin_packet(out, SMFIC_HELO);
  put_cstring(out, name);
  end_packet(out, at);
}

void append_args(std::string& out, char command, const std::vector<std::string>& args) {
  const std::size_t at = begin_packet(out, command);
  for (const auto& a : args) put_cstring(out, a);
  end_packet(out, at);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  const std::size_t at = begin_packet(out, SMFIC_HEADER);
  put_cstring(out, name);
  put_cstring(out, value);
  end_packet(out, at);
}

void append_body(std::string& out, std::string_view chunk) { append_packet(out, SMFIC_BODY, chunk); }

void append_empty(std::string& out, char command) { append_packet(out, command, {}); }

void PacketDecoder::feed(std::string_view bytes) {
  if (broken_) return;
  if (offset_ > 0 && offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<Packet> PacketDecoder::next() {
  if (broken_ || buffer_.size() - offset_ < 4) return std::nullopt;
  const std::uint32_t len = get_u32(buffer_, offset_);
  if (len == 0 || len > kMaxPacket) {
    broken_ = true;
    return std::nullopt;
  }
  if (buffer_.size() - offset_ - 4 < len) return std::nullopt;
  Packet p;
  p.command = buffer_[offset_ + 4];
  p.data.assign(buffer_, offset_ + 5, len - 1);
  offset_ += 4 + len;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 65536) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return p;
}

std::optional<OptnegReply> parse_optneg_reply(std::string_view data) {
  if (data.size() < MILTER_OPTLEN) return std::nullopt;
  OptnegReply r;
  r.version = get_u32(data, 0);
  r.actions = get_u32(data, 4);
  r.protocol = get_u32(data, 8);
  std::size_t at = MILTER_OPTLEN;
  // Optional SMFIR_SETSYMLIST part: (uint32 stage, NUL-terminated name list)*.
  while (at < data.size()) {
    if (data.size() - at < 5) return std::nullopt;
    const std::uint32_t stage = get_u32(data, at);
    at += 4;
    const std::size_t nul = data.find('\0', at);
    if (nul == std::string_view::npos) return std::nullopt;
    if (stage < kMacroStages) r.macro_lists[stage] = std::string(data.substr(at, nul - at));
    at = nul + 1;  // unknown stages are ignored, as Postfix does
  }
  return r;
}

std::optional<std::vector<std::string>> parse_cstrings(std::string_view data) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < data.size()) {
    const std::size_t nul = data.find('\0', at);
    if (nul == std::string_view::npos) return std::nullopt;
    out.emplace_back(data.substr(at, nul - at));
    at = nul + 1;
  }
  return out;
}

std::optional<IndexedHeader> parse_indexed_header(std::string_view data) {
  if (data.size() < 4) return std::nullopt;
  auto strings = parse_cstrings(data.substr(4));
  if (!strings || strings->size() != 2) return std::nullopt;
  return IndexedHeader{get_u32(data, 0), std::move((*strings)[0]), std::move((*strings)[1])};
}

std::optional<std::string> parse_reply_code(std::string_view data) {
  if (data.empty() || data.back() != '\0') return std::nullopt;
  const std::string_view text = data.substr(0, data.size() - 1);
  auto digit = [&](std::size_t i) { return i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); };
  if (text.size() < 4 || (text[0] != '4' && text[0] != '5') || !digit(1) || !digit(2) ||
      (text[3] != ' ' && text[3] != '-'))
    return std::nullopt;
  if (digit(4) && text[4] != text[0]) return std::nullopt;  // "550 4.7.1" mixes classes
  return std::string(text);
}

std::string_view reply_name(char command) noexcept {
  switch (command) {
    case SMFIR_ADDRCPT: return "SMFIR_ADDRCPT";
    case SMFIR_DELRCPT: return "SMFIR_DELRCPT";
    case SMFIR_ADDRCPT_PAR: return "SMFIR_ADDRCPT_PAR";
    case SMFIR_SHUTDOWN: return "SMFIR_SHUTDOWN";
    case SMFIR_ACCEPT: return "SMFIR_ACCEPT";
    case SMFIR_REPLBODY: return "SMFIR_REPLBODY";
    case SMFIR_CONTINUE: return "SMFIR_CONTINUE";
    case SMFIR_DISCARD: return "SMFIR_DISCARD";
    case SMFIR_CHGFROM: return "SMFIR_CHGFROM";
    case SMFIR_CONN_FAIL: return "SMFIR_CONN_FAIL";
    case SMFIR_ADDHEADER: return "SMFIR_ADDHEADER";
    case SMFIR_INSHEADER: return "SMFIR_INSHEADER";
    case SMFIR_SETSYMLIST: return "SMFIR_SETSYMLIST";
    case SMFIR_CHGHEADER: return "SMFIR_CHGHEADER";
    case SMFIR_PROGRESS: return "SMFIR_PROGRESS";
    case SMFIR_QUARANTINE: return "SMFIR_QUARANTINE";
    case SMFIR_REJECT: return "SMFIR_REJECT";
    case SMFIR_SKIP: return "SMFIR_SKIP";
    case SMFIR_TEMPFAIL: return "SMFIR_TEMPFAIL";
    case SMFIR_REPLYCODE: return "SMFIR_REPLYCODE";
    case SMFIC_OPTNEG: return "SMFIC_OPTNEG";
    default: return "unknown";
  }
}

}  // namespace aamp::loadgen
