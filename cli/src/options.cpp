#include "options.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "errors.hpp"

namespace muster::cli {
namespace {

const OptionSpec* find_spec(const std::vector<OptionSpec>& specs, const std::string& name) {
  const auto it = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return name == s.name; });
  return it == specs.end() ? nullptr : &*it;
}

}  // namespace

std::string ParsedOptions::value(const std::string& name, const std::string& fallback) const {
  const auto it = values.find(name);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

const std::vector<std::string>& ParsedOptions::all(const std::string& name) const {
  static const std::vector<std::string> none;
  const auto it = values.find(name);
  return it == values.end() ? none : it->second;
}

ParsedOptions parse_options(const std::vector<OptionSpec>& specs, const std::vector<std::string>& args) {
  ParsedOptions out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.saw_dashdash = true;
      out.after_dashdash.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (arg == "-h" || arg == "--help") {
      out.values["--help"].push_back("");
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      out.positional.push_back(arg);
      continue;
    }
    const std::size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const OptionSpec* spec = find_spec(specs, name);
    if (spec == nullptr) throw usage_error("unknown option " + name);
    std::string value;
    if (spec->value_name == nullptr) {
      if (eq != std::string::npos) throw usage_error(name + " takes no value");
    } else if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      throw usage_error(name + " needs a value (" + spec->value_name + ")");
    }
    auto& slot = out.values[name];
    if (!slot.empty() && !spec->repeatable) throw usage_error(name + " given twice");
    slot.push_back(value);
  }
  return out;
}

std::string options_help(const std::vector<OptionSpec>& specs) {
  std::vector<std::string> left;
  std::size_t width = 0;
  for (const auto& s : specs) {
    std::string l = std::string("  ") + s.name + (s.value_name != nullptr ? std::string(" ") + s.value_name : "");
    width = std::max(width, l.size());
    left.push_back(std::move(l));
  }
  std::string out;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    out += left[i] + std::string(width - left[i].size() + 2, ' ') + specs[i].help;
    if (specs[i].repeatable) out += " (repeatable)";
    out += "\n";
  }
  return out;
}

std::int64_t parse_int_option(const std::string& name, const std::string& text, std::int64_t min,
                              std::int64_t max) {
  errno = 0;
  char* end = nullptr;
  const std::int64_t value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || value < min || value > max) {
    throw usage_error(name + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                      ", not \"" + text + "\"");
  }
  return value;
}

}  // namespace muster::cli
