/* libFuzzer target: identity-endpoint request logic (IMDS and App Service): validation,
 * query decoding, identity selection and the response bodies, which must parse as JSON
 * objects. Input: a flags byte, then lines
 *   path \n query \n metadata-header \n forwarded-header \n identity-header
 * (a missing line = header absent). The flags byte's low bit picks POST over GET; it is not
 * part of the path (the path's own '/' would otherwise make every request a POST). */
#include "cloud/idep.h"
#include "sg_buf.h"

#include <jansson.h>

#include <stdint.h>
#include <string.h>

static int next_line(const char **p, const char *end, sg_slice *out)
{
    if (*p >= end)
        return 0;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *e = nl ? nl : end;
    out->p = *p;
    out->n = (size_t)(e - *p);
    *p = nl ? nl + 1 : end;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sg_idep_idset set;
    static int init;
    if (!init) {
        sg_compute_rec r;
        memset(&r, 0, sizeof r);
        memcpy(r.id,
               "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/v",
               79);
        memcpy(r.system_principal_id, "00000000-0000-0000-0000-000000000001", 36);
        memcpy(r.system_client_id, "00000000-0000-0000-0000-000000000002", 36);
        r.n_uami = 2;
        memcpy(r.uami[0].id, "/u/1", 4);
        memcpy(r.uami[0].principal_id, "00000000-0000-0000-0000-000000000003", 36);
        memcpy(r.uami[0].client_id, "00000000-0000-0000-0000-000000000004", 36);
        memcpy(r.uami[1].id, "/u/2", 4);
        memcpy(r.uami[1].principal_id, "00000000-0000-0000-0000-000000000005", 36);
        memcpy(r.uami[1].client_id, "00000000-0000-0000-0000-000000000006", 36);
        sg_idep_idset_from_compute(&set, &r);
        init = 1;
    }
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    sg_slice path = {0}, query = {0}, meta, fwd, ih;
    sg_idep_in in;
    memset(&in, 0, sizeof in);
    in.method = (data[0] & 1) ? SG_HTTP_POST : SG_HTTP_GET;
    next_line(&p, end, &path);
    next_line(&p, end, &query);
    in.path = path;
    in.query = query;
    if (next_line(&p, end, &meta))
        in.metadata = &meta;
    if (next_line(&p, end, &fwd) && fwd.n)
        in.forwarded = &fwd;
    if (next_line(&p, end, &ih))
        in.identity_header = &ih;
    for (int proto = SG_IDEP_IMDS; proto <= SG_IDEP_APPSVC; proto++) {
        sg_idep_out out;
        sg_buf b;
        sg_buf_init(&b, 1 << 20);
        sg_idep_evaluate((sg_idep_proto)proto, &set, "secret", &in, &out);
        if (out.status == 200) {
            if (out.ident < 0 || (size_t)out.ident >= set.n)
                __builtin_trap();
            sg_idep_token_body((sg_idep_proto)proto, "a.b.c", set.ids[out.ident].client_id,
                               out.resource, 100, 50, 1000, &b);
        } else {
            sg_idep_error_body((sg_idep_proto)proto, &out, &b);
        }
        /* every body (resource and selector echoes included) must be one JSON object */
        json_t *j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        if (!json_is_object(j))
            __builtin_trap();
        json_decref(j);
        sg_buf_free(&b);
    }
    return 0;
}
