/* libFuzzer target: the data plane's own parsers — REST routes, hub keys / names, and the
 * audience checks and hints of access-key tokens (aud strings are signed here, so the fuzzer
 * reaches the audience code with arbitrary values). First byte selects the mode. */
#include "proto/jwt.h"
#include "signalr/sr_auth.h"
#include "signalr/sr_route.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY "fuzz-key-0123456789"

static void fuzz_route(const uint8_t *d, size_t n)
{
    sr_route r;
    sg_slice p = {(const char *)d, n};
    if (sr_route_parse(p, &r) == SG_OK) {
        if (r.kind == SR_R_NONE)
            abort();
        if (r.kind != SR_R_HEALTH && !r.hub)
            abort();
        char key[300];
        sr_hub_key(r.hub, NULL, key, sizeof key);
        if (r.group)
            sr_name_valid_group(r.group, strlen(r.group));
        sr_route_free(&r);
    }
}

static void fuzz_aud(const uint8_t *d, size_t n, int rest)
{
    json_t *c = json_object();
    json_t *aud = json_stringn((const char *)d, n);
    if (!c || !aud) {
        json_decref(c);
        json_decref(aud);
        return;
    }
    json_object_set_new(c, "aud", aud);
    json_object_set_new(c, "exp", json_integer(4000000000LL));
    char *tok = NULL;
    if (sg_jwt_sign_hs(SG_JWT_HS256, KEY, strlen(KEY), NULL, c, &tok) == SG_OK && tok) {
        sr_auth_keys k = {KEY, NULL, 0, 0, 0, NULL, NULL};
        sr_auth_ctx ac = {rest ? SR_AUD_REST : SR_AUD_CLIENT, "chat", "x"};
        sr_principal p;
        sr_auth_fail f;
        int rc = sr_auth_token(&k, tok, strlen(tok), "localhost:8888",
                               rest ? "/api/hubs/chat/:send" : "/client/", &ac, &p, &f);
        if (rc == SG_OK)
            sr_principal_clear(&p);
        else if (!f.code[0] || !f.hint[0])
            abort(); /* every refusal explains itself */
    }
    sg_free(tok);
    json_decref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        fuzz_route(d, n);
        break;
    case 1:
        fuzz_aud(d, n, 0);
        break;
    case 2:
        fuzz_aud(d, n, 1);
        break;
    default: {
        char *s = sg_strndup((const char *)d, n);
        if (s) {
            char *app = strchr(s, '|');
            if (app)
                *app++ = 0;
            char key[300];
            sr_hub_key(s, app, key, sizeof key);
            sg_free(s);
        }
        break;
    }
    }
    return 0;
}
