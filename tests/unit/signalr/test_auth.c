/* Auth decisions of the data plane: keys, algorithms, expiry, audiences, local auth off,
 * user claims, the JSON 401 body. */
#include "proto/jwt.h"
#include "signalr/sr_auth.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define K1 "PRIMARYKEYPRIMARYKEYPRIMARYKEY0123456789ABC"
#define K2 "SECONDARYKEYSECONDARYKEY0123456789ABCDEFGH"
#define NOW 1800000000

static char *tok(sg_jwt_alg alg, const char *key, const char *aud, long exp_off,
                 const char *extra_k, const char *extra_v)
{
    json_t *c = json_object();
    if (aud)
        json_object_set_new(c, "aud", json_string(aud));
    if (exp_off != 0)
        json_object_set_new(c, "exp", json_integer(NOW + exp_off));
    if (extra_k)
        json_object_set_new(c, extra_k, json_string(extra_v));
    char *out = NULL;
    assert_int_equal(sg_jwt_sign_hs(alg, key, strlen(key), NULL, c, &out), SG_OK);
    json_decref(c);
    return out;
}

static const sr_auth_ctx CLIENT = {SR_AUD_CLIENT, "chat",
                                   "Microsoft.SignalRService/SignalR/clientConnection/write"};
static const sr_auth_ctx REST = {SR_AUD_REST, "chat",
                                 "Microsoft.SignalRService/SignalR/hub/send/action"};

static int check(const char *t, const char *host, const char *path, const sr_auth_ctx *ac,
                 int local_off, sr_auth_fail *f, sr_principal *p)
{
    sr_auth_keys k = {K1, K2, local_off, 0, NOW, NULL, NULL};
    return sr_auth_token(&k, t, t ? strlen(t) : 0, host, path, ac, p, f);
}

static void expect_fail(const char *t, const char *host, const char *path, const sr_auth_ctx *ac,
                        int local_off, const char *code, const char *hint_part)
{
    sr_auth_fail f;
    sr_principal p;
    assert_int_equal(check(t, host, path, ac, local_off, &f, &p), SG_EAUTH);
    if (strcmp(f.code, code) != 0)
        fail_msg("expected %s, got %s (%s)", code, f.code, f.hint);
    assert_int_equal(f.status, 401);
    assert_true(f.hint[0] != 0);
    if (hint_part && !strstr(f.hint, hint_part))
        fail_msg("hint '%s' lacks '%s'", f.hint, hint_part);
    assert_null(p.claims);
}

static void expect_ok(const char *t, const char *host, const char *path, const sr_auth_ctx *ac)
{
    sr_auth_fail f;
    sr_principal p;
    int rc = check(t, host, path, ac, 0, &f, &p);
    if (rc != SG_OK)
        fail_msg("refused: %s %s", f.code, f.hint);
    assert_non_null(p.claims);
    sr_principal_clear(&p);
}

static void test_client_tokens(void **st)
{
    (void)st;
    char *t = tok(SG_JWT_HS256, K1, "http://localhost/client/?hub=chat", 3600, NULL, NULL);
    expect_ok(t, "localhost:8888", "/client/negotiate", &CLIENT);
    expect_ok(t, "127.0.0.1:8888", "/client/", &CLIENT); /* loopback aliases */
    expect_fail(t, "example.com", "/client/", &CLIENT, 0, "Unauthorized.InvalidAudience", "host");
    expect_fail(t, "localhost", "/client/", &CLIENT, 1, "Unauthorized.LocalAuthDisabled",
                "disable");
    sr_auth_ctx other = CLIENT;
    other.hub = "other";
    expect_fail(t, "localhost", "/client/", &other, 0, "Unauthorized.InvalidAudience", "'chat'");
    sg_free(t);
    t = tok(SG_JWT_HS512, K2, "https://localhost:443/client/?hub=chat&asrs.op=%2Fx", 3600, NULL,
            NULL);
    expect_ok(t, "localhost:8888", "/client/", &CLIENT);
    sg_free(t);
    t = tok(SG_JWT_HS256, "another-key", "http://localhost/client/?hub=chat", 3600, NULL, NULL);
    expect_fail(t, "localhost", "/client/", &CLIENT, 0, "Unauthorized.InvalidSignature",
                "another key");
    sg_free(t);
    t = tok(SG_JWT_HS256, K1, "http://localhost/client/?hub=chat", -3600, NULL, NULL);
    expect_fail(t, "localhost", "/client/", &CLIENT, 0, "Unauthorized.TokenExpired", NULL);
    sg_free(t);
    t = tok(SG_JWT_HS256, K1, "http://localhost/client/?hub=chat", -30, NULL,
            NULL); /* within skew */
    expect_ok(t, "localhost", "/client/", &CLIENT);
    sg_free(t);
    t = tok(SG_JWT_HS256, K1, "http://localhost/client/?hub=chat", 0, NULL, NULL); /* no exp */
    expect_fail(t, "localhost", "/client/", &CLIENT, 0, "Unauthorized.InvalidToken", NULL);
    sg_free(t);
    t = tok(SG_JWT_HS256, K1, "http://localhost/api/hubs/chat/:send", 3600, NULL, NULL);
    expect_fail(t, "localhost", "/client/", &CLIENT, 0, "Unauthorized.InvalidAudience", "REST");
    sg_free(t);
    expect_fail(NULL, "localhost", "/client/", &CLIENT, 0, "Unauthorized.MissingToken", "Bearer");
    expect_fail("a.b", "localhost", "/client/", &CLIENT, 0, "Unauthorized.InvalidToken", NULL);
    /* alg none: header {"alg":"none"} */
    const char *none =
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhdWQiOiJodHRwOi8vbG9jYWxob3N0L2NsaWVudC8_"
        "aHViPWNoYXQiLCJleHAiOjE5MDAwMDAwMDB9.";
    expect_fail(none, "localhost", "/client/", &CLIENT, 0, "Unauthorized.UnsupportedAlgorithm",
                "none");
    /* RS256: the Entra seam */
    const char *rs =
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL3NpZ25hbHIuYXp1cmUuY29tIn0.c2ln";
    expect_fail(rs, "localhost", "/client/", &CLIENT, 0, "Unauthorized.EntraNotSupported", NULL);
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    expect_fail(big, "localhost", "/client/", &CLIENT, 0, "Unauthorized.TokenTooLong", NULL);
}

static void test_rest_tokens(void **st)
{
    (void)st;
    char *t = tok(SG_JWT_HS256, K1, "http://localhost/api/hubs/chat/:send", 3600, NULL, NULL);
    expect_ok(t, "localhost:8888", "/api/hubs/chat/:send", &REST);
    expect_fail(t, "localhost", "/api/hubs/other/:send", &REST, 0, "Unauthorized.InvalidAudience",
                NULL);
    sg_free(t);
    t = tok(SG_JWT_HS256, K1, "http://localhost/api/hubs/chat/:send?api-version=2022-06-01", 3600,
            NULL, NULL);
    expect_ok(t, "localhost:8888", "/api/hubs/chat/:send", &REST);
    sg_free(t);
    t = tok(SG_JWT_HS256, K1, "http://localhost/client/?hub=chat", 3600, NULL, NULL);
    expect_fail(t, "localhost", "/api/hubs/chat/:send", &REST, 0, "Unauthorized.InvalidAudience",
                "client token");
    sg_free(t);
}

static void test_user_and_body(void **st)
{
    (void)st;
    sr_auth_fail f;
    sr_principal p;
    char *t = tok(SG_JWT_HS256, K1, "http://localhost/client/?hub=chat", 3600, "nameid", "n1");
    assert_int_equal(check(t, "localhost", "/client/", &CLIENT, 0, &f, &p), SG_OK);
    assert_string_equal(sr_principal_user(&p), "n1");
    sr_principal_clear(&p);
    sg_free(t);
    t = tok(SG_JWT_HS256, K1, "http://localhost/client/?hub=chat", 3600, "sub", "s1");
    assert_int_equal(check(t, "localhost", "/client/", &CLIENT, 0, &f, &p), SG_OK);
    assert_string_equal(sr_principal_user(&p), "s1");
    sr_principal_clear(&p);
    sg_free(t);
    t = tok(SG_JWT_HS256, K1, "http://localhost/client/?hub=chat", 3600, "asrs.s.htt", "4");
    assert_int_equal(check(t, "localhost", "/client/", &CLIENT, 0, &f, &p), SG_OK);
    assert_null(sr_principal_user(&p));
    int64_t v = 0;
    assert_true(sr_principal_int(&p, "asrs.s.htt", &v));
    assert_int_equal(v, 4);
    sr_principal_clear(&p);
    sg_free(t);

    assert_int_equal(check(NULL, "localhost", "/client/", &CLIENT, 0, &f, &p), SG_EAUTH);
    char *body = sr_auth_body(
        "/subscriptions/s/resourceGroups/local/providers/Microsoft.SignalRService/SignalR/default",
        &CLIENT, &f);
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "Unauthorized.MissingToken");
    assert_non_null(json_string_value(json_object_get(j, "message")));
    assert_non_null(json_string_value(json_object_get(j, "hint")));
    assert_string_equal(json_string_value(json_object_get(j, "requiredAction")),
                        "Microsoft.SignalRService/SignalR/clientConnection/write");
    assert_true(strstr(json_string_value(json_object_get(j, "scope")), "SignalR/default") != NULL);
    json_decref(j);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_tokens),
        cmocka_unit_test(test_rest_tokens),
        cmocka_unit_test(test_user_and_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
