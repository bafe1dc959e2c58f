#include "agent_config.hpp"

#include <sstream>

#include "platform/fs.hpp"

namespace muster::agent {
namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

bool is_comment_or_blank(const std::string& line) {
  const std::string t = trim(line);
  return t.empty() || t[0] == '#' || t[0] == ';';
}

std::string key_of(const std::string& line) { return trim(line.substr(0, line.find('='))); }

// "env=prod, rack=r12" -> {env: prod, rack: r12}.
proto::Status parse_labels(const std::string& value, const std::string& where, proto::StringMap& labels) {
  std::stringstream items(value);
  std::string item;
  while (std::getline(items, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string key = eq == std::string::npos ? item : trim(item.substr(0, eq));
    const std::string val = eq == std::string::npos ? "" : trim(item.substr(eq + 1));
    if (eq == std::string::npos || !proto::valid_label_key(key) || !proto::valid_label_value(val)) {
      return proto::Error{proto::ErrorCode::invalid_field,
                          where + ": labels wants KEY=VALUE, KEY=VALUE (key: 1-63 of A-Z a-z 0-9 _ . -; "
                                  "value: printable ASCII), not '" + item + "'"};
    }
    labels[key] = val;
  }
  return proto::Ok{};
}

}  // namespace

proto::Result<AgentConfig> parse_agent_config(const std::string& text, const std::string& origin) {
  AgentConfig config;
  std::stringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (is_comment_or_blank(line)) continue;
    const std::string where = origin + ":" + std::to_string(number);
    if (line.find('=') == std::string::npos) {
      return proto::Error{proto::ErrorCode::invalid_field, where + ": expected `key = value`"};
    }
    const std::string key = key_of(line);
    const std::string value = trim(line.substr(line.find('=') + 1));
    if (key == "hub_url") {
      config.hub_url = value;
    } else if (key == "ca_file") {
      config.ca_file = value;
    } else if (key == "enroll_token") {
      config.enroll_token = value;
    } else if (key == "labels") {
      if (auto parsed = parse_labels(value, where, config.labels); !parsed) return parsed.error();
    } else if (key == "state_dir") {
      config.state_dir = value;
    } else if (key == "task_user") {
      config.task_user = value;
    } else if (key == "log_level") {
      config.log_level = value;
    } else {
      return proto::Error{proto::ErrorCode::unknown_field,
                          where + ": unknown key '" + key +
                              "' (known: hub_url, ca_file, enroll_token, labels, state_dir, task_user, log_level)"};
    }
  }
  return config;
}

proto::Result<AgentConfig> load_agent_config(const std::string& path) {
  auto text = platform::read_file(path);
  if (!text) return proto::Error{text.error().code, "cannot read the configuration: " + text.error().message};
  return parse_agent_config(*text, path);
}

std::string without_enroll_token(const std::string& text, const std::string& note) {
  std::stringstream lines(text);
  std::string line, out;
  while (std::getline(lines, line)) {
    if (!is_comment_or_blank(line) && key_of(line) == "enroll_token") {
      out += "# " + note + "\nenroll_token =\n";
    } else {
      out += line + "\n";
    }
  }
  return out;
}

proto::Status forget_enroll_token(const std::string& path, const std::string& note) {
  auto text = platform::read_file(path);
  if (!text) return text.error();
  return platform::write_file_atomic(path, without_enroll_token(*text, note), true);
}

}  // namespace muster::agent
