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

char *sg_tok_claims_json(const sg_tok_claims *c)
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
    char *s = bad ? NULL : sg__json_dump(o, NULL);
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

/* ---- keys --------------------------------------------------------------------------------- */

int sg_tok_rsa_generate(char **pem)
{
    int rc = SG_EINTERNAL;
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    BIO *b = NULL;
    *pem = NULL;
    if (!pk)
        goto cleanup;
    b = BIO_new(BIO_s_mem());
    if (!b || PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1)
        goto cleanup;
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n <= 0)
        goto cleanup;
    *pem = sg_strndup(p, (size_t)n);
    rc = *pem ? SG_OK : SG_ENOMEM;
cleanup:
    BIO_free(b);
    EVP_PKEY_free(pk);
    return rc;
}

static char *bn_b64url(const EVP_PKEY *pk, const char *param)
{
    BIGNUM *bn = NULL;
    char *out = NULL;
    unsigned char *bin = NULL;
    if (EVP_PKEY_get_bn_param(pk, param, &bn) != 1)
        return NULL;
    int len = BN_num_bytes(bn);
    bin = sg_malloc((size_t)len + 1);
    if (!bin)
        goto cleanup;
    BN_bn2bin(bn, bin);
    out = sg_malloc(SG_B64_ENC_LEN((size_t)len));
    if (out && sg_b64url_encode(bin, (size_t)len, out, SG_B64_ENC_LEN((size_t)len)) < 0) {
        sg_free(out);
        out = NULL;
    }
cleanup:
    sg_free(bin);
    BN_free(bn);
    return out;
}

void sg_tok_key_clear(sg_tok_key *key)
{
    EVP_PKEY_free(key->pkey);
    sg_free(key->n_b64);
    sg_free(key->e_b64);
    memset(key, 0, sizeof *key);
}

int sg_tok_key_from_pem(sg_tok_key *key, const char *pem)
{
    int rc = SG_EINVAL;
    memset(key, 0, sizeof *key);
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (!b)
        return SG_ENOMEM;
    key->pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!key->pkey || EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_RSA)
        goto fail;
    key->n_b64 = bn_b64url(key->pkey, OSSL_PKEY_PARAM_RSA_N);
    key->e_b64 = bn_b64url(key->pkey, OSSL_PKEY_PARAM_RSA_E);
    if (!key->n_b64 || !key->e_b64)
        goto fail;
    /* RFC 7638 thumbprint: SHA-256 over {"e":..,"kty":"RSA","n":..} */
    sg_buf tb;
    sg_buf_init(&tb, 0);
    if (sg_buf_appendf(&tb, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", key->e_b64,
                       key->n_b64) != 0) {
        sg_buf_free(&tb);
        rc = SG_ENOMEM;
        goto fail;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(tb.data, tb.len, md, &mdlen, EVP_sha256(), NULL);
    sg_buf_free(&tb);
    if (ok != 1 || sg_b64url_encode(md, mdlen, key->kid, sizeof key->kid) < 0) {
        rc = SG_EINTERNAL;
        goto fail;
    }
    return SG_OK;
fail:
    ERR_clear_error();
    sg_tok_key_clear(key);
    return rc;
}

/* ---- signing ------------------------------------------------------------------------------ */

static int b64url_append(sg_buf *b, const void *p, size_t n)
{
    if (sg_buf_reserve(b, SG_B64_ENC_LEN(n)) != 0)
        return SG_ENOMEM;
    long e = sg_b64url_encode(p, n, b->data + b->len, b->cap - b->len);
    if (e < 0)
        return SG_EINTERNAL;
    b->len += (size_t)e;
    return SG_OK;
}

char *sg_tok_sign(const sg_tok_key *key, const char *payload_json)
{
    if (!key || !key->pkey || !payload_json)
        return NULL;
    sg_buf b;
    sg_buf_init(&b, 0);
    char hdr[200];
    EVP_MD_CTX *md = NULL;
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    if (sg_snprintf(hdr, sizeof hdr, "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5t\":\"%s\",\"kid\":\"%s\"}",
                    key->kid, key->kid) != 0)
        goto fail;
    if (b64url_append(&b, hdr, strlen(hdr)) != 0 || sg_buf_append_byte(&b, '.') != 0 ||
        b64url_append(&b, payload_json, strlen(payload_json)) != 0)
        goto fail;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->pkey) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)b.data, b.len) != 1)
        goto fail;
    EVP_MD_CTX_free(md);
    md = NULL;
    if (sg_buf_append_byte(&b, '.') != 0 || b64url_append(&b, sig, siglen) != 0)
        goto fail;
    return sg_buf_steal(&b, NULL);
fail:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    sg_buf_free(&b);
    return NULL;
}

char *sg_keyring_sign(const sg_keyring *kr, const sg_tok_claims *c)
{
    if (!kr || kr->active < 0 || (size_t)kr->active >= kr->n)
        return NULL;
    char *payload = sg_tok_claims_json(c);
    if (!payload)
        return NULL;
    char *jwt = sg_tok_sign(&kr->keys[kr->active], payload);
    sg_free(payload);
    return jwt;
}

static unsigned char *b64url_dec(const char *p, size_t n, size_t *outn)
{
    unsigned char *out = sg_malloc(SG_B64_DEC_LEN(n));
    if (!out)
        return NULL;
    long d = sg_b64url_decode(p, n, out, SG_B64_DEC_LEN(n));
    if (d < 0) {
        sg_free(out);
        return NULL;
    }
    *outn = (size_t)d;
    return out;
}

int sg_keyring_verify(const sg_keyring *kr, const char *jwt, char **payload)
{
    int ok = 0;
    unsigned char *hdr = NULL, *pl = NULL, *sig = NULL;
    size_t hn = 0, pn = 0, sn = 0;
    json_t *h = NULL;
    EVP_MD_CTX *md = NULL;
    if (payload)
        *payload = NULL;
    const char *d1 = strchr(jwt, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return 0;
    hdr = b64url_dec(jwt, (size_t)(d1 - jwt), &hn);
    pl = b64url_dec(d1 + 1, (size_t)(d2 - d1 - 1), &pn);
    sig = b64url_dec(d2 + 1, strlen(d2 + 1), &sn);
    if (!hdr || !pl || !sig)
        goto cleanup;
    h = json_loadb((const char *)hdr, hn, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *kid = json_string_value(json_object_get(h, "kid"));
    if (!alg || strcmp(alg, "RS256") != 0 || !kid)
        goto cleanup;
    const sg_tok_key *k = NULL;
    for (size_t i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].kid, kid) == 0)
            k = &kr->keys[i];
    if (!k)
        goto cleanup;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) != 1)
        goto cleanup;
    ok = EVP_DigestVerify(md, sig, sn, (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1;
    if (ok && payload) {
        *payload = sg_strndup((const char *)pl, pn);
        if (!*payload)
            ok = 0;
    }
cleanup:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    json_decref(h);
    sg_free(hdr);
    sg_free(pl);
    sg_free(sig);
    return ok;
}

/* ---- ring --------------------------------------------------------------------------------- */

static int build_jwks(sg_keyring *kr)
{
    sg_buf b;
    sg_buf_init(&b, 0);
    int rc = sg_buf_append_str(&b, "{\"keys\":[");
    for (size_t i = 0; rc == 0 && i < kr->n; i++) {
        const sg_tok_key *k = &kr->keys[i];
        rc = sg_buf_appendf(&b,
                            "%s{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\","
                            "\"x5t\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}",
                            i ? "," : "", k->kid, k->kid, k->n_b64, k->e_b64);
    }
    if (rc == 0)
        rc = sg_buf_append_str(&b, "]}");
    if (rc != 0) {
        sg_buf_free(&b);
        return SG_ENOMEM;
    }
    sg_free(kr->jwks);
    kr->jwks = sg_buf_steal(&b, &kr->jwks_len);
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
    if (!k->private_pem || sg_tok_key_from_pem(key, k->private_pem) != 0) {
        SG_LOGW("cloud", "event=signing_key_unreadable kid=%s", k->kid);
        return 0;
    }
    if (strcmp(key->kid, k->kid) != 0) /* stored kid is authoritative for lookups */
        sg_snprintf(key->kid, sizeof key->kid, "%s", k->kid);
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
        rc = sg_tok_key_from_pem(&fresh, pem);
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
