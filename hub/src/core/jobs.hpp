#pragma once
// Jobs and their tasks (api role): validate, resolve targets, write, enqueue.
#include <string>

#include "core/agents.hpp"
#include "core/auth.hpp"
#include "store/store.hpp"

namespace muster::hub {

struct SubmittedJob {
  std::string id;
  std::size_t tasks = 0;
};

class Jobs {
 public:
  Jobs(Store& store, Agents& agents) : store_(store), agents_(agents) {}

  SubmittedJob submit(const Principal& principal, const std::string& body);
  std::string get_json(const Principal& principal, const std::string& job_id);
  std::string list_json(const Principal& principal);
  std::string tasks_json(const Principal& principal, const std::string& job_id);
  std::string cancel(const Principal& principal, const std::string& job_id);

 private:
  Reply load_job(const Principal& principal, const std::string& job_id);

  Store& store_;
  Agents& agents_;
};

proto::JsonPtr job_json(const std::string& job_id, const Reply& fields);

}  // namespace muster::hub
