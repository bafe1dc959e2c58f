#pragma once
// The few things `muster` asks of its terminal: is there one, how wide is
// it, Ctrl-C as a flag instead of death, and a yes/no question.
#include <cstddef>
#include <string>

namespace muster::cli {

bool stdout_is_terminal();
// Columns of the terminal on stdout; `fallback` if unknown.
std::size_t terminal_width(std::size_t fallback = 80);
// Colors unless NO_COLOR is set or TERM is "dumb".
bool colors_wanted();

// From install_interrupt_flag() on, SIGINT (Ctrl-C) only sets a flag that
// interrupted() reads; blocking calls see EINTR.
void install_interrupt_flag();
bool interrupted();
void clear_interrupted();

// Asks on the controlling terminal (/dev/tty); false without one, on
// anything but y/yes, or on a second Ctrl-C.
bool ask_yes_no(const std::string& question);

}  // namespace muster::cli
