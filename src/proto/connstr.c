/* connstr.c — Azure SignalR connection-string parser (see connstr.h). Error texts follow
 * Azure/azure-signalr ConnectionStringParser.cs (newest). */
#include "proto/connstr.h"

#include "sg_alloc.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_str.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define MAX_PROPS 64
#define MAX_LEN 65536

typedef struct kv {
    const char *k;
    size_t kn;
    const char *v;
    size_t vn;
} kv;

typedef struct uri {
    char scheme[6];
    const char *host;
    size_t hostn;
    int port;         /* 0 = none */
    const char *rest; /* path (+query/fragment), may be "" */
    size_t restn;
} uri;

static void seterr(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        sg_snprintf(err, errlen, "%s", msg);
}

/* An application credential: a secret, else a certificate, else SG_EINVAL with the error. */
static int app_cred(const kv *sec, const kv *cert, sg_connstr_cred *cred, char *err, size_t errlen)
{
    if (sec)
        *cred = SG_CRED_APP_SECRET;
    else if (cert)
        *cred = SG_CRED_APP_CERT;
    else {
        seterr(err, errlen,
               "Connection string missing required properties clientSecret or clientCert.");
        return SG_EINVAL;
    }
    return SG_OK;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void trim(const char **p, size_t *n)
{
    while (*n && is_ws(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && is_ws((*p)[*n - 1]))
        (*n)--;
}

static int host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%' ||
           (unsigned char)c >= 0x80;
}

/* Absolute http/https URI with a non-empty host and an optional port 0..65535. */
static int parse_uri(const char *s, size_t n, uri *u)
{
    memset(u, 0, sizeof(*u));
    size_t sl;
    if (n >= 7 && strncasecmp(s, "http://", 7) == 0)
        sl = 4;
    else if (n >= 8 && strncasecmp(s, "https://", 8) == 0)
        sl = 5;
    else
        return -1;
    for (size_t i = 0; i < sl; i++)
        u->scheme[i] = (char)tolower((unsigned char)s[i]);
    u->scheme[sl] = 0;
    size_t i = sl + 3;
    size_t hs = i;
    if (i < n && s[i] == '[') {
        while (i < n && s[i] != ']') {
            char c = s[i];
            if (!(isxdigit((unsigned char)c) || c == ':' || c == '.' || c == '['))
                return -1;
            i++;
        }
        if (i >= n)
            return -1;
        i++; /* ']' */
        if (i - hs < 3)
            return -1;
    } else {
        while (i < n && host_char(s[i]))
            i++;
        if (i == hs)
            return -1;
    }
    u->host = s + hs;
    u->hostn = i - hs;
    if (i < n && s[i] == ':') {
        i++;
        size_t ps = i;
        long port = 0;
        while (i < n && isdigit((unsigned char)s[i])) {
            port = port * 10 + (s[i] - '0');
            if (port > 65535)
                return -1;
            i++;
        }
        if (i == ps)
            return -1;
        u->port = (int)port;
    }
    if (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#')
        return -1;
    for (size_t j = i; j < n; j++)
        if ((unsigned char)s[j] <= 0x20)
            return -1;
    u->rest = s + i;
    u->restn = n - i;
    return 0;
}

static int default_port(const char *scheme)
{
    return strcmp(scheme, "https") == 0 ? 443 : 80;
}

/* scheme://host[:port]<rest>, host lower-cased, default port omitted, trailing '/' trimmed. */
static char *uri_string(const uri *u, int port)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    int rc = sg_buf_appendf(&b, "%s://", u->scheme);
    size_t hs = b.len;
    if (rc == 0)
        rc = sg_buf_append(&b, u->host, u->hostn);
    if (rc == 0)
        sg_str_lower(b.data + hs);
    if (rc == 0 && port && port != default_port(u->scheme))
        rc = sg_buf_appendf(&b, ":%d", port);
    if (rc == 0)
        rc = sg_buf_append(&b, u->rest, u->restn);
    while (rc == 0 && b.len > hs && b.data[b.len - 1] == '/') {
        b.data[--b.len] = 0;
    }
    if (rc) {
        sg_buf_free(&b);
        return NULL;
    }
    return sg_buf_steal(&b, NULL);
}

static const kv *find(const kv *props, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (props[i].kn == strlen(key) && strncasecmp(props[i].k, key, props[i].kn) == 0)
            return &props[i];
    return NULL;
}

static int dupv(const kv *p, char **out)
{
    if (!p) {
        *out = NULL;
        return 0;
    }
    *out = sg_strndup(p->v, p->vn);
    return *out ? 0 : SG_ENOMEM;
}

/* ^1\.\d+(?:[\w-.]+)?$ */
static int version_ok(const char *v, size_t n)
{
    if (n < 3 || v[0] != '1' || v[1] != '.' || !isdigit((unsigned char)v[2]))
        return 0;
    for (size_t i = 3; i < n; i++) {
        char c = v[i];
        if (!(isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

const char *sg_connstr_cred_name(sg_connstr_cred c)
{
    switch (c) {
    case SG_CRED_ACCESS_KEY:
        return "accessKey";
    case SG_CRED_DEFAULT:
        return "default";
    case SG_CRED_MI_SYSTEM:
        return "managedIdentity(system)";
    case SG_CRED_MI_USER:
        return "managedIdentity(user)";
    case SG_CRED_APP_SECRET:
        return "clientSecret";
    case SG_CRED_APP_CERT:
        return "clientCertificate";
    }
    return "unknown";
}

void sg_connstr_free(sg_connstr *c)
{
    if (!c)
        return;
    char **fields[] = {&c->endpoint,        &c->scheme,          &c->host,       &c->audience_base,
                       &c->client_endpoint, &c->server_endpoint, &c->access_key, &c->version,
                       &c->auth_type,       &c->client_id,       &c->tenant_id,  &c->client_secret,
                       &c->client_cert};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        sg_free(*fields[i]);
    memset(c, 0, sizeof(*c));
}

int sg_connstr_parse(const char *s, sg_connstr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = 0;
    if (!s) {
        seterr(err, errlen, "Connection string missing required properties endpoint.");
        return SG_EINVAL;
    }
    size_t len = strlen(s);
    if (len > MAX_LEN) {
        seterr(err, errlen, "Connection string too long.");
        return SG_EINVAL;
    }
    kv props[MAX_PROPS];
    size_t np = 0, nparts = 0;
    int rc = SG_EINVAL;
    char msg[600];

    for (size_t i = 0; i <= len;) {
        const char *semi = memchr(s + i, ';', len - i);
        size_t end = semi ? (size_t)(semi - s) : len;
        const char *part = s + i;
        size_t pn = end - i;
        i = end + 1;
        if (pn == 0)
            continue; /* StringSplitOptions.RemoveEmptyEntries */
        nparts++;
        const char *eq = memchr(part, '=', pn);
        if (!eq)
            continue;
        kv p = {part, (size_t)(eq - part), eq + 1, pn - (size_t)(eq - part) - 1};
        trim(&p.k, &p.kn);
        trim(&p.v, &p.vn);
        for (size_t j = 0; j < np; j++) {
            if (props[j].kn == p.kn && strncasecmp(props[j].k, p.k, p.kn) == 0) {
                sg_snprintf(msg, sizeof(msg),
                            "Duplicate properties found in connection string: %.*s.",
                            (int)(p.kn > 200 ? 200 : p.kn), p.k);
                seterr(err, errlen, msg);
                return SG_EINVAL;
            }
        }
        if (np == MAX_PROPS) {
            seterr(err, errlen, "Connection string has too many properties.");
            return SG_EINVAL;
        }
        props[np++] = p;
    }
    if (nparts < 2) {
        seterr(err, errlen, "Connection string missing required properties endpoint.");
        return SG_EINVAL;
    }

    const kv *ep = find(props, np, "endpoint");
    if (!ep) {
        seterr(err, errlen, "Connection string missing required properties endpoint.");
        return SG_EINVAL;
    }
    size_t epn = ep->vn;
    while (epn && ep->v[epn - 1] == '/')
        epn--;
    uri eu;
    if (parse_uri(ep->v, epn, &eu)) {
        seterr(err, errlen, "Invalid value for endpoint property, it must be a valid URI.");
        return SG_EINVAL;
    }

    const kv *ver = find(props, np, "version");
    if (ver && !version_ok(ver->v, ver->vn)) {
        sg_snprintf(msg, sizeof(msg), "Version %.*s is not supported.",
                    (int)(ver->vn > 200 ? 200 : ver->vn), ver->v);
        seterr(err, errlen, msg);
        return SG_EINVAL;
    }

    int port = eu.port;
    const kv *pp = find(props, np, "port");
    if (pp) {
        const char *pv = pp->v;
        size_t pvn = pp->vn;
        if (pvn && pv[0] == '+') {
            pv++;
            pvn--;
        }
        int64_t pval;
        if (pvn == 0 || sg_parse_i64(pv, pvn, &pval) || pval <= 0 || pval > 65535) {
            seterr(err, errlen,
                   "Invalid value for port property, it must be an positive integer between (0, "
                   "65536)");
            return SG_EINVAL;
        }
        port = (int)pval;
    }

    uri cu, su;
    const kv *cep = find(props, np, "clientendpoint");
    if (cep && parse_uri(cep->v, cep->vn, &cu)) {
        seterr(err, errlen, "Invalid value for clientEndpoint property, it must be a valid URI.");
        return SG_EINVAL;
    }
    const kv *sep = find(props, np, "serverendpoint");
    if (sep && parse_uri(sep->v, sep->vn, &su)) {
        sg_snprintf(msg, sizeof(msg),
                    "ServerEndpoint property in connection string is not a valid URI: %.*s.",
                    (int)(sep->vn > 300 ? 300 : sep->vn), sep->v);
        seterr(err, errlen, msg);
        return SG_EINVAL;
    }

    const kv *at = find(props, np, "authtype");
    const kv *cid = find(props, np, "clientid");
    const kv *tid = find(props, np, "tenantid");
    const kv *sec = find(props, np, "clientsecret");
    const kv *cert = find(props, np, "clientcert");
    const kv *key = find(props, np, "accesskey");
    char at_l[16] = "";
    if (at) {
        size_t n = at->vn < sizeof(at_l) - 1 ? at->vn : sizeof(at_l) - 1;
        memcpy(at_l, at->v, n);
        at_l[n] = 0;
        if (at->vn >= sizeof(at_l))
            at_l[0] = '?'; /* too long to be a known type */
        sg_str_lower(at_l);
    }
    sg_connstr_cred cred;
    if (at && strcmp(at_l, "aad") == 0) {
        if (cid && tid) {
            if (app_cred(sec, cert, &cred, err, errlen))
                return SG_EINVAL;
        } else {
            cred = cid ? SG_CRED_MI_USER : SG_CRED_MI_SYSTEM;
        }
    } else if (at && strcmp(at_l, "azure") == 0) {
        cred = SG_CRED_DEFAULT;
    } else if (at && strcmp(at_l, "azure.app") == 0) {
        if (!cid) {
            seterr(err, errlen, "Connection string missing required properties clientId.");
            return SG_EINVAL;
        }
        if (!tid) {
            seterr(err, errlen, "Connection string missing required properties tenantId.");
            return SG_EINVAL;
        }
        if (app_cred(sec, cert, &cred, err, errlen))
            return SG_EINVAL;
    } else if (at && strcmp(at_l, "azure.msi") == 0) {
        cred = cid ? SG_CRED_MI_USER : SG_CRED_MI_SYSTEM;
    } else {
        if (!key) {
            seterr(err, errlen, "accesskey is required.");
            return SG_EINVAL;
        }
        cred = SG_CRED_ACCESS_KEY;
    }

    rc = SG_ENOMEM;
    out->cred = cred;
    out->port = port ? port : default_port(eu.scheme);
    out->endpoint = uri_string(&eu, port);
    out->scheme = sg_strdup(eu.scheme);
    out->host = sg_strndup(eu.host, eu.hostn);
    if (!out->endpoint || !out->scheme || !out->host)
        goto fail;
    sg_str_lower(out->host);
    sg_buf ab;
    sg_buf_init(&ab, 0);
    if (sg_buf_appendf(&ab, "%s://%s/", out->scheme, out->host)) {
        sg_buf_free(&ab);
        goto fail;
    }
    out->audience_base = sg_buf_steal(&ab, NULL);
    if (!out->audience_base)
        goto fail;
    if (cep) {
        out->client_endpoint = uri_string(&cu, cu.port);
        if (!out->client_endpoint)
            goto fail;
    }
    if (sep) {
        out->server_endpoint = uri_string(&su, su.port);
        if (!out->server_endpoint)
            goto fail;
    }
    if (dupv(key, &out->access_key) || dupv(ver, &out->version) || dupv(at, &out->auth_type) ||
        dupv(cid, &out->client_id) || dupv(tid, &out->tenant_id) ||
        dupv(sec, &out->client_secret) || dupv(cert, &out->client_cert))
        goto fail;
    if (out->auth_type)
        sg_str_lower(out->auth_type);
    return SG_OK;
fail:
    sg_connstr_free(out);
    seterr(err, errlen, "out of memory");
    return rc;
}
