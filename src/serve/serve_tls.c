/* serve_tls.c — SSL_CTX for https data planes, from the local CA's server certificate. */
#include "serve/serve_tls.h"

#include "cloud/cloud_internal.h" /* sg_ca_ensure: the local CA is the cloud layer's */
#include "net/tls.h"
#include "sg_err.h"
#include "sg_str.h"

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
    SSL_CTX *ctx = NULL;
    rc = sg_tls_server_ctx_new(paths.cert_file, paths.key_file, &ctx);
    if (rc != SG_OK) {
        char e[256];
        sg_snprintf(err, errlen, "cannot load %s / %s: %s (%s)", paths.cert_file, paths.key_file,
                    sg_strerror(rc), sg_tls_last_error(e, sizeof e));
        return rc;
    }
    *out = ctx;
    return SG_OK;
}

void sg_serve_tls_free(SSL_CTX *ctx)
{
    sg_tls_ctx_free(ctx);
}
