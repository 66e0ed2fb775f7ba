/* sigrid/server.h — the app-server runtime: the C counterpart of
 * `services.AddSignalR().AddAzureSignalR(...)`. It hosts one hub through Azure SignalR Service
 * (or sigrid) in Default mode: it keeps N service connections per endpoint open
 * (`/server/?hub=<hub>&cid=<guid>`, service protocol), runs each client's hub handshake and hub
 * protocol (json and messagepack) on this side, calls the hub methods you register, and sends
 * to all / users / groups / connections through the service.
 *
 *   static int echo(sg_hub_ctx *ctx, const char *args, sg_hub_result *res, void *ud)
 *   {   // args = "[x]" (a JSON array)
 *       return sg_hub_result_set_json(res, ...);   // or sg_hub_result_set_error(res, "...")
 *   }
 *   sg_server_options o = {.size = sizeof o, .hub = "chat",
 *                          .connection_string = getenv("Azure__SignalR__ConnectionString")};
 *   sg_server *s;
 *   sg_server_new(NULL, &o, &s, msg, sizeof msg);       // NULL loop: the server owns one
 *   sg_server_add_method(s, "echo", echo, NULL);
 *   sg_server_listen_negotiate(s, "127.0.0.1", 5000, NULL);  // POST /chat/negotiate
 *   sg_server_run(s);                                   // until SIGINT/SIGTERM, then graceful
 *   sg_server_free(s);
 *
 * Event loop: the server runs on a libuv loop. Pass the host's loop to sg_server_new and call
 * sg_server_start (the host runs the loop), or pass NULL and use the blocking sg_server_run.
 * Token acquisition (access-key signing, Entra tokens through the credential, the temporary
 * key for client tokens) runs on libuv's thread pool, so the loop never blocks on HTTP.
 *
 * Authentication follows each sg_service_endpoint (sigrid/signalr.h): an access key signs the
 * server token (aud {Endpoint}/server/?hub=<hub>); an Entra credential's token is sent as is,
 * and every 10 minutes an AccessKeyRequest refreshes the temporary key in-band. A refused
 * connection (401/403) is logged in one line with the status, the service's JSON reason and
 * its hint, and retried with backoff (1 s doubling to 30 s, jittered); the runtime never
 * gives up on an endpoint.
 *
 * Threading: every function except sg_server_new/free must be called on the server's loop
 * thread (hub methods run there; they must not block). Strings are copied. Nothing aborts on
 * out-of-memory. */
#ifndef SIGRID_SERVER_H
#define SIGRID_SERVER_H

#include "sigrid/common.h"
#include "sigrid/signalr.h"

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;

typedef struct sg_server sg_server;
typedef struct sg_hub_ctx sg_hub_ctx;       /* the calling client, valid during the call */
typedef struct sg_hub_result sg_hub_result; /* the completion of the call */

/* A hub method. args_json is the invocation's arguments as a JSON array text (MessagePack
 * binary values appear as base64 strings). Set the result with sg_hub_result_set_json or
 * sg_hub_result_set_error (neither = a void completion). Return 0; a non-zero return
 * without an error set becomes the error "An unexpected error occurred invoking '<name>' on
 * the server.". Blocking invocations (with an invocation id) get a Completion; others only
 * run. Runs on the loop thread. */
typedef int (*sg_hub_method_fn)(sg_hub_ctx *ctx, const char *args_json, sg_hub_result *res,
                                void *ud);

/* Result setters: json must be one JSON value (copied). SG_EINVAL for invalid JSON. */
SIGRID_API int sg_hub_result_set_json(sg_hub_result *res, const char *json);
SIGRID_API int sg_hub_result_set_error(sg_hub_result *res, const char *message);

/* The caller. Strings are borrowed, valid during the call. */
SIGRID_API const char *sg_hub_ctx_connection_id(const sg_hub_ctx *ctx);
/* asrs.s.uid, else nameid, else the NameIdentifier claim URI, else sub; NULL if none. */
SIGRID_API const char *sg_hub_ctx_user_id(const sg_hub_ctx *ctx);
/* A claim of the client token (first value), NULL if absent. */
SIGRID_API const char *sg_hub_ctx_claim(const sg_hub_ctx *ctx, const char *type);
/* The client's transport query string (as the service passed it). */
SIGRID_API const char *sg_hub_ctx_query(const sg_hub_ctx *ctx);
/* "json" or "messagepack". */
SIGRID_API const char *sg_hub_ctx_protocol(const sg_hub_ctx *ctx);
SIGRID_API sg_server *sg_hub_ctx_server(const sg_hub_ctx *ctx);

typedef struct sg_server_options {
    size_t size;                           /* sizeof(sg_server_options) */
    const char *hub;                       /* hub name (required), e.g. "chat" */
    const char *connection_string;         /* one endpoint from a connection string, owned by
                                              the server; may be combined with endpoints */
    sg_service_endpoint *const *endpoints; /* more endpoints (borrowed: must outlive the
                                              server) */
    size_t n_endpoints;
    const sg_endpoint_options *endpoint_options; /* for connection_string; NULL = defaults */
    int connections_per_endpoint;                /* 0 = 5 */
    unsigned keepalive_ms;                       /* ping after this much silence; 0 = 5000 */
    unsigned timeout_ms;                         /* drop a connection silent this long; 0 = 30000 */
    unsigned client_keepalive_ms;                /* hub Ping to a silent client; 0 = 15000 */
    unsigned reconnect_max_ms;                   /* backoff cap; 0 = 30000 */
    unsigned shutdown_timeout_ms;                /* wait for finack; 0 = 5000 */
    const char *ca_file;                         /* CA for wss:// to the service; NULL = system /
                                                    $SSL_CERT_FILE */
    /* Client lifecycle callbacks (optional), on the loop thread. */
    void (*on_connected)(sg_hub_ctx *ctx, void *ud);
    void (*on_disconnected)(sg_hub_ctx *ctx, const char *error, void *ud);
    void *ud;
} sg_server_options;

/* Creates a server (not yet connecting). loop NULL = the server creates and owns one (use
 * sg_server_run). Errors: SG_EINVAL (msg says why: no hub, no endpoint, bad connection
 * string), SG_ENOMEM. */
SIGRID_API int sg_server_new(struct uv_loop_s *loop, const sg_server_options *o, sg_server **out,
                             char *msg, size_t msglen);
/* Registers a hub method (name matched case-insensitively, as ASP.NET does). SG_EEXIST if
 * already registered. Before or after start. */
SIGRID_API int sg_server_add_method(sg_server *s, const char *name, sg_hub_method_fn fn, void *ud);
/* Opens the service connections (asynchronously). */
SIGRID_API int sg_server_start(sg_server *s);
/* Serves `POST /<hub>/negotiate` on host:port (port 0 = any; *bound gets it) on the server's
 * loop: the redirect answer {negotiateVersion:0, url, accessToken, availableTransports:[]},
 * user id from the `user` query parameter, the client token signed by the access key or the
 * temporary key. 503 with an error JSON when no endpoint has a live server connection. */
SIGRID_API int sg_server_listen_negotiate(sg_server *s, const char *host, int port, int *bound);
/* Graceful stop: pings `shutdown fin:0` on every connection, waits for each `finack` (or
 * shutdown_timeout_ms), closes the connections and the negotiate listener, then calls done
 * (optional). sg_server_run returns after it. */
SIGRID_API void sg_server_stop(sg_server *s, void (*done)(void *ud), void *ud);
/* Blocking mode: starts (if needed) and runs the server's own loop until sg_server_stop or
 * SIGINT/SIGTERM (which trigger the graceful stop). Returns SG_OK, or SG_EINVAL when the
 * server was created on a host loop. */
SIGRID_API int sg_server_run(sg_server *s);
/* Frees a stopped (or never started) server. NULL-safe. */
SIGRID_API void sg_server_free(sg_server *s);

/* Number of service connections whose handshake succeeded. */
SIGRID_API size_t sg_server_connected(const sg_server *s);

/* ---- sending (through the service; arguments is a JSON array text, NULL = "[]") ---- */

/* excluded: connection ids, NULL-terminated, optional. */
SIGRID_API int sg_server_send_all(sg_server *s, const char *target, const char *arguments,
                                  const char *const *excluded);
SIGRID_API int sg_server_send_user(sg_server *s, const char *user_id, const char *target,
                                   const char *arguments);
SIGRID_API int sg_server_send_group(sg_server *s, const char *group, const char *target,
                                    const char *arguments, const char *const *excluded);
SIGRID_API int sg_server_send_connection(sg_server *s, const char *connection_id,
                                         const char *target, const char *arguments);
SIGRID_API int sg_server_group_add(sg_server *s, const char *connection_id, const char *group);
SIGRID_API int sg_server_group_remove(sg_server *s, const char *connection_id, const char *group);
/* Closes a client (a hub Close message with the error, then CloseConnection). */
SIGRID_API int sg_server_close_connection(sg_server *s, const char *connection_id,
                                          const char *reason);
/* Errors of the senders: SG_EINVAL (bad arguments JSON / names), SG_ECLOSED (no live service
 * connection), SG_ENOMEM. */

#ifdef __cplusplus
}
#endif

#endif
