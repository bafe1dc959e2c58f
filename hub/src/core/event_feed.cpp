#include "core/event_feed.hpp"

#include "muster/proto/json.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

std::optional<std::uint64_t> parse_u64(const std::string& text) {
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (char c : text) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::int64_t to_int(const std::string& text) {
  const auto value = parse_u64(text);
  return value && *value <= INT64_MAX ? static_cast<std::int64_t>(*value) : 0;
}

JobEvent to_event(const std::string& job_id, const Reply& entry, const StreamId& id) {
  const Reply& f = entry.elements[1];
  JobEvent event{id, f.field("type").value_or("state"), ""};
  proto::JsonBuilder data;
  if (event.type == "output") {
    data.add("agent_id", f.field("agent").value_or(""))
        .add("stream", f.field("stream").value_or(""))
        .add("seq", to_int(f.field("seq").value_or("0")))
        .add("data", f.field("data").value_or(""));
  } else if (event.type == "job") {
    data.add("job_id", job_id).add("state", f.field("state").value_or(""));
  } else {
    event.type = "state";
    data.add("agent_id", f.field("agent").value_or("")).add("state", f.field("state").value_or(""));
  }
  event.data = data.dump();
  return event;
}

}  // namespace

std::optional<StreamId> parse_stream_id(const std::string& text) {
  const auto dash = text.find('-');
  const auto ms = parse_u64(text.substr(0, dash));
  if (!ms) return std::nullopt;
  if (dash == std::string::npos) return StreamId{*ms, 0};
  const auto seq = parse_u64(text.substr(dash + 1));
  // The very last id has no successor to read from.
  if (!seq || (*ms == UINT64_MAX && *seq == UINT64_MAX)) return std::nullopt;
  return StreamId{*ms, *seq};
}

std::vector<std::vector<JobEvent>> EventFeed::events_after(const std::vector<Read>& reads, std::size_t count) {
  std::vector<Command> commands;
  for (const auto& r : reads) {
    commands.push_back({"XRANGE", keys::job_events(r.job_id), r.after.next().text(),
                        r.up_to ? r.up_to->text() : "+", "COUNT", std::to_string(count)});
  }
  const auto replies = store_.pipeline(commands);
  std::vector<std::vector<JobEvent>> events(reads.size());
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].kind == Reply::Kind::error) throw StoreError(replies[i].text);
    for (const auto& entry : replies[i].elements) {
      if (entry.elements.size() != 2) continue;
      if (const auto id = parse_stream_id(entry.elements[0].text)) {
        events[i].push_back(to_event(reads[i].job_id, entry, *id));
      }
    }
  }
  return events;
}

bool EventFeed::accepts_position(const std::string& job_id, const StreamId& id) {
  const auto replies = store_.pipeline({{"XRANGE", keys::job_events(job_id), id.next().text(), "+", "COUNT", "1"}});
  return replies.at(0).kind != Reply::Kind::error;
}

std::vector<std::string> EventFeed::states(const std::vector<std::string>& job_ids) {
  std::vector<Command> commands;
  for (const auto& id : job_ids) commands.push_back({"HGET", keys::job(id), "state"});
  std::vector<std::string> states;
  for (const auto& reply : store_.pipeline(commands)) states.push_back(reply.text);
  return states;
}

}  // namespace muster::hub
