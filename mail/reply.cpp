// reply.cpp — see reply.hpp. GMime objects are owned by unique_ptr with g_object_unref;
// GMime's macros are C casts, so the code casts with reinterpret_cast instead (every
// GMimeObject subclass begins with its parent, GObject's layout rule).
#include "mail/reply.hpp"

#include <gmime/gmime.h>

#include <memory>
#include <string_view>

#include "policy/address.hpp"
#include "policy/reply_fields.hpp"
#include "policy/text_safety.hpp"

namespace aamp::mail {
namespace {

struct GObjectUnref {
  void operator()(void* object) const noexcept { g_object_unref(object); }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct DateTimeUnref {
  void operator()(GDateTime* date) const noexcept { g_date_time_unref(date); }
};
struct FormatOptionsFree {
  void operator()(GMimeFormatOptions* options) const noexcept { g_mime_format_options_free(options); }
};

template <class To, class From>
To* as(From* object) noexcept {
  return reinterpret_cast<To*>(object);
}

constexpr std::string_view kDefaultRejection = "pair request rejected";

std::string body_text(const OutboxReply& reply, std::string_view status, const std::string& reason) {
  std::string body = kPairRespondBodyTitle;
  body += "\n\n";
  if (reply.status == TaskStatus::completed) {
    body += "Pairing completed: " + reply.to + " may now send tasks to " + reply.from + ".\n";
  } else {
    body += "Pairing rejected: " + reason + ".\n";
  }
  body += "\nTask ID: " + reply.task_id + "\nStatus: " + std::string(status) + "\n";
  return body;
}

// Sets a header whose value must reach the wire exactly as given: GMime folds a long
// unstructured value by turning over-long words into RFC 2047 encoded-words, so a
// 64-character TaskId came out as "=?us-ascii?Q?...?=" and no longer matched the request
// (our own validator refuses it too). `value` is checked header-safe by the caller
// (visible ASCII and spaces, at most 255 octets: the line stays far under 998).
void set_verbatim_header(GMimeObject* object, const char* name, const std::string& value) {
  g_mime_object_set_header(object, name, value.c_str(), nullptr);
  GMimeHeader* header = g_mime_header_list_get_header(g_mime_object_get_header_list(object), name);
  if (header != nullptr) g_mime_header_set_raw_value(header, (" " + value + "\n").c_str());
}

}  // namespace

Result<std::string> build_pair_respond(const OutboxReply& reply) {
  if (!is_reply_message_id(reply.message_id)) return Error{"the reply's Message-ID is not a plain <left@right> id"};
  if (!is_reply_mailbox(reply.from)) return Error{"the agent mailbox is not a plain addr-spec usable in From"};
  if (!is_reply_mailbox(reply.to)) return Error{"the requester address is not a plain addr-spec usable in To"};
  if (!is_reply_task_id(reply.task_id)) return Error{"the task id is not 1-255 visible ASCII characters"};

  ensure_gmime_initialized();
  const std::string_view status = to_string(reply.status);
  std::string reason;
  if (reply.status == TaskStatus::rejected) {
    reason = for_header_value(reply.error_msg);
    if (reason.empty()) reason = kDefaultRejection;
  }
  const std::string subject = "[AAMP Pair] " + std::string(status);

  GPtr<GMimeMessage> message(g_mime_message_new(FALSE));
  auto* object = as<GMimeObject>(message.get());
  g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_FROM, "", reply.from.c_str());
  g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_TO, "", reply.to.c_str());
  g_mime_message_set_subject(message.get(), subject.c_str(), nullptr);
  const std::unique_ptr<GDateTime, DateTimeUnref> date(g_date_time_new_from_unix_utc(reply.created_at));
  if (!date) return Error{"the reply's creation time is out of range"};
  g_mime_message_set_date(message.get(), date.get());
  // GMime takes the addr-spec part and writes the angle brackets itself.
  const std::string bare_id = reply.message_id.substr(1, reply.message_id.size() - 2);
  g_mime_message_set_message_id(message.get(), bare_id.c_str());
  if (!reply.in_reply_to.empty() && is_reply_message_id(reply.in_reply_to)) {
    g_mime_object_set_header(object, "In-Reply-To", reply.in_reply_to.c_str(), nullptr);
    g_mime_object_set_header(object, "References", reply.in_reply_to.c_str(), nullptr);
  }
  g_mime_object_set_header(object, "Auto-Submitted", "auto-replied", nullptr);
  g_mime_object_set_header(object, "X-AAMP-Version", "1.1", nullptr);
  g_mime_object_set_header(object, "X-AAMP-Intent", "pair.respond", nullptr);
  set_verbatim_header(object, "X-AAMP-TaskId", reply.task_id);
  g_mime_object_set_header(object, "X-AAMP-Status", std::string(status).c_str(), nullptr);
  if (reply.status == TaskStatus::rejected)
    set_verbatim_header(object, "X-AAMP-ErrorMsg", reason);
  g_mime_object_set_header(object, "MIME-Version", "1.0", nullptr);

  GPtr<GMimeTextPart> part(g_mime_text_part_new_with_subtype("plain"));
  g_mime_text_part_set_text(part.get(), body_text(reply, status, reason).c_str());
  g_mime_text_part_set_charset(part.get(), "utf-8");
  g_mime_part_set_content_encoding(as<GMimePart>(part.get()), GMIME_CONTENT_ENCODING_7BIT);
  g_mime_message_set_mime_part(message.get(), as<GMimeObject>(part.get()));

  const std::unique_ptr<GMimeFormatOptions, FormatOptionsFree> format(g_mime_format_options_new());
  g_mime_format_options_set_newline_format(format.get(), GMIME_NEWLINE_FORMAT_DOS);
  GPtr<GMimeStream> stream(g_mime_stream_mem_new());
  if (g_mime_object_write_to_stream(object, format.get(), stream.get()) < 0)
    return Error{"GMime could not serialize the reply"};
  const GByteArray* bytes = g_mime_stream_mem_get_byte_array(as<GMimeStreamMem>(stream.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

}  // namespace aamp::mail
