/* ca.c — the local certificate authority behind the cloud listener's https.
 *
 * DIR/tls/ (0700):
 *   ca.pem          CA certificate, RSA 2048, 10 years (what users trust: NODE_EXTRA_CA_CERTS,
 *                   SSL_CERT_FILE)
 *   ca-key.pem      its private key (0600)
 *   server.pem      server certificate signed by the CA + the CA certificate (chain); SAN
 *                   DNS:localhost, IP:127.0.0.1, IP:::1 (+ the bind host); EC P-256, 825 days
 *   server-key.pem  its private key (0600)
 * Later starts reuse them; the server certificate is re-issued (same CA) when missing,
 * unreadable, not signed by this CA, expiring within 30 days or lacking a wanted SAN. */
#include "cloud/cloud_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_DAYS 3650
#define SERVER_DAYS 825
#define RENEW_BEFORE_S (30 * 86400)

static int write_file_atomic(const char *path, const char *data, size_t n, mode_t mode)
{
    char tmp[SG_CLOUD_PATH_MAX + 16];
    if (sg_snprintf(tmp, sizeof tmp, "%s.tmp", path) != 0)
        return SG_EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return SG_EIO;
    (void)fchmod(fd, mode);
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            unlink(tmp);
            return SG_EIO;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return SG_EIO;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return SG_EIO;
    }
    return SG_OK;
}

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

/* PEM of a key and/or certificates into one string. */
static int pem_write(const char *path, EVP_PKEY *key, X509 *c1, X509 *c2, mode_t mode)
{
    int rc = SG_EINTERNAL;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return SG_ENOMEM;
    if (key && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto cleanup;
    if (c1 && PEM_write_bio_X509(b, c1) != 1)
        goto cleanup;
    if (c2 && PEM_write_bio_X509(b, c2) != 1)
        goto cleanup;
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    rc = write_file_atomic(path, p, (size_t)n, mode);
    OPENSSL_cleanse(p, (size_t)n);
cleanup:
    BIO_free(b);
    return rc;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return -1;
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok == 1 ? 0 : -1;
}

static int set_serial(X509 *x)
{
    unsigned char r[16];
    if (sg_random_bytes(r, sizeof r) != 0)
        return -1;
    r[0] &= 0x7f; /* positive */
    r[0] |= 0x01; /* and not zero-led */
    BIGNUM *bn = BN_bin2bn(r, sizeof r, NULL);
    if (!bn)
        return -1;
    int ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static X509 *make_ca(EVP_PKEY *key)
{
    X509 *x = X509_new();
    char cn[96];
    char suffix[16];
    if (!x || sg_random_token(suffix, sizeof suffix, 6) != 0)
        goto fail;
    sg_snprintf(cn, sizeof cn, "sigrid local CA %s", suffix);
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 || set_serial(x) != 0 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)CA_DAYS * 86400) ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"sigrid", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1)
        goto fail;
    if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0 ||
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") != 0 ||
        add_ext(x, x, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(x, x, NID_authority_key_identifier, "keyid:always") != 0)
        goto fail;
    if (X509_sign(x, key, EVP_sha256()) <= 0)
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

static int host_is_default(const char *h)
{
    return !h || !*h || strcmp(h, "127.0.0.1") == 0 || strcasecmp(h, "localhost") == 0 ||
           strcmp(h, "::1") == 0 || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
}

static int is_ip(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static X509 *make_server(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *host)
{
    X509 *x = X509_new();
    char san[512];
    if (!x)
        return NULL;
    if (host_is_default(host))
        sg_snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1");
    else if (sg_snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1,%s:%s",
                         is_ip(host) ? "IP" : "DNS", host) != 0)
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 || set_serial(x) != 0 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)SERVER_DAYS * 86400) ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"sigrid", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 || X509_set_pubkey(x, key) != 1)
        goto fail;
    if (add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") != 0 ||
        add_ext(x, ca, NID_ext_key_usage, "serverAuth") != 0 ||
        add_ext(x, ca, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(x, ca, NID_authority_key_identifier, "keyid:always") != 0 ||
        add_ext(x, ca, NID_subject_alt_name, san) != 0)
        goto fail;
    if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

/* Is the existing server certificate still good for us? */
static int server_ok(X509 *srv, EVP_PKEY *srv_key, X509 *ca, EVP_PKEY *ca_key, const char *host)
{
    if (!srv || !srv_key)
        return 0;
    if (X509_verify(srv, ca_key) != 1 || X509_check_private_key(srv, srv_key) != 1)
        return 0;
    if (X509_check_issued(ca, srv) != X509_V_OK)
        return 0;
    time_t limit = time(NULL) + RENEW_BEFORE_S;
    if (X509_cmp_time(X509_get0_notAfter(srv), &limit) <= 0)
        return 0;
    if (X509_check_ip_asc(srv, "127.0.0.1", 0) != 1 || X509_check_ip_asc(srv, "::1", 0) != 1 ||
        X509_check_host(srv, "localhost", 0, 0, NULL) != 1)
        return 0;
    if (!host_is_default(host)) {
        int ok =
            is_ip(host) ? X509_check_ip_asc(srv, host, 0) : X509_check_host(srv, host, 0, 0, NULL);
        if (ok != 1)
            return 0;
    }
    return 1;
}

int sg_ca_ensure(const char *data_dir, const char *host, sg_ca_paths *out)
{
    int rc = SG_EINTERNAL;
    char dir[SG_CLOUD_PATH_MAX], ca_key_path[SG_CLOUD_PATH_MAX];
    EVP_PKEY *ca_key = NULL, *srv_key = NULL;
    X509 *ca = NULL, *srv = NULL;
    memset(out, 0, sizeof *out);
    if (!data_dir)
        return SG_EINVAL;
    if (sg_snprintf(dir, sizeof dir, "%s/tls", data_dir) != 0 ||
        sg_snprintf(out->ca_file, sizeof out->ca_file, "%s/ca.pem", dir) != 0 ||
        sg_snprintf(ca_key_path, sizeof ca_key_path, "%s/ca-key.pem", dir) != 0 ||
        sg_snprintf(out->cert_file, sizeof out->cert_file, "%s/server.pem", dir) != 0 ||
        sg_snprintf(out->key_file, sizeof out->key_file, "%s/server-key.pem", dir) != 0)
        return SG_EINVAL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        SG_LOGE("cloud", "event=ca_error path=%s err=%s", dir, strerror(errno));
        return SG_EIO;
    }

    ca = load_cert(out->ca_file);
    ca_key = load_key(ca_key_path);
    if (ca && ca_key && X509_check_private_key(ca, ca_key) != 1) {
        SG_LOGW("cloud", "event=ca_mismatch action=recreate path=%s", out->ca_file);
        X509_free(ca);
        ca = NULL;
    }
    if (!ca || !ca_key) {
        X509_free(ca);
        EVP_PKEY_free(ca_key);
        ca = NULL;
        ca_key = EVP_RSA_gen(2048);
        if (!ca_key || !(ca = make_ca(ca_key)))
            goto cleanup;
        rc = pem_write(ca_key_path, ca_key, NULL, NULL, 0600);
        if (rc == 0)
            rc = pem_write(out->ca_file, NULL, ca, NULL, 0644);
        if (rc != 0) {
            SG_LOGE("cloud", "event=ca_error path=%s err=write_failed", dir);
            goto cleanup;
        }
        SG_LOGI("cloud", "event=ca_created path=%s", out->ca_file);
        /* a new CA invalidates the old server certificate */
        unlink(out->cert_file);
    }

    srv = load_cert(out->cert_file);
    srv_key = load_key(out->key_file);
    if (!server_ok(srv, srv_key, ca, ca_key, host)) {
        X509_free(srv);
        EVP_PKEY_free(srv_key);
        srv = NULL;
        srv_key = EVP_EC_gen("P-256");
        rc = SG_EINTERNAL;
        if (!srv_key || !(srv = make_server(srv_key, ca, ca_key, host)))
            goto cleanup;
        rc = pem_write(out->key_file, srv_key, NULL, NULL, 0600);
        if (rc == 0)
            rc = pem_write(out->cert_file, NULL, srv, ca, 0644);
        if (rc != 0) {
            SG_LOGE("cloud", "event=ca_error path=%s err=write_failed", out->cert_file);
            goto cleanup;
        }
        SG_LOGI("cloud", "event=server_cert_issued path=%s", out->cert_file);
    }
    rc = SG_OK;
cleanup:
    if (rc == SG_EINTERNAL) {
        unsigned long e = ERR_peek_last_error();
        char eb[256];
        ERR_error_string_n(e, eb, sizeof eb);
        SG_LOGE("cloud", "event=ca_error err=\"%s\"", eb);
    }
    ERR_clear_error();
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    return rc;
}
