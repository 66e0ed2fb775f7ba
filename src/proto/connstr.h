/* proto/connstr.h — Azure SignalR connection strings (reference §4.3, ConnectionStringParser.cs).
 *
 *   Endpoint=https://x.service.signalr.net;AccessKey=<key>;Version=1.0;
 *   Endpoint=https://x.service.signalr.net;AuthType=azure.msi;ClientId=<id>;Version=1.0;
 *
 * Grammar: split on ';' (empty parts dropped; fewer than 2 parts is an error), each part
 * split on its FIRST '=' (parts without '=' ignored), key and value trimmed, keys
 * case-insensitive, a duplicate key is an error. Endpoint required, absolute http/https,
 * trailing '/' trimmed. Version optional, must match ^1\.\d+(?:[\w-.]+)?$. Port optional,
 * 1..65535, replaces the Endpoint's port only. ClientEndpoint / ServerEndpoint optional
 * absolute http/https URIs. AuthType (case-insensitive) selects the credential; see
 * sg_connstr_cred. Unknown keys are ignored.
 *
 * Pure, no I/O, thread-safe. */
#ifndef SG_PROTO_CONNSTR_H
#define SG_PROTO_CONNSTR_H

#include <stddef.h>

/* The credential the string asks for (resolved from AuthType and the id/secret keys). */
typedef enum sg_connstr_cred {
    SG_CRED_ACCESS_KEY = 1, /* no AuthType: AccessKey (required) */
    SG_CRED_DEFAULT = 2,    /* AuthType=azure: DefaultAzureCredential */
    SG_CRED_MI_SYSTEM = 3,  /* azure.msi without ClientId; aad with nothing */
    SG_CRED_MI_USER = 4,    /* azure.msi with ClientId; aad with ClientId only */
    SG_CRED_APP_SECRET = 5, /* azure.app / aad with ClientId+TenantId+ClientSecret */
    SG_CRED_APP_CERT = 6,   /* azure.app / aad with ClientId+TenantId+ClientCert */
} sg_connstr_cred;

/* Parsed connection string. All strings are owned (sg_malloc'd, NUL-terminated) and freed by
 * sg_connstr_free; absent optional values are NULL. */
typedef struct sg_connstr {
    char *endpoint;        /* normalised: "scheme://host[:port][/path]", no trailing '/', with
                              Port applied (default ports omitted) */
    char *scheme;          /* "http" / "https" (lower-case) */
    char *host;            /* lower-case host, no port (IPv6 keeps its brackets) */
    int port;              /* effective Endpoint port (Port key, else URI port, else 80/443) */
    char *audience_base;   /* "scheme://host/" — Endpoint host, port dropped (§4.2) */
    char *client_endpoint; /* ClientEndpoint, trailing '/' trimmed, or NULL */
    char *server_endpoint; /* ServerEndpoint, trailing '/' trimmed, or NULL */
    char *access_key;      /* AccessKey as written (HMAC key bytes), or NULL */
    char *version;         /* Version or NULL */
    char *auth_type;       /* AuthType lower-cased, or NULL */
    char *client_id;
    char *tenant_id;
    char *client_secret;
    char *client_cert; /* key "ClientCert" (docs' "ClientCertPath" is not recognised) */
    sg_connstr_cred cred;
} sg_connstr;

/* Parses s. On SG_OK *out is filled (caller sg_connstr_free). On SG_EINVAL, err (optional)
 * receives the SDK's message, e.g. "Connection string missing required properties endpoint.",
 * "Duplicate properties found in connection string: endpoint.", "Version 2.0 is not
 * supported.", "Invalid port value: 0.", "Endpoint property in connection string is not a
 * valid URI: x.", "Connection string missing required properties accesskey.", "Connection
 * string missing required properties clientSecret or clientCert.", "Connection string
 * missing required properties clientId." ... Never echoes AccessKey/ClientSecret values.
 * SG_ENOMEM on allocation failure. *out is zeroed on failure. */
int sg_connstr_parse(const char *s, sg_connstr *out, char *err, size_t errlen);

void sg_connstr_free(sg_connstr *c); /* frees members, zeroes; NULL-safe */

/* Static name: "accessKey", "default", "managedIdentity(system)", "managedIdentity(user)",
 * "clientSecret", "clientCertificate". */
const char *sg_connstr_cred_name(sg_connstr_cred c);

#endif
