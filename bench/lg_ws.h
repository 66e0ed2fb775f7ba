/* lg_ws.h — the load generator's client side of RFC 6455: masked frames out, unmasked frames
 * in, the Sec-WebSocket-Accept check. Included once, by loadgen.c. Pure functions, no I/O.
 * (When src/proto/ws_codec.h lands with a client-side builder the loadgen may switch to it;
 * this stays small enough to read in one go.) */
#ifndef LG_WS_H
#define LG_WS_H

#include "sg_b64.h"
#include "sg_buf.h"

#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

enum {
    LG_WS_CONT = 0x0,
    LG_WS_TEXT = 0x1,
    LG_WS_BINARY = 0x2,
    LG_WS_CLOSE = 0x8,
    LG_WS_PING = 0x9,
    LG_WS_PONG = 0xa,
};

/* Appends one FIN frame with the given opcode, masked with `mask` (client -> server). */
static int lg_ws_frame_masked(sg_buf *out, int opcode, const void *p, size_t n, uint32_t mask)
{
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n <= 0xffff) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint8_t mk[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8), (uint8_t)mask};
    memcpy(h + hl, mk, 4);
    hl += 4;
    if (sg_buf_reserve(out, hl + n) != 0)
        return -1;
    memcpy(out->data + out->len, h, hl);
    uint8_t *dst = (uint8_t *)out->data + out->len + hl;
    const uint8_t *src = p;
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] ^ mk[i & 3];
    out->len += hl + n;
    out->data[out->len] = 0;
    return 0;
}

typedef struct lg_ws_frame {
    int fin;
    int opcode;
    const uint8_t *payload;
    uint64_t len;
    size_t frame_len; /* header + payload */
} lg_ws_frame;

/* Parses one server frame at p[0..n). Returns 1 (frame complete, *f filled), 0 (need more
 * bytes), -1 (protocol error: masked server frame, reserved bits, bad control frame, or a
 * payload above max). */
static int lg_ws_parse(const uint8_t *p, size_t n, uint64_t max, lg_ws_frame *f, const char **why)
{
    if (n < 2)
        return 0;
    int fin = p[0] >> 7;
    int rsv = (p[0] >> 4) & 7;
    int op = p[0] & 0x0f;
    int masked = p[1] >> 7;
    uint64_t len = p[1] & 0x7f;
    size_t hl = 2;
    if (rsv) {
        *why = "reserved bits set";
        return -1;
    }
    if (masked) {
        *why = "server frame is masked";
        return -1;
    }
    if (len == 126) {
        if (n < 4)
            return 0;
        len = ((uint64_t)p[2] << 8) | p[3];
        hl = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | p[2 + i];
        hl = 10;
    }
    if (op >= 8 && (!fin || len > 125)) {
        *why = "bad control frame";
        return -1;
    }
    if ((op > 2 && op < 8) || op > 10) {
        *why = "unknown opcode";
        return -1;
    }
    if (len > max) {
        *why = "frame too big";
        return -1;
    }
    if (n - hl < len)
        return 0;
    f->fin = fin;
    f->opcode = op;
    f->payload = p + hl;
    f->len = len;
    f->frame_len = hl + (size_t)len;
    return 1;
}

/* out gets base64(SHA1(key + GUID)), NUL-terminated; out >= 29 bytes. */
static void lg_ws_accept_for(const char *key, char *out, size_t outlen)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char cat[128];
    size_t kl = strlen(key);
    if (kl > sizeof(cat) - sizeof(guid))
        kl = sizeof(cat) - sizeof(guid);
    memcpy(cat, key, kl);
    memcpy(cat + kl, guid, sizeof(guid) - 1);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(cat, kl + sizeof(guid) - 1, md);
    sg_b64_encode(md, sizeof(md), out, outlen);
}

#endif
