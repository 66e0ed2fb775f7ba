/* cli_client.c — client-side commands built on libsigrid (INTERFACE §8):
 *
 *   sigrid account get-access-token [--resource URL] [--client-id ID | --object-id ID |
 *                                    --msi-resource-id ID] [--managed-identity]
 *   sigrid send [--connection-string CS | --settings FILE] [--connection-name PREFIX] --hub H
 *               [--user U | --group G | --connection C] --target T [--args JSON]
 *   sigrid negotiate [--connection-string CS | --settings FILE] --hub H [--user U]
 *   sigrid doctor (--endpoint URL [--client-id ID] | --connection-string CS | --settings FILE)
 *                 [--hub H]
 *
 * Only libsigrid's public API (include/sigrid/) is used for tokens and service calls, so these
 * commands behave exactly as an app using the SDK would; the management API of a running
 * sigrid is consulted only by doctor, for roles and authorization decisions. */
#include "cli/cli_client.h"

#include "cli/cli_arm.h"
#include "cloud/rbac.h"
#include "net/httpc.h"
#include "proto/jwt.h"
#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_buf.h"
#include "sg_str.h"
#include "sigrid/credential.h"
#include "sigrid/signalr.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ENTRA_SCOPE "https://signalr.azure.com/.default"
#define DEFAULT_PREFIX "AzureSignalRConnectionString"

/* ---- helpers ----------------------------------------------------------------------------- */

/* JWT payload, unverified (client side only needs to read it). */
static void az_time(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    if (strftime(out, n, "%Y-%m-%d %H:%M:%S.000000", &tm) == 0 && n)
        out[0] = 0;
}

static const char *cred_code(int rc)
{
    switch (rc) {
    case SG_ENOTFOUND:
        return "CredentialUnavailable";
    case SG_EAUTH:
        return "AuthenticationFailed";
    case SG_EINVAL:
        return "InvalidArgument";
    default:
        return "TokenError";
    }
}

static json_t *links_json(sg_credential *cred)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < sg_credential_link_count(cred); i++) {
        sg_credential_link l;
        if (sg_credential_link_get(cred, i, &l) != SG_OK)
            continue;
        json_t *o = json_pack("{s:s,s:s}", "credential", l.name ? l.name : "?", "outcome",
                              sg_credential_outcome_name(l.outcome));
        if (l.message[0])
            json_object_set_new(o, "detail", json_string(l.message));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* ---- account get-access-token -------------------------------------------------------------- */

int sg_cli_account_get_access_token(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--resource",
         .metavar = "URL",
         .def = "https://management.azure.com",
         .help = "Resource the token is for (its aud)."},
        {.name = "--scope",
         .metavar = "SCOPE",
         .help = "Scope instead of --resource (URL/.default)."},
        {.name = "--managed-identity",
         .kind = SG_CLI_BOOL,
         .help = "Use ManagedIdentityCredential instead of the DefaultAzureCredential chain."},
        {.name = "--client-id",
         .metavar = "ID",
         .help = "User-assigned managed identity by client id (implies --managed-identity)."},
        {.name = "--object-id",
         .metavar = "ID",
         .help = "User-assigned managed identity by object (principal) id."},
        {.name = "--msi-resource-id",
         .metavar = "ID",
         .help = "User-assigned managed identity by ARM resource id."},
        {0},
    };
    sg_credential *cred = NULL;
    sg_access_token tok = {0};
    sg_credential_error err = {0};
    json_t *claims = NULL, *out = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          "Get an access token with libsigrid's DefaultAzureCredential chain (or "
                          "its ManagedIdentityCredential), like `az account get-access-token`.",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    char scope[1100];
    const char *res = sg_cli_str(f, "--resource");
    size_t rl = strlen(res);
    int srx = sg_cli_str(f, "--scope")
                  ? sg_snprintf(scope, sizeof scope, "%s", sg_cli_str(f, "--scope"))
                  : sg_snprintf(scope, sizeof scope, "%s%s", res,
                                rl && res[rl - 1] == '/' ? ".default" : "/.default");
    if (srx != 0) {
        rc = sg_cli_usage_error(ctx, "--resource is too long.");
        goto done;
    }
    sg_credential_options o = {.size = sizeof o};
    o.managed_identity_client_id = sg_cli_str(f, "--client-id");
    o.managed_identity_object_id = sg_cli_str(f, "--object-id");
    o.managed_identity_resource_id = sg_cli_str(f, "--msi-resource-id");
    int mi = sg_cli_flag_find(f, "--managed-identity")->num || o.managed_identity_client_id ||
             o.managed_identity_object_id || o.managed_identity_resource_id;
    rc = mi ? sg_managed_identity_credential_new(&o, &cred, &err)
            : sg_default_azure_credential_new(&o, &cred, &err);
    if (rc) {
        rc = sg_cli_fail(cred_code(rc), "%s", err.message[0] ? err.message : sg_strerror(rc));
        goto done;
    }
    rc = sg_credential_get_token(cred, scope, &tok, &err);
    if (rc) {
        rc = sg_cli_fail(cred_code(rc), "%s", err.message[0] ? err.message : sg_strerror(rc));
        goto done;
    }
    claims = sg_jwt_payload_unverified(tok.token);
    char when[64];
    az_time(tok.expires_on, when, sizeof when);
    out = json_object();
    json_object_set_new(out, "accessToken", json_string(tok.token));
    json_object_set_new(out, "expiresOn", json_string(when));
    json_object_set_new(out, "expires_on", json_integer(tok.expires_on));
    json_object_set(out, "tenant",
                    json_object_get(claims, "tid") ? json_object_get(claims, "tid") : json_null());
    json_object_set_new(out, "tokenType",
                        json_string(tok.token_type[0] ? tok.token_type : "Bearer"));
    const char *by = sg_credential_answered_by(cred);
    json_object_set_new(out, "credential", json_string(by ? by : sg_credential_name(cred)));
    rc = sg_cli_print_json(out);
done:
    json_decref(out);
    json_decref(claims);
    sg_access_token_clear(&tok);
    sg_credential_free(cred);
    sg_cli_flags_free(f);
    return rc;
}

/* ---- endpoint from flags ------------------------------------------------------------------- */

/* Builds the endpoint from --connection-string, or --endpoint (+ DefaultAzureCredential), or
 * the Functions-style settings. Prints the error and returns 1 on failure. */
static int endpoint_from_flags(const sg_cli_ctx *ctx, sg_cli_flag *f, sg_service_endpoint **ep)
{
    (void)ctx;
    char msg[1024] = "";
    const char *cs = sg_cli_str(f, "--connection-string");
    const char *url = sg_cli_flag_find(f, "--endpoint") ? sg_cli_str(f, "--endpoint") : NULL;
    sg_endpoint_options eo = {.size = sizeof eo};
    sg_credential_options co = {.size = sizeof co};
    eo.credential = &co;
    int rc;
    if (cs) {
        rc = sg_service_endpoint_from_connection_string(cs, &eo, ep, msg, sizeof msg);
    } else if (url) {
        sg_credential *cred = NULL;
        sg_credential_error err = {0};
        co.managed_identity_client_id =
            sg_cli_flag_find(f, "--client-id") ? sg_cli_str(f, "--client-id") : NULL;
        rc = sg_default_azure_credential_new(&co, &cred, &err);
        if (rc == SG_OK)
            rc = sg_service_endpoint_new(url, cred, &eo, ep, msg, sizeof msg);
        else
            sg_snprintf(msg, sizeof msg, "%s", err.message);
        sg_credential_free(cred);
    } else {
        const char *file = sg_cli_flag_find(f, "--settings") ? sg_cli_str(f, "--settings") : NULL;
        if (!file && access("local.settings.json", R_OK) == 0)
            file = "local.settings.json";
        eo.settings_file = file;
        eo.prefix =
            sg_cli_flag_find(f, "--connection-name") ? sg_cli_str(f, "--connection-name") : NULL;
        rc = sg_service_endpoint_from_settings(&eo, ep, msg, sizeof msg);
    }
    if (rc)
        return sg_cli_fail(rc == SG_ENOTFOUND ? "ConnectionNotConfigured" : "InvalidConnection",
                           "%s", msg[0] ? msg : sg_strerror(rc));
    return 0;
}

/* Splits a service error body into code/message/hint members of o. */
static void add_reason(json_t *o, const char *body)
{
    json_t *j = body && *body ? json_loads(body, 0, NULL) : NULL;
    if (json_is_object(j)) {
        static const char *const keys[] = {"code", "message", "hint", "requiredAction", "scope"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            json_t *v = json_object_get(j, keys[i]);
            if (json_is_string(v))
                json_object_set(o, keys[i], v);
        }
        json_t *e = json_object_get(j, "error");
        if (!json_object_get(o, "message") && json_is_object(e)) {
            json_object_set(o, "code", json_object_get(e, "code"));
            json_object_set(o, "message", json_object_get(e, "message"));
        }
    } else if (body && *body) {
        json_object_set_new(o, "message",
                            json_stringn(body, strlen(body) > 300 ? 300 : strlen(body)));
    }
    json_decref(j);
}

/* ---- send ------------------------------------------------------------------------------------ */

#define F_CONN                                                                                     \
    {.name = "--connection-string",                                                                \
     .metavar = "CS",                                                                              \
     .help =                                                                                       \
         "Connection string (Endpoint=...;AccessKey=... or AuthType=azure|azure.msi|azure.app)."}, \
        {.name = "--settings",                                                                     \
         .metavar = "FILE",                                                                        \
         .help =                                                                                   \
             "Functions-style local.settings.json (default: ./local.settings.json if present; "    \
             "the environment wins)."},                                                            \
    {                                                                                              \
        .name = "--connection-name", .metavar = "PREFIX", .def = DEFAULT_PREFIX,                   \
        .help = "Settings prefix (<PREFIX> = connection string, <PREFIX>__serviceUri ...)."        \
    }

int sg_cli_send(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        F_CONN,
        {.name = "--hub", .metavar = "HUB", .required = 1, .help = "Hub name."},
        {.name = "--user", .metavar = "USER", .help = "Send to this user id."},
        {.name = "--group", .metavar = "GROUP", .help = "Send to this group."},
        {.name = "--connection", .metavar = "ID", .help = "Send to this connection id."},
        {.name = "--target",
         .metavar = "METHOD",
         .required = 1,
         .help = "Client method to invoke (the hub message target)."},
        {.name = "--args", .metavar = "JSON", .def = "[]", .help = "Arguments: a JSON array."},
        {0},
    };
    sg_service_endpoint *ep = NULL;
    sg_service_result r = {0};
    json_t *out = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          "Send a message through the SignalR REST API (POST .../:send).", NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    int n = sg_cli_has(f, "--user") + sg_cli_has(f, "--group") + sg_cli_has(f, "--connection");
    if (n > 1) {
        rc = sg_cli_usage_error(ctx, "give at most one of --user, --group, --connection.");
        goto done;
    }
    if (sg_cli_has(f, "--connection-string") && sg_cli_has(f, "--settings")) {
        rc = sg_cli_usage_error(ctx, "give --connection-string or --settings, not both.");
        goto done;
    }
    rc = endpoint_from_flags(ctx, f, &ep);
    if (rc)
        goto done;
    sg_send_kind kind = SG_SEND_ALL;
    const char *id = NULL, *kname = "hub";
    if (sg_cli_has(f, "--user"))
        kind = SG_SEND_USER, id = sg_cli_str(f, "--user"), kname = "user";
    else if (sg_cli_has(f, "--group"))
        kind = SG_SEND_GROUP, id = sg_cli_str(f, "--group"), kname = "group";
    else if (sg_cli_has(f, "--connection"))
        kind = SG_SEND_CONNECTION, id = sg_cli_str(f, "--connection"), kname = "connection";
    int src = sg_service_send(ep, sg_cli_str(f, "--hub"), kind, id, sg_cli_str(f, "--target"),
                              sg_cli_str(f, "--args"), &r);
    if (src == SG_EINVAL && r.status == 0) {
        rc = sg_cli_usage_error(ctx, "%s", r.message[0] ? r.message : "invalid arguments.");
        goto done;
    }
    if (src) {
        json_t *why = json_object();
        add_reason(why, r.body);
        const char *code = json_string_value(json_object_get(why, "code"));
        const char *hint = json_string_value(json_object_get(why, "hint"));
        rc = sg_cli_fail(code ? code : (r.status ? "SendFailed" : "ServiceUnreachable"), "%s%s%s",
                         r.message[0] ? r.message : sg_strerror(src), hint ? " " : "",
                         hint && !strstr(r.message, hint) ? hint : "");
        json_decref(why);
        goto done;
    }
    out = json_pack("{s:i,s:s,s:s,s:s}", "statusCode", (int)r.status, "hub", sg_cli_str(f, "--hub"),
                    "target", sg_cli_str(f, "--target"), "to", kname);
    if (id)
        json_object_set_new(out, kname, json_string(id));
    json_object_set_new(out, "endpoint", json_string(sg_service_endpoint_url(ep)));
    json_object_set_new(out, "auth", json_string(sg_service_endpoint_auth_name(ep)));
    rc = sg_cli_print_json(out);
done:
    json_decref(out);
    sg_service_result_clear(&r);
    sg_service_endpoint_free(ep);
    sg_cli_flags_free(f);
    return rc;
}

/* ---- negotiate ------------------------------------------------------------------------------- */

int sg_cli_negotiate(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        F_CONN,
        {.name = "--hub", .metavar = "HUB", .required = 1, .help = "Hub name."},
        {.name = "--user", .metavar = "USER", .help = "User id (asrs.s.uid / nameid claims)."},
        {.name = "--lifetime",
         .kind = SG_CLI_INT,
         .metavar = "SECONDS",
         .def = "3600",
         .help = "Client token lifetime."},
        {0},
    };
    sg_service_endpoint *ep = NULL;
    sg_service_result r = {0};
    sg_negotiate_result n = {0};
    json_t *out = NULL;
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          "Print the negotiate answer an app server returns to a client: "
                          "{url, accessToken}.",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    rc = endpoint_from_flags(ctx, f, &ep);
    if (rc)
        goto done;
    sg_negotiate_options no = {.size = sizeof no};
    sg_cli_flag *lf = sg_cli_flag_find(f, "--lifetime");
    no.lifetime_s = lf->present ? (long)lf->num : 3600;
    if (no.lifetime_s <= 0) {
        rc = sg_cli_usage_error(ctx, "--lifetime must be positive.");
        goto done;
    }
    int nrc =
        sg_service_negotiate(ep, sg_cli_str(f, "--hub"), sg_cli_str(f, "--user"), &no, &n, &r);
    if (nrc) {
        json_t *why = json_object();
        add_reason(why, r.body);
        const char *code = json_string_value(json_object_get(why, "code"));
        rc = sg_cli_fail(code ? code : "NegotiateFailed", "%s",
                         r.message[0] ? r.message : sg_strerror(nrc));
        json_decref(why);
        goto done;
    }
    out = json_pack("{s:s,s:s}", "url", n.url, "accessToken", n.access_token);
    rc = sg_cli_print_json(out);
done:
    json_decref(out);
    sg_negotiate_result_clear(&n);
    sg_service_result_clear(&r);
    sg_service_endpoint_free(ep);
    sg_cli_flags_free(f);
    return rc;
}

/* ---- doctor ---------------------------------------------------------------------------------- */

typedef struct doc {
    const sg_cli_ctx *ctx;
    sg_service_endpoint *ep;
    const char *hub;
    const char *oid, *tid;   /* from the Entra token, or NULL */
    const char *resource_id; /* the sigrid resource behind the endpoint, or NULL */
    int mgmt;                /* the management API of a running sigrid answers */
    int entra;
    int token_ok;
} doc;

/* scheme://host:port (lower-case, default ports explicit) for comparing endpoints. */
static void origin_of(const char *url, char *out, size_t n)
{
    out[0] = 0;
    if (!url)
        return;
    const char *p = strstr(url, "://");
    if (!p)
        return;
    int https = strncasecmp(url, "https", 5) == 0;
    p += 3;
    size_t hl = strcspn(p, "/?#");
    char host[300];
    sg_snprintf(host, sizeof host, "%.*s", (int)(hl < 299 ? hl : 299), p);
    sg_str_lower(host);
    if (strncmp(host, "localhost", 9) == 0) { /* same server either way */
        char t[300];
        sg_snprintf(t, sizeof t, "127.0.0.1%s", host + 9);
        sg_snprintf(host, sizeof host, "%s", t);
    }
    if (!strchr(host, ':'))
        sg_snprintf(out, n, "%s://%s:%d", https ? "https" : "http", host, https ? 443 : 80);
    else
        sg_snprintf(out, n, "%s://%s", https ? "https" : "http", host);
}

/* The resource id of the sigrid SignalR resource serving `url`, from DIR/endpoints.json. */
static char *find_resource(const sg_cli_ctx *ctx, const char *url)
{
    char path[1024], want[400], have[400];
    if (sg_snprintf(path, sizeof path, "%s/endpoints.json", ctx->data_dir) != 0)
        return NULL;
    json_t *ep = json_load_file(path, 0, NULL);
    char *id = NULL;
    size_t i;
    json_t *r;
    origin_of(url, want, sizeof want);
    json_array_foreach(json_object_get(ep, "signalr"), i, r)
    {
        origin_of(json_string_value(json_object_get(r, "url")), have, sizeof have);
        if (want[0] && strcmp(want, have) == 0) {
            id = sg_strdup(json_string_value(json_object_get(r, "id")));
            break;
        }
    }
    json_decref(ep);
    return id;
}

static const struct {
    const char *op;
    const char *action;
    const char *role;
} k_ops[] = {
    {"server connection", "Microsoft.SignalRService/SignalR/serverConnection/write",
     "SignalR App Server"},
    {"client negotiate", "Microsoft.SignalRService/SignalR/auth/accessKey/action",
     "SignalR App Server"},
    {"REST send", "Microsoft.SignalRService/SignalR/user/send/action", "SignalR REST API Owner"},
};

/* Asks the running sigrid's management API whether oid may do action (checkAccess). */
static json_t *rbac_check(doc *d, const char *action)
{
    if (!d->mgmt || !d->oid || !d->resource_id)
        return NULL;
    char path[SG_CLI_PATH_MAX];
    if (sg_cliarm_path(path, sizeof path, "%s/providers/Microsoft.Authorization/checkAccess",
                       d->resource_id))
        return NULL;
    json_t *body = json_pack("{s:s,s:s}", "principalId", d->oid, "action", action);
    if (d->tid)
        json_object_set_new(body, "tenantId", json_string(d->tid));
    long st = 0;
    json_t *out = NULL;
    char em[256];
    int rc = sg_cli_mgmt_call(d->ctx, "POST", path, body, &st, &out, em, sizeof em);
    json_decref(body);
    if (rc || st != 200) {
        json_decref(out);
        return NULL;
    }
    json_t *v = json_object();
    json_object_set(v, "allowed", json_object_get(out, "allowed"));
    json_object_set(v, "code", json_object_get(out, "code"));
    json_object_set(v, "hint", json_object_get(out, "hint"));
    json_decref(out);
    return v;
}

/* Performs one request with a bearer token; fills status/body. */
static int raw_call(doc *d, const char *method, const char *url, const char *token, long *status,
                    char **body, char *neterr, size_t nl)
{
    sg_buf auth;
    sg_buf_init(&auth, 0);
    int rc = sg_buf_appendf(&auth, "Authorization: Bearer %s", token);
    if (rc)
        return rc;
    const char *hdrs[] = {auth.data, "Accept: application/json", NULL};
    const char *ca = getenv("SSL_CERT_FILE");
    sg_httpc_req req = {.method = method,
                        .url = url,
                        .headers = hdrs,
                        .ca_file = ca && *ca ? ca : NULL,
                        .timeout_ms = 15000};
    sg_httpc_resp resp;
    rc = sg_httpc_do(&req, &resp, neterr, nl);
    sg_buf_free(&auth);
    (void)d;
    if (rc)
        return rc;
    *status = resp.status;
    *body = sg_strdup(resp.body.data ? resp.body.data : "");
    sg_httpc_resp_free(&resp);
    return *body ? SG_OK : SG_ENOMEM;
}

/* Verdict + fix for one operation from what the service answered. */
static void judge(doc *d, json_t *o, size_t op, long status, const char *body, const char *neterr)
{
    json_object_set_new(o, "status", json_integer(status));
    add_reason(o, body);
    const char *hint = json_string_value(json_object_get(o, "hint"));
    const char *code = json_string_value(json_object_get(o, "code"));
    char fix[1400] = "";
    const char *verdict;
    json_t *authorized = json_null();
    if (status == 0) {
        verdict = "unreachable";
        sg_snprintf(fix, sizeof fix,
                    "No answer from the service (%s): check the endpoint URL and "
                    "that the service is running.",
                    neterr ? neterr : "network error");
    } else if (status >= 200 && status < 300) {
        verdict = "ok";
        authorized = json_true();
    } else if (status == 401 || status == 403) {
        verdict =
            status == 401 ? "refused: not authenticated (401)" : "refused: not authorized (403)";
        authorized = json_false();
        if (status == 403 && d->entra && d->oid) {
            sg_snprintf(fix, sizeof fix,
                        "%s%sGive the principal %s the '%s' role on the resource: sigrid role "
                        "assignment create --assignee %s --role \"%s\" --scope %s",
                        hint ? hint : "", hint ? " " : "", d->oid, k_ops[op].role, d->oid,
                        k_ops[op].role, d->resource_id ? d->resource_id : "<resource id>");
        } else if (hint) {
            sg_snprintf(fix, sizeof fix, "%s", hint);
        } else if (d->entra) {
            sg_snprintf(fix, sizeof fix,
                        "The service did not accept the Entra ID token (aud must "
                        "be https://signalr.azure.com, tid the resource's "
                        "tenant). Or use an access-key connection string.");
        } else {
            sg_snprintf(fix, sizeof fix,
                        "Check the AccessKey (sigrid signalr key list / az "
                        "signalr key list) and that local auth is enabled.");
        }
    } else if (op == 0 && (status == 400 || status == 426)) {
        /* the probe is a plain GET: passing authentication and failing for want of a WebSocket
         * upgrade means a real app server connection would be accepted */
        verdict = "ok";
        authorized = json_true();
        json_object_set_new(o, "note", json_string("authorized; the probe is not a WebSocket"));
    } else if (status == 501) {
        verdict = "not supported by this data plane";
    } else {
        verdict = "authenticated; the service answered an error";
        authorized = json_true();
        if (hint)
            sg_snprintf(fix, sizeof fix, "%s", hint);
    }
    (void)code;
    json_object_set_new(o, "authorized", authorized);
    json_object_set_new(o, "verdict", json_string(verdict));
    if (fix[0])
        json_object_set_new(o, "fix", json_string(fix));
}

static json_t *op_server(doc *d)
{
    json_t *o = json_pack("{s:s}", "operation", k_ops[0].op);
    char *token = NULL, *body = NULL;
    sg_service_result r = {0};
    sg_buf url;
    sg_buf_init(&url, 0);
    sg_buf_appendf(&url, "%s/server/?hub=%s", sg_service_endpoint_server_url(d->ep), d->hub);
    json_object_set_new(o, "request",
                        json_string("GET /server/?hub=<hub> (app server connection)"));
    int rc = sg_service_token(d->ep, SG_TOKEN_SERVER, d->hub, NULL, NULL, &token, &r);
    if (rc) {
        json_object_set_new(o, "verdict", json_string("no token"));
        json_object_set_new(o, "fix", json_string(r.message[0] ? r.message : sg_strerror(rc)));
    } else {
        long st = 0;
        char ne[256] = "";
        if (raw_call(d, "GET", url.data, token, &st, &body, ne, sizeof ne) != SG_OK)
            st = 0;
        judge(d, o, 0, st, body, ne);
    }
    json_t *rb = rbac_check(d, k_ops[0].action);
    if (rb)
        json_object_set_new(o, "rbac", rb);
    sg_free(token);
    sg_free(body);
    sg_buf_free(&url);
    sg_service_result_clear(&r);
    return o;
}

static json_t *op_negotiate(doc *d)
{
    json_t *o = json_pack("{s:s}", "operation", k_ops[1].op);
    sg_service_result r = {0};
    sg_negotiate_result n = {0};
    char *body = NULL;
    sg_buf url;
    sg_buf_init(&url, 0);
    json_object_set_new(o, "request",
                        json_string(d->entra ? "GET /api/v1/auth/accessKey, then POST "
                                               "/client/negotiate with a client token signed by "
                                               "the temporary key"
                                             : "POST /client/negotiate with a client token signed "
                                               "by the access key"));
    int rc = sg_service_negotiate(d->ep, d->hub, "sigrid-doctor", NULL, &n, &r);
    if (rc) {
        if (r.status) {
            judge(d, o, 1, r.status, r.body, NULL);
            json_object_set_new(o, "failedStep", json_string("GET /api/v1/auth/accessKey"));
        } else {
            json_object_set_new(o, "verdict",
                                json_string(d->token_ok ? "unreachable" : "no token"));
            json_object_set_new(o, "fix", json_string(r.message[0] ? r.message : sg_strerror(rc)));
        }
    } else {
        /* {base}/client/?hub=h -> {base}/client/negotiate?hub=h&negotiateVersion=1 */
        const char *q = strstr(n.url, "/client/?");
        if (q) {
            sg_buf_appendf(&url, "%.*s/client/negotiate?%s&negotiateVersion=1", (int)(q - n.url),
                           n.url, q + 9);
        }
        long st = 0;
        char ne[256] = "";
        if (!url.data || raw_call(d, "POST", url.data, n.access_token, &st, &body, ne, sizeof ne))
            st = 0;
        judge(d, o, 1, st, body, ne);
    }
    json_t *rb = rbac_check(d, k_ops[1].action);
    if (rb)
        json_object_set_new(o, "rbac", rb);
    sg_free(body);
    sg_buf_free(&url);
    sg_negotiate_result_clear(&n);
    sg_service_result_clear(&r);
    return o;
}

static json_t *op_send(doc *d)
{
    json_t *o = json_pack("{s:s,s:s}", "operation", k_ops[2].op, "request",
                          "POST /api/hubs/<hub>/users/sigrid-doctor/:send (a user nobody is)");
    sg_service_result r = {0};
    int rc = sg_service_send(d->ep, d->hub, SG_SEND_USER, "sigrid-doctor", "sigridDoctorProbe",
                             "[]", &r);
    if (rc && r.status == 0) {
        json_object_set_new(o, "verdict", json_string(d->token_ok ? "unreachable" : "no token"));
        json_object_set_new(o, "fix", json_string(r.message[0] ? r.message : sg_strerror(rc)));
    } else {
        judge(d, o, 2, r.status, r.body, NULL);
    }
    json_t *rb = rbac_check(d, k_ops[2].action);
    if (rb)
        json_object_set_new(o, "rbac", rb);
    sg_service_result_clear(&r);
    return o;
}

/* Roles the principal holds at any scope containing the resource (running sigrid only). */
static json_t *roles_of(doc *d)
{
    if (!d->oid)
        return NULL;
    char path[SG_CLI_PATH_MAX];
    if (sg_cliarm_path(path, sizeof path, "/providers/Microsoft.Authorization/roleAssignments"))
        return NULL;
    size_t l = strlen(path);
    sg_snprintf(path + l, sizeof path - l, "&$filter=principalId%%20eq%%20%%27%s%%27", d->oid);
    long st = 0;
    json_t *out = NULL;
    char em[256];
    if (sg_cli_mgmt_call(d->ctx, "GET", path, NULL, &st, &out, em, sizeof em) != 0 || st != 200) {
        json_decref(out);
        return NULL;
    }
    d->mgmt = 1;
    json_t *arr = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(out, "value"), i, v)
    {
        json_t *view = sg_cliarm_assignment_view(v);
        const char *sc = json_string_value(json_object_get(view, "scope"));
        int applies = !d->resource_id || (sc && sg_rbac_scope_covers(sc, d->resource_id));
        if (applies)
            json_array_append_new(arr, json_pack("{s:O,s:O}", "role",
                                                 json_object_get(view, "roleDefinitionName"),
                                                 "scope", json_object_get(view, "scope")));
        json_decref(view);
    }
    json_decref(out);
    return arr;
}

int sg_cli_doctor(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--endpoint",
         .metavar = "URL",
         .help = "Service URL; the credential is DefaultAzureCredential (as `new "
                 "ServiceEndpoint(uri, new DefaultAzureCredential())`)."},
        {.name = "--client-id",
         .metavar = "ID",
         .help = "With --endpoint: the user-assigned managed identity for the chain."},
        F_CONN,
        {.name = "--hub", .metavar = "HUB", .def = "chat", .help = "Hub to try."},
        {0},
    };
    doc d;
    memset(&d, 0, sizeof d);
    d.ctx = ctx;
    json_t *out = NULL, *claims = NULL;
    char *resid = NULL;
    sg_access_token tok = {0};
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          "Diagnose Entra ID / access-key authorization against a SignalR "
                          "endpoint: the credential chain, the token, roles, and a verdict per "
                          "operation with the fix.",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    if (sg_cli_has(f, "--endpoint") + sg_cli_has(f, "--connection-string") +
            sg_cli_has(f, "--settings") >
        1) {
        rc = sg_cli_usage_error(ctx, "give one of --endpoint, --connection-string, --settings.");
        goto done;
    }
    rc = endpoint_from_flags(ctx, f, &d.ep);
    if (rc)
        goto done;
    d.hub = sg_cli_str(f, "--hub");
    out = json_object();
    json_object_set_new(out, "endpoint", json_string(sg_service_endpoint_url(d.ep)));
    json_object_set_new(out, "hub", json_string(d.hub));
    json_object_set_new(out, "auth", json_string(sg_service_endpoint_auth_name(d.ep)));
    resid = find_resource(ctx, sg_service_endpoint_url(d.ep));
    d.resource_id = resid;
    json_object_set_new(out, "sigridResource", resid ? json_string(resid) : json_null());

    sg_credential *cred = sg_service_endpoint_credential(d.ep);
    d.entra = cred != NULL;
    if (cred) {
        sg_credential_error err = {0};
        int trc = sg_credential_get_token(cred, ENTRA_SCOPE, &tok, &err);
        json_t *c = json_object();
        json_object_set_new(c, "type", json_string(sg_credential_name(cred)));
        json_object_set_new(c, "chain", links_json(cred));
        const char *by = sg_credential_answered_by(cred);
        json_object_set_new(c, "answeredBy", by && trc == SG_OK ? json_string(by) : json_null());
        if (trc) {
            json_object_set_new(
                c, "error", json_pack("{s:s,s:s}", "code", cred_code(trc), "message", err.message));
        }
        json_object_set_new(out, "credential", c);
        if (trc == SG_OK) {
            d.token_ok = 1;
            claims = sg_jwt_payload_unverified(tok.token);
            json_t *t = json_object();
            static const char *const keys[] = {"oid", "appid", "tid",       "aud",
                                               "iss", "idtyp", "xms_mirid", "exp"};
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                if (json_object_get(claims, keys[i]))
                    json_object_set(t, keys[i], json_object_get(claims, keys[i]));
            json_object_set_new(out, "token", t);
            d.oid = json_string_value(json_object_get(claims, "oid"));
            d.tid = json_string_value(json_object_get(claims, "tid"));
            const char *aud = json_string_value(json_object_get(claims, "aud"));
            if (aud && strcmp(aud, "https://signalr.azure.com") != 0 &&
                strcmp(aud, "https://signalr.azure.com/") != 0)
                json_object_set_new(out, "tokenWarning",
                                    json_string("aud is not https://signalr.azure.com"));
        }
    } else {
        d.token_ok = 1;
        json_object_set_new(out, "credential",
                            json_pack("{s:s,s:s}", "type", "accessKey", "detail",
                                      "HS256 tokens signed with the connection string's "
                                      "AccessKey (no Entra ID involved)"));
    }
    json_t *roles = roles_of(&d);
    if (roles)
        json_object_set_new(out, "roles", roles);
    else if (d.oid)
        json_object_set_new(out, "roles",
                            json_string("unknown (not a running sigrid's resource, "
                                        "or its management API is unreachable)"));
    json_t *ops = json_array();
    json_array_append_new(ops, op_server(&d));
    json_array_append_new(ops, op_negotiate(&d));
    json_array_append_new(ops, op_send(&d));
    int healthy = 1;
    size_t i;
    json_t *v;
    json_array_foreach(ops, i, v)
    {
        const char *vd = json_string_value(json_object_get(v, "verdict"));
        if (!vd || strcmp(vd, "ok") != 0)
            healthy = 0;
    }
    json_object_set_new(out, "operations", ops);
    json_object_set_new(out, "healthy", json_boolean(healthy));
    rc = sg_cli_print_json(out);
done:
    json_decref(out);
    json_decref(claims);
    sg_free(resid);
    sg_access_token_clear(&tok);
    sg_service_endpoint_free(d.ep);
    sg_cli_flags_free(f);
    return rc;
}
