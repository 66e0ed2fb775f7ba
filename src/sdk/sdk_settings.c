/* sdk_settings.c — Functions-style identity-based connection settings (reference §6): the
 * <PREFIX> section from the environment and local.settings.json. See sdk_internal.h. */
#include "sdk/sdk_internal.h"

#include "sg_alloc.h"
#include "sg_str.h"

#include <string.h>
#include <strings.h>

#define MAX_SETTINGS_FILE (1024 * 1024)

static const struct {
    const char *name;
    size_t off;
} k_keys[] = {
    {"serviceUri", offsetof(sg__settings, service_uri)},
    {"credential", offsetof(sg__settings, credential)},
    {"clientId", offsetof(sg__settings, client_id)},
    {"tenantId", offsetof(sg__settings, tenant_id)},
    {"clientSecret", offsetof(sg__settings, client_secret)},
    {"managedIdentityClientId", offsetof(sg__settings, mi_client_id)},
    {"managedIdentityObjectId", offsetof(sg__settings, mi_object_id)},
    {"managedIdentityResourceId", offsetof(sg__settings, mi_resource_id)},
    {"tokenFilePath", offsetof(sg__settings, token_file_path)},
};

typedef struct rd {
    const char *prefix;
    size_t pn;
    sg__settings *s;
    int rc;
} rd;

static int put(char **slot, const char *v)
{
    char *n = sg_strdup(v);
    if (!n)
        return SG_ENOMEM;
    sg_free(*slot);
    *slot = n;
    return SG_OK;
}

/* Length of a separator at k: "__" or ":" (0 if none). */
static size_t sep_len(const char *k, size_t n)
{
    if (n >= 2 && k[0] == '_' && k[1] == '_')
        return 2;
    if (n >= 1 && k[0] == ':')
        return 1;
    return 0;
}

/* One setting (key k[0..kn), value v). */
static int take(void *ud, const char *k, size_t kn, const char *v)
{
    rd *r = ud;
    static const char cs[] = "ConnectionStrings";
    size_t csn = sizeof cs - 1;
    if (!v || !*v)
        return 0;
    if (kn == r->pn && strncasecmp(k, r->prefix, kn) == 0) {
        r->rc = put(&r->s->connection_string, v);
        return r->rc;
    }
    if (kn > csn && strncasecmp(k, cs, csn) == 0) {
        size_t sl = sep_len(k + csn, kn - csn);
        if (sl && kn == csn + sl + r->pn && strncasecmp(k + csn + sl, r->prefix, r->pn) == 0) {
            r->rc = put(&r->s->connection_string, v);
            return r->rc;
        }
    }
    if (kn <= r->pn || strncasecmp(k, r->prefix, r->pn) != 0)
        return 0;
    size_t sl = sep_len(k + r->pn, kn - r->pn);
    if (!sl)
        return 0;
    const char *sub = k + r->pn + sl;
    size_t sn = kn - r->pn - sl;
    for (size_t i = 0; i < sizeof k_keys / sizeof k_keys[0]; i++) {
        if (strlen(k_keys[i].name) == sn && strncasecmp(sub, k_keys[i].name, sn) == 0) {
            r->rc = put((char **)((char *)r->s + k_keys[i].off), v);
            return r->rc;
        }
    }
    return 0;
}

static int read_json_file(const char *file, json_t **out, char *msg, size_t msglen)
{
    json_error_t je;
    sg_buf b;
    sg_buf_init(&b, MAX_SETTINGS_FILE);
    int oerr;
    int rc = sg_buf_append_file(&b, file, &oerr);
    if (oerr) {
        sg_snprintf(msg, msglen, "cannot open settings file '%s'", file);
        return SG_EINVAL;
    }
    if (rc) {
        sg_buf_free(&b);
        if (rc == SG_EIO)
            sg_snprintf(msg, msglen, "cannot read settings file '%s'", file);
        else
            sg_snprintf(msg, msglen, "settings file '%s' is too large", file);
        return rc == SG_ENOMEM ? rc : SG_EINVAL;
    }
    /* local.settings.json may start with a UTF-8 BOM */
    const char *p = b.data ? b.data : "";
    size_t len = b.len;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF) {
        p += 3;
        len -= 3;
    }
    *out = json_loadb(p, len, 0, &je);
    sg_buf_free(&b);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        sg_snprintf(msg, msglen, "settings file '%s' is not a JSON object: %s (line %d)", file,
                    je.text, je.line);
        return SG_EINVAL;
    }
    return SG_OK;
}

int sg__settings_read(const char *prefix, const char *file, const char *const *envp,
                      sg__settings *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof(*out));
    if (msg && msglen)
        msg[0] = 0;
    if (!prefix || !*prefix)
        prefix = "AzureSignalRConnectionString";
    rd r = {prefix, strlen(prefix), out, SG_OK};
    if (file) {
        json_t *j = NULL;
        int rc = read_json_file(file, &j, msg, msglen);
        if (rc)
            return rc;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(j, "Values"), k, v)
        {
            if (json_is_string(v) && take(&r, k, strlen(k), json_string_value(v)))
                break;
        }
        if (r.rc == SG_OK) {
            json_object_foreach(json_object_get(j, "ConnectionStrings"), k, v)
            {
                const char *s = json_is_string(v)
                                    ? json_string_value(v)
                                    : json_string_value(json_object_get(v, "ConnectionString"));
                if (s && strlen(k) == r.pn && strcasecmp(k, prefix) == 0 &&
                    put(&out->connection_string, s))
                    r.rc = SG_ENOMEM;
            }
        }
        json_decref(j);
    }
    if (r.rc == SG_OK) /* the environment wins over the file (Functions Core Tools) */
        sg__env_each(envp, take, &r);
    if (r.rc) {
        sg__settings_free(out);
        return r.rc;
    }
    if (!out->connection_string && !out->service_uri) {
        sg__settings_free(out); /* sub-settings without a connection (fuzz_sdk: leaked) */
        sg_snprintf(msg, msglen,
                    "no SignalR connection configured: set %s (a connection string) or "
                    "%s__serviceUri (identity-based)%s%s",
                    prefix, prefix, file ? " in the environment or in " : "", file ? file : "");
        return SG_ENOTFOUND;
    }
    return SG_OK;
}

void sg__settings_free(sg__settings *s)
{
    if (!s)
        return;
    sg_free(s->connection_string);
    for (size_t i = 0; i < sizeof k_keys / sizeof k_keys[0]; i++)
        sg_free(*(char **)((char *)s + k_keys[i].off));
    memset(s, 0, sizeof(*s));
}
