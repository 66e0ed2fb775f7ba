/* libFuzzer target: MessagePack hub protocol parser. Every message that parses must
 * re-encode in both protocols and parse again; a lone value decode is also exercised. */
#include "proto/hub_json.h"
#include "proto/hub_msgpack.h"
#include "sg_err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void reparse(sg_hub_protocol p, const sg_hub_msg *m)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    if (sg_hub_write(p, m, &b) != SG_OK)
        abort();
    sg_hub_msg again;
    size_t used;
    const char *why;
    int rc = sg_hub_parse(p, b.data, b.len, NULL, &again, &used, &why);
    if (rc != SG_OK || used != b.len || again.type != m->type) {
        fprintf(stderr, "reparse failed: proto=%d rc=%d why=%s\n", (int)p, rc, why ? why : "-");
        abort();
    }
    sg_hub_msg_clear(&again);
    sg_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_hub_limits lim = {
        .max_message = 4096, .max_depth = 16, .max_elements = 512, .max_string = 1024};
    size_t off = 0, used;
    const char *why;
    for (int i = 0; i < 64 && off < size; i++) {
        sg_hub_msg m;
        int rc = sg_hub_msgpack_parse(data + off, size - off, &lim, &m, &used, &why);
        if (rc != SG_OK)
            break;
        reparse(SG_HUB_PROTO_MSGPACK, &m);
        reparse(SG_HUB_PROTO_JSON, &m);
        sg_hub_msg_clear(&m);
        off += used;
    }
    json_t *v = NULL;
    if (sg_hub_msgpack_read_value(data, size, &lim, &v, &used) == SG_OK) {
        sg_buf b;
        sg_buf_init(&b, 0);
        if (sg_hub_msgpack_write_value(v, &b) != SG_OK || sg_hub_json_write_value(v, &b) != SG_OK)
            abort();
        sg_buf_free(&b);
        json_decref(v);
    }
    return 0;
}
