#include "terminal.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

namespace muster::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_sigint(int) { g_interrupted = 1; }

}  // namespace

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

std::size_t terminal_width(std::size_t fallback) {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return fallback;
}

bool colors_wanted() {
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return (no_color == nullptr || no_color[0] == '\0') && (term == nullptr || std::strcmp(term, "dumb") != 0);
}

void install_interrupt_flag() {
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR
  sigaction(SIGINT, &action, nullptr);
}

bool interrupted() { return g_interrupted != 0; }
void clear_interrupted() { g_interrupted = 0; }

bool ask_yes_no(const std::string& question) {
  const int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0) return false;
  const std::string prompt = question + " [y/N] ";
  bool yes = false;
  if (write(tty, prompt.data(), prompt.size()) == static_cast<ssize_t>(prompt.size())) {
    char answer[16] = {};
    const ssize_t n = read(tty, answer, sizeof answer - 1);  // EINTR on a second Ctrl-C: no
    yes = n > 0 && (answer[0] == 'y' || answer[0] == 'Y');
    if (n <= 0) (void)!write(tty, "\n", 1);
  }
  close(tty);
  return yes;
}

}  // namespace muster::cli
