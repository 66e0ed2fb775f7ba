/* The cache of verified tokens (sr_tokcache) as sr_auth_token uses it: a second use of the
 * same token skips the signature, but expiry and audience are still checked at every use; a
 * generation bump (keys changed) forgets everything; tokens that fail any check never enter;
 * temporary-key entries die with their key; memory is bounded. */
#include "proto/jwt.h"
#include "signalr/sr_auth.h"
#include "signalr/sr_tokcache.h"

#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_time.h"

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
#define K3 "RENEWEDKEYRENEWEDKEYRENEWEDKEY0123456789ABC"
#define NOW 1800000000
#define AUD "http://localhost/client/?hub=chat"

static const sr_auth_ctx CLIENT = {SR_AUD_CLIENT, "chat",
                                   "Microsoft.SignalRService/SignalR/clientConnection/write"};
static const sr_auth_ctx OTHER_HUB = {SR_AUD_CLIENT, "other",
                                      "Microsoft.SignalRService/SignalR/clientConnection/write"};

static char *tok_alg(sg_jwt_alg alg, const char *key, const char *aud, long exp_off,
                     const char *uid)
{
    json_t *c = json_object();
    if (aud)
        json_object_set_new(c, "aud", json_string(aud));
    if (exp_off != 0)
        json_object_set_new(c, "exp", json_integer(NOW + exp_off));
    if (uid)
        json_object_set_new(c, "nameid", json_string(uid));
    char *out = NULL;
    assert_int_equal(sg_jwt_sign_hs(alg, key, strlen(key), NULL, c, &out), SG_OK);
    json_decref(c);
    return out;
}

static char *tok(const char *key, const char *aud, long exp_off, const char *uid)
{
    return tok_alg(SG_JWT_HS256, key, aud, exp_off, uid);
}

typedef struct env {
    sr_tokcache c;
    sr_auth_keys k;
} env;

static void env_init(env *e)
{
    memset(e, 0, sizeof *e);
    sr_tokcache_init(&e->c, 12345);
    e->k = (sr_auth_keys){K1, K2, 0, 0, NOW, NULL, &e->c};
}

static int use(env *e, const char *t, const sr_auth_ctx *ac, sr_auth_fail *f)
{
    sr_principal p;
    int rc = sr_auth_token(&e->k, t, strlen(t), "localhost:8888", "/client/", ac, &p, f);
    if (rc == SG_OK) {
        assert_non_null(p.claims);
        assert_int_equal(p.kind, SR_PRINC_ACCESS_KEY);
        sr_principal_clear(&p);
    } else {
        assert_null(p.claims);
    }
    return rc;
}

static void test_second_use_hits(void **st)
{
    (void)st;
    env e;
    env_init(&e);
    char *t = tok(K1, AUD, 3600, "alice");
    sr_auth_fail f;
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_OK); /* negotiate: verified, remembered */
    assert_int_equal(e.c.n, 1);
    assert_int_equal(e.c.hits, 0);
    sr_principal p;
    assert_int_equal(
        sr_auth_token(&e.k, t, strlen(t), "localhost:8888", "/client/", &CLIENT, &p, &f), SG_OK);
    assert_int_equal(e.c.hits, 1); /* upgrade: from the cache */
    assert_string_equal(sr_principal_user(&p), "alice");
    sr_principal_clear(&p);
    /* the same claims with one byte of the signature changed: a different string, verified
     * (and refused), never served from the entry of the real token */
    size_t n = strlen(t);
    t[n - 3] = t[n - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_EAUTH);
    assert_string_equal(f.code, "Unauthorized.InvalidSignature");
    assert_int_equal(e.c.hits, 1);
    assert_int_equal(e.c.n, 1);
    sg_free(t);
    sr_tokcache_free(&e.c);
}

static void test_expiry_at_use(void **st)
{
    (void)st;
    env e;
    env_init(&e);
    char *t = tok(K1, AUD, 100, NULL);
    sr_auth_fail f;
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_OK);
    assert_int_equal(e.c.n, 1);
    e.k.now = NOW + 100 + 30; /* within the 60 s skew: still fine, from the cache */
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_OK);
    assert_int_equal(e.c.hits, 1);
    e.k.now = NOW + 100 + 61; /* expired: refused although cached, and forgotten */
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_EAUTH);
    assert_string_equal(f.code, "Unauthorized.TokenExpired");
    assert_non_null(strstr(f.hint, "expired at"));
    assert_int_equal(e.c.hits, 2);
    assert_int_equal(e.c.n, 0);
    sg_free(t);
    sr_tokcache_free(&e.c);
}

static void test_audience_checked_on_hit(void **st)
{
    (void)st;
    env e;
    env_init(&e);
    char *t = tok(K1, AUD, 3600, NULL);
    sr_auth_fail f;
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_OK);
    assert_int_equal(use(&e, t, &OTHER_HUB, &f), SG_EAUTH); /* cached, but for hub chat */
    assert_string_equal(f.code, "Unauthorized.InvalidAudience");
    assert_int_equal(e.c.hits, 1);
    assert_int_equal(e.c.n, 1); /* still good for its own hub */
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_OK);
    sg_free(t);
    sr_tokcache_free(&e.c);
}

static void test_key_change_invalidates(void **st)
{
    (void)st;
    env e;
    env_init(&e);
    char *t = tok(K1, AUD, 3600, NULL);
    sr_auth_fail f;
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_OK);
    /* the primary key is regenerated: the data plane bumps the generation */
    e.k.primary = K3;
    sr_tokcache_invalidate(&e.c);
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_EAUTH);
    assert_string_equal(f.code, "Unauthorized.InvalidSignature");
    assert_int_equal(e.c.hits, 0);
    assert_int_equal(e.c.n, 0); /* the stale entry was freed on the way */
    /* local auth switched off: same */
    char *t2 = tok(K2, AUD, 3600, NULL);
    assert_int_equal(use(&e, t2, &CLIENT, &f), SG_OK);
    e.k.disable_local_auth = 1;
    sr_tokcache_invalidate(&e.c);
    assert_int_equal(use(&e, t2, &CLIENT, &f), SG_EAUTH);
    assert_string_equal(f.code, "Unauthorized.LocalAuthDisabled");
    /* a sweep frees what is stale */
    e.k.disable_local_auth = 0;
    assert_int_equal(use(&e, t2, &CLIENT, &f), SG_OK);
    assert_int_equal(e.c.n, 1);
    sr_tokcache_invalidate(&e.c);
    sr_tokcache_sweep(&e.c, (uint64_t)sg_unix_ms());
    assert_int_equal(e.c.n, 0);
    sg_free(t);
    sg_free(t2);
    sr_tokcache_free(&e.c);
}

static void test_failures_never_cached(void **st)
{
    (void)st;
    env e;
    env_init(&e);
    sr_auth_fail f;
    char *bad[] = {
        tok("another-key", AUD, 3600, NULL),                      /* signature */
        tok(K1, AUD, -3600, NULL),                                /* expired */
        tok(K1, AUD, 0, NULL),                                    /* no exp */
        tok(K1, "http://localhost/client/?hub=other", 3600, NULL), /* audience */
        tok(K1, "http://localhost/api/hubs/chat", 3600, NULL),     /* REST token */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int round = 0; round < 2; round++)
            assert_int_equal(use(&e, bad[i], &CLIENT, &f), SG_EAUTH);
        sg_free(bad[i]);
    }
    const char *none = "eyJhbGciOiJub25lIn0.eyJhdWQiOiJodHRwOi8vbG9jYWxob3N0L2NsaWVudC8_aHViPWNoYXQiLCJleHAiOjQwMDAwMDAwMDB9.";
    assert_int_equal(use(&e, none, &CLIENT, &f), SG_EAUTH);
    assert_int_equal(use(&e, "garbage", &CLIENT, &f), SG_EAUTH);
    /* local auth disabled: a good access-key token is refused and not remembered */
    char *good = tok(K1, AUD, 3600, NULL);
    e.k.disable_local_auth = 1;
    assert_int_equal(use(&e, good, &CLIENT, &f), SG_EAUTH);
    assert_int_equal(e.c.n, 0);
    assert_int_equal(e.c.hits, 0);
    assert_null(e.c.oldest);
    sg_free(good);
    sr_tokcache_free(&e.c);
}

static void test_bounded(void **st)
{
    (void)st;
    env e;
    env_init(&e);
    sr_auth_fail f;
    char uid[32];
    char *first = NULL;
    for (unsigned i = 0; i < SR_TOKCACHE_MAX_ENTRIES + 100; i++) {
        snprintf(uid, sizeof uid, "user-%u", i);
        char *t = tok(K1, AUD, 3600, uid);
        assert_int_equal(use(&e, t, &CLIENT, &f), SG_OK);
        if (i == 0)
            first = t;
        else
            sg_free(t);
    }
    assert_true(e.c.n <= SR_TOKCACHE_MAX_ENTRIES);
    assert_true(e.c.bytes <= SR_TOKCACHE_MAX_BYTES);
    assert_true(e.c.evictions >= 100);
    uint64_t h = e.c.hits;
    assert_int_equal(use(&e, first, &CLIENT, &f), SG_OK); /* evicted: verified again */
    assert_int_equal(e.c.hits, h);
    sg_free(first);
    /* a token longer than SR_TOKCACHE_MAX_TOKEN is verified every time, never cached */
    char big[SR_TOKCACHE_MAX_TOKEN + 16];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char *t = tok(K1, AUD, 3600, big);
    size_t n0 = e.c.n;
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_OK);
    assert_int_equal(use(&e, t, &CLIENT, &f), SG_OK);
    assert_int_equal(e.c.n, n0);
    sg_free(t);
    sr_tokcache_free(&e.c);
    assert_int_equal(e.c.n, 0);
    assert_int_equal(e.c.bytes, 0);
}

/* the module alone: a temporary key's entry ends with the key */
static void test_tempkey_deadline(void **st)
{
    (void)st;
    sr_tokcache c;
    sr_tokcache_init(&c, 7);
    sr_tok_info ti;
    memset(&ti, 0, sizeof ti);
    ti.kind = SR_PRINC_TEMP_KEY;
    ti.claims = json_pack("{s:s}", "nameid", "u");
    snprintf(ti.oid, sizeof ti.oid, "owner");
    ti.key_expires_ms = 1000000;
    sr_tokcache_put(&c, "a.b.c", 5, &ti);
    json_decref(ti.claims); /* the cache holds its own reference */
    const sr_tok_info *hit = sr_tokcache_get(&c, "a.b.c", 5, 999999);
    assert_non_null(hit);
    assert_string_equal(hit->oid, "owner");
    assert_string_equal(json_string_value(json_object_get(hit->claims, "nameid")), "u");
    assert_null(sr_tokcache_get(&c, "a.b.c", 5, 1000000)); /* the key's deadline */
    assert_int_equal(c.n, 0);
    assert_null(sr_tokcache_get(&c, "a.b.d", 5, 0));
    sr_tokcache_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_use_hits),      cmocka_unit_test(test_expiry_at_use),
        cmocka_unit_test(test_audience_checked_on_hit), cmocka_unit_test(test_key_change_invalidates),
        cmocka_unit_test(test_failures_never_cached), cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_tempkey_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
