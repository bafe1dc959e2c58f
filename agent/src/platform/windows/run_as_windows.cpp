#include <windows.h>
#include <sddl.h>

#include <vector>

#include "platform/windows/run_as.hpp"
#include "platform/windows/win_text.hpp"

namespace muster::agent::platform::win {
namespace {

std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// The token user of this process; empty on failure.
std::vector<unsigned char> token_user() {
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return {};
  DWORD size = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  std::vector<unsigned char> buffer(size);
  const bool ok = size > 0 && ::GetTokenInformation(token, TokenUser, buffer.data(), size, &size);
  ::CloseHandle(token);
  if (!ok) buffer.clear();
  return buffer;
}

}  // namespace

RunAs plan_run_as(const std::string& run_as_user, bool agent_is_local_system) {
  if (run_as_user.empty() || !agent_is_local_system) return {};
  std::string name = lower_ascii(run_as_user);
  constexpr const char kDomain[] = "nt authority\\";
  if (name.rfind(kDomain, 0) == 0) name.erase(0, sizeof kDomain - 1);
  if (name == "localservice" || name == "local service") return {L"LocalService", {}};
  if (name == "networkservice" || name == "network service") return {L"NetworkService", {}};
  return {{}, "run_as on Windows supports only the LocalService and NetworkService accounts: " + run_as_user};
}

bool running_as_local_system() {
  static const bool local_system = [] {
    const auto user = token_user();
    return !user.empty() &&
           ::IsWellKnownSid(reinterpret_cast<const TOKEN_USER*>(user.data())->User.Sid, WinLocalSystemSid);
  }();
  return local_system;
}

std::string process_user_sid() {
  const auto user = token_user();
  if (user.empty()) return "(unknown)";
  wchar_t* text = nullptr;
  if (!::ConvertSidToStringSidW(reinterpret_cast<const TOKEN_USER*>(user.data())->User.Sid, &text)) {
    return "(unknown)";
  }
  std::string sid = narrow(text);
  ::LocalFree(text);
  return sid;
}

}  // namespace muster::agent::platform::win
