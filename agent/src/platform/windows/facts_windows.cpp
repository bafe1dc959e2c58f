#include <windows.h>

#include <string>

#include "platform/facts.hpp"
#include "platform/windows/win_text.hpp"

namespace muster::agent::platform {
namespace {

std::string architecture() {
  SYSTEM_INFO info{};
  ::GetNativeSystemInfo(&info);
  switch (info.wProcessorArchitecture) {
    case PROCESSOR_ARCHITECTURE_AMD64: return "x86_64";
    case PROCESSOR_ARCHITECTURE_ARM64: return "aarch64";
    case PROCESSOR_ARCHITECTURE_INTEL: return "x86";
    case PROCESSOR_ARCHITECTURE_ARM: return "arm";
    default: return "unknown";
  }
}

// GetVersionEx reports what the manifest allows; RtlGetVersion the truth.
std::string kernel_version() {
  using RtlGetVersionFn = LONG(WINAPI*)(OSVERSIONINFOW*);
  HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  if (ntdll == nullptr) return {};
  const auto fn = reinterpret_cast<RtlGetVersionFn>(reinterpret_cast<void*>(::GetProcAddress(ntdll, "RtlGetVersion")));
  if (fn == nullptr) return {};
  OSVERSIONINFOW v{};
  v.dwOSVersionInfoSize = sizeof v;
  if (fn(&v) != 0) return {};
  return std::to_string(v.dwMajorVersion) + "." + std::to_string(v.dwMinorVersion) + "." +
         std::to_string(v.dwBuildNumber);
}

}  // namespace

proto::Facts collect_facts() {
  proto::Facts facts;
  facts.os = "windows";
  facts.arch = architecture();
  facts.kernel = kernel_version();
  wchar_t name[256] = {};
  DWORD size = sizeof name / sizeof name[0];
  if (::GetComputerNameExW(ComputerNameDnsHostname, name, &size) && size > 0) {
    facts.hostname = win::narrow(std::wstring(name, size));
  }
  return facts;
}

}  // namespace muster::agent::platform
