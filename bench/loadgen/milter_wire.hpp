// milter_wire.hpp — the MTA side of the Sendmail milter protocol (version 6) as bytes:
// encoders for the commands an MTA sends, a bounded decoder for the packets a filter sends,
// and parsers for the reply payloads. Command and flag values come from libmilter's own
// protocol header (mfdef.h); nothing here links libmilter or does I/O.
// Pure functions and value types: safe from any thread.
#pragma once

#include <libmilter/mfdef.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aamp::loadgen {

// Actions a filter may ask for (SMFIF_*; defined in libmilter's mfapi.h, the API header,
// which an MTA-side client has no business including).
namespace action {
inline constexpr std::uint32_t add_headers = 0x001;    // SMFIF_ADDHDRS
inline constexpr std::uint32_t change_body = 0x002;    // SMFIF_CHGBODY
inline constexpr std::uint32_t add_rcpt = 0x004;       // SMFIF_ADDRCPT
inline constexpr std::uint32_t delete_rcpt = 0x008;    // SMFIF_DELRCPT
inline constexpr std::uint32_t change_headers = 0x010; // SMFIF_CHGHDRS
inline constexpr std::uint32_t quarantine = 0x020;     // SMFIF_QUARANTINE
inline constexpr std::uint32_t change_from = 0x040;    // SMFIF_CHGFROM
inline constexpr std::uint32_t add_rcpt_par = 0x080;   // SMFIF_ADDRCPT_PAR
inline constexpr std::uint32_t set_symlist = 0x100;    // SMFIF_SETSYMLIST
}  // namespace action

// What Postfix 3.7 offers in SMFIC_OPTNEG with milter_protocol = 6 (src/milter/milter8.c):
// every action it can apply, and every "don't send" / "no reply" step of version 6.
inline constexpr std::uint32_t kMtaVersion = 6;
inline constexpr std::uint32_t kMtaActions = SMFI_CURR_ACTS;  // 0x1FF: ADDHDRS .. SETSYMLIST
inline constexpr std::uint32_t kMtaProtocol = SMFI_CURR_PROT;  // 0x1FFFFF: NOCONNECT .. HDR_LEADSPC

// The longest packet we accept from a filter. libmilter never sends more than its maximum
// data size (64 KiB, or 1 MiB when negotiated); anything larger is a broken peer.
inline constexpr std::size_t kMaxPacket = (1u << 20) + 64;

// Macro classes of SMFIR_SETSYMLIST in the option negotiation reply (SMFIM_*, mfapi.h).
enum class MacroStage : std::uint32_t {
  connect = 0,  // SMFIM_CONNECT: sent with SMFIC_CONNECT
  helo = 1,     // SMFIM_HELO: with SMFIC_HELO
  mail = 2,     // SMFIM_ENVFROM: with SMFIC_MAIL
  rcpt = 3,     // SMFIM_ENVRCPT: with SMFIC_RCPT
  data = 4,     // SMFIM_DATA: with SMFIC_DATA
  eom = 5,      // SMFIM_EOM: with SMFIC_BODY and SMFIC_BODYEOB (Postfix's "end of data" list)
  eoh = 6,      // SMFIM_EOH: with SMFIC_HEADER and SMFIC_EOH
};
inline constexpr std::size_t kMacroStages = 7;

using MacroPairs = std::vector<std::pair<std::string, std::string>>;

// One packet as framed on the wire: 4-byte big-endian length (command byte included), the
// command byte, the payload.
struct Packet {
  char command = 0;
  std::string data;
};

// ---- Encoding (MTA -> filter). Each appends one framed packet to `out`. ----

void append_packet(std::string& out, char command, std::string_view payload);
void append_optneg(std::string& out, std::uint32_t version, std::uint32_t actions, std::uint32_t protocol);
// SMFIC_MACRO for the event `for_command` ('C', 'H', 'M', 'R', 'T', 'L', 'N', 'B', 'E').
void append_macros(std::string& out, char for_command, const MacroPairs& macros);
// SMFIC_CONNECT: host name, family (SMFIA_INET, SMFIA_INET6, SMFIA_UNIX or SMFIA_UNKNOWN),
// port (host order; sent in network order) and address. SMFIA_UNKNOWN carries neither.
void append_connect(std::string& out, std::string_view host, char family, std::uint16_t port, std::string_view addr);
void append_helo(std::string& out, std::string_view name);
// SMFIC_MAIL / SMFIC_RCPT: "<address>" then ESMTP parameters, each NUL-terminated.
void append_args(std::string& out, char command, const std::vector<std::string>& args);
void append_header(std::string& out, std::string_view name, std::string_view value);
void append_body(std::string& out, std::string_view chunk);
// SMFIC_DATA, SMFIC_EOH, SMFIC_BODYEOB, SMFIC_ABORT, SMFIC_QUIT: no payload.
void append_empty(std::string& out, char command);

// ---- Decoding (filter -> MTA). ----

// Splits a byte stream into packets. Feed bytes as they arrive; next() returns each complete
// packet once. A length of zero or above kMaxPacket makes the stream broken for good.
class PacketDecoder {
 public:
  void feed(std::string_view bytes);
  std::optional<Packet> next();
  bool broken() const noexcept { return broken_; }
  std::size_t buffered() const noexcept { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
  bool broken_ = false;
};

// The filter's SMFIC_OPTNEG reply: its version, the actions it wants, the protocol steps it
// wants skipped or left unanswered, and the macro lists it asks for instead of the MTA's.
struct OptnegReply {
  std::uint32_t version = 0;
  std::uint32_t actions = 0;
  std::uint32_t protocol = 0;
  std::array<std::optional<std::string>, kMacroStages> macro_lists;  // space-separated names
};
std::optional<OptnegReply> parse_optneg_reply(std::string_view data);

// The NUL-terminated strings of a payload, in order. nullopt when the last is unterminated.
std::optional<std::vector<std::string>> parse_cstrings(std::string_view data);

// SMFIR_CHGHEADER and SMFIR_INSHEADER: a 32-bit index, then name and value.
struct IndexedHeader {
  std::uint32_t index = 0;
  std::string name;
  std::string value;
};
std::optional<IndexedHeader> parse_indexed_header(std::string_view data);

// SMFIR_REPLYCODE text, checked as Postfix checks it: "4xx" or "5xx", then ' ' or '-',
// and an enhanced status code (when present) of the same class. nullopt when malformed.
std::optional<std::string> parse_reply_code(std::string_view data);

// A printable name for a command or reply byte ("SMFIR_ACCEPT"), for messages and traces.
std::string_view reply_name(char command) noexcept;

}  // namespace aamp::loadgen
