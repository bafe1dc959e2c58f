#pragma once
// How `muster` fails: commands throw CliError with one of the documented exit
// codes (docs/cli.md); main() prints its message on one line and exits with
// the code. Nothing else decides an exit status.
#include <stdexcept>
#include <string>

namespace muster::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitTasksFailed = 1,  // the job ended, and not every task succeeded
  kExitUsage = 2,        // bad command line or profile
  kExitApiError = 3,     // the hub answered with an error
  kExitUnreachable = 4,  // no answer: network, TLS, CA file
  kExitCancelled = 5,    // the job was cancelled (also by Ctrl-C)
  kExitInternal = 70,    // a bug in muster (EX_SOFTWARE)
  kExitDetached = 130,   // Ctrl-C, and the job was left running
};

class CliError : public std::runtime_error {
 public:
  CliError(int exit_code, const std::string& message) : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// The hub answered with an error: its HTTP status and the code of its body.
class ApiError : public CliError {
 public:
  ApiError(long status, std::string code, const std::string& message)
      : CliError(kExitApiError, message), status_(status), code_(std::move(code)) {}
  long status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  long status_;
  std::string code_;
};

inline CliError usage_error(const std::string& message) { return CliError(kExitUsage, message); }

}  // namespace muster::cli
