#include "store/record.hpp"

namespace muster::hub {

proto::StringMap labels_of(const Record& record) {
  proto::StringMap labels;
  if (auto root = proto::parse_object(record.field("labels").value_or("{}"))) {
    proto::FieldReader(root->get(), "").optional_labels("l", labels);
  }
  return labels;
}

std::string labels_field(const proto::StringMap& labels) { return proto::JsonBuilder().add("l", labels).dump(); }

}  // namespace muster::hub
