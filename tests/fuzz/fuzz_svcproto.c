/* libFuzzer target: Azure SignalR service protocol parser. A parsed message must re-encode,
 * and parse(write(m)) must re-encode to the same bytes. */
#include "proto/svcproto.h"
#include "sg_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, used;
    const char *why;
    for (int i = 0; i < 64 && off < size; i++) {
        sg_svc_msg m;
        sg_svc_msg_init(&m);
        int rc = sg_svc_parse(data + off, size - off, 1 << 16, &m, &used, &why);
        if (rc != SG_OK)
            break;
        off += used;
        if (m.type != SG_SVC_UNKNOWN) {
            (void)sg_svc_payload_find(&m, "json");
            (void)sg_svc_ping_get(&m, "status");
            sg_buf a, b;
            sg_buf_init(&a, 0);
            sg_buf_init(&b, 0);
            if (sg_svc_write(&m, &a) != SG_OK)
                abort();
            sg_svc_msg p;
            sg_svc_msg_init(&p);
            if (sg_svc_parse(a.data, a.len, 0, &p, &used, &why) != SG_OK || used != a.len)
                abort();
            if (sg_svc_write(&p, &b) != SG_OK || a.len != b.len ||
                memcmp(a.data, b.data, a.len) != 0)
                abort();
            sg_svc_msg_clear(&p);
            sg_buf_free(&a);
            sg_buf_free(&b);
        }
        sg_svc_msg_clear(&m);
    }
    return 0;
}
