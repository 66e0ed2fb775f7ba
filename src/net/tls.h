/* tls.h — OpenSSL 3 contexts for the listeners. A stream on a TLS listener runs the handshake
 * and records through memory BIOs inside the same output queue model as plain TCP (see
 * stream.h): plaintext is queued, encrypted at flush, ciphertext written with one vectored
 * write per loop turn. */
#ifndef SG_NET_TLS_H
#define SG_NET_TLS_H

#include <openssl/ssl.h>

/* Server context from PEM files: the certificate file may hold the chain (leaf first); the
 * key must match it. TLS 1.2+, ALPN "http/1.1". Returns SG_OK and *out (free with
 * sg_tls_ctx_free / SSL_CTX_free), SG_ENOTFOUND (file missing), SG_EINVAL (unreadable or
 * mismatched PEM) or SG_ENOMEM. Thread-safe; the context may be shared by several loops. */
int sg_tls_server_ctx_new(const char *cert_pem_path, const char *key_pem_path, SSL_CTX **out);
void sg_tls_ctx_free(SSL_CTX *ctx); /* NULL-safe */
/* Text of the last OpenSSL error of this thread ("" if none), for logs. */
const char *sg_tls_last_error(char *buf, size_t n);

#endif
