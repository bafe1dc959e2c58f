#include "muster/proto/uuid.hpp"

#include <array>
#include <cstdint>
#include <mutex>
#include <stdexcept>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

namespace muster::proto {
namespace {

class RandomGenerator {
 public:
  RandomGenerator() {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    static constexpr unsigned char kPersonalization[] = "muster-proto";
    if (mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, kPersonalization,
                              sizeof kPersonalization) != 0) {
      // Without entropy no identifier or secret can be trusted: stop here.
      throw std::runtime_error("cannot seed the random generator");
    }
  }
  ~RandomGenerator() {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  RandomGenerator(const RandomGenerator&) = delete;
  RandomGenerator& operator=(const RandomGenerator&) = delete;

  void fill(unsigned char* out, std::size_t len) {
    // CTR-DRBG refuses requests above MBEDTLS_CTR_DRBG_MAX_REQUEST bytes.
    while (len > 0) {
      const std::size_t chunk = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
      if (mbedtls_ctr_drbg_random(&drbg_, out, chunk) != 0) throw std::runtime_error("random generator failed");
      out += chunk;
      len -= chunk;
    }
  }

 private:
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

// One generator for the process, one caller at a time: CTR-DRBG contexts are
// not thread-safe. Not one per thread (thread_local): with mingw-w64 a
// thread_local object's destructor can run after its thread's storage was
// released, which corrupted the heap at thread exit on Windows
// (proto.Uuid.UniqueAcrossThreads under wine, about one run in ten).
class SharedGenerator {
 public:
  void fill(unsigned char* out, std::size_t len) {
    std::lock_guard<std::mutex> lock(mutex_);
    generator_.fill(out, len);
  }

 private:
  std::mutex mutex_;
  RandomGenerator generator_;
};

SharedGenerator& generator() {
  // Never destroyed: a thread still drawing ids while the process exits
  // must not find it gone.
  static SharedGenerator* const instance = new SharedGenerator;
  return *instance;
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

int mbedtls_random(void*, unsigned char* out, std::size_t len) {
  try {
    generator().fill(out, len);
  } catch (const std::exception&) {
    return -1;
  }
  return 0;
}

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char byte : bytes) {
    const auto c = static_cast<unsigned char>(byte);
    out += kHex[c >> 4];
    out += kHex[c & 0x0F];
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  generator().fill(reinterpret_cast<unsigned char*>(raw.data()), raw.size());
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 0x0F];
  }
  return out;
}

std::string new_uuid() {
  std::array<unsigned char, 16> b{};
  generator().fill(b.data(), b.size());
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0F];
  }
  return out;
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace muster::proto
