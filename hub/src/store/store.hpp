#pragma once
// The hub's only shared state: a Redis-compatible store reached through
// Poco::Redis, with a connection pool and plain-value replies.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <Poco/ObjectPool.h>
#include <Poco/Redis/Client.h>

#include "store/store_error.hpp"

namespace muster::hub {

struct StoreConfig {
  std::string host;
  unsigned short port = 6379;
  std::string password;
};

using Command = std::vector<std::string>;

struct Reply {
  enum class Kind { nil, integer, string, array, error };
  Kind kind = Kind::nil;
  std::int64_t integer = 0;
  std::string text;  // string value or error message
  std::vector<Reply> elements;

  bool is_nil() const { return kind == Kind::nil; }
  // Field/value pairs of an HGETALL reply as a lookup.
  std::optional<std::string> field(const std::string& name) const;
};

// Opens connections for Poco's ObjectPool, authenticating when configured.
class RedisConnectionFactory {
 public:
  explicit RedisConnectionFactory(StoreConfig config) : config_(std::move(config)) {}
  Poco::Redis::Client::Ptr createObject();
  bool validateObject(Poco::Redis::Client::Ptr client) { return client->isConnected(); }
  void activateObject(Poco::Redis::Client::Ptr) {}
  void deactivateObject(Poco::Redis::Client::Ptr) {}
  void destroyObject(Poco::Redis::Client::Ptr) {}

 private:
  StoreConfig config_;
};

Reply to_reply(const Poco::Redis::RedisType::Ptr& value);

class Store {
 public:
  explicit Store(const StoreConfig& config, std::size_t pool_size = 16);

  // One command; an error reply throws StoreError.
  Reply run(const Command& command);
  // Several commands in one round trip; error replies are returned in place.
  std::vector<Reply> pipeline(const std::vector<Command>& commands);
  // Runs a Lua script by its SHA, loading it on first use (EVALSHA/EVAL).
  Reply eval(const std::string& script, const std::vector<std::string>& keys, const std::vector<std::string>& args);
  // One script run many times in one round trip (pipelined EVALSHA); replies
  // in order. Throws on a script error, like eval(). `then` go in the same
  // round trip, after the scripts; their replies follow the scripts'
  // replies, errors in place. They run even when the scripts do not (a
  // script error, or a store that lost its script cache: the scripts then
  // run in a second round trip), so a caller undoes them if it must.
  struct ScriptCall {
    std::vector<std::string> keys;
    std::vector<std::string> args;
  };
  std::vector<Reply> eval_many(const std::string& script, const std::vector<ScriptCall>& calls,
                               const std::vector<Command>& then = {});

  // A dedicated connection (blocking reads such as XREADGROUP BLOCK).
  Poco::Redis::Client::Ptr connect_dedicated(long receive_timeout_ms);

 private:
  // Runs `fn` on a pooled connection; `timed`: its round trip counts in the
  // store round-trip histogram.
  template <class Fn>
  auto with_connection(Fn fn, bool timed = true);
  // EVALSHA names a script by the SHA-1 of its text: computed once per script.
  std::string script_sha(const std::string& script);

  StoreConfig config_;
  std::mutex script_shas_mutex_;
  std::unordered_map<std::string, std::string> script_shas_;
  Poco::ObjectPool<Poco::Redis::Client, Poco::Redis::Client::Ptr, RedisConnectionFactory> pool_;
};

// Runs one command on a given client (for dedicated connections).
Reply run_on(Poco::Redis::Client& client, const Command& command);

}  // namespace muster::hub
