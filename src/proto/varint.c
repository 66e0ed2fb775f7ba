/* varint.c — SignalR VarInt length prefix (see varint.h). */
#include "proto/varint.h"

#include "sg_err.h"

size_t sg_varint_size(uint32_t v)
{
    if (v > SG_VARINT_MAX_VALUE)
        return 0;
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t sg_varint_encode(uint32_t v, uint8_t out[SG_VARINT_MAX_BYTES])
{
    if (v > SG_VARINT_MAX_VALUE)
        return 0;
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        if (v)
            b |= 0x80;
        out[n++] = b;
    } while (v);
    return n;
}

int sg_varint_decode(const void *p, size_t n, uint32_t *value, size_t *consumed)
{
    const uint8_t *b = p;
    uint32_t v = 0;
    for (size_t i = 0; i < SG_VARINT_MAX_BYTES; i++) {
        if (i >= n)
            return SG_EAGAIN;
        uint8_t c = b[i];
        if (i == SG_VARINT_MAX_BYTES - 1 && c > 0x07)
            return SG_EPROTO; /* > 2^31 - 1, or a 6th byte announced */
        v |= (uint32_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *value = v;
            *consumed = i + 1;
            return SG_OK;
        }
    }
    return SG_EPROTO; /* unreachable: the 5th byte check above catches it */
}

int sg_varint_frame(const void *p, size_t n, size_t max_body, const uint8_t **body,
                    size_t *body_len, size_t *frame_len)
{
    uint32_t len;
    size_t used;
    int rc = sg_varint_decode(p, n, &len, &used);
    if (rc)
        return rc;
    if (max_body && len > max_body)
        return SG_ETOOBIG;
    if (n - used < len)
        return SG_EAGAIN;
    *body = (const uint8_t *)p + used;
    *body_len = len;
    *frame_len = used + len;
    return SG_OK;
}
