/* test_store.c — store: migrations, secrets, principals, compute identities, cascades, ports,
 * signing keys. */
#include "cloud/store.h"
#include "sg_err.h"

#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define SUB "22222222-2222-4222-8222-222222222222"
#define RGID "/subscriptions/" SUB "/resourceGroups/rg"
#define VM RGID "/providers/Microsoft.Compute/virtualMachines/vm1"
#define APP RGID "/providers/Microsoft.Web/sites/app1"
#define UAMI RGID "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1"

typedef struct fx {
    char dir[64];
    char path[128];
    sg_store *st;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/sg_store_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/sigrid.db", f->dir);
    assert_int_equal(sg_store_open(f->path, &f->st, err, sizeof err), SG_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    sg_store_close(f->st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void add_res(fx *f, const char *id, const char *type, const char *name, sg_res_kind k,
                    int port, const char *sys_oid)
{
    sg_resource_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.subscription_id, sizeof r.subscription_id, SUB);
    snprintf(r.resource_group, sizeof r.resource_group, "rg");
    snprintf(r.type, sizeof r.type, "%s", type);
    snprintf(r.name, sizeof r.name, "%s", name);
    snprintf(r.system_principal_id, sizeof r.system_principal_id, "%s", sys_oid ? sys_oid : "");
    r.kind = k;
    r.identity_port = port;
    assert_int_equal(sg_store_resource_add(f->st, &r), SG_OK);
}

static void add_principal(fx *f, const char *oid, const char *appid, const char *kind,
                          const char *mirid)
{
    sg_principal_rec p;
    memset(&p, 0, sizeof p);
    snprintf(p.object_id, sizeof p.object_id, "%s", oid);
    snprintf(p.app_id, sizeof p.app_id, "%s", appid);
    snprintf(p.display_name, sizeof p.display_name, "p");
    snprintf(p.type, sizeof p.type, "%s", kind ? "ManagedIdentity" : "Application");
    snprintf(p.mi_kind, sizeof p.mi_kind, "%s", kind ? kind : "");
    snprintf(p.mi_resource_id, sizeof p.mi_resource_id, "%s", mirid ? mirid : "");
    assert_int_equal(sg_store_principal_add(f->st, &p), SG_OK);
}

static void test_reopen_and_version(void **state)
{
    fx *f = *state;
    char v[64], err[256];
    assert_int_equal(sg_store_meta_get(f->st, "tenant_id", v, sizeof v), SG_ENOTFOUND);
    assert_int_equal(sg_store_meta_set(f->st, "tenant_id", "t1"), SG_OK);
    sg_store_close(f->st);
    assert_int_equal(sg_store_open(f->path, &f->st, err, sizeof err), SG_OK);
    assert_int_equal(sg_store_meta_get(f->st, "tenant_id", v, sizeof v), SG_OK);
    assert_string_equal(v, "t1");
    sg_store_close(f->st);
    f->st = NULL;
    /* a database from a newer binary is refused */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sg_store_open(f->path, &f->st, err, sizeof err), SG_EUNSUPPORTED);
    assert_non_null(strstr(err, "newer"));
    assert_null(f->st);
}

/* temporary keys: (kid, resource, owner, tenant, expiry) rows — no key column at all —,
 * expired rows swept, and the 1 -> 2 migration that adds the table to an older database */
static void test_temp_keys(void **state)
{
    fx *f = *state;
    char err[256];
    sg_tempkey_rec r, got;
    memset(&r, 0, sizeof r);
    snprintf(r.kid, sizeof r.kid, "sigrid-tk-AAAAAAAAAAAAAAAA");
    snprintf(r.resource_id, sizeof r.resource_id, "%s", APP);
    snprintf(r.owner_oid, sizeof r.owner_oid, "aaaaaaaa-0000-4000-8000-000000000001");
    snprintf(r.tenant_id, sizeof r.tenant_id, SUB);
    r.created = 1000;
    r.expires_ms = 5000;
    assert_int_equal(sg_store_tempkey_add(f->st, &r), SG_OK);
    assert_int_equal(sg_store_tempkey_add(f->st, &r), SG_EEXIST);
    snprintf(r.kid, sizeof r.kid, "sigrid-tk-BBBBBBBBBBBBBBBB");
    r.expires_ms = 9000;
    assert_int_equal(sg_store_tempkey_add(f->st, &r), SG_OK);
    assert_int_equal(sg_store_tempkey_get(f->st, "sigrid-tk-AAAAAAAAAAAAAAAA", &got), SG_OK);
    assert_string_equal(got.resource_id, APP);
    assert_string_equal(got.owner_oid, "aaaaaaaa-0000-4000-8000-000000000001");
    assert_int_equal(got.expires_ms, 5000);
    assert_int_equal(sg_store_tempkey_get(f->st, "sigrid-tk-nope", &got), SG_ENOTFOUND);
    /* the rows survive a reopen; the sweep takes the expired one only */
    sg_store_close(f->st);
    assert_int_equal(sg_store_open(f->path, &f->st, err, sizeof err), SG_OK);
    assert_int_equal(sg_store_tempkey_sweep(f->st, 5000), 1);
    assert_int_equal(sg_store_tempkey_get(f->st, "sigrid-tk-AAAAAAAAAAAAAAAA", &got), SG_ENOTFOUND);
    assert_int_equal(sg_store_tempkey_get(f->st, "sigrid-tk-BBBBBBBBBBBBBBBB", &got), SG_OK);
    assert_int_equal(sg_store_tempkey_sweep(f->st, 5000), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(sg_store_tempkey_add(f->st, &r), SG_EINVAL);
    sg_store_close(f->st);
    f->st = NULL;
    /* no key bytes in the schema */
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name='temp_keys'",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_null(strstr((const char *)sqlite3_column_text(s, 0), "key TEXT"));
    sqlite3_finalize(s);
    /* a version-1 database (before temporary keys were kept) is migrated forward */
    assert_int_equal(sqlite3_exec(db, "DROP TABLE temp_keys; PRAGMA user_version=1", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sg_store_open(f->path, &f->st, err, sizeof err), SG_OK);
    assert_int_equal(sg_store_tempkey_get(f->st, "sigrid-tk-BBBBBBBBBBBBBBBB", &got), SG_ENOTFOUND);
    snprintf(r.kid, sizeof r.kid, "sigrid-tk-CCCCCCCCCCCCCCCC");
    snprintf(r.resource_id, sizeof r.resource_id, "%s", APP);
    snprintf(r.owner_oid, sizeof r.owner_oid, "o");
    r.expires_ms = 1;
    assert_int_equal(sg_store_tempkey_add(f->st, &r), SG_OK);
}

static void test_secrets(void **state)
{
    fx *f = *state;
    char h[SG_SECRET_HASH_MAX], h2[SG_SECRET_HASH_MAX];
    assert_int_equal(sg_secret_hash("s3cret", h, sizeof h), SG_OK);
    assert_int_equal(sg_secret_hash("s3cret", h2, sizeof h2), SG_OK);
    assert_string_not_equal(h, h2); /* salted */
    assert_non_null(strstr(h, "pbkdf2-sha256$"));
    assert_null(strstr(h, "s3cret"));
    assert_true(sg_secret_verify("s3cret", h));
    assert_true(sg_secret_verify("s3cret", h)); /* cached path */
    assert_false(sg_secret_verify("s3creT", h));
    assert_false(sg_secret_verify("s3cret", "pbkdf2-sha256$1$$"));
    assert_false(sg_secret_verify("s3cret", "plain"));

    add_principal(f, "aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-0000000000a1",
                  NULL, NULL);
    assert_int_equal(sg_store_app_secret_verify(f->st, "aaaaaaaa-0000-4000-8000-0000000000a1", "x"),
                     SG_ENOTFOUND);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(sg_store_app_secret_add(f->st, "aaaaaaaa-0000-4000-8000-0000000000a1", "k1", h,
                                             now, now + 3600),
                     SG_OK);
    assert_int_equal(sg_store_app_secret_verify(f->st, "AAAAAAAA-0000-4000-8000-0000000000A1",
                                                "s3cret"),
                     SG_OK);
    assert_int_equal(sg_store_app_secret_verify(f->st, "aaaaaaaa-0000-4000-8000-0000000000a1",
                                                "nope"),
                     SG_EAUTH);
    /* expired secrets do not count */
    assert_int_equal(sg_secret_hash("old", h2, sizeof h2), SG_OK);
    assert_int_equal(sg_store_app_secret_add(f->st, "aaaaaaaa-0000-4000-8000-0000000000a1", "k0", h2,
                                             now - 10, now - 1),
                     SG_OK);
    assert_int_equal(sg_store_app_secret_verify(f->st, "aaaaaaaa-0000-4000-8000-0000000000a1",
                                                "old"),
                     SG_EAUTH);
}

static void test_compute_identities(void **state)
{
    fx *f = *state;
    sg_compute_rec *c = calloc(1, sizeof *c);
    sg_uami_rec u;
    sg_principal_rec p;
    assert_int_equal(sg_store_subscription_add(f->st, SUB, "s"), SG_OK);
    assert_int_equal(sg_store_rgroup_add(f->st, SUB, "rg", "local"), SG_OK);
    add_res(f, UAMI, "Microsoft.ManagedIdentity/userAssignedIdentities", "u1", SG_KIND_UAMI, 0, NULL);
    add_principal(f, "bbbbbbbb-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-0000000000b1",
                  "UserAssigned", UAMI);
    add_principal(f, "cccccccc-0000-4000-8000-000000000001", "cccccccc-0000-4000-8000-0000000000c1",
                  "SystemAssigned", VM);
    add_res(f, VM, "Microsoft.Compute/virtualMachines", "vm1", SG_KIND_VM, 9100,
            "cccccccc-0000-4000-8000-000000000001");
    add_res(f, APP, "Microsoft.Web/sites", "app1", SG_KIND_FUNCTIONAPP, 0, NULL);
    assert_int_equal(sg_store_uami_attach(f->st, VM, UAMI), SG_OK);
    assert_int_equal(sg_store_uami_attach(f->st, VM, UAMI), SG_OK); /* idempotent */

    assert_int_equal(sg_store_compute_get(f->st, VM, c), SG_OK);
    assert_int_equal(c->kind, SG_KIND_VM);
    assert_int_equal(c->identity_port, 9100);
    assert_string_equal(c->system_principal_id, "cccccccc-0000-4000-8000-000000000001");
    assert_string_equal(c->system_client_id, "cccccccc-0000-4000-8000-0000000000c1");
    assert_int_equal(c->n_uami, 1);
    assert_string_equal(c->uami[0].id, UAMI);
    assert_string_equal(c->uami[0].client_id, "bbbbbbbb-0000-4000-8000-0000000000b1");
    assert_int_equal(sg_store_compute_by_port(f->st, 9100, c), SG_OK);
    assert_string_equal(c->name, "vm1");
    assert_int_equal(sg_store_compute_by_port(f->st, 9101, c), SG_ENOTFOUND);
    assert_int_equal(sg_store_compute_get(f->st, UAMI, c), SG_ENOTFOUND); /* not compute */

    assert_int_equal(sg_store_uami_get(f->st, UAMI, &u), SG_OK);
    assert_string_equal(u.principal_id, "bbbbbbbb-0000-4000-8000-000000000001");
    assert_int_equal(sg_store_uami_by_client_id(f->st, "BBBBBBBB-0000-4000-8000-0000000000B1", &u),
                     SG_OK);
    assert_int_equal(sg_store_uami_by_principal_id(f->st, "bbbbbbbb-0000-4000-8000-000000000001",
                                                   &u),
                     SG_OK);
    assert_string_equal(u.name, "u1");
    assert_int_equal(sg_store_principal_by_app_id(f->st, "cccccccc-0000-4000-8000-0000000000c1", &p),
                     SG_OK);
    assert_string_equal(p.mi_resource_id, VM);

    /* ports: 9100 used; 9101 avoided by caller; next is 9102 */
    int port = 0, avoid[] = {9101};
    assert_int_equal(sg_store_identity_port_alloc(f->st, 9100, avoid, 1, &port), SG_OK);
    assert_int_equal(port, 9102);

    /* deleting the UAMI detaches it and removes its principal */
    assert_int_equal(sg_store_resource_delete(f->st, UAMI), SG_OK);
    assert_int_equal(sg_store_compute_get(f->st, VM, c), SG_OK);
    assert_int_equal(c->n_uami, 0);
    assert_int_equal(sg_store_principal_by_app_id(f->st, "bbbbbbbb-0000-4000-8000-0000000000b1", &p),
                     SG_ENOTFOUND);
    /* deleting the group deletes the VM and its system-assigned principal */
    assert_int_equal(sg_store_rgroup_delete(f->st, SUB, "RG"), SG_OK);
    assert_int_equal(sg_store_compute_get(f->st, VM, c), SG_ENOTFOUND);
    assert_int_equal(sg_store_compute_get(f->st, APP, c), SG_ENOTFOUND);
    assert_int_equal(sg_store_principal_get(f->st, "cccccccc-0000-4000-8000-000000000001", &p),
                     SG_ENOTFOUND);
    free(c);
}

static int key_cb(const sg_signing_key_rec *k, void *ud)
{
    char *order = ud;
    strcat(order, k->kid);
    assert_non_null(strstr(k->private_pem, "PEM"));
    return 0;
}

static void test_signing_keys_and_assignments(void **state)
{
    fx *f = *state;
    sg_signing_key_rec k = {.kid = "a", .private_pem = "PEM-a", .created = 100};
    char order[16] = "";
    assert_int_equal(sg_store_signing_key_add(f->st, &k), SG_OK);
    sg_signing_key_rec k2 = {.kid = "b", .private_pem = "PEM-b", .created = 200};
    assert_int_equal(sg_store_signing_key_add(f->st, &k2), SG_OK);
    assert_int_equal(sg_store_signing_key_add(f->st, &k2), SG_EEXIST);
    assert_int_equal(sg_store_signing_key_list(f->st, key_cb, order), SG_OK);
    assert_string_equal(order, "ba"); /* newest first */
    assert_int_equal(sg_store_signing_key_update(f->st, "a", 150, 300), SG_OK);
    assert_int_equal(sg_store_signing_key_update(f->st, "zz", 1, 1), SG_ENOTFOUND);
    assert_int_equal(sg_store_signing_key_delete(f->st, "a"), SG_OK);
    assert_int_equal(sg_store_signing_key_delete(f->st, "a"), SG_ENOTFOUND);

    sg_roleassign_rec r = {.id = "r1", .scope = "/subscriptions/" SUB, .principal_id = "p",
                           .principal_type = "ServicePrincipal", .role_definition_id = "x"};
    assert_int_equal(sg_store_roleassign_add(f->st, &r), SG_OK);
    sg_roleassign_rec r2 = r;
    snprintf(r2.id, sizeof r2.id, "r2");
    snprintf(r2.scope, sizeof r2.scope, "/SUBSCRIPTIONS/" SUB);
    assert_int_equal(sg_store_roleassign_add(f->st, &r2), SG_EEXIST); /* same triple, any case */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reopen_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temp_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compute_identities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signing_keys_and_assignments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
