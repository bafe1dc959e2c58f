#pragma once
#include <string>
#include <string_view>

namespace muster::proto {

// A random (version 4) UUID in lower-case canonical form, from mbedTLS's
// CTR-DRBG seeded by the platform entropy source.
std::string new_uuid();

// Random bytes from the same generator, hex encoded (2 characters a byte).
std::string random_hex(std::size_t bytes);

// Canonical lower-case 8-4-4-4-12 form only.
bool is_uuid(std::string_view text);

}  // namespace muster::proto
