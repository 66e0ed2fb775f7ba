/* store.c — SQLite store: open, migrations, helpers, meta, secrets, principals, signing keys.
 * Resource-shaped tables live in store_res.c, RBAC tables in store_rbac.c. */
#include "cloud/store_priv.h"

#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_str.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- migrations --------------------------------------------------------------------------
 * migrations[i] takes the schema from version i to i+1. Never edit a released step; append. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE subscriptions(id TEXT PRIMARY KEY COLLATE NOCASE, name TEXT NOT NULL,"
    "  management_group TEXT NOT NULL DEFAULT '' COLLATE NOCASE, created INTEGER NOT NULL);"
    "CREATE TABLE management_groups(name TEXT PRIMARY KEY COLLATE NOCASE,"
    "  display_name TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE resource_groups(subscription_id TEXT NOT NULL COLLATE NOCASE,"
    "  name TEXT NOT NULL COLLATE NOCASE, location TEXT NOT NULL, created INTEGER NOT NULL,"
    "  PRIMARY KEY(subscription_id, name));"
    "CREATE TABLE resources(id TEXT PRIMARY KEY COLLATE NOCASE,"
    "  subscription_id TEXT NOT NULL COLLATE NOCASE, resource_group TEXT NOT NULL COLLATE NOCASE,"
    "  type TEXT NOT NULL COLLATE NOCASE, name TEXT NOT NULL COLLATE NOCASE, kind INTEGER NOT NULL,"
    "  identity_port INTEGER, identity_header TEXT NOT NULL DEFAULT '',"
    "  system_principal_id TEXT NOT NULL DEFAULT '' COLLATE NOCASE, created INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX resources_identity_port ON resources(identity_port)"
    "  WHERE identity_port IS NOT NULL;"
    "CREATE INDEX resources_rg ON resources(subscription_id, resource_group);"
    "CREATE TABLE principals(object_id TEXT PRIMARY KEY COLLATE NOCASE,"
    "  app_id TEXT NOT NULL UNIQUE COLLATE NOCASE, display_name TEXT NOT NULL,"
    "  type TEXT NOT NULL, mi_kind TEXT NOT NULL DEFAULT '',"
    "  mi_resource_id TEXT NOT NULL DEFAULT '' COLLATE NOCASE, created INTEGER NOT NULL);"
    "CREATE INDEX principals_mi ON principals(mi_resource_id);"
    "CREATE TABLE app_secrets(app_id TEXT NOT NULL COLLATE NOCASE, key_id TEXT NOT NULL,"
    "  hash TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    "  PRIMARY KEY(app_id, key_id));"
    "CREATE TABLE resource_uamis(resource_id TEXT NOT NULL COLLATE NOCASE,"
    "  uami_id TEXT NOT NULL COLLATE NOCASE, PRIMARY KEY(resource_id, uami_id));"
    "CREATE TABLE signalr(resource_id TEXT PRIMARY KEY COLLATE NOCASE,"
    "  port INTEGER NOT NULL UNIQUE, tls INTEGER NOT NULL, serverless INTEGER NOT NULL,"
    "  disable_local_auth INTEGER NOT NULL, primary_key TEXT NOT NULL,"
    "  secondary_key TEXT NOT NULL);"
    "CREATE TABLE role_definitions(id TEXT PRIMARY KEY COLLATE NOCASE,"
    "  name TEXT NOT NULL COLLATE NOCASE, description TEXT NOT NULL, type TEXT NOT NULL,"
    "  actions TEXT NOT NULL, not_actions TEXT NOT NULL, data_actions TEXT NOT NULL,"
    "  not_data_actions TEXT NOT NULL);"
    "CREATE TABLE role_assignments(id TEXT PRIMARY KEY COLLATE NOCASE,"
    "  scope TEXT NOT NULL COLLATE NOCASE, principal_id TEXT NOT NULL COLLATE NOCASE,"
    "  principal_type TEXT NOT NULL, role_definition_id TEXT NOT NULL COLLATE NOCASE,"
    "  created INTEGER NOT NULL, effective_at INTEGER NOT NULL,"
    "  UNIQUE(scope, principal_id, role_definition_id));"
    "CREATE INDEX role_assignments_principal ON role_assignments(principal_id);"
    "CREATE TABLE signing_keys(kid TEXT PRIMARY KEY, private_pem TEXT NOT NULL,"
    "  created INTEGER NOT NULL, not_after INTEGER NOT NULL, expires INTEGER NOT NULL);",
    /* 1 -> 2: temporary access keys of the data plane (no key bytes: they are derived) */
    "CREATE TABLE temp_keys(kid TEXT PRIMARY KEY, resource_id TEXT NOT NULL COLLATE NOCASE,"
    "  owner_oid TEXT NOT NULL COLLATE NOCASE, tenant_id TEXT NOT NULL COLLATE NOCASE,"
    "  created INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
    "CREATE INDEX temp_keys_expires ON temp_keys(expires_ms);",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == SG_STORE_SCHEMA_VERSION,
               "one migration step per schema version");

static int st_migrate(sg_store *st, char *errmsg, size_t errlen)
{
    int rc = SG_OK;
    sqlite3_stmt *s = NULL;
    int version = 0;

    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        rc = SG_EIO;
        goto cleanup;
    }
    version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    s = NULL;
    if (version > SG_STORE_SCHEMA_VERSION) {
        if (errmsg)
            sg_snprintf(errmsg, errlen,
                        "database schema version %d is newer than this binary (%d)", version,
                        SG_STORE_SCHEMA_VERSION);
        rc = SG_EUNSUPPORTED;
        goto cleanup;
    }
    for (int v = version; v < SG_STORE_SCHEMA_VERSION; v++) {
        char pragma[64];
        char *err = NULL;
        sg_snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", v + 1);
        if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(st->db, migrations[v], NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(st->db, pragma, NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(st->db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
            if (errmsg)
                sg_snprintf(errmsg, errlen, "migration %d->%d failed: %s", v, v + 1,
                            err ? err : "?");
            sqlite3_free(err);
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            rc = SG_EIO;
            goto cleanup;
        }
        SG_LOGI("cloud", "event=store_migrated from=%d to=%d", v, v + 1);
    }
cleanup:
    sqlite3_finalize(s);
    return rc;
}

int sg_store_open(const char *path, sg_store **out, char *errmsg, size_t errlen)
{
    int rc = SG_OK;
    sg_store *st = NULL;
    char *err = NULL;
    int fd;

    *out = NULL;
    st = SG_NEW(sg_store);
    if (!st)
        return SG_ENOMEM;
    /* Create the file 0600 before SQLite does (it would use the umask). */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        if (errmsg)
            sg_snprintf(errmsg, errlen, "cannot open %s: %s", path,
                        st->db ? sqlite3_errmsg(st->db) : "out of memory");
        rc = SG_EIO;
        goto cleanup;
    }
    sqlite3_busy_timeout(st->db, 5000);
    /* WAL + synchronous=FULL: each COMMIT fsyncs the WAL before returning, so every
     * acknowledged write survives kill -9 and power loss. */
    if (sqlite3_exec(st->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, &err) != SQLITE_OK) {
        if (errmsg)
            sg_snprintf(errmsg, errlen, "cannot configure %s: %s", path, err ? err : "?");
        rc = SG_EIO;
        goto cleanup;
    }
    rc = st_migrate(st, errmsg, errlen);
    if (rc != SG_OK)
        goto cleanup;
    *out = st;
    st = NULL;
cleanup:
    sqlite3_free(err);
    sg_store_close(st);
    return rc;
}

void sg_store_close(sg_store *st)
{
    if (!st)
        return;
    if (st->db) {
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close_v2(st->db);
    }
    sg_free(st);
}

int sg_store_begin(sg_store *st)
{
    return sg__store_exec(st, "BEGIN IMMEDIATE", "");
}

int sg_store_commit(sg_store *st)
{
    return sg__store_exec(st, "COMMIT", "");
}

void sg_store_rollback(sg_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    sg__store_bumped(st, 0); /* a decision made inside the transaction saw rolled-back rows */
}

uint64_t sg_store_generation(const sg_store *st)
{
    return st ? st->gen : 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

int sg__store_err(sg_store *st, int sqlite_rc, const char *what)
{
    int primary = sqlite_rc & 0xff;
    if (primary == SQLITE_CONSTRAINT)
        return SG_EEXIST;
    if (primary == SQLITE_NOMEM)
        return SG_ENOMEM;
    SG_LOGE("cloud", "event=store_error op=\"%s\" rc=%d msg=\"%s\"", what, sqlite_rc,
            sqlite3_errmsg(st->db));
    return SG_EIO;
}

/* fmt: one char per parameter: 's' const char * (NULL binds NULL), 'i' int64_t, 'd' int,
 * 'n' NULL. */
static int st_vbind(sqlite3_stmt *s, const char *fmt, va_list ap)
{
    int idx = 1;
    for (const char *f = fmt; *f; f++, idx++) {
        int r;
        switch (*f) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            r = v ? sqlite3_bind_text(s, idx, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, idx);
            break;
        }
        case 'i':
            r = sqlite3_bind_int64(s, idx, va_arg(ap, int64_t));
            break;
        case 'd':
            r = sqlite3_bind_int(s, idx, va_arg(ap, int));
            break;
        case 'n':
            r = sqlite3_bind_null(s, idx);
            break;
        default:
            return SG_EINVAL;
        }
        if (r != SQLITE_OK)
            return SG_EINVAL;
    }
    return SG_OK;
}

int sg__store_prepare(sg_store *st, sqlite3_stmt **out, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int rc;
    int r = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);
    if (r != SQLITE_OK) {
        *out = NULL;
        return sg__store_err(st, r, sql);
    }
    va_start(ap, fmt);
    rc = st_vbind(*out, fmt, ap);
    va_end(ap);
    if (rc != SG_OK) {
        sqlite3_finalize(*out);
        *out = NULL;
    }
    return rc;
}

/* Prepares, binds and steps sql once. With need_change, a statement that changed no row is
 * SG_ENOTFOUND. */
static int st_vexec(sg_store *st, int need_change, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (r != SQLITE_OK)
        return sg__store_err(st, r, sql);
    int rc = st_vbind(s, fmt, ap);
    if (rc == SG_OK) {
        r = sqlite3_step(s);
        if (r != SQLITE_DONE && r != SQLITE_ROW)
            rc = sg__store_err(st, r, sql);
        else if (need_change)
            rc = sqlite3_changes(st->db) > 0 ? SG_OK : SG_ENOTFOUND;
        else
            rc = SG_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

int sg__store_exec(sg_store *st, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = st_vexec(st, 0, sql, fmt, ap);
    va_end(ap);
    return rc;
}

int sg__store_exec_changes(sg_store *st, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = st_vexec(st, 1, sql, fmt, ap);
    va_end(ap);
    return rc;
}

void sg__store_col(sqlite3_stmt *s, int col, char *dst, size_t n)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (!n)
        return;
    if (!t) {
        dst[0] = 0;
        return;
    }
    size_t len = strlen((const char *)t);
    if (len >= n)
        len = n - 1;
    memcpy(dst, t, len);
    dst[len] = 0;
}

int sg__store_fits(const char *s, size_t n)
{
    return s && strlen(s) < n;
}

int sg__store_txn_start(sg_store *st, int *own)
{
    *own = 0;
    if (!sqlite3_get_autocommit(st->db))
        return SG_OK;
    int rc = sg_store_begin(st);
    if (rc == SG_OK)
        *own = 1;
    return rc;
}

int sg__store_txn_end(sg_store *st, int own, int rc)
{
    if (!own)
        return rc;
    if (rc == SG_OK)
        return sg_store_commit(st);
    sg_store_rollback(st);
    return rc;
}

/* ---- meta ------------------------------------------------------------------------------ */

int sg_store_meta_get(sg_store *st, const char *key, char *out, size_t outlen)
{
    sqlite3_stmt *s = NULL;
    int rc = sg__store_prepare(st, &s, "SELECT value FROM meta WHERE key=?", "s", key);
    if (rc != SG_OK)
        return rc;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(s, 0);
        rc = (v && strlen((const char *)v) < outlen) ? SG_OK : SG_ETOOBIG;
        if (rc == SG_OK)
            memcpy(out, v, strlen((const char *)v) + 1);
    } else if (r == SQLITE_DONE) {
        rc = SG_ENOTFOUND;
    } else {
        rc = sg__store_err(st, r, "meta_get");
    }
    sqlite3_finalize(s);
    return rc;
}

int sg_store_meta_set(sg_store *st, const char *key, const char *value)
{
    return sg__store_exec(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", "ss", key,
                          value);
}

/* ---- secrets ------------------------------------------------------------------------------ */

#define SECRET_ITER 100000
#define SECRET_SALT 16
#define SECRET_OUT 32
#define VERIFY_CACHE 32

static pthread_mutex_t verify_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char verify_cache[VERIFY_CACHE][SHA256_DIGEST_LENGTH];
static unsigned verify_next;

int sg_secret_hash(const char *secret, char *out, size_t outlen)
{
    unsigned char salt[SECRET_SALT], dk[SECRET_OUT];
    char salt64[SG_B64_ENC_LEN(SECRET_SALT)], dk64[SG_B64_ENC_LEN(SECRET_OUT)];

    if (!secret)
        return SG_EINVAL;
    if (sg_random_bytes(salt, sizeof salt) != 0)
        return SG_EIO;
    if (PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), salt, sizeof salt, SECRET_ITER,
                          EVP_sha256(), sizeof dk, dk) != 1)
        return SG_EINTERNAL;
    sg_b64_encode(salt, sizeof salt, salt64, sizeof salt64);
    sg_b64_encode(dk, sizeof dk, dk64, sizeof dk64);
    OPENSSL_cleanse(dk, sizeof dk);
    return sg_snprintf(out, outlen, "pbkdf2-sha256$%d$%s$%s", SECRET_ITER, salt64, dk64);
}

static void verify_key(const char *secret, const char *encoded,
                       unsigned char out[SHA256_DIGEST_LENGTH])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int n = 0;
    memset(out, 0, SHA256_DIGEST_LENGTH);
    if (!m)
        return;
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    EVP_DigestUpdate(m, encoded, strlen(encoded) + 1);
    EVP_DigestUpdate(m, secret, strlen(secret));
    EVP_DigestFinal_ex(m, out, &n);
    EVP_MD_CTX_free(m);
}

int sg_secret_verify(const char *secret, const char *encoded)
{
    unsigned char key[SHA256_DIGEST_LENGTH];
    unsigned char salt[SG_B64_DEC_LEN(64)], want[SG_B64_DEC_LEN(128)], got[SECRET_OUT];
    const char *p1, *p2, *p3;
    int64_t iter = 0;
    long nsalt, nwant;
    int hit = 0, ok = 0;

    if (!secret || !encoded || strncmp(encoded, "pbkdf2-sha256$", 14) != 0)
        return 0;
    verify_key(secret, encoded, key);
    pthread_mutex_lock(&verify_mu);
    for (int i = 0; i < VERIFY_CACHE; i++)
        hit |= CRYPTO_memcmp(verify_cache[i], key, sizeof key) == 0;
    pthread_mutex_unlock(&verify_mu);
    if (hit)
        return 1;

    p1 = encoded + 14;
    p2 = strchr(p1, '$');
    if (!p2)
        return 0;
    p3 = strchr(p2 + 1, '$');
    if (!p3)
        return 0;
    if (sg_parse_i64(p1, (size_t)(p2 - p1), &iter) != 0 || iter < 1 || iter > 10000000)
        return 0;
    if ((size_t)(p3 - p2 - 1) > 64 || strlen(p3 + 1) > 128)
        return 0;
    nsalt = sg_b64_decode(p2 + 1, (size_t)(p3 - p2 - 1), salt, sizeof salt);
    nwant = sg_b64_decode(p3 + 1, strlen(p3 + 1), want, sizeof want);
    if (nsalt <= 0 || nwant != SECRET_OUT)
        return 0;
    if (PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), salt, (int)nsalt, (int)iter, EVP_sha256(),
                          sizeof got, got) != 1)
        return 0;
    ok = CRYPTO_memcmp(got, want, SECRET_OUT) == 0;
    OPENSSL_cleanse(got, sizeof got);
    if (ok) {
        pthread_mutex_lock(&verify_mu);
        memcpy(verify_cache[verify_next % VERIFY_CACHE], key, sizeof key);
        verify_next++;
        pthread_mutex_unlock(&verify_mu);
    }
    return ok;
}

/* ---- principals ---------------------------------------------------------------------------- */

#define PRINCIPAL_COLS "object_id, app_id, display_name, type, mi_kind, mi_resource_id, created"

static void principal_row(sqlite3_stmt *s, sg_principal_rec *p)
{
    memset(p, 0, sizeof *p);
    SG_STORE_COL(s, 0, p->object_id);
    SG_STORE_COL(s, 1, p->app_id);
    SG_STORE_COL(s, 2, p->display_name);
    SG_STORE_COL(s, 3, p->type);
    SG_STORE_COL(s, 4, p->mi_kind);
    SG_STORE_COL(s, 5, p->mi_resource_id);
    p->created = sqlite3_column_int64(s, 6);
}

static int principal_one(sg_store *st, const char *sql, const char *key, sg_principal_rec *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sg__store_prepare(st, &s, sql, "s", key);
    if (rc != SG_OK)
        return rc;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        principal_row(s, out);
        rc = SG_OK;
    } else {
        rc = r == SQLITE_DONE ? SG_ENOTFOUND : sg__store_err(st, r, "principal_get");
    }
    sqlite3_finalize(s);
    return rc;
}

int sg_store_principal_get(sg_store *st, const char *object_id, sg_principal_rec *out)
{
    if (!object_id)
        return SG_EINVAL;
    return principal_one(st, "SELECT " PRINCIPAL_COLS " FROM principals WHERE object_id=?",
                         object_id, out);
}

int sg_store_principal_by_app_id(sg_store *st, const char *app_id, sg_principal_rec *out)
{
    if (!app_id)
        return SG_EINVAL;
    return principal_one(st, "SELECT " PRINCIPAL_COLS " FROM principals WHERE app_id=?", app_id,
                         out);
}

int sg_store_principal_add(sg_store *st, const sg_principal_rec *p)
{
    if (!p->object_id[0] || !p->app_id[0])
        return SG_EINVAL;
    return sg__store_bumped(st, sg__store_exec(st,
                          "INSERT INTO principals(" PRINCIPAL_COLS ") VALUES(?,?,?,?,?,?,?)",
                          "ssssssi", p->object_id, p->app_id, p->display_name, p->type,
                          p->mi_kind, p->mi_resource_id, p->created));
}

int sg_store_principal_delete(sg_store *st, const char *object_id)
{
    int own, rc = sg__store_txn_start(st, &own);
    if (rc != SG_OK)
        return rc;
    sg_principal_rec p;
    rc = sg_store_principal_get(st, object_id, &p);
    if (rc == SG_OK)
        rc = sg__store_exec(st, "DELETE FROM app_secrets WHERE app_id=?", "s", p.app_id);
    if (rc == SG_OK)
        rc = sg__store_exec(st, "DELETE FROM role_assignments WHERE principal_id=?", "s",
                            object_id);
    if (rc == SG_OK)
        rc = sg__store_exec(st, "DELETE FROM principals WHERE object_id=?", "s", object_id);
    return sg__store_bumped(st, sg__store_txn_end(st, own, rc));
}

int sg_store_principal_list(sg_store *st, sg_store_principal_cb cb, void *ud)
{
    sqlite3_stmt *s = NULL;
    int rc = sg__store_prepare(st, &s, "SELECT " PRINCIPAL_COLS " FROM principals ORDER BY created",
                               "");
    if (rc != SG_OK)
        return rc;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        sg_principal_rec p;
        principal_row(s, &p);
        rc = cb(&p, ud);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = sg__store_err(st, r, "principal_list");
    sqlite3_finalize(s);
    return rc;
}

int sg_store_app_secret_add(sg_store *st, const char *app_id, const char *key_id,
                            const char *secret_hash, int64_t created, int64_t expires)
{
    return sg__store_exec(st,
                          "INSERT INTO app_secrets(app_id, key_id, hash, created, expires)"
                          " VALUES(?,?,?,?,?)",
                          "sssii", app_id, key_id, secret_hash, created, expires);
}

int sg_store_app_secret_verify(sg_store *st, const char *app_id, const char *secret)
{
    sqlite3_stmt *s = NULL;
    int64_t now = (int64_t)time(NULL);
    int any = 0, ok = 0;
    int rc = sg__store_prepare(st, &s, "SELECT hash, expires FROM app_secrets WHERE app_id=?",
                               "s", app_id);
    if (rc != SG_OK)
        return rc;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(s, 0);
        int64_t exp = sqlite3_column_int64(s, 1);
        any = 1;
        if (exp && exp < now)
            continue;
        if (h && sg_secret_verify(secret, h)) {
            ok = 1;
            break;
        }
    }
    if (!ok && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = sg__store_err(st, r, "app_secret_verify");
    else
        rc = ok ? SG_OK : (any ? SG_EAUTH : SG_ENOTFOUND);
    sqlite3_finalize(s);
    return rc;
}

/* ---- signing keys -------------------------------------------------------------------------- */

int sg_store_signing_key_add(sg_store *st, const sg_signing_key_rec *k)
{
    if (!k->kid[0] || !k->private_pem)
        return SG_EINVAL;
    return sg__store_exec(st,
                          "INSERT INTO signing_keys(kid, private_pem, created, not_after, expires)"
                          " VALUES(?,?,?,?,?)",
                          "ssiii", k->kid, k->private_pem, k->created, k->not_after, k->expires);
}

int sg_store_signing_key_update(sg_store *st, const char *kid, int64_t not_after,
                                int64_t expires)
{
    return sg__store_exec_changes(st,
                                  "UPDATE signing_keys SET not_after=?, expires=? WHERE kid=?",
                                  "iis", not_after, expires, kid);
}

int sg_store_signing_key_delete(sg_store *st, const char *kid)
{
    return sg__store_exec_changes(st, "DELETE FROM signing_keys WHERE kid=?", "s", kid);
}

int sg_store_signing_key_list(sg_store *st, sg_store_signing_key_cb cb, void *ud)
{
    sqlite3_stmt *s = NULL;
    int rc = sg__store_prepare(st, &s,
                               "SELECT kid, private_pem, created, not_after, expires"
                               " FROM signing_keys ORDER BY created DESC, kid",
                               "");
    if (rc != SG_OK)
        return rc;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        sg_signing_key_rec k;
        memset(&k, 0, sizeof k);
        SG_STORE_COL(s, 0, k.kid);
        k.private_pem = (const char *)sqlite3_column_text(s, 1);
        k.created = sqlite3_column_int64(s, 2);
        k.not_after = sqlite3_column_int64(s, 3);
        k.expires = sqlite3_column_int64(s, 4);
        rc = cb(&k, ud);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = sg__store_err(st, r, "signing_key_list");
    sqlite3_finalize(s);
    return rc;
}

/* ---- temporary access keys ------------------------------------------------------------------ */

int sg_store_tempkey_add(sg_store *st, const sg_tempkey_rec *r)
{
    if (!sg__store_fits(r->kid, sizeof r->kid) || !r->kid[0] || !r->resource_id[0] ||
        !r->owner_oid[0])
        return SG_EINVAL;
    return sg__store_exec(st,
                          "INSERT INTO temp_keys(kid, resource_id, owner_oid, tenant_id, created,"
                          " expires_ms) VALUES(?,?,?,?,?,?)",
                          "ssssii", r->kid, r->resource_id, r->owner_oid, r->tenant_id, r->created,
                          r->expires_ms);
}

int sg_store_tempkey_get(sg_store *st, const char *kid, sg_tempkey_rec *out)
{
    sqlite3_stmt *s;
    int rc = sg__store_prepare(st, &s,
                               "SELECT kid, resource_id, owner_oid, tenant_id, created, expires_ms"
                               " FROM temp_keys WHERE kid=?",
                               "s", kid);
    if (rc)
        return rc;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        SG_STORE_COL(s, 0, out->kid);
        SG_STORE_COL(s, 1, out->resource_id);
        SG_STORE_COL(s, 2, out->owner_oid);
        SG_STORE_COL(s, 3, out->tenant_id);
        out->created = sqlite3_column_int64(s, 4);
        out->expires_ms = sqlite3_column_int64(s, 5);
        rc = SG_OK;
    } else {
        rc = r == SQLITE_DONE ? SG_ENOTFOUND : sg__store_err(st, r, "tempkey_get");
    }
    sqlite3_finalize(s);
    return rc;
}

int sg_store_tempkey_sweep(sg_store *st, int64_t now_ms)
{
    int rc = sg__store_exec(st, "DELETE FROM temp_keys WHERE expires_ms<=?", "i", now_ms);
    return rc == SG_OK ? sqlite3_changes(st->db) : rc;
}
