/* sr_util.c — JSON error responses, message frame builders. */
#include "sr_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_log.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>

void sr_respond_error(sg_http_req *r, int status, const char *code, const char *message,
                      const char *target)
{
    json_t *o = json_object();
    char *body = NULL;
    if (o) {
        json_object_set_new(o, "code", json_string(code ? code : "Error"));
        json_object_set_new(o, "message", json_string(message ? message : ""));
        if (target)
            json_object_set_new(o, "target", json_string(target));
        body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    sg_http_header h[1] = {{SG_SLICE_LIT("x-ms-error-code"), sg_slice_cstr(code ? code : "Error")}};
    sg_http_respond_ex(r, status, "application/json", h, 1, body ? body : "{}",
                       body ? strlen(body) : 2);
    free(body); /* jansson allocates with malloc */
}

void sr_respond_text(sg_http_req *r, int status, const char *text)
{
    sg_http_respond(r, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* ---- messages --------------------------------------------------------------------------- */

void sr_msg_release(sr_msg *m)
{
    for (int i = 0; i < SR_PROTO_N; i++) {
        sg_rcbuf_unref(m->payload[i]);
        sg_rcbuf_unref(m->ws[i]);
        m->payload[i] = m->ws[i] = NULL;
    }
    sg_rcbuf_unref(m->sse);
    m->sse = NULL;
}

sg_rcbuf *sr_msg_ws(sr_msg *m, int proto)
{
    if (proto <= SR_PROTO_NONE || proto >= SR_PROTO_N || !m->payload[proto])
        return NULL;
    if (!m->ws[proto])
        m->ws[proto] = sg_ws_frame_rc(proto == SR_PROTO_MSGPACK, m->payload[proto]->data,
                                      m->payload[proto]->len);
    return m->ws[proto];
}

sg_rcbuf *sr_msg_sse(sr_msg *m)
{
    if (m->sse)
        return m->sse;
    sg_rcbuf *p = m->payload[SR_PROTO_JSON];
    if (!p)
        return NULL;
    /* One event; every line of the payload gets its own "data: " prefix (EventSource joins
     * them with \n again). JSON we produce has no raw newlines; forwarded bytes might. */
    size_t lines = 1;
    for (uint32_t i = 0; i < p->len; i++)
        lines += p->data[i] == '\n';
    size_t len = p->len + lines * 6 + 2;
    sg_rcbuf *b = sg_rcbuf_new(len);
    if (!b)
        return NULL;
    char *o = b->data;
    memcpy(o, "data: ", 6);
    o += 6;
    for (uint32_t i = 0; i < p->len; i++) {
        char ch = p->data[i];
        if (ch == '\r')
            ch = ' ';
        *o++ = ch;
        if (ch == '\n') {
            memcpy(o, "data: ", 6);
            o += 6;
        }
    }
    *o++ = '\n';
    *o++ = '\n';
    b->len = (uint32_t)(o - b->data);
    b->data[b->len] = 0;
    m->sse = b;
    return b;
}
