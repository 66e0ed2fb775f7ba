/* Minting and verification through the cloud object (entra.c): sg__entra_mint,
 * sg_cloud_verify_token / sg_cloud_issuer (what the data plane uses), resources known to the
 * tenant, forced rotation keeps old tokens verifiable. */
#include "cloud/entra_internal.h"
#include "cloud/identity.h"

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

#define TID "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"

typedef struct fixture {
    char dir[64];
    sg_cloud c;
} fixture;

static int setup(void **st)
{
    fixture *f = SG_NEW(fixture);
    snprintf(f->dir, sizeof f->dir, "/tmp/sg_entra_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/sigrid.db", f->dir);
    assert_int_equal(sg_store_open(path, &f->c.store, err, sizeof err), 0);
    f->c.loop = uv_default_loop();
    snprintf(f->c.tenant_id, sizeof f->c.tenant_id, "%s", TID);
    snprintf(f->c.cloud_url, sizeof f->c.cloud_url, "https://127.0.0.1:8443");
    assert_int_equal(sg_entra_init(&f->c), 0);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fixture *f = *st;
    sg_entra_free(&f->c);
    uv_run(f->c.loop, UV_RUN_NOWAIT); /* timer close callback */
    sg_store_close(f->c.store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    sg_free(f);
    return 0;
}

static void test_mint_and_verify(void **st)
{
    fixture *f = *st;
    sg_cloud *c = &f->c;
    assert_string_equal(sg_cloud_issuer(c), "https://127.0.0.1:8443/" TID "/");
    sg_tok_subject who = {
        .oid = "99999999-8888-7777-6666-555555555555",
        .appid = "11111111-2222-3333-4444-555555555555",
        .mirid =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        .appidacr = "2"};
    int64_t iat = 0, exp = 0;
    char *tok = sg__entra_mint(c, &who, "https://signalr.azure.com", 86400, &iat, &exp);
    assert_non_null(tok);
    assert_true(exp - iat >= 86400);
    sg_jwt t;
    sg_jwt_error err;
    assert_int_equal(sg_cloud_verify_token(c, tok, strlen(tok), &t, &err), 0);
    assert_string_equal(json_string_value(json_object_get(t.payload, "oid")), who.oid);
    assert_string_equal(json_string_value(json_object_get(t.payload, "xms_mirid")), who.mirid);
    assert_int_equal(json_integer_value(json_object_get(t.payload, "exp")), exp);
    sg_jwt_validate_opts vo = {.skew = 60, .require_exp = 1};
    assert_int_equal(sg_jwt_validate(&t, &vo, &err), 0);
    sg_jwt_clear(&t);

    /* rotation: the old token still verifies, new tokens use the new key; the signing
     * generation moves (the data plane forgets the Entra tokens it remembered) */
    uint64_t g0 = sg_cloud_signing_generation(c);
    assert_true(g0 != 0);
    assert_int_equal(sg_entra_rotate_key(c), 0);
    assert_true(sg_cloud_signing_generation(c) != g0);
    assert_int_equal(sg_cloud_verify_token(c, tok, strlen(tok), &t, &err), 0);
    sg_jwt_clear(&t);
    char *tok2 = sg__entra_mint(c, &who, "https://signalr.azure.com", 3600, NULL, NULL);
    assert_non_null(tok2);
    assert_int_equal(sg_cloud_verify_token(c, tok2, strlen(tok2), &t, &err), 0);
    sg_jwt t1;
    assert_int_equal(sg_jwt_decode_unverified(tok, strlen(tok), 0, &t1, &err), 0);
    assert_string_not_equal(json_string_value(json_object_get(t.header, "kid")),
                            json_string_value(json_object_get(t1.header, "kid")));
    sg_jwt_clear(&t1);
    sg_jwt_clear(&t);

    /* another issuer (same keys): refused with a reason */
    snprintf(c->cloud_url, sizeof c->cloud_url, "https://127.0.0.1:9443");
    assert_int_equal(sg_cloud_verify_token(c, tok2, strlen(tok2), &t, &err), SG_EPERM);
    assert_non_null(strstr(err.reason, "issuer"));
    snprintf(c->cloud_url, sizeof c->cloud_url, "https://127.0.0.1:8443");

    /* tampered */
    size_t n = strlen(tok2);
    tok2[n - 5] = tok2[n - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(sg_cloud_verify_token(c, tok2, n, &t, &err), SG_EAUTH);
    sg_free(tok);
    sg_free(tok2);
}

static void test_resources(void **st)
{
    fixture *f = *st;
    sg_cloud *c = &f->c;
    assert_true(sg__entra_resource_known(c, "https://signalr.azure.com"));
    assert_true(sg__entra_resource_known(c, "https://signalr.azure.com/"));
    assert_true(sg__entra_resource_known(c, "https://management.azure.com/"));
    assert_true(sg__entra_resource_known(c, "HTTPS://VAULT.AZURE.NET"));
    assert_false(sg__entra_resource_known(c, "https://signalr.azure.com.evil"));
    assert_false(sg__entra_resource_known(c, ""));
    assert_false(sg__entra_resource_known(c, "api://12345678-1234-1234-1234-123456789012"));
    sg_principal_rec p;
    memset(&p, 0, sizeof p);
    snprintf(p.object_id, sizeof p.object_id, "22222222-0000-0000-0000-000000000001");
    snprintf(p.app_id, sizeof p.app_id, "12345678-1234-1234-1234-123456789012");
    snprintf(p.type, sizeof p.type, "Application");
    snprintf(p.display_name, sizeof p.display_name, "api");
    assert_int_equal(sg_store_principal_add(c->store, &p), 0);
    assert_true(sg__entra_resource_known(c, "api://12345678-1234-1234-1234-123456789012"));
    assert_true(sg__entra_resource_known(c, "12345678-1234-1234-1234-123456789012"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mint_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resources, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
