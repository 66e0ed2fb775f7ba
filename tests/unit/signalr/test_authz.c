/* The data plane's remembered RBAC decisions (sr_authz): a decision is reused only under the
 * same authorization generation, never past the next propagation boundary, denials for at
 * most a second, grants for at most five minutes; the table is bounded. */
#include "signalr/sr_authz.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define OID "aaaaaaaa-0000-4000-8000-000000000001"
#define TID "11111111-1111-4111-8111-111111111111"
#define A_CLIENT "Microsoft.SignalRService/SignalR/clientConnection/write"
#define A_SERVER "Microsoft.SignalRService/SignalR/serverConnection/write"
#define T0 1800000000000ull /* unix ms */

static sg_authz_decision decision(int allowed, const char *code, int64_t valid_until)
{
    sg_authz_decision d;
    memset(&d, 0, sizeof d);
    d.allowed = allowed;
    snprintf(d.code, sizeof d.code, "%s", code);
    d.valid_until = valid_until;
    return d;
}

static void test_generation(void **st)
{
    (void)st;
    sr_authz_cache c;
    sr_authz_init(&c, 1);
    sg_authz_decision d = decision(1, "Allowed", 0);
    sr_authz_put(&c, OID, TID, A_CLIENT, 7, T0, &d);
    const sg_authz_decision *h = sr_authz_get(&c, OID, TID, A_CLIENT, 7, T0 + 10);
    assert_non_null(h);
    assert_true(h->allowed);
    /* the role assignment was deleted: the cloud's generation moved on */
    assert_null(sr_authz_get(&c, OID, TID, A_CLIENT, 8, T0 + 20));
    assert_int_equal(c.map.n, 0); /* and the entry is gone */
    /* other principal / tenant / action: separate entries */
    sr_authz_put(&c, OID, TID, A_CLIENT, 8, T0, &d);
    assert_null(sr_authz_get(&c, OID, TID, A_SERVER, 8, T0));
    assert_null(sr_authz_get(&c, OID, "", A_CLIENT, 8, T0));
    assert_null(sr_authz_get(&c, "bbbbbbbb-0000-4000-8000-000000000002", TID, A_CLIENT, 8, T0));
    assert_non_null(sr_authz_get(&c, OID, TID, A_CLIENT, 8, T0));
    /* a grant is reused at most SR_AUTHZ_ALLOW_MS */
    assert_non_null(sr_authz_get(&c, OID, TID, A_CLIENT, 8, T0 + SR_AUTHZ_ALLOW_MS - 1));
    assert_null(sr_authz_get(&c, OID, TID, A_CLIENT, 8, T0 + SR_AUTHZ_ALLOW_MS));
    sr_authz_free(&c);
}

static void test_propagation_boundary(void **st)
{
    (void)st;
    sr_authz_cache c;
    sr_authz_init(&c, 2);
    /* "not yet propagated": the assignment becomes effective at second B */
    const int64_t B = (int64_t)(T0 / 1000u) + 1;
    sg_authz_decision d = decision(0, "Forbidden.NotYetPropagated", B);
    uint64_t put_at = (uint64_t)B * 1000u - 300; /* 300 ms before the boundary */
    sr_authz_put(&c, OID, TID, A_CLIENT, 3, put_at, &d);
    assert_non_null(sr_authz_get(&c, OID, TID, A_CLIENT, 3, (uint64_t)B * 1000u - 1));
    assert_null(sr_authz_get(&c, OID, TID, A_CLIENT, 3, (uint64_t)B * 1000u)); /* on time */
    /* a boundary already passed: not kept at all */
    sr_authz_put(&c, OID, TID, A_CLIENT, 3, (uint64_t)B * 1000u, &d);
    assert_int_equal(c.map.n, 0);
    /* a denial without a boundary lasts SR_AUTHZ_DENY_MS (its hint counts seconds) */
    d = decision(0, "Forbidden.NoRoleAssignment", 0);
    sr_authz_put(&c, OID, TID, A_CLIENT, 3, T0, &d);
    const sg_authz_decision *h = sr_authz_get(&c, OID, TID, A_CLIENT, 3, T0 + SR_AUTHZ_DENY_MS - 1);
    assert_non_null(h);
    assert_string_equal(h->code, "Forbidden.NoRoleAssignment");
    assert_null(sr_authz_get(&c, OID, TID, A_CLIENT, 3, T0 + SR_AUTHZ_DENY_MS));
    /* a far boundary does not extend a denial */
    d = decision(0, "Forbidden.NotYetPropagated", (int64_t)(T0 / 1000u) + 3600);
    sr_authz_put(&c, OID, TID, A_CLIENT, 3, T0, &d);
    assert_null(sr_authz_get(&c, OID, TID, A_CLIENT, 3, T0 + SR_AUTHZ_DENY_MS));
    sr_authz_free(&c);
}

static void test_bounded_and_sweep(void **st)
{
    (void)st;
    sr_authz_cache c;
    sr_authz_init(&c, 3);
    sg_authz_decision d = decision(1, "Allowed", 0);
    char oid[64];
    for (unsigned i = 0; i < SR_AUTHZ_MAX + 300; i++) {
        snprintf(oid, sizeof oid, "aaaaaaaa-0000-4000-8000-%012u", i);
        sr_authz_put(&c, oid, TID, A_CLIENT, 1, T0, &d);
        assert_true(c.map.n <= SR_AUTHZ_MAX);
    }
    assert_non_null(sr_authz_get(&c, oid, TID, A_CLIENT, 1, T0)); /* the newest is there */
    sr_authz_sweep(&c, 2, T0); /* a new generation: everything goes */
    assert_int_equal(c.map.n, 0);
    /* ids too long for a key are simply not remembered */
    char longid[100];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    sr_authz_put(&c, longid, TID, A_CLIENT, 2, T0, &d);
    assert_int_equal(c.map.n, 0);
    assert_null(sr_authz_get(&c, longid, TID, A_CLIENT, 2, T0));
    sr_authz_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generation),
        cmocka_unit_test(test_propagation_boundary),
        cmocka_unit_test(test_bounded_and_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
