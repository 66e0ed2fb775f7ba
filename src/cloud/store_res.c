/* store_res.c — subscriptions, management groups, resource groups, resources, compute
 * identities, user-assigned identities, SignalR rows. */
#include "cloud/store_priv.h"

#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_str.h"

#include <string.h>
#include <time.h>

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* Runs a prepared statement, calling row(s, ud2) per row; stops on non-zero. */
typedef int (*row_fn)(sqlite3_stmt *s, void *ud);
static int run_rows(sg_store *st, sqlite3_stmt *s, row_fn fn, void *ud, const char *what)
{
    int rc = 0, r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        rc = fn(s, ud);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = sg__store_err(st, r, what);
    sqlite3_finalize(s);
    return rc;
}

/* One row into out via fn; SG_ENOTFOUND if none. */
static int run_one(sg_store *st, sqlite3_stmt *s, row_fn fn, void *out, const char *what)
{
    int r = sqlite3_step(s);
    int rc;
    if (r == SQLITE_ROW) {
        fn(s, out);
        rc = SG_OK;
    } else {
        rc = r == SQLITE_DONE ? SG_ENOTFOUND : sg__store_err(st, r, what);
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- subscriptions ------------------------------------------------------------------------ */

static int sub_row(sqlite3_stmt *s, void *ud)
{
    sg_subscription_rec *r = ud;
    memset(r, 0, sizeof *r);
    SG_STORE_COL(s, 0, r->id);
    SG_STORE_COL(s, 1, r->name);
    SG_STORE_COL(s, 2, r->management_group);
    return 0;
}

int sg_store_subscription_add(sg_store *st, const char *id, const char *name)
{
    if (!sg__store_fits(id, SG_STORE_GUID_MAX) || !sg__store_fits(name, SG_STORE_NAME_MAX))
        return SG_EINVAL;
    return sg__store_bumped(st, sg__store_exec(st, "INSERT INTO subscriptions(id, name, created) VALUES(?,?,?)", "ssi",
                          id, name, now_s()));
}

int sg_store_subscription_get(sg_store *st, const char *id, sg_subscription_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s,
                               "SELECT id, name, management_group FROM subscriptions WHERE id=?",
                               "s", id);
    return rc ? rc : run_one(st, s, sub_row, out, "subscription_get");
}

struct sub_iter {
    sg_store_subscription_cb cb;
    void *ud;
};
static int sub_iter_row(sqlite3_stmt *s, void *ud)
{
    struct sub_iter *it = ud;
    sg_subscription_rec r;
    sub_row(s, &r);
    return it->cb(&r, it->ud);
}

int sg_store_subscription_list(sg_store *st, sg_store_subscription_cb cb, void *ud)
{
    sqlite3_stmt *s;
    struct sub_iter it = {cb, ud};
    int rc = sg__store_prepare(
        st, &s, "SELECT id, name, management_group FROM subscriptions ORDER BY created, id", "");
    return rc ? rc : run_rows(st, s, sub_iter_row, &it, "subscription_list");
}

/* ---- management groups ---------------------------------------------------------------------- */

static int mg_row(sqlite3_stmt *s, void *ud)
{
    sg_mgroup_rec *r = ud;
    memset(r, 0, sizeof *r);
    SG_STORE_COL(s, 0, r->name);
    SG_STORE_COL(s, 1, r->display_name);
    return 0;
}

int sg_store_mgroup_add(sg_store *st, const char *name, const char *display_name)
{
    if (!sg__store_fits(name, SG_STORE_NAME_MAX))
        return SG_EINVAL;
    if (!display_name)
        display_name = name;
    return sg__store_bumped(st, sg__store_exec(st,
                          "INSERT INTO management_groups(name, display_name, created) VALUES(?,?,?)",
                          "ssi", name, display_name, now_s()));
}

int sg_store_mgroup_get(sg_store *st, const char *name, sg_mgroup_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s,
                               "SELECT name, display_name FROM management_groups WHERE name=?",
                               "s", name);
    return rc ? rc : run_one(st, s, mg_row, out, "mgroup_get");
}

int sg_store_mgroup_delete(sg_store *st, const char *name)
{
    int own, rc = sg__store_txn_start(st, &own);
    if (rc)
        return rc;
    rc = sg__store_exec_changes(st, "DELETE FROM management_groups WHERE name=?", "s", name);
    if (rc == SG_OK)
        rc = sg__store_exec(st,
                            "UPDATE subscriptions SET management_group='' WHERE management_group=?",
                            "s", name);
    if (rc == SG_OK) {
        char scope[SG_STORE_ID_MAX];
        if (sg_snprintf(scope, sizeof scope, "/providers/Microsoft.Management/managementGroups/%s",
                        name) == SG_OK)
            rc = sg__store_exec(st, "DELETE FROM role_assignments WHERE scope=?", "s", scope);
    }
    return sg__store_bumped(st, sg__store_txn_end(st, own, rc));
}

struct mg_iter {
    sg_store_mgroup_cb cb;
    void *ud;
};
static int mg_iter_row(sqlite3_stmt *s, void *ud)
{
    struct mg_iter *it = ud;
    sg_mgroup_rec r;
    mg_row(s, &r);
    return it->cb(&r, it->ud);
}

int sg_store_mgroup_list(sg_store *st, sg_store_mgroup_cb cb, void *ud)
{
    sqlite3_stmt *s;
    struct mg_iter it = {cb, ud};
    int rc = sg__store_prepare(
        st, &s, "SELECT name, display_name FROM management_groups ORDER BY created, name", "");
    return rc ? rc : run_rows(st, s, mg_iter_row, &it, "mgroup_list");
}

int sg_store_mgroup_add_subscription(sg_store *st, const char *mg, const char *subscription_id)
{
    return sg__store_bumped(st, sg__store_exec_changes(st,
                                  "UPDATE subscriptions SET management_group="
                                  "(SELECT name FROM management_groups WHERE name=?1)"
                                  " WHERE id=?2 AND EXISTS"
                                  "(SELECT 1 FROM management_groups WHERE name=?1)",
                                  "ss", mg, subscription_id));
}

int sg_store_mgroup_remove_subscription(sg_store *st, const char *mg, const char *subscription_id)
{
    return sg__store_bumped(st, sg__store_exec_changes(
        st, "UPDATE subscriptions SET management_group='' WHERE id=? AND management_group=?", "ss",
        subscription_id, mg));
}

int sg_store_mgroup_subscriptions(sg_store *st, const char *mg, sg_store_subscription_cb cb,
                                  void *ud)
{
    sqlite3_stmt *s;
    struct sub_iter it = {cb, ud};
    int rc = sg__store_prepare(st, &s,
                               "SELECT id, name, management_group FROM subscriptions"
                               " WHERE management_group=? ORDER BY created, id",
                               "s", mg);
    return rc ? rc : run_rows(st, s, sub_iter_row, &it, "mgroup_subscriptions");
}

/* ---- resource groups --------------------------------------------------------------------- */

static int rg_row(sqlite3_stmt *s, void *ud)
{
    sg_rgroup_rec *r = ud;
    memset(r, 0, sizeof *r);
    SG_STORE_COL(s, 0, r->subscription_id);
    SG_STORE_COL(s, 1, r->name);
    SG_STORE_COL(s, 2, r->location);
    return 0;
}

int sg_store_rgroup_add(sg_store *st, const char *sub, const char *name, const char *location)
{
    if (!sg__store_fits(sub, SG_STORE_GUID_MAX) || !sg__store_fits(name, SG_STORE_NAME_MAX) ||
        !sg__store_fits(location, 64))
        return SG_EINVAL;
    return sg__store_bumped(st, sg__store_exec(st,
                          "INSERT INTO resource_groups(subscription_id, name, location, created)"
                          " VALUES(?,?,?,?)",
                          "sssi", sub, name, location, now_s()));
}

int sg_store_rgroup_get(sg_store *st, const char *sub, const char *name, sg_rgroup_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s,
                               "SELECT subscription_id, name, location FROM resource_groups"
                               " WHERE subscription_id=? AND name=?",
                               "ss", sub, name);
    return rc ? rc : run_one(st, s, rg_row, out, "rgroup_get");
}

struct id_list {
    char (*ids)[SG_STORE_ID_MAX];
    size_t n, cap;
};
static int id_collect(sqlite3_stmt *s, void *ud)
{
    struct id_list *l = ud;
    if (l->n == l->cap)
        return 0;
    SG_STORE_COL(s, 0, l->ids[l->n]);
    l->n++;
    return 0;
}

int sg_store_rgroup_delete(sg_store *st, const char *sub, const char *name)
{
    int own, rc = sg__store_txn_start(st, &own);
    if (rc)
        return rc;
    rc = sg__store_exec_changes(st, "DELETE FROM resource_groups WHERE subscription_id=? AND name=?",
                                "ss", sub, name);
    /* Delete the resources one by one (each cleans up its dependents). */
    while (rc == SG_OK) {
        char ids[16][SG_STORE_ID_MAX];
        struct id_list l = {ids, 0, 16};
        sqlite3_stmt *s;
        rc = sg__store_prepare(st, &s,
                               "SELECT id FROM resources WHERE subscription_id=? AND resource_group=?"
                               " LIMIT 16",
                               "ss", sub, name);
        if (rc == SG_OK)
            rc = run_rows(st, s, id_collect, &l, "rgroup_delete");
        if (rc != SG_OK || l.n == 0)
            break;
        for (size_t i = 0; i < l.n && rc == SG_OK; i++)
            rc = sg_store_resource_delete(st, ids[i]);
    }
    if (rc == SG_OK) {
        char scope[SG_STORE_ID_MAX];
        if (sg_snprintf(scope, sizeof scope, "/subscriptions/%s/resourceGroups/%s", sub, name) ==
            SG_OK)
            rc = sg__store_exec(st, "DELETE FROM role_assignments WHERE scope=?", "s", scope);
    }
    return sg__store_bumped(st, sg__store_txn_end(st, own, rc));
}

struct rg_iter {
    sg_store_rgroup_cb cb;
    void *ud;
};
static int rg_iter_row(sqlite3_stmt *s, void *ud)
{
    struct rg_iter *it = ud;
    sg_rgroup_rec r;
    rg_row(s, &r);
    return it->cb(&r, it->ud);
}

int sg_store_rgroup_list(sg_store *st, const char *sub, sg_store_rgroup_cb cb, void *ud)
{
    sqlite3_stmt *s;
    struct rg_iter it = {cb, ud};
    int rc = sg__store_prepare(st, &s,
                               "SELECT subscription_id, name, location FROM resource_groups"
                               " WHERE (?1 IS NULL OR subscription_id=?1) ORDER BY created, name",
                               "s", sub);
    return rc ? rc : run_rows(st, s, rg_iter_row, &it, "rgroup_list");
}

/* ---- resources ------------------------------------------------------------------------------ */

#define RES_COLS                                                                                   \
    "id, subscription_id, resource_group, type, name, kind, identity_port, identity_header,"      \
    " system_principal_id, created"

static int res_row(sqlite3_stmt *s, void *ud)
{
    sg_resource_rec *r = ud;
    memset(r, 0, sizeof *r);
    SG_STORE_COL(s, 0, r->id);
    SG_STORE_COL(s, 1, r->subscription_id);
    SG_STORE_COL(s, 2, r->resource_group);
    SG_STORE_COL(s, 3, r->type);
    SG_STORE_COL(s, 4, r->name);
    r->kind = (sg_res_kind)sqlite3_column_int(s, 5);
    r->identity_port = sqlite3_column_int(s, 6);
    SG_STORE_COL(s, 7, r->identity_header);
    SG_STORE_COL(s, 8, r->system_principal_id);
    r->created = sqlite3_column_int64(s, 9);
    return 0;
}

int sg_store_resource_add(sg_store *st, const sg_resource_rec *r)
{
    if (!r->id[0] || !r->name[0] || !r->type[0])
        return SG_EINVAL;
    if (r->identity_port)
        return sg__store_bumped(st, sg__store_exec(st,
                              "INSERT INTO resources(" RES_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?)",
                              "sssssddssi", r->id, r->subscription_id, r->resource_group, r->type,
                              r->name, (int)r->kind, r->identity_port, r->identity_header,
                              r->system_principal_id, r->created ? r->created : now_s()));
    return sg__store_bumped(st, sg__store_exec(st, "INSERT INTO resources(" RES_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?)",
                          "sssssdnssi", r->id, r->subscription_id, r->resource_group, r->type,
                          r->name, (int)r->kind, r->identity_header, r->system_principal_id,
                          r->created ? r->created : now_s()));
}

int sg_store_resource_get(sg_store *st, const char *id, sg_resource_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s, "SELECT " RES_COLS " FROM resources WHERE id=?", "s", id);
    return rc ? rc : run_one(st, s, res_row, out, "resource_get");
}

int sg_store_resource_update_identity(sg_store *st, const sg_resource_rec *r)
{
    if (r->identity_port)
        return sg__store_bumped(st, sg__store_exec_changes(st,
                                      "UPDATE resources SET identity_port=?, identity_header=?,"
                                      " system_principal_id=? WHERE id=?",
                                      "dsss", r->identity_port, r->identity_header,
                                      r->system_principal_id, r->id));
    return sg__store_bumped(st, sg__store_exec_changes(st,
                                  "UPDATE resources SET identity_port=NULL, identity_header=?,"
                                  " system_principal_id=? WHERE id=?",
                                  "sss", r->identity_header, r->system_principal_id, r->id));
}

int sg_store_resource_delete(sg_store *st, const char *id)
{
    sg_resource_rec r;
    int own, rc = sg__store_txn_start(st, &own);
    if (rc)
        return rc;
    rc = sg_store_resource_get(st, id, &r);
    if (rc == SG_OK && r.system_principal_id[0]) {
        rc = sg_store_principal_delete(st, r.system_principal_id);
        if (rc == SG_ENOTFOUND)
            rc = SG_OK;
    }
    if (rc == SG_OK && r.kind == SG_KIND_UAMI) {
        sg_principal_rec p;
        sqlite3_stmt *s;
        rc = sg__store_prepare(st, &s,
                               "SELECT object_id, app_id, display_name, type, mi_kind,"
                               " mi_resource_id, created FROM principals"
                               " WHERE mi_resource_id=? AND mi_kind='UserAssigned'",
                               "s", id);
        if (rc == SG_OK) {
            int r2 = sqlite3_step(s);
            if (r2 == SQLITE_ROW)
                SG_STORE_COL(s, 0, p.object_id);
            sqlite3_finalize(s);
            if (r2 == SQLITE_ROW)
                rc = sg_store_principal_delete(st, p.object_id);
        }
        if (rc == SG_OK)
            rc = sg__store_exec(st, "DELETE FROM resource_uamis WHERE uami_id=?", "s", id);
    }
    if (rc == SG_OK)
        rc = sg__store_exec(st, "DELETE FROM resource_uamis WHERE resource_id=?", "s", id);
    if (rc == SG_OK)
        rc = sg__store_exec(st, "DELETE FROM signalr WHERE resource_id=?", "s", id);
    if (rc == SG_OK)
        rc = sg__store_exec(st, "DELETE FROM role_assignments WHERE scope=?", "s", id);
    if (rc == SG_OK)
        rc = sg__store_exec(st, "DELETE FROM resources WHERE id=?", "s", id);
    return sg__store_bumped(st, sg__store_txn_end(st, own, rc));
}

struct res_iter {
    sg_store_resource_cb cb;
    void *ud;
};
static int res_iter_row(sqlite3_stmt *s, void *ud)
{
    struct res_iter *it = ud;
    sg_resource_rec r;
    res_row(s, &r);
    return it->cb(&r, it->ud);
}

int sg_store_resource_list(sg_store *st, const char *sub, const char *rg, const char *type,
                           sg_store_resource_cb cb, void *ud)
{
    sqlite3_stmt *s;
    struct res_iter it = {cb, ud};
    int rc = sg__store_prepare(st, &s,
                               "SELECT " RES_COLS " FROM resources WHERE"
                               " (?1 IS NULL OR subscription_id=?1) AND"
                               " (?2 IS NULL OR resource_group=?2) AND (?3 IS NULL OR type=?3)"
                               " ORDER BY created, id",
                               "sss", sub, rg, type);
    return rc ? rc : run_rows(st, s, res_iter_row, &it, "resource_list");
}

static int port_alloc(sg_store *st, const char *sql, int base, const int *avoid, size_t navoid,
                      int *out)
{
    for (int p = base > 0 ? base : 1; p < 65536; p++) {
        int skip = 0;
        for (size_t i = 0; i < navoid; i++)
            skip |= avoid[i] == p;
        if (skip)
            continue;
        sqlite3_stmt *s;
        int rc = sg__store_prepare(st, &s, sql, "d", p);
        if (rc)
            return rc;
        int r = sqlite3_step(s);
        sqlite3_finalize(s);
        if (r == SQLITE_DONE) {
            *out = p;
            return SG_OK;
        }
        if (r != SQLITE_ROW)
            return sg__store_err(st, r, "port_alloc");
    }
    return SG_ELIMIT;
}

int sg_store_identity_port_alloc(sg_store *st, int base, const int *avoid, size_t navoid,
                                 int *out)
{
    return port_alloc(st,
                      "SELECT 1 FROM resources WHERE identity_port=?1"
                      " UNION ALL SELECT 1 FROM signalr WHERE port=?1",
                      base, avoid, navoid, out);
}

int sg_store_signalr_port_alloc(sg_store *st, int base, const int *avoid, size_t navoid, int *out)
{
    return port_alloc(st,
                      "SELECT 1 FROM resources WHERE identity_port=?1"
                      " UNION ALL SELECT 1 FROM signalr WHERE port=?1",
                      base, avoid, navoid, out);
}

/* ---- compute + identities ---------------------------------------------------------------- */

static int uami_ref_row(sqlite3_stmt *s, void *ud)
{
    sg_compute_rec *c = ud;
    if (c->n_uami == SG_STORE_MAX_UAMI)
        return 0;
    sg_uami_ref *u = &c->uami[c->n_uami++];
    SG_STORE_COL(s, 0, u->id);
    SG_STORE_COL(s, 1, u->client_id);
    SG_STORE_COL(s, 2, u->principal_id);
    return 0;
}

static int compute_fill(sg_store *st, const sg_resource_rec *r, sg_compute_rec *out)
{
    sqlite3_stmt *s;
    int rc;
    memset(out, 0, sizeof *out);
    memcpy(out->id, r->id, sizeof out->id);
    memcpy(out->name, r->name, sizeof out->name);
    memcpy(out->resource_group, r->resource_group, sizeof out->resource_group);
    memcpy(out->subscription_id, r->subscription_id, sizeof out->subscription_id);
    out->kind = r->kind;
    out->identity_port = r->identity_port;
    memcpy(out->identity_header, r->identity_header, sizeof out->identity_header);
    if (r->system_principal_id[0]) {
        sg_principal_rec p;
        rc = sg_store_principal_get(st, r->system_principal_id, &p);
        if (rc == SG_OK) {
            memcpy(out->system_principal_id, p.object_id, sizeof out->system_principal_id);
            memcpy(out->system_client_id, p.app_id, sizeof out->system_client_id);
        } else if (rc != SG_ENOTFOUND) {
            return rc;
        }
    }
    rc = sg__store_prepare(st, &s,
                           "SELECT r.id, p.app_id, p.object_id FROM resource_uamis a"
                           " JOIN resources r ON r.id = a.uami_id"
                           " JOIN principals p ON p.mi_resource_id = r.id AND p.mi_kind='UserAssigned'"
                           " WHERE a.resource_id=? ORDER BY r.id",
                           "s", r->id);
    return rc ? rc : run_rows(st, s, uami_ref_row, out, "compute_uamis");
}

static int is_compute(sg_res_kind k)
{
    return k == SG_KIND_VM || k == SG_KIND_FUNCTIONAPP || k == SG_KIND_WEBAPP;
}

int sg_store_compute_get(sg_store *st, const char *resource_id, sg_compute_rec *out)
{
    sg_resource_rec r;
    int rc = sg_store_resource_get(st, resource_id, &r);
    if (rc)
        return rc;
    if (!is_compute(r.kind))
        return SG_ENOTFOUND;
    return compute_fill(st, &r, out);
}

int sg_store_compute_by_port(sg_store *st, int identity_port, sg_compute_rec *out)
{
    sqlite3_stmt *s;
    sg_resource_rec r;
    int rc = sg__store_prepare(st, &s, "SELECT " RES_COLS " FROM resources WHERE identity_port=?",
                               "d", identity_port);
    if (rc)
        return rc;
    rc = run_one(st, s, res_row, &r, "compute_by_port");
    if (rc)
        return rc;
    if (!is_compute(r.kind))
        return SG_ENOTFOUND;
    return compute_fill(st, &r, out);
}

struct compute_collect {
    sg_resource_rec *rows;
    size_t n, cap;
    int oom;
};
static int compute_collect_cb(const sg_resource_rec *r, void *ud)
{
    struct compute_collect *c = ud;
    if (!is_compute(r->kind))
        return 0;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        sg_resource_rec *nr = sg_realloc(c->rows, ncap * sizeof *nr);
        if (!nr) {
            c->oom = 1;
            return SG_ENOMEM;
        }
        c->rows = nr;
        c->cap = ncap;
    }
    c->rows[c->n++] = *r;
    return 0;
}

int sg_store_compute_list(sg_store *st, sg_store_compute_cb cb, void *ud)
{
    struct compute_collect c = {0};
    sg_compute_rec *rec = NULL;
    /* Collect first: compute_fill runs queries of its own. */
    int rc = sg_store_resource_list(st, NULL, NULL, NULL, compute_collect_cb, &c);
    if (rc)
        goto cleanup;
    rec = SG_NEW(sg_compute_rec);
    if (!rec) {
        rc = SG_ENOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < c.n; i++) {
        rc = compute_fill(st, &c.rows[i], rec);
        if (rc)
            break;
        rc = cb(rec, ud);
        if (rc)
            break;
    }
cleanup:
    sg_free(rec);
    sg_free(c.rows);
    return rc;
}

#define UAMI_SELECT                                                                                \
    "SELECT r.id, r.name, r.resource_group, r.subscription_id, p.app_id, p.object_id"             \
    " FROM resources r JOIN principals p ON p.mi_resource_id = r.id AND p.mi_kind='UserAssigned'" \
    " WHERE r.kind=4"

static int uami_row(sqlite3_stmt *s, void *ud)
{
    sg_uami_rec *u = ud;
    memset(u, 0, sizeof *u);
    SG_STORE_COL(s, 0, u->id);
    SG_STORE_COL(s, 1, u->name);
    SG_STORE_COL(s, 2, u->resource_group);
    SG_STORE_COL(s, 3, u->subscription_id);
    SG_STORE_COL(s, 4, u->client_id);
    SG_STORE_COL(s, 5, u->principal_id);
    return 0;
}

int sg_store_uami_get(sg_store *st, const char *resource_id, sg_uami_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s, UAMI_SELECT " AND r.id=?", "s", resource_id);
    return rc ? rc : run_one(st, s, uami_row, out, "uami_get");
}

int sg_store_uami_by_client_id(sg_store *st, const char *client_id, sg_uami_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s, UAMI_SELECT " AND p.app_id=?", "s", client_id);
    return rc ? rc : run_one(st, s, uami_row, out, "uami_by_client_id");
}

int sg_store_uami_by_principal_id(sg_store *st, const char *principal_id, sg_uami_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s, UAMI_SELECT " AND p.object_id=?", "s", principal_id);
    return rc ? rc : run_one(st, s, uami_row, out, "uami_by_principal_id");
}

struct uami_iter {
    sg_store_uami_cb cb;
    void *ud;
};
static int uami_iter_row(sqlite3_stmt *s, void *ud)
{
    struct uami_iter *it = ud;
    sg_uami_rec r;
    uami_row(s, &r);
    return it->cb(&r, it->ud);
}

int sg_store_uami_list(sg_store *st, const char *subscription_id, const char *resource_group,
                       sg_store_uami_cb cb, void *ud)
{
    sqlite3_stmt *s;
    struct uami_iter it = {cb, ud};
    int rc = sg__store_prepare(st, &s,
                               UAMI_SELECT " AND (?1 IS NULL OR r.subscription_id=?1)"
                                           " AND (?2 IS NULL OR r.resource_group=?2)"
                                           " ORDER BY r.created, r.id",
                               "ss", subscription_id, resource_group);
    return rc ? rc : run_rows(st, s, uami_iter_row, &it, "uami_list");
}

int sg_store_uami_attach(sg_store *st, const char *resource_id, const char *uami_id)
{
    return sg__store_exec(st, "INSERT OR IGNORE INTO resource_uamis(resource_id, uami_id) VALUES(?,?)",
                          "ss", resource_id, uami_id);
}

int sg_store_uami_detach(sg_store *st, const char *resource_id, const char *uami_id)
{
    return sg__store_exec_changes(st, "DELETE FROM resource_uamis WHERE resource_id=? AND uami_id=?",
                                  "ss", resource_id, uami_id);
}

/* ---- SignalR ------------------------------------------------------------------------------ */

#define SR_SELECT                                                                                  \
    "SELECT r.id, r.name, r.resource_group, r.subscription_id, s.port, s.tls, s.serverless,"      \
    " s.disable_local_auth, s.primary_key, s.secondary_key"                                        \
    " FROM signalr s JOIN resources r ON r.id = s.resource_id"

static int sr_row(sqlite3_stmt *s, void *ud)
{
    sg_signalr_rec *r = ud;
    memset(r, 0, sizeof *r);
    SG_STORE_COL(s, 0, r->id);
    SG_STORE_COL(s, 1, r->name);
    SG_STORE_COL(s, 2, r->resource_group);
    SG_STORE_COL(s, 3, r->subscription_id);
    r->port = sqlite3_column_int(s, 4);
    r->tls = sqlite3_column_int(s, 5);
    r->serverless = sqlite3_column_int(s, 6);
    r->disable_local_auth = sqlite3_column_int(s, 7);
    SG_STORE_COL(s, 8, r->primary_key);
    SG_STORE_COL(s, 9, r->secondary_key);
    return 0;
}

int sg_store_signalr_add(sg_store *st, const sg_signalr_rec *r)
{
    return sg__store_exec(st,
                          "INSERT INTO signalr(resource_id, port, tls, serverless,"
                          " disable_local_auth, primary_key, secondary_key) VALUES(?,?,?,?,?,?,?)",
                          "sddddss", r->id, r->port, r->tls, r->serverless, r->disable_local_auth,
                          r->primary_key, r->secondary_key);
}

int sg_store_signalr_get(sg_store *st, const char *id, sg_signalr_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s, SR_SELECT " WHERE s.resource_id=?", "s", id);
    return rc ? rc : run_one(st, s, sr_row, out, "signalr_get");
}

int sg_store_signalr_update(sg_store *st, const sg_signalr_rec *r)
{
    return sg__store_exec_changes(st,
                                  "UPDATE signalr SET port=?, tls=?, serverless=?,"
                                  " disable_local_auth=?, primary_key=?, secondary_key=?"
                                  " WHERE resource_id=?",
                                  "ddddsss", r->port, r->tls, r->serverless, r->disable_local_auth,
                                  r->primary_key, r->secondary_key, r->id);
}

struct sr_iter {
    sg_store_signalr_cb cb;
    void *ud;
};
static int sr_iter_row(sqlite3_stmt *s, void *ud)
{
    struct sr_iter *it = ud;
    sg_signalr_rec r;
    sr_row(s, &r);
    return it->cb(&r, it->ud);
}

int sg_store_signalr_list(sg_store *st, sg_store_signalr_cb cb, void *ud)
{
    sqlite3_stmt *s;
    struct sr_iter it = {cb, ud};
    int rc = sg__store_prepare(st, &s, SR_SELECT " ORDER BY r.created, r.id", "");
    return rc ? rc : run_rows(st, s, sr_iter_row, &it, "signalr_list");
}
