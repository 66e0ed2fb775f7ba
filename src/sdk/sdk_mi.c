/* sdk_mi.c — managed identity: source detection (reference §3b) and request URLs (§1, §2).
 * Pure functions; the HTTP exchange lives in sdk_cred.c. */
#include "sdk/sdk_internal.h"

#include "sg_str.h"

#include <string.h>
#include <unistd.h>

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_PATH "/metadata/identity/oauth2/token"

const char *sg__mi_kind_name(sg__mi_kind k)
{
    switch (k) {
    case SG_MI_IMDS:
        return "IMDS";
    case SG_MI_APP_SERVICE:
        return "AppService";
    case SG_MI_SERVICE_FABRIC:
        return "ServiceFabric";
    case SG_MI_MACHINE_LEARNING:
        return "MachineLearning";
    case SG_MI_CLOUD_SHELL:
        return "CloudShell";
    case SG_MI_ARC:
        return "AzureArc";
    }
    return "unknown";
}

static int set(char *dst, size_t n, const char *v)
{
    return sg_snprintf(dst, n, "%s", v ? v : "") == 0 ? SG_OK : SG_EINVAL;
}

int sg__mi_detect(const char *const *envp, sg__mi_source *out)
{
    memset(out, 0, sizeof(*out));
    const char *ie = sg__env_get(envp, "IDENTITY_ENDPOINT");
    const char *ih = sg__env_get(envp, "IDENTITY_HEADER");
    const char *thumb = sg__env_get(envp, "IDENTITY_SERVER_THUMBPRINT");
    const char *me = sg__env_get(envp, "MSI_ENDPOINT");
    const char *ms = sg__env_get(envp, "MSI_SECRET");
    const char *imds_ep = sg__env_get(envp, "IMDS_ENDPOINT");
    int rc = SG_OK;
    if (ie && ih && thumb) {
        out->kind = SG_MI_SERVICE_FABRIC;
        rc = set(out->endpoint, sizeof out->endpoint, ie);
    } else if (ie && ih) {
        out->kind = SG_MI_APP_SERVICE;
        rc = set(out->endpoint, sizeof out->endpoint, ie);
        if (rc == SG_OK)
            rc = set(out->secret, sizeof out->secret, ih);
    } else if (me && ms) {
        out->kind = SG_MI_MACHINE_LEARNING;
        rc = set(out->endpoint, sizeof out->endpoint, me);
        if (rc == SG_OK)
            rc = set(out->secret, sizeof out->secret, ms);
    } else if (me) {
        out->kind = SG_MI_CLOUD_SHELL;
        rc = set(out->endpoint, sizeof out->endpoint, me);
    } else if ((ie && imds_ep) || (!envp && access("/opt/azcmagent/bin/himds", F_OK) == 0)) {
        out->kind = SG_MI_ARC;
        rc = set(out->endpoint, sizeof out->endpoint,
                 ie ? ie : "http://127.0.0.1:40342/metadata/identity/oauth2/token");
    } else {
        out->kind = SG_MI_IMDS;
        const char *host = sg__env_get(envp, "AZURE_POD_IDENTITY_AUTHORITY_HOST");
        out->imds_overridden = host != NULL;
        if (!host)
            host = IMDS_DEFAULT;
        size_t n = strlen(host);
        while (n && host[n - 1] == '/') /* "http://h:p/" must not give "//metadata" */
            n--;
        rc =
            sg_snprintf(out->endpoint, sizeof out->endpoint, "%.*s%s", (int)n, host, IMDS_PATH) == 0
                ? SG_OK
                : SG_EINVAL;
    }
    return rc;
}

static int param(sg_buf *b, const char *k, const char *v)
{
    int rc = sg_buf_appendf(b, "&%s=", k);
    if (rc == SG_OK)
        rc = sg_url_encode_append(b, v, strlen(v));
    return rc;
}

int sg__mi_request_url(const sg__mi_source *src, const char *resource, sg__mi_id_kind idk,
                       const char *id, const char *const *envp, sg_buf *out)
{
    if (!src || !resource)
        return SG_EINVAL;
    int rc = sg_buf_append_str(out, src->endpoint);
    if (rc)
        return rc;
    if (src->kind == SG_MI_CLOUD_SHELL)
        return SG_OK; /* POST, resource in the form body */
    const char *ver = "2018-02-01";
    if (src->kind == SG_MI_APP_SERVICE)
        ver = "2019-08-01";
    else if (src->kind == SG_MI_MACHINE_LEARNING)
        ver = "2017-09-01";
    else if (src->kind == SG_MI_ARC)
        ver = "2020-06-01";
    else if (src->kind == SG_MI_SERVICE_FABRIC)
        ver = "2019-07-01-preview";
    rc = sg_buf_appendf(out, "%capi-version=%s", strchr(src->endpoint, '?') ? '&' : '?', ver);
    if (rc == SG_OK)
        rc = param(out, "resource", resource);
    if (rc)
        return rc;
    if (src->kind == SG_MI_MACHINE_LEARNING) {
        /* 2017 shape: clientid only; system-assigned sends DEFAULT_IDENTITY_CLIENT_ID */
        const char *cid =
            idk == SG_MI_CLIENT_ID ? id : sg__env_get(envp, "DEFAULT_IDENTITY_CLIENT_ID");
        return cid ? param(out, "clientid", cid) : SG_OK;
    }
    switch (idk) {
    case SG_MI_SYSTEM:
        return SG_OK;
    case SG_MI_CLIENT_ID:
        return param(out, "client_id", id);
    case SG_MI_OBJECT_ID:
        return param(out, "object_id", id);
    case SG_MI_RESOURCE_ID:
        return param(out, src->kind == SG_MI_IMDS ? "msi_res_id" : "mi_res_id", id);
    }
    return SG_EINVAL;
}

int sg__imds_probe_available(long status, const char *body)
{
    /* any HTTP answer means IMDS is there (a header-less request is expected to get 400),
     * except Docker Desktop's proxy: 403 with "...unreachable network/host" */
    if (status == 403 && body && strstr(body, "unreachable"))
        return SG_ENOTFOUND;
    return status > 0 ? SG_OK : SG_ENOTFOUND;
}
