#pragma once
// The shard's sweep, once a second on the dispatcher thread: parked tasks
// past their deadline expire, sent tasks that are due are looked at again,
// and the job watch looks at jobs that stopped moving. Also what the master
// does when its store or its component link comes back.
#include <string>
#include <vector>

#include "master/job_watch.hpp"
#include "master/parking.hpp"
#include "master/shard_context.hpp"
#include "master/task_sender.hpp"

namespace muster::hub {

class Sweeper {
 public:
  // Why look_again() looks: the sweep found the tasks due; the component
  // link came back (what was sent while it was down went nowhere); the store
  // came back (it may have lost the last results it acknowledged).
  enum class Look { due, link_back, store_back };

  Sweeper(const ShardContext& shard, TaskSender& sender, Parking& parking);

  void sweep();
  // Every in-flight task of the shard, looked at again now.
  void look_again_at_all(Look why);
  // After the store was unreachable: the job watch looks at every running
  // job at once, and every in-flight task is looked at again.
  void recover_from_store_outage();

 private:
  // Looks again at in-flight tasks: resends those still
  // unacknowledged and parks those whose agent is offline. Running tasks:
  // given up as lost when due; after a store outage sent again, which an
  // agent that has finished answers with the result it still keeps.
  void look_again(const std::vector<TaskKey>& tasks, Look why);
  // A dispatched task whose agent is offline: pending again, parked.
  void back_to_parking(const TaskKey& task);
  // A running task whose result never came: failed as lost.
  void give_up(const TaskKey& task);

  const ShardContext& shard_;
  TaskSender& sender_;
  Parking& parking_;
  JobWatch job_watch_;
};

}  // namespace muster::hub
