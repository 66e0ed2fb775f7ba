/* libFuzzer target: the WebSocket client's peer-facing parsers (src/net/wsclient.c) without
 * sockets. Byte 0 picks the mode:
 *   bit 7 clear: the upgrade answer. The rest is fed in chunks of (byte0 & 31) + 1 bytes and
 *     sg_wsclient_parse_head sees the whole buffer after every chunk, as the client does; an
 *     accepted 101 hands the bytes after the head to a client-role frame reader
 *     (sg_wsc_reader_push, then feed), as on_head_bytes does.
 *   bit 7 set: the rest as a URL for sg_wsclient_parse_url (negotiate redirects are
 *     peer-controlled).
 * Checks: a parsed head ends with the blank line and lies inside the buffer, "accepted"
 * implies 101, every failure names its reason, EAGAIN only while there is no blank line; a
 * parsed URL has a non-empty host without '@', a port in 1..65535 and a path starting '/'. */
#include "net/wsclient.h"
#include "proto/ws_codec.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ==" /* RFC 6455's; accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo= */

static int on_ev(void *ud, const sg_wsc_event *ev)
{
    (void)ud;
    if (ev->type == SG_WSC_EV_MESSAGE && ev->n > 4096)
        abort();
    return 0;
}

static void fuzz_head(const uint8_t *d, size_t n, size_t chunk)
{
    char *buf = sg_malloc(n ? n : 1);
    if (!buf)
        return;
    memcpy(buf, d, n);
    size_t have = 0;
    int rc = SG_EAGAIN;
    sg_wsclient_head h;
    while (have < n && rc == SG_EAGAIN) {
        have += n - have < chunk ? n - have : chunk;
        const char *why = NULL;
        rc = sg_wsclient_parse_head(buf, have, KEY, &h, &why);
        if (rc == SG_EAGAIN) {
            if (have >= 4 && memmem(buf, have, "\r\n\r\n", 4))
                abort();
        } else if (rc == SG_OK) {
            if (h.len < 4 || h.len > have || memcmp(buf + h.len - 4, "\r\n\r\n", 4) ||
                (h.accepted && h.status != 101) || h.status < -99 || h.status > 999)
                abort();
        } else if ((rc != SG_EPROTO && rc != SG_ETOOBIG) || !why || !*why) {
            abort();
        }
    }
    if (rc == SG_OK && h.accepted) {
        sg_wsc_reader r;
        sg_wsc_reader_init(&r, 0, 4096);
        if (have > h.len && sg_wsc_reader_push(&r, buf + h.len, have - h.len) == SG_OK)
            sg_wsc_reader_feed(&r, NULL, 0, on_ev, NULL);
        if (n > have)
            sg_wsc_reader_feed(&r, buf + have, n - have, on_ev, NULL);
        sg_wsc_reader_free(&r);
    }
    sg_free(buf);
}

static void fuzz_url(const uint8_t *d, size_t n)
{
    char *url = sg_strndup((const char *)d, n);
    if (!url)
        return;
    char host[256], path[1024];
    int tls = -1, port = 0;
    if (sg_wsclient_parse_url(url, &tls, host, sizeof host, &port, path, sizeof path) == SG_OK) {
        if (!host[0] || strchr(host, '@') || port < 1 || port > 65535 || path[0] != '/' ||
            (tls != 0 && tls != 1))
            abort();
    }
    sg_free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 0x80)
        fuzz_url(data + 1, size - 1);
    else
        fuzz_head(data + 1, size - 1, (size_t)(data[0] & 31) + 1);
    return 0;
}
