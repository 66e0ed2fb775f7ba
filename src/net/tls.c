/* tls.c — server SSL_CTX construction (see tls.h). */
#include "net/tls.h"

#include "sg_err.h"
#include "sg_log.h"

#include <openssl/err.h>
#include <string.h>
#include <unistd.h>

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const unsigned char h11[] = "\x08http/1.1";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in, inlen) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK; /* no ALPN agreement: carry on without it */
}

const char *sg_tls_last_error(char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();
    if (!n)
        return "";
    buf[0] = 0;
    if (e)
        ERR_error_string_n(e, buf, n);
    return buf;
}

int sg_tls_server_ctx_new(const char *cert_pem_path, const char *key_pem_path, SSL_CTX **out)
{
    *out = NULL;
    if (!cert_pem_path || !key_pem_path)
        return SG_EINVAL;
    if (access(cert_pem_path, R_OK) != 0 || access(key_pem_path, R_OK) != 0)
        return SG_ENOTFOUND;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return SG_ENOMEM;
    int rc = SG_EINVAL;
    char err[256];
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_pem_path) != 1) {
        SG_LOGE("net", "event=tls_cert_error path=%s err=\"%s\"", cert_pem_path,
                sg_tls_last_error(err, sizeof err));
        goto cleanup;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_pem_path, SSL_FILETYPE_PEM) != 1) {
        SG_LOGE("net", "event=tls_key_error path=%s err=\"%s\"", key_pem_path,
                sg_tls_last_error(err, sizeof err));
        goto cleanup;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        SG_LOGE("net", "event=tls_key_mismatch cert=%s key=%s", cert_pem_path, key_pem_path);
        goto cleanup;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    *out = ctx;
    return SG_OK;
cleanup:
    SSL_CTX_free(ctx);
    return rc;
}

void sg_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}
