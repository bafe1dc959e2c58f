#pragma once
// A stored record (agent, job, task, token): its fields, all strings, as the
// store keeps them. Labels are kept in one field as JSON.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "muster/proto/json.hpp"

namespace muster::hub {

struct Record {
  std::map<std::string, std::string> fields;
  bool empty() const { return fields.empty(); }
  std::optional<std::string> field(const std::string& name) const {
    const auto it = fields.find(name);
    return it == fields.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
};
using IdRecords = std::vector<std::pair<std::string, Record>>;

// The record's "labels" field, and the field's text for a set of labels.
proto::StringMap labels_of(const Record& record);
std::string labels_field(const proto::StringMap& labels);

}  // namespace muster::hub
