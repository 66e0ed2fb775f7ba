/* test_rbac.c — action wildcards, scope parsing/inheritance (MG ⊃ sub ⊃ RG ⊃ resource) and
 * the explained authorization decision (allowed, denied, why). */
#include "cloud/rbac.h"
#include "cloud/store.h"
#include "sg_err.h"
#include "sg_str.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define TENANT "11111111-1111-4111-8111-111111111111"
#define SUB "22222222-2222-4222-8222-222222222222"
#define SUB2 "33333333-3333-4333-8333-333333333333"
#define SUBSCOPE "/subscriptions/" SUB
#define RG "/subscriptions/" SUB "/resourceGroups/rg1"
#define RES RG "/providers/Microsoft.SignalRService/SignalR/sr1"
#define RES2 RG "/providers/Microsoft.SignalRService/SignalR/sr2"
#define OID "aaaaaaaa-0000-4000-8000-000000000001"
#define APPID "aaaaaaaa-0000-4000-8000-0000000000a1"
#define OID2 "bbbbbbbb-0000-4000-8000-000000000002"
#define APPID2 "bbbbbbbb-0000-4000-8000-0000000000b2"
#define A_SERVER "Microsoft.SignalRService/SignalR/serverConnection/write"
#define A_SEND "Microsoft.SignalRService/SignalR/hub/send/action"
#define NOW 1000000

typedef struct fx {
    char dir[64];
    sg_store *st;
    int n;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char path[128], err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/sg_rbac_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof path, "%s/sigrid.db", f->dir);
    assert_int_equal(sg_store_open(path, &f->st, err, sizeof err), SG_OK);
    assert_int_equal(sg_rbac_seed_builtin(f->st), SG_OK);
    assert_int_equal(sg_store_subscription_add(f->st, SUB, "default"), SG_OK);
    assert_int_equal(sg_store_subscription_add(f->st, SUB2, "other"), SG_OK);
    assert_int_equal(sg_store_rgroup_add(f->st, SUB, "rg1", "local"), SG_OK);
    sg_principal_rec p = {.object_id = OID, .app_id = APPID, .display_name = "vm1",
                          .type = "ManagedIdentity", .mi_kind = "SystemAssigned"};
    assert_int_equal(sg_store_principal_add(f->st, &p), SG_OK);
    sg_principal_rec p2 = {.object_id = OID2, .app_id = APPID2, .display_name = "my-app",
                           .type = "Application"};
    assert_int_equal(sg_store_principal_add(f->st, &p2), SG_OK);
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

static void assign(fx *f, const char *oid, const char *role, const char *scope, int64_t eff)
{
    sg_roleassign_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "cccccccc-0000-4000-8000-%012d", ++f->n);
    snprintf(r.scope, sizeof r.scope, "%s", scope);
    snprintf(r.principal_id, sizeof r.principal_id, "%s", oid);
    snprintf(r.principal_type, sizeof r.principal_type, "ServicePrincipal");
    snprintf(r.role_definition_id, sizeof r.role_definition_id, "%s", role);
    r.created = NOW - 10;
    r.effective_at = eff;
    assert_int_equal(sg_store_roleassign_add(f->st, &r), SG_OK);
}

static void authz(fx *f, const char *oid, const char *action, const char *res,
                  sg_authz_decision *d)
{
    assert_int_equal(sg_rbac_authorize(f->st, TENANT, oid, TENANT, action, res, NOW, d), SG_OK);
}

static void test_action_match(void **state)
{
    (void)state;
    assert_true(sg_rbac_action_match("Microsoft.SignalRService/SignalR/*", A_SEND));
    assert_true(sg_rbac_action_match("microsoft.signalrservice/signalr/HUB/*", A_SEND));
    assert_true(sg_rbac_action_match(A_SERVER, "microsoft.signalrservice/signalr/serverconnection/WRITE"));
    assert_false(sg_rbac_action_match("Microsoft.SignalRService/SignalR/group/*", A_SEND));
    assert_false(sg_rbac_action_match("Microsoft.SignalRService/SignalR/hub", A_SEND));
    assert_true(sg_rbac_action_match("*", A_SEND));
    assert_true(sg_rbac_action_match("*/read", "Microsoft.Foo/bar/read"));
    assert_false(sg_rbac_action_match("*/read", "Microsoft.Foo/bar/write"));
    assert_true(sg_rbac_role_allows("[\"Microsoft.SignalRService/SignalR/*\"]", "[]", A_SEND));
    assert_false(sg_rbac_role_allows("[\"Microsoft.SignalRService/SignalR/*\"]",
                                     "[\"Microsoft.SignalRService/SignalR/hub/*\"]", A_SEND));
    assert_string_equal(sg_rbac_suggest_role(A_SERVER), "SignalR App Server");
    assert_string_equal(sg_rbac_suggest_role(A_SEND), "SignalR REST API Owner");
    assert_string_equal(sg_rbac_suggest_role("Microsoft.SignalRService/SignalR/user/read"),
                        "SignalR REST API Reader");
    assert_string_equal(sg_rbac_suggest_role("Microsoft.SignalRService/SignalR/livetrace/read"),
                        "SignalR Service Owner");
}

static void test_scopes(void **state)
{
    fx *f = *state;
    char mg[SG_STORE_NAME_MAX], sub[SG_STORE_GUID_MAX], rg[SG_STORE_NAME_MAX];
    assert_int_equal(sg_rbac_scope_parse("/", NULL, NULL, NULL), SG_SCOPE_ROOT);
    assert_int_equal(sg_rbac_scope_parse("/providers/Microsoft.Management/managementGroups/mg1",
                                         mg, NULL, NULL),
                     SG_SCOPE_MGROUP);
    assert_string_equal(mg, "mg1");
    assert_int_equal(sg_rbac_scope_parse("/SUBSCRIPTIONS/" SUB "/", NULL, sub, NULL),
                     SG_SCOPE_SUBSCRIPTION);
    assert_string_equal(sub, SUB);
    assert_int_equal(sg_rbac_scope_parse(RG, NULL, sub, rg), SG_SCOPE_RGROUP);
    assert_string_equal(rg, "rg1");
    assert_int_equal(sg_rbac_scope_parse(RES, NULL, NULL, NULL), SG_SCOPE_RESOURCE);
    assert_int_equal(sg_rbac_scope_parse(RG "/providers/X", NULL, NULL, NULL), SG_SCOPE_INVALID);
    assert_int_equal(sg_rbac_scope_parse("subscriptions/x", NULL, NULL, NULL), SG_SCOPE_INVALID);
    assert_int_equal(sg_rbac_scope_parse("/foo/bar", NULL, NULL, NULL), SG_SCOPE_INVALID);

    assert_true(sg_rbac_scope_covers(RG, RES));
    assert_true(sg_rbac_scope_covers("/subscriptions/" SUB, RES));
    assert_true(sg_rbac_scope_covers("/SUBSCRIPTIONS/" SUB "/resourcegroups/RG1", RES));
    assert_true(sg_rbac_scope_covers(RES, RES));
    assert_true(sg_rbac_scope_covers("/", RES));
    assert_false(sg_rbac_scope_covers(RES, RG));
    assert_false(sg_rbac_scope_covers("/subscriptions/" SUB "/resourceGroups/rg", RES));
    assert_false(sg_rbac_scope_covers(RES2, RES));

    /* chain: resource, rg, sub, (mg), root */
    char chain[8][SG_STORE_ID_MAX];
    size_t n = sg_rbac_scope_chain(f->st, RES, chain, 8);
    assert_int_equal(n, 4);
    assert_string_equal(chain[0], RES);
    assert_string_equal(chain[1], RG);
    assert_string_equal(chain[2], "/subscriptions/" SUB);
    assert_string_equal(chain[3], "/");
    assert_int_equal(sg_store_mgroup_add(f->st, "mg1", NULL), SG_OK);
    assert_int_equal(sg_store_mgroup_add_subscription(f->st, "MG1", SUB), SG_OK);
    n = sg_rbac_scope_chain(f->st, RES, chain, 8);
    assert_int_equal(n, 5);
    assert_string_equal(chain[3], "/providers/Microsoft.Management/managementGroups/mg1");
    /* nested resource: its parent resource is in the chain */
    n = sg_rbac_scope_chain(f->st, RES "/replicas/r1", chain, 8);
    assert_int_equal(n, 6);
    assert_string_equal(chain[1], RES);
}

static void test_no_role(void **state)
{
    fx *f = *state;
    sg_authz_decision d;
    authz(f, OID, A_SERVER, RES, &d);
    assert_false(d.allowed);
    assert_string_equal(d.code, "Forbidden.NoRoleAssignment");
    assert_non_null(strstr(d.hint, "SignalR App Server"));
    assert_non_null(strstr(d.hint, "--assignee " OID));
    assert_non_null(strstr(d.hint, "--scope " RES));
    assert_non_null(strstr(d.scopes_checked, RES ";" RG ";/subscriptions/" SUB ";/"));
}

static void test_inheritance_each_scope(void **state)
{
    fx *f = *state;
    sg_authz_decision d;
    const char *scopes[] = {RES, RG, SUBSCOPE};
    for (size_t i = 0; i < 3; i++) {
        sg_store_close(f->st);
        f->st = NULL;
        char path[128], err[256];
        snprintf(path, sizeof path, "%s/sigrid.db", f->dir);
        assert_int_equal(sg_store_open(path, &f->st, err, sizeof err), SG_OK);
        /* fresh assignments per scope */
        char id[64];
        snprintf(id, sizeof id, "cccccccc-0000-4000-8000-%012d", f->n);
        sg_store_roleassign_delete(f->st, id);
        assign(f, OID, SG_ROLE_SIGNALR_APP_SERVER, scopes[i], NOW - 1);
        authz(f, OID, A_SERVER, RES, &d);
        assert_true(d.allowed);
        assert_string_equal(d.code, "Allowed");
        assert_non_null(strstr(d.message, scopes[i]));
        /* the other resource is covered only by rg/sub assignments */
        authz(f, OID, A_SERVER, RES2, &d);
        assert_int_equal(d.allowed, i > 0);
        if (i == 0)
            assert_string_equal(d.code, "Forbidden.ScopeMismatch");
    }
}

static void test_management_group(void **state)
{
    fx *f = *state;
    sg_authz_decision d;
    assert_int_equal(sg_store_mgroup_add(f->st, "mg1", "MG one"), SG_OK);
    assign(f, OID, SG_ROLE_SIGNALR_SERVICE_OWNER,
           "/providers/Microsoft.Management/managementGroups/mg1", NOW - 1);
    authz(f, OID, A_SEND, RES, &d);
    assert_false(d.allowed); /* subscription not in the group yet */
    assert_string_equal(d.code, "Forbidden.ScopeMismatch");
    assert_int_equal(sg_store_mgroup_add_subscription(f->st, "mg1", SUB), SG_OK);
    authz(f, OID, A_SEND, RES, &d);
    assert_true(d.allowed);
    assert_non_null(strstr(d.message, "managementGroups/mg1"));
}

static void test_wrong_role(void **state)
{
    fx *f = *state;
    sg_authz_decision d;
    assign(f, OID, SG_ROLE_SIGNALR_APP_SERVER, RES, NOW - 1);
    authz(f, OID, A_SEND, RES, &d);
    assert_false(d.allowed);
    assert_string_equal(d.code, "Forbidden.RoleLacksAction");
    assert_non_null(strstr(d.hint, "SignalR REST API Owner"));
    /* control-plane Owner grants no dataActions */
    assign(f, OID2, SG_ROLE_OWNER, "/subscriptions/" SUB, NOW - 1);
    authz(f, OID2, A_SERVER, RES, &d);
    assert_false(d.allowed);
    assert_string_equal(d.code, "Forbidden.RoleLacksAction");
    assert_non_null(strstr(d.message, "'Owner'"));
    /* REST API Owner: hub wildcard */
    assign(f, OID, SG_ROLE_SIGNALR_REST_OWNER, RG, NOW - 1);
    authz(f, OID, A_SEND, RES, &d);
    assert_true(d.allowed);
}

static void test_propagation(void **state)
{
    fx *f = *state;
    sg_authz_decision d;
    assign(f, OID, SG_ROLE_SIGNALR_APP_SERVER, RES, NOW + 42);
    authz(f, OID, A_SERVER, RES, &d);
    assert_false(d.allowed);
    assert_string_equal(d.code, "Forbidden.NotYetPropagated");
    assert_non_null(strstr(d.message, "42 s left"));
    assert_int_equal(d.valid_until, NOW + 42); /* a cached denial must end there */
    assert_true(sg_rbac_authorize(f->st, TENANT, OID, TENANT, A_SERVER, RES, NOW + 42, &d) ==
                SG_OK);
    assert_true(d.allowed);
    assert_int_equal(d.valid_until, 0); /* a grant only changes with the store */
    /* the earliest of two pending assignments is the boundary */
    assign(f, OID, SG_ROLE_SIGNALR_SERVICE_OWNER, RG, NOW + 7);
    authz(f, OID, A_SERVER, RES, &d);
    assert_false(d.allowed);
    assert_int_equal(d.valid_until, NOW + 7);
    /* no pending assignment: no time bound */
    authz(f, OID2, A_SERVER, RES, &d);
    assert_false(d.allowed);
    assert_int_equal(d.valid_until, 0);
}

/* every write that can change a decision moves the generation; reads do not */
static void test_generation(void **state)
{
    fx *f = *state;
    sg_authz_decision d;
    uint64_t g = sg_store_generation(f->st);
    authz(f, OID, A_SERVER, RES, &d);
    sg_principal_rec pr;
    assert_int_equal(sg_store_principal_get(f->st, OID, &pr), SG_OK);
    assert_true(sg_store_generation(f->st) == g);
    assign(f, OID, SG_ROLE_SIGNALR_APP_SERVER, RES, NOW - 1);
    assert_true(sg_store_generation(f->st) > g);
    g = sg_store_generation(f->st);
    char id[SG_STORE_GUID_MAX];
    snprintf(id, sizeof id, "cccccccc-0000-4000-8000-%012d", f->n);
    assert_int_equal(sg_store_roleassign_delete(f->st, id), SG_OK);
    assert_true(sg_store_generation(f->st) > g);
    g = sg_store_generation(f->st);
    assert_int_equal(sg_rbac_seed_builtin(f->st), SG_OK); /* role definitions rewritten */
    assert_true(sg_store_generation(f->st) > g);
    g = sg_store_generation(f->st);
    assert_int_equal(sg_store_mgroup_add(f->st, "mg1", NULL), SG_OK);
    assert_true(sg_store_generation(f->st) > g);
    g = sg_store_generation(f->st);
    assert_int_equal(sg_store_mgroup_add_subscription(f->st, "mg1", SUB), SG_OK);
    assert_true(sg_store_generation(f->st) > g);
    g = sg_store_generation(f->st);
    assert_int_equal(sg_store_principal_delete(f->st, OID2), SG_OK);
    assert_true(sg_store_generation(f->st) > g);
    g = sg_store_generation(f->st);
    assert_int_equal(sg_store_rgroup_delete(f->st, SUB, "rg1"), SG_OK);
    assert_true(sg_store_generation(f->st) > g);
    g = sg_store_generation(f->st);
    /* a rollback too: a decision taken inside the transaction saw its rows */
    assert_int_equal(sg_store_begin(f->st), SG_OK);
    sg_store_rollback(f->st);
    assert_true(sg_store_generation(f->st) > g);
    /* not: metadata */
    g = sg_store_generation(f->st);
    assert_int_equal(sg_store_meta_set(f->st, "x", "y"), SG_OK);
    assert_true(sg_store_generation(f->st) == g);
}

static void test_tenant_and_principal(void **state)
{
    fx *f = *state;
    sg_authz_decision d;
    assign(f, OID, SG_ROLE_SIGNALR_APP_SERVER, RES, NOW - 1);
    assert_int_equal(sg_rbac_authorize(f->st, TENANT, OID, "99999999-0000-4000-8000-000000000000",
                                       A_SERVER, RES, NOW, &d),
                     SG_OK);
    assert_false(d.allowed);
    assert_string_equal(d.code, "Forbidden.TenantMismatch");
    assert_non_null(strstr(d.hint, TENANT));

    authz(f, "deadbeef-0000-4000-8000-000000000000", A_SERVER, RES, &d);
    assert_string_equal(d.code, "Forbidden.PrincipalNotFound");
    /* a client id where an object id belongs */
    authz(f, APPID, A_SERVER, RES, &d);
    assert_string_equal(d.code, "Forbidden.PrincipalNotFound");
    assert_non_null(strstr(d.hint, OID));
    assert_non_null(strstr(d.hint, "object"));
}

static void test_other_identity_holds_role(void **state)
{
    fx *f = *state;
    sg_authz_decision d;
    assign(f, OID, SG_ROLE_SIGNALR_APP_SERVER, RES, NOW - 1);
    authz(f, OID2, A_SERVER, RES, &d);
    assert_false(d.allowed);
    assert_string_equal(d.code, "Forbidden.NoRoleAssignment");
    assert_non_null(strstr(d.hint, "'vm1'"));
    assert_non_null(strstr(d.hint, "ClientId=" APPID));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_match),
        cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inheritance_each_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_management_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_propagation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_and_principal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_identity_holds_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
