/* serve_tls.h — the server TLS context of data planes started with --signalr-tls: a
 * certificate issued by sigrid's local CA (DIR/tls/ca.pem), so clients that trust the CA file
 * (NODE_EXTRA_CA_CERTS / SSL_CERT_FILE) connect without warnings. */
#ifndef SG_SERVE_TLS_H
#define SG_SERVE_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/* Creates (first use) or loads the local CA and a server certificate for `host`, 127.0.0.1
 * and localhost, and builds an SSL_CTX (TLS >= 1.2) from it. Returns SG_OK with *out (free
 * with sg_serve_tls_free), or an sg_err with err filled. Loop thread only (blocking file I/O,
 * done once at start-up). */
int sg_serve_tls_ctx(const char *data_dir, const char *host, SSL_CTX **out, char *err,
                     size_t errlen);
void sg_serve_tls_free(SSL_CTX *ctx); /* NULL ok */

#endif
