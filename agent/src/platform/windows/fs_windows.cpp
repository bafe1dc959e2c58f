// Durable files on Windows: wide-character APIs (UTF-8 paths), write-through
// renames, and private directories whose DACL admits only the owner, SYSTEM
// and Administrators (the agent's state holds its XMPP credentials).
#include <windows.h>
#include <sddl.h>
#include <aclapi.h>

#include <algorithm>

#include "platform/fs.hpp"
#include "platform/windows/win_text.hpp"

namespace muster::agent::platform {
namespace {

using proto::Error;
using proto::ErrorCode;

Error io_error(const std::string& what, const std::string& path, DWORD code = ::GetLastError()) {
  return Error{ErrorCode::io, what + " " + path + ": " + win::error_text(code)};
}

bool is_separator(char c) { return c == '/' || c == '\\'; }

// Owner, SYSTEM and Administrators only; inherited by files created inside.
// "P" protects the DACL from the parent's inheritable entries.
constexpr const wchar_t* kPrivateDacl = L"D:P(A;OICI;FA;;;OW)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

DWORD restrict_to_owner(const std::wstring& path) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(kPrivateDacl, SDDL_REVISION_1, &sd, nullptr)) {
    return ::GetLastError();
  }
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = nullptr;
  ::GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted);
  const DWORD rc = ::SetNamedSecurityInfoW(const_cast<wchar_t*>(path.c_str()), SE_FILE_OBJECT,
                                           DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                           nullptr, nullptr, dacl, nullptr);
  ::LocalFree(sd);
  return rc;
}

class Handle {
 public:
  explicit Handle(HANDLE h) : h_(h) {}
  ~Handle() {
    if (valid()) ::CloseHandle(h_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  bool valid() const { return h_ != INVALID_HANDLE_VALUE && h_ != nullptr; }
  HANDLE get() const { return h_; }

 private:
  HANDLE h_;
};

bool write_all(HANDLE h, const std::string& content) {
  std::size_t off = 0;
  while (off < content.size()) {
    const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(content.size() - off, 1u << 20));
    DWORD written = 0;
    if (!::WriteFile(h, content.data() + off, chunk, &written, nullptr) || written == 0) return false;
    off += written;
  }
  return true;
}

}  // namespace

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty() || is_separator(dir.back())) return dir + name;
  return dir + "\\" + name;
}

proto::Status make_private_dir(const std::string& path) {
  // Create each missing level; skip a drive ("C:") or UNC prefix.
  for (std::size_t pos = 0; pos <= path.size(); ++pos) {
    if (pos != path.size() && !is_separator(path[pos])) continue;
    const std::string partial = path.substr(0, pos);
    if (partial.empty() || partial.back() == ':' || partial == "\\" || partial == "\\\\") continue;
    const std::wstring w = win::widen(partial);
    if (!::CreateDirectoryW(w.c_str(), nullptr)) {
      const DWORD e = ::GetLastError();
      if (e != ERROR_ALREADY_EXISTS && e != ERROR_ACCESS_DENIED) return io_error("cannot create", partial, e);
      if (e == ERROR_ACCESS_DENIED && ::GetFileAttributesW(w.c_str()) == INVALID_FILE_ATTRIBUTES) {
        return io_error("cannot create", partial, e);
      }
    }
  }
  if (const DWORD rc = restrict_to_owner(win::widen(path)); rc != ERROR_SUCCESS) {
    return io_error("cannot restrict access to", path, rc);
  }
  return proto::Ok{};
}

proto::Status write_file_atomic(const std::string& path, const std::string& content, bool private_file) {
  // private_file: files inherit the private DACL of the agent's state
  // directory (make_private_dir), so nothing more is needed here.
  (void)private_file;
  const std::string tmp = path + ".tmp";
  const std::wstring wtmp = win::widen(tmp);
  {
    Handle h(::CreateFileW(wtmp.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!h.valid()) return io_error("cannot create", tmp);
    if (!write_all(h.get(), content) || !::FlushFileBuffers(h.get())) return io_error("cannot write", tmp);
  }
  if (!::MoveFileExW(wtmp.c_str(), win::widen(path).c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    return io_error("cannot rename to", path);
  }
  return proto::Ok{};
}

proto::Result<std::string> read_file(const std::string& path) {
  Handle h(::CreateFileW(win::widen(path).c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!h.valid()) return io_error("cannot open", path);
  std::string content;
  char buffer[8192];
  for (;;) {
    DWORD n = 0;
    if (!::ReadFile(h.get(), buffer, sizeof buffer, &n, nullptr)) return io_error("cannot read", path);
    if (n == 0) break;
    content.append(buffer, n);
  }
  return content;
}

proto::Status append_line_durable(const std::string& path, const std::string& line) {
  Handle h(::CreateFileW(win::widen(path).c_str(), FILE_APPEND_DATA, FILE_SHARE_READ, nullptr, OPEN_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!h.valid()) return io_error("cannot open", path);
  if (!write_all(h.get(), line + "\n") || !::FlushFileBuffers(h.get())) return io_error("cannot append to", path);
  return proto::Ok{};
}

proto::Status remove_file(const std::string& path) {
  if (!::DeleteFileW(win::widen(path).c_str())) {
    const DWORD e = ::GetLastError();
    if (e != ERROR_FILE_NOT_FOUND && e != ERROR_PATH_NOT_FOUND) return io_error("cannot remove", path, e);
  }
  return proto::Ok{};
}

proto::Status rename_file(const std::string& from, const std::string& to) {
  if (!::MoveFileExW(win::widen(from).c_str(), win::widen(to).c_str(), MOVEFILE_REPLACE_EXISTING)) {
    return io_error("cannot rename to", to);
  }
  return proto::Ok{};
}

// "N": the C runtime opens the file without handle inheritance, so tasks
// (started with inheritable handles for their pipes) do not get it.
std::FILE* open_append(const std::string& path) { return ::_wfopen(win::widen(path).c_str(), L"abN"); }

bool file_exists(const std::string& path) {
  return ::GetFileAttributesW(win::widen(path).c_str()) != INVALID_FILE_ATTRIBUTES;
}

std::vector<std::string> list_files(const std::string& dir) {
  std::vector<std::string> names;
  WIN32_FIND_DATAW entry{};
  HANDLE find = ::FindFirstFileW(win::widen(join_path(dir, "*")).c_str(), &entry);
  if (find == INVALID_HANDLE_VALUE) return names;
  do {
    if ((entry.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE)) == 0) {
      names.push_back(win::narrow(entry.cFileName));
    }
  } while (::FindNextFileW(find, &entry));
  ::FindClose(find);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace muster::agent::platform
