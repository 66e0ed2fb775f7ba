/* server_internal.h — pieces of the app-server runtime (include/sigrid/server.h) shared by
 * server.c (service connections, sending, lifecycle), server_hub.c (one client's hub
 * protocol: pure, no I/O) and server_negotiate.c (the negotiate endpoint). Loop thread only. */
#ifndef SG_SDK_SERVER_INTERNAL_H
#define SG_SDK_SERVER_INTERNAL_H

#include "proto/handshake.h"
#include "proto/svcproto.h"
#include "sg_buf.h"

#include "sigrid/server.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sg__svc_conn;

/* One client of the hub, as seen through the service (OpenConnection .. CloseConnection).
 * It is the sg_hub_ctx handed to hub methods. */
struct sg_hub_ctx {
    char *id;
    char *user_id;  /* NULL when the token names no user */
    char *query;    /* "" when none */
    json_t *claims; /* object type -> first value */
    sg_hub_protocol protocol;
    int handshaken;
    int closed; /* hub session ended (handshake refused, protocol error) */
    sg_buf in;  /* bytes of an incomplete message */
    struct sg__svc_conn *conn;
    sg_server *server;
    uint64_t last_sent_ms;
    struct sg_hub_ctx *hnext;       /* hash chain */
    struct sg_hub_ctx *next, *prev; /* server's list of all clients */
};
typedef struct sg_hub_ctx sg__client;

struct sg_hub_result {
    char *json;  /* one JSON value text, or NULL */
    char *error; /* or NULL */
};

/* Caps for one client's inbound hub data. */
#define SG__CLIENT_MAX_MESSAGE (1u << 20)

/* New client from an OpenConnection message (claims, query, protocol ext). NULL on OOM. */
sg__client *sg__client_new(const sg_svc_msg *open);
void sg__client_free(sg__client *c);

/* User id from claims (object type->value): asrs.s.uid, nameid, the NameIdentifier URI, sub. */
const char *sg__user_from_claims(const json_t *claims);

/* Invoked for each hub Invocation: target and arguments (JSON array text). Fill res. Returns
 * SG_ENOTFOUND when there is no such method (the session answers "Unknown hub method"). */
typedef int (*sg__dispatch_fn)(void *ud, sg__client *c, const char *target, const char *args_json,
                               sg_hub_result *res);

/* Feeds ConnectionData bytes of one client. Appends what must go back to that client (the
 * handshake answer, completions) to *out. Returns SG_OK, or SG_EPROTO / SG_ETOOBIG / SG_ENOMEM
 * after which the client must be closed: *close_error (static or into errbuf) says why, and
 * *out may hold a final message (a handshake error) to deliver first. *handshake_done is set
 * to 1 when this call completed the hub handshake. */
int sg__client_feed(sg__client *c, const uint8_t *p, size_t n, sg__dispatch_fn fn, void *ud,
                    sg_buf *out, int *handshake_done, const char **close_error);

/* Appends a hub Close message (error optional) in the client's protocol. */
int sg__client_write_close(const sg__client *c, const char *error, sg_buf *out);
/* Appends a hub Ping in the client's protocol. */
int sg__client_write_ping(const sg__client *c, sg_buf *out);

/* Frees res members. */
void sg__hub_result_clear(sg_hub_result *res);

/* The negotiate redirect URL: base (".../client/?hub=h") + "&asrs.op=%2F<hub>" + the client's
 * query (minus a leading '?'), appended to out. */
int sg__negotiate_url(const char *base, const char *hub, const char *client_query, sg_buf *out);

/* Summary of a refused upgrade's JSON body ("code=... message=... hint=...") into out;
 * the first 200 bytes of a non-JSON body otherwise. */
void sg__refusal_text(const char *body, char *out, size_t outlen);

/* Reconnect delay for attempt n (0-based): 1 s doubling, capped at cap_ms, +-20 % jitter
 * (jitter_pct 0 = exact). */
unsigned sg__backoff_ms(unsigned attempt, unsigned cap_ms, int jitter_pct);

/* Negotiate endpoint (server_negotiate.c). */
int sg__negotiate_listen(sg_server *s, const char *host, int port, int *bound);
void sg__negotiate_stop(sg_server *s, void (*done)(void *ud), void *ud);

/* From server.c for server_negotiate.c. */
struct uv_loop_s *sg__server_loop(sg_server *s);
const char *sg__server_hub(sg_server *s);
/* Picks an endpoint for a new client: round robin over endpoints with a live connection,
 * else over all. NULL when there is none. */
sg_service_endpoint *sg__server_pick_endpoint(sg_server *s);
void sg__server_work_begin(sg_server *s);
void sg__server_work_end(sg_server *s);
int sg__server_stopping(sg_server *s);
/* The negotiate listener's state pointer (owned by server_negotiate.c). */
void **sg__server_negotiate_slot(sg_server *s);

#endif
