/* SPDX-License-Identifier: MIT */
/* tls_mbedtls.c
** Muster's mbedTLS 2.28 backend for libstrophe, written against libstrophe's
** internal TLS interface (src/tls.h). It exists so that the agent carries one
** TLS stack (mbedTLS) on every platform and so that Windows builds verify the
** server certificate (libstrophe's Schannel backend does not).
**
** What it does:
**  - verifies the server's chain against the CA file/dir set on the connection
**    (xmpp_conn_set_cafile/capath); with neither set, against the first system
**    bundle found at a well-known path;
**  - verifies the host name (the JID domain) against the certificate's
**    subjectAltName dNSName entries (CN when there are none) and sends it as
**    SNI;
**  - hands every certificate that fails verification to the connection's
**    certfail handler, which may accept it (like the OpenSSL backend);
**  - gives access to the peer certificate (xmpp_conn_get_peer_cert);
**  - supports a PEM client certificate and key (SASL EXTERNAL), with the
**    password callback for encrypted keys; PKCS#12 files are not supported;
**  - bounds the blocking handshake by MUSTER_TLS_HANDSHAKE_TIMEOUT_MS, so a
**    server that stalls mid-handshake cannot hold the event loop forever.
** Channel binding (SCRAM -PLUS) is not available with mbedTLS 2.28; the build
** defines STROPHE_TLS_NO_CHANNEL_BINDING so those variants are never chosen.
*/

#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#endif

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h> /* MBEDTLS_ERR_NET_* codes only */
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "common.h"
#include "sock.h"
#include "tls.h"
#include "util.h"

#ifndef MUSTER_TLS_HANDSHAKE_TIMEOUT_MS
#define MUSTER_TLS_HANDSHAKE_TIMEOUT_MS 30000
#endif
#define TLS_WAIT_STEP_MS 100
#define TLS_SHUTDOWN_MAX_RETRIES 10

/* Returned by tls_read() once the peer closed the TLS session; it is not
 * recoverable, so the event loop disconnects. */
#define TLS_ERR_CLOSED MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY

struct _tls {
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    sock_t sock;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt client_cert;
    mbedtls_pk_context client_key;
    int lasterror;
};

/* id-on-xmppAddr, 1.3.6.1.5.5.7.8.5 (RFC 6120, 13.7.1.4) */
static const unsigned char xmppaddr_oid[] = {0x2b, 0x06, 0x01, 0x05,
                                             0x05, 0x07, 0x08, 0x05};

static const char *const system_ca_bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine */
    "/etc/pki/tls/certs/ca-bundle.crt",   /* RHEL, Fedora */
    "/etc/ssl/ca-bundle.pem",             /* SUSE */
    "/etc/ssl/cert.pem",                  /* others */
};

void tls_initialize(void)
{
    /* mbedTLS keeps no global state we need to set up */
}

void tls_shutdown(void)
{
}

static void _tls_log_error(xmpp_ctx_t *ctx, const char *what, int err)
{
    char buf[160];
    mbedtls_strerror(err, buf, sizeof(buf));
    strophe_debug(ctx, "tls", "%s: -0x%04x %s", what, (unsigned)-err, buf);
}

/* ---- socket glue: the connection's non-blocking socket as mbedTLS BIO ---- */

static int _sock_would_block(void)
{
#ifdef _WIN32
    int e = WSAGetLastError();
    return e == WSAEWOULDBLOCK || e == WSAEINTR;
#else
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
#endif
}

static int _bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    tls_t *tls = ctx;
#ifdef _WIN32
    int n = send(tls->sock, (const char *)buf, (int)len, 0);
#else
    /* MSG_NOSIGNAL: a peer that went away must not raise SIGPIPE */
    ssize_t n = send(tls->sock, buf, len, MSG_NOSIGNAL);
#endif
    if (n < 0)
        return _sock_would_block() ? MBEDTLS_ERR_SSL_WANT_WRITE
                                   : MBEDTLS_ERR_NET_SEND_FAILED;
    return (int)n;
}

static int _bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    tls_t *tls = ctx;
#ifdef _WIN32
    int n = recv(tls->sock, (char *)buf, (int)len, 0);
#else
    ssize_t n = recv(tls->sock, buf, len, 0);
#endif
    if (n < 0)
        return _sock_would_block() ? MBEDTLS_ERR_SSL_WANT_READ
                                   : MBEDTLS_ERR_NET_RECV_FAILED;
    return (int)n; /* 0: the peer closed the TCP connection */
}

/* Waits until the socket is ready for what mbedTLS asked for, or `ms`. */
static void _sock_wait(tls_t *tls, int want, int ms)
{
    struct pollfd pfd;
    pfd.fd = tls->sock;
    pfd.events = want == MBEDTLS_ERR_SSL_WANT_WRITE ? POLLOUT : POLLIN;
    pfd.revents = 0;
#ifdef _WIN32
    WSAPoll(&pfd, 1, ms);
#else
    int ret;
    do {
        ret = poll(&pfd, 1, ms);
    } while (ret < 0 && errno == EINTR);
#endif
}

/* ---- certificates ---- */

static char *_strdup_or_empty(xmpp_ctx_t *ctx, const char *s)
{
    return strophe_strdup(ctx, s ? s : "");
}

static char *_x509_time(xmpp_ctx_t *ctx, const mbedtls_x509_time *t)
{
    char buf[32];
    strophe_snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d UTC",
                     t->year, t->mon, t->day, t->hour, t->min, t->sec);
    return strophe_strdup(ctx, buf);
}

static char *_hex(xmpp_ctx_t *ctx, const unsigned char *data, size_t len)
{
    char *out = strophe_alloc(ctx, len * 2 + 1);
    if (out) {
        hex_encode(out, (void *)data, len);
        out[len * 2] = '\0';
    }
    return out;
}

/* Reads the UTF8String inside an id-on-xmppAddr otherName SAN entry; the
 * entry's content is `OID, [0] EXPLICIT UTF8String`. Returns a new string, or
 * NULL when the entry is some other otherName. */
static char *_othername_xmppaddr(xmpp_ctx_t *ctx, const mbedtls_x509_buf *san)
{
    unsigned char *p = san->p;
    const unsigned char *end = san->p + san->len;
    size_t len;
    char *ret;

    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OID) != 0)
        return NULL;
    if (len != sizeof(xmppaddr_oid) || memcmp(p, xmppaddr_oid, len) != 0)
        return NULL;
    p += len;
    if (mbedtls_asn1_get_tag(&p, end, &len,
                             MBEDTLS_ASN1_CONTEXT_SPECIFIC |
                                 MBEDTLS_ASN1_CONSTRUCTED | 0) != 0)
        return NULL;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_UTF8_STRING) != 0)
        return NULL;
    ret = strophe_alloc(ctx, len + 1);
    if (ret) {
        memcpy(ret, p, len);
        ret[len] = '\0';
    }
    return ret;
}

/* Calls `fn` for every SAN entry with the given tag; stops when fn returns
 * non-zero and returns that value. */
static int _foreach_san(const mbedtls_x509_crt *crt,
                        unsigned char tag,
                        int (*fn)(const mbedtls_x509_buf *, void *),
                        void *arg)
{
    const mbedtls_x509_sequence *cur;
    int ret;
    for (cur = &crt->subject_alt_names; cur && cur->buf.p; cur = cur->next) {
        if (cur->buf.tag != tag)
            continue;
        ret = fn(&cur->buf, arg);
        if (ret)
            return ret;
    }
    return 0;
}

struct _xmppaddr_walk {
    xmpp_ctx_t *ctx;
    unsigned int wanted; /* index to return */
    unsigned int seen;
    char *found;
};

static int _xmppaddr_visit(const mbedtls_x509_buf *san, void *arg)
{
    struct _xmppaddr_walk *w = arg;
    char *addr = _othername_xmppaddr(w->ctx, san);
    if (!addr)
        return 0;
    if (w->seen++ == w->wanted) {
        w->found = addr;
        return 1;
    }
    strophe_free(w->ctx, addr);
    return 0;
}

#define SAN_OTHERNAME                                                          \
    (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED |               \
     MBEDTLS_X509_SAN_OTHER_NAME)
#define SAN_DNSNAME (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME)

struct _dnsname_walk {
    xmpp_tlscert_t *cert;
};

static int _dnsname_visit(const mbedtls_x509_buf *san, void *arg)
{
    struct _dnsname_walk *w = arg;
    char *name = strophe_alloc(w->cert->ctx, san->len + 1);
    if (!name)
        return 1;
    memcpy(name, san->p, san->len);
    name[san->len] = '\0';
    if (tlscert_add_dnsname(w->cert, name))
        strophe_debug(w->cert->ctx, "tls", "Can't store dnsName %s", name);
    strophe_free(w->cert->ctx, name);
    return 0;
}

static xmpp_tlscert_t *_crt_to_tlscert(xmpp_conn_t *conn,
                                       const mbedtls_x509_crt *crt)
{
    xmpp_ctx_t *ctx = conn->ctx;
    xmpp_tlscert_t *cert = tlscert_new(ctx);
    unsigned char digest[32];
    char buf[512];
    size_t olen = 0;
    const char *desc = NULL;
    struct _dnsname_walk w;

    if (!cert)
        return NULL;
    cert->conn = conn;

    /* PEM: ask for the size first, then write */
    mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
                             "-----END CERTIFICATE-----\n", crt->raw.p,
                             crt->raw.len, NULL, 0, &olen);
    cert->pem = strophe_alloc(ctx, olen + 1);
    if (cert->pem &&
        mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
                                 "-----END CERTIFICATE-----\n", crt->raw.p,
                                 crt->raw.len, (unsigned char *)cert->pem,
                                 olen + 1, &olen) != 0) {
        cert->pem[0] = '\0';
    }

    if (mbedtls_x509_dn_gets(buf, sizeof(buf), &crt->subject) < 0)
        buf[0] = '\0';
    cert->elements[XMPP_CERT_SUBJECT] = strophe_strdup(ctx, buf);
    if (mbedtls_x509_dn_gets(buf, sizeof(buf), &crt->issuer) < 0)
        buf[0] = '\0';
    cert->elements[XMPP_CERT_ISSUER] = strophe_strdup(ctx, buf);
    cert->elements[XMPP_CERT_NOTBEFORE] = _x509_time(ctx, &crt->valid_from);
    cert->elements[XMPP_CERT_NOTAFTER] = _x509_time(ctx, &crt->valid_to);

    mbedtls_sha1_ret(crt->raw.p, crt->raw.len, digest);
    cert->elements[XMPP_CERT_FINGERPRINT_SHA1] = _hex(ctx, digest, 20);
    mbedtls_sha256_ret(crt->raw.p, crt->raw.len, digest, 0);
    cert->elements[XMPP_CERT_FINGERPRINT_SHA256] = _hex(ctx, digest, 32);

    strophe_snprintf(buf, sizeof(buf), "%d", crt->version);
    cert->elements[XMPP_CERT_VERSION] = strophe_strdup(ctx, buf);
    cert->elements[XMPP_CERT_KEYALG] =
        _strdup_or_empty(ctx, mbedtls_pk_get_name(&crt->pk));
    if (mbedtls_oid_get_sig_alg_desc(&crt->sig_oid, &desc) != 0)
        desc = NULL;
    cert->elements[XMPP_CERT_SIGALG] = _strdup_or_empty(ctx, desc);
    cert->elements[XMPP_CERT_SERIALNUMBER] =
        _hex(ctx, crt->serial.p, crt->serial.len);

    w.cert = cert;
    _foreach_san(crt, SAN_DNSNAME, _dnsname_visit, &w);
    return cert;
}

/* mbedTLS calls this for every certificate of the chain, root first. Like
 * the OpenSSL backend, each certificate with a problem goes to the certfail
 * handler, which may accept it; without a handler the handshake fails. */
static int _tls_verify(void *arg, mbedtls_x509_crt *crt, int depth,
                       uint32_t *flags)
{
    tls_t *tls = arg;
    xmpp_conn_t *conn = tls->conn;
    xmpp_tlscert_t *cert;
    char why[256];

    if (*flags == 0)
        return 0;
    if (mbedtls_x509_crt_verify_info(why, sizeof(why), "", *flags) < 0)
        strophe_snprintf(why, sizeof(why), "verification flags 0x%08x",
                         (unsigned)*flags);
    /* one line: drop the trailing newline */
    if (why[0] && why[strlen(why) - 1] == '\n')
        why[strlen(why) - 1] = '\0';
    strophe_debug(tls->ctx, "tls", "certificate at depth %d: %s", depth, why);
    if (!conn->certfail_handler) {
        strophe_error(tls->ctx, "tls",
                      "Certificate verification failed (%s); no certfail "
                      "handler set, canceling connection attempt",
                      why);
        return 0; /* flags stay set: the handshake fails */
    }
    cert = _crt_to_tlscert(conn, crt);
    if (!cert)
        return 0;
    if (conn->certfail_handler(cert, why))
        *flags = 0;
    xmpp_tlscert_free(cert);
    return 0;
}

static int _load_client_identity(tls_t *tls)
{
    xmpp_conn_t *conn = tls->conn;
    unsigned int retries = 0;
    int ret;

    if (!conn->tls_client_key) {
        strophe_error(tls->ctx, "tls",
                      "PKCS#12 client certificates are not supported by the "
                      "mbedTLS backend; give a PEM certificate and key");
        return -1;
    }
    ret = mbedtls_x509_crt_parse_file(&tls->client_cert, conn->tls_client_cert);
    if (ret != 0) {
        _tls_log_error(tls->ctx, "client certificate", ret);
        strophe_error(tls->ctx, "tls", "could not read client certificate");
        return -1;
    }
    ret = mbedtls_pk_parse_keyfile(&tls->client_key, conn->tls_client_key,
                                   NULL);
    while (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED ||
           ret == MBEDTLS_ERR_PK_PASSWORD_MISMATCH) {
        char pass[256];
        int n;
        if (!conn->password_callback || retries++ >= conn->password_retries)
            break;
        n = tls_caching_password_callback(pass, sizeof(pass), conn);
        if (n < 0)
            continue;
        mbedtls_pk_free(&tls->client_key);
        mbedtls_pk_init(&tls->client_key);
        ret = mbedtls_pk_parse_keyfile(&tls->client_key, conn->tls_client_key,
                                       pass);
        memset(pass, 0, sizeof(pass));
        if (ret != 0) {
            tls_clear_password_cache(conn);
            strophe_debug(tls->ctx, "tls", "wrong password?");
        }
    }
    if (ret != 0) {
        _tls_log_error(tls->ctx, "client key", ret);
        strophe_error(tls->ctx, "tls", "could not use private key");
        return -1;
    }
    ret = mbedtls_ssl_conf_own_cert(&tls->conf, &tls->client_cert,
                                    &tls->client_key);
    if (ret != 0) {
        _tls_log_error(tls->ctx, "own certificate", ret);
        return -1;
    }
    return 0;
}

tls_t *tls_new(xmpp_conn_t *conn)
{
    static const char personalization[] = "libstrophe-mbedtls";
    tls_t *tls = strophe_alloc(conn->ctx, sizeof(*tls));
    int ret;

    if (!tls)
        return NULL;
    memset(tls, 0, sizeof(*tls));
    tls->ctx = conn->ctx;
    tls->conn = conn;
    tls->sock = conn->sock;
    mbedtls_ssl_init(&tls->ssl);
    mbedtls_ssl_config_init(&tls->conf);
    mbedtls_entropy_init(&tls->entropy);
    mbedtls_ctr_drbg_init(&tls->drbg);
    mbedtls_x509_crt_init(&tls->ca);
    mbedtls_x509_crt_init(&tls->client_cert);
    mbedtls_pk_init(&tls->client_key);

    ret = mbedtls_ctr_drbg_seed(&tls->drbg, mbedtls_entropy_func,
                                &tls->entropy,
                                (const unsigned char *)personalization,
                                sizeof(personalization) - 1);
    if (ret != 0) {
        _tls_log_error(tls->ctx, "seeding the random generator", ret);
        goto err;
    }
    ret = mbedtls_ssl_config_defaults(&tls->conf, MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        _tls_log_error(tls->ctx, "ssl defaults", ret);
        goto err;
    }
    mbedtls_ssl_conf_min_version(&tls->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
    mbedtls_ssl_conf_rng(&tls->conf, mbedtls_ctr_drbg_random, &tls->drbg);
    /* mbedTLS 2.28 offers its curves largest first, so servers that honour
     * the client's order (Prosody does) pick P-384 or P-521 for ECDHE. The
     * fast curves first make an agent's handshake several times cheaper,
     * which counts on small ARM boards and for a fleet reconnecting at once. */
    static const mbedtls_ecp_group_id preferred_curves[] = {
        MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
        MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_SECP521R1,
        MBEDTLS_ECP_DP_NONE};
    mbedtls_ssl_conf_curves(&tls->conf, preferred_curves);

    if (conn->tls_trust) {
        /* XMPP_CONN_FLAG_TRUST_TLS: the caller asked to accept any peer */
        mbedtls_ssl_conf_authmode(&tls->conf, MBEDTLS_SSL_VERIFY_NONE);
    } else {
        if (!tls_set_credentials(tls, conn->tls_cafile))
            goto err;
        mbedtls_ssl_conf_authmode(&tls->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&tls->conf, &tls->ca, NULL);
        mbedtls_ssl_conf_verify(&tls->conf, _tls_verify, tls);
    }

    if (conn->tls_client_cert && _load_client_identity(tls) != 0)
        goto err;

    ret = mbedtls_ssl_setup(&tls->ssl, &tls->conf);
    if (ret != 0) {
        _tls_log_error(tls->ctx, "ssl setup", ret);
        goto err;
    }
    /* SNI and the name the certificate must carry: the JID domain */
    ret = mbedtls_ssl_set_hostname(&tls->ssl, conn->domain);
    if (ret != 0) {
        _tls_log_error(tls->ctx, "host name", ret);
        goto err;
    }
    mbedtls_ssl_set_bio(&tls->ssl, tls, _bio_send, _bio_recv, NULL);
    return tls;

err:
    tls_free(tls);
    return NULL;
}

void tls_free(tls_t *tls)
{
    mbedtls_ssl_free(&tls->ssl);
    mbedtls_ssl_config_free(&tls->conf);
    mbedtls_x509_crt_free(&tls->ca);
    mbedtls_x509_crt_free(&tls->client_cert);
    mbedtls_pk_free(&tls->client_key);
    mbedtls_ctr_drbg_free(&tls->drbg);
    mbedtls_entropy_free(&tls->entropy);
    strophe_free(tls->ctx, tls);
}

/* Loads the trust anchors: the connection's CA file and/or directory, or, when
 * neither is set, the first system bundle found. Returns 1 on success. */
int tls_set_credentials(tls_t *tls, const char *cafilename)
{
    xmpp_conn_t *conn = tls->conn;
    const char *cafile = cafilename ? cafilename : conn->tls_cafile;
    int loaded = 0;
    int ret;
    size_t i;

    if (cafile) {
        ret = mbedtls_x509_crt_parse_file(&tls->ca, cafile);
        if (ret < 0) {
            _tls_log_error(tls->ctx, cafile, ret);
            strophe_error(tls->ctx, "tls", "could not load CA file %s", cafile);
            tls->lasterror = ret;
            return 0;
        }
        loaded = 1;
    }
    if (conn->tls_capath) {
        ret = mbedtls_x509_crt_parse_path(&tls->ca, conn->tls_capath);
        if (ret < 0) {
            _tls_log_error(tls->ctx, conn->tls_capath, ret);
            strophe_error(tls->ctx, "tls", "could not load CA path %s",
                          conn->tls_capath);
            tls->lasterror = ret;
            return 0;
        }
        loaded = 1;
    }
    for (i = 0; !loaded && i < ARRAY_SIZE(system_ca_bundles); ++i) {
        if (mbedtls_x509_crt_parse_file(&tls->ca, system_ca_bundles[i]) >= 0)
            loaded = 1;
    }
    if (!loaded)
        strophe_warn(tls->ctx, "tls",
                     "No CA certificates loaded: the server certificate "
                     "can only be accepted by the certfail handler");
    return 1;
}

char *tls_id_on_xmppaddr(xmpp_conn_t *conn, unsigned int n)
{
    mbedtls_x509_crt crt;
    struct _xmppaddr_walk w = {conn->ctx, n, 0, NULL};

    if (!conn->tls_client_cert)
        return NULL;
    mbedtls_x509_crt_init(&crt);
    if (mbedtls_x509_crt_parse_file(&crt, conn->tls_client_cert) == 0)
        _foreach_san(&crt, SAN_OTHERNAME, _xmppaddr_visit, &w);
    mbedtls_x509_crt_free(&crt);
    return w.found;
}

unsigned int tls_id_on_xmppaddr_num(xmpp_conn_t *conn)
{
    mbedtls_x509_crt crt;
    struct _xmppaddr_walk w = {conn->ctx, (unsigned int)-1, 0, NULL};

    if (!conn->tls_client_cert)
        return 0;
    mbedtls_x509_crt_init(&crt);
    if (mbedtls_x509_crt_parse_file(&crt, conn->tls_client_cert) == 0)
        _foreach_san(&crt, SAN_OTHERNAME, _xmppaddr_visit, &w);
    mbedtls_x509_crt_free(&crt);
    return w.seen;
}

xmpp_tlscert_t *tls_peer_cert(xmpp_conn_t *conn)
{
    const mbedtls_x509_crt *crt;
    if (!conn || !conn->tls)
        return NULL;
    crt = mbedtls_ssl_get_peer_cert(&conn->tls->ssl);
    return crt ? _crt_to_tlscert(conn, crt) : NULL;
}

int tls_init_channel_binding(tls_t *tls,
                             const char **binding_prefix,
                             size_t *binding_prefix_len)
{
    UNUSED(binding_prefix);
    UNUSED(binding_prefix_len);
    strophe_error(tls->ctx, "tls",
                  "Channel binding is not supported by the mbedTLS backend");
    return -1;
}

const void *tls_get_channel_binding_data(tls_t *tls, size_t *size)
{
    UNUSED(tls);
    *size = 0;
    return NULL;
}

int tls_start(tls_t *tls)
{
    int ret;
    int waited = 0;
    uint32_t flags;

    while ((ret = mbedtls_ssl_handshake(&tls->ssl)) != 0) {
        if (ret != MBEDTLS_ERR_SSL_WANT_READ &&
            ret != MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
        if (waited >= MUSTER_TLS_HANDSHAKE_TIMEOUT_MS) {
            strophe_error(tls->ctx, "tls", "TLS handshake timed out");
            ret = MBEDTLS_ERR_SSL_TIMEOUT;
            break;
        }
        _sock_wait(tls, ret, TLS_WAIT_STEP_MS);
        waited += TLS_WAIT_STEP_MS;
    }
    tls->lasterror = ret;
    if (ret != 0) {
        _tls_log_error(tls->ctx, "handshake", ret);
        flags = mbedtls_ssl_get_verify_result(&tls->ssl);
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 &&
            flags != (uint32_t)-1) {
            char why[256];
            mbedtls_x509_crt_verify_info(why, sizeof(why), "  ", flags);
            strophe_error(tls->ctx, "tls",
                          "Server certificate refused:\n%s", why);
        }
        return 0;
    }
    strophe_debug(tls->ctx, "tls", "Handshake done: %s, %s",
                  mbedtls_ssl_get_version(&tls->ssl),
                  mbedtls_ssl_get_ciphersuite(&tls->ssl));
    return 1;
}

int tls_stop(tls_t *tls)
{
    int ret;
    int retries = 0;

    /* after a fatal error there is no session to close */
    if (tls->lasterror != 0 && !tls_is_recoverable(NULL, tls->lasterror))
        return 1;
    while ((ret = mbedtls_ssl_close_notify(&tls->ssl)) != 0) {
        if ((ret != MBEDTLS_ERR_SSL_WANT_READ &&
             ret != MBEDTLS_ERR_SSL_WANT_WRITE) ||
            ++retries >= TLS_SHUTDOWN_MAX_RETRIES)
            break;
        _sock_wait(tls, ret, TLS_WAIT_STEP_MS);
    }
    tls->lasterror = ret;
    return ret == 0;
}

int tls_error(struct conn_interface *intf)
{
    return intf->conn->tls->lasterror;
}

int tls_is_recoverable(struct conn_interface *intf, int error)
{
    UNUSED(intf);
    return error == 0 || error == MBEDTLS_ERR_SSL_WANT_READ ||
           error == MBEDTLS_ERR_SSL_WANT_WRITE;
}

int tls_pending(struct conn_interface *intf)
{
    return (int)mbedtls_ssl_get_bytes_avail(&intf->conn->tls->ssl);
}

int tls_read(struct conn_interface *intf, void *buff, size_t len)
{
    tls_t *tls = intf->conn->tls;
    int ret = mbedtls_ssl_read(&tls->ssl, buff, len);

    if (ret > 0) {
        tls->lasterror = 0;
        return ret;
    }
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        /* the peer closed the session (or the TCP connection) */
        tls->lasterror = TLS_ERR_CLOSED;
        return -1;
    }
    tls->lasterror = ret;
    if (!tls_is_recoverable(intf, ret))
        _tls_log_error(tls->ctx, "read", ret);
    return -1;
}

int tls_write(struct conn_interface *intf, const void *buff, size_t len)
{
    tls_t *tls = intf->conn->tls;
    int ret = mbedtls_ssl_write(&tls->ssl, buff, len);

    if (ret >= 0) {
        tls->lasterror = 0;
        return ret;
    }
    tls->lasterror = ret;
    if (!tls_is_recoverable(intf, ret))
        _tls_log_error(tls->ctx, "write", ret);
    return -1;
}

int tls_clear_pending_write(struct conn_interface *intf)
{
    /* mbedTLS keeps a partly sent record and finishes it on the next
     * mbedtls_ssl_write() with the same data, which the send queue does */
    UNUSED(intf);
    return 0;
}
