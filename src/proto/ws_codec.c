/* ws_codec.c — RFC 6455 framing, no I/O (see ws_codec.h). */
#include "proto/ws_codec.h"

#include "sg_err.h"
#include "sg_id.h"
#include "sg_str.h"

#include <string.h>

#define DEF_MAX_MESSAGE (1024 * 1024)

int sg_wsc_parse_header(const void *p, size_t n, sg_wsc_header *h)
{
    const uint8_t *b = p;
    if (n < 2)
        return SG_EAGAIN;
    h->fin = (uint8_t)(b[0] >> 7);
    h->rsv = (uint8_t)((b[0] >> 4) & 7);
    h->opcode = (uint8_t)(b[0] & 0x0f);
    h->masked = (uint8_t)(b[1] >> 7);
    uint64_t len = b[1] & 0x7f;
    size_t off = 2;
    if (len == 126) {
        if (n < 4)
            return SG_EAGAIN;
        len = (uint64_t)b[2] << 8 | b[3];
        off = 4;
        if (len < 126)
            return SG_EPROTO;
    } else if (len == 127) {
        if (n < 10)
            return SG_EAGAIN;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | b[2 + i];
        off = 10;
        if (len >> 63 || len <= 0xffff)
            return SG_EPROTO;
    }
    if (h->masked) {
        if (n < off + 4)
            return SG_EAGAIN;
        memcpy(h->mask, b + off, 4);
        off += 4;
    } else {
        memset(h->mask, 0, 4);
    }
    h->len = len;
    h->hdr_len = off;
    return SG_OK;
}

void sg_wsc_mask(void *p, size_t n, const uint8_t mask[4], uint64_t pos)
{
    uint8_t *b = p;
    size_t i = 0;
    /* byte-wise until the mask position is 0, then 8 bytes at a time */
    while (i < n && ((pos + i) & 3) != 0) {
        b[i] ^= mask[(pos + i) & 3];
        i++;
    }
    uint8_t m8[8];
    for (int j = 0; j < 8; j++)
        m8[j] = mask[j & 3];
    uint64_t mw;
    memcpy(&mw, m8, 8);
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        w ^= mw;
        memcpy(b + i, &w, 8);
    }
    for (; i < n; i++)
        b[i] ^= mask[(pos + i) & 3];
}

size_t sg_wsc_build_header(uint8_t *out, int fin, int opcode, uint64_t len, const uint8_t *mask)
{
    size_t o = 0;
    out[o++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    uint8_t mbit = mask ? 0x80 : 0;
    if (len < 126) {
        out[o++] = (uint8_t)(mbit | len);
    } else if (len <= 0xffff) {
        out[o++] = (uint8_t)(mbit | 126);
        out[o++] = (uint8_t)(len >> 8);
        out[o++] = (uint8_t)len;
    } else {
        out[o++] = (uint8_t)(mbit | 127);
        for (int i = 7; i >= 0; i--)
            out[o++] = (uint8_t)(len >> (8 * i));
    }
    if (mask) {
        memcpy(out + o, mask, 4);
        o += 4;
    }
    return o;
}

int sg_wsc_build_frame(sg_buf *out, int fin, int opcode, const void *p, size_t n,
                       const uint8_t *mask)
{
    uint8_t hdr[SG_WSC_MAX_HEADER];
    size_t hl = sg_wsc_build_header(hdr, fin, opcode, n, mask);
    int rc = sg_buf_reserve(out, hl + n);
    if (rc != SG_OK)
        return rc;
    sg_buf_append(out, hdr, hl);
    size_t at = out->len;
    if (n)
        sg_buf_append(out, p, n);
    if (mask && n)
        sg_wsc_mask(out->data + at, n, mask, 0);
    return SG_OK;
}

int sg_wsc_build_masked_frame(sg_buf *out, int fin, int opcode, const void *p, size_t n)
{
    uint8_t mask[4];
    if (sg_random_bytes(mask, sizeof mask) != 0)
        return SG_EIO;
    return sg_wsc_build_frame(out, fin, opcode, p, n, mask);
}

int sg_wsc_build_close(sg_buf *out, uint16_t code, const char *reason, const uint8_t *mask)
{
    uint8_t pl[SG_WSC_MAX_CONTROL];
    size_t n = 0;
    if (code) {
        pl[0] = (uint8_t)(code >> 8);
        pl[1] = (uint8_t)code;
        n = 2;
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > SG_WSC_MAX_CONTROL - 2)
            rl = SG_WSC_MAX_CONTROL - 2;
        /* do not cut a UTF-8 sequence in half */
        while (rl && !sg_utf8_valid((const unsigned char *)reason, rl))
            rl--;
        if (rl)
            memcpy(pl + 2, reason, rl);
        n += rl;
    }
    return sg_wsc_build_frame(out, 1, SG_WSC_CLOSE, pl, n, mask);
}

int sg_wsc_close_code_valid(uint16_t code)
{
    if (code >= 1000 && code <= 1003)
        return 1;
    if (code >= 1007 && code <= 1014)
        return 1;
    return code >= 3000 && code <= 4999;
}

/* ---- reader ----------------------------------------------------------------------------- */

void sg_wsc_reader_init(sg_wsc_reader *r, int server, size_t max_message)
{
    memset(r, 0, sizeof(*r));
    r->server = server ? 1 : 0;
    r->max_message = max_message ? max_message : DEF_MAX_MESSAGE;
    sg_buf_init(&r->in, 0);
    sg_buf_init(&r->msg, 0);
}

void sg_wsc_reader_free(sg_wsc_reader *r)
{
    sg_buf_free(&r->in);
    sg_buf_free(&r->msg);
}

int sg_wsc_reader_push(sg_wsc_reader *r, const void *p, size_t n)
{
    if (!n)
        return SG_OK;
    return sg_buf_append(&r->in, p, n) == SG_OK ? SG_OK : SG_ENOMEM;
}

static int check_header(const sg_wsc_reader *r, const sg_wsc_header *h)
{
    if (h->rsv)
        return SG_WSC_PROTOCOL_ERROR; /* no extension negotiated */
    switch (h->opcode) {
    case SG_WSC_CONT:
    case SG_WSC_TEXT:
    case SG_WSC_BINARY:
    case SG_WSC_CLOSE:
    case SG_WSC_PING:
    case SG_WSC_PONG:
        break;
    default:
        return SG_WSC_PROTOCOL_ERROR;
    }
    if (h->masked != r->server)
        return SG_WSC_PROTOCOL_ERROR;
    if (h->opcode & 0x8) {
        if (!h->fin || h->len > SG_WSC_MAX_CONTROL)
            return SG_WSC_PROTOCOL_ERROR;
        return 0;
    }
    if (h->opcode == SG_WSC_CONT && !r->msg_opcode)
        return SG_WSC_PROTOCOL_ERROR;
    if (h->opcode != SG_WSC_CONT && r->msg_opcode)
        return SG_WSC_PROTOCOL_ERROR;
    if (h->len > r->max_message || r->msg.len > r->max_message - h->len)
        return SG_WSC_TOO_BIG;
    return 0;
}

static int emit(sg_wsc_event_fn fn, void *ud, const sg_wsc_event *ev)
{
    return fn(ud, ev) ? -1 : 0;
}

/* Returns 0, -1 (stop) or a close code. */
static int handle_frame(sg_wsc_reader *r, const sg_wsc_header *h, char *pl, sg_wsc_event_fn fn,
                        void *ud)
{
    size_t n = (size_t)h->len;
    sg_wsc_event ev;
    memset(&ev, 0, sizeof ev);
    switch (h->opcode) {
    case SG_WSC_PING:
    case SG_WSC_PONG:
        ev.type = h->opcode == SG_WSC_PING ? SG_WSC_EV_PING : SG_WSC_EV_PONG;
        ev.p = pl;
        ev.n = n;
        return emit(fn, ud, &ev);
    case SG_WSC_CLOSE:
        r->dead = 1;
        ev.type = SG_WSC_EV_CLOSE;
        if (n == 1)
            return SG_WSC_PROTOCOL_ERROR;
        if (n == 0) {
            ev.code = SG_WSC_NO_STATUS;
        } else {
            ev.code = (uint16_t)((uint8_t)pl[0] << 8 | (uint8_t)pl[1]);
            if (!sg_wsc_close_code_valid(ev.code))
                return SG_WSC_PROTOCOL_ERROR;
            if (!sg_utf8_valid((const unsigned char *)pl + 2, n - 2))
                return SG_WSC_INVALID_DATA;
            ev.p = pl + 2;
            ev.n = n - 2;
        }
        emit(fn, ud, &ev);
        return -1;
    default:
        break;
    }
    /* data */
    if (h->fin && h->opcode != SG_WSC_CONT) {
        if (h->opcode == SG_WSC_TEXT && !sg_utf8_valid((const unsigned char *)pl, n))
            return SG_WSC_INVALID_DATA;
        ev.type = SG_WSC_EV_MESSAGE;
        ev.binary = h->opcode == SG_WSC_BINARY;
        ev.p = pl;
        ev.n = n;
        return emit(fn, ud, &ev);
    }
    if (h->opcode != SG_WSC_CONT)
        r->msg_opcode = h->opcode;
    if (n && sg_buf_append(&r->msg, pl, n) != SG_OK)
        return SG_WSC_INTERNAL;
    if (!h->fin)
        return 0;
    int binary = r->msg_opcode == SG_WSC_BINARY;
    r->msg_opcode = 0;
    if (!binary && !sg_utf8_valid((const unsigned char *)r->msg.data, r->msg.len))
        return SG_WSC_INVALID_DATA;
    ev.type = SG_WSC_EV_MESSAGE;
    ev.binary = binary;
    ev.p = r->msg.data ? r->msg.data : (char *)"";
    ev.n = r->msg.len;
    int rc = emit(fn, ud, &ev);
    sg_buf_free(&r->msg); /* idle connections keep no reassembly memory */
    return rc;
}

int sg_wsc_reader_feed(sg_wsc_reader *r, char *p, size_t n, sg_wsc_event_fn fn, void *ud)
{
    if (r->dead)
        return 0;
    char *buf = p;
    size_t len = n;
    int using_in = 0;
    if (r->in.len) {
        if (n && sg_buf_append(&r->in, p, n) != SG_OK) {
            r->dead = 1;
            sg_wsc_reader_free(r);
            return SG_WSC_INTERNAL;
        }
        buf = r->in.data;
        len = r->in.len;
        using_in = 1;
    }
    size_t pos = 0;
    int rc = 0;
    while (pos < len) {
        sg_wsc_header h;
        int e = sg_wsc_parse_header(buf + pos, len - pos, &h);
        if (e == SG_EAGAIN)
            break;
        if (e != SG_OK) {
            rc = SG_WSC_PROTOCOL_ERROR;
            break;
        }
        rc = check_header(r, &h);
        if (rc)
            break;
        if (h.len > len - pos - h.hdr_len)
            break; /* payload not complete yet */
        char *pl = buf + pos + h.hdr_len;
        if (h.masked && h.len)
            sg_wsc_mask(pl, (size_t)h.len, h.mask, 0);
        pos += h.hdr_len + (size_t)h.len;
        rc = handle_frame(r, &h, pl, fn, ud);
        if (rc)
            break;
    }
    if (rc) {
        r->dead = 1;
        sg_wsc_reader_free(r);
        return rc > 0 ? rc : 0;
    }
    if (using_in) {
        sg_buf_consume(&r->in, pos);
        if (r->in.len == 0)
            sg_buf_free(&r->in);
    } else if (pos < len) {
        if (sg_buf_append(&r->in, buf + pos, len - pos) != SG_OK) {
            r->dead = 1;
            sg_wsc_reader_free(r);
            return SG_WSC_INTERNAL;
        }
    }
    return 0;
}
