/* sr_rest.c — data-plane REST API 2022-06-01 and v1 (reference §3): sends to hub / user /
 * connection / group (with `excluded`), closeConnections, existence checks (GET and HEAD),
 * group membership for connections and users (with `ttl`), health. */
#include "sr_auth.h"
#include "sr_internal.h"
#include "sr_route.h"

#include "proto/hub_msgpack.h"
#include "proto/hubmsg.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"
#include "sg_time.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ACT(x) "Microsoft.SignalRService/SignalR/" x

typedef struct rest {
    sg_signalr *s;
    sg_http_req *r;
    sr_route rt;
    char hubkey[300];
    sr_hub *hub; /* may be NULL: nobody connected to it yet */
    sr_excl ex;
    char *reason;
} rest;

static void excl_free(sr_excl *ex)
{
    for (size_t i = 0; i < ex->n; i++)
        sg_free(ex->ids[i]);
    sg_free(ex->ids);
    ex->ids = NULL;
    ex->n = 0;
}

static int excl_parse(sg_slice q, sr_excl *ex)
{
    size_t pos = 0, cap = 0;
    sg_slice k, v;
    while (sg_query_next(q, &pos, &k, &v)) {
        if (!sg_slice_eq(k, "excluded"))
            continue;
        if (ex->n == 10000)
            return SG_ETOOBIG;
        if (ex->n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            char **ni = sg_realloc(ex->ids, nc * sizeof(char *));
            if (!ni)
                return SG_ENOMEM;
            ex->ids = ni;
            cap = nc;
        }
        char *d = sg_url_decode(v.p, v.n, 1, NULL);
        if (!d)
            return SG_EINVAL;
        ex->ids[ex->n++] = d;
    }
    return SG_OK;
}

static void respond_empty(sg_http_req *r, int status)
{
    sr_respond(r, status, NULL, NULL, 0);
}

static void respond_notfound(sg_http_req *r, const char *code, const char *msg)
{
    sr_respond_error(r, 404, code, msg, NULL);
}

/* ---- payloads ----------------------------------------------------------------------------- */

static json_t *obj_get_ci(const json_t *o, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (strcasecmp(k, name) == 0)
            return v;
    }
    return NULL;
}

static int content_is(const sg_http_req *r, const char *type)
{
    const sg_slice *ct = sg_http_req_header(r, "Content-Type");
    if (!ct)
        return 0;
    size_t n = strlen(type);
    return ct->n >= n && strncasecmp(ct->p, type, n) == 0 &&
           (ct->n == n || ct->p[n] == ';' || ct->p[n] == ' ');
}

/* Builds the message to fan out from the request body. On failure responds 400 itself and
 * returns an error. */
static int payload_build(rest *x, sr_msg *m)
{
    sg_http_req *r = x->r;
    memset(m, 0, sizeof(*m));
    m->trackable = 1;
    if (content_is(r, "application/octet-stream") || content_is(r, "application/x-msgpack")) {
        /* MessagePack map: protocol name -> pre-framed hub message bytes, forwarded as is */
        json_t *v = NULL;
        size_t used = 0;
        if (sg_hub_msgpack_read_value(r->body.p, r->body.n, NULL, &v, &used) != SG_OK ||
            !json_is_object(v)) {
            json_decref(v);
            sr_respond_error(r, 400, "InvalidPayload",
                             "The binary body must be a MessagePack map of protocol name to bytes.",
                             "body");
            return SG_EINVAL;
        }
        const char *k;
        json_t *val;
        json_object_foreach(v, k, val)
        {
            int p = strcasecmp(k, "json") == 0          ? SR_PROTO_JSON
                    : strcasecmp(k, "messagepack") == 0 ? SR_PROTO_MSGPACK
                                                        : SR_PROTO_NONE;
            if (p == SR_PROTO_NONE)
                continue;
            uint8_t *bytes = NULL;
            size_t n = 0;
            int isbin = sg_hub_bin_get(val, &bytes, &n);
            if (isbin != 1) {
                if (json_is_string(val)) {
                    bytes = (uint8_t *)sg_memdup(json_string_value(val), json_string_length(val));
                    n = json_string_length(val);
                } else {
                    continue;
                }
            }
            if (bytes && n) {
                sg_rcbuf_unref(m->payload[p]);
                m->payload[p] = sg_rcbuf_from(bytes, n);
            }
            sg_free(bytes);
        }
        json_decref(v);
        if (!m->payload[SR_PROTO_JSON] && !m->payload[SR_PROTO_MSGPACK]) {
            sr_respond_error(r, 400, "InvalidPayload",
                             "The binary body has no 'json' or 'messagepack' payload.", "body");
            return SG_EINVAL;
        }
        return SG_OK;
    }
    json_error_t je;
    json_t *o = json_loadb(r->body.p, r->body.n, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        char msg[300];
        snprintf(msg, sizeof msg, "The request body is not valid JSON: %s (line %d, column %d).",
                 je.text, je.line, je.column);
        sr_respond_error(r, 400, "InvalidPayload", msg, "body");
        return SG_EINVAL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        sr_respond_error(
            r, 400, "InvalidPayload",
            "The request body must be a JSON object {\"target\":...,\"arguments\":[...]}.", "body");
        return SG_EINVAL;
    }
    json_t *target = obj_get_ci(o, "target");
    json_t *args = obj_get_ci(o, "arguments");
    if (!json_is_string(target) || json_string_length(target) == 0) {
        json_decref(o);
        sr_respond_error(r, 400, "InvalidPayload",
                         "The 'target' field is required and must be a non-empty string.",
                         "target");
        return SG_EINVAL;
    }
    json_t *empty = NULL;
    if (!args || json_is_null(args)) {
        empty = json_array();
        args = empty;
    } else if (!json_is_array(args)) {
        json_decref(o);
        sr_respond_error(r, 400, "InvalidPayload", "The 'arguments' field must be an array.",
                         "arguments");
        return SG_EINVAL;
    }
    int rc = sg_hub_invocation_encode(json_string_value(target), args, NULL,
                                      &m->payload[SR_PROTO_JSON], &m->payload[SR_PROTO_MSGPACK]);
    json_decref(empty);
    json_decref(o);
    if (rc != SG_OK) {
        sr_respond_error(r, rc == SG_ENOMEM ? 500 : 400, "InvalidPayload",
                         "The message could not be encoded.", "arguments");
        return rc;
    }
    return SG_OK;
}

static void deliver(sr_conn *c, void *ud)
{
    sr_conn_send(c, ud);
}

typedef struct closer {
    const char *reason;
} closer;

static void close_one(sr_conn *c, void *ud)
{
    closer *k = ud;
    sr_conn_close(c, k->reason, 0);
}

/* ---- handlers ----------------------------------------------------------------------------- */

static int check_name(rest *x, const char *v, const char *what)
{
    if (v && !sr_name_valid_group(v, strlen(v))) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "Invalid %s name: it must be 1..1024 characters and not only whitespace.", what);
        sr_respond_error(x->r, 400, "InvalidName", msg, what);
        return 0;
    }
    return 1;
}

static sr_conn *conn_in_hub(rest *x)
{
    sr_conn *c = sr_conn_by_id(x->s, x->rt.conn);
    if (!c || c->hub != x->hub || c->state == SR_ST_CLOSED)
        return NULL;
    return c;
}

static int is_send_kind(sr_route_kind k)
{
    return k == SR_R_HUB_SEND || k == SR_R_CONN_SEND || k == SR_R_GROUP_SEND || k == SR_R_USER_SEND;
}

static void do_send(rest *x, sr_route_kind k)
{
    sr_msg m;
    if (payload_build(x, &m) != SG_OK) {
        sr_msg_release(&m);
        return;
    }
    size_t n = 0;
    if (x->hub) {
        switch (k) {
        case SR_R_HUB_SEND:
            n = sr_hub_each(x->hub, &x->ex, deliver, &m);
            break;
        case SR_R_USER_SEND:
            n = sr_user_each(x->hub, x->rt.user, &x->ex, deliver, &m);
            break;
        case SR_R_GROUP_SEND:
            n = sr_group_each(x->hub, x->rt.group, &x->ex, deliver, &m);
            break;
        case SR_R_CONN_SEND: {
            sr_conn *c = conn_in_hub(x);
            if (c && c->state != SR_ST_NEGOTIATED && !sr_excl_has(&x->ex, c->id)) {
                sr_conn_send(c, &m);
                n = 1;
            }
            break;
        }
        default:
            break;
        }
    }
    sr_msg_release(&m);
    SG_LOGD("signalr", "event=rest_send route=%s hub=%s recipients=%zu", sr_route_name(k),
            x->hubkey, n);
    respond_empty(x->r, 202);
}

static const char *route_action(sr_route_kind k, sg_http_method m)
{
    int read = m == SG_HTTP_GET || m == SG_HTTP_HEAD;
    switch (k) {
    case SR_R_HUB:
    case SR_R_HUB_SEND:
        return ACT("hub/send/action");
    case SR_R_HUB_CLOSE:
    case SR_R_GROUP_CLOSE:
    case SR_R_USER_CLOSE:
        return ACT("clientConnection/write");
    case SR_R_CONN:
        return read                ? ACT("clientConnection/read")
               : m == SG_HTTP_POST ? ACT("clientConnection/send/action")
                                   : ACT("clientConnection/write");
    case SR_R_CONN_SEND:
        return ACT("clientConnection/send/action");
    case SR_R_GROUP:
        return read ? ACT("group/read") : ACT("group/send/action");
    case SR_R_GROUP_SEND:
        return ACT("group/send/action");
    case SR_R_USER:
        return read ? ACT("user/read") : ACT("user/send/action");
    case SR_R_USER_SEND:
        return ACT("user/send/action");
    case SR_R_USER_GROUP:
        return read ? ACT("group/read") : ACT("group/write");
    default:
        return ACT("group/write");
    }
}

static void method_not_allowed(sg_http_req *r)
{
    sr_respond_error(r, 405, "MethodNotAllowed", "The method is not allowed on this route.", NULL);
}

static void dispatch(rest *x)
{
    sg_http_req *r = x->r;
    sg_http_method m = r->method;
    int read = m == SG_HTTP_GET || m == SG_HTTP_HEAD;
    sr_route_kind k = x->rt.kind;
    uint64_t now = sr_now(x->s);

    /* v1 aliases: POST to the resource itself = send */
    if (m == SG_HTTP_POST) {
        if (k == SR_R_HUB)
            k = SR_R_HUB_SEND;
        else if (k == SR_R_CONN)
            k = SR_R_CONN_SEND;
        else if (k == SR_R_GROUP)
            k = SR_R_GROUP_SEND;
        else if (k == SR_R_USER)
            k = SR_R_USER_SEND;
    }
    if (is_send_kind(k)) {
        if (m != SG_HTTP_POST) {
            method_not_allowed(r);
            return;
        }
        do_send(x, k);
        return;
    }
    switch (k) {
    case SR_R_HUB_CLOSE:
    case SR_R_GROUP_CLOSE:
    case SR_R_USER_CLOSE: {
        if (m != SG_HTTP_POST) {
            method_not_allowed(r);
            return;
        }
        closer cl = {x->reason};
        if (x->hub) {
            if (k == SR_R_HUB_CLOSE)
                sr_hub_each(x->hub, &x->ex, close_one, &cl);
            else if (k == SR_R_GROUP_CLOSE)
                sr_group_each(x->hub, x->rt.group, &x->ex, close_one, &cl);
            else
                sr_user_each(x->hub, x->rt.user, &x->ex, close_one, &cl);
        }
        respond_empty(r, 204);
        return;
    }
    case SR_R_CONN: {
        sr_conn *c = x->hub ? conn_in_hub(x) : NULL;
        if (read) {
            if (c && c->state != SR_ST_NEGOTIATED)
                respond_empty(r, 200);
            else
                respond_notfound(r, "Warning.Connection.NotExisted",
                                 "The connection does not exist.");
            return;
        }
        if (m != SG_HTTP_DELETE) {
            method_not_allowed(r);
            return;
        }
        if (!c) {
            respond_notfound(r, "Warning.Connection.NotExisted", "The connection does not exist.");
            return;
        }
        sr_conn_close(c, x->reason, 0);
        respond_empty(r, 200);
        return;
    }
    case SR_R_CONN_GROUPS: {
        if (m != SG_HTTP_DELETE) {
            method_not_allowed(r);
            return;
        }
        sr_conn *c = x->hub ? conn_in_hub(x) : NULL;
        if (!c) {
            respond_notfound(r, "Error.Connection.NotExisted", "The connection does not exist.");
            return;
        }
        sr_group_remove_all(c);
        respond_empty(r, 200);
        return;
    }
    case SR_R_GROUP: {
        if (!read) {
            method_not_allowed(r);
            return;
        }
        sr_group *g = x->hub ? sr_group_get(x->hub, x->rt.group) : NULL;
        if (g && g->n)
            respond_empty(r, 200);
        else
            respond_notfound(r, "Warning.Group.NotExisted", "The group does not exist.");
        return;
    }
    case SR_R_GROUP_CONN: {
        if (m != SG_HTTP_PUT && m != SG_HTTP_DELETE) {
            method_not_allowed(r);
            return;
        }
        sr_conn *c = x->hub ? conn_in_hub(x) : NULL;
        if (!c || c->state == SR_ST_NEGOTIATED || c->state == SR_ST_HANDSHAKE) {
            respond_notfound(r, "Error.Connection.NotExisted", "The connection does not exist.");
            return;
        }
        if (m == SG_HTTP_PUT) {
            if (sr_group_add(x->hub, c, x->rt.group) != SG_OK) {
                sr_respond_error(r, 500, "InternalServerError", "Out of memory.", NULL);
                return;
            }
        } else {
            sr_group_remove(x->hub, c, x->rt.group);
        }
        respond_empty(r, 200);
        return;
    }
    case SR_R_USER: {
        if (!read) {
            method_not_allowed(r);
            return;
        }
        sr_user *u = x->hub ? sr_user_get(x->hub, x->rt.user) : NULL;
        if (u && u->nconns)
            respond_empty(r, 200);
        else
            respond_notfound(r, "Warning.User.NotExisted", "The user does not exist.");
        return;
    }
    case SR_R_USER_GROUPS:
        if (m != SG_HTTP_DELETE) {
            method_not_allowed(r);
            return;
        }
        if (x->hub)
            sr_user_group_remove_all(x->hub, x->rt.user);
        respond_empty(r, 204);
        return;
    case SR_R_USER_GROUP: {
        if (read) {
            if (x->hub && sr_user_in_group(x->hub, x->rt.user, x->rt.group, now))
                respond_empty(r, 200);
            else
                respond_notfound(r, "Info.User.NotInGroup", "The user is not in the group.");
            return;
        }
        if (m == SG_HTTP_PUT) {
            int64_t ttl = 0;
            char *t = sg_query_get(r->query, "ttl");
            if (t && (sg_parse_i64(t, strlen(t), &ttl) != SG_OK || ttl < 0 ||
                      ttl > 100LL * 365 * 86400)) {
                sg_free(t);
                sr_respond_error(r, 400, "InvalidTtl",
                                 "'ttl' must be a non-negative integer (seconds).", "ttl");
                return;
            }
            sg_free(t);
            if (!x->hub) {
                x->hub = sr_hub_obtain(&x->s->hubs, x->hubkey);
                if (x->hub)
                    x->hub->refs++; /* pinned like a looked-up hub */
            }
            if (!x->hub || sr_user_group_add(x->hub, x->rt.user, x->rt.group, ttl, now) != SG_OK) {
                sr_respond_error(r, 500, "InternalServerError", "Out of memory.", NULL);
                return;
            }
            respond_empty(r, 200);
            return;
        }
        if (m != SG_HTTP_DELETE) {
            method_not_allowed(r);
            return;
        }
        if (x->hub)
            sr_user_group_remove(x->hub, x->rt.user, x->rt.group);
        respond_empty(r, 204);
        return;
    }
    default:
        sr_respond_error(r, 404, "NotFound", "Not found.", NULL);
        return;
    }
}

void sr_rest_handle(sg_signalr *s, sg_http_req *r)
{
    rest x;
    memset(&x, 0, sizeof x);
    x.s = s;
    x.r = r;
    if (sg_slice_eq(r->path, "/api/v1/auth/accessKey") ||
        sg_slice_eq(r->path, "/api/v1/auth/accesskey")) {
        sr_auth_access_key_endpoint(s, r); /* temporary keys for Entra principals */
        return;
    }
    int rc = sr_route_parse(r->path, &x.rt);
    if (rc == SG_ENOTFOUND) {
        sr_respond_error(r, 404, "NotFound", "No such REST API route.", NULL);
        return;
    }
    if (rc != SG_OK) {
        sr_respond_error(r, 400, "InvalidRequest", "The request path is malformed.", NULL);
        return;
    }
    if (x.rt.kind == SR_R_HEALTH) {
        if (r->method == SG_HTTP_GET || r->method == SG_HTTP_HEAD)
            respond_empty(r, 200);
        else
            method_not_allowed(r);
        goto done;
    }
    char *app = sg_query_get(r->query, "application");
    rc = sr_hub_key(x.rt.hub, app, x.hubkey, sizeof x.hubkey);
    int bad_app = app && *app && !sr_name_valid_hub(app, strlen(app));
    sg_free(app);
    if (rc != SG_OK) {
        sr_respond_error(
            r, 400, "InvalidHubName",
            bad_app
                ? "Invalid application name: it must match ^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$."
                : "Invalid hub name: it must match ^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$.",
            bad_app ? "application" : "hub");
        goto done;
    }
    if (!check_name(&x, x.rt.group, "group") || !check_name(&x, x.rt.user, "user"))
        goto done;
    sr_auth_ctx ac = {SR_AUD_REST, x.hubkey, route_action(x.rt.kind, r->method)};
    sr_principal pr;
    if (sr_auth_or_respond(s, r, &ac, &pr) != SG_OK)
        goto done;
    sr_principal_clear(&pr);
    rc = excl_parse(r->query, &x.ex);
    if (rc != SG_OK) {
        sr_respond_error(r, 400, "InvalidRequest", "Malformed 'excluded' query parameter.",
                         "excluded");
        goto done;
    }
    x.reason = sg_query_get(r->query, "reason");
    x.hub = sr_hub_get(&s->hubs, x.hubkey);
    if (x.hub)
        x.hub->refs++; /* pinned for the duration of the request */
    dispatch(&x);
    if (x.hub) {
        x.hub->refs--;
        sr_hub_maybe_free(x.hub);
    }
done:
    excl_free(&x.ex);
    sg_free(x.reason);
    sr_route_free(&x.rt);
}
