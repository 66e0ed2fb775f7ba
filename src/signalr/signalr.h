/* signalr.h — one SignalR resource's data plane: client negotiate and transports, hub state,
 * REST API, access-key (and later Entra) authentication. serve/ starts one per resource.
 * Threading: one loop; all state owned by it (behind the sg_signalr ctx). */
#ifndef SG_SIGNALR_H
#define SG_SIGNALR_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sg_signalr sg_signalr;
struct sg_cloud;

typedef struct sg_signalr_opts {
    const char *host;              /* bind address */
    int port;                      /* 0 = any free port */
    SSL_CTX *tls;                  /* NULL = http */
    const char *resource_id;       /* ARM id, used in authz and error bodies */
    const char *name;
    int serverless;
    int disable_local_auth;
    const char *primary_key;       /* access keys (UTF-8 strings, HMAC keys as-is) */
    const char *secondary_key;
    size_t max_message;            /* max client message, default 32 KiB */
    size_t max_connections;        /* default 19000 */
    uint32_t keepalive_ms;         /* hub ping interval, default 15000 */
    uint32_t client_timeout_ms;    /* default 30000 */
    uint32_t handshake_timeout_ms; /* default 15000 */
    struct sg_cloud *cloud;        /* authz for Entra tokens (may be NULL) */
} sg_signalr_opts;

int sg_signalr_start(uv_loop_t *loop, const sg_signalr_opts *opts, sg_signalr **out);
/* Applies new keys / mode / local-auth setting to a running data plane (strings copied). */
int sg_signalr_update(sg_signalr *s, const sg_signalr_opts *opts);
int sg_signalr_port(const sg_signalr *s);
/* Closes every client with a Close message ("Service is shutting down"), stops the
 * listener, frees; done (may be NULL) runs when all connections are gone. */
void sg_signalr_stop(sg_signalr *s, void (*done)(void *ud), void *ud);

#endif
