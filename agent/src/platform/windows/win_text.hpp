#pragma once
// UTF-8 <-> UTF-16 and Windows error texts, shared by the Windows platform
// files. The agent speaks UTF-8 everywhere; Windows APIs are called in their
// wide-character form so any path or command line round-trips.
#include <windows.h>

#include <string>

namespace muster::agent::platform::win {

std::wstring widen(const std::string& utf8);
std::string narrow(const std::wstring& utf16);
// FormatMessage text of a Win32 error code, without the trailing newline.
std::string error_text(DWORD code);

}  // namespace muster::agent::platform::win
