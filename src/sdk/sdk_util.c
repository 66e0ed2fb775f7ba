/* sdk_util.c — environment lookup, expires_on parsing, retry policy, blocking HTTP (net/httpc
 * under the SDK's response caps and timeout code), error-body summaries. See sdk_internal.h. */
#include "sdk/sdk_internal.h"

#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_id.h"
#include "sg_str.h"
#include "sg_time.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

extern char **environ;

/* ---- environment ----------------------------------------------------------------------- */

const char *sg__env_get(const char *const *envp, const char *name)
{
    if (!name)
        return NULL;
    if (!envp) {
        const char *v = getenv(name);
        return v && *v ? v : NULL;
    }
    size_t n = strlen(name);
    for (const char *const *e = envp; *e; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return (*e)[n + 1] ? *e + n + 1 : NULL;
    }
    return NULL;
}

int sg__env_each(const char *const *envp,
                 int (*fn)(void *ud, const char *k, size_t kn, const char *v), void *ud)
{
    const char *const *e = envp ? envp : (const char *const *)environ;
    for (; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        int rc = fn(ud, *e, (size_t)(eq - *e), eq + 1);
        if (rc)
            return rc;
    }
    return 0;
}

const char *sg__ca_file(const char *explicit_ca, const char *const *envp)
{
    if (explicit_ca && *explicit_ca)
        return explicit_ca;
    return sg__env_get(envp, "SSL_CERT_FILE");
}

/* ---- scopes and times ------------------------------------------------------------------ */

int sg__scope_to_resource(const char *scope, char *out, size_t outlen)
{
    if (!scope || !*scope || strchr(scope, ' '))
        return SG_EINVAL;
    size_t n = strlen(scope);
    static const char sfx[] = "/.default";
    if (n > sizeof sfx - 1 && strcmp(scope + n - (sizeof sfx - 1), sfx) == 0)
        n -= sizeof sfx - 1;
    if (n == 0 || n >= outlen)
        return SG_EINVAL;
    memcpy(out, scope, n);
    out[n] = 0;
    return SG_OK;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* [T or space]HH:MM[:SS[.frac]] then [Z | ±HH:MM | ±HHMM]; returns seconds of day and the
 * offset (seconds east of UTC) or -1. p points after the date. */
static int parse_clock(const char *p, int ampm_allowed, long *sod, long *off)
{
    int hh, mi, ss = 0;
    if (digits(p, 2, &hh) || p[2] != ':' || digits(p + 3, 2, &mi))
        return -1;
    p += 5;
    if (*p == ':') {
        if (digits(p + 1, 2, &ss))
            return -1;
        p += 3;
        if (*p == '.' || *p == ',') {
            p++;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    while (*p == ' ')
        p++;
    if (ampm_allowed && (strncasecmp(p, "AM", 2) == 0 || strncasecmp(p, "PM", 2) == 0)) {
        int pm = toupper((unsigned char)*p) == 'P';
        if (hh < 1 || hh > 12)
            return -1;
        hh = hh % 12 + (pm ? 12 : 0);
        p += 2;
        while (*p == ' ')
            p++;
    }
    if (hh > 23 || mi > 59 || ss > 60)
        return -1;
    *off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (digits(p, 2, &oh))
            return -1;
        p += 2;
        if (*p == ':')
            p++;
        if (isdigit((unsigned char)*p)) {
            if (digits(p, 2, &om))
                return -1;
            p += 2;
        }
        if (oh > 14 || om > 59)
            return -1;
        *off = sign * (oh * 3600L + om * 60L);
    }
    while (*p == ' ')
        p++;
    if (*p)
        return -1;
    *sod = hh * 3600L + mi * 60L + ss;
    return 0;
}

static int64_t days_from_civil(int y, int m, int d)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    return (int64_t)timegm(&tm);
}

int sg__parse_time_str(const char *s, int64_t now, int64_t *out)
{
    if (!s)
        return SG_EINVAL;
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        n--;
    if (n == 0 || n > 64)
        return SG_EINVAL;
    char b[72];
    memcpy(b, s, n);
    b[n] = 0;
    int64_t v;
    if (sg_parse_i64(b, n, &v) == SG_OK) {
        if (v < 0)
            return SG_EINVAL;
        *out = v < 978307200 ? now + v : v;
        return SG_OK;
    }
    /* a decimal number ("1700000000.5") */
    char *end = NULL;
    double d = strtod(b, &end);
    if (end && *end == 0 && end != b && d >= 0 && d < 1e13) {
        v = (int64_t)d;
        *out = v < 978307200 ? now + v : v;
        return SG_OK;
    }
    int y, mo, dd;
    long sod, off;
    if (n >= 16 && digits(b, 4, &y) == 0 && b[4] == '-' && digits(b + 5, 2, &mo) == 0 &&
        b[7] == '-' && digits(b + 8, 2, &dd) == 0 &&
        (b[10] == 'T' || b[10] == 't' || b[10] == ' ')) {
        if (parse_clock(b + 11, 0, &sod, &off))
            return SG_EINVAL;
    } else if (n >= 16 && digits(b, 2, &mo) == 0 && b[2] == '/' && digits(b + 3, 2, &dd) == 0 &&
               b[5] == '/' && digits(b + 6, 4, &y) == 0 && b[10] == ' ') {
        /* MM/dd/yyyy hh:mm:ss tt +zz:zz (App Service 2017) */
        if (parse_clock(b + 11, 1, &sod, &off))
            return SG_EINVAL;
    } else {
        return SG_EINVAL;
    }
    if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || y < 1970 || y > 9999)
        return SG_EINVAL;
    *out = days_from_civil(y, mo, dd) + sod - off;
    return SG_OK;
}

int sg__parse_expires_on(const json_t *v, int64_t now, int64_t *out)
{
    if (json_is_integer(v)) {
        int64_t x = (int64_t)json_integer_value(v);
        if (x < 0)
            return SG_EINVAL;
        *out = x < 978307200 ? now + x : x;
        return SG_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d < 0 || d > 1e13)
            return SG_EINVAL;
        int64_t x = (int64_t)d;
        *out = x < 978307200 ? now + x : x;
        return SG_OK;
    }
    if (json_is_string(v))
        return sg__parse_time_str(json_string_value(v), now, out);
    return SG_EINVAL;
}

int sg__token_expiry(const json_t *body, int64_t now, int64_t *out)
{
    const json_t *eo = json_object_get(body, "expires_on");
    if (eo && sg__parse_expires_on(eo, now, out) == SG_OK)
        return SG_OK;
    const json_t *ei = json_object_get(body, "expires_in");
    int64_t secs;
    if (ei) {
        /* at most ~31 years, as for a real value: now + a huge value would overflow */
        if (json_is_integer(ei) && json_integer_value(ei) >= 0 &&
            json_integer_value(ei) < 1000000000) {
            *out = now + (int64_t)json_integer_value(ei);
            return SG_OK;
        }
        if (json_is_real(ei) && json_real_value(ei) >= 0 && json_real_value(ei) < 1e9) {
            *out = now + (int64_t)json_real_value(ei);
            return SG_OK;
        }
        const char *s = json_string_value(ei);
        if (s && sg_parse_i64(s, strlen(s), &secs) == SG_OK && secs >= 0 && secs < 1000000000) {
            *out = now + secs;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

int64_t sg__refresh_on(int64_t issued, int64_t expires_on)
{
    int64_t life = expires_on - issued;
    int64_t r;
    if (life > 2 * 3600)
        r = issued + life / 2;
    else
        r = expires_on - 300;
    if (r > expires_on - 300)
        r = expires_on - 300;
    if (r < issued)
        r = issued;
    return r;
}

/* ---- retries --------------------------------------------------------------------------- */

int sg__mi_retryable(long status)
{
    return status == 404 || status == 408 || status == 410 || status == 429 ||
           (status >= 500 && status <= 599);
}

long sg__mi_retry_delay(long status, int attempt, long base_ms, long retry_after_s, int jitter_pct)
{
    if (base_ms <= 0)
        base_ms = 800;
    if (status == 410 && base_ms < 3000)
        base_ms = 3000;
    long d = base_ms;
    for (int i = 0; i < attempt && d < 60000; i++)
        d *= 2;
    if (d > 60000)
        d = 60000;
    if (jitter_pct > 0 && jitter_pct <= 100) {
        unsigned r = 0;
        if (sg_random_bytes(&r, sizeof r) != 0)
            r = (unsigned)sg_mono_ms();
        long span = d * jitter_pct / 100;
        if (span > 0)
            d = d - span / 2 + (long)(r % (unsigned long)span);
    }
    if (retry_after_s > 0) {
        long ra = (retry_after_s > 60 ? 60 : retry_after_s) * 1000;
        if (ra > d)
            d = ra;
    }
    return d;
}

long sg__retry_after(const char *raw)
{
    if (!raw)
        return 0;
    const char *p = raw;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
            const char *v = p + 12;
            size_t vn = n - 12;
            while (vn && (*v == ' ' || *v == '\t')) {
                v++;
                vn--;
            }
            while (vn && (v[vn - 1] == '\r' || v[vn - 1] == ' '))
                vn--;
            int64_t s;
            if (sg_parse_i64(v, vn, &s) == SG_OK && s > 0)
                return s > 3600 ? 3600 : (long)s;
            return 0;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    return 0;
}

/* ---- HTTP ------------------------------------------------------------------------------ */

#define MAX_RESP_BODY (4u * 1024 * 1024)
#define MAX_RESP_HEADERS (64u * 1024)

int sg__http_do(const sg__http_req *req, sg__http_resp *resp, char *errbuf, size_t errlen)
{
    if (!req || !req->url) {
        memset(resp, 0, sizeof(*resp));
        sg_buf_init(&resp->body, MAX_RESP_BODY);
        sg_buf_init(&resp->headers, MAX_RESP_HEADERS);
        if (errbuf && errlen)
            errbuf[0] = 0;
        return SG_EINVAL;
    }
    sg_httpc_req r = *req;
    r.max_body = MAX_RESP_BODY;
    r.max_headers = MAX_RESP_HEADERS;
    r.timeout_etimedout = 1;
    return sg_httpc_do(&r, resp, errbuf, errlen);
}

void sg__http_resp_free(sg__http_resp *r)
{
    sg_httpc_resp_free(r);
}

void sg__error_text(const char *body, char *out, size_t outlen)
{
    if (!out || !outlen)
        return;
    out[0] = 0;
    if (!body || !*body)
        return;
    json_t *j = json_loads(body, JSON_DECODE_ANY, NULL);
    const char *desc = NULL, *code = NULL, *hint = NULL;
    if (json_is_object(j)) {
        const json_t *e = json_object_get(j, "error");
        desc = json_string_value(json_object_get(j, "error_description"));
        if (!desc)
            desc = json_string_value(json_object_get(j, "message"));
        if (!desc)
            desc = json_string_value(json_object_get(j, "Message"));
        if (!desc && json_is_object(e))
            desc = json_string_value(json_object_get(e, "message"));
        code = json_string_value(json_object_get(j, "code"));
        if (!code)
            code = json_string_value(e);
        if (!code && json_is_object(e))
            code = json_string_value(json_object_get(e, "code"));
        hint = json_string_value(json_object_get(j, "hint"));
    }
    if (desc || code) {
        /* AADSTS descriptions carry "\r\nTrace ID: ..." lines: keep the first line */
        size_t dn = desc ? strcspn(desc, "\r\n") : 0;
        if (code && desc)
            sg_snprintf(out, outlen, "%s: %.*s%s%s", code, (int)dn, desc, hint ? " Hint: " : "",
                        hint ? hint : "");
        else if (desc)
            sg_snprintf(out, outlen, "%.*s", (int)dn, desc);
        else
            sg_snprintf(out, outlen, "%s", code);
    } else {
        size_t n = strlen(body);
        if (n > 200)
            n = 200;
        sg_snprintf(out, outlen, "%.*s", (int)n, body);
        for (char *p = out; *p; p++)
            if (*p == '\r' || *p == '\n')
                *p = ' ';
    }
    json_decref(j);
}

void sg__cred_errf(sg_credential_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

void sg__opts_copy(void *o, size_t o_size, const void *in, size_t in_size)
{
    memset(o, 0, o_size);
    if (in)
        memcpy(o, in, in_size && in_size < o_size ? in_size : o_size);
}

void sg__cred_opts_copy(const sg_credential_options *in, sg_credential_options *o)
{
    sg__opts_copy(o, sizeof(*o), in, in ? in->size : 0);
    if (in)
        o->size = sizeof(*o);
}

static int dump_cb(const char *buf, size_t size, void *ud)
{
    return sg_buf_append(ud, buf, size) == SG_OK ? 0 : -1;
}

int sg__sdk_json_dump(const json_t *j, sg_buf *out)
{
    if (json_dump_callback(j, dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
        return SG_ENOMEM;
    return out->data ? SG_OK : sg_buf_append(out, "", 0);
}
