/* sr_server.c — app-server connections (`/server/?hub=..&cid=..`, the Azure SignalR service
 * protocol, reference §2) and Default mode: clients are pinned to one app-server connection
 * of their hub; their bytes go to it as ConnectionData and its ConnectionData goes back to
 * them unchanged; the app server's multicast, group and close requests act on the hub
 * state exactly as the REST API does. */
#include "sr_auth.h"
#include "sr_internal.h"

#include "proto/handshake.h"
#include "proto/svcproto.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"
#include "sg_time.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SERVER_PING_MS 5000u
#define SERVER_TIMEOUT_MS 30000u
#define SERVER_MAX_FRAME (16u << 20)

enum { SC_HANDSHAKE = 0, SC_READY = 1, SC_CLOSED = 2 };

struct sr_sconn {
    sr_link all_link; /* s->servers */
    sr_link hub_link; /* hub->servers while READY and able to carry clients */
    sr_link clients;  /* sr_conn.server_link */
    size_t nclients;
    sg_signalr *s;
    sr_hub *hub;
    sg_ws *ws;
    sg_buf in;
    int state;
    int conn_type;
    uint64_t state_ms, last_recv_ms, last_send_ms;
    char server_id[128];
    char cid[64];
};

int sr_hub_has_server(const sr_hub *hub)
{
    return hub && hub->nservers > 0;
}

void sr_pending_open_free(sr_pending_open *o)
{
    if (!o)
        return;
    json_decref(o->claims);
    sg_free(o->query);
    sg_free(o);
}

/* ---- output ------------------------------------------------------------------------------- */

static int sc_send(sr_sconn *sc, const sg_svc_msg *m)
{
    if (!sc->ws || sc->state == SC_CLOSED)
        return SG_ECLOSED;
    sg_buf b;
    sg_buf_init(&b, 0);
    int rc = sg_svc_write(m, &b);
    if (rc == SG_OK)
        rc = sg_ws_send(sc->ws, 1, b.data, b.len);
    sg_buf_free(&b);
    if (rc == SG_OK)
        sc->last_send_ms = sr_now(sc->s);
    return rc;
}

static void sc_access_key(sr_sconn *sc, const sg_svc_msg *m);

static void sc_ack(sr_sconn *sc, int32_t ack_id, int found, const char *msg)
{
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_ACK;
    m.ack_id = ack_id;
    m.status = found ? SG_SVC_ACK_OK : SG_SVC_ACK_NOT_FOUND;
    m.message = msg ? msg : "";
    m.n_elems = 5; /* 2024-03 layout: no payload element (older SDKs) */
    sc_send(sc, &m);
}

static void sc_ping(sr_sconn *sc, const char **strs, size_t n)
{
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_PING;
    m.ids = strs;
    m.n_ids = n;
    sc_send(sc, &m);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void sc_unlink_hub(sr_sconn *sc)
{
    if (sc->hub_link.next != &sc->hub_link) {
        sr_list_del(&sc->hub_link);
        sc->hub->nservers--;
    }
}

static void sc_close(sr_sconn *sc, const char *why)
{
    if (sc->state == SC_CLOSED)
        return;
    SG_LOGI("signalr", "event=server_disconnect hub=%s server=%s clients=%zu why=\"%s\"",
            sc->hub->name, sc->server_id, sc->nclients, why ? why : "");
    sc->state = SC_CLOSED;
    sc_unlink_hub(sc);
    /* its clients cannot be served any more */
    while (!sr_list_empty(&sc->clients)) {
        sr_conn *c = SR_CONTAINER(sc->clients.next, sr_conn, server_link);
        sr_list_del(&c->server_link);
        sc->nclients--;
        c->server = NULL;
        sr_conn_close(c, "The app server connection was lost.", 1);
    }
    if (sc->ws)
        sg_ws_close(sc->ws, 1000, "");
}

static void sc_free(sr_sconn *sc)
{
    sr_list_del(&sc->all_link);
    sc->s->nservers--;
    sc->hub->refs--;
    sr_hub_maybe_free(sc->hub);
    sg_buf_free(&sc->in);
    sg_free(sc);
}

/* ---- client side (Default mode) ------------------------------------------------------------- */

static sr_sconn *pick_server(sr_hub *hub)
{
    if (sr_list_empty(&hub->servers))
        return NULL;
    /* round robin: take the head, move it to the tail */
    sr_link *l = hub->servers.next;
    sr_list_del(l);
    sr_list_push(&hub->servers, l);
    return SR_CONTAINER(l, sr_sconn, hub_link);
}

static void claims_to_svc(json_t *claims, sg_svc_claim **out, size_t *n, char ***owned,
                          size_t *nowned)
{
    *out = NULL;
    *n = 0;
    *owned = NULL;
    *nowned = 0;
    if (!json_is_object(claims))
        return;
    size_t cap = 0;
    const char *k;
    json_t *v;
    json_object_foreach(claims, k, v)
    {
        size_t cnt = json_is_array(v) ? json_array_size(v) : 1;
        cap += cnt;
    }
    if (!cap)
        return;
    *out = sg_calloc(cap, sizeof(sg_svc_claim));
    *owned = sg_calloc(cap, sizeof(char *));
    if (!*out || !*owned) {
        sg_free(*out);
        sg_free(*owned);
        *out = NULL;
        *owned = NULL;
        return;
    }
    json_object_foreach(claims, k, v)
    {
        size_t cnt = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t i = 0; i < cnt; i++) {
            json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
            const char *val;
            if (json_is_string(e)) {
                val = json_string_value(e);
            } else {
                char *d = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
                if (!d)
                    continue;
                char *cp = sg_strdup(d);
                free(d); /* lint-ok: json_dumps memory (jansson uses malloc) */
                if (!cp)
                    continue;
                (*owned)[(*nowned)++] = cp;
                val = cp;
            }
            (*out)[*n].type = k;
            (*out)[*n].value = val;
            (*n)++;
        }
    }
}

static void send_open(sr_sconn *sc, sr_conn *c)
{
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_OPEN_CONNECTION;
    m.connection_id = c->id;
    sg_svc_claim *claims = NULL;
    size_t nclaims = 0;
    char **owned = NULL;
    size_t nowned = 0;
    if (c->open)
        claims_to_svc(c->open->claims, &claims, &nclaims, &owned, &nowned);
    m.claims = claims;
    m.n_claims = nclaims;
    m.query_string = c->open && c->open->query ? c->open->query : "";
    m.ext.protocol = c->protocol == SR_PROTO_MSGPACK ? "messagepack" : "json";
    sc_send(sc, &m);
    for (size_t i = 0; i < nowned; i++)
        sg_free(owned[i]);
    sg_free(owned);
    sg_free(claims);
    sr_pending_open_free(c->open);
    c->open = NULL;
}

static void send_data(sr_sconn *sc, sr_conn *c, const char *p, size_t n, int handshake)
{
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_CONNECTION_DATA;
    m.connection_id = c->id;
    m.payload = (const uint8_t *)p;
    m.payload_len = n;
    if (handshake)
        m.ext.data_type = SG_SVC_DATA_HANDSHAKE;
    sc_send(sc, &m);
}

void sr_server_client_data(sr_conn *c, const char *p, size_t n)
{
    sg_signalr *s = c->s;
    if (c->state == SR_ST_CONNECTED) {
        if (c->server)
            send_data(c->server, c, p, n, 0);
        return;
    }
    if (c->state != SR_ST_HANDSHAKE)
        return;
    /* peek at the handshake for the protocol; the app server answers it */
    const char *buf = p;
    size_t len = n;
    if (c->inbuf && c->inbuf->len) {
        if (c->inbuf->len + n > SG_HANDSHAKE_MAX || sg_buf_append(c->inbuf, p, n) != SG_OK) {
            sr_conn_close(c, NULL, 0);
            return;
        }
        buf = c->inbuf->data;
        len = c->inbuf->len;
    }
    sg_handshake_req req;
    size_t used = 0;
    const char *why = NULL;
    int rc = sg_handshake_parse_request(buf, len, SG_HANDSHAKE_MAX, &req, &used, &why);
    if (rc == SG_EAGAIN) {
        if (!c->inbuf) {
            c->inbuf = SG_NEW(sg_buf);
            if (!c->inbuf || (sg_buf_init(c->inbuf, 0), sg_buf_append(c->inbuf, p, n)) != SG_OK) {
                sr_conn_close(c, NULL, 0);
                return;
            }
        }
        return;
    }
    if (rc != SG_OK) {
        SG_LOGI("signalr", "event=handshake_refused conn=%s reason=\"%s\"", c->id, why ? why : "");
        sr_conn_close(c, NULL, 0);
        return;
    }
    sr_sconn *sc = pick_server(c->hub);
    if (!sc) {
        /* the last app server went away between negotiate and handshake */
        sg_buf e;
        sg_buf_init(&e, 0);
        sg_handshake_write_error(&e,
                                 "SignalR Service is now in 'Default' service mode. Current mode "
                                 "works as a proxy that routes client traffic to the connected app "
                                 "servers. However app servers are not connected.");
        c->protocol = SR_PROTO_JSON;
        sr_conn_emit_raw(c, e.data, e.len);
        sg_buf_free(&e);
        sr_conn_close(c, NULL, 0);
        return;
    }
    int proto = req.protocol == SG_HUB_PROTO_MSGPACK ? SR_PROTO_MSGPACK : SR_PROTO_JSON;
    if (sr_conn_join(c, proto) != SG_OK) {
        sr_conn_close(c, "Out of memory.", 0);
        return;
    }
    c->server = sc;
    sr_list_push(&sc->clients, &c->server_link);
    sc->nclients++;
    send_open(sc, c);
    send_data(sc, c, buf, len, 1);
    if (c->inbuf) {
        sg_buf_free(c->inbuf);
        sg_free(c->inbuf);
        c->inbuf = NULL;
    }
    (void)s;
}

void sr_server_client_closed(sr_conn *c, const char *error)
{
    sr_sconn *sc = c->server;
    if (!sc)
        return;
    sr_list_del(&c->server_link);
    sc->nclients--;
    c->server = NULL;
    sg_svc_msg m;
    sg_svc_msg_init(&m);
    m.type = SG_SVC_CLOSE_CONNECTION;
    m.connection_id = c->id;
    m.error_message = error ? error : "";
    sc_send(sc, &m);
}

/* ---- messages from the app server --------------------------------------------------------- */

static sr_conn *hub_conn(sr_sconn *sc, const char *id)
{
    if (!id)
        return NULL;
    sr_conn *c = sr_conn_by_id(sc->s, id);
    if (!c || c->hub != sc->hub || c->state == SR_ST_CLOSED)
        return NULL;
    return c;
}

static int msg_from_payloads(const sg_svc_msg *m, sr_msg *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < m->n_payloads; i++) {
        const sg_svc_payload *p = &m->payloads[i];
        int k = !p->protocol                                  ? SR_PROTO_NONE
                : strcasecmp(p->protocol, "json") == 0        ? SR_PROTO_JSON
                : strcasecmp(p->protocol, "messagepack") == 0 ? SR_PROTO_MSGPACK
                                                              : SR_PROTO_NONE;
        if (k == SR_PROTO_NONE || out->payload[k] || !p->len)
            continue;
        out->payload[k] = sg_rcbuf_from(p->data, p->len);
        if (!out->payload[k])
            return SG_ENOMEM;
    }
    return SG_OK;
}

static void deliver(sr_conn *c, void *ud)
{
    sr_conn_send(c, ud);
}

typedef struct gb_ctx {
    sr_msg *m;
    const char **xusers;
    size_t nx;
} gb_ctx;

static void deliver_unless_user(sr_conn *c, void *ud)
{
    gb_ctx *g = ud;
    for (size_t i = 0; i < g->nx; i++) {
        if (c->user && g->xusers[i] && strcmp(c->user->id, g->xusers[i]) == 0)
            return;
    }
    sr_conn_send(c, g->m);
}

static void close_visit(sr_conn *c, void *ud)
{
    sr_conn_close(c, ud, 0);
}

static void on_ping(sr_sconn *sc, const sg_svc_msg *m)
{
    const char *v;
    if ((v = sg_svc_ping_get(m, "echo")) != NULL) {
        const char *strs[2] = {"echo", v};
        sc_ping(sc, strs, 2);
    } else if (sg_svc_ping_get(m, "status")) {
        const char *strs[2] = {"status", sc->hub->nconns ? "1" : "0"};
        sc_ping(sc, strs, 2);
    } else if (sg_svc_ping_get(m, "servers")) {
        sg_buf b;
        sg_buf_init(&b, 0);
        sg_buf_appendf(&b, "%lld:", (long long)sg_unix_ms() * 10000LL);
        int first = 1;
        for (sr_link *l = sc->s->servers.next; l != &sc->s->servers; l = l->next) {
            sr_sconn *o = SR_CONTAINER(l, sr_sconn, all_link);
            if (o->hub != sc->hub || o->state != SC_READY || !o->server_id[0])
                continue;
            sg_buf_appendf(&b, "%s%s", first ? "" : ";", o->server_id);
            first = 0;
        }
        const char *strs[2] = {"servers", b.data ? b.data : ""};
        sc_ping(sc, strs, 2);
        sg_buf_free(&b);
    } else if ((v = sg_svc_ping_get(m, "shutdown")) != NULL) {
        /* graceful shutdown: stop routing new clients to it, acknowledge */
        sc_unlink_hub(sc);
        const char *strs[2] = {"shutdown", "finack"};
        sc_ping(sc, strs, 2);
        if (strcmp(v, "fin:0") == 0 || strcmp(v, "fin:1") == 0) {
            while (!sr_list_empty(&sc->clients)) {
                sr_conn *c = SR_CONTAINER(sc->clients.next, sr_conn, server_link);
                sr_list_del(&c->server_link);
                sc->nclients--;
                c->server = NULL;
                sr_conn_close(c, "The app server is shutting down.", 1);
            }
        }
    }
}

static void on_handshake(sr_sconn *sc, const sg_svc_msg *m)
{
    sg_svc_msg r;
    sg_svc_msg_init(&r);
    r.type = SG_SVC_HANDSHAKE_RESPONSE;
    if (m->type != SG_SVC_HANDSHAKE_REQUEST || m->version != 1) {
        r.error_message = m->type != SG_SVC_HANDSHAKE_REQUEST ? "Expected a handshake request."
                                                              : "Protocol version not supported.";
        sc_send(sc, &r);
        sc_close(sc, r.error_message);
        return;
    }
    r.error_message = "";
    sc_send(sc, &r);
    sc->conn_type = m->connection_type;
    sc->state = SC_READY;
    sc->state_ms = sr_now(sc->s);
    if (sc->conn_type != SG_SVC_CONN_WEAK && sc->hub_link.next == &sc->hub_link) {
        sr_list_push(&sc->hub->servers, &sc->hub_link);
        sc->hub->nservers++;
    }
    SG_LOGI("signalr", "event=server_connect hub=%s server=%s cid=%s type=%d", sc->hub->name,
            sc->server_id, sc->cid, sc->conn_type);
}

static void on_message(sr_sconn *sc, const sg_svc_msg *m)
{
    sr_hub *hub = sc->hub;
    uint64_t now = sr_now(sc->s);
    sr_msg msg;
    switch (m->type) {
    case SG_SVC_PING:
        on_ping(sc, m);
        break;
    case SG_SVC_CONNECTION_DATA:
    case SG_SVC_CLIENT_INVOCATION: {
        sr_conn *c = hub_conn(sc, m->connection_id);
        if (!c)
            break;
        if (m->type == SG_SVC_CONNECTION_DATA) {
            if (m->payload_len)
                sr_conn_emit_raw(c, m->payload, m->payload_len);
        } else {
            const sg_svc_payload *p =
                sg_svc_payload_find(m, c->protocol == SR_PROTO_MSGPACK ? "messagepack" : "json");
            if (p && p->len)
                sr_conn_emit_raw(c, p->data, p->len);
        }
        break;
    }
    case SG_SVC_CLOSE_CONNECTION: {
        sr_conn *c = hub_conn(sc, m->connection_id);
        if (c) {
            c->flags |= SR_F_SILENT_CLOSE; /* the app server sent its own Close message */
            if (c->server == sc) {
                sr_list_del(&c->server_link);
                sc->nclients--;
                c->server = NULL;
            }
            sr_conn_close(c, m->error_message && *m->error_message ? m->error_message : NULL, 0);
        }
        break;
    }
    case SG_SVC_MULTI_CONNECTION_DATA:
    case SG_SVC_USER_DATA:
    case SG_SVC_MULTI_USER_DATA:
    case SG_SVC_BROADCAST_DATA:
    case SG_SVC_GROUP_BROADCAST_DATA:
    case SG_SVC_MULTI_GROUP_BROADCAST_DATA: {
        if (msg_from_payloads(m, &msg) != SG_OK) {
            sr_msg_release(&msg);
            break;
        }
        sr_excl ex = {(char **)m->ids, m->n_ids};
        if (m->type == SG_SVC_BROADCAST_DATA) {
            sr_hub_each(hub, &ex, deliver, &msg);
        } else if (m->type == SG_SVC_MULTI_CONNECTION_DATA) {
            for (size_t i = 0; i < m->n_ids; i++) {
                sr_conn *c = hub_conn(sc, m->ids[i]);
                if (c)
                    sr_conn_send(c, &msg);
            }
        } else if (m->type == SG_SVC_USER_DATA) {
            if (m->user_id)
                sr_user_each(hub, m->user_id, NULL, deliver, &msg);
        } else if (m->type == SG_SVC_MULTI_USER_DATA) {
            for (size_t i = 0; i < m->n_ids; i++)
                if (m->ids[i])
                    sr_user_each(hub, m->ids[i], NULL, deliver, &msg);
        } else if (m->type == SG_SVC_GROUP_BROADCAST_DATA) {
            gb_ctx g = {&msg, m->excluded_user_ids, m->n_excluded_user_ids};
            if (m->group_name)
                sr_group_each(hub, m->group_name, &ex, deliver_unless_user, &g);
        } else {
            /* several groups: a connection in two of them gets the message once */
            for (size_t i = 0; i < m->n_ids; i++) {
                if (!m->ids[i])
                    continue;
                sr_group *g = sr_group_get(hub, m->ids[i]);
                if (!g)
                    continue;
                for (sr_link *l = g->members.next; l != &g->members;) {
                    sr_link *next = l->next;
                    sr_conn *c = SR_CONTAINER(l, sr_member, in_group)->c;
                    int dup = 0;
                    for (size_t j = 0; j < i && !dup; j++)
                        dup = m->ids[j] && sr_conn_in_group(c, m->ids[j]);
                    if (!dup)
                        sr_conn_send(c, &msg);
                    l = next;
                }
            }
        }
        sr_msg_release(&msg);
        break;
    }
    case SG_SVC_JOIN_GROUP:
    case SG_SVC_LEAVE_GROUP:
    case SG_SVC_JOIN_GROUP_WITH_ACK:
    case SG_SVC_LEAVE_GROUP_WITH_ACK: {
        sr_conn *c = hub_conn(sc, m->connection_id);
        int ok = c && m->group_name && sr_name_valid_group(m->group_name, strlen(m->group_name));
        if (ok) {
            if (m->type == SG_SVC_JOIN_GROUP || m->type == SG_SVC_JOIN_GROUP_WITH_ACK)
                ok = sr_group_add(hub, c, m->group_name) == SG_OK;
            else
                sr_group_remove(hub, c, m->group_name);
        }
        if (m->type == SG_SVC_JOIN_GROUP_WITH_ACK || m->type == SG_SVC_LEAVE_GROUP_WITH_ACK)
            sc_ack(sc, m->ack_id, ok, ok ? "" : "The connection does not exist.");
        break;
    }
    case SG_SVC_USER_JOIN_GROUP:
    case SG_SVC_USER_LEAVE_GROUP:
    case SG_SVC_USER_JOIN_GROUP_WITH_ACK:
    case SG_SVC_USER_LEAVE_GROUP_WITH_ACK: {
        int join = m->type == SG_SVC_USER_JOIN_GROUP || m->type == SG_SVC_USER_JOIN_GROUP_WITH_ACK;
        int ok = m->user_id && sr_name_valid_group(m->user_id, strlen(m->user_id)) &&
                 (!m->group_name || sr_name_valid_group(m->group_name, strlen(m->group_name)));
        if (ok && join && m->group_name)
            ok = sr_user_group_add(hub, m->user_id, m->group_name, m->ext.has_ttl ? m->ext.ttl : 0,
                                   now) == SG_OK;
        else if (ok && m->group_name)
            sr_user_group_remove(hub, m->user_id, m->group_name);
        else if (ok)
            sr_user_group_remove_all(hub, m->user_id);
        if (m->type == SG_SVC_USER_JOIN_GROUP_WITH_ACK ||
            m->type == SG_SVC_USER_LEAVE_GROUP_WITH_ACK)
            sc_ack(sc, m->ack_id, ok, "");
        break;
    }
    case SG_SVC_CHECK_USER_IN_GROUP_WITH_ACK:
        sc_ack(sc, m->ack_id,
               m->user_id && m->group_name && sr_user_in_group(hub, m->user_id, m->group_name, now),
               "");
        break;
    case SG_SVC_CHECK_GROUP_EXISTENCE_WITH_ACK: {
        sr_group *g = m->group_name ? sr_group_get(hub, m->group_name) : NULL;
        sc_ack(sc, m->ack_id, g && g->n, "");
        break;
    }
    case SG_SVC_CHECK_CONNECTION_EXISTENCE_WITH_ACK: {
        sr_conn *c = hub_conn(sc, m->connection_id);
        sc_ack(sc, m->ack_id, c && c->state != SR_ST_NEGOTIATED && c->state != SR_ST_HANDSHAKE, "");
        break;
    }
    case SG_SVC_CHECK_USER_EXISTENCE_WITH_ACK: {
        sr_user *u = m->user_id ? sr_user_get(hub, m->user_id) : NULL;
        sc_ack(sc, m->ack_id, u && u->nconns, "");
        break;
    }
    case SG_SVC_CLOSE_CONNECTION_WITH_ACK: {
        sr_conn *c = hub_conn(sc, m->connection_id);
        if (c)
            sr_conn_close(c, m->reason, 0);
        sc_ack(sc, m->ack_id, c != NULL, "");
        break;
    }
    case SG_SVC_CLOSE_CONNECTIONS_WITH_ACK:
    case SG_SVC_CLOSE_USER_CONNECTIONS_WITH_ACK:
    case SG_SVC_CLOSE_GROUP_CONNECTIONS_WITH_ACK: {
        sr_excl ex = {(char **)m->ids, m->n_ids};
        const char *reason = m->reason;
        if (m->type == SG_SVC_CLOSE_CONNECTIONS_WITH_ACK)
            sr_hub_each(hub, &ex, close_visit, (void *)reason);
        else if (m->type == SG_SVC_CLOSE_USER_CONNECTIONS_WITH_ACK && m->user_id)
            sr_user_each(hub, m->user_id, &ex, close_visit, (void *)reason);
        else if (m->group_name)
            sr_group_each(hub, m->group_name, &ex, close_visit, (void *)reason);
        sc_ack(sc, m->ack_id, 1, "");
        break;
    }
    case SG_SVC_ACCESS_KEY_REQUEST:
        sc_access_key(sc, m);
        break;
    case SG_SVC_HANDSHAKE_REQUEST:
        break; /* a second handshake: ignore */
    default:
        /* ClientCompletion / ErrorCompletion (single instance: nothing to route), flow
         * control, unknown types: ignored, as the SDK ignores what it does not know */
        break;
    }
}

/* In-band AccessKeyRequest (28): the same check as GET /api/v1/auth/accessKey (the Entra
 * token must carry auth/accessKey/action on this resource), answered with AccessKeyResponse
 * (29): [kid, key] or [nil, nil, errorType, errorMessage] where the message says why. */
static void sc_access_key(sr_sconn *sc, const sg_svc_msg *m)
{
    sr_auth_fail f;
    sg_svc_msg r;
    char msg[sizeof f.message + sizeof f.hint + 4];
    memset(&f, 0, sizeof f);
    sg_svc_msg_init(&r);
    r.type = SG_SVC_ACCESS_KEY_RESPONSE;
    const char *tok = m->token ? m->token : "";
    const sr_tempkey *k = NULL;
    int rc = sr_tempkey_for_entra(sc->s, tok, strlen(tok), &k, &f);
    if (rc == SG_OK) {
        r.kid = k->kid;
        r.access_key = k->key;
        sc_send(sc, &r);
        return;
    }
    if (rc != SG_EAUTH && rc != SG_EPERM)
        snprintf(f.message, sizeof f.message, "No temporary key could be issued right now.");
    snprintf(msg, sizeof msg, "%s%s%s", f.message, f.hint[0] ? " " : "", f.hint);
    r.error_type = f.status == 403 ? "AzureSignalRAccessTokenNotAuthorizedException"
                                   : "UnauthorizedAccessException";
    r.error_message = msg;
    sc_send(sc, &r);
}

/* ---- WebSocket callbacks ------------------------------------------------------------------- */

static void sc_on_message(sg_ws *ws, int binary, const char *p, size_t n, void *ud)
{
    (void)ws;
    (void)binary;
    sr_sconn *sc = ud;
    if (!sc || sc->state == SC_CLOSED)
        return;
    sc->last_recv_ms = sr_now(sc->s);
    if (sg_buf_append(&sc->in, p, n) != SG_OK) {
        sc_close(sc, "input buffer limit");
        return;
    }
    size_t off = 0;
    while (off < sc->in.len && sc->state != SC_CLOSED) {
        sg_svc_msg m;
        sg_svc_msg_init(&m);
        size_t used = 0;
        const char *why = NULL;
        int rc =
            sg_svc_parse(sc->in.data + off, sc->in.len - off, SERVER_MAX_FRAME, &m, &used, &why);
        if (rc == SG_EAGAIN) {
            sg_svc_msg_clear(&m);
            break;
        }
        if (rc != SG_OK) {
            sg_svc_msg_clear(&m);
            SG_LOGW("signalr", "event=server_bad_message server=%s rc=%s why=\"%s\"", sc->server_id,
                    sg_strerror(rc), why ? why : "");
            sc_close(sc, "malformed service message");
            break;
        }
        off += used;
        if (sc->state == SC_HANDSHAKE)
            on_handshake(sc, &m);
        else
            on_message(sc, &m);
        sg_svc_msg_clear(&m);
    }
    if (sc->state != SC_CLOSED)
        sg_buf_consume(&sc->in, off);
}

static void sc_on_close(sg_ws *ws, uint16_t code, const char *reason, void *ud)
{
    (void)ws;
    (void)reason;
    sr_sconn *sc = ud;
    if (!sc)
        return;
    sc->ws = NULL;
    if (sc->state != SC_CLOSED) {
        char why[32];
        snprintf(why, sizeof why, "socket closed (%u)", code);
        sc_close(sc, why);
    }
    sc_free(sc);
}

/* ---- /server ------------------------------------------------------------------------------ */

void sr_server_handle(sg_signalr *s, sg_http_req *r)
{
    char hubkey[300];
    if (sr_hub_key_from_query(r, hubkey, sizeof hubkey) != SG_OK) {
        sr_respond_error(r, 400, "InvalidHubName",
                         "The 'hub' query parameter is missing or invalid.", "hub");
        return;
    }
    if (s->stopping) {
        sr_respond_error(r, 503, "ServiceUnavailable", "Service is shutting down.", NULL);
        return;
    }
    sr_auth_ctx ac = {SR_AUD_SERVER, hubkey,
                      "Microsoft.SignalRService/SignalR/serverConnection/write"};
    sr_principal pr;
    if (sr_auth_or_respond(s, r, &ac, &pr) != SG_OK)
        return;
    if (!sg_ws_is_upgrade(r)) {
        sr_principal_clear(&pr);
        sr_respond_error(r, 400, "BadRequest", "App server connections must be WebSockets.", NULL);
        return;
    }
    sr_sconn *sc = SG_NEW(sr_sconn);
    sr_hub *h = sr_hub_obtain(&s->hubs, hubkey);
    if (!sc || !h) {
        sg_free(sc);
        sr_principal_clear(&pr);
        sr_respond_error(r, 500, "InternalServerError", "Out of memory.", NULL);
        return;
    }
    sr_list_init(&sc->all_link);
    sr_list_init(&sc->hub_link);
    sr_list_init(&sc->clients);
    sg_buf_init(&sc->in, SERVER_MAX_FRAME + 16);
    sc->s = s;
    sc->hub = h;
    h->refs++;
    const sg_slice *sid = sg_http_req_header(r, "X-ASRS-Server-Id");
    const char *nameid = sr_principal_user(&pr);
    if (sid && sid->n)
        snprintf(sc->server_id, sizeof sc->server_id, "%.*s", (int)(sid->n > 127 ? 127 : sid->n),
                 sid->p);
    else if (nameid)
        snprintf(sc->server_id, sizeof sc->server_id, "%s", nameid);
    char *cid = sg_query_get(r->query, "cid");
    snprintf(sc->cid, sizeof sc->cid, "%s", cid ? cid : "");
    sg_free(cid);
    sr_principal_clear(&pr);
    sc->state_ms = sc->last_recv_ms = sc->last_send_ms = sr_now(s);
    sr_list_push(&s->servers, &sc->all_link);
    s->nservers++;
    sg_stream_limits lim = {s->out_soft * 4, s->out_grace_ms, s->out_hard * 4};
    sg_ws_opts o = {SERVER_MAX_FRAME + 64, &lim};
    sg_ws_cbs cbs = {sc_on_message, sc_on_close};
    if (sg_ws_accept(r, &o, &cbs, sc, &sc->ws) != SG_OK) {
        sc_free(sc);
        return;
    }
}

/* ---- timers / stop -------------------------------------------------------------------------- */

void sr_servers_tick(sg_signalr *s, uint64_t now)
{
    for (sr_link *l = s->servers.next; l != &s->servers;) {
        sr_link *next = l->next;
        sr_sconn *sc = SR_CONTAINER(l, sr_sconn, all_link);
        if (sc->state == SC_HANDSHAKE && now - sc->state_ms > SERVER_TIMEOUT_MS / 2)
            sc_close(sc, "handshake timeout");
        else if (sc->state == SC_READY && now - sc->last_recv_ms > SERVER_TIMEOUT_MS)
            sc_close(sc, "no message from the app server for 30 s");
        else if (sc->state == SC_READY && now - sc->last_send_ms >= SERVER_PING_MS)
            sc_ping(sc, NULL, 0);
        l = next;
    }
}

void sr_servers_close_all(sg_signalr *s, int force)
{
    for (sr_link *l = s->servers.next; l != &s->servers;) {
        sr_link *next = l->next;
        sr_sconn *sc = SR_CONTAINER(l, sr_sconn, all_link);
        sc_close(sc, "service stopping");
        if (force && sc->ws) {
            sg_ws_set_ud(sc->ws, NULL);
            sc->ws = NULL;
            sc_free(sc);
        }
        l = next;
    }
}
