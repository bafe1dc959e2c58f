// What signing costs at fan-out: one ECDSA P-256 signature per task, against
// one per job plus a Merkle tree over the job's (agent, task) pairs, for N
// tasks; and what an agent spends verifying one task. Medians of 5 runs.
//   build/dev/bench/signing_cost [N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <vector>

#include "muster/proto/signing.hpp"
#include "muster/proto/uuid.hpp"

using namespace muster::proto;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Fn>
double time_ms(Fn fn) {
  const auto start = Clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
  char dir[] = "/tmp/muster-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  auto signer = Signer::load_or_create(std::string(dir) + "/key.pem");
  if (!signer) return 1;
  auto verifier = Verifier::from_pems({(*signer)->public_pem()});
  std::vector<std::string> agents(n), tasks(n);
  for (std::size_t i = 0; i < n; ++i) {
    agents[i] = new_uuid();
    tasks[i] = new_uuid();
  }
  const std::string statement_base(300, 'x');

  std::vector<double> per_task, per_job, verify;
  for (int run = 0; run < 5; ++run) {
    per_task.push_back(time_ms([&] {
      for (std::size_t i = 0; i < n; ++i) (void)(*signer)->sign_base64(statement_base + agents[i] + tasks[i]);
    }));
    Task task;
    per_job.push_back(time_ms([&] {
      std::vector<std::string> leaves;
      leaves.reserve(n);
      for (std::size_t i = 0; i < n; ++i) leaves.push_back(task_leaf(agents[i], tasks[i]));
      MerkleTree tree(leaves);
      JobStatement s{new_uuid(), std::string("true"), {}, 60, 65536, false, 4e9, tree.root_hex()};
      const std::string text = encode(s);
      auto sig = (*signer)->sign_base64(text);
      for (std::size_t i = 0; i < n; ++i) {
        auto proof = tree.proof(i);
        if (i == n / 2) {
          task.task_id = tasks[i];
          task.job_id = s.job_id;
          task.command = s.command;
          task.timeout_s = 60;
          task.output_quota = 65536;
          task.auth = TaskAuth{(*signer)->key_id(), *sig, text, proof};
        }
      }
    }));
    verify.push_back(time_ms([&] {
      if (!verify_task(task, agents[n / 2], *verifier, 1e9)) std::abort();
    }));
  }
  std::printf("tasks: %zu (machine: %ld cores)\n", n, sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("sign every task:             median %9.1f ms (%.1f us per task)\n", median(per_task),
              1000 * median(per_task) / static_cast<double>(n));
  std::printf("sign once + Merkle proofs:   median %9.1f ms (%.2f us per task)\n", median(per_job),
              1000 * median(per_job) / static_cast<double>(n));
  std::printf("ratio per-task / per-job:    %.1fx\n", median(per_task) / median(per_job));
  std::printf("agent verifies one task:     median %9.3f ms\n", median(verify));
  return 0;
}
