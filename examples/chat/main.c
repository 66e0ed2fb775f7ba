/* examples/chat — the C counterpart of `services.AddSignalR().AddAzureSignalR(...)` hosting hub
 * `chat` through a SignalR resource in Default mode (INTERFACE §9, docs/examples-chat.md).
 *
 *   chat --connection-string "Endpoint=http://127.0.0.1:8889;AccessKey=...;Version=1.0;"
 *   chat --endpoint https://x.service.signalr.net --managed-identity [--client-id ID]
 *   chat --endpoint URL --default-credential
 *   Azure__SignalR__ConnectionString=... chat
 *
 * Serves POST /chat/negotiate on --port (default 5000). Hub methods: broadcast(name, text),
 * echo(x), joinGroup(g), leaveGroup(g), sendToGroup(g, text), whoami(). */
#include "sigrid/credential.h"
#include "sigrid/server.h"
#include "sigrid/signalr.h"

#include "sg_log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENDPOINTS 16

static const char *usage =
    "usage: chat [--connection-string CS | --endpoint URL (--managed-identity [--client-id ID] |\n"
    "            --default-credential) ...] [--port N] [--host ADDR] [--connections N]\n"
    "            [--log-level error|warn|info|debug]\n"
    "  Without --connection-string/--endpoint, $Azure__SignalR__ConnectionString is used.\n";

/* ---- hub methods ---------------------------------------------------------------------------- */

/* Parses args (a JSON array) and returns element i as a string (numbers etc. as JSON text);
 * the caller frees *out with free() (jansson dump) or it is a borrowed string. */
static json_t *arg(json_t *args, size_t i)
{
    return json_array_get(args, i);
}

static int arg_count_ok(sg_hub_result *res, json_t *args, size_t n, const char *name)
{
    if (json_array_size(args) == n)
        return 1;
    char msg[200];
    snprintf(msg, sizeof msg, "Invocation provides %zu argument(s) but target '%s' expects %zu.",
             json_array_size(args), name, n);
    sg_hub_result_set_error(res, msg);
    return 0;
}

static char *args_text(json_t *a)
{
    return json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int m_broadcast(sg_hub_ctx *ctx, const char *args_json, sg_hub_result *res, void *ud)
{
    (void)ud;
    json_t *args = json_loads(args_json, 0, NULL);
    int rc = 0;
    if (arg_count_ok(res, args, 2, "broadcast")) {
        json_t *out = json_pack("[OO]", arg(args, 0), arg(args, 1));
        char *t = out ? args_text(out) : NULL;
        rc = t ? sg_server_send_all(sg_hub_ctx_server(ctx), "newMessage", t, NULL) : -1;
        if (rc)
            sg_hub_result_set_error(res, "broadcast failed: no service connection");
        free(t);
        json_decref(out);
    }
    json_decref(args);
    return 0;
}

static int m_echo(sg_hub_ctx *ctx, const char *args_json, sg_hub_result *res, void *ud)
{
    (void)ctx;
    (void)ud;
    json_t *args = json_loads(args_json, 0, NULL);
    if (arg_count_ok(res, args, 1, "echo")) {
        char *t = args_text(arg(args, 0));
        if (t)
            sg_hub_result_set_json(res, t);
        free(t);
    }
    json_decref(args);
    return 0;
}

static int group_method(sg_hub_ctx *ctx, const char *args_json, sg_hub_result *res, int join)
{
    json_t *args = json_loads(args_json, 0, NULL);
    if (arg_count_ok(res, args, 1, join ? "joinGroup" : "leaveGroup")) {
        const char *g = json_string_value(arg(args, 0));
        int rc =
            !g || !*g ? -1
            : join
                ? sg_server_group_add(sg_hub_ctx_server(ctx), sg_hub_ctx_connection_id(ctx), g)
                : sg_server_group_remove(sg_hub_ctx_server(ctx), sg_hub_ctx_connection_id(ctx), g);
        if (rc)
            sg_hub_result_set_error(res, !g || !*g ? "the group name must be a non-empty string"
                                                   : "group operation failed");
    }
    json_decref(args);
    return 0;
}

static int m_join(sg_hub_ctx *ctx, const char *args_json, sg_hub_result *res, void *ud)
{
    (void)ud;
    return group_method(ctx, args_json, res, 1);
}

static int m_leave(sg_hub_ctx *ctx, const char *args_json, sg_hub_result *res, void *ud)
{
    (void)ud;
    return group_method(ctx, args_json, res, 0);
}

static int m_send_to_group(sg_hub_ctx *ctx, const char *args_json, sg_hub_result *res, void *ud)
{
    (void)ud;
    json_t *args = json_loads(args_json, 0, NULL);
    if (arg_count_ok(res, args, 2, "sendToGroup")) {
        const char *g = json_string_value(arg(args, 0));
        const char *user = sg_hub_ctx_user_id(ctx);
        json_t *out = json_pack("[sO]", user ? user : "", arg(args, 1));
        char *t = out ? args_text(out) : NULL;
        int rc = g && *g && t
                     ? sg_server_send_group(sg_hub_ctx_server(ctx), g, "newMessage", t, NULL)
                     : -1;
        if (rc)
            sg_hub_result_set_error(res, "sendToGroup failed");
        free(t);
        json_decref(out);
    }
    json_decref(args);
    return 0;
}

static int m_whoami(sg_hub_ctx *ctx, const char *args_json, sg_hub_result *res, void *ud)
{
    (void)ud;
    (void)args_json;
    const char *u = sg_hub_ctx_user_id(ctx);
    json_t *o = json_pack("{s:s,s:o}", "connectionId", sg_hub_ctx_connection_id(ctx), "userId",
                          u ? json_string(u) : json_null());
    char *t = o ? args_text(o) : NULL;
    if (t)
        sg_hub_result_set_json(res, t);
    free(t);
    json_decref(o);
    return 0;
}

static void on_connected(sg_hub_ctx *ctx, void *ud)
{
    (void)ud;
    const char *u = sg_hub_ctx_user_id(ctx);
    SG_LOGI("chat", "event=client_connected connection=%s user=%s protocol=%s",
            sg_hub_ctx_connection_id(ctx), u ? u : "", sg_hub_ctx_protocol(ctx));
}

static void on_disconnected(sg_hub_ctx *ctx, const char *error, void *ud)
{
    (void)ud;
    SG_LOGI("chat", "event=client_disconnected connection=%s error=\"%s\"",
            sg_hub_ctx_connection_id(ctx), error ? error : "");
}

/* ---- configuration -------------------------------------------------------------------------- */

typedef struct ep_arg {
    const char *url;
    int managed_identity;
    int default_credential;
    const char *client_id;
} ep_arg;

int main(int argc, char **argv)
{
    const char *cs = NULL, *host = "127.0.0.1";
    ep_arg eps[MAX_ENDPOINTS];
    int n_eps = 0, port = 5000, conns = 0;
    memset(eps, 0, sizeof eps);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--managed-identity")) {
            if (n_eps == 0) {
                fputs("chat: --managed-identity needs an --endpoint first\n", stderr);
                return 2;
            }
            eps[n_eps - 1].managed_identity = 1;
            continue;
        } else if (!strcmp(a, "--default-credential")) {
            if (n_eps == 0) {
                fputs("chat: --default-credential needs an --endpoint first\n", stderr);
                return 2;
            }
            eps[n_eps - 1].default_credential = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "chat: unknown option or missing value: %s\n%s", a, usage);
            return 2;
        }
        i++;
        if (!strcmp(a, "--connection-string")) {
            cs = v;
        } else if (!strcmp(a, "--endpoint")) {
            if (n_eps == MAX_ENDPOINTS) {
                fputs("chat: too many endpoints\n", stderr);
                return 2;
            }
            eps[n_eps++].url = v;
        } else if (!strcmp(a, "--client-id")) {
            if (n_eps == 0) {
                fputs("chat: --client-id needs an --endpoint first\n", stderr);
                return 2;
            }
            eps[n_eps - 1].client_id = v;
            eps[n_eps - 1].managed_identity = 1;
        } else if (!strcmp(a, "--port")) {
            char *end;
            long p = strtol(v, &end, 10);
            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "chat: bad port %s\n", v);
                return 2;
            }
            port = (int)p;
        } else if (!strcmp(a, "--host")) {
            host = v;
        } else if (!strcmp(a, "--connections")) {
            conns = (int)strtol(v, NULL, 10);
        } else if (!strcmp(a, "--log-level")) {
            sg_log_level lvl;
            if (sg_log_parse_level(v, &lvl)) {
                fprintf(stderr, "chat: bad log level %s\n", v);
                return 2;
            }
            sg_log_set_level(lvl);
        } else {
            fprintf(stderr, "chat: unknown option %s\n%s", a, usage);
            return 2;
        }
    }

    /* first match wins: --connection-string, --endpoint..., the environment */
    sg_service_endpoint *endpoints[MAX_ENDPOINTS];
    size_t n_endpoints = 0;
    char msg[1024] = "";
    const char *source;
    if (!cs && n_eps == 0) {
        cs = getenv("Azure__SignalR__ConnectionString");
        source = "environment Azure__SignalR__ConnectionString";
        if (!cs || !*cs) {
            fprintf(stderr,
                    "chat: no SignalR endpoint configured (--connection-string, --endpoint, or "
                    "Azure__SignalR__ConnectionString)\n%s",
                    usage);
            return 2;
        }
    } else {
        source = cs ? "--connection-string" : "--endpoint";
    }
    if (!cs) {
        for (int i = 0; i < n_eps; i++) {
            sg_credential *cred = NULL;
            sg_credential_error cerr = {{0}};
            sg_credential_options co;
            memset(&co, 0, sizeof co);
            co.size = sizeof co;
            co.managed_identity_client_id = eps[i].client_id;
            int rc;
            if (eps[i].default_credential && !eps[i].managed_identity)
                rc = sg_default_azure_credential_new(&co, &cred, &cerr);
            else if (eps[i].managed_identity)
                rc = sg_managed_identity_credential_new(&co, &cred, &cerr);
            else {
                fprintf(stderr,
                        "chat: --endpoint %s needs --managed-identity [--client-id ID] or "
                        "--default-credential\n",
                        eps[i].url);
                return 2;
            }
            if (rc) {
                fprintf(stderr, "chat: credential: %s\n", cerr.message);
                return 2;
            }
            rc = sg_service_endpoint_new(eps[i].url, cred, NULL, &endpoints[n_endpoints], msg,
                                         sizeof msg);
            sg_credential_free(cred);
            if (rc) {
                fprintf(stderr, "chat: endpoint %s: %s\n", eps[i].url, msg);
                return 2;
            }
            n_endpoints++;
        }
    }

    sg_server_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.hub = "chat";
    o.connection_string = cs;
    o.endpoints = endpoints;
    o.n_endpoints = n_endpoints;
    o.connections_per_endpoint = conns;
    o.on_connected = on_connected;
    o.on_disconnected = on_disconnected;
    sg_server *s = NULL;
    int rc = sg_server_new(NULL, &o, &s, msg, sizeof msg);
    if (rc) {
        fprintf(stderr, "chat: %s\n", msg[0] ? msg : sg_strerror(rc));
        for (size_t i = 0; i < n_endpoints; i++)
            sg_service_endpoint_free(endpoints[i]);
        return 2;
    }
    sg_server_add_method(s, "broadcast", m_broadcast, NULL);
    sg_server_add_method(s, "echo", m_echo, NULL);
    sg_server_add_method(s, "joinGroup", m_join, NULL);
    sg_server_add_method(s, "leaveGroup", m_leave, NULL);
    sg_server_add_method(s, "sendToGroup", m_send_to_group, NULL);
    sg_server_add_method(s, "whoami", m_whoami, NULL);
    int bound = 0;
    rc = sg_server_listen_negotiate(s, host, port, &bound);
    if (rc) {
        fprintf(stderr, "chat: cannot listen on %s:%d: %s\n", host, port, sg_strerror(rc));
        sg_server_free(s);
        for (size_t i = 0; i < n_endpoints; i++)
            sg_service_endpoint_free(endpoints[i]);
        return 1;
    }
    SG_LOGI("chat", "event=ready config=\"%s\" negotiate=http://%s:%d/chat/negotiate", source, host,
            bound);
    rc = sg_server_run(s);
    sg_server_free(s);
    for (size_t i = 0; i < n_endpoints; i++)
        sg_service_endpoint_free(endpoints[i]);
    return rc ? 1 : 0;
}
