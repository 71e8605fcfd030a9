// text_safety.hpp — the one place that makes text safe for where it leaves the program: one
// named function per destination (log line, SMTP reply, reply text handed to libmilter, audit
// row, Authentication-Results value, header of mail we send, aampctl output line), each with
// its rule written beside it. Callers never clean text themselves (style.md item 16).
// Pure: no libmilter, no SQLite, no I/O, no locale (bytes, not characters). Reentrant.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace aamp {

// A value inside a log line (syslog, standard error). Bytes 0x20-0x7E are kept, every other
// byte (CR, LF, NUL, TAB, DEL, 8-bit) becomes '?'; after `max` bytes the rest is dropped and
// "..." appended. Header values come from strangers: no CR/LF may start a forged log line.
std::string for_log_line(std::string_view text, std::size_t max = 256);

// One `key=value` field of a log line: "-" when empty; else for_log_line(text, max), left bare
// when it holds no SP, '"', '\' or ',', otherwise a quoted string with '"' and '\' escaped,
// so that a value can never look like the next field.
std::string for_log_field(std::string_view text, std::size_t max = 256);

// The words of an SMTP reply the engine or validator composes (the text after "550 5.7.1").
// Bytes 0x20-0x7E are kept except '%'; every other byte and '%' become '?'; cut after `max`
// bytes with no marker. '%' is replaced although for_milter_reply doubles it: libmilter
// formats the text, `aampctl check` prints the reply as the engine made it, and Stalwart
// sends the text to the client verbatim, so a doubled '%' would show there as "%%".
// The default keeps an SMTP reply line well under RFC 5321's 512 bytes.
std::string for_smtp_reply(std::string_view text, std::size_t max = 400);

// A header value (or name) from the message quoted inside one of our sentences (a violation
// message, hence an SMTP reply): bytes 0x21-0x7E are kept except '%'; SP, every other byte
// and '%' become '?' (a quoted value stays one visible word); at most `max` bytes of input,
// then "..." appended.
std::string for_echoed_header(std::string_view value, std::size_t max = 40);

// The last step before smfi_setreply. libmilter passes the text through a printf-like
// expansion, and Postfix wants printable ASCII (^[45]dd[ -]): every byte outside 0x20-0x7E
// becomes SP, '%' becomes "%%"; the result never exceeds 450 bytes (a '%' that would not fit
// doubled is dropped with the rest); SP at either end is trimmed; when nothing is left the
// text is "message refused".
std::string for_milter_reply(std::string_view text);

// A text column of an audit row, and the facts the summary line and aampctl show: bytes
// 0x20-0x7E are kept ('%' too: nothing formats it), every other byte becomes '?'; cut after
// `max` bytes with no marker (the stored value is what the operator searches for).
std::string for_audit(std::string_view text, std::size_t max = 256);

// An RFC 8601 §2.2 pvalue of our Authentication-Results field: the value itself when it is a
// non-empty run of [A-Za-z0-9@._+/-] (a token or an addr-spec), else a quoted-string (RFC 5322
// §3.2.4) of for_audit(value) with '"' and '\' escaped by '\'.
std::string as_ar_value(std::string_view value);

// Free text in a header field of mail we send (X-AAMP-ErrorMsg of a pair.respond), and the
// delivery details of that mail (transport errors in the reply worker's log lines and the
// outbox's last_error, which keep the same rule so that the error stored is the error
// logged): every control byte (CR, LF, NUL, TAB, DEL, ...) becomes SP, every byte >= 0x80
// becomes '?', runs of SP collapse to one, the ends are trimmed, and the result is cut to
// `max` bytes (then trimmed again). No CR or LF can fold or end the header.
std::string for_header_value(std::string_view text, std::size_t max = 200);

// A file name on one line of aampctl's output: each control byte (0x00-0x1F, DEL) is shown
// as "\xNN" (two lower-case hex digits); everything else is kept (names may be UTF-8).
std::string for_terminal(std::string_view text);

}  // namespace aamp
