/* serve_tls.c — SSL_CTX for https data planes, from the local CA's server certificate. */
#include "serve/serve_tls.h"

#include "cloud/cloud_internal.h" /* sg_ca_ensure: the local CA is the cloud layer's */
#include "sg_err.h"
#include "sg_str.h"

#include <openssl/err.h>

int sg_serve_tls_ctx(const char *data_dir, const char *host, SSL_CTX **out, char *err,
                     size_t errlen)
{
    sg_ca_paths paths;
    *out = NULL;
    int rc = sg_ca_ensure(data_dir, host, &paths);
    if (rc != SG_OK) {
        sg_snprintf(err, errlen, "local CA: %s", sg_strerror(rc));
        return rc;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        sg_snprintf(err, errlen, "SSL_CTX_new failed");
        return SG_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, paths.cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, paths.key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char e[256];
        ERR_error_string_n(ERR_get_error(), e, sizeof e);
        sg_snprintf(err, errlen, "cannot load %s / %s: %s", paths.cert_file, paths.key_file, e);
        SSL_CTX_free(ctx);
        return SG_EIO;
    }
    *out = ctx;
    return SG_OK;
}

void sg_serve_tls_free(SSL_CTX *ctx)
{
    if (ctx)
        SSL_CTX_free(ctx);
}
