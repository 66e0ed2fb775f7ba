/* tempkey.c — temporary access keys of the data plane, persisted without their key bytes
 * (see cloud.h): key = base64(HMAC-SHA256(DIR/tempkey-secret, kid)). */
#include "cloud/cloud_internal.h"

#include "sg_b64.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_str.h"
#include "sg_time.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD "cloud"
#define KID_PREFIX "sigrid-tk-"

int sg__cloud_tempkey_init(sg_cloud *c)
{
    char path[SG_CLOUD_PATH_MAX + 32];
    if (sg_snprintf(path, sizeof path, "%s/tempkey-secret", c->data_dir) != SG_OK)
        return SG_ETOOBIG;
    char line[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat sb;
        ssize_t n = read(fd, line, sizeof line - 1);
        int loose = fstat(fd, &sb) == 0 && (sb.st_mode & 077);
        close(fd);
        if (loose)
            (void)chmod(path, 0600); /* a secret: owner only */
        if (n <= 0)
            return SG_EIO;
        line[n] = 0;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (sg_b64_decode(line, (size_t)n, c->tempkey_secret, sizeof c->tempkey_secret) !=
            (long)sizeof c->tempkey_secret)
            return SG_EINVAL;
    } else if (errno == ENOENT) {
        char enc[64];
        int rc = sg_random_bytes(c->tempkey_secret, sizeof c->tempkey_secret);
        if (rc == SG_OK &&
            sg_b64_encode(c->tempkey_secret, sizeof c->tempkey_secret, enc, sizeof enc) < 0)
            rc = SG_EINTERNAL;
        if (rc == SG_OK)
            rc = sg_snprintf(line, sizeof line, "%s\n", enc);
        if (rc == SG_OK)
            rc = sg__cloud_write_secret_file(path, line);
        OPENSSL_cleanse(enc, sizeof enc);
        OPENSSL_cleanse(line, sizeof line);
        if (rc != SG_OK)
            return rc;
        SG_LOGI(MOD, "event=tempkey_secret_created file=%s", path);
    } else {
        return sg_err_from_errno(errno);
    }
    OPENSSL_cleanse(line, sizeof line);
    int swept = sg_cloud_tempkey_sweep(c);
    if (swept > 0)
        SG_LOGI(MOD, "event=temp_keys_swept n=%d", swept);
    return SG_OK;
}

static int derive(const sg_cloud *c, const char *kid, char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    if (!HMAC(EVP_sha256(), c->tempkey_secret, (int)sizeof c->tempkey_secret,
              (const unsigned char *)kid, strlen(kid), mac, &ml))
        return SG_EINTERNAL;
    long n = sg_b64_encode(mac, ml, out, outlen);
    OPENSSL_cleanse(mac, sizeof mac);
    return n < 0 ? SG_EINTERNAL : SG_OK;
}

int sg_cloud_tempkey_issue(sg_cloud *c, const char *resource_id, const char *oid,
                           const char *tid, int64_t expires_ms, sg_cloud_tempkey *out)
{
    if (!c || !resource_id || !oid || !*oid || strlen(oid) >= sizeof out->oid ||
        (tid && strlen(tid) >= sizeof out->tid))
        return SG_EINVAL;
    memset(out, 0, sizeof *out);
    char rnd[32];
    int rc = sg_random_token(rnd, sizeof rnd, 12);
    if (rc != SG_OK)
        return rc;
    sg_snprintf(out->kid, sizeof out->kid, KID_PREFIX "%s", rnd);
    rc = derive(c, out->kid, out->key, sizeof out->key);
    if (rc != SG_OK)
        return rc;
    sg_snprintf(out->oid, sizeof out->oid, "%s", oid);
    sg_snprintf(out->tid, sizeof out->tid, "%s", tid ? tid : "");
    out->expires_ms = expires_ms;
    sg_tempkey_rec r;
    memset(&r, 0, sizeof r);
    sg_snprintf(r.kid, sizeof r.kid, "%s", out->kid);
    if (sg_snprintf(r.resource_id, sizeof r.resource_id, "%s", resource_id) != SG_OK ||
        sg_snprintf(r.owner_oid, sizeof r.owner_oid, "%s", oid) != SG_OK ||
        sg_snprintf(r.tenant_id, sizeof r.tenant_id, "%s", tid ? tid : "") != SG_OK)
        rc = SG_EINVAL;
    r.created = sg_unix_now();
    r.expires_ms = expires_ms;
    if (rc == SG_OK)
        rc = sg_store_tempkey_add(c->store, &r);
    if (rc != SG_OK)
        OPENSSL_cleanse(out, sizeof *out);
    return rc;
}

int sg_cloud_tempkey_find(sg_cloud *c, const char *resource_id, const char *kid,
                          sg_cloud_tempkey *out)
{
    if (!c || !resource_id || !kid || strncmp(kid, KID_PREFIX, sizeof KID_PREFIX - 1) != 0 ||
        strlen(kid) >= sizeof out->kid)
        return SG_ENOTFOUND;
    sg_tempkey_rec r;
    int rc = sg_store_tempkey_get(c->store, kid, &r);
    if (rc != SG_OK)
        return rc;
    if (strcasecmp(r.resource_id, resource_id) != 0)
        return SG_ENOTFOUND;
    memset(out, 0, sizeof *out);
    sg_snprintf(out->kid, sizeof out->kid, "%s", r.kid);
    sg_snprintf(out->oid, sizeof out->oid, "%s", r.owner_oid);
    sg_snprintf(out->tid, sizeof out->tid, "%s", r.tenant_id);
    out->expires_ms = r.expires_ms;
    if (r.expires_ms <= sg_unix_ms())
        return SG_ETIMEDOUT; /* no key, but when it ended (for the 401's hint) */
    return derive(c, out->kid, out->key, sizeof out->key);
}

int sg_cloud_tempkey_sweep(sg_cloud *c)
{
    return c ? sg_store_tempkey_sweep(c->store, sg_unix_ms()) : 0;
}
