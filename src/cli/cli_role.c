/* cli_role.c — `sigrid role definition list`, `sigrid role assignment create|list|delete`. */
#include "cli/cli_arm.h"

#include "sg_buf.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_str.h"

#include <string.h>
#include <strings.h>

/* Scope without trailing '/', "" for the tenant root; default = the default subscription. */
static int norm_scope(const sg_cli_ctx *ctx, const char *given, char *out, size_t n)
{
    if (!given) {
        char sub[64];
        int rc = sg_cliarm_sub(ctx, NULL, sub, sizeof sub);
        if (rc)
            return rc;
        sg_snprintf(out, n, "/subscriptions/%s", sub);
        return 0;
    }
    if (given[0] != '/')
        return sg_cli_usage_error(ctx,
                                  "argument --scope: '%s' must start with '/' "
                                  "(/subscriptions/S[/resourceGroups/RG[/providers/...]] or "
                                  "/providers/Microsoft.Management/managementGroups/MG).",
                                  given);
    if (sg_snprintf(out, n, "%s", given) != SG_OK)
        return sg_cli_fail("InvalidArgument", "scope too long");
    size_t l = strlen(out);
    while (l > 0 && out[l - 1] == '/')
        out[--l] = 0;
    return 0;
}

/* Resolves --assignee (object id or client id) to the object id. */
static int resolve_assignee(const sg_cli_ctx *ctx, const char *assignee, char *oid, size_t n,
                            json_t **sp_out)
{
    char path[SG_CLI_PATH_MAX];
    json_t *sp = NULL;
    long status = 0;
    int rc = sg_cliarm_path(path, sizeof path, SG_ARM_GRAPH_SP "/%s", assignee);
    if (rc == 0)
        rc = sg_cliarm_get_status(ctx, path, &status, &sp);
    if (rc)
        return rc;
    if (status == 404) {
        json_decref(sp);
        return sg_cli_fail("PrincipalNotFound",
                           "Cannot find user or service principal in graph database for '%s': "
                           "it is neither an object id nor a client (app) id in this tenant "
                           "(see 'sigrid identity list', 'sigrid ad sp list').",
                           assignee);
    }
    if (status != 200) {
        const char *m = json_string_value(json_object_get(json_object_get(sp, "error"), "message"));
        json_decref(sp);
        return sg_cli_fail("PrincipalLookupFailed", "%s", m ? m : "lookup failed");
    }
    sg_snprintf(oid, n, "%s", json_string_value(json_object_get(sp, "id")));
    if (sp_out)
        *sp_out = sp;
    else
        json_decref(sp);
    return 0;
}

/* Role definitions visible at scope; matches role by roleName, GUID or full id. */
static int resolve_role(const sg_cli_ctx *ctx, const char *scope, const char *role, json_t **def)
{
    char path[SG_CLI_PATH_MAX];
    json_t *defs = NULL;
    int rc = sg_cliarm_path(path, sizeof path, "%s" SG_ARM_AUTHZ "/roleDefinitions", scope);
    if (rc == 0)
        rc = sg_cli_mgmt(ctx, "GET", path, NULL, &defs);
    if (rc)
        return rc;
    const char *want = strrchr(role, '/') ? strrchr(role, '/') + 1 : role;
    size_t i;
    json_t *d;
    *def = NULL;
    json_array_foreach(json_object_get(defs, "value"), i, d)
    {
        const char *nm =
            json_string_value(json_object_get(json_object_get(d, "properties"), "roleName"));
        const char *id = json_string_value(json_object_get(d, "name"));
        if ((nm && strcasecmp(nm, role) == 0) || (id && strcasecmp(id, want) == 0)) {
            *def = json_incref(d);
            break;
        }
    }
    json_decref(defs);
    if (!*def)
        return sg_cli_fail("RoleNotFound",
                           "Role '%s' doesn't exist. See 'sigrid role definition list'.", role);
    return 0;
}

/* ---- role definition list ------------------------------------------------------------------- */

static int def_list(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--name", .metavar = "NAME", .help = "Role name or id."},
        {.name = "--scope", .metavar = "SCOPE", .help = "Scope (default: the subscription)."},
        {0},
    };
    char scope[SG_CLI_PATH_MAX], path[SG_CLI_PATH_MAX];
    int rc = sg_cli_parse(ctx, argc, argv, f, "List role definitions (built-in roles).", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = norm_scope(ctx, sg_cli_str(f, "--scope"), scope, sizeof scope);
    if (rc == 0)
        rc = sg_cliarm_path(path, sizeof path, "%s" SG_ARM_AUTHZ "/roleDefinitions", scope);
    if (rc == 0)
        rc = sg_cliarm_list_print(ctx, path, sg_cliarm_roledef_view, sg_cliarm_roledef_is,
                                  sg_cli_str(f, "--name"));
done:
    sg_cli_flags_free(f);
    return rc;
}

static const sg_cli_verb def_verbs[] = {
    {"list", def_list, "List role definitions."},
    {0},
};

static int role_definition(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, def_verbs, "Role definitions.");
}

/* ---- role assignment ---------------------------------------------------------------------------
 */

static int ra_create(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--assignee",
         .metavar = "ID",
         .required = 1,
         .help = "Object (principal) id or client (app) id; stored as the object id."},
        {.name = "--role", .metavar = "ROLE", .required = 1, .help = "Role name or id."},
        {.name = "--scope",
         .metavar = "SCOPE",
         .help = "Management group, subscription, resource group or resource id (default: the "
                 "subscription)."},
        {.name = "--assignee-principal-type",
         .metavar = "TYPE",
         .def = "ServicePrincipal",
         .help = "Principal type."},
        {0},
    };
    char scope[SG_CLI_PATH_MAX], path[SG_CLI_PATH_MAX], oid[64], guid[40];
    json_t *sp = NULL, *def = NULL, *body = NULL, *out = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f, "Assign a role to a principal at a scope.", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    const char *assignee = sg_cli_str(f, "--assignee");
    rc = norm_scope(ctx, sg_cli_str(f, "--scope"), scope, sizeof scope);
    if (rc == 0)
        rc = resolve_assignee(ctx, assignee, oid, sizeof oid, &sp);
    if (rc == 0)
        rc = resolve_role(ctx, scope, sg_cli_str(f, "--role"), &def);
    if (rc)
        goto done;
    if (sg_uuid4(guid) != 0) {
        rc = sg_cli_fail("InternalError", "no randomness");
        goto done;
    }
    rc = sg_cliarm_path(path, sizeof path, "%s" SG_ARM_AUTHZ "/roleAssignments/%s", scope, guid);
    if (rc)
        goto done;
    body =
        json_pack("{s:{s:O,s:s,s:s}}", "properties", "roleDefinitionId", json_object_get(def, "id"),
                  "principalId", oid, "principalType", sg_cli_str(f, "--assignee-principal-type"));
    rc = sg_cli_mgmt(ctx, "PUT", path, body, &out);
    if (rc == 0) {
        json_t *v = sg_cliarm_assignment_view(out);
        const char *from = json_string_value(json_object_get(sp, "resolvedFrom"));
        int by_app = from && strcmp(from, "appId") == 0;
        json_object_set_new(v, "assignee", json_string(assignee));
        json_object_set_new(v, "assigneeResolvedFrom",
                            json_string(by_app ? "clientId" : "objectId"));
        json_object_set(v, "principalName", json_object_get(sp, "displayName"));
        if (by_app)
            json_object_set_new(v, "note",
                                json_pack("s++", "--assignee ", assignee,
                                          " is a client (app) id; the assignment is stored "
                                          "against its object id (principalId)."));
        rc = sg_cli_print_json(v);
        json_decref(v);
    }
done:
    json_decref(sp);
    json_decref(def);
    json_decref(body);
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static int ra_fetch(const sg_cli_ctx *ctx, const char *assignee, const char *scope_arg,
                    const char *role, int inherited, json_t **arr_out)
{
    char scope[SG_CLI_PATH_MAX], path[SG_CLI_PATH_MAX], oid[64] = "";
    json_t *out = NULL;
    int rc = 0;
    *arr_out = NULL;
    if (scope_arg)
        rc = norm_scope(ctx, scope_arg, scope, sizeof scope);
    else
        scope[0] = 0; /* everything: tenant root */
    if (rc == 0 && assignee)
        rc = resolve_assignee(ctx, assignee, oid, sizeof oid, NULL);
    if (rc == 0)
        rc = sg_cliarm_path(path, sizeof path, "%s" SG_ARM_AUTHZ "/roleAssignments", scope);
    if (rc)
        return rc;
    if (oid[0]) {
        size_t l = strlen(path);
        sg_snprintf(path + l, sizeof path - l, "&$filter=principalId%%20eq%%20%%27%s%%27", oid);
    }
    rc = sg_cli_mgmt(ctx, "GET", path, NULL, &out);
    if (rc)
        return rc;
    json_t *arr = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(out, "value"), i, v)
    {
        json_t *view = sg_cliarm_assignment_view(v);
        const char *sc = json_string_value(json_object_get(view, "scope"));
        const char *rn = json_string_value(json_object_get(view, "roleDefinitionName"));
        const char *rid = json_string_value(json_object_get(view, "roleDefinitionId"));
        int keep = 1;
        if (scope_arg && !inherited && (!sc || strcasecmp(sc, scope[0] ? scope : "/") != 0))
            keep = 0;
        if (role && keep) {
            const char *tail = rid && strrchr(rid, '/') ? strrchr(rid, '/') + 1 : "";
            keep = (rn && strcasecmp(rn, role) == 0) || strcasecmp(tail, role) == 0;
        }
        if (keep)
            json_array_append_new(arr, view);
        else
            json_decref(view);
    }
    json_decref(out);
    *arr_out = arr;
    return 0;
}

static int ra_list(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--assignee", .metavar = "ID", .help = "Object id or client id."},
        {.name = "--scope", .metavar = "SCOPE", .help = "Only assignments at this scope."},
        {.name = "--role", .metavar = "ROLE", .help = "Only this role (name or id)."},
        {.name = "--include-inherited",
         .kind = SG_CLI_BOOL,
         .help = "With --scope: also assignments above and below it."},
        {.name = "--all", .kind = SG_CLI_BOOL, .help = "Every assignment (the default)."},
        {0},
    };
    json_t *arr = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f, "List role assignments.", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = ra_fetch(ctx, sg_cli_str(f, "--assignee"), sg_cli_str(f, "--scope"),
                  sg_cli_str(f, "--role"), (int)sg_cli_flag_find(f, "--include-inherited")->num,
                  &arr);
    if (rc == 0)
        rc = sg_cli_print_json(arr);
done:
    json_decref(arr);
    sg_cli_flags_free(f);
    return rc;
}

static int ra_delete(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--ids",
         .kind = SG_CLI_MULTI,
         .metavar = "ID",
         .help = "Role assignment ids (as printed by create/list)."},
        {.name = "--assignee", .metavar = "ID", .help = "Or: delete this principal's..."},
        {.name = "--role", .metavar = "ROLE", .help = "...assignments of this role..."},
        {.name = "--scope", .metavar = "SCOPE", .help = "...at this scope."},
        {0},
    };
    json_t *arr = NULL, *deleted = json_array();
    int rc = sg_cli_parse(ctx, argc, argv, f, "Delete role assignments.", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    sg_cli_flag *ids = sg_cli_flag_find(f, "--ids");
    if (ids->count) {
        arr = json_array();
        for (size_t i = 0; i < ids->count; i++)
            json_array_append_new(arr, json_pack("{s:s}", "id", ids->values[i]));
    } else {
        if (!sg_cli_str(f, "--assignee") && !sg_cli_str(f, "--role") && !sg_cli_str(f, "--scope")) {
            rc = sg_cli_usage_error(ctx, "give --ids, or --assignee/--role/--scope.");
            goto done;
        }
        rc = ra_fetch(ctx, sg_cli_str(f, "--assignee"), sg_cli_str(f, "--scope"),
                      sg_cli_str(f, "--role"), 0, &arr);
        if (rc)
            goto done;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        char path[SG_CLI_PATH_MAX];
        json_t *out = NULL;
        const char *id = json_string_value(json_object_get(v, "id"));
        if (!id || id[0] != '/') {
            rc = sg_cli_usage_error(ctx, "argument --ids: '%s' is not a role assignment id.",
                                    id ? id : "");
            break;
        }
        rc = sg_cliarm_path(path, sizeof path, "%s", id);
        if (rc == 0)
            rc = sg_cli_mgmt(ctx, "DELETE", path, NULL, &out);
        if (rc == 0 && out)
            json_array_append_new(deleted, sg_cliarm_assignment_view(out));
        json_decref(out);
        if (rc)
            break;
    }
    if (rc == 0)
        rc = sg_cli_print_json(deleted);
done:
    json_decref(arr);
    json_decref(deleted);
    sg_cli_flags_free(f);
    return rc;
}

static const sg_cli_verb ra_verbs[] = {
    {"create", ra_create,
     "Assign a role: {id, principalId, principalType, roleDefinitionId, "
     "roleDefinitionName, scope}."},
    {"list", ra_list, "List role assignments."},
    {"delete", ra_delete, "Delete role assignments."},
    {0},
};

static int role_assignment(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, ra_verbs, "Role assignments.");
}

/* ---- role check (sigrid) ------------------------------------------------------------------ */

static int role_check(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--assignee",
         .metavar = "ID",
         .required = 1,
         .help = "Object id or client id of the principal."},
        {.name = "--action",
         .metavar = "ACTION",
         .required = 1,
         .help = "dataAction, e.g. serverConnection/write or "
                 "Microsoft.SignalRService/SignalR/hub/send/action."},
        {.name = "--scope",
         .metavar = "RESOURCE",
         .required = 1,
         .help = "Resource id (e.g. of a SignalR resource)."},
        {.name = "--tenant", .metavar = "TID", .help = "Token tenant to check against."},
        {0},
    };
    char scope[SG_CLI_PATH_MAX], path[SG_CLI_PATH_MAX], oid[64], action[512];
    json_t *sp = NULL, *body = NULL, *out = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          "Explain whether a principal may perform a dataAction on a resource "
                          "(the decision the data plane makes, with the reason and the fix).",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    const char *act = sg_cli_str(f, "--action");
    if (strncasecmp(act, "Microsoft.", 10) == 0)
        sg_snprintf(action, sizeof action, "%s", act);
    else
        sg_snprintf(action, sizeof action, "Microsoft.SignalRService/SignalR/%s", act);
    rc = norm_scope(ctx, sg_cli_str(f, "--scope"), scope, sizeof scope);
    if (rc == 0)
        rc = resolve_assignee(ctx, sg_cli_str(f, "--assignee"), oid, sizeof oid, &sp);
    if (rc == 0)
        rc = sg_cliarm_path(path, sizeof path, "%s" SG_ARM_AUTHZ "/checkAccess", scope);
    if (rc)
        goto done;
    body = json_pack("{s:s,s:s}", "principalId", oid, "action", action);
    if (sg_cli_str(f, "--tenant"))
        json_object_set_new(body, "tenantId", json_string(sg_cli_str(f, "--tenant")));
    rc = sg_cli_mgmt(ctx, "POST", path, body, &out);
    if (rc == 0) {
        const char *from = json_string_value(json_object_get(sp, "resolvedFrom"));
        json_object_set_new(
            out, "assigneeResolvedFrom",
            json_string(from && strcmp(from, "appId") == 0 ? "clientId" : "objectId"));
        json_object_set(out, "principalName", json_object_get(sp, "displayName"));
        rc = sg_cli_print_json(out);
    }
done:
    json_decref(sp);
    json_decref(body);
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}

static const sg_cli_verb role_verbs[] = {
    {"definition", role_definition, "Role definitions."},
    {"assignment", role_assignment, "Role assignments."},
    {"check", role_check, "Explain an authorization decision (allowed or why not)."},
    {0},
};

int sg_cli_role(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, role_verbs, "Manage RBAC: roles and assignments.");
}
