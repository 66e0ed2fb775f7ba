/* sr_internal.h — private to src/signalr/: the data plane's state and the helpers its files
 * share (prefix sr_). Nothing outside src/signalr/ (and its unit tests) includes this.
 *
 * Ownership: every object below belongs to one sg_signalr ctx and is touched only on its
 * loop. A second loop later means a second ctx (or a queue in front of one), never shared
 * tables. */
#ifndef SG_SIGNALR_SR_INTERNAL_H
#define SG_SIGNALR_SR_INTERNAL_H

#include "signalr/signalr.h"
#include "signalr/sr_tokcache.h"

#include "net/http.h"
#include "net/ws.h"
#include "sg_buf.h"
#include "sg_rcbuf.h"

#include <stddef.h>
#include <stdint.h>

/* ---- intrusive lists ------------------------------------------------------------------ */

typedef struct sr_link {
    struct sr_link *prev, *next;
} sr_link;

static inline void sr_list_init(sr_link *h)
{
    h->prev = h->next = h;
}
static inline int sr_list_empty(const sr_link *h)
{
    return h->next == h;
}
static inline void sr_list_push(sr_link *h, sr_link *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
/* Unlinks n (safe on a self-linked node). */
static inline void sr_list_del(sr_link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}
#define SR_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- string-keyed hash map (open addressing, linear probing, backward-shift delete) ----- */

typedef const char *(*sr_map_key_fn)(const void *val);

typedef struct sr_map_slot {
    uint32_t hash;
    void *val; /* NULL = empty */
} sr_map_slot;

typedef struct sr_map {
    sr_map_slot *slots;
    size_t cap; /* power of two or 0 */
    size_t n;
    sr_map_key_fn key; /* key of a stored value (NUL-terminated, owned by the value) */
    uint32_t seed;
} sr_map;

void sr_map_init(sr_map *m, sr_map_key_fn key, uint32_t seed);
void sr_map_free(sr_map *m); /* frees the table, not the values */
void *sr_map_get(const sr_map *m, const char *k, size_t n);
/* Inserts val (its key must not be present). SG_OK or SG_ENOMEM. */
int sr_map_put(sr_map *m, void *val);
/* Removes and returns the value with key k (NULL if absent). */
void *sr_map_del(sr_map *m, const char *k, size_t n);
uint32_t sr_hash(const char *k, size_t n, uint32_t seed);

/* Remembered RBAC decisions of the ctx (sr_authz.h). */
typedef struct sr_authz_cache {
    sr_map map; /* key "oid\ntid\naction" -> entry */
    uint64_t hits, misses;
} sr_authz_cache;

/* ---- hub state ------------------------------------------------------------------------- */

typedef struct sr_conn sr_conn;
typedef struct sr_hub sr_hub;

typedef struct sr_group {
    sr_link members; /* sr_member.in_group */
    size_t n;
    uint32_t pins; /* iterations in progress: not freed while > 0 */
    char name[];
} sr_group;

typedef struct sr_member {
    sr_link in_group;
    struct sr_member *next_of_conn;
    sr_group *g;
    sr_conn *c;
} sr_member;

/* A user's group membership (REST "add user to group"), applied to every connection of the
 * user, present and future, until it expires (expires_ms 0 = never). */
typedef struct sr_ugroup {
    struct sr_ugroup *next;
    uint64_t expires_ms; /* sg_mono_ms() deadline */
    char name[];
} sr_ugroup;

typedef struct sr_user {
    sr_link conns; /* sr_conn.user_link */
    size_t nconns;
    uint32_t pins;
    sr_ugroup *groups;
    char id[];
} sr_user;

struct sr_hub {
    sr_link conns; /* connected (handshake done) connections, sr_conn.hub_link */
    size_t nconns;
    sr_link servers; /* app-server connections able to carry clients (sr_sconn.hub_link) */
    size_t nservers;
    size_t refs; /* connections attached (any state) */
    sr_map users;
    sr_map groups;
    struct sr_hubs *owner;
    char name[]; /* lower-case, application-prefixed */
};

/* Hub indexes need only these fields of a connection; unit tests build bare sr_conn's. */
typedef struct sr_hubs {
    sr_map hubs;
    uint32_t seed;
} sr_hubs;

void sr_hubs_init(sr_hubs *h, uint32_t seed);
/* Frees every hub, user, group and membership (connections must already be detached). */
void sr_hubs_free(sr_hubs *h);
sr_hub *sr_hub_get(sr_hubs *h, const char *name);
/* Finds or creates; NULL on OOM. The hub stays while it has refs, connections, users with
 * group memberships or groups; sr_hub_maybe_free() frees it once it has none. */
sr_hub *sr_hub_obtain(sr_hubs *h, const char *name);
void sr_hub_maybe_free(sr_hub *hub);

/* Adds c (whose hub field is set and user_id may be NULL) to the hub's connected set and
 * its user's set, joining the user's groups. SG_OK / SG_ENOMEM. */
int sr_hub_join(sr_hub *hub, sr_conn *c, const char *user_id);
/* Removes c from the hub, its user and all its groups. Idempotent. */
void sr_hub_leave(sr_conn *c);

int sr_group_add(sr_hub *hub, sr_conn *c, const char *group);    /* SG_OK (also if member) */
int sr_group_remove(sr_hub *hub, sr_conn *c, const char *group); /* SG_OK / SG_ENOTFOUND */
void sr_group_remove_all(sr_conn *c);
int sr_conn_in_group(const sr_conn *c, const char *group);
sr_group *sr_group_get(sr_hub *hub, const char *name);

sr_user *sr_user_get(sr_hub *hub, const char *id);
/* ttl_s <= 0: no expiry. Adds all current connections of the user, remembers for future
 * ones (creates the user record if needed). SG_OK / SG_ENOMEM. */
int sr_user_group_add(sr_hub *hub, const char *user, const char *group, int64_t ttl_s,
                      uint64_t now_ms);
/* SG_OK if removed, SG_ENOTFOUND if the user was not in the group. */
int sr_user_group_remove(sr_hub *hub, const char *user, const char *group);
void sr_user_group_remove_all(sr_hub *hub, const char *user);
int sr_user_in_group(sr_hub *hub, const char *user, const char *group, uint64_t now_ms);
/* Drops expired user-group memberships (and the matching connection memberships). */
void sr_hub_expire(sr_hub *hub, uint64_t now_ms);

/* Recipient selection. `excluded` = connection ids never visited. fn is called once per
 * recipient; it must not free connections (closing is fine: it only unlinks the current
 * one). Returns the number of recipients. */
typedef void (*sr_visit_fn)(sr_conn *c, void *ud);
typedef struct sr_excl {
    char **ids;
    size_t n;
} sr_excl;
size_t sr_hub_each(sr_hub *hub, const sr_excl *ex, sr_visit_fn fn, void *ud);
size_t sr_user_each(sr_hub *hub, const char *user, const sr_excl *ex, sr_visit_fn fn, void *ud);
size_t sr_group_each(sr_hub *hub, const char *group, const sr_excl *ex, sr_visit_fn fn, void *ud);
int sr_excl_has(const sr_excl *ex, const char *id);

/* ---- messages: one payload per hub protocol, frames built once and shared -------------- */

enum { SR_PROTO_NONE = 0, SR_PROTO_JSON = 1, SR_PROTO_MSGPACK = 2, SR_PROTO_N = 3 };

typedef struct sr_msg {
    sg_rcbuf *payload[SR_PROTO_N]; /* framed hub message (json + 0x1E / VarInt + msgpack) */
    sg_rcbuf *ws[SR_PROTO_N];      /* WebSocket frame of payload[p], built on first use */
    sg_rcbuf *sse;                 /* "data: ...\n\n" of the json payload, built on first use */
    int trackable;                 /* counts for stateful reconnect (Invocation, Completion...) */
} sr_msg;

void sr_msg_release(sr_msg *m);
/* Frame builders (NULL on OOM / missing payload). */
sg_rcbuf *sr_msg_ws(sr_msg *m, int proto);
sg_rcbuf *sr_msg_sse(sr_msg *m);

/* ---- connections ----------------------------------------------------------------------- */

enum {
    SR_ST_NEGOTIATED = 0, /* negotiate done, no transport yet */
    SR_ST_HANDSHAKE,      /* transport attached, waiting for the hub handshake */
    SR_ST_CONNECTED,      /* handshake done, member of its hub */
    SR_ST_RECONNECTING,   /* stateful: WebSocket lost, waiting for the same token */
    SR_ST_CLOSED,         /* out of every index; lingering until transports are released */
};

enum { SR_T_NONE = 0, SR_T_WS = 1, SR_T_SSE = 2, SR_T_LP = 4 };

enum {
    SR_F_STATEFUL_OFFERED = 1, /* negotiate answered useStatefulReconnect */
    SR_F_STATEFUL = 2,         /* handshake version >= 2 on WebSockets: Ack/Sequence on */
    SR_F_NEGOTIATE_V1 = 4,
    SR_F_WANT_ACK = 8,      /* inbound trackable messages not acknowledged yet */
    SR_F_FREE_SOON = 16,    /* freed by the next tick once no transport holds it */
    SR_F_DEFAULT = 32,      /* Default mode: bytes go to an app server, it answers */
    SR_F_SILENT_CLOSE = 64, /* the app server already sent the Close message */
};

typedef struct sr_sconn sr_sconn;

/* What OpenConnection needs, kept from negotiate/connect until it is sent (Default mode). */
typedef struct sr_pending_open {
    void *claims; /* json_t*, owned */
    char *query;  /* the transport request's query string */
} sr_pending_open;

typedef struct sr_qnode {
    struct sr_qnode *next;
    sg_rcbuf *b;
} sr_qnode;

/* Stateful reconnect: replay buffer of WebSocket frames not acknowledged by the client. */
typedef struct sr_replay {
    sr_qnode *head, *tail;
    uint64_t head_seq; /* sequence id of head */
    uint64_t next_seq; /* id of the next trackable message we send */
    size_t bytes;
    uint64_t in_next;   /* id the next inbound trackable message gets */
    uint64_t in_latest; /* highest inbound id processed */
    uint64_t in_acked;  /* last Ack we sent */
} sr_replay;

/* Long polling output queue. */
typedef struct sr_lpq {
    sr_qnode *head, *tail;
    size_t bytes;
} sr_lpq;

struct sr_conn {
    sr_link all_link;  /* sg_signalr.all */
    sr_link hub_link;  /* hub->conns while connected */
    sr_link user_link; /* user->conns */
    sg_signalr *s;
    sr_hub *hub;
    sr_user *user;
    sr_member *groups;
    sg_ws *ws;
    sg_http_req *sse;
    sg_http_req *poll;
    sr_lpq *lpq;
    sr_replay *replay;
    sg_buf *inbuf;         /* partial inbound message (rare), capped */
    char *uid;             /* user id from the token until the handshake joins the hub */
    sr_sconn *server;      /* Default mode: the app-server connection serving this client */
    sr_link server_link;   /* in server->clients */
    sr_pending_open *open; /* Default mode, until OpenConnection is sent */
    uint64_t state_ms, last_recv_ms, last_send_ms, poll_ms;
    uint8_t state, transport, protocol, flags;
    uint8_t allowed;       /* SR_T_* mask (asrs.s.htt) */
    uint8_t hs_timeout_s;  /* asrs.s.cht (1..30), 0 = the ctx default */
    uint16_t lp_ttl_s;     /* asrs.s.ttl (1..300): max seconds between polls, 0 = default */
    uint32_t auth_expires; /* asrs.s.coae + asrs.s.aeo: unix seconds, 0 = never */
    char id[23];           /* public connection id (base64url, 16 random bytes) */
    char token[44];        /* secret connection token (base64url, 32 random bytes) */
};

/* ---- the ctx ---------------------------------------------------------------------------- */

struct sg_signalr {
    uv_loop_t *loop;
    sg_http_server *http;
    char *resource_id, *name, *primary_key, *secondary_key;
    int serverless, disable_local_auth;
    size_t max_message, max_connections;
    uint32_t keepalive_ms, client_timeout_ms, handshake_timeout_ms;
    uint32_t reconnect_window_ms, poll_timeout_ms;
    size_t replay_max, lp_max, out_soft, out_hard;
    uint32_t out_grace_ms;
    struct sg_cloud *cloud;
    sr_hubs hubs;
    sr_map by_id, by_token;
    sr_link all;
    sr_link servers; /* every app-server connection (sr_sconn.all_link) */
    size_t nservers;
    sr_map tempkeys; /* kid -> sr_tempkey (sr_auth.c) */
    sr_tokcache tokcache; /* verified bearer tokens (sr_auth.c) */
    uint64_t entra_keys_gen; /* sg_cloud_signing_generation the cached Entra tokens met */
    sr_authz_cache authz; /* remembered RBAC decisions (sr_authz.c) */
    uint32_t ticks;
    size_t nconns; /* connections counted against max_connections */
    uv_timer_t tick;
    sr_msg ping; /* prebuilt Ping message */
    int stopping;
    void (*stop_done)(void *ud);
    void *stop_ud;
    uv_timer_t stop_timer;
    uint64_t stop_started_ms;
    int handles_open;
};

/* ---- cross-file helpers --------------------------------------------------------------- */

/* The loop's cached monotonic clock (ms): every timestamp of the data plane uses it, so a
 * broadcast does not read the clock once per recipient. */
static inline uint64_t sr_now(const sg_signalr *s)
{
    return uv_now(s->loop);
}

/* Hub name rules (swagger): ^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$ */
int sr_name_valid_hub(const char *s, size_t n);
/* group / user: 1..1024 bytes, not all whitespace */
int sr_name_valid_group(const char *s, size_t n);

/* Effective hub name from `hub` and optional `application` (both validated), lower-cased and
 * joined "app_hub" into out. SG_OK / SG_EINVAL. */
int sr_hub_key(const char *hub, const char *app, char *out, size_t outlen);
/* sr_hub_key() of the request's `hub` and `application` query parameters. SG_OK / SG_EINVAL
 * (missing or invalid name, no room in out). */
int sr_hub_key_from_query(const sg_http_req *r, char *out, size_t outlen);

/* http handlers */
void sr_client_handle(sg_signalr *s, sg_http_req *r, sg_slice sub); /* /client/... */
void sr_rest_handle(sg_signalr *s, sg_http_req *r);                 /* /api/... */

/* Responses (add CORS headers when the request has an Origin) */
int sr_respond(sg_http_req *r, int status, const char *ctype, const void *body, size_t n);
int sr_respond_ex(sg_http_req *r, int status, const char *ctype, const sg_http_header *h, size_t nh,
                  const void *body, size_t n);
int sr_stream_start(sg_http_req *r, int status, const char *ctype, const sg_http_header *h,
                    size_t nh);
void sr_respond_preflight(sg_http_req *r);

/* JSON error bodies */
void sr_respond_error(sg_http_req *r, int status, const char *code, const char *message,
                      const char *target);
void sr_respond_text(sg_http_req *r, int status, const char *text);

/* app-server connections (sr_server.c) */
void sr_server_handle(sg_signalr *s, sg_http_req *r); /* /server/?hub=..&cid=.. */
int sr_hub_has_server(const sr_hub *hub);
/* Client bytes in Default mode (handshake peeked, then forwarded as ConnectionData). */
void sr_server_client_data(sr_conn *c, const char *p, size_t n);
/* A Default-mode client closed: tells its app server, unlinks. */
void sr_server_client_closed(sr_conn *c, const char *error);
void sr_servers_tick(sg_signalr *s, uint64_t now);
void sr_servers_close_all(sg_signalr *s, int force);
void sr_pending_open_free(sr_pending_open *o);

/* connections */
sr_conn *sr_conn_by_id(sg_signalr *s, const char *id);
/* Puts raw, already-framed bytes on c's transport (Default mode pass-through). */
int sr_conn_emit_raw(sr_conn *c, const void *p, size_t n);
/* Joins c to its hub as connected (handshake seen). SG_OK or SG_ENOMEM. */
int sr_conn_join(sr_conn *c, int protocol);
/* Sends m to c in its protocol/transport. 0 ok, negative: not delivered (closing / limits). */
int sr_conn_send(sr_conn *c, sr_msg *m);
/* Close with a hub Close message (error may be NULL) unless the handshake has not finished. */
void sr_conn_close(sr_conn *c, const char *error, int allow_reconnect);
void sr_conns_tick(sg_signalr *s, uint64_t now);
void sr_conns_close_all(sg_signalr *s, const char *error, int allow_reconnect);
/* Last resort at stop: closes and frees every connection, detaching transports. */
void sr_conns_free_all(sg_signalr *s);

#endif
