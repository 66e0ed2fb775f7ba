/* store_rbac.c — role definitions and role assignments tables. */
#include "cloud/store_priv.h"

#include "sg_err.h"

#include <string.h>

#define RD_COLS                                                                                    \
    "id, name, description, type, actions, not_actions, data_actions, not_data_actions"

static int roledef_rows(sg_store *st, sqlite3_stmt *s, sg_store_roledef_cb cb, void *ud,
                        int *found)
{
    int rc = 0, r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        sg_roledef_rec d;
        memset(&d, 0, sizeof d);
        SG_STORE_COL(s, 0, d.id);
        SG_STORE_COL(s, 1, d.name);
        SG_STORE_COL(s, 2, d.description);
        SG_STORE_COL(s, 3, d.type);
        d.actions_json = (const char *)sqlite3_column_text(s, 4);
        d.not_actions_json = (const char *)sqlite3_column_text(s, 5);
        d.data_actions_json = (const char *)sqlite3_column_text(s, 6);
        d.not_data_actions_json = (const char *)sqlite3_column_text(s, 7);
        if (found)
            (*found)++;
        rc = cb(&d, ud);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = sg__store_err(st, r, "roledef_rows");
    sqlite3_finalize(s);
    return rc;
}

int sg_store_roledef_put(sg_store *st, const sg_roledef_rec *r)
{
    return sg__store_bumped(st, sg__store_exec(st, "INSERT OR REPLACE INTO role_definitions(" RD_COLS ")"
                              " VALUES(?,?,?,?,?,?,?,?)",
                          "ssssssss", r->id, r->name, r->description, r->type,
                          r->actions_json ? r->actions_json : "[]",
                          r->not_actions_json ? r->not_actions_json : "[]",
                          r->data_actions_json ? r->data_actions_json : "[]",
                          r->not_data_actions_json ? r->not_data_actions_json : "[]"));
}

int sg_store_roledef_find(sg_store *st, const char *id_or_name, sg_store_roledef_cb cb, void *ud)
{
    sqlite3_stmt *s;
    int found = 0;
    int rc = sg__store_prepare(st, &s,
                               "SELECT " RD_COLS " FROM role_definitions WHERE id=?1 OR name=?1"
                               " LIMIT 1",
                               "s", id_or_name);
    if (rc)
        return rc;
    rc = roledef_rows(st, s, cb, ud, &found);
    if (rc == 0 && !found)
        rc = SG_ENOTFOUND;
    return rc;
}

int sg_store_roledef_list(sg_store *st, sg_store_roledef_cb cb, void *ud)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s, "SELECT " RD_COLS " FROM role_definitions ORDER BY name",
                               "");
    return rc ? rc : roledef_rows(st, s, cb, ud, NULL);
}

#define RA_COLS "id, scope, principal_id, principal_type, role_definition_id, created, effective_at"

static void ra_row(sqlite3_stmt *s, sg_roleassign_rec *r)
{
    memset(r, 0, sizeof *r);
    SG_STORE_COL(s, 0, r->id);
    SG_STORE_COL(s, 1, r->scope);
    SG_STORE_COL(s, 2, r->principal_id);
    SG_STORE_COL(s, 3, r->principal_type);
    SG_STORE_COL(s, 4, r->role_definition_id);
    r->created = sqlite3_column_int64(s, 5);
    r->effective_at = sqlite3_column_int64(s, 6);
}

int sg_store_roleassign_add(sg_store *st, const sg_roleassign_rec *r)
{
    return sg__store_bumped(st, sg__store_exec(st, "INSERT INTO role_assignments(" RA_COLS ") VALUES(?,?,?,?,?,?,?)",
                          "sssssii", r->id, r->scope, r->principal_id, r->principal_type,
                          r->role_definition_id, r->created, r->effective_at));
}

int sg_store_roleassign_get(sg_store *st, const char *id, sg_roleassign_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s, "SELECT " RA_COLS " FROM role_assignments WHERE id=?", "s",
                               id);
    if (rc)
        return rc;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        ra_row(s, out);
        rc = SG_OK;
    } else {
        rc = r == SQLITE_DONE ? SG_ENOTFOUND : sg__store_err(st, r, "roleassign_get");
    }
    sqlite3_finalize(s);
    return rc;
}

int sg_store_roleassign_delete(sg_store *st, const char *id)
{
    return sg__store_bumped(st, sg__store_exec_changes(st, "DELETE FROM role_assignments WHERE id=?", "s", id));
}

int sg_store_roleassign_list(sg_store *st, const char *principal_id, const char *scope,
                             sg_store_roleassign_cb cb, void *ud)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s,
                               "SELECT " RA_COLS " FROM role_assignments WHERE"
                               " (?1 IS NULL OR principal_id=?1) AND (?2 IS NULL OR scope=?2)"
                               " ORDER BY created, id",
                               "ss", principal_id, scope);
    if (rc)
        return rc;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        sg_roleassign_rec a;
        ra_row(s, &a);
        rc = cb(&a, ud);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = sg__store_err(st, r, "roleassign_list");
    sqlite3_finalize(s);
    return rc;
}
