/* lg_ws.h — the load generator's client side of RFC 6455 on top of proto/ws_codec: masked
 * frames out, unmasked frames in (parsed in place, no copy: the reader in ws_codec unmasks and
 * UTF-8-checks every message, which a load generator receiving millions of messages a second
 * does not want to pay for), the Sec-WebSocket-Accept check. Included once, by loadgen.c. */
#ifndef LG_WS_H
#define LG_WS_H

#include "proto/ws_codec.h"
#include "sg_b64.h"
#include "sg_buf.h"
#include "sg_err.h"

#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

enum {
    LG_WS_CONT = SG_WSC_CONT,
    LG_WS_TEXT = SG_WSC_TEXT,
    LG_WS_BINARY = SG_WSC_BINARY,
    LG_WS_CLOSE = SG_WSC_CLOSE,
    LG_WS_PING = SG_WSC_PING,
    LG_WS_PONG = SG_WSC_PONG,
};

/* Appends one FIN frame with the given opcode, masked with `mask` (client -> server).
 * The framing itself is proto/ws_codec's; the mask comes from the caller's cheap PRNG so a
 * publishing client does not pay a getrandom() per message. */
static int lg_ws_frame_masked(sg_buf *out, int opcode, const void *p, size_t n, uint32_t mask)
{
    uint8_t mk[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8), (uint8_t)mask};
    return sg_wsc_build_frame(out, 1, opcode, p, n, mk) == SG_OK ? 0 : -1;
}

typedef struct lg_ws_frame {
    int fin;
    int opcode;
    const uint8_t *payload;
    uint64_t len;
    size_t frame_len; /* header + payload */
} lg_ws_frame;

/* Parses one server frame at p[0..n) (header by proto/ws_codec, then the rules a client
 * enforces). Returns 1 (frame complete, *f filled), 0 (need more bytes), -1 (protocol error:
 * non-minimal length, masked server frame, reserved bits, bad control frame, unknown opcode,
 * or a payload above max). */
static int lg_ws_parse(const uint8_t *p, size_t n, uint64_t max, lg_ws_frame *f, const char **why)
{
    sg_wsc_header h;
    int r = sg_wsc_parse_header(p, n, &h);
    if (r == SG_EAGAIN)
        return 0;
    if (r != SG_OK) {
        *why = "malformed frame header";
        return -1;
    }
    if (h.rsv) {
        *why = "reserved bits set";
        return -1;
    }
    if (h.masked) {
        *why = "server frame is masked";
        return -1;
    }
    if (h.opcode >= 8 && (!h.fin || h.len > SG_WSC_MAX_CONTROL)) {
        *why = "bad control frame";
        return -1;
    }
    if ((h.opcode > 2 && h.opcode < 8) || h.opcode > 10) {
        *why = "unknown opcode";
        return -1;
    }
    if (h.len > max) {
        *why = "frame too big";
        return -1;
    }
    if (n - h.hdr_len < h.len)
        return 0;
    f->fin = h.fin;
    f->opcode = h.opcode;
    f->payload = p + h.hdr_len;
    f->len = h.len;
    f->frame_len = h.hdr_len + (size_t)h.len;
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
