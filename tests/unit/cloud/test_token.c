/* Token claims, RS256 signing, key rotation plan and key ring (with a real store). */
#include "cloud/store.h"
#include "cloud/token.h"

#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_str.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define TID "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"
#define OID "99999999-8888-7777-6666-555555555555"
#define APPID "11111111-2222-3333-4444-555555555555"
#define MIRID                                                                                      \
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"                      \
    "userAssignedIdentities/id1"

static void test_claims(void **st)
{
    (void)st;
    sg_tok_claims c;
    memset(&c, 0, sizeof c);
    c.aud = "https://signalr.azure.com";
    c.iss = "https://127.0.0.1:8443/" TID "/";
    c.tid = TID;
    c.oid = OID;
    c.appid = APPID;
    c.appidacr = "2";
    c.xms_mirid = MIRID;
    c.iat = 1000;
    c.nbf = 1000;
    c.exp = 87400;
    char *s = sg_tok_claims_json(&c);
    assert_non_null(s);
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "aud")), c.aud);
    assert_string_equal(json_string_value(json_object_get(j, "iss")), c.iss);
    assert_string_equal(json_string_value(json_object_get(j, "oid")), OID);
    assert_string_equal(json_string_value(json_object_get(j, "sub")), OID);
    assert_string_equal(json_string_value(json_object_get(j, "appid")), APPID);
    assert_string_equal(json_string_value(json_object_get(j, "appidacr")), "2");
    assert_string_equal(json_string_value(json_object_get(j, "idtyp")), "app");
    assert_string_equal(json_string_value(json_object_get(j, "tid")), TID);
    assert_string_equal(json_string_value(json_object_get(j, "ver")), "1.0");
    assert_string_equal(json_string_value(json_object_get(j, "xms_mirid")), MIRID);
    assert_true(json_is_integer(json_object_get(j, "iat")));
    assert_int_equal(json_integer_value(json_object_get(j, "exp")), 87400);
    assert_int_equal(json_integer_value(json_object_get(j, "nbf")), 1000);
    const char *uti = json_string_value(json_object_get(j, "uti"));
    assert_non_null(uti);
    assert_int_equal(strlen(uti), 22);
    assert_null(json_object_get(j, "xms_az_rid"));
    json_decref(j);
    sg_free(s);
    /* two tokens never share an uti */
    char *a = sg_tok_claims_json(&c), *b = sg_tok_claims_json(&c);
    assert_string_not_equal(a, b);
    sg_free(a);
    sg_free(b);
    /* client-credential token: no xms_mirid */
    c.xms_mirid = NULL;
    c.appidacr = "1";
    s = sg_tok_claims_json(&c);
    j = json_loads(s, 0, NULL);
    assert_null(json_object_get(j, "xms_mirid"));
    assert_string_equal(json_string_value(json_object_get(j, "appidacr")), "1");
    json_decref(j);
    sg_free(s);
    c.oid = NULL;
    assert_null(sg_tok_claims_json(&c));
}

static void test_plan(void **st)
{
    (void)st;
    sg_tok_plan p;
    const int64_t day = 86400, now = 100 * day, rot = 30 * day;

    sg_tok_plan_rotation(NULL, 0, now, rot, 0, &p); /* first start */
    assert_true(p.need_new);
    assert_int_equal(p.active, -1);

    sg_tok_keymeta fresh[1] = {{.created = now - day}};
    sg_tok_plan_rotation(fresh, 1, now, rot, 0, &p);
    assert_false(p.need_new);
    assert_int_equal(p.active, 0);
    assert_false(p.retire[0]);
    assert_false(p.drop[0]);

    sg_tok_plan_rotation(fresh, 1, now, rot, 1, &p); /* forced */
    assert_true(p.need_new);
    assert_true(p.retire[0]);

    sg_tok_keymeta old[1] = {{.created = now - 31 * day}};
    sg_tok_plan_rotation(old, 1, now, rot, 0, &p);
    assert_true(p.need_new);
    assert_true(p.retire[0]);
    assert_false(p.drop[0]);

    /* newest first: active + retired one still covering live tokens + an expired one */
    sg_tok_keymeta ring[3] = {
        {.created = now - 2 * day},
        {.created = now - 40 * day, .not_after = now - 2 * day, .expires = now + 100},
        {.created = now - 80 * day, .not_after = now - 40 * day, .expires = now - 39 * day},
    };
    sg_tok_plan_rotation(ring, 3, now, rot, 0, &p);
    assert_false(p.need_new);
    assert_int_equal(p.active, 0);
    assert_false(p.drop[1]);
    assert_false(p.retire[1]);
    assert_true(p.drop[2]);

    /* two keys that may sign (e.g. a crash mid-rotation): the newer signs, the other retires */
    sg_tok_keymeta two[2] = {{.created = now - 5 * day}, {.created = now - day}};
    sg_tok_plan_rotation(two, 2, now, rot, 0, &p);
    assert_int_equal(p.active, 1);
    assert_true(p.retire[0]);

    /* full ring: rotating drops the retired key that expires first */
    sg_tok_keymeta full[SG_TOK_MAX_KEYS];
    memset(full, 0, sizeof full);
    full[0].created = now - 31 * day;
    for (int i = 1; i < SG_TOK_MAX_KEYS; i++) {
        full[i].created = now - (31 + i) * day;
        full[i].not_after = now - i * 3600;
        full[i].expires = now + 1000 * (SG_TOK_MAX_KEYS - i);
    }
    sg_tok_plan_rotation(full, SG_TOK_MAX_KEYS, now, rot, 0, &p);
    assert_true(p.need_new);
    int drops = 0;
    for (int i = 0; i < SG_TOK_MAX_KEYS; i++)
        drops += p.drop[i];
    assert_int_equal(drops, 1);
    assert_true(p.drop[SG_TOK_MAX_KEYS - 1]);
}

static void test_sign_verify(void **st)
{
    (void)st;
    char *pem = NULL;
    assert_int_equal(sg_tok_rsa_generate(&pem), 0);
    sg_keyring kr;
    memset(&kr, 0, sizeof kr);
    assert_int_equal(sg_tok_key_from_pem(&kr.keys[0], pem, NULL), 0);
    kr.n = 1;
    kr.active = 0;
    kr.pub = sg_jwks_new();
    assert_int_equal(sg_jwks_add_rsa(kr.pub, kr.keys[0].rsa), 0);
    assert_int_equal(strlen(kr.keys[0].kid), 43); /* RFC 7638 thumbprint */
    assert_string_equal(json_string_value(json_object_get(kr.keys[0].jwk, "e")), "AQAB");
    assert_string_equal(json_string_value(json_object_get(kr.keys[0].jwk, "kid")), kr.keys[0].kid);
    /* same PEM, same kid */
    sg_tok_key again;
    assert_int_equal(sg_tok_key_from_pem(&again, pem, NULL), 0);
    assert_string_equal(again.kid, kr.keys[0].kid);
    sg_tok_key_clear(&again);
    sg_tok_claims c = {.aud = "https://signalr.azure.com",
                       .iss = "https://x/" TID "/",
                       .tid = TID,
                       .oid = OID,
                       .appid = APPID,
                       .iat = 1,
                       .nbf = 1,
                       .exp = 2};
    char *jwt = sg_keyring_sign(&kr, &c);
    assert_non_null(jwt);
    /* header carries kid and alg */
    const char *dot = strchr(jwt, '.');
    char hdr[256];
    long hn = sg_b64url_decode(jwt, (size_t)(dot - jwt), hdr, sizeof hdr - 1);
    assert_true(hn > 0);
    hdr[hn] = 0;
    json_t *h = json_loads(hdr, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), kr.keys[0].kid);
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    json_decref(h);
    char *payload = NULL;
    assert_int_equal(sg_keyring_verify(&kr, jwt, &payload), 1);
    assert_non_null(strstr(payload, OID));
    sg_free(payload);
    /* tampering breaks it */
    size_t n = strlen(jwt);
    jwt[n - 3] = jwt[n - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(sg_keyring_verify(&kr, jwt, NULL), 0);
    sg_free(jwt);
    sg_keyring_free(&kr);
    sg_free(pem);
}

/* JWKS kids, in order */
static size_t jwks_kids(const sg_keyring *kr, char kids[][64], size_t max)
{
    json_t *j = json_loadb(kr->jwks, kr->jwks_len, 0, NULL);
    assert_non_null(j);
    json_t *keys = json_object_get(j, "keys");
    size_t n = json_array_size(keys);
    for (size_t i = 0; i < n && i < max; i++) {
        json_t *k = json_array_get(keys, i);
        assert_string_equal(json_string_value(json_object_get(k, "kty")), "RSA");
        assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
        assert_non_null(json_string_value(json_object_get(k, "n")));
        assert_string_equal(json_string_value(json_object_get(k, "e")), "AQAB");
        snprintf(kids[i], 64, "%s", json_string_value(json_object_get(k, "kid")));
    }
    json_decref(j);
    return n;
}

static void test_keyring_rotation(void **st)
{
    (void)st;
    char dir[] = "/tmp/sg_tok_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/sigrid.db", dir);
    sg_store *store = NULL;
    char err[256];
    assert_int_equal(sg_store_open(path, &store, err, sizeof err), 0);

    const int64_t day = 86400, life = day, rot = 30 * day;
    int64_t now = 1800000000;
    sg_keyring kr;
    assert_int_equal(sg_keyring_load(&kr, store, now, rot, life), 0);
    assert_int_equal(kr.n, 1);
    assert_int_equal(kr.active, 0);
    char k1[64];
    snprintf(k1, sizeof k1, "%s", kr.keys[0].kid);
    char kids[8][64];
    assert_int_equal(jwks_kids(&kr, kids, 8), 1);
    assert_string_equal(kids[0], k1);
    sg_tok_claims c = {.aud = "https://signalr.azure.com",
                       .iss = "i",
                       .tid = TID,
                       .oid = OID,
                       .appid = APPID,
                       .iat = now,
                       .nbf = now,
                       .exp = now + life};
    char *old_token = sg_keyring_sign(&kr, &c);
    assert_non_null(old_token);
    sg_keyring_free(&kr);

    /* restart: same key (parsed from the store) */
    assert_int_equal(sg_keyring_load(&kr, store, now + day, rot, life), 0);
    assert_int_equal(kr.n, 1);
    assert_string_equal(kr.keys[kr.active].kid, k1);
    assert_int_equal(sg_keyring_verify(&kr, old_token, NULL), 1);
    sg_keyring_free(&kr);

    /* 31 days later: rotated on load; the old key is still published */
    now += 31 * day;
    assert_int_equal(sg_keyring_load(&kr, store, now, rot, life), 0);
    assert_int_equal(kr.n, 2);
    char k2[64];
    snprintf(k2, sizeof k2, "%s", kr.keys[kr.active].kid);
    assert_string_not_equal(k1, k2);
    assert_int_equal(jwks_kids(&kr, kids, 8), 2);
    assert_string_equal(kids[0], k2);
    assert_string_equal(kids[1], k1);
    assert_int_equal(sg_keyring_verify(&kr, old_token, NULL), 1);
    char *new_token = sg_keyring_sign(&kr, &c);
    assert_int_equal(sg_keyring_verify(&kr, new_token, NULL), 1);

    /* within the old key's grace period nothing changes */
    assert_int_equal(sg_keyring_maintain(&kr, store, now + life / 2, 0), 0);
    assert_int_equal(kr.n, 2);
    /* after it, the old key leaves the JWKS (and the store) */
    assert_int_equal(sg_keyring_maintain(&kr, store, now + life + SG_TOK_SKEW_S + 1, 0), 0);
    assert_int_equal(kr.n, 1);
    assert_string_equal(kr.keys[kr.active].kid, k2);
    assert_int_equal(jwks_kids(&kr, kids, 8), 1);
    assert_int_equal(sg_keyring_verify(&kr, old_token, NULL), 0);
    assert_int_equal(sg_keyring_verify(&kr, new_token, NULL), 1);
    sg_keyring_free(&kr);

    /* forced rotation persists */
    assert_int_equal(sg_keyring_load(&kr, store, now + 2 * day, rot, life), 0);
    assert_int_equal(kr.n, 1);
    assert_int_equal(sg_keyring_maintain(&kr, store, now + 2 * day, 1), 0);
    assert_int_equal(kr.n, 2);
    char k3[64];
    snprintf(k3, sizeof k3, "%s", kr.keys[kr.active].kid);
    assert_string_not_equal(k3, k2);
    sg_keyring_free(&kr);
    assert_int_equal(sg_keyring_load(&kr, store, now + 2 * day + 10, rot, life), 0);
    assert_int_equal(kr.n, 2);
    assert_string_equal(kr.keys[kr.active].kid, k3);
    sg_keyring_free(&kr);

    sg_free(old_token);
    sg_free(new_token);
    sg_store_close(store);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_keyring_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
