/* sdk_internal.h — cross-file helpers of libsigrid (src/sdk/). Not public: the public API is
 * include/sigrid/ (credential.h, signalr.h). Everything here is pure or blocking-HTTP and
 * thread-safe. Depends only on base, proto and net (never on cloud/ or signalr/: the SDK must work
 * against real Azure). */
#ifndef SG_SDK_INTERNAL_H
#define SG_SDK_INTERNAL_H

#include "net/httpc.h"
#include "sg_buf.h"
#include "sg_err.h"

#include "sigrid/credential.h"
#include "sigrid/signalr.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- environment ---- */

/* Value of NAME in envp ("K=V" list, NULL-terminated) or, when envp is NULL, the process
 * environment. Empty values count as unset (NULL), as .NET and JS do. Exact-case names. */
const char *sg__env_get(const char *const *envp, const char *name);
/* Calls fn for every "K=V" entry (envp, else the process environment); stops when fn != 0. */
int sg__env_each(const char *const *envp,
                 int (*fn)(void *ud, const char *k, size_t kn, const char *v), void *ud);

/* ---- managed identity source detection (reference §3b) ---- */

typedef enum sg__mi_kind {
    SG_MI_IMDS = 1,
    SG_MI_APP_SERVICE,
    SG_MI_SERVICE_FABRIC, /* detected, not supported (thumbprint-pinned TLS) */
    SG_MI_MACHINE_LEARNING,
    SG_MI_CLOUD_SHELL,
    SG_MI_ARC, /* detected, not supported (challenge file) */
} sg__mi_kind;

typedef struct sg__mi_source {
    sg__mi_kind kind;
    char endpoint[512];  /* full token URL (IMDS: base + /metadata/identity/oauth2/token) */
    char secret[512];    /* IDENTITY_HEADER / MSI_SECRET */
    int imds_overridden; /* IMDS: AZURE_POD_IDENTITY_AUTHORITY_HOST was set (no probe) */
} sg__mi_source;

/* Detects the source from the environment. SG_OK, or SG_EINVAL when a variable is unusable
 * (too long). Never touches the network. */
int sg__mi_detect(const char *const *envp, sg__mi_source *out);
const char *sg__mi_kind_name(sg__mi_kind k); /* "IMDS", "AppService", ... */

/* The DefaultAzureCredential probe's verdict on an answer to its header-less GET: SG_OK
 * (IMDS is there) or SG_ENOTFOUND (Docker Desktop's 403 "unreachable"). */
int sg__imds_probe_available(long status, const char *body);

/* Which selector the request carries. */
typedef enum {
    SG_MI_SYSTEM = 0,
    SG_MI_CLIENT_ID,
    SG_MI_OBJECT_ID,
    SG_MI_RESOURCE_ID
} sg__mi_id_kind;

/* Builds the token request URL for src (GET for IMDS/App Service/ML; Cloud Shell POSTs the
 * resource in the body, so its URL has no query). Appends to out. */
int sg__mi_request_url(const sg__mi_source *src, const char *resource, sg__mi_id_kind idk,
                       const char *id, const char *const *envp, sg_buf *out);

/* ---- token responses ---- */

/* "https://x/.default" -> "https://x"; a scope without /.default is returned as is. SG_EINVAL
 * for NULL/empty or more than one scope (a space). out gets a copy. */
int sg__scope_to_resource(const char *scope, char *out, size_t outlen);

/* Parses an expires_on value: JSON number, numeric string, ISO-8601 ("2024-10-18T19:51:37Z",
 * fractions, +hh:mm offsets, space instead of T) or "MM/dd/yyyy hh:mm:ss [AM|PM] +hh:mm".
 * Values below 978307200 (2001-01-01) are relative seconds from now. SG_OK or SG_EINVAL. */
int sg__parse_expires_on(const json_t *v, int64_t now, int64_t *out);
/* Same for a string. */
int sg__parse_time_str(const char *s, int64_t now, int64_t *out);
/* From a token response: expires_on if parseable, else now + expires_in. */
int sg__token_expiry(const json_t *body, int64_t now, int64_t *out);
/* Refresh time: issued + lifetime/2 when lifetime > 2 h, else expires_on - 300 (never before
 * issued). */
int64_t sg__refresh_on(int64_t issued, int64_t expires_on);

/* ---- retries (managed identity endpoints) ---- */

/* 1 when a managed-identity answer with this status is retried (404, 408, 410, 429, 5xx),
 * 0 otherwise (never 400 and other 4xx, never 2xx). */
int sg__mi_retryable(long status);
/* Delay before retry number `attempt` (0-based) after status: base * 2^attempt (410: base at
 * least 3000 ms), capped at 60 s, then raised to Retry-After (seconds, capped at 60 s) when
 * retry_after_s > 0. jitter_pct 0..100 (deterministic callers pass 0). */
long sg__mi_retry_delay(long status, int attempt, long base_ms, long retry_after_s, int jitter_pct);
/* Retry-After in seconds from raw response header lines; 0 if absent. */
long sg__retry_after(const char *raw_headers);

/* ---- HTTP ---- */

/* The SDK's blocking HTTP is net/httpc (see net/httpc.h for the fields). */
typedef sg_httpc_req sg__http_req;
typedef sg_httpc_resp sg__http_resp;

/* sg_httpc_do with the SDK's rules whatever req says: responses capped at 4 MiB of body and
 * 64 KiB of headers, SG_ETIMEDOUT when the time ran out. SG_OK when an HTTP answer arrived (any
 * status); SG_EIO / SG_ETIMEDOUT with errbuf when not; SG_EINVAL (errbuf empty) without a url. */
int sg__http_do(const sg__http_req *req, sg__http_resp *resp, char *errbuf, size_t errlen);
void sg__http_resp_free(sg__http_resp *r);

/* A short human message from an error body: error_description / message / error.message /
 * error / code+hint, else the first 200 bytes. Appends to out. */
void sg__error_text(const char *body, char *out, size_t outlen);

/* Compact JSON of j appended to out (jansson's json_dumps would allocate with malloc). */
int sg__sdk_json_dump(const json_t *j, sg_buf *out);

/* CA file: explicit, else $SSL_CERT_FILE from envp, else NULL (system). */
const char *sg__ca_file(const char *explicit_ca, const char *const *envp);

/* ---- credentials: shared pieces ---- */

/* The versioned-options rule (include/sigrid/common.h): zeroes o (o_size bytes), then copies the
 * first in_size bytes of in (all o_size when in_size is 0 or larger); in may be NULL. Does not
 * touch o's `size` member beyond that copy. */
void sg__opts_copy(void *o, size_t o_size, const void *in, size_t in_size);
/* Copies caller options (size-aware) into *o (zeroed first). */
void sg__cred_opts_copy(const sg_credential_options *in, sg_credential_options *o);

/* Sets err->message (printf-style) when err != NULL. */
void sg__cred_errf(sg_credential_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Functions-style settings (INTERFACE §8, reference §6) ---- */

typedef struct sg__settings {
    char *connection_string; /* flat <PREFIX> value (or ConnectionStrings:<PREFIX>) */
    char *service_uri;
    char *credential;
    char *client_id;
    char *tenant_id;
    char *client_secret;
    char *mi_client_id;
    char *mi_object_id;
    char *mi_resource_id;
    char *token_file_path;
} sg__settings;

/* Reads <prefix> settings from the environment (envp) and, when file != NULL, the
 * local.settings.json `Values` (and `ConnectionStrings`) object; the environment wins, as
 * with Functions Core Tools. Keys case-insensitive; "__" and ":" both separate. SG_OK with
 * at least one of connection_string / service_uri set, SG_ENOTFOUND when neither, SG_EINVAL
 * (msg) for an unreadable file. */
int sg__settings_read(const char *prefix, const char *file, const char *const *envp,
                      sg__settings *out, char *msg, size_t msglen);
void sg__settings_free(sg__settings *s);

#endif
