/* token.c — signing key ring, JWKS, claims and RS256 signing (see token.h). */
#include "cloud/token.h"
#include "cloud/entra_internal.h"

#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_id.h"
#include "sg_log.h"
#include "sg_str.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <string.h>

/* ---- JSON helper shared by the identity files ------------------------------------------ */

char *sg__json_dump(const json_t *j, size_t *len)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    if (n == 0)
        return NULL;
    char *out = sg_malloc(n + 1);
    if (!out)
        return NULL;
    if (json_dumpb(j, out, n, JSON_COMPACT) != n) {
        sg_free(out);
        return NULL;
    }
    out[n] = 0;
    if (len)
        *len = n;
    return out;
}

/* ---- claims ---------------------------------------------------------------------------- */

static int set_str(json_t *o, const char *k, const char *v)
{
    if (!v)
        return 0;
    return json_object_set_new(o, k, json_string(v));
}

json_t *sg_tok_claims_obj(const sg_tok_claims *c)
{
    if (!c || !c->aud || !c->iss || !c->tid || !c->oid || !c->appid)
        return NULL;
    char uti[32];
    const char *u = c->uti;
    if (!u) {
        if (sg_random_token(uti, sizeof uti, 16) != 0)
            return NULL;
        u = uti;
    }
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    bad |= set_str(o, "aud", c->aud);
    bad |= set_str(o, "iss", c->iss);
    bad |= json_object_set_new(o, "iat", json_integer(c->iat));
    bad |= json_object_set_new(o, "nbf", json_integer(c->nbf));
    bad |= json_object_set_new(o, "exp", json_integer(c->exp));
    bad |= set_str(o, "appid", c->appid);
    bad |= set_str(o, "appidacr", c->appidacr ? c->appidacr : "2");
    bad |= set_str(o, "idp", c->iss);
    bad |= set_str(o, "idtyp", "app");
    bad |= set_str(o, "oid", c->oid);
    bad |= set_str(o, "sub", c->oid);
    bad |= set_str(o, "tid", c->tid);
    bad |= set_str(o, "uti", u);
    bad |= set_str(o, "ver", "1.0");
    if (c->xms_mirid && c->xms_mirid[0])
        bad |= set_str(o, "xms_mirid", c->xms_mirid);
    if (c->xms_az_rid && c->xms_az_rid[0])
        bad |= set_str(o, "xms_az_rid", c->xms_az_rid);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *sg_tok_claims_json(const sg_tok_claims *c)
{
    json_t *o = sg_tok_claims_obj(c);
    char *s = o ? sg__json_dump(o, NULL) : NULL;
    json_decref(o);
    return s;
}

/* ---- rotation plan ------------------------------------------------------------------------ */

void sg_tok_plan_rotation(const sg_tok_keymeta *k, size_t n, int64_t now, int64_t rotate_after_s,
                          int force, sg_tok_plan *out)
{
    memset(out, 0, sizeof *out);
    out->active = -1;
    if (n > SG_TOK_MAX_KEYS)
        n = SG_TOK_MAX_KEYS;
    int newest = -1;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i].not_after != 0) {
            if (k[i].expires != 0 && k[i].expires <= now)
                out->drop[i] = 1;
            else
                kept++;
            continue;
        }
        kept++;
        if (newest < 0 || k[i].created > k[newest].created)
            newest = (int)i;
    }
    if (newest >= 0 && !force && now - k[newest].created < rotate_after_s &&
        k[newest].created <= now + SG_TOK_SKEW_S)
        out->active = newest;
    for (size_t i = 0; i < n; i++)
        if (k[i].not_after == 0 && (int)i != out->active)
            out->retire[i] = 1;
    if (out->active < 0) {
        out->need_new = 1;
        /* make room: drop the retired keys that expire first */
        while (kept + 1 > SG_TOK_MAX_KEYS) {
            int victim = -1;
            /* a retired key (never the one being retired now: its tokens are the newest) */
            for (size_t i = 0; i < n; i++) {
                if (out->drop[i] || k[i].not_after == 0)
                    continue;
                if (victim < 0 || k[i].expires < k[victim].expires)
                    victim = (int)i;
            }
            if (victim < 0)
                break;
            out->drop[victim] = 1;
            out->retire[victim] = 0;
            kept--;
        }
    }
}

/* ---- keys (proto/jwt.h does the RSA work) ------------------------------------------------ */

int sg_tok_rsa_generate(char **pem)
{
    sg_jwt_rsa *k = NULL;
    sg_buf b;
    sg_buf_init(&b, 0);
    *pem = NULL;
    int rc = sg_jwt_rsa_generate(2048, "new", &k);
    if (rc == 0)
        rc = sg_jwt_rsa_to_pem(k, &b);
    sg_jwt_rsa_free(k);
    if (rc == 0) {
        *pem = sg_buf_steal(&b, NULL);
        rc = *pem ? SG_OK : SG_ENOMEM;
    }
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    sg_buf_free(&b);
    return rc;
}

void sg_tok_key_clear(sg_tok_key *key)
{
    sg_jwt_rsa_free(key->rsa);
    json_decref(key->jwk);
    memset(key, 0, sizeof *key);
}

/* RFC 7638 thumbprint of an RSA JWK: SHA-256 over {"e":..,"kty":"RSA","n":..}. */
static int jwk_thumbprint(const json_t *jwk, char *out, size_t outlen)
{
    const char *n = json_string_value(json_object_get(jwk, "n"));
    const char *e = json_string_value(json_object_get(jwk, "e"));
    if (!n || !e)
        return SG_EINVAL;
    sg_buf tb;
    sg_buf_init(&tb, 0);
    if (sg_buf_appendf(&tb, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e, n) != 0) {
        sg_buf_free(&tb);
        return SG_ENOMEM;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(tb.data, tb.len, md, &mdlen, EVP_sha256(), NULL);
    sg_buf_free(&tb);
    if (ok != 1 || sg_b64url_encode(md, mdlen, out, outlen) < 0)
        return SG_EINTERNAL;
    return SG_OK;
}

int sg_tok_key_from_pem(sg_tok_key *key, const char *pem, const char *kid)
{
    int rc;
    memset(key, 0, sizeof *key);
    if (!pem)
        return SG_EINVAL;
    if (!kid) {
        sg_jwt_rsa *tmp = NULL;
        json_t *jwk = NULL;
        rc = sg_jwt_rsa_from_pem(pem, strlen(pem), "tmp", &tmp);
        if (rc == 0)
            rc = sg_jwt_rsa_public_jwk(tmp, &jwk);
        if (rc == 0)
            rc = jwk_thumbprint(jwk, key->kid, sizeof key->kid);
        json_decref(jwk);
        sg_jwt_rsa_free(tmp);
        if (rc != 0)
            goto fail;
    } else if (sg_snprintf(key->kid, sizeof key->kid, "%s", kid) != 0) {
        rc = SG_EINVAL;
        goto fail;
    }
    rc = sg_jwt_rsa_from_pem(pem, strlen(pem), key->kid, &key->rsa);
    if (rc == 0)
        rc = sg_jwt_rsa_public_jwk(key->rsa, &key->jwk);
    if (rc == 0 && (json_object_set_new(key->jwk, "alg", json_string("RS256")) != 0 ||
                    (!json_object_get(key->jwk, "x5t") &&
                     json_object_set_new(key->jwk, "x5t", json_string(key->kid)) != 0)))
        rc = SG_ENOMEM;
    if (rc != 0)
        goto fail;
    return SG_OK;
fail:
    ERR_clear_error();
    sg_tok_key_clear(key);
    return rc;
}

char *sg_keyring_sign(const sg_keyring *kr, const sg_tok_claims *c)
{
    if (!kr || kr->active < 0 || (size_t)kr->active >= kr->n)
        return NULL;
    const sg_tok_key *k = &kr->keys[kr->active];
    json_t *claims = sg_tok_claims_obj(c);
    json_t *hdr = json_pack("{s:s}", "x5t", k->kid);
    char *jwt = NULL;
    if (claims && hdr && sg_jwt_sign_rs256(k->rsa, hdr, claims, &jwt) != 0)
        jwt = NULL;
    json_decref(hdr);
    json_decref(claims);
    return jwt;
}

int sg_keyring_verify(const sg_keyring *kr, const char *jwt, char **payload)
{
    sg_jwt t;
    memset(&t, 0, sizeof t);
    if (payload)
        *payload = NULL;
    if (!kr || !kr->pub || !jwt)
        return 0;
    int ok = sg_jwt_verify_rs(jwt, strlen(jwt), kr->pub, NULL, &t, NULL) == 0;
    if (ok && payload) {
        *payload = sg__json_dump(t.payload, NULL);
        ok = *payload != NULL;
    }
    sg_jwt_clear(&t);
    return ok;
}

/* ---- ring --------------------------------------------------------------------------------- */

static int build_jwks(sg_keyring *kr)
{
    json_t *arr = json_array();
    json_t *doc = json_pack("{s:o}", "keys", arr);
    sg_jwks *pub = sg_jwks_new();
    int rc = doc && pub ? SG_OK : SG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < kr->n; i++) {
        if (json_array_append(arr, kr->keys[i].jwk) != 0)
            rc = SG_ENOMEM;
        else
            rc = sg_jwks_add_rsa(pub, kr->keys[i].rsa);
    }
    size_t len = 0;
    char *s = rc == 0 ? sg__json_dump(doc, &len) : NULL;
    json_decref(doc);
    if (!s) {
        sg_jwks_free(pub);
        return rc ? rc : SG_ENOMEM;
    }
    sg_free(kr->jwks);
    sg_jwks_free(kr->pub);
    kr->jwks = s;
    kr->jwks_len = len;
    kr->pub = pub;
    kr->gen++;
    return SG_OK;
}

typedef struct load_ctx {
    sg_keyring *kr;
    sg_store *st;
} load_ctx;

static int load_cb(const sg_signing_key_rec *k, void *ud)
{
    load_ctx *lc = ud;
    sg_keyring *kr = lc->kr;
    if (kr->n >= SG_TOK_MAX_KEYS) {
        SG_LOGW("cloud", "event=signing_key_skipped kid=%s reason=too_many", k->kid);
        return 0;
    }
    sg_tok_key *key = &kr->keys[kr->n];
    if (!k->private_pem || sg_tok_key_from_pem(key, k->private_pem, k->kid) != 0) {
        SG_LOGW("cloud", "event=signing_key_unreadable kid=%s", k->kid);
        return 0;
    }
    key->meta.created = k->created;
    key->meta.not_after = k->not_after;
    key->meta.expires = k->expires;
    kr->n++;
    return 0;
}

void sg_keyring_free(sg_keyring *kr)
{
    if (!kr)
        return;
    for (size_t i = 0; i < kr->n; i++)
        sg_tok_key_clear(&kr->keys[i]);
    sg_free(kr->jwks);
    sg_jwks_free(kr->pub);
    memset(kr, 0, sizeof *kr);
    kr->active = -1;
}

int sg_keyring_maintain(sg_keyring *kr, sg_store *st, int64_t now, int force)
{
    sg_tok_keymeta meta[SG_TOK_MAX_KEYS];
    sg_tok_plan plan;
    sg_tok_key fresh;
    char *pem = NULL;
    int rc;
    memset(&fresh, 0, sizeof fresh);
    for (size_t i = 0; i < kr->n; i++)
        meta[i] = kr->keys[i].meta;
    sg_tok_plan_rotation(meta, kr->n, now, kr->rotate_after_s, force, &plan);
    if (plan.need_new) {
        rc = sg_tok_rsa_generate(&pem);
        if (rc != 0)
            goto cleanup;
        rc = sg_tok_key_from_pem(&fresh, pem, NULL);
        if (rc != 0)
            goto cleanup;
    }
    rc = sg_store_begin(st);
    if (rc != 0)
        goto cleanup;
    for (size_t i = 0; i < kr->n && rc == 0; i++) {
        if (plan.drop[i])
            rc = sg_store_signing_key_delete(st, kr->keys[i].kid);
        else if (plan.retire[i])
            rc = sg_store_signing_key_update(st, kr->keys[i].kid, now,
                                             now + kr->max_lifetime_s + SG_TOK_SKEW_S);
    }
    if (rc == 0 && plan.need_new) {
        sg_signing_key_rec rec;
        memset(&rec, 0, sizeof rec);
        sg_snprintf(rec.kid, sizeof rec.kid, "%s", fresh.kid);
        rec.private_pem = pem;
        rec.created = now;
        rc = sg_store_signing_key_add(st, &rec);
    }
    if (rc != 0) {
        sg_store_rollback(st);
        goto cleanup;
    }
    rc = sg_store_commit(st);
    if (rc != 0)
        goto cleanup;
    /* apply to the in-memory ring (cannot fail from here on, except the JWKS string) */
    size_t w = 0;
    int active = -1;
    for (size_t i = 0; i < kr->n; i++) {
        if (plan.drop[i]) {
            SG_LOGI("cloud", "event=signing_key_dropped kid=%s", kr->keys[i].kid);
            sg_tok_key_clear(&kr->keys[i]);
            continue;
        }
        if (plan.retire[i]) {
            kr->keys[i].meta.not_after = now;
            kr->keys[i].meta.expires = now + kr->max_lifetime_s + SG_TOK_SKEW_S;
            SG_LOGI("cloud", "event=signing_key_retired kid=%s expires=%lld", kr->keys[i].kid,
                    (long long)kr->keys[i].meta.expires);
        }
        if ((int)i == plan.active)
            active = (int)w;
        if (w != i) {
            kr->keys[w] = kr->keys[i];
            memset(&kr->keys[i], 0, sizeof kr->keys[i]);
        }
        w++;
    }
    kr->n = w;
    if (plan.need_new) {
        /* newest first, as the store lists them */
        memmove(&kr->keys[1], &kr->keys[0], kr->n * sizeof kr->keys[0]);
        kr->keys[0] = fresh;
        kr->keys[0].meta.created = now;
        memset(&fresh, 0, sizeof fresh);
        kr->n++;
        active = 0;
        SG_LOGI("cloud", "event=signing_key_created kid=%s", kr->keys[0].kid);
    }
    kr->active = active;
    rc = build_jwks(kr);
cleanup:
    sg_tok_key_clear(&fresh);
    if (pem) {
        OPENSSL_cleanse(pem, strlen(pem));
        sg_free(pem);
    }
    return rc;
}

int sg_keyring_load(sg_keyring *kr, sg_store *st, int64_t now, int64_t rotate_after_s,
                    int64_t max_lifetime_s)
{
    memset(kr, 0, sizeof *kr);
    kr->active = -1;
    kr->rotate_after_s = rotate_after_s;
    kr->max_lifetime_s = max_lifetime_s;
    load_ctx lc = {kr, st};
    int rc = sg_store_signing_key_list(st, load_cb, &lc);
    if (rc == 0)
        rc = sg_keyring_maintain(kr, st, now, 0);
    if (rc != 0)
        sg_keyring_free(kr);
    return rc;
}
