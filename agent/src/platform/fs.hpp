#pragma once
// Durable file operations the agent's journal, spool and state rely on.
#include <cstdio>
#include <string>
#include <vector>

#include "muster/proto/result.hpp"

namespace muster::agent::platform {

// Creates the directory (and parents) readable only by this user.
proto::Status make_private_dir(const std::string& path);
// Writes to a temporary file, flushes it to disk, renames it over `path`.
// `private_file` makes it readable only by this user.
proto::Status write_file_atomic(const std::string& path, const std::string& content, bool private_file);
proto::Result<std::string> read_file(const std::string& path);
// Appends one line and flushes it to disk before returning.
proto::Status append_line_durable(const std::string& path, const std::string& line);
proto::Status remove_file(const std::string& path);
// Renames `from` to `to`, replacing `to` if it exists.
proto::Status rename_file(const std::string& from, const std::string& to);
// Opens `path` for appending (created if missing); child processes do not
// inherit it. Null on failure.
std::FILE* open_append(const std::string& path);
bool file_exists(const std::string& path);
// Regular files in `dir` (names only), sorted.
std::vector<std::string> list_files(const std::string& dir);
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace muster::agent::platform
