/* fuzz_http — bytes through the server's own request parser (src/net/http_parse.c).
 * The first byte picks the split size and the pause pattern; the rest is the stream.
 * Every slice of every request is read so ASan sees any bad bounds. */
#include "net/http_parse.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct st {
    unsigned nmsg;
    unsigned pause_every;
    size_t sum;
} st;

static void touch(st *s, sg_slice v)
{
    for (size_t i = 0; i < v.n; i++)
        s->sum += (unsigned char)v.p[i];
}

static int on_msg(sg__http_msg *m, void *ud)
{
    st *s = ud;
    sg_http_req *r = &m->req;
    touch(s, r->method_name);
    touch(s, r->target);
    touch(s, r->path);
    touch(s, r->query);
    touch(s, r->body);
    for (size_t i = 0; i < r->nheaders; i++) {
        touch(s, r->headers[i].name);
        touch(s, r->headers[i].value);
    }
    const sg_slice *h = sg_http_req_header(r, "host");
    if (h)
        touch(s, *h);
    sg__http_msg_free(m);
    s->nmsg++;
    return s->pause_every && s->nmsg % s->pause_every == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = (size_t)(data[0] & 0x1f) + 1;
    st s = {0, (unsigned)(data[0] >> 5), 0};
    data++;
    size--;
    sg__http_parser hp;
    sg__http_limits lim = {2048, 4096, 32};
    sg__http_parser_init(&hp, &lim, on_msg, &s);
    size_t off = 0;
    int done = 0;
    while (off < size && !done) {
        size_t k = size - off < split ? size - off : split;
        size_t used = 0;
        int r = sg__http_parser_feed(&hp, (const char *)data + off, k, &used);
        if (used > k)
            __builtin_trap();
        off += used;
        switch (r) {
        case SG__HP_OK:
            break;
        case SG__HP_PAUSED:
            break; /* re-feed the rest, as the server does on resume */
        case SG__HP_UPGRADE:
        case SG__HP_ERROR:
            if (r == SG__HP_ERROR && hp.err_status != 400 && hp.err_status != 413 &&
                hp.err_status != 431 && hp.err_status != 500 && hp.err_status != 501)
                __builtin_trap();
            done = 1;
            break;
        }
        if (r == SG__HP_PAUSED && used == 0 && k > 0) {
            /* paused without progress must not happen: the server would spin */
            size_t u2 = 0;
            int r2 = sg__http_parser_feed(&hp, (const char *)data + off, k, &u2);
            if (r2 == SG__HP_PAUSED && u2 == 0)
                __builtin_trap();
            off += u2;
        }
    }
    sg__http_parser_free(&hp);
    return 0;
}
