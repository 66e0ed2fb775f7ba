/* serve.h — `sigrid serve`: wires the cloud (Entra ID, ARM, RBAC, identity endpoints) and one
 * SignalR data plane per SignalR resource onto one libuv loop; config, lock, signals,
 * endpoints.json and the start-up banner. The flag/env parsing lives in cli/cli_serve.c.
 * Threading: sg_serve_run owns the calling thread until shutdown. */
#ifndef SG_SERVE_H
#define SG_SERVE_H

#include <stddef.h>

typedef struct sg_serve_opts {
    const char *data_dir;    /* created if missing (0700); default "./.sigrid" */
    const char *host;        /* bind address of every listener; default "127.0.0.1" */
    int cloud_port;          /* default 8443 */
    int cloud_http;          /* 1 = plain http on the cloud listener */
    int signalr_port;        /* data plane of the built-in resource "default"; 8888 */
    int signalr_tls;         /* built-in resource over https */
    int identity_port_base;  /* default 8900 */
    const char *log_level;   /* error|warn|info|debug; default info */
    int propagation_delay_s; /* role assignments take effect this much later; default 0 */
    size_t max_message;      /* max client message bytes; default 32768 */
    size_t max_connections;  /* per data plane; default 19000 */
    int quiet;               /* 1 = no banner on stdout (logs still on stderr) */
    const char *prog;        /* how the user ran us (argv[0]), for the banner's hints */
} sg_serve_opts;

/* Fills the defaults above. */
void sg_serve_opts_default(sg_serve_opts *o);

/* Runs the server until SIGTERM/SIGINT, then stops cleanly: data planes close their clients
 * with a Close message, listeners stop, the store is closed (every acknowledged write
 * durable), endpoints.json is removed. Takes an exclusive lock on DATA_DIR/serve.lock: a
 * second server on the same data dir fails at once. Returns the process exit code: 0 after a
 * clean stop; 1 when start-up (or shutdown) failed, with an az-style error code
 * ("DataDirInUse", "PortInUse", "StartupFailed", "InvalidDataDir", ...) in err_code and the
 * sentence for the user in err_msg (both always NUL-terminated). */
int sg_serve_run(const sg_serve_opts *o, char *err_code, size_t code_len, char *err_msg,
                 size_t msg_len);

#endif
