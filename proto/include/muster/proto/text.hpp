#pragma once
#include <string>
#include <string_view>

namespace muster::proto {

// True if `text` is well-formed UTF-8 without overlong forms or surrogates.
bool is_utf8(std::string_view text);

// Copies `bytes` replacing every ill-formed UTF-8 sequence and every
// character XML 1.0 forbids (C0 controls other than tab, LF, CR) with U+FFFD,
// so command output always fits in a stanza.
std::string to_xml_safe_utf8(std::string_view bytes);

}  // namespace muster::proto
