/* What a task signature costs, in CPU time (not wall time, so a busy machine
 * disturbs it less), against whichever mbedTLS it is linked with: the api's
 * sign (once per job), an agent's verify (once per task on a real agent:
 * parse the pinned public key from PEM, then verify, as proto::Verifier
 * does) and the bytes the signature adds to every task stanza. For ECDSA
 * P-256, which Muster uses, and RSA-2048/3072 with PSS for comparison: RSA
 * verifies far faster but its signature is 4-6 times larger, and every
 * task carries it through the XMPP server. Medians of 9 rounds.
 *
 * Not part of the build: compile it against the mbedTLS to measure, e.g. the
 * pinned one the agent links:
 *
 *   M=$(ls -d /var/cache/muster-deps/linux-x86_64-static/mbedtls-*)
 *   gcc -O2 bench/peers/signature_cost.c -I$M/include $M/lib/libmbedcrypto.a \
 *       -o /tmp/signature_cost && /tmp/signature_cost
 *
 * For scale, OpenSSL on the same machine: `openssl speed ecdsap256 rsa3072`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>

enum { ROUNDS = 9, SIGNS = 10, VERIFIES = 40 };

static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v) {
  qsort(v, ROUNDS, sizeof v[0], by_value);
  return v[ROUNDS / 2];
}

/* rsa_bits 0: ECDSA P-256. */
static int measure(const char* name, int rsa_bits, mbedtls_ctr_drbg_context* drbg) {
  mbedtls_pk_context key;
  mbedtls_pk_init(&key);
  int rc = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(rsa_bits ? MBEDTLS_PK_RSA : MBEDTLS_PK_ECKEY));
  if (rc == 0 && rsa_bits) {
    rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(key), mbedtls_ctr_drbg_random, drbg, (unsigned)rsa_bits, 65537);
    if (rc == 0) mbedtls_rsa_set_padding(mbedtls_pk_rsa(key), MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
  } else if (rc == 0) {
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, drbg);
  }
  unsigned char pem[4096];
  if (rc == 0) rc = mbedtls_pk_write_pubkey_pem(&key, pem, sizeof pem);
  if (rc != 0) {
    fprintf(stderr, "%s: key generation failed (-0x%04x)\n", name, (unsigned)-rc);
    return 1;
  }
  const size_t pem_size = strlen((const char*)pem) + 1;
  unsigned char digest[32];
  mbedtls_sha256((const unsigned char*)"a signed job statement", 22, digest, 0);
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t sig_len = 0;
  double sign_ms[ROUNDS], verify_ms[ROUNDS];
  for (int r = 0; r < ROUNDS; ++r) {
    double t0 = cpu_ms();
    for (int i = 0; i < SIGNS; ++i) {
      if (mbedtls_pk_sign(&key, MBEDTLS_MD_SHA256, digest, sizeof digest, sig, &sig_len, mbedtls_ctr_drbg_random,
                          drbg) != 0) {
        fprintf(stderr, "%s: signing failed\n", name);
        return 1;
      }
    }
    sign_ms[r] = (cpu_ms() - t0) / SIGNS;
    t0 = cpu_ms();
    for (int i = 0; i < VERIFIES; ++i) {
      mbedtls_pk_context pub;
      mbedtls_pk_init(&pub);
      rc = mbedtls_pk_parse_public_key(&pub, pem, pem_size);
      if (rc == 0 && rsa_bits) mbedtls_rsa_set_padding(mbedtls_pk_rsa(pub), MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
      if (rc == 0) rc = mbedtls_pk_verify(&pub, MBEDTLS_MD_SHA256, digest, sizeof digest, sig, sig_len);
      mbedtls_pk_free(&pub);
      if (rc != 0) {
        fprintf(stderr, "%s: verify failed\n", name);
        return 1;
      }
    }
    verify_ms[r] = (cpu_ms() - t0) / VERIFIES;
  }
  size_t b64_len = 0;
  unsigned char b64[1024];
  mbedtls_base64_encode(b64, sizeof b64, &b64_len, sig, sig_len);
  printf("| %s | %.3f ms | %.3f ms | %zu B (%zu in base64) |\n", name, median(sign_ms),
         median(verify_ms), sig_len, b64_len);
  mbedtls_pk_free(&key);
  return 0;
}

int main(void) {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0) {
    fputs("no entropy\n", stderr);
    return 1;
  }
  puts("| signature | sign (CPU, median) | parse pinned key + verify (CPU, median) | signature size |");
  puts("| --- | ---: | ---: | ---: |");
  int failed = measure("ECDSA P-256 (Muster)", 0, &drbg);
  failed |= measure("RSA-2048 PSS", 2048, &drbg);
  failed |= measure("RSA-3072 PSS", 3072, &drbg);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  return failed;
}
