/* Unit tests for proto/jwt: HS256/HS512 sign+verify, key rotation, every negative class
 * (alg none, wrong key, expired, nbf in the future, wrong audience, oversized, RS/HS
 * confusion, tampered payload, missing exp), RS256 with JWKS/PEM, audience rules (§4.2). */
#include "proto/jwt.h"
#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define KEY1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
#define KEY2 "secondary-key"
#define NOW 1700000000
#define AUD "https://x.service.signalr.net/client/?hub=chat"

static char *make_hs(sg_jwt_alg alg, const char *key, json_t *claims)
{
    char *t = NULL;
    assert_int_equal(sg_jwt_sign_hs(alg, key, strlen(key), "kid1", claims, &t), SG_OK);
    json_decref(claims);
    return t;
}

static int verify(const char *t, sg_jwt *out, sg_jwt_error *e)
{
    sg_jwt_key keys[] = {{KEY1, strlen(KEY1)}, {KEY2, strlen(KEY2)}};
    return sg_jwt_verify_hs(t, strlen(t), keys, 2, NULL, out, e);
}

static sg_jwt_validate_opts client_opts(void)
{
    sg_jwt_validate_opts o = {.now = NOW,
                              .skew = 60,
                              .require_exp = 1,
                              .scheme = "https",
                              .host = "X.Service.SignalR.net:443",
                              .path = "/client/negotiate",
                              .hub = "chat"};
    return o;
}

/* base64url(JSON) */
static void b64j(sg_buf *b, const char *json)
{
    char tmp[1024];
    long n = sg_b64url_encode(json, strlen(json), tmp, sizeof tmp);
    assert_true(n >= 0);
    sg_buf_append(b, tmp, (size_t)n);
}

static void test_hs_roundtrip(void **st)
{
    (void)st;
    char *t = make_hs(SG_JWT_HS256, KEY1,
                      json_pack("{s:s,s:i,s:i,s:s}", "aud", AUD, "exp", NOW + 3600, "nbf", NOW - 10,
                                "asrs.s.uid", "alice"));
    sg_jwt j;
    sg_jwt_error e;
    assert_int_equal(verify(t, &j, &e), SG_OK);
    assert_int_equal(e.status, SG_JWT_OK);
    assert_int_equal(j.alg, SG_JWT_HS256);
    assert_int_equal(j.key_index, 0);
    assert_string_equal(json_string_value(json_object_get(j.header, "kid")), "kid1");
    assert_string_equal(json_string_value(json_object_get(j.header, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(j.payload, "asrs.s.uid")), "alice");
    sg_jwt_validate_opts o = client_opts();
    assert_int_equal(sg_jwt_validate(&j, &o, &e), SG_OK);
    sg_jwt_clear(&j);
    sg_free(t);
    /* HS512 signed with the secondary key: found as key 1 */
    t = make_hs(SG_JWT_HS512, KEY2,
                json_pack("{s:[s,s],s:f}", "aud", "other", AUD, "exp", NOW + 10.5));
    assert_int_equal(verify(t, &j, &e), SG_OK);
    assert_int_equal(j.alg, SG_JWT_HS512);
    assert_int_equal(j.key_index, 1);
    assert_int_equal(sg_jwt_validate(&j, &o, &e), SG_OK); /* array aud, fractional exp */
    sg_jwt_clear(&j);
    /* pinning HS256 only refuses HS512 */
    sg_jwt_key k2 = {KEY2, strlen(KEY2)};
    sg_jwt_verify_opts vo = {.algs = SG_JWT_HS256};
    assert_int_equal(sg_jwt_verify_hs(t, strlen(t), &k2, 1, &vo, &j, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_BAD_ALG);
    sg_free(t);
    /* sign argument errors */
    char *x = NULL;
    json_t *c = json_object();
    assert_int_equal(sg_jwt_sign_hs(SG_JWT_RS256, KEY1, 3, NULL, c, &x), SG_EINVAL);
    assert_int_equal(sg_jwt_sign_hs(SG_JWT_HS256, KEY1, 0, NULL, c, &x), SG_EINVAL);
    assert_int_equal(sg_jwt_sign_hs(SG_JWT_HS256, KEY1, 3, NULL, NULL, &x), SG_EINVAL);
    json_decref(c);
}

static void test_hs_negatives(void **st)
{
    (void)st;
    sg_jwt j;
    sg_jwt_error e;
    /* wrong key */
    char *t = make_hs(SG_JWT_HS256, "not-a-known-key",
                      json_pack("{s:s,s:i}", "aud", AUD, "exp", NOW + 60));
    assert_int_equal(verify(t, &j, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_BAD_SIGNATURE);
    assert_null(j.payload);
    assert_null(strstr(e.reason, "not-a-known-key"));
    sg_free(t);

    /* tampered payload: swap in another payload, keep the signature */
    t = make_hs(SG_JWT_HS256, KEY1, json_pack("{s:s,s:i}", "aud", AUD, "exp", NOW + 60));
    char *d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_buf_append(&b, t, (size_t)(d1 - t) + 1);
    b64j(&b, "{\"aud\":\"" AUD "\",\"exp\":1900000000}");
    sg_buf_append_str(&b, d2);
    assert_int_equal(verify(b.data, &j, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_BAD_SIGNATURE);
    /* flipped signature byte */
    sg_buf_reset(&b);
    sg_buf_append_str(&b, t);
    b.data[b.len - 2] = b.data[b.len - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(b.data, &j, &e), SG_EAUTH);
    /* stripped signature */
    sg_buf_reset(&b);
    sg_buf_append(&b, t, (size_t)(d2 - t) + 1);
    assert_int_equal(verify(b.data, &j, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_BAD_SIGNATURE);
    sg_free(t);

    /* alg none, alg missing, unknown alg */
    const char *algs[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"typ\":\"JWT\"}",
                          "{\"alg\":\"HS384\"}", "{\"alg\":\"RS256\"}", "{\"alg\":\"hs256\"}"};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        sg_buf_reset(&b);
        b64j(&b, algs[i]);
        sg_buf_append_byte(&b, '.');
        b64j(&b, "{\"aud\":\"" AUD "\",\"exp\":1900000000}");
        sg_buf_append_byte(&b, '.');
        assert_int_equal(verify(b.data, &j, &e), SG_EAUTH);
        assert_int_equal(e.status, SG_JWT_BAD_ALG);
    }
    /* duplicate alg members are refused as malformed */
    sg_buf_reset(&b);
    b64j(&b, "{\"alg\":\"HS256\",\"alg\":\"none\"}");
    sg_buf_append_str(&b, ".e30.");
    assert_int_equal(verify(b.data, &j, &e), SG_EINVAL);
    assert_int_equal(e.status, SG_JWT_MALFORMED);

    /* malformed shapes */
    const char *bad[] = {"",        "abc",      "a.b",     "a.b.c.d",     "..",
                         "e30.e30", "e30.W10.", "!!.e30.", "e30.e30.***", "bm90IGpzb24.e30."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = verify(bad[i], &j, &e);
        assert_int_not_equal(rc, SG_OK);
        assert_true(e.status == SG_JWT_MALFORMED || e.status == SG_JWT_BAD_ALG);
    }

    /* oversized: > 4096 characters */
    json_t *c = json_pack("{s:s,s:i}", "aud", AUD, "exp", NOW + 60);
    char pad[4000];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = 0;
    json_object_set_new(c, "pad", json_string(pad));
    t = make_hs(SG_JWT_HS256, KEY1, c);
    assert_true(strlen(t) > 4096);
    assert_int_equal(verify(t, &j, &e), SG_ETOOBIG);
    assert_int_equal(e.status, SG_JWT_TOO_LONG);
    sg_jwt_key k1 = {KEY1, strlen(KEY1)};
    sg_jwt_verify_opts vo = {.max_len = 8192};
    assert_int_equal(sg_jwt_verify_hs(t, strlen(t), &k1, 1, &vo, &j, &e),
                     SG_OK); /* cap is configurable */
    sg_jwt_clear(&j);
    sg_free(t);
    sg_buf_free(&b);
}

static void test_validate(void **st)
{
    (void)st;
    sg_jwt j;
    sg_jwt_error e;
    sg_jwt_validate_opts o = client_opts();
    struct {
        json_t *claims;
        sg_jwt_status want;
    } cases[] = {
        {json_pack("{s:s,s:i}", "aud", AUD, "exp", NOW - 61), SG_JWT_EXPIRED},
        {json_pack("{s:s,s:i}", "aud", AUD, "exp", NOW - 59), SG_JWT_OK}, /* within skew */
        {json_pack("{s:s,s:i,s:i}", "aud", AUD, "exp", NOW + 600, "nbf", NOW + 61),
         SG_JWT_NOT_YET_VALID},
        {json_pack("{s:s,s:i,s:i}", "aud", AUD, "exp", NOW + 600, "nbf", NOW + 59), SG_JWT_OK},
        {json_pack("{s:s}", "aud", AUD), SG_JWT_NO_EXP},
        {json_pack("{s:s,s:s}", "aud", AUD, "exp", "tomorrow"), SG_JWT_NO_EXP},
        {json_pack("{s:s,s:i}", "aud", "https://x.service.signalr.net/client/?hub=other", "exp",
                   NOW + 60),
         SG_JWT_BAD_AUDIENCE},
        {json_pack("{s:s,s:i}", "aud", "https://evil.example/client/?hub=chat", "exp", NOW + 60),
         SG_JWT_BAD_AUDIENCE},
        {json_pack("{s:s,s:i}", "aud", "https://x.service.signalr.net/server/?hub=chat", "exp",
                   NOW + 60),
         SG_JWT_BAD_AUDIENCE},
        {json_pack("{s:i}", "exp", NOW + 60), SG_JWT_BAD_AUDIENCE},
        {json_pack("{s:i,s:i}", "aud", 5, "exp", NOW + 60), SG_JWT_BAD_AUDIENCE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = make_hs(SG_JWT_HS256, KEY1, cases[i].claims);
        assert_int_equal(verify(t, &j, &e), SG_OK);
        int rc = sg_jwt_validate(&j, &o, &e);
        if ((int)e.status != (int)cases[i].want)
            fprintf(stderr, "case %zu: %s (%s)\n", i, sg_jwt_status_name(e.status), e.reason);
        assert_int_equal(e.status, cases[i].want);
        assert_int_equal(rc, cases[i].want == SG_JWT_OK ? SG_OK : SG_EAUTH);
        if (rc)
            assert_true(strlen(e.reason) > 0);
        sg_jwt_clear(&j);
        sg_free(t);
    }
    /* missing exp tolerated when not required; default opts use a 60 s skew and time(NULL) */
    char *t = make_hs(SG_JWT_HS256, KEY1, json_pack("{s:s}", "aud", AUD));
    assert_int_equal(verify(t, &j, &e), SG_OK);
    sg_jwt_validate_opts lax = {.now = NOW, .skew = 0};
    assert_int_equal(sg_jwt_validate(&j, &lax, &e), SG_OK);
    assert_int_equal(sg_jwt_validate(&j, NULL, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_NO_EXP);
    sg_jwt_clear(&j);
    sg_free(t);
}

static void test_audience_rules(void **st)
{
    (void)st;
    /* client/server: hub in query required, port dropped, case-insensitive host, extra query ok */
    assert_true(sg_jwt_aud_str_matches(AUD, "https", "x.service.signalr.net", "/client/", "chat"));
    assert_true(
        sg_jwt_aud_str_matches("HTTPS://X.SERVICE.SIGNALR.NET:443/client/?hub=Chat&asrs.op=%2F",
                               "https", "x.service.signalr.net:8443", "/client", "chat"));
    assert_true(sg_jwt_aud_str_matches("http://localhost/client/?hub=app_chat", "http",
                                       "localhost:8888", "/client/negotiate", "app_chat"));
    assert_false(sg_jwt_aud_str_matches("http://localhost/client/?hub=chat", "http", "localhost",
                                        "/client", "app_chat"));
    assert_false(
        sg_jwt_aud_str_matches("http://localhost/client/", "http", "localhost", "/client", "chat"));
    assert_false(sg_jwt_aud_str_matches("https://localhost/client/?hub=chat", "http", "localhost",
                                        "/client", "chat"));
    assert_false(sg_jwt_aud_str_matches("http://localhost.evil/client/?hub=chat", "http",
                                        "localhost", "/client", "chat"));
    assert_true(sg_jwt_aud_str_matches("http://localhost/server/?hub=chat", "http", "localhost",
                                       "/server/", "chat"));
    assert_true(sg_jwt_aud_str_matches("http://localhost/aspnetclient", "http", "localhost",
                                       "/aspnetclient", NULL));
    /* REST: with and without query, trailing slash */
    const char *rest[] = {
        "http://localhost/api/hubs/chat/:send?api-version=2022-06-01",
        "http://localhost:8888/api/hubs/chat/:send?application=app&api-version=2022-06-01",
        "http://localhost/api/hubs/chat/:send",
        "http://LOCALHOST/api/hubs/chat/:send/",
    };
    for (size_t i = 0; i < 4; i++)
        assert_true(sg_jwt_aud_str_matches(rest[i], "http", "localhost:8888",
                                           "/api/hubs/chat/:send", NULL));
    assert_false(
        sg_jwt_aud_str_matches(rest[0], "http", "localhost", "/api/hubs/other/:send", NULL));
    assert_false(sg_jwt_aud_str_matches(rest[0], "http", "localhost", "/api/hubs/chat", NULL));
    /* percent-encoding compared decoded */
    assert_true(sg_jwt_aud_str_matches("http://h/api/v1/hubs/chat/users/a%20b", "http", "h",
                                       "/api/v1/hubs/chat/users/a b", NULL));
    /* IPv6 */
    assert_true(
        sg_jwt_aud_str_matches("http://[::1]/client/?hub=h", "http", "[::1]:8080", "/client", "h"));
    /* garbage */
    assert_false(sg_jwt_aud_str_matches("not a url", "http", "h", "/", NULL));
    assert_false(sg_jwt_aud_str_matches("http:///client", "http", "", "/client", NULL));
    assert_false(sg_jwt_aud_str_matches(NULL, "http", "h", "/", NULL));
    json_t *arr = json_pack("[i,s]", 1, "http://h/x");
    assert_true(sg_jwt_aud_matches(arr, "http", "h", "/x", NULL));
    json_decref(arr);
}

static void test_rs256(void **st)
{
    (void)st;
    sg_jwt_rsa *k = NULL, *k2 = NULL;
    assert_int_equal(sg_jwt_rsa_generate(2048, "key-1", &k), SG_OK);
    assert_int_equal(sg_jwt_rsa_generate(1024, "weak", &k2), SG_EINVAL);
    assert_string_equal(sg_jwt_rsa_kid(k), "key-1");
    json_t *claims = json_pack("{s:s,s:s,s:i}", "aud", "https://signalr.azure.com", "oid", "o",
                               "exp", NOW + 3600);
    json_t *extra = json_pack("{s:s,s:s}", "alg", "none", "x-ms", "1");
    char *t = NULL;
    assert_int_equal(sg_jwt_sign_rs256(k, extra, claims, &t), SG_OK);
    sg_jwks *set = sg_jwks_new();
    assert_int_equal(sg_jwks_add_rsa(set, k), SG_OK);
    assert_int_equal(sg_jwks_add_rsa(set, k), SG_EEXIST);
    sg_jwt j;
    sg_jwt_error e;
    assert_int_equal(sg_jwt_verify_rs(t, strlen(t), set, NULL, &j, &e), SG_OK);
    assert_string_equal(json_string_value(json_object_get(j.header, "alg")),
                        "RS256"); /* extra cannot override */
    assert_string_equal(json_string_value(json_object_get(j.header, "x-ms")), "1");
    assert_string_equal(json_string_value(json_object_get(j.payload, "oid")), "o");
    sg_jwt_clear(&j);

    /* RS token where HS is expected (key confusion): refused by alg pinning */
    sg_jwt_key hk = {KEY1, strlen(KEY1)};
    assert_int_equal(sg_jwt_verify_hs(t, strlen(t), &hk, 1, NULL, &j, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_BAD_ALG);
    /* HS token where RS is expected, even "signed" with the public key's JWK text */
    json_t *jwk = NULL;
    assert_int_equal(sg_jwt_rsa_public_jwk(k, &jwk), SG_OK);
    char pubtxt[2048];
    size_t pn = json_dumpb(jwk, pubtxt, sizeof pubtxt - 1, JSON_COMPACT);
    assert_true(pn > 0 && pn < sizeof pubtxt);
    pubtxt[pn] = 0;
    char *h = NULL;
    json_t *c2 = json_pack("{s:i}", "exp", NOW + 60);
    assert_int_equal(sg_jwt_sign_hs(SG_JWT_HS256, pubtxt, strlen(pubtxt), "key-1", c2, &h), SG_OK);
    assert_int_equal(sg_jwt_verify_rs(h, strlen(h), set, NULL, &j, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_BAD_ALG);
    sg_free(h);
    json_decref(c2);

    /* JWK export has the right members; a set built from the JWK verifies too */
    assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "RSA");
    assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
    assert_string_equal(json_string_value(json_object_get(jwk, "kid")), "key-1");
    assert_string_equal(json_string_value(json_object_get(jwk, "e")), "AQAB");
    assert_non_null(json_string_value(json_object_get(jwk, "n")));
    sg_jwks *set2 = sg_jwks_new();
    json_t *doc = json_pack("{s:[O,{s:s}]}", "keys", jwk, "kty", "EC");
    assert_int_equal(sg_jwks_add_json(set2, doc), 1);
    assert_int_equal(sg_jwks_count(set2), 1);
    assert_int_equal(sg_jwt_verify_rs(t, strlen(t), set2, NULL, &j, &e), SG_OK);
    sg_jwt_clear(&j);
    json_decref(doc);

    /* unknown kid; tampered payload */
    sg_jwt_rsa *other = NULL;
    assert_int_equal(sg_jwt_rsa_generate(2048, "key-2", &other), SG_OK);
    char *t2 = NULL;
    assert_int_equal(sg_jwt_sign_rs256(other, NULL, claims, &t2), SG_OK);
    assert_int_equal(sg_jwt_verify_rs(t2, strlen(t2), set, NULL, &j, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_UNKNOWN_KID);
    char *d1 = strchr(t2, '.');
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_buf_append(&b, t, (size_t)(strchr(t, '.') - t)); /* header of t (kid key-1) */
    sg_buf_append(&b, d1, strlen(d1));                  /* payload + signature of t2 */
    assert_int_equal(sg_jwt_verify_rs(b.data, b.len, set, NULL, &j, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_BAD_SIGNATURE);
    sg_buf_free(&b);

    /* PEM round trip: private PEM → key → same public JWK; public PEM into a set */
    sg_buf pem;
    sg_buf_init(&pem, 0);
    assert_int_equal(sg_jwt_rsa_to_pem(k, &pem), SG_OK);
    assert_non_null(strstr(pem.data, "BEGIN PRIVATE KEY"));
    sg_jwt_rsa *k3 = NULL;
    assert_int_equal(sg_jwt_rsa_from_pem(pem.data, pem.len, "key-1b", &k3), SG_OK);
    char *t3 = NULL;
    assert_int_equal(sg_jwt_sign_rs256(k3, NULL, claims, &t3), SG_OK);
    assert_int_equal(sg_jwt_rsa_from_pem("garbage", 7, "x", &k2), SG_EINVAL);
    sg_jwks *set3 = sg_jwks_new();
    assert_int_equal(sg_jwks_add_pem(set3, "key-1b", pem.data, pem.len),
                     SG_EINVAL); /* private PEM is not a public key */
    json_t *jwk3 = NULL;
    assert_int_equal(sg_jwt_rsa_public_jwk(k3, &jwk3), SG_OK);
    assert_string_equal(json_string_value(json_object_get(jwk3, "n")),
                        json_string_value(json_object_get(jwk, "n")));
    assert_int_equal(sg_jwks_add_jwk(set3, jwk3), SG_OK);
    assert_int_equal(sg_jwt_verify_rs(t3, strlen(t3), set3, NULL, &j, &e), SG_OK);
    sg_jwt_clear(&j);
    /* cert: x5t in header and x5c/x5t in the JWK */
    static const uint8_t fake_der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    assert_int_equal(sg_jwt_rsa_set_cert(k3, fake_der, sizeof fake_der), SG_OK);
    json_t *jwk4 = NULL;
    assert_int_equal(sg_jwt_rsa_public_jwk(k3, &jwk4), SG_OK);
    assert_string_equal(json_string_value(json_array_get(json_object_get(jwk4, "x5c"), 0)),
                        "MAMCAQE=");
    assert_non_null(json_string_value(json_object_get(jwk4, "x5t")));

    json_decref(jwk4);
    json_decref(jwk3);
    sg_jwks_free(set3);
    sg_free(t3);
    sg_jwt_rsa_free(k3);
    sg_buf_free(&pem);
    sg_free(t2);
    sg_jwt_rsa_free(other);
    sg_jwks_free(set2);
    json_decref(jwk);
    sg_jwks_free(set);
    sg_free(t);
    json_decref(extra);
    json_decref(claims);
    sg_jwt_rsa_free(k);
}

/* sg_jwt_verify_hs_decoded: one parse (decode_unverified), then the signature step alone */
static void test_hs_decoded(void **st)
{
    (void)st;
    char *t = make_hs(SG_JWT_HS512, KEY2,
                      json_pack("{s:s,s:i,s:s}", "aud", AUD, "exp", NOW + 60, "nameid", "u1"));
    sg_jwt_key keys[] = {{KEY1, strlen(KEY1)}, {KEY2, strlen(KEY2)}};
    sg_jwt j;
    sg_jwt_error e;
    assert_int_equal(sg_jwt_decode_unverified(t, strlen(t), 0, &j, &e), SG_OK);
    json_t *payload = j.payload;
    assert_int_equal(sg_jwt_verify_hs_decoded(t, strlen(t), &j, keys, 2, NULL, &e), SG_OK);
    assert_int_equal(e.status, SG_JWT_OK);
    assert_int_equal(j.alg, SG_JWT_HS512);
    assert_int_equal(j.key_index, 1);
    assert_ptr_equal(j.payload, payload); /* not parsed again */
    /* wrong key: bad signature, the decoded token is left to the caller */
    assert_int_equal(sg_jwt_verify_hs_decoded(t, strlen(t), &j, keys, 1, NULL, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_BAD_SIGNATURE);
    assert_ptr_equal(j.payload, payload);
    /* alg pinned to HS256 refuses it */
    sg_jwt_verify_opts vo = {.algs = SG_JWT_HS256};
    assert_int_equal(sg_jwt_verify_hs_decoded(t, strlen(t), &j, keys, 2, &vo, &e), SG_EAUTH);
    assert_int_equal(e.status, SG_JWT_BAD_ALG);
    /* tampered signature / length cap / no decoded token */
    size_t n = strlen(t);
    t[n - 2] = t[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(sg_jwt_verify_hs_decoded(t, n, &j, keys, 2, NULL, &e), SG_EAUTH);
    vo = (sg_jwt_verify_opts){.max_len = 10};
    assert_int_equal(sg_jwt_verify_hs_decoded(t, n, &j, keys, 2, &vo, &e), SG_ETOOBIG);
    sg_jwt_clear(&j);
    assert_int_equal(sg_jwt_verify_hs_decoded(t, n, &j, keys, 2, NULL, &e), SG_EINVAL);
    assert_int_equal(sg_jwt_verify_hs_decoded("a.b", 3, &j, keys, 2, NULL, &e), SG_EINVAL);
    sg_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs_roundtrip), cmocka_unit_test(test_hs_negatives),
        cmocka_unit_test(test_validate),     cmocka_unit_test(test_audience_rules),
        cmocka_unit_test(test_rs256),        cmocka_unit_test(test_hs_decoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
