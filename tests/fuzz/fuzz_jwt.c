/* libFuzzer target: JWT parsing and verification (HS and RS), claims validation, audience
 * matching. The input is used as a token; its first byte also selects an audience probe. */
#include "proto/jwt.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static sg_jwks *g_jwks;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sg_jwt_rsa *k = NULL;
    if (sg_jwt_rsa_generate(2048, "fuzz-kid", &k) != SG_OK)
        abort();
    g_jwks = sg_jwks_new();
    if (!g_jwks || sg_jwks_add_rsa(g_jwks, k) != SG_OK)
        abort();
    sg_jwt_rsa_free(k);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *tok = (const char *)data;
    static const char key1[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";
    static const char key2[] = "secondary";
    sg_jwt_key keys[] = {{key1, sizeof key1 - 1}, {key2, sizeof key2 - 1}};
    sg_jwt t;
    sg_jwt_error err;
    if (sg_jwt_decode_unverified(tok, size, 0, &t, &err) == SG_OK) {
        sg_jwt_validate_opts vo = {.now = 1700000000,
                                   .skew = 60,
                                   .require_exp = 1,
                                   .scheme = "https",
                                   .host = "x.service.signalr.net:443",
                                   .path = "/client/",
                                   .hub = "chat"};
        (void)sg_jwt_validate(&t, &vo, &err);
        (void)sg_jwt_aud_matches(json_object_get(t.payload, "aud"), "http", "localhost",
                                 "/api/hubs/chat", NULL);
        sg_jwt_clear(&t);
    }
    if (sg_jwt_verify_hs(tok, size, keys, 2, NULL, &t, &err) == SG_OK)
        sg_jwt_clear(&t);
    if (sg_jwt_verify_rs(tok, size, g_jwks, NULL, &t, &err) == SG_OK)
        sg_jwt_clear(&t);
    /* audience matcher on raw text */
    char *s = sg_strndup(tok, size);
    if (s) {
        (void)sg_jwt_aud_str_matches(s, "https", "x.service.signalr.net", "/server", "chat");
        (void)sg_jwt_aud_str_matches(s, "http", "[::1]:8080", "/api/v1/hubs/chat", NULL);
        sg_free(s);
    }
    return 0;
}
