/* fuzz_ws_frame — proto/ws_codec: header parsing, and the reader (reassembly, control frames,
 * UTF-8, close codes, size cap) fed in chunks. First byte: role (bit 0), chunk size (bits 1-7).
 * Also checks that built frames parse back to what was built. */
#include "proto/ws_codec.h"
#include "sg_alloc.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static int on_ev(void *ud, const sg_wsc_event *ev)
{
    size_t *sum = ud;
    for (size_t i = 0; i < ev->n; i++)
        *sum += (unsigned char)ev->p[i];
    if (ev->type == SG_WSC_EV_MESSAGE && ev->n > 4096)
        __builtin_trap(); /* max_message must hold */
    if ((ev->type == SG_WSC_EV_PING || ev->type == SG_WSC_EV_PONG) && ev->n > 125)
        __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int server = data[0] & 1;
    size_t split = (size_t)(data[0] >> 1) + 1;
    data++;
    size--;
    sg_wsc_header h;
    if (sg_wsc_parse_header(data, size, &h) == 0) {
        /* round trip of the parsed header */
        uint8_t out[SG_WSC_MAX_HEADER];
        size_t hl = sg_wsc_build_header(out, h.fin, h.opcode, h.len, h.masked ? h.mask : NULL);
        sg_wsc_header h2;
        if (sg_wsc_parse_header(out, hl, &h2) != 0 || h2.len != h.len || h2.opcode != h.opcode ||
            h2.hdr_len != hl)
            __builtin_trap();
    }
    char *copy = sg_malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    sg_wsc_reader r;
    sg_wsc_reader_init(&r, server, 4096);
    size_t sum = 0;
    for (size_t off = 0; off < size; off += split) {
        size_t k = size - off < split ? size - off : split;
        int code = sg_wsc_reader_feed(&r, copy + off, k, on_ev, &sum);
        if (code && code != 1002 && code != 1007 && code != 1009 && code != 1011)
            __builtin_trap();
        if (code)
            break;
    }
    sg_wsc_reader_free(&r);
    sg_free(copy);
    return 0;
}
