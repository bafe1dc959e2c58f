#include "profile.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "errors.hpp"

namespace muster::cli {
namespace {

using Section = std::map<std::string, std::string>;

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

std::map<std::string, Section> parse_ini(const std::string& text, const std::string& file) {
  static const char* const kKeys[] = {"url", "ca_file", "token_file"};
  std::map<std::string, Section> sections;
  std::string current;
  std::size_t start = 0;
  for (int number = 1; start < text.size(); ++number) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = trim(text.substr(start, end - start));
    start = end + 1;
    const std::string where = file + ":" + std::to_string(number) + ": ";
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3) throw usage_error(where + "a section is [NAME]");
      current = trim(line.substr(1, line.size() - 2));
      sections[current];
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw usage_error(where + "expected KEY = VALUE");
    if (current.empty()) throw usage_error(where + "KEY = VALUE before the first [PROFILE] section");
    const std::string key = trim(line.substr(0, eq));
    bool known = false;
    for (const char* k : kKeys) known = known || key == k;
    if (!known) throw usage_error(where + "unknown key \"" + key + "\" (known: url, ca_file, token_file)");
    sections[current][key] = trim(line.substr(eq + 1));
  }
  return sections;
}

std::string from_env(const Getenv& env, const char* name) {
  const char* value = env(name);
  return value != nullptr ? value : "";
}

// "~/x" is $HOME/x, so a profile reads the same for every user.
std::string expand_home(const std::string& path, const Getenv& env) {
  if (path.rfind("~/", 0) != 0) return path;
  return from_env(env, "HOME") + path.substr(1);
}

}  // namespace

std::string config_path(const Getenv& env) {
  if (const std::string explicit_path = from_env(env, "MUSTER_CONFIG"); !explicit_path.empty()) return explicit_path;
  if (const std::string xdg = from_env(env, "XDG_CONFIG_HOME"); !xdg.empty()) return xdg + "/muster/config";
  return from_env(env, "HOME") + "/.config/muster/config";
}

Profile resolve_profile(const std::string& config_text, const std::string& config_file, const ProfileChoice& choice,
                        const Getenv& env, const std::function<std::string(const std::string&)>& read_file) {
  const auto sections = parse_ini(config_text, config_file);
  Profile p;
  const bool named = !choice.name.empty() || !from_env(env, "MUSTER_PROFILE").empty();
  p.name = !choice.name.empty() ? choice.name : named ? from_env(env, "MUSTER_PROFILE") : "default";
  const auto it = sections.find(p.name);
  if (it == sections.end() && named) throw usage_error("no profile [" + p.name + "] in " + config_file);
  const Section none;
  const Section& s = it != sections.end() ? it->second : none;
  auto pick = [&](const std::string& flag, const char* env_name, const char* key) {
    if (!flag.empty()) return flag;
    if (std::string v = from_env(env, env_name); !v.empty()) return v;
    const auto k = s.find(key);
    return k == s.end() ? std::string() : expand_home(k->second, env);
  };
  p.url = pick(choice.url, "MUSTER_URL", "url");
  while (!p.url.empty() && p.url.back() == '/') p.url.pop_back();
  p.ca_file = pick(choice.ca, "MUSTER_CA", "ca_file");
  p.token = from_env(env, "MUSTER_TOKEN");
  if (p.token.empty() && s.count("token_file") != 0) {
    p.token_file = expand_home(s.at("token_file"), env);
    p.token = trim(read_file(p.token_file));
    if (p.token.empty()) throw usage_error("token file " + p.token_file + " is missing or empty");
  }
  if (p.url.empty()) {
    throw usage_error("no hub URL: set MUSTER_URL, pass --url, or put url = ... under [" + p.name + "] in " +
                      config_file);
  }
  if (p.token.empty()) {
    throw usage_error("no API token: set MUSTER_TOKEN or token_file = ... under [" + p.name + "] in " + config_file);
  }
  return p;
}

Profile load_profile(const ProfileChoice& choice) {
  const Getenv env = [](const char* name) -> const char* { return std::getenv(name); };
  const std::string path = config_path(env);
  // C stdio, not iostreams: the static executable stays about 0.5 MB smaller.
  auto slurp = [](const std::string& file) {
    std::string text;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(file.c_str(), "rb"), std::fclose);
    char buffer[4096];
    for (std::size_t n; in && (n = std::fread(buffer, 1, sizeof buffer, in.get())) > 0;) text.append(buffer, n);
    return text;
  };
  return resolve_profile(slurp(path), path, choice, env, slurp);
}

}  // namespace muster::cli
