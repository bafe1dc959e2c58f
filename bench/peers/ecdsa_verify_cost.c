/* What one ECDSA P-256 verify costs an agent, in CPU time (not wall time, so
 * a busy machine disturbs it less), against whichever mbedTLS it is linked
 * with. Each round parses the pinned public key from PEM and verifies, as
 * proto::Verifier does per task; also with the key parsed once, to show
 * whether keeping the parsed key would help. Medians of 9 rounds of 40.
 *
 * Not part of the build: compile it against the mbedTLS to measure, e.g. the
 * pinned one the agent links:
 *
 *   M=$(ls -d /var/cache/muster-deps/linux-x86_64-static/mbedtls-*)
 *   gcc -O2 bench/peers/ecdsa_verify_cost.c -I$M/include $M/lib/libmbedcrypto.a \
 *       -o /tmp/ecdsa_verify_cost && /tmp/ecdsa_verify_cost
 *
 * For scale, OpenSSL on the same machine: `openssl speed ecdsap256`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

enum { ROUNDS = 9, PER_ROUND = 40 };

static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(void) {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_pk_context key, pub;
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_pk_init(&key);
  mbedtls_pk_init(&pub);
  if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0 ||
      mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg) != 0) {
    fputs("key generation failed\n", stderr);
    return 1;
  }
  unsigned char pem[1024];
  unsigned char digest[32];
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t sig_len = 0;
  mbedtls_pk_write_pubkey_pem(&key, pem, sizeof pem);
  const size_t pem_size = strlen((const char*)pem) + 1;
  mbedtls_sha256((const unsigned char*)"a signed job statement", 22, digest, 0);
  if (mbedtls_pk_sign(&key, MBEDTLS_MD_SHA256, digest, sizeof digest, sig, &sig_len, mbedtls_ctr_drbg_random,
                      &drbg) != 0 ||
      mbedtls_pk_parse_public_key(&pub, pem, pem_size) != 0) {
    fputs("signing failed\n", stderr);
    return 1;
  }
  double per_verify[ROUNDS], reused[ROUNDS];
  for (int r = 0; r < ROUNDS; ++r) {
    double t0 = cpu_ms();
    for (int i = 0; i < PER_ROUND; ++i) {
      mbedtls_pk_context k;
      mbedtls_pk_init(&k);
      if (mbedtls_pk_parse_public_key(&k, pem, pem_size) != 0 ||
          mbedtls_pk_verify(&k, MBEDTLS_MD_SHA256, digest, sizeof digest, sig, sig_len) != 0) {
        fputs("verify failed\n", stderr);
        return 1;
      }
      mbedtls_pk_free(&k);
    }
    per_verify[r] = (cpu_ms() - t0) / PER_ROUND;
    t0 = cpu_ms();
    for (int i = 0; i < PER_ROUND; ++i) {
      if (mbedtls_pk_verify(&pub, MBEDTLS_MD_SHA256, digest, sizeof digest, sig, sig_len) != 0) return 1;
    }
    reused[r] = (cpu_ms() - t0) / PER_ROUND;
  }
  qsort(per_verify, ROUNDS, sizeof per_verify[0], by_value);
  qsort(reused, ROUNDS, sizeof reused[0], by_value);
  printf("parse pinned key + verify: median %.3f ms CPU (min %.3f)\n", per_verify[ROUNDS / 2], per_verify[0]);
  printf("verify, key parsed once:   median %.3f ms CPU (min %.3f)\n", reused[ROUNDS / 2], reused[0]);
  mbedtls_pk_free(&pub);
  mbedtls_pk_free(&key);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  return 0;
}
