// smtp_transport.cpp — see smtp_transport.hpp. Every curl handle and list is owned by a
// unique_ptr with its libcurl free function.
#include "mail/smtp_transport.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "policy/reply_fields.hpp"
#include "policy/text_safety.hpp"

namespace aamp::mail {
namespace {

struct EasyCleanup {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct SlistFree {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
  });
}

// This host's name when it is a usable EHLO argument; else libcurl's default.
std::string default_helo() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return {};
  return is_reply_domain(name) ? std::string(name) : std::string();
}

struct Upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t read_message(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, upload->data.size() - upload->offset);
  std::memcpy(buffer, upload->data.data() + upload->offset, n);
  upload->offset += n;
  return n;
}

int check_stop(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::stop_token*>(user)->stop_requested() ? 1 : 0;  // non-zero aborts
}

template <class T>
void set(CURL* handle, CURLoption option, T value) {
  if (const CURLcode rc = curl_easy_setopt(handle, option, value); rc != CURLE_OK)
    throw std::runtime_error(fmt::format("curl_easy_setopt({}) failed: {}", static_cast<int>(option),
                                         curl_easy_strerror(rc)));
}

}  // namespace

bool verifies_server_certificate(const SmtpSpec& spec) noexcept {
  // Opportunistic is Postfix's `may`: a stock Debian Postfix offers STARTTLS with a
  // self-signed ("snakeoil") certificate, and a verifying client would defer every reply.
  return spec.implicit_tls || spec.starttls != StartTls::opportunistic || !spec.ca_file.empty();
}

SmtpTransport::SmtpTransport(SmtpSpec spec, std::chrono::milliseconds timeout)
    : spec_(std::move(spec)), timeout_(timeout) {
  global_init_once();
  if (spec_.helo.empty()) spec_.helo = default_helo();
  url_ = fmt::format("{}://{}:{}/{}", spec_.implicit_tls ? "smtps" : "smtp", spec_.host, spec_.port, spec_.helo);
}

std::string SmtpTransport::describe() const {
  std::string text = fmt::format("{}://{}:{}", spec_.implicit_tls ? "smtps" : "smtp", spec_.host, spec_.port);
  if (!spec_.implicit_tls) text += fmt::format(" starttls={}", to_string(spec_.starttls));
  if (!spec_.user.empty()) text += " user=" + spec_.user;
  return text;
}

SendResult SmtpTransport::send(std::string_view message, std::string_view envelope_from,
                               std::string_view recipient, std::stop_token stop) {
  if (!envelope_from.empty() && !is_reply_mailbox(envelope_from))
    return {SendStatus::permanent, "the envelope sender is not a plain addr-spec"};
  if (!is_reply_mailbox(recipient)) return {SendStatus::permanent, "the recipient is not a plain addr-spec"};

  const std::unique_ptr<CURL, EasyCleanup> handle(curl_easy_init());
  if (!handle) return {SendStatus::temporary, "curl_easy_init failed"};
  CURL* curl = handle.get();
  const std::string from = fmt::format("<{}>", envelope_from);  // "<>": the null sender
  const std::unique_ptr<curl_slist, SlistFree> rcpt(curl_slist_append(nullptr, fmt::format("<{}>", recipient).c_str()));
  if (!rcpt) return {SendStatus::temporary, "curl_slist_append failed"};
  Upload upload{message, 0};
  char error[CURL_ERROR_SIZE] = {};
  try {
    set(curl, CURLOPT_URL, url_.c_str());
    set(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    set(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts, no SIGPIPE games
    set(curl, CURLOPT_ERRORBUFFER, error);
    set(curl, CURLOPT_MAIL_FROM, from.c_str());
    set(curl, CURLOPT_MAIL_RCPT, rcpt.get());
    set(curl, CURLOPT_UPLOAD, 1L);
    set(curl, CURLOPT_READFUNCTION, &read_message);
    set(curl, CURLOPT_READDATA, &upload);
    set(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    const long total_ms = static_cast<long>(std::min<std::int64_t>(timeout_.count(), LONG_MAX));
    set(curl, CURLOPT_TIMEOUT_MS, total_ms);
    set(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min(total_ms, 15'000L));
    set(curl, CURLOPT_NOPROGRESS, 0L);
    set(curl, CURLOPT_XFERINFOFUNCTION, &check_stop);
    set(curl, CURLOPT_XFERINFODATA, &stop);
    if (!spec_.implicit_tls) {
      const long use_ssl = spec_.starttls == StartTls::required        ? CURLUSESSL_ALL
                           : spec_.starttls == StartTls::opportunistic ? CURLUSESSL_TRY
                                                                       : CURLUSESSL_NONE;
      set(curl, CURLOPT_USE_SSL, use_ssl);
    }
    const bool verify = verifies_server_certificate(spec_);
    set(curl, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    set(curl, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (!spec_.ca_file.empty()) set(curl, CURLOPT_CAINFO, spec_.ca_file.c_str());
    if (!spec_.user.empty()) {
      set(curl, CURLOPT_USERNAME, spec_.user.c_str());
      set(curl, CURLOPT_PASSWORD, spec_.password.c_str());
      set(curl, CURLOPT_SASL_IR, 1L);  // RFC 4954 initial response: one round trip less
    }
  } catch (const std::runtime_error& e) {
    return {SendStatus::temporary, e.what()};
  }

  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) return {SendStatus::sent, ""};
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  const std::string sentence = error[0] != '\0' ? std::string(error) : std::string(curl_easy_strerror(rc));
  std::string detail = for_header_value(fmt::format("{} (curl error {}, last SMTP reply {})", sentence,
                                                    static_cast<int>(rc), code),
                                        1024);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return {SendStatus::temporary, "cancelled: the reply worker is stopping"};
  // libcurl says "RCPT failed: 550" when the (only) recipient was refused.
  if (code >= 500 && code < 600 && std::string_view(error).starts_with("RCPT failed")) return {SendStatus::permanent, detail};
  return {SendStatus::temporary, detail};
}

}  // namespace aamp::mail
