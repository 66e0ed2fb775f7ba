/* sigrid/credential.h — Microsoft Entra ID credentials, shaped like Azure.Identity.
 *
 *   sg_credential *cred = NULL;
 *   sg_access_token tok = {0};
 *   sg_credential_error err = {0};
 *   if (sg_default_azure_credential_new(NULL, &cred) == 0 &&
 *       sg_credential_get_token(cred, "https://signalr.azure.com/.default", &tok, &err) == 0)
 *       use(tok.token, tok.expires_on);
 *   else
 *       fprintf(stderr, "%s\n", err.message);
 *   sg_access_token_clear(&tok);
 *   sg_credential_free(cred);
 *
 * Implementations (each a constructor below):
 *   ManagedIdentityCredential   the managed identity of the machine/app this code runs on. The
 *                               source is found from the environment, in MSAL's order: Service
 *                               Fabric (unsupported) > App Service (IDENTITY_ENDPOINT +
 *                               IDENTITY_HEADER) > Machine Learning (MSI_ENDPOINT + MSI_SECRET) >
 *                               Cloud Shell (MSI_ENDPOINT) > Azure Arc (unsupported) > IMDS
 *                               (AZURE_POD_IDENTITY_AUTHORITY_HOST, else http://169.254.169.254).
 *                               Workload identity (AZURE_FEDERATED_TOKEN_FILE + AZURE_TENANT_ID +
 *                               client id) wins over all of them, as in the SDKs.
 *   ClientSecretCredential      an app registration's secret, client-credentials grant against
 *                               {authority}/{tenant}/oauth2/v2.0/token (https only).
 *   EnvironmentCredential       ClientSecretCredential from AZURE_TENANT_ID, AZURE_CLIENT_ID,
 *                               AZURE_CLIENT_SECRET (certificate / username modes: unavailable).
 *   WorkloadIdentityCredential  federated token file as a client assertion.
 *   DefaultAzureCredential      Environment > WorkloadIdentity > ManagedIdentity (with the
 *                               one-second IMDS probe) > AzureCli (unavailable in libsigrid).
 *
 * Errors of sg_credential_get_token: SG_ENOTFOUND = the credential is unavailable here (not
 * configured, no identity endpoint, "Identity not found"; a chain tries its next link);
 * SG_EAUTH = authentication failed (Entra refused the configured credential, or retries were
 * exhausted; a chain stops, as in the SDKs); SG_EINVAL = bad scope; SG_ENOMEM.
 *
 * Tokens are cached per credential and scope: a cached token is returned until its refresh
 * time (half its lifetime when it lives longer than 2 h, else 5 minutes before expiry); after
 * that a new one is fetched, and the cached one is still returned if that fails while it has
 * more than 5 minutes left. All functions are thread-safe; a credential may be shared. */
#ifndef SIGRID_CREDENTIAL_H
#define SIGRID_CREDENTIAL_H

#include "sigrid/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sg_credential sg_credential;

/* Options for every credential constructor; NULL = defaults. Strings are copied. */
typedef struct sg_credential_options {
    size_t size;                /* sizeof(sg_credential_options) */
    const char *const *environ; /* "NAME=value" strings, NULL-terminated, read instead of the
                                   process environment (tests, embedding); NULL = environ */
    const char *authority_host; /* Entra authority; NULL = $AZURE_AUTHORITY_HOST, else
                                   https://login.microsoftonline.com. Must be https. */
    const char *ca_file;        /* CA bundle for https; NULL = $SSL_CERT_FILE, else system */
    long timeout_ms;            /* per HTTP request; 0 = 30 s */
    int max_retries;            /* managed identity retries; 0 = default (5); < 0 = none */
    long retry_delay_ms;        /* first backoff delay; 0 = 800 ms (IMDS 410: >= 3 s) */
    /* Managed identity selection (at most one; none = system-assigned). In
     * DefaultAzureCredential, client id defaults to $AZURE_CLIENT_ID, as in the SDKs. */
    const char *managed_identity_client_id;
    const char *managed_identity_object_id;
    const char *managed_identity_resource_id;
    const char *tenant_id;  /* DefaultAzureCredential/Environment: overrides AZURE_TENANT_ID */
    unsigned exclude;       /* DefaultAzureCredential: SG_CRED_EXCLUDE_* bits */
    int disable_imds_probe; /* DefaultAzureCredential: no probe before the IMDS request */
} sg_credential_options;

#define SG_CRED_EXCLUDE_ENVIRONMENT (1u << 0)
#define SG_CRED_EXCLUDE_WORKLOAD_IDENTITY (1u << 1)
#define SG_CRED_EXCLUDE_MANAGED_IDENTITY (1u << 2)
#define SG_CRED_EXCLUDE_AZURE_CLI (1u << 3)

/* An access token. token is owned (release with sg_access_token_clear). */
typedef struct sg_access_token {
    char *token;
    int64_t expires_on;  /* unix seconds */
    int64_t refresh_on;  /* unix seconds: when the cache will fetch a new one */
    char token_type[16]; /* "Bearer" */
} sg_access_token;

SIGRID_API void sg_access_token_clear(sg_access_token *t); /* frees token, zeroes; NULL-safe */

/* Why a call failed, for people: "ManagedIdentityCredential: Identity not found (HTTP 400 from
 * http://169.254.169.254/...)". Never contains secrets. */
typedef struct sg_credential_error {
    char message[1024];
} sg_credential_error;

/* Constructors. *out gets a new credential with one reference (sg_credential_free). Errors:
 * SG_EINVAL (with err->message when err is given) for bad or contradictory options (two
 * identity selectors, an http authority, a malformed tenant id), SG_ENOMEM. */
SIGRID_API int sg_managed_identity_credential_new(const sg_credential_options *o,
                                                  sg_credential **out, sg_credential_error *err);
SIGRID_API int sg_client_secret_credential_new(const char *tenant_id, const char *client_id,
                                               const char *client_secret,
                                               const sg_credential_options *o, sg_credential **out,
                                               sg_credential_error *err);
/* Never fails for a missing configuration: the credential then reports unavailable. */
SIGRID_API int sg_environment_credential_new(const sg_credential_options *o, sg_credential **out,
                                             sg_credential_error *err);
SIGRID_API int sg_workload_identity_credential_new(const sg_credential_options *o,
                                                   sg_credential **out, sg_credential_error *err);
/* Honours AZURE_TOKEN_CREDENTIALS (prod, dev, or one credential name) like the SDKs. */
SIGRID_API int sg_default_azure_credential_new(const sg_credential_options *o, sg_credential **out,
                                               sg_credential_error *err);

/* Acquires a token for one scope ("https://signalr.azure.com/.default"; a resource without
 * "/.default" is accepted too). *tok is overwritten (clear it first if it held a token).
 * err optional. Blocking; see the header comment for errors and caching. */
SIGRID_API int sg_credential_get_token(sg_credential *cred, const char *scope, sg_access_token *tok,
                                       sg_credential_error *err);

/* Adds a reference (returns cred). sg_credential_free drops one; the last frees. NULL-safe. */
SIGRID_API sg_credential *sg_credential_ref(sg_credential *cred);
SIGRID_API void sg_credential_free(sg_credential *cred);

/* "ManagedIdentityCredential", "ClientSecretCredential", "EnvironmentCredential",
 * "WorkloadIdentityCredential", "DefaultAzureCredential". Static string. */
SIGRID_API const char *sg_credential_name(const sg_credential *cred);

/* ---- what happened (for diagnostics such as `sigrid doctor`) ---- */

typedef enum sg_credential_outcome {
    SG_CRED_NOT_TRIED = 0,
    SG_CRED_SUCCEEDED = 1,
    SG_CRED_UNAVAILABLE = 2,
    SG_CRED_FAILED = 3,
} sg_credential_outcome;

SIGRID_API const char *sg_credential_outcome_name(sg_credential_outcome o); /* "succeeded", ... */

typedef struct sg_credential_link {
    const char *name;              /* static: "EnvironmentCredential", ... */
    sg_credential_outcome outcome; /* of the most recent sg_credential_get_token */
    char message[1024];            /* why (unavailable/failed) or what answered (succeeded) */
} sg_credential_link;

/* Number of links: a chain's credentials; 1 for a single credential. */
SIGRID_API size_t sg_credential_link_count(const sg_credential *cred);
/* Copies link i's outcome of the last get_token into *out. SG_EINVAL when i is out of range. */
SIGRID_API int sg_credential_link_get(sg_credential *cred, size_t i, sg_credential_link *out);
/* Name of the credential that produced the last token (a chain's link, else the credential's
 * own name), or NULL when none has. Static string. */
SIGRID_API const char *sg_credential_answered_by(sg_credential *cred);

#ifdef __cplusplus
}
#endif

#endif
