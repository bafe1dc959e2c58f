#pragma once
#include <string>
#include <string_view>

namespace muster::proto {

// A random (version 4) UUID in lower-case canonical form, from mbedTLS's
// CTR-DRBG seeded by the platform entropy source.
std::string new_uuid();

// Random bytes from the same generator, hex encoded (2 characters a byte).
std::string random_hex(std::size_t bytes);

// The same generator as an mbedTLS RNG callback (signing, key generation).
int mbedtls_random(void* unused, unsigned char* out, std::size_t len);

// Lower-case hex of raw bytes.
std::string to_hex(std::string_view bytes);

// Canonical lower-case 8-4-4-4-12 form only.
bool is_uuid(std::string_view text);

}  // namespace muster::proto
