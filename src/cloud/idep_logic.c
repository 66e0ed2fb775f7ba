/* idep_logic.c — pure request logic of the identity endpoints (see idep.h): validation,
 * identity selection and response bodies for the IMDS and App Service protocols. */
#include "cloud/idep.h"

#include "sg_err.h"
#include "sg_id.h"
#include "sg_str.h"

#include <string.h>
#include <strings.h>

#define IMDS_TOKEN_PATH "/metadata/identity/oauth2/token"
#define APPSVC_TOKEN_PATH "/msi/token"
#define APPSVC_API_VERSION "2019-08-01"

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

void sg_idep_idset_from_compute(sg_idep_idset *set, const sg_compute_rec *r)
{
    memset(set, 0, sizeof *set);
    copy_str(set->compute_id, sizeof set->compute_id, r->id);
    if (r->system_principal_id[0]) {
        sg_idep_ident *id = &set->ids[set->n++];
        copy_str(id->oid, sizeof id->oid, r->system_principal_id);
        copy_str(id->client_id, sizeof id->client_id, r->system_client_id);
        copy_str(id->mirid, sizeof id->mirid, r->id);
        id->system = 1;
    }
    for (size_t i = 0; i < r->n_uami && i < SG_STORE_MAX_UAMI; i++) {
        sg_idep_ident *id = &set->ids[set->n++];
        copy_str(id->oid, sizeof id->oid, r->uami[i].principal_id);
        copy_str(id->client_id, sizeof id->client_id, r->uami[i].client_id);
        copy_str(id->mirid, sizeof id->mirid, r->uami[i].id);
        id->system = 0;
    }
}

/* Percent-decodes (form: '+' = space) v into out[cap]; 0 ok, -1 bad escape / too long / not
 * UTF-8 (the values are echoed in JSON bodies and token claims). */
static int decode_into(sg_slice v, char *out, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < v.n; i++) {
        char ch = v.p[i];
        if (ch == '%') {
            if (i + 2 >= v.n)
                return -1;
            int hi = -1, lo = -1;
            char a = v.p[i + 1], b = v.p[i + 2];
            hi = (a >= '0' && a <= '9')   ? a - '0'
                 : (a >= 'a' && a <= 'f') ? a - 'a' + 10
                 : (a >= 'A' && a <= 'F') ? a - 'A' + 10
                                          : -1;
            lo = (b >= '0' && b <= '9')   ? b - '0'
                 : (b >= 'a' && b <= 'f') ? b - 'a' + 10
                 : (b >= 'A' && b <= 'F') ? b - 'A' + 10
                                          : -1;
            if (hi < 0 || lo < 0)
                return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+') {
            ch = ' ';
        }
        if (ch == 0 || w + 1 >= cap)
            return -1;
        out[w++] = ch;
    }
    out[w] = 0;
    return sg_utf8_valid((const unsigned char *)out, w) ? 0 : -1;
}

static int path_is(sg_slice p, const char *want)
{
    size_t n = strlen(want);
    if (p.n == n + 1 && p.p[n] == '/')
        p.n = n;
    return p.n == n && strncasecmp(p.p, want, n) == 0;
}

static int api_version_ok(const char *v)
{
    /* YYYY-MM-DD, optionally followed by "-preview" */
    size_t n = strlen(v);
    if (n != 10 && !(n == 18 && strcmp(v + 10, "-preview") == 0))
        return 0;
    for (size_t i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (v[i] != '-')
                return 0;
        } else if (v[i] < '0' || v[i] > '9') {
            return 0;
        }
    }
    return strncmp(v, "2017-", 5) >= 0;
}

static void fail(sg_idep_out *out, int status, const char *error, const char *message)
{
    out->status = status;
    out->error = error;
    out->message = message;
    out->ident = -1;
}

enum { SEL_NONE = 0, SEL_CLIENT, SEL_OBJECT, SEL_RESID };

void sg_idep_evaluate(sg_idep_proto proto, const sg_idep_idset *set, const char *secret,
                      const sg_idep_in *in, sg_idep_out *out)
{
    int imds = proto == SG_IDEP_IMDS;
    char api[32] = {0};
    int have_api = 0, have_res = 0, nsel = 0, sel = SEL_NONE;
    memset(out, 0, sizeof *out);
    out->ident = -1;

    /* 1. where and how */
    if (imds) {
        if (!path_is(in->path, IMDS_TOKEN_PATH)) {
            fail(out, 404, "not_found", "The requested path was not found");
            return;
        }
    } else if (!path_is(in->path, APPSVC_TOKEN_PATH)) {
        fail(out, 404, "not_found", "The requested path was not found");
        return;
    }
    if (in->method != SG_HTTP_GET) {
        fail(out, 405, "method_not_allowed", "The request method is not supported; use GET");
        return;
    }

    /* 2. the protocol's guard headers */
    if (imds) {
        if (!in->metadata || !sg_slice_eq(*in->metadata, "true")) {
            fail(out, 400, "invalid_request", "Required metadata header not specified");
            return;
        }
        if (in->forwarded) {
            fail(out, 400, "invalid_request",
                 "Requests with an X-Forwarded-For header are not accepted");
            return;
        }
    } else {
        if (!in->identity_header || in->identity_header->n == 0) {
            fail(out, 400, "invalid_request", "The X-IDENTITY-HEADER header is required");
            return;
        }
        if (!secret || !*secret ||
            !sg_ct_eq(in->identity_header->p, in->identity_header->n, secret, strlen(secret))) {
            fail(out, 401, "unauthorized_client", "The X-IDENTITY-HEADER header is not valid");
            return;
        }
    }

    /* 3. query */
    size_t pos = 0;
    sg_slice k, v;
    while (sg_query_next(in->query, &pos, &k, &v)) {
        int this_sel = SEL_NONE;
        if (sg_slice_eq(k, "api-version")) {
            if (have_api)
                continue;
            if (decode_into(v, api, sizeof api) != 0) {
                fail(out, 400, "invalid_request", "Invalid api-version");
                return;
            }
            have_api = 1;
        } else if (sg_slice_eq(k, "resource")) {
            if (have_res)
                continue;
            if (decode_into(v, out->resource, sizeof out->resource) != 0) {
                fail(out, 400, "invalid_request", "Invalid resource parameter");
                return;
            }
            have_res = 1;
        } else if (sg_slice_eq(k, "client_id")) {
            this_sel = SEL_CLIENT;
        } else if (sg_slice_eq(k, "object_id") || (!imds && sg_slice_eq(k, "principal_id"))) {
            this_sel = SEL_OBJECT;
        } else if (sg_slice_eq(k, "mi_res_id") || (imds && sg_slice_eq(k, "msi_res_id"))) {
            this_sel = SEL_RESID;
        }
        if (this_sel == SEL_NONE)
            continue;
        if (v.n == 0)
            continue; /* an empty selector is no selector (SDKs never send one) */
        nsel++;
        sel = this_sel;
        copy_str(out->sel_name, sizeof out->sel_name,
                 this_sel == SEL_CLIENT   ? "client_id"
                 : this_sel == SEL_OBJECT ? "object_id"
                 : imds                   ? "msi_res_id"
                                          : "mi_res_id");
        if (decode_into(v, out->sel_value, sizeof out->sel_value) != 0) {
            fail(out, 400, "invalid_request", "Invalid identity selector");
            return;
        }
    }
    if (!have_api) {
        fail(out, 400, "invalid_request", "Required query variable 'api-version' is missing");
        return;
    }
    if (imds ? !api_version_ok(api) : strcmp(api, APPSVC_API_VERSION) != 0) {
        fail(out, 400, "invalid_request",
             imds ? "Invalid api-version" : "Unsupported api-version; use 2019-08-01");
        return;
    }
    if (!have_res || !out->resource[0]) {
        fail(out, 400, "invalid_request", "Required audience parameter not specified");
        return;
    }
    if (nsel > 1) {
        fail(out, 400, "invalid_request",
             imds ? "Only one of client_id, object_id and msi_res_id may be specified"
                  : "Only one of client_id, principal_id/object_id and mi_res_id may be "
                    "specified");
        return;
    }

    /* 4. which identity */
    const char *not_found =
        imds ? "Identity not found" : "Unable to load the proper Managed Identity.";
    int pick = -1;
    if (sel == SEL_NONE) {
        if (set->n > 0 && set->ids[0].system)
            pick = 0;
        else if (imds && set->n == 1)
            pick = 0; /* IMDS: the single user-assigned identity; App Service does not */
    } else {
        for (size_t i = 0; i < set->n && pick < 0; i++) {
            const sg_idep_ident *id = &set->ids[i];
            if (sel == SEL_CLIENT && strcasecmp(id->client_id, out->sel_value) == 0)
                pick = (int)i;
            else if (sel == SEL_OBJECT && strcasecmp(id->oid, out->sel_value) == 0)
                pick = (int)i;
            else if (sel == SEL_RESID && !id->system && strcasecmp(id->mirid, out->sel_value) == 0)
                pick = (int)i;
        }
    }
    if (pick < 0) {
        fail(out, 400, "invalid_request", not_found);
        return;
    }
    out->status = 200;
    out->ident = pick;
}

int sg_idep_json_escape(sg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = sg_buf_reserve(b, n + 8);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = sg_buf_append(b, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = sg_buf_append(b, e, 6);
        } else {
            rc = sg_buf_append_byte(b, c);
        }
    }
    return rc;
}

int sg_idep_error_body(sg_idep_proto proto, const sg_idep_out *out, sg_buf *b)
{
    int rc;
    if (proto == SG_IDEP_IMDS) {
        rc = sg_buf_appendf(b, "{\"error\":\"%s\",\"error_description\":\"%s\"}",
                            out->error ? out->error : "invalid_request",
                            out->message ? out->message : "");
    } else {
        rc = sg_buf_appendf(b, "{\"statusCode\":%d,\"message\":\"%s\",\"correlationId\":\"",
                            out->status, out->message ? out->message : "");
        char cid[37];
        if (rc == 0 && sg_uuid4(cid) == 0)
            rc = sg_buf_append_str(b, cid);
        if (rc == 0)
            rc = sg_buf_append_str(b, "\"}");
    }
    return rc;
}

int sg_idep_token_body(sg_idep_proto proto, const char *access_token, const char *client_id,
                       const char *resource, int64_t now, int64_t nbf, int64_t exp, sg_buf *b)
{
    long long in = (long long)(exp - now);
    if (in < 0)
        in = 0;
    int rc = sg_buf_appendf(b, "{\"access_token\":\"%s\",\"client_id\":\"%s\",", access_token,
                            client_id);
    if (rc == 0 && proto == SG_IDEP_IMDS)
        rc = sg_buf_appendf(b, "\"expires_in\":\"%lld\",", in);
    if (rc == 0)
        rc = sg_buf_appendf(b, "\"expires_on\":\"%lld\",", (long long)exp);
    if (rc == 0 && proto == SG_IDEP_IMDS)
        rc = sg_buf_appendf(b, "\"ext_expires_in\":\"%lld\",", in);
    if (rc == 0)
        rc = sg_buf_appendf(b, "\"not_before\":\"%lld\",\"resource\":\"", (long long)nbf);
    if (rc == 0)
        rc = sg_idep_json_escape(b, resource, strlen(resource));
    if (rc == 0)
        rc = sg_buf_append_str(b, "\",\"token_type\":\"Bearer\"}");
    return rc;
}
