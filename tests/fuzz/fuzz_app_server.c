/* libFuzzer target: libsigrid's app-server runtime on the bytes a client sends through the
 * service (src/sdk/server_hub.c): sg__client_new from an OpenConnection (claims, query,
 * protocol ext) and sg__client_feed (hub handshake, then JSON or MessagePack hub messages:
 * invocations are dispatched and answered with completions), plus sg__refusal_text on the
 * same bytes (a refused upgrade's body). Byte 0: bits 0-4 chunk size - 1, bit 5: the dispatch
 * answers with an error instead of a result, bit 6: "no such method", bit 7: the first
 * service-protocol frame of the rest is the OpenConnection (else a fixed one with a few
 * claims and no protocol). The rest (after that frame) is fed in chunks.
 * Checks: after SG_EPROTO / SG_ETOOBIG the client is closed and has a close error; a completed
 * handshake happens once; the output parses as hub frames of the negotiated protocol. */
#include "proto/handshake.h"
#include "proto/hubmsg.h"
#include "proto/svcproto.h"
#include "sdk/server_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int dispatch(void *ud, sg__client *c, const char *target, const char *args,
                    sg_hub_result *res)
{
    int mode = *(const int *)ud;
    (void)c;
    if (!target || !args)
        abort();
    if (mode & 0x40)
        return SG_ENOTFOUND;
    if (mode & 0x20)
        return sg_hub_result_set_error(res, target);
    return sg_hub_result_set_json(res, args);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    int mode = data[0];
    size_t chunk = (size_t)(data[0] & 31) + 1;
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    char *s = sg_strndup((const char *)p, n);
    if (s) {
        char out[256];
        sg__refusal_text(s, out, sizeof out);
        sg_free(s);
    }

    sg_svc_msg open;
    sg_svc_msg_init(&open);
    sg__client *c = NULL;
    if (mode & 0x80) {
        size_t used = 0;
        const char *why = NULL;
        if (sg_svc_parse(p, n, 1 << 16, &open, &used, &why) != SG_OK ||
            open.type != SG_SVC_OPEN_CONNECTION) {
            sg_svc_msg_clear(&open);
            return 0;
        }
        c = sg__client_new(&open);
        p += used;
        n -= used;
    } else {
        static const sg_svc_claim claims[] = {
            {"asrs.s.uid", "user1"}, {"sub", "s"}, {"role", "a"}, {"role", "b"}};
        open.type = SG_SVC_OPEN_CONNECTION;
        open.connection_id = "conn-1";
        open.query_string = "?hub=chat&x=1";
        open.claims = claims;
        open.n_claims = sizeof claims / sizeof claims[0];
        c = sg__client_new(&open);
        sg_svc_msg_init(&open); /* nothing parsed, nothing to clear */
    }
    sg_svc_msg_clear(&open);
    if (!c)
        return 0;
    int handshakes = 0;
    size_t off = 0;
    sg_buf out;
    sg_buf_init(&out, 0);
    while (off < n && !c->closed) {
        size_t k = n - off < chunk ? n - off : chunk;
        int done = 0;
        const char *err = NULL;
        int rc = sg__client_feed(c, p + off, k, dispatch, &mode, &out, &done, &err);
        handshakes += done;
        if (handshakes > 1)
            abort();
        if (rc == SG_EPROTO || rc == SG_ETOOBIG) {
            if (!c->closed || !err || !*err)
                abort();
        } else if (rc != SG_OK && rc != SG_ENOMEM) {
            abort();
        }
        off += k;
    }
    if (handshakes && out.len) {
        /* the handshake answer, then frames in the client's protocol */
        char *herr = NULL;
        size_t used = 0;
        const char *why = NULL;
        if (sg_handshake_parse_response(out.data, out.len, 0, &herr, &used, &why) != SG_OK || herr)
            abort();
        sg_hub_limits lim;
        sg_hub_limits_default(&lim);
        lim.max_message = 1u << 24;
        size_t o = used;
        while (o < out.len) {
            sg_hub_msg m;
            sg_hub_msg_init(&m);
            size_t u = 0;
            if (sg_hub_parse(c->protocol, out.data + o, out.len - o, &lim, &m, &u, &why) != SG_OK)
                abort();
            sg_hub_msg_clear(&m);
            o += u;
        }
    }
    sg_buf_free(&out);
    sg__client_free(c);
    return 0;
}
