// config_lists.cpp — see config_lists.hpp.
#include "milter/config_lists.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "milter/config_values.hpp"
#include "policy/text.hpp"

namespace aamp::milter::config_file {

Problem add_cidrs(std::string_view value, const std::string& base_dir, const FileReader& read_file,
                  std::vector<Cidr>& out) {
  for (const auto& item : split_list(value)) {
    if (istarts_with(item, "file:")) {
      const std::string path = resolve(base_dir, std::string_view(item).substr(5));
      auto text = read_file(path);
      if (!text) return text.error();
      auto p = for_each_line(*text, [&](std::size_t n, std::string_view line) -> Problem {
        for (const auto& entry : split_list(line)) {
          auto net = parse_cidr(entry);
          if (!net) return fmt::format("{}:{}: {}: {}", path, n, entry, net.error());
          out.push_back(*net);
        }
        return std::nullopt;
      });
      if (p) return p->find(path) == 0 ? *p : path + ":" + *p;
      continue;
    }
    auto net = parse_cidr(item);
    if (!net) return item + ": " + net.error();
    out.push_back(*net);
  }
  return std::nullopt;
}

Problem load_sender_logins(const std::string& path, const FileReader& read_file, std::vector<LoginGrant>& out) {
  auto text = read_file(path);
  if (!text) return text.error();
  return for_each_line(*text, [&](std::size_t n, std::string_view line) -> Problem {
    const auto where = path + ":" + std::to_string(n) + ": ";
    const auto sp = line.find_first_of(" \t");
    if (sp == std::string_view::npos) return where + "expected a login and at least one sender pattern";
    const std::string login = to_lower(line.substr(0, sp));
    if (!printable_token(login)) return where + "the login must be printable ASCII";
    const auto patterns = split_list(line.substr(sp));
    if (patterns.empty()) return where + "expected a login and at least one sender pattern";
    auto it = std::find_if(out.begin(), out.end(), [&](const LoginGrant& g) { return g.login == login; });
    if (it == out.end()) {
      out.push_back(LoginGrant{login, {}});
      it = std::prev(out.end());
    }
    for (const auto& text_pattern : patterns) {
      auto pattern = parse_sender_pattern(text_pattern);
      if (!pattern) return where + text_pattern + ": " + pattern.error();
      it->may_send_as.push_back(*pattern);
    }
    return std::nullopt;
  });
}

}  // namespace aamp::milter::config_file
