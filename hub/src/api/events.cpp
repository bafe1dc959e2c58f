#include "api/events.hpp"

#include "muster/proto/json.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

std::int64_t to_int(const std::string& text) {
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

void stream_job_events(Store& store, const std::string& job_id, Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) {
  std::string last_id = request.get("Last-Event-ID", "0");
  if (last_id.empty() || last_id.size() > 40 || last_id.find_first_not_of("0123456789-") != std::string::npos) {
    last_id = "0";
  }
  auto client = store.connect_dedicated(30000);
  response.setChunkedTransferEncoding(true);
  response.setContentType("text/event-stream");
  response.set("Cache-Control", "no-store");
  std::ostream& out = response.send();
  const std::string stream = keys::job_events(job_id);
  for (;;) {
    const Reply r = run_on(*client, {"XREAD", "COUNT", "200", "BLOCK", "15000", "STREAMS", stream, last_id});
    bool finished = false;
    if (r.is_nil() || r.elements.empty()) {
      out << ": keepalive\n\n";
      out.flush();
      const std::string state = run_on(*client, {"HGET", keys::job(job_id), "state"}).text;
      if (!out || state != "running") return;
      continue;
    }
    const auto& entries = r.elements[0].elements.size() == 2 ? r.elements[0].elements[1].elements : std::vector<Reply>{};
    for (const auto& entry : entries) {
      if (entry.elements.size() != 2) continue;
      last_id = entry.elements[0].text;
      const Reply& f = entry.elements[1];
      const std::string type = f.field("type").value_or("state");
      proto::JsonBuilder data;
      if (type == "output") {
        data.add("agent_id", f.field("agent").value_or(""))
            .add("stream", f.field("stream").value_or(""))
            .add("seq", to_int(f.field("seq").value_or("0")))
            .add("data", f.field("data").value_or(""));
      } else if (type == "job") {
        data.add("job_id", job_id).add("state", f.field("state").value_or(""));
        finished = true;
      } else {
        data.add("agent_id", f.field("agent").value_or("")).add("state", f.field("state").value_or(""));
      }
      out << "id: " << last_id << "\nevent: " << type << "\ndata: " << data.dump() << "\n\n";
    }
    out.flush();
    if (!out || finished) return;
  }
}

}  // namespace muster::hub
