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

// Every key of the file, once: its name, where it goes, and what it means
// (the comments of packaging/agent/agent.conf say the same to operators).
using Setter = proto::Status (*)(AgentConfig&, const std::string& value, const std::string& where);

struct ConfigKey {
  const char* name;
  Setter set;
  const char* doc;
};

template <std::string AgentConfig::*Field>
proto::Status set_text(AgentConfig& config, const std::string& value, const std::string&) {
  config.*Field = value;
  return proto::Ok{};
}

proto::Status set_labels(AgentConfig& config, const std::string& value, const std::string& where) {
  return parse_labels(value, where, config.labels);
}

const ConfigKey kKeys[] = {
    {"hub_url", set_text<&AgentConfig::hub_url>, "the hub's HTTPS URL, for enrollment on first start"},
    {"ca_file", set_text<&AgentConfig::ca_file>, "CA of the hub's HTTPS certificate (empty: system store)"},
    {"enroll_token", set_text<&AgentConfig::enroll_token>, "one-time enrollment token, emptied once used"},
    {"labels", set_labels, "KEY=VALUE, KEY=VALUE sent at enrollment"},
    {"state_dir", set_text<&AgentConfig::state_dir>, "as --state-dir"},
    {"task_user", set_text<&AgentConfig::task_user>, "as --task-user"},
    {"log_level", set_text<&AgentConfig::log_level>, "as --log-level"},
};

std::string known_keys() {
  std::string names;
  for (const ConfigKey& key : kKeys) names += (names.empty() ? "" : ", ") + std::string(key.name);
  return names;
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
    const std::string name = key_of(line);
    const ConfigKey* key = nullptr;
    for (const ConfigKey& k : kKeys) {
      if (name == k.name) key = &k;
    }
    if (key == nullptr) {
      return proto::Error{proto::ErrorCode::unknown_field,
                          where + ": unknown key '" + name + "' (known: " + known_keys() + ")"};
    }
    if (auto set = key->set(config, trim(line.substr(line.find('=') + 1)), where); !set) return set.error();
  }
  return config;
}

std::string agent_config_reference() {
  std::string text;
  for (const ConfigKey& key : kKeys) {
    const std::string name = key.name;
    text += "  " + name + std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') + key.doc + "\n";
  }
  return text;
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
