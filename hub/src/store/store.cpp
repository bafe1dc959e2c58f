#include "store/store.hpp"

#include <Poco/Exception.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Exception.h>
#include <Poco/SHA1Engine.h>

#include <chrono>
#include <iostream>

#include "metrics/metrics.hpp"
#include "muster/proto/log.hpp"

namespace muster::hub {
namespace {

constexpr int kConnectTimeoutSeconds = 5;
constexpr int kReceiveTimeoutSeconds = 10;
// A failure this long after the command went out is a receive timeout, not a
// dead connection (see connection_lost()).
constexpr auto kDeadConnectionWithin = std::chrono::seconds(kReceiveTimeoutSeconds) / 2;

// True when the connection itself failed (the server went away: restart,
// failover, idle timeout): Poco reports that as an IOException (socket
// errors) or as RedisException "Lost connection" (end of stream). Poco's
// streams also turn a receive timeout into that "Lost connection"; a dead
// socket fails at once, a timeout only after kReceiveTimeoutSeconds, so the
// caller tells them apart by the time taken.
bool connection_lost(const Poco::Exception& e) {
  if (dynamic_cast<const Poco::IOException*>(&e) != nullptr) return true;
  return dynamic_cast<const Poco::Redis::RedisException*>(&e) != nullptr &&
         e.message().find("Lost connection") != std::string::npos;
}

Poco::Redis::Array to_array(const Command& command) {
  Poco::Redis::Array array;
  for (const auto& part : command) array << part;
  return array;
}

std::string sha1_hex(const std::string& text) {
  Poco::SHA1Engine engine;
  engine.update(text);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

}  // namespace

std::optional<std::string> Reply::field(const std::string& name) const {
  for (std::size_t i = 0; i + 1 < elements.size(); i += 2) {
    if (elements[i].text == name) return elements[i + 1].text;
  }
  return std::nullopt;
}

Reply to_reply(const Poco::Redis::RedisType::Ptr& value) {
  using Poco::Redis::RedisType;
  Reply r;
  if (value.isNull()) return r;
  switch (value->type()) {
    case RedisType::REDIS_INTEGER:
      r.kind = Reply::Kind::integer;
      r.integer = dynamic_cast<const Poco::Redis::Type<Poco::Int64>&>(*value).value();
      break;
    case RedisType::REDIS_SIMPLE_STRING:
      r.kind = Reply::Kind::string;
      r.text = dynamic_cast<const Poco::Redis::Type<std::string>&>(*value).value();
      break;
    case RedisType::REDIS_BULK_STRING: {
      const auto& bulk = dynamic_cast<const Poco::Redis::Type<Poco::Redis::BulkString>&>(*value).value();
      if (!bulk.isNull()) {
        r.kind = Reply::Kind::string;
        r.text = bulk.value();
      }
      break;
    }
    case RedisType::REDIS_ARRAY: {
      const auto& array = dynamic_cast<const Poco::Redis::Type<Poco::Redis::Array>&>(*value).value();
      if (!array.isNull()) {
        r.kind = Reply::Kind::array;
        for (auto it = array.begin(); it != array.end(); ++it) r.elements.push_back(to_reply(*it));
      }
      break;
    }
    case RedisType::REDIS_ERROR:
      r.kind = Reply::Kind::error;
      r.text = dynamic_cast<const Poco::Redis::Type<Poco::Redis::Error>&>(*value).value().getMessage();
      break;
  }
  return r;
}

Reply run_on(Poco::Redis::Client& client, const Command& command) {
  Reply reply = to_reply(client.sendCommand(to_array(command)));
  if (reply.kind == Reply::Kind::error) throw StoreError(command.front() + ": " + reply.text);
  return reply;
}

namespace {

// Connects (or reconnects) a client: timeouts and AUTH as configured.
void open_connection(Poco::Redis::Client& client, const StoreConfig& config) {
  try {
    client.connect(config.host, config.port, Poco::Timespan(kConnectTimeoutSeconds, 0));
    client.setReceiveTimeout(Poco::Timespan(kReceiveTimeoutSeconds, 0));
    if (!config.password.empty()) run_on(client, {"AUTH", config.password});
  } catch (const Poco::Exception& e) {
    client.disconnect();
    throw StoreError("cannot connect to the store at " + config.host + ":" + std::to_string(config.port) + ": " +
                     e.displayText());
  }
}

}  // namespace

Poco::Redis::Client::Ptr RedisConnectionFactory::createObject() {
  Poco::Redis::Client::Ptr client(new Poco::Redis::Client());
  open_connection(*client, config_);
  return client;
}

namespace {

metrics::Histogram& round_trip_seconds() {
  static auto& h = metrics::registry().histogram(
      "muster_store_round_trip_seconds", "Time of one store command, pipeline or script batch, reply included");
  return h;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Store::Store(const StoreConfig& config, std::size_t pool_size)
    : config_(config), pool_(RedisConnectionFactory(config), pool_size, pool_size * 4) {}

template <class Fn>
auto Store::with_connection(Fn fn, bool timed) {
  Poco::Redis::Client::Ptr client;
  try {
    client = pool_.borrowObject(5000);
  } catch (const Poco::Exception& e) {
    throw StoreError("store connection pool: " + e.displayText());
  }
  if (client.isNull()) throw StoreError("store connection pool exhausted");
  for (bool retried = false;; retried = true) {
    const auto sent = std::chrono::steady_clock::now();
    try {
      auto result = fn(*client);
      pool_.returnObject(client);
      if (timed) round_trip_seconds().observe(seconds_since(sent));
      return result;
    } catch (const StoreError&) {
      pool_.returnObject(client);  // an error reply leaves the connection usable: never retried
      throw;
    } catch (const Poco::Exception& e) {
      // Network trouble: drop this connection (a disconnected client leaves
      // the pool when returned). A pooled connection whose server went away
      // (a Redis restart) fails at once: reconnect and retry the command
      // once, so the first requests after a restart do not fail. A timeout
      // or an error reply is never retried. The one case where the retry
      // repeats work is a connection that breaks after the server ran the
      // command and before its reply arrived (a crash in between).
      client->disconnect();
      if (!retried && connection_lost(e) && std::chrono::steady_clock::now() - sent < kDeadConnectionWithin) {
        try {
          open_connection(*client, config_);
          log::warn("store", e.displayText() + "; reconnected, retrying the command once");
          continue;
        } catch (const StoreError&) {
          pool_.returnObject(client);
          throw;
        }
      }
      pool_.returnObject(client);
      throw StoreError("store: " + e.displayText());
    }
  }
}

Reply Store::run(const Command& command) {
  // A blocking read waits for data, not for the store: it would swamp the round-trip times.
  const bool blocking = !command.empty() && (command[0] == "BLPOP" || command[0] == "XREADGROUP");
  return with_connection([&](Poco::Redis::Client& c) { return run_on(c, command); }, !blocking);
}

std::vector<Reply> Store::pipeline(const std::vector<Command>& commands) {
  if (commands.empty()) return {};
  return with_connection([&](Poco::Redis::Client& c) {
    std::vector<Poco::Redis::Array> arrays;
    arrays.reserve(commands.size());
    for (const auto& command : commands) arrays.push_back(to_array(command));
    for (const auto& array : arrays) c.execute<void>(array);
    c.flush();
    std::vector<Reply> replies;
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) replies.push_back(to_reply(c.readReply()));
    return replies;
  });
}

Reply Store::eval(const std::string& script, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args) {
  return eval_many(script, {{keys, args}}).front();
}

std::string Store::script_sha(const std::string& script) {
  std::lock_guard<std::mutex> lock(script_shas_mutex_);
  auto it = script_shas_.find(script);
  if (it == script_shas_.end()) it = script_shas_.emplace(script, sha1_hex(script)).first;
  return it->second;
}

std::vector<Reply> Store::eval_many(const std::string& script, const std::vector<ScriptCall>& calls,
                                    const std::vector<Command>& then) {
  static const std::string kNoScript = "NOSCRIPT";
  if (calls.empty()) return pipeline(then);
  const std::string sha = script_sha(script);
  std::vector<Command> commands;
  commands.reserve(calls.size() + then.size());
  for (const auto& call : calls) {
    Command command{"EVALSHA", sha, std::to_string(call.keys.size())};
    command.insert(command.end(), call.keys.begin(), call.keys.end());
    command.insert(command.end(), call.args.begin(), call.args.end());
    commands.push_back(std::move(command));
  }
  commands.insert(commands.end(), then.begin(), then.end());
  std::vector<Reply> replies = pipeline(commands);
  // A store that lost its script cache (restart, failover) refuses every
  // call without running it; load the script and run just those again.
  std::vector<std::size_t> again;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (replies[i].kind == Reply::Kind::error && replies[i].text.compare(0, kNoScript.size(), kNoScript) == 0) {
      again.push_back(i);
    }
  }
  if (!again.empty()) {
    run({"SCRIPT", "LOAD", script});
    std::vector<Command> retry;
    retry.reserve(again.size());
    for (auto i : again) retry.push_back(commands[i]);
    auto retried = pipeline(retry);
    for (std::size_t k = 0; k < again.size(); ++k) replies[again[k]] = std::move(retried[k]);
  }
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (replies[i].kind == Reply::Kind::error) throw StoreError("script: " + replies[i].text);
  }
  return replies;
}

Poco::Redis::Client::Ptr Store::connect_dedicated(long receive_timeout_ms) {
  RedisConnectionFactory factory(config_);
  auto client = factory.createObject();
  client->setReceiveTimeout(Poco::Timespan(receive_timeout_ms * 1000));
  return client;
}

}  // namespace muster::hub
