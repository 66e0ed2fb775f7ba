/* idep.h — identity endpoints: one plain-http listener per compute resource on its stored
 * port, speaking the IMDS protocol (VMs) or the App Service protocol (function/web apps).
 * The identity is decided by the listener (the port), never by what the caller sends.
 *
 * The request logic (validation and identity selection, error bodies, success bodies) is pure
 * and unit-tested (idep_logic.c); idep.c owns the listeners and the token cache.
 * Threading: the cloud loop. */
#ifndef SG_CLOUD_IDEP_H
#define SG_CLOUD_IDEP_H

#include "cloud/store.h"
#include "net/http.h"
#include "sg_buf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum sg_idep_proto {
    SG_IDEP_IMDS = 1,   /* VMs: GET /metadata/identity/oauth2/token, Metadata: true */
    SG_IDEP_APPSVC = 2, /* apps: GET /msi/token, X-IDENTITY-HEADER, api-version 2019-08-01 */
} sg_idep_proto;

/* One identity a compute resource may act as. */
typedef struct sg_idep_ident {
    char oid[SG_STORE_GUID_MAX];
    char client_id[SG_STORE_GUID_MAX];
    char mirid[SG_STORE_ID_MAX]; /* xms_mirid: UAMI ARM id, or the compute resource's id */
    int system;                  /* 1 = the system-assigned identity */
} sg_idep_ident;

/* Every identity of one compute resource. System-assigned first when present. */
typedef struct sg_idep_idset {
    char compute_id[SG_STORE_ID_MAX];
    sg_idep_ident ids[1 + SG_STORE_MAX_UAMI];
    size_t n;
} sg_idep_idset;

/* Fills set from a store record. */
void sg_idep_idset_from_compute(sg_idep_idset *set, const sg_compute_rec *r);

/* What arrived (borrowed views of the request). */
typedef struct sg_idep_in {
    sg_http_method method;
    sg_slice path;
    sg_slice query;
    const sg_slice *metadata;        /* "Metadata" header or NULL */
    const sg_slice *forwarded;       /* "X-Forwarded-For" header or NULL */
    const sg_slice *identity_header; /* "X-IDENTITY-HEADER" header or NULL */
} sg_idep_in;

#define SG_IDEP_RESOURCE_MAX 1024

typedef struct sg_idep_out {
    int status;          /* 200 = serve a token for ids[ident] and resource; else an error */
    const char *error;   /* IMDS "error" code (static) */
    const char *message; /* description (static) */
    int ident;           /* index into the set when status == 200 */
    char resource[SG_IDEP_RESOURCE_MAX]; /* percent-decoded `resource` */
    /* selector echo (IMDS echoes object_id / msi_res_id when supplied) */
    char sel_name[16];
    char sel_value[SG_STORE_ID_MAX];
} sg_idep_out;

/* Validates the request against the protocol and picks the identity. `secret` is the app's
 * identity header (App Service; ignored for IMDS). Never allocates. */
void sg_idep_evaluate(sg_idep_proto proto, const sg_idep_idset *set, const char *secret,
                      const sg_idep_in *in, sg_idep_out *out);

/* Error body for `out` in the protocol's shape (IMDS: {"error","error_description"};
 * App Service: {"statusCode","message","correlationId"}). Appends to b. */
int sg_idep_error_body(sg_idep_proto proto, const sg_idep_out *out, sg_buf *b);

/* Success body. Every number is a string. IMDS: access_token, client_id, expires_in,
 * expires_on, ext_expires_in, not_before, resource, token_type; App Service: access_token,
 * client_id, expires_on, not_before, resource, token_type. Appends to b. */
int sg_idep_token_body(sg_idep_proto proto, const char *access_token, const char *client_id,
                       const char *resource, int64_t now, int64_t nbf, int64_t exp, sg_buf *b);

/* JSON string escaping (quotes not included). */
int sg_idep_json_escape(sg_buf *b, const char *s, size_t n);

#endif
