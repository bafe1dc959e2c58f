// muster-floor: the raw XMPP floor under a fan-out. A bare XEP-0114
// component (libstrophe only, no Muster code) sends one small `iq set` to
// each of N connected agents' sessions through the same server and counts
// the answers; agents answer such an iq at once (an error: not a task). The
// time from the first send to the last answer is what the XMPP server alone
// costs, the floor under Muster's fan-out.
//
//   muster-floor --host H --port P --domain D --secret S --jids FILE [--rounds R]
//                [--payload BYTES]
//
// --payload: the probe carries that much JSON-like text (quotes included, as
// in a task), to tell what the bytes of a task cost the server apart from
// the stanza itself.
// FILE has one full JID per line. Several components (shards) run as
// several processes started together. Prints one line per round:
//   round 1: 1000 sent, 1000 answered in 512.3 ms (1952/s)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <strophe.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Floor {
  xmpp_ctx_t* ctx = nullptr;
  xmpp_conn_t* conn = nullptr;
  std::string domain;
  std::vector<std::string> jids;
  bool connected = false;
  bool failed = false;
  std::size_t answered = 0;
  unsigned round = 0;
  std::string payload;
};

// Text shaped like a task's JSON: about one quote in 30 characters (a task
// has 34 in 1,108 bytes), each of which the XML serializers send as &quot;.
std::string json_like(std::size_t bytes) {
  std::string text;
  while (text.size() < bytes) text += "\"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW\",";
  text.resize(bytes);
  return text;
}

int on_iq(xmpp_conn_t*, xmpp_stanza_t* stanza, void* user) {
  auto* f = static_cast<Floor*>(user);
  const char* type = xmpp_stanza_get_type(stanza);
  const char* id = xmpp_stanza_get_id(stanza);
  if (type == nullptr || id == nullptr) return 1;
  const std::string want = "r" + std::to_string(f->round) + "-";
  if ((std::string(type) == "result" || std::string(type) == "error") && std::string(id).rfind(want, 0) == 0) {
    ++f->answered;
  }
  return 1;
}

void on_conn(xmpp_conn_t*, xmpp_conn_event_t event, int, xmpp_stream_error_t*, void* user) {
  auto* f = static_cast<Floor*>(user);
  if (event == XMPP_CONN_CONNECT) {
    f->connected = true;
  } else {
    f->connected = false;
    f->failed = true;
  }
}

void send_round(Floor& f) {
  for (std::size_t i = 0; i < f.jids.size(); ++i) {
    const std::string id = "r" + std::to_string(f.round) + "-" + std::to_string(i);
    xmpp_stanza_t* iq = xmpp_iq_new(f.ctx, "set", id.c_str());
    xmpp_stanza_set_to(iq, f.jids[i].c_str());
    xmpp_stanza_set_from(iq, f.domain.c_str());
    xmpp_stanza_t* probe = xmpp_stanza_new(f.ctx);
    xmpp_stanza_set_name(probe, "probe");
    xmpp_stanza_set_ns(probe, "urn:muster:bench:floor");
    if (!f.payload.empty()) {
      xmpp_stanza_t* text = xmpp_stanza_new(f.ctx);
      xmpp_stanza_set_text(text, f.payload.c_str());
      xmpp_stanza_add_child(probe, text);
      xmpp_stanza_release(text);
    }
    xmpp_stanza_add_child(iq, probe);
    xmpp_stanza_release(probe);
    xmpp_send(f.conn, iq);
    xmpp_stanza_release(iq);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", secret, jids_file;
  unsigned short port = 0;
  unsigned rounds = 5;
  Floor f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--host") host = value;
    else if (flag == "--port") port = static_cast<unsigned short>(std::atoi(value.c_str()));
    else if (flag == "--domain") f.domain = value;
    else if (flag == "--secret") secret = value;
    else if (flag == "--jids") jids_file = value;
    else if (flag == "--rounds") rounds = static_cast<unsigned>(std::atoi(value.c_str()));
    else if (flag == "--payload") {
      const long bytes = std::atol(value.c_str());
      if (bytes < 0) {
        std::fprintf(stderr, "muster-floor: --payload needs a size in bytes, not %s\n", value.c_str());
        return 2;
      }
      f.payload = json_like(static_cast<std::size_t>(bytes));
    } else {
      std::fprintf(stderr, "muster-floor: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  std::ifstream in(jids_file);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) f.jids.push_back(line);
  }
  if (port == 0 || f.domain.empty() || secret.empty() || f.jids.empty()) {
    std::fprintf(stderr, "usage: muster-floor --host H --port P --domain D --secret S --jids FILE [--rounds R] [--payload BYTES]\n");
    return 2;
  }

  xmpp_initialize();
  f.ctx = xmpp_ctx_new(nullptr, nullptr);
  f.conn = xmpp_conn_new(f.ctx);
  xmpp_conn_set_jid(f.conn, f.domain.c_str());
  xmpp_conn_set_pass(f.conn, secret.c_str());
  xmpp_handler_add(f.conn, on_iq, nullptr, "iq", nullptr, &f);
  if (xmpp_connect_component(f.conn, host.c_str(), port, on_conn, &f) != XMPP_EOK) {
    std::fprintf(stderr, "muster-floor: cannot connect to %s:%u\n", host.c_str(), port);
    return 1;
  }
  const auto login_deadline = Clock::now() + std::chrono::seconds(10);
  while (!f.connected && !f.failed && Clock::now() < login_deadline) xmpp_run_once(f.ctx, 50);
  if (!f.connected) {
    std::fprintf(stderr, "muster-floor: component login as %s failed\n", f.domain.c_str());
    return 1;
  }
  int status = 0;
  for (f.round = 1; f.round <= rounds; ++f.round) {
    f.answered = 0;
    const auto start = Clock::now();
    send_round(f);
    const auto deadline = start + std::chrono::seconds(120);
    while (f.answered < f.jids.size() && f.connected && Clock::now() < deadline) xmpp_run_once(f.ctx, 1);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    std::printf("round %u: %zu sent, %zu answered in %.1f ms (%.0f/s)\n", f.round, f.jids.size(), f.answered, ms,
                static_cast<double>(f.answered) * 1000.0 / ms);
    std::fflush(stdout);
    if (f.answered < f.jids.size()) status = 1;
    // Let late answers of this round drain before the next one starts.
    const auto settle = Clock::now() + std::chrono::milliseconds(300);
    while (Clock::now() < settle) xmpp_run_once(f.ctx, 10);
  }
  xmpp_disconnect(f.conn);
  const auto stop_deadline = Clock::now() + std::chrono::seconds(2);
  while (f.connected && Clock::now() < stop_deadline) xmpp_run_once(f.ctx, 50);
  xmpp_conn_release(f.conn);
  xmpp_ctx_free(f.ctx);
  xmpp_shutdown();
  return status;
}
