/* sigrid/signalr.h — an Azure SignalR Service endpoint (sigrid's data plane or the real
 * *.service.signalr.net) seen from an app server: REST sends and the negotiate helper.
 *
 *   sg_service_endpoint *ep = NULL;
 *   char msg[256];
 *   sg_service_endpoint_from_connection_string(
 *       "Endpoint=http://127.0.0.1;Port=8888;AccessKey=...;Version=1.0;", NULL, &ep, msg, sizeof
 * msg); sg_service_result r = {0}; sg_service_send(ep, "chat", SG_SEND_ALL, NULL, "newMessage",
 * "[\"bot\",\"hi\"]", &r); sg_negotiate_result n = {0}; sg_service_negotiate(ep, "chat", "alice",
 * NULL, &n, &r);  // n.url, n.access_token sg_negotiate_result_clear(&n);
 *   sg_service_result_clear(&r);
 *   sg_service_endpoint_free(ep);
 *
 * Authentication follows the connection string (reference §4.3): AccessKey → HS256 tokens
 * signed with the key (audiences of §4.2: "scheme://host/" of Endpoint, port dropped);
 * AuthType=azure / azure.msi / azure.app (or an endpoint built from a credential) → the
 * Entra token for https://signalr.azure.com/.default as Bearer on REST and server calls, and
 * client tokens signed with a temporary key from GET /api/v1/auth/accessKey ({KeyId,
 * AccessKey}, kid = KeyId; refreshed after 55 minutes). Everything blocks; an endpoint may be
 * used from several threads at once. */
#ifndef SIGRID_SIGNALR_H
#define SIGRID_SIGNALR_H

#include "sigrid/common.h"
#include "sigrid/credential.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sg_service_endpoint sg_service_endpoint;

typedef struct sg_endpoint_options {
    size_t size;                             /* sizeof(sg_endpoint_options) */
    const sg_credential_options *credential; /* for credentials built from a connection string
                                                or settings (environ, CA, authority...); NULL */
    const char *ca_file;        /* CA for https to the service; NULL = $SSL_CERT_FILE */
    long timeout_ms;            /* per HTTP request; 0 = 30 s */
    const char *const *environ; /* settings lookup instead of the process environment */
    const char *settings_file;  /* sg_service_endpoint_from_settings: local.settings.json */
    const char *prefix;         /* settings prefix; NULL = "AzureSignalRConnectionString" */
} sg_endpoint_options;

/* From a connection string (every key of reference §4.3). Errors: SG_EINVAL with the parser's
 * message in msg (never echoing secrets), SG_EUNSUPPORTED for ClientCert, SG_ENOMEM. */
SIGRID_API int sg_service_endpoint_from_connection_string(const char *cs,
                                                          const sg_endpoint_options *o,
                                                          sg_service_endpoint **out, char *msg,
                                                          size_t msglen);
/* From an endpoint URL ("https://x.service.signalr.net", optional path) and a credential, like
 * `new ServiceEndpoint(uri, credential)`. Takes a reference to cred (the caller keeps its own). */
SIGRID_API int sg_service_endpoint_new(const char *url, sg_credential *cred,
                                       const sg_endpoint_options *o, sg_service_endpoint **out,
                                       char *msg, size_t msglen);
/* Functions-style settings (INTERFACE §8): a flat <PREFIX> value is a connection string;
 * else <PREFIX>__serviceUri / <PREFIX>:serviceUri with __credential (managedidentity),
 * __clientId, __tenantId, __clientSecret, __managedIdentityClientId/ObjectId/ResourceId, from
 * the environment and then o->settings_file's Values (the environment wins). Keys are
 * case-insensitive. SG_ENOTFOUND (msg) when neither is configured. */
SIGRID_API int sg_service_endpoint_from_settings(const sg_endpoint_options *o,
                                                 sg_service_endpoint **out, char *msg,
                                                 size_t msglen);
SIGRID_API void sg_service_endpoint_free(sg_service_endpoint *ep); /* NULL-safe */

/* "scheme://host[:port][/path]" of Endpoint (no trailing '/'). Borrowed. */
SIGRID_API const char *sg_service_endpoint_url(const sg_service_endpoint *ep);
/* The credential (borrowed) or NULL for access-key auth. */
SIGRID_API sg_credential *sg_service_endpoint_credential(const sg_service_endpoint *ep);
/* "accessKey" or the credential's name. Static. */
SIGRID_API const char *sg_service_endpoint_auth_name(const sg_service_endpoint *ep);

/* The outcome of a call to the service. body is owned (sg_service_result_clear). For a non-2xx
 * answer the JSON reason of sigrid / Azure (code, message, hint) is also summarised in
 * message. status 0 = no HTTP answer. */
typedef struct sg_service_result {
    long status;
    char *body;
    char message[1024];
} sg_service_result;
SIGRID_API void sg_service_result_clear(sg_service_result *r); /* NULL-safe */

typedef enum sg_send_kind {
    SG_SEND_ALL = 0,    /* every connection of the hub */
    SG_SEND_USER,       /* id = user id */
    SG_SEND_GROUP,      /* id = group name */
    SG_SEND_CONNECTION, /* id = connection id */
} sg_send_kind;

/* POST /api/hubs/{hub}[/users/{id}|/groups/{id}|/connections/{id}]/:send?api-version=2022-06-01
 * with {"target": target, "arguments": <arguments_json>} (a JSON array; NULL = []). res
 * optional. SG_OK on 2xx; SG_EAUTH (401), SG_EPERM (403), SG_ENOTFOUND (404), SG_EPROTO (other
 * status), SG_EIO (no answer), SG_EINVAL (bad hub name or arguments that are not an array). */
SIGRID_API int sg_service_send(sg_service_endpoint *ep, const char *hub, sg_send_kind kind,
                               const char *id, const char *target, const char *arguments_json,
                               sg_service_result *res);

typedef struct sg_negotiate_options {
    size_t size;               /* sizeof(sg_negotiate_options) */
    long lifetime_s;           /* client token lifetime; 0 = 3600 */
    const char *const *claims; /* extra "name=value" string claims, NULL-terminated; optional */
} sg_negotiate_options;

typedef struct sg_negotiate_result {
    char *url;          /* {ClientEndpoint or Endpoint}/client/?hub=<hub> */
    char *access_token; /* HS256 client token, aud {scheme}://{host}/client/?hub=<hub> */
    int64_t expires_on;
} sg_negotiate_result;
SIGRID_API void sg_negotiate_result_clear(sg_negotiate_result *n); /* NULL-safe */

/* What an app server's negotiate endpoint returns (reference §1.1): the service URL for the
 * client and a client token carrying asrs.s.uid and nameid = user_id (optional). With
 * identity auth the token is signed with the temporary key (one GET /api/v1/auth/accessKey,
 * whose failure is reported in res). o optional. */
SIGRID_API int sg_service_negotiate(sg_service_endpoint *ep, const char *hub, const char *user_id,
                                    const sg_negotiate_options *o, sg_negotiate_result *out,
                                    sg_service_result *res);

/* Tokens for calls the helpers above do not make (diagnostics, a custom transport). */
typedef enum sg_token_kind {
    SG_TOKEN_REST = 0, /* aud = the REST URL `path` (e.g. "/api/hubs/chat/:send"); Entra: the
                          Entra token */
    SG_TOKEN_SERVER,   /* aud = .../server/?hub=<hub> (access key); Entra: the Entra token */
    SG_TOKEN_CLIENT,   /* aud = .../client/?hub=<hub>, user optional (as negotiate) */
} sg_token_kind;
/* *token = new string (release with sg_service_string_free). path is for SG_TOKEN_REST; hub
 * for SERVER/CLIENT. res optional (failure details). */
SIGRID_API int sg_service_token(sg_service_endpoint *ep, sg_token_kind kind, const char *hub,
                                const char *path, const char *user_id, char **token,
                                sg_service_result *res);
/* Base URL for server calls: ServerEndpoint or Endpoint (no trailing '/'). Borrowed. */
SIGRID_API const char *sg_service_endpoint_server_url(const sg_service_endpoint *ep);
SIGRID_API void sg_service_string_free(char *s);

#ifdef __cplusplus
}
#endif

#endif
