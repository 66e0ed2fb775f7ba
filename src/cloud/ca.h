/* ca.h — the local certificate authority behind the cloud listener's https.
 *
 * On first start sg_ca_ensure() creates, under DIR/tls/ (0700):
 *   ca.pem          the CA certificate (what users trust: NODE_EXTRA_CA_CERTS, SSL_CERT_FILE)
 *   ca-key.pem      its private key (0600)
 *   server.pem      a server certificate signed by the CA, SAN = DNS:localhost, IP:127.0.0.1,
 *                   IP:::1 (+ the bind host when it is something else), chain = server + CA
 *   server-key.pem  its private key (0600)
 * Later starts reuse them; the server certificate is re-issued (by the same CA) when it is
 * missing, unreadable, not signed by the CA, close to expiry, or lacks a requested SAN.
 * Keys are EC P-256 for the server and RSA 2048 for the CA (both accepted everywhere).
 *
 * Threading: call from one thread at start-up (file I/O, blocking). */
#ifndef SG_CLOUD_CA_H
#define SG_CLOUD_CA_H

#include <limits.h>
#include <stddef.h>

typedef struct sg_ca_paths {
    char ca_file[PATH_MAX];   /* DIR/tls/ca.pem */
    char ca_key[PATH_MAX];    /* DIR/tls/ca-key.pem */
    char cert_file[PATH_MAX]; /* DIR/tls/server.pem (leaf then CA) */
    char key_file[PATH_MAX];  /* DIR/tls/server-key.pem */
} sg_ca_paths;

/* Ensures the CA and the server certificate exist under data_dir/tls and fills *out with the
 * paths. `host` (may be NULL) is the listener's bind address; when it is an IP or name other
 * than 127.0.0.1/localhost/::1/0.0.0.0/:: it is added to the SAN. Returns SG_OK, SG_EIO (file
 * system; errmsg says which file) or SG_EINTERNAL (OpenSSL). errmsg may be NULL. */
int sg_ca_ensure(const char *data_dir, const char *host, sg_ca_paths *out, char *errmsg,
                 size_t errlen);

#endif
