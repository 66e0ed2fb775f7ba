/* Hub state: indexes, excluded, group and user membership, TTL, REST routes, names. */
#include "signalr/sr_internal.h"
#include "signalr/sr_route.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static sr_conn *mk(sr_hub *hub, const char *id, const char *user)
{
    sr_conn *c = SG_NEW(sr_conn);
    assert_non_null(c);
    sr_list_init(&c->all_link);
    sr_list_init(&c->hub_link);
    sr_list_init(&c->user_link);
    snprintf(c->id, sizeof c->id, "%s", id);
    assert_int_equal(sr_hub_join(hub, c, user), SG_OK);
    return c;
}

static void rm(sr_conn *c)
{
    sr_hub_leave(c);
    sg_free(c);
}

typedef struct seen {
    char ids[64][24];
    size_t n;
} seen;

static void visit(sr_conn *c, void *ud)
{
    seen *s = ud;
    snprintf(s->ids[s->n++], 24, "%s", c->id);
}

static int has(const seen *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return 1;
    return 0;
}

static void test_map(void **st)
{
    (void)st;
    sr_hubs hs;
    sr_hubs_init(&hs, 1234);
    char name[32];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "hub%d", i);
        assert_non_null(sr_hub_obtain(&hs, name));
    }
    assert_int_equal(hs.hubs.n, 500);
    for (int i = 0; i < 500; i += 2) {
        snprintf(name, sizeof name, "hub%d", i);
        sr_hub *h = sr_hub_get(&hs, name);
        assert_non_null(h);
        sr_hub_maybe_free(h);
        assert_null(sr_hub_get(&hs, name));
    }
    for (int i = 1; i < 500; i += 2) {
        snprintf(name, sizeof name, "hub%d", i);
        assert_non_null(sr_hub_get(&hs, name));
    }
    sr_hubs_free(&hs);
}

static void test_hub_user_group(void **st)
{
    (void)st;
    sr_hubs hs;
    sr_hubs_init(&hs, 7);
    sr_hub *h = sr_hub_obtain(&hs, "chat");
    h->refs++;
    sr_conn *a = mk(h, "a", "alice");
    sr_conn *b = mk(h, "b", "bob");
    sr_conn *a2 = mk(h, "a2", "alice");
    sr_conn *x = mk(h, "x", NULL);
    seen s = {0};
    assert_int_equal(sr_hub_each(h, NULL, visit, &s), 4);
    char *ex_ids[] = {"b", "x"};
    sr_excl ex = {ex_ids, 2};
    memset(&s, 0, sizeof s);
    assert_int_equal(sr_hub_each(h, &ex, visit, &s), 2);
    assert_true(has(&s, "a") && has(&s, "a2") && !has(&s, "b"));

    memset(&s, 0, sizeof s);
    assert_int_equal(sr_user_each(h, "alice", NULL, visit, &s), 2);
    char *ex2[] = {"a2"};
    sr_excl e2 = {ex2, 1};
    memset(&s, 0, sizeof s);
    assert_int_equal(sr_user_each(h, "alice", &e2, visit, &s), 1);
    assert_true(has(&s, "a"));
    assert_int_equal(sr_user_each(h, "nobody", NULL, visit, &s), 0);

    /* groups */
    assert_int_equal(sr_group_add(h, a, "g1"), SG_OK);
    assert_int_equal(sr_group_add(h, a, "g1"), SG_OK); /* idempotent */
    assert_int_equal(sr_group_add(h, x, "g1"), SG_OK);
    assert_int_equal(sr_group_add(h, x, "g2"), SG_OK);
    assert_int_equal(sr_group_get(h, "g1")->n, 2);
    memset(&s, 0, sizeof s);
    assert_int_equal(sr_group_each(h, "g1", NULL, visit, &s), 2);
    assert_true(has(&s, "a") && has(&s, "x"));
    assert_int_equal(sr_group_remove(h, a, "g1"), SG_OK);
    assert_int_equal(sr_group_remove(h, a, "g1"), SG_ENOTFOUND);
    assert_int_equal(sr_group_get(h, "g1")->n, 1);
    sr_group_remove_all(x);
    assert_null(sr_group_get(h, "g1"));
    assert_null(sr_group_get(h, "g2"));

    /* user groups apply to present and future connections */
    assert_int_equal(sr_user_group_add(h, "alice", "team", 0, 1000), SG_OK);
    assert_true(sr_conn_in_group(a, "team") && sr_conn_in_group(a2, "team"));
    assert_false(sr_conn_in_group(b, "team"));
    sr_conn *a3 = mk(h, "a3", "alice");
    assert_true(sr_conn_in_group(a3, "team"));
    assert_true(sr_user_in_group(h, "alice", "team", 1000));
    assert_false(sr_user_in_group(h, "bob", "team", 1000));
    memset(&s, 0, sizeof s);
    assert_int_equal(sr_group_each(h, "team", &e2, visit, &s), 2);
    assert_int_equal(sr_user_group_remove(h, "alice", "team"), SG_OK);
    assert_null(sr_group_get(h, "team"));
    assert_false(sr_user_in_group(h, "alice", "team", 1000));
    assert_int_equal(sr_user_group_remove(h, "alice", "team"), SG_ENOTFOUND);

    /* user group for an offline user is remembered */
    assert_int_equal(sr_user_group_add(h, "carol", "later", 0, 0), SG_OK);
    assert_true(sr_user_in_group(h, "carol", "later", 0));
    sr_conn *c = mk(h, "c", "carol");
    assert_true(sr_conn_in_group(c, "later"));
    rm(c);
    assert_non_null(sr_user_get(h, "carol")); /* kept: has a group */
    sr_user_group_remove_all(h, "carol");
    assert_null(sr_user_get(h, "carol"));

    /* ttl */
    assert_int_equal(sr_user_group_add(h, "bob", "tmp", 5, 1000), SG_OK);
    assert_true(sr_conn_in_group(b, "tmp"));
    sr_hub_expire(h, 5999);
    assert_true(sr_user_in_group(h, "bob", "tmp", 5999));
    sr_hub_expire(h, 6001);
    assert_false(sr_conn_in_group(b, "tmp"));
    assert_false(sr_user_in_group(h, "bob", "tmp", 6001));
    assert_null(sr_group_get(h, "tmp"));

    /* leaving cleans every index */
    assert_int_equal(sr_group_add(h, a, "z"), SG_OK);
    rm(a);
    rm(a2);
    rm(a3);
    assert_null(sr_user_get(h, "alice"));
    assert_null(sr_group_get(h, "z"));
    rm(b);
    rm(x);
    assert_int_equal(h->nconns, 0);
    h->refs--;
    sr_hub_maybe_free(h);
    assert_null(sr_hub_get(&hs, "chat"));
    sr_hubs_free(&hs);
}

/* A visitor that removes the visited connection (as a slow-consumer close would). */
static void visit_leave(sr_conn *c, void *ud)
{
    (void)ud;
    sr_hub_leave(c);
}

static void test_leave_during_iteration(void **st)
{
    (void)st;
    sr_hubs hs;
    sr_hubs_init(&hs, 3);
    sr_hub *h = sr_hub_obtain(&hs, "h");
    h->refs++;
    sr_conn *cs[5];
    char id[8];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "c%d", i);
        cs[i] = mk(h, id, "u");
        assert_int_equal(sr_group_add(h, cs[i], "g"), SG_OK);
    }
    assert_int_equal(sr_group_each(h, "g", NULL, visit_leave, NULL), 5);
    assert_null(sr_group_get(h, "g"));
    assert_null(sr_user_get(h, "u"));
    assert_int_equal(h->nconns, 0);
    for (int i = 0; i < 5; i++)
        sg_free(cs[i]);
    h->refs--;
    sr_hub_maybe_free(h);
    sr_hubs_free(&hs);
}

static void test_names(void **st)
{
    (void)st;
    char out[300];
    assert_int_equal(sr_hub_key("Chat", NULL, out, sizeof out), SG_OK);
    assert_string_equal(out, "chat");
    assert_int_equal(sr_hub_key("Chat", "App", out, sizeof out), SG_OK);
    assert_string_equal(out, "app_chat");
    assert_int_equal(sr_hub_key("1chat", NULL, out, sizeof out), SG_EINVAL);
    assert_int_equal(sr_hub_key("ch at", NULL, out, sizeof out), SG_EINVAL);
    assert_int_equal(sr_hub_key("chat", "a-b", out, sizeof out), SG_EINVAL);
    assert_true(sr_name_valid_hub("a_b`c,d.[e]", 11));
    char big[200];
    memset(big, 'a', sizeof big);
    assert_true(sr_name_valid_hub(big, 128));
    assert_false(sr_name_valid_hub(big, 129));
    assert_true(sr_name_valid_group(" x ", 3));
    assert_false(sr_name_valid_group("   ", 3));
    assert_false(sr_name_valid_group("", 0));
}

static void route_ok(const char *path, sr_route_kind k, const char *hub, const char *conn,
                     const char *group, const char *user)
{
    sr_route r;
    int rc = sr_route_parse(sg_slice_cstr(path), &r);
    if (rc != SG_OK)
        fail_msg("%s: rc %d", path, rc);
    if (r.kind != k)
        fail_msg("%s: kind %s", path, sr_route_name(r.kind));
    if (hub)
        assert_string_equal(r.hub, hub);
    if (conn)
        assert_string_equal(r.conn, conn);
    else
        assert_null(r.conn);
    if (group)
        assert_string_equal(r.group, group);
    else
        assert_null(r.group);
    if (user)
        assert_string_equal(r.user, user);
    else
        assert_null(r.user);
    sr_route_free(&r);
}

static void test_routes(void **st)
{
    (void)st;
    route_ok("/api/health", SR_R_HEALTH, NULL, NULL, NULL, NULL);
    route_ok("/api/v1/health", SR_R_HEALTH, NULL, NULL, NULL, NULL);
    route_ok("/api/hubs/chat/:send", SR_R_HUB_SEND, "chat", NULL, NULL, NULL);
    route_ok("/api/v1/hubs/chat", SR_R_HUB, "chat", NULL, NULL, NULL);
    route_ok("/api/v1/hubs/chat/", SR_R_HUB, "chat", NULL, NULL, NULL);
    route_ok("/api/hubs/chat/:closeConnections", SR_R_HUB_CLOSE, "chat", NULL, NULL, NULL);
    route_ok("/api/hubs/chat/connections/c1", SR_R_CONN, "chat", "c1", NULL, NULL);
    route_ok("/api/hubs/chat/connections/c1/:send", SR_R_CONN_SEND, "chat", "c1", NULL, NULL);
    route_ok("/api/hubs/chat/connections/c1/groups", SR_R_CONN_GROUPS, "chat", "c1", NULL, NULL);
    route_ok("/api/hubs/chat/connections/c1/groups/g", SR_R_GROUP_CONN, "chat", "c1", "g", NULL);
    route_ok("/api/hubs/chat/groups/g%20x", SR_R_GROUP, "chat", NULL, "g x", NULL);
    route_ok("/api/hubs/chat/groups/g/:send", SR_R_GROUP_SEND, "chat", NULL, "g", NULL);
    route_ok("/api/hubs/chat/groups/g/:closeConnections", SR_R_GROUP_CLOSE, "chat", NULL, "g",
             NULL);
    route_ok("/api/hubs/chat/groups/g/connections/c", SR_R_GROUP_CONN, "chat", "c", "g", NULL);
    route_ok("/api/hubs/chat/groups/g/users/u", SR_R_USER_GROUP, "chat", NULL, "g", "u");
    route_ok("/api/hubs/chat/users/u%2Fv", SR_R_USER, "chat", NULL, NULL, "u/v");
    route_ok("/api/hubs/chat/users/u/:send", SR_R_USER_SEND, "chat", NULL, NULL, "u");
    route_ok("/api/hubs/chat/users/u/:closeConnections", SR_R_USER_CLOSE, "chat", NULL, NULL, "u");
    route_ok("/api/hubs/chat/users/u/groups", SR_R_USER_GROUPS, "chat", NULL, NULL, "u");
    route_ok("/api/hubs/chat/users/u/groups/g", SR_R_USER_GROUP, "chat", NULL, "g", "u");
    route_ok("/api/v1/hubs/chat/users/a+b", SR_R_USER, "chat", NULL, NULL, "a+b");

    sr_route r;
    assert_int_equal(sr_route_parse(sg_slice_cstr("/client/negotiate"), &r), SG_ENOTFOUND);
    assert_int_equal(sr_route_parse(sg_slice_cstr("/api/hubs"), &r), SG_ENOTFOUND);
    assert_int_equal(sr_route_parse(sg_slice_cstr("/api/hubs/chat/bogus"), &r), SG_ENOTFOUND);
    assert_int_equal(
        sr_route_parse(sg_slice_cstr("/api/hubs/chat/connections/c/:closeConnections"), &r),
        SG_ENOTFOUND);
    assert_int_equal(sr_route_parse(sg_slice_cstr("/api/hubs/chat/users/u/groups/g/x"), &r),
                     SG_ENOTFOUND);
    assert_int_equal(sr_route_parse(sg_slice_cstr("/api/hubs/chat/groups//:send"), &r), SG_EINVAL);
    assert_int_equal(sr_route_parse(sg_slice_cstr("/api/hubs/chat/groups/%zz"), &r), SG_EINVAL);
    assert_int_equal(sr_route_parse(sg_slice_cstr("/api/hubs/chat/groups/a%00b"), &r), SG_EINVAL);
    assert_int_equal(sr_route_parse(sg_slice_cstr("/api/a/b/c/d/e/f/g/h/i/j"), &r), SG_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_hub_user_group),
        cmocka_unit_test(test_leave_during_iteration),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
