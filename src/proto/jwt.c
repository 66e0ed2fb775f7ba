/* jwt.c — compact JWS HS256/HS512/RS256, claims validation, audience rules (see jwt.h). */
#include "proto/jwt.h"

#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_err.h"
#include "sg_str.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MIN_RSA_BITS 2048

/* ---------------------------------------------------------------- names, errors */

const char *sg_jwt_alg_name(sg_jwt_alg a)
{
    switch (a) {
    case SG_JWT_HS256:
        return "HS256";
    case SG_JWT_HS512:
        return "HS512";
    case SG_JWT_RS256:
        return "RS256";
    default:
        return NULL;
    }
}

sg_jwt_alg sg_jwt_alg_from_name(const char *name)
{
    if (!name)
        return SG_JWT_ALG_NONE;
    if (strcmp(name, "HS256") == 0)
        return SG_JWT_HS256;
    if (strcmp(name, "HS512") == 0)
        return SG_JWT_HS512;
    if (strcmp(name, "RS256") == 0)
        return SG_JWT_RS256;
    return SG_JWT_ALG_NONE;
}

const char *sg_jwt_status_name(sg_jwt_status s)
{
    switch (s) {
    case SG_JWT_OK:
        return "ok";
    case SG_JWT_MALFORMED:
        return "malformed";
    case SG_JWT_TOO_LONG:
        return "too_long";
    case SG_JWT_BAD_ALG:
        return "bad_alg";
    case SG_JWT_UNKNOWN_KID:
        return "unknown_kid";
    case SG_JWT_BAD_SIGNATURE:
        return "bad_signature";
    case SG_JWT_EXPIRED:
        return "expired";
    case SG_JWT_NOT_YET_VALID:
        return "not_yet_valid";
    case SG_JWT_NO_EXP:
        return "no_exp";
    case SG_JWT_BAD_AUDIENCE:
        return "bad_audience";
    }
    return "unknown";
}

__attribute__((format(printf, 3, 4))) static int jfail(sg_jwt_error *err, sg_jwt_status st,
                                                       const char *fmt, ...)
{
    if (err) {
        err->status = st;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
        va_end(ap);
    }
    switch (st) {
    case SG_JWT_TOO_LONG:
        return SG_ETOOBIG;
    case SG_JWT_MALFORMED:
        return SG_EINVAL;
    default:
        return SG_EAUTH;
    }
}

static void jok(sg_jwt_error *err)
{
    if (err) {
        err->status = SG_JWT_OK;
        err->reason[0] = 0;
    }
}

void sg_jwt_clear(sg_jwt *t)
{
    if (!t)
        return;
    json_decref(t->header);
    json_decref(t->payload);
    memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------------------- encoding helpers */

static int b64url_append(sg_buf *b, const void *p, size_t n)
{
    size_t cap = SG_B64_ENC_LEN(n);
    int rc = sg_buf_reserve(b, cap);
    if (rc)
        return rc;
    long el = sg_b64url_encode(p, n, b->data + b->len, cap);
    if (el < 0)
        return SG_EINTERNAL;
    b->len += (size_t)el;
    b->data[b->len] = 0;
    return 0;
}

static int json_b64url_append(sg_buf *b, const json_t *j)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    if (n == 0)
        return SG_EINVAL;
    char *s = sg_malloc(n);
    if (!s)
        return SG_ENOMEM;
    int rc = json_dumpb(j, s, n, JSON_COMPACT) == n ? b64url_append(b, s, n) : SG_EINTERNAL;
    sg_free(s);
    return rc;
}

/* Builds base64url(header) "." base64url(claims) into b. */
static int signing_input(sg_buf *b, const json_t *header, const json_t *claims)
{
    int rc = json_b64url_append(b, header);
    if (rc == 0)
        rc = sg_buf_append_byte(b, '.');
    if (rc == 0)
        rc = json_b64url_append(b, claims);
    return rc;
}

static const EVP_MD *hs_md(sg_jwt_alg alg)
{
    return alg == SG_JWT_HS256 ? EVP_sha256() : alg == SG_JWT_HS512 ? EVP_sha512() : NULL;
}

/* ---------------------------------------------------------------- HMAC */

/* One-shot HMAC() in OpenSSL 3 fetches the MAC and the digest and sets the key up on every call
 * (~half of its cost for a JWT-sized input). A few prepared contexts are kept per (alg, key) —
 * a service verifies with the same one or two access keys all day — and re-initialised with the
 * same key (EVP_MAC_init with a NULL key keeps the key). Guarded by a mutex (the SDK may sign from
 * several threads); keys longer than HMAC_CACHE_KEY are not cached. */
#define HMAC_CACHE_SLOTS 4
#define HMAC_CACHE_KEY 256

typedef struct hmac_slot {
    EVP_MAC_CTX *ctx;
    int alg;
    size_t klen;
    unsigned char key[HMAC_CACHE_KEY];
} hmac_slot;

static struct {
    pthread_mutex_t mu;
    EVP_MAC *mac;
    hmac_slot slot[HMAC_CACHE_SLOTS];
    unsigned next;
} g_hmac = {PTHREAD_MUTEX_INITIALIZER, NULL, {{0}}, 0};

static EVP_MAC_CTX *hmac_ctx_locked(sg_jwt_alg alg, const void *key, size_t key_len)
{
    for (unsigned i = 0; i < HMAC_CACHE_SLOTS; i++) {
        hmac_slot *sl = &g_hmac.slot[i];
        if (sl->ctx && sl->alg == (int)alg && sl->klen == key_len &&
            CRYPTO_memcmp(sl->key, key, key_len) == 0)
            return EVP_MAC_init(sl->ctx, NULL, 0, NULL) ? sl->ctx : NULL;
    }
    if (!g_hmac.mac)
        g_hmac.mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!g_hmac.mac)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(g_hmac.mac);
    if (!ctx)
        return NULL;
    OSSL_PARAM prm[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                         alg == SG_JWT_HS256 ? "SHA256" : "SHA512", 0),
        OSSL_PARAM_construct_end()};
    if (!EVP_MAC_init(ctx, key, key_len, prm)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    hmac_slot *sl = &g_hmac.slot[g_hmac.next++ % HMAC_CACHE_SLOTS];
    EVP_MAC_CTX_free(sl->ctx);
    OPENSSL_cleanse(sl->key, sizeof(sl->key));
    sl->ctx = ctx;
    sl->alg = (int)alg;
    sl->klen = key_len;
    memcpy(sl->key, key, key_len);
    return ctx;
}

/* HMAC of data with key (alg HS256 / HS512) into mac; returns 1 on success like HMAC(). */
static int hs_mac(sg_jwt_alg alg, const void *key, size_t key_len, const void *data, size_t n,
                  unsigned char *mac, unsigned int *ml)
{
    const EVP_MD *md = hs_md(alg);
    if (!md)
        return 0;
    if (key_len > HMAC_CACHE_KEY)
        return HMAC(md, key, (int)key_len, data, n, mac, ml) != NULL;
    int ok = 0;
    pthread_mutex_lock(&g_hmac.mu);
    EVP_MAC_CTX *ctx = hmac_ctx_locked(alg, key, key_len);
    size_t outl = 0;
    if (ctx && EVP_MAC_update(ctx, data, n) && EVP_MAC_final(ctx, mac, &outl, EVP_MAX_MD_SIZE)) {
        *ml = (unsigned int)outl;
        ok = 1;
    }
    pthread_mutex_unlock(&g_hmac.mu);
    if (!ok) /* cache trouble: the one-shot path */
        ok = HMAC(md, key, (int)key_len, data, n, mac, ml) != NULL;
    return ok;
}

/* ---------------------------------------------------------------- HMAC sign */

int sg_jwt_sign_hs(sg_jwt_alg alg, const void *key, size_t key_len, const char *kid,
                   const json_t *claims, char **out)
{
    *out = NULL;
    const EVP_MD *md = hs_md(alg);
    if (!md || !key || key_len == 0 || key_len > INT32_MAX || !json_is_object(claims))
        return SG_EINVAL;
    json_t *h = json_pack("{s:s,s:s}", "alg", sg_jwt_alg_name(alg), "typ", "JWT");
    if (!h)
        return SG_ENOMEM;
    int rc = 0;
    if (kid && json_object_set_new(h, "kid", json_string(kid)))
        rc = SG_EINVAL;
    sg_buf b;
    sg_buf_init(&b, 0);
    if (rc == 0)
        rc = signing_input(&b, h, claims);
    if (rc == 0) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int ml = 0;
        if (!hs_mac(alg, key, key_len, b.data, b.len, mac, &ml))
            rc = SG_EINTERNAL;
        if (rc == 0)
            rc = sg_buf_append_byte(&b, '.');
        if (rc == 0)
            rc = b64url_append(&b, mac, ml);
        OPENSSL_cleanse(mac, sizeof(mac));
    }
    json_decref(h);
    if (rc) {
        sg_buf_free(&b);
        return rc;
    }
    *out = sg_buf_steal(&b, NULL);
    return *out ? SG_OK : SG_ENOMEM;
}

/* ---------------------------------------------------------------- parsing */

typedef struct parts {
    const char *tok;
    size_t signed_len; /* header.payload */
    const char *sig;
    size_t sig_len;
    uint8_t sigbin[1024];
    size_t sigbin_len;
} parts;

static json_t *decode_json_part(const char *p, size_t n)
{
    if (n == 0)
        return NULL;
    size_t cap = SG_B64_DEC_LEN(n);
    char *d = sg_malloc(cap);
    if (!d)
        return NULL;
    long dl = sg_b64url_decode(p, n, d, cap);
    json_t *j = NULL;
    if (dl > 0) {
        json_error_t je;
        j = json_loadb(d, (size_t)dl, JSON_REJECT_DUPLICATES, &je);
        if (j && !json_is_object(j)) {
            json_decref(j);
            j = NULL;
        }
    }
    sg_free(d);
    return j;
}

static int b64url_chars(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* The signed part (header.payload) and the decoded signature of a token whose structure
 * parse_token accepted (three base64url parts). */
static int split_sig(const char *token, size_t len, parts *pt, sg_jwt_error *err)
{
    const char *d2 = NULL;
    for (size_t i = len; i > 0; i--) {
        if (token[i - 1] == '.') {
            d2 = token + i - 1;
            break;
        }
    }
    if (!d2 || d2 == token || !memchr(token, '.', (size_t)(d2 - token)))
        return jfail(err, SG_JWT_MALFORMED, "token is not three dot-separated parts");
    size_t sl = len - (size_t)(d2 + 1 - token);
    pt->tok = token;
    pt->signed_len = (size_t)(d2 - token);
    pt->sig = d2 + 1;
    pt->sig_len = sl;
    pt->sigbin_len = 0;
    if (sl > 0) {
        if (SG_B64_DEC_LEN(sl) > sizeof(pt->sigbin))
            return jfail(err, SG_JWT_MALFORMED, "signature too long");
        long dl = sg_b64url_decode(d2 + 1, sl, pt->sigbin, sizeof(pt->sigbin));
        if (dl < 0)
            return jfail(err, SG_JWT_MALFORMED, "signature is not base64url");
        pt->sigbin_len = (size_t)dl;
    }
    return SG_OK;
}

static int parse_token(const char *token, size_t len, size_t max_len, sg_jwt *out, parts *pt,
                       sg_jwt_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!token)
        return jfail(err, SG_JWT_MALFORMED, "no token");
    if (max_len == 0)
        max_len = SG_JWT_MAX_LEN;
    if (len > max_len)
        return jfail(err, SG_JWT_TOO_LONG, "token is %zu characters, the limit is %zu", len,
                     max_len);
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return jfail(err, SG_JWT_MALFORMED, "token is not three dot-separated parts");
    size_t hl = (size_t)(d1 - token), pl = (size_t)(d2 - d1 - 1),
           sl = len - (size_t)(d2 + 1 - token);
    if (!b64url_chars(token, hl) || !b64url_chars(d1 + 1, pl) || !b64url_chars(d2 + 1, sl))
        return jfail(err, SG_JWT_MALFORMED, "token part is not base64url");
    out->header = decode_json_part(token, hl);
    if (!out->header)
        return jfail(err, SG_JWT_MALFORMED, "token header is not a base64url JSON object");
    out->payload = decode_json_part(d1 + 1, pl);
    if (!out->payload) {
        sg_jwt_clear(out);
        return jfail(err, SG_JWT_MALFORMED, "token payload is not a base64url JSON object");
    }
    if (pt) {
        int rc = split_sig(token, len, pt, err);
        if (rc) {
            sg_jwt_clear(out);
            return rc;
        }
    }
    return SG_OK;
}

int sg_jwt_decode_unverified(const char *token, size_t len, size_t max_len, sg_jwt *out,
                             sg_jwt_error *err)
{
    int rc = parse_token(token, len, max_len, out, NULL, err);
    if (rc)
        return rc;
    json_t *a = json_object_get(out->header, "alg");
    out->alg = sg_jwt_alg_from_name(json_string_value(a));
    jok(err);
    return SG_OK;
}

/* Checks the header alg against the allowed family mask. */
static int check_alg(sg_jwt *t, unsigned allowed, sg_jwt_error *err)
{
    json_t *a = json_object_get(t->header, "alg");
    if (!json_is_string(a))
        return jfail(err, SG_JWT_BAD_ALG, "token header has no alg");
    const char *name = json_string_value(a);
    sg_jwt_alg alg = sg_jwt_alg_from_name(name);
    if (alg == SG_JWT_ALG_NONE || !(allowed & alg))
        return jfail(err, SG_JWT_BAD_ALG, "algorithm '%.32s' is not allowed", name);
    t->alg = alg;
    return SG_OK;
}

/* ---------------------------------------------------------------- HMAC verify */

/* alg and signature of a parsed token (out) against keys; out->key_index on success. Leaves
 * out as it is on failure. */
static int hs_check(sg_jwt *out, const parts *pt, const sg_jwt_key *keys, size_t nkeys,
                    const sg_jwt_verify_opts *opts, sg_jwt_error *err)
{
    unsigned allowed =
        opts && (opts->algs & SG_JWT_HS_ANY) ? (opts->algs & SG_JWT_HS_ANY) : SG_JWT_HS_ANY;
    int rc = check_alg(out, allowed, err);
    if (rc)
        return rc;
    const EVP_MD *md = hs_md(out->alg);
    unsigned char mac[EVP_MAX_MD_SIZE];
    int matched = -1;
    for (size_t i = 0; i < nkeys; i++) {
        unsigned int ml = 0;
        if (!keys[i].key || keys[i].len == 0 || keys[i].len > INT32_MAX)
            continue;
        if (!md || !hs_mac(out->alg, keys[i].key, keys[i].len, pt->tok, pt->signed_len, mac, &ml)) {
            jfail(err, SG_JWT_BAD_SIGNATURE, "HMAC computation failed");
            return SG_EINTERNAL;
        }
        /* constant-time; every key is tried so timing does not reveal which one matched */
        if (matched < 0 && pt->sigbin_len == ml && CRYPTO_memcmp(mac, pt->sigbin, ml) == 0)
            matched = (int)i;
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    if (matched < 0)
        return jfail(err, SG_JWT_BAD_SIGNATURE, "signature verification failed (%zu candidate key%s)",
                     nkeys, nkeys == 1 ? "" : "s");
    out->key_index = (size_t)matched;
    jok(err);
    return SG_OK;
}

int sg_jwt_verify_hs(const char *token, size_t len, const sg_jwt_key *keys, size_t nkeys,
                     const sg_jwt_verify_opts *opts, sg_jwt *out, sg_jwt_error *err)
{
    parts pt;
    int rc = parse_token(token, len, opts ? opts->max_len : 0, out, &pt, err);
    if (rc)
        return rc;
    rc = hs_check(out, &pt, keys, nkeys, opts, err);
    if (rc)
        sg_jwt_clear(out);
    return rc;
}

int sg_jwt_verify_hs_decoded(const char *token, size_t len, sg_jwt *t, const sg_jwt_key *keys,
                             size_t nkeys, const sg_jwt_verify_opts *opts, sg_jwt_error *err)
{
    if (!token || !t || !json_is_object(t->header) || !json_is_object(t->payload))
        return jfail(err, SG_JWT_MALFORMED, "no decoded token");
    size_t max_len = opts && opts->max_len ? opts->max_len : SG_JWT_MAX_LEN;
    if (len > max_len)
        return jfail(err, SG_JWT_TOO_LONG, "token is %zu characters, the limit is %zu", len,
                     max_len);
    parts pt;
    int rc = split_sig(token, len, &pt, err);
    if (rc)
        return rc;
    return hs_check(t, &pt, keys, nkeys, opts, err);
}

/* ---------------------------------------------------------------- RSA keys */

struct sg_jwt_rsa {
    EVP_PKEY *pkey;
    char *kid;
    uint8_t *cert;
    size_t cert_len;
    char x5t[48];
};

static int rsa_wrap(EVP_PKEY *pk, const char *kid, sg_jwt_rsa **out)
{
    if (!EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_bits(pk) < MIN_RSA_BITS) {
        EVP_PKEY_free(pk);
        return SG_EINVAL;
    }
    sg_jwt_rsa *k = SG_NEW(sg_jwt_rsa);
    if (!k) {
        EVP_PKEY_free(pk);
        return SG_ENOMEM;
    }
    k->pkey = pk;
    k->kid = sg_strdup(kid);
    if (!k->kid) {
        sg_jwt_rsa_free(k);
        return SG_ENOMEM;
    }
    *out = k;
    return SG_OK;
}

int sg_jwt_rsa_generate(int bits, const char *kid, sg_jwt_rsa **out)
{
    *out = NULL;
    if (bits < MIN_RSA_BITS || bits > 16384 || !kid || !*kid)
        return SG_EINVAL;
    EVP_PKEY *pk = EVP_RSA_gen((unsigned int)bits);
    if (!pk)
        return SG_EINTERNAL;
    return rsa_wrap(pk, kid, out);
}

int sg_jwt_rsa_from_pem(const char *pem, size_t len, const char *kid, sg_jwt_rsa **out)
{
    *out = NULL;
    if (!pem || !kid || !*kid || len > INT32_MAX)
        return SG_EINVAL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return SG_ENOMEM;
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!pk)
        return SG_EINVAL;
    return rsa_wrap(pk, kid, out);
}

int sg_jwt_rsa_to_pem(const sg_jwt_rsa *k, sg_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return SG_ENOMEM;
    int rc = SG_EINTERNAL;
    if (PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL)) {
        char *p;
        long n = BIO_get_mem_data(bio, &p);
        rc = n > 0 ? sg_buf_append(out, p, (size_t)n) : SG_EINTERNAL;
    }
    BIO_free(bio);
    return rc;
}

int sg_jwt_rsa_set_cert(sg_jwt_rsa *k, const void *der, size_t len)
{
    if (!der || len == 0)
        return SG_EINVAL;
    uint8_t *c = sg_memdup(der, len);
    if (!c)
        return SG_ENOMEM;
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1(der, len, sha);
    sg_free(k->cert);
    k->cert = c;
    k->cert_len = len;
    sg_b64url_encode(sha, sizeof(sha), k->x5t, sizeof(k->x5t));
    return SG_OK;
}

const char *sg_jwt_rsa_kid(const sg_jwt_rsa *k)
{
    return k->kid;
}

void sg_jwt_rsa_free(sg_jwt_rsa *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    sg_free(k->kid);
    sg_free(k->cert);
    sg_free(k);
}

static json_t *bn_param_b64url(const EVP_PKEY *pk, const char *name)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(pk, name, &bn))
        return NULL;
    int n = BN_num_bytes(bn);
    json_t *r = NULL;
    uint8_t *bin = sg_malloc((size_t)n + 1);
    char *s = sg_malloc(SG_B64_ENC_LEN((size_t)n + 1));
    if (bin && s) {
        BN_bn2bin(bn, bin);
        if (sg_b64url_encode(bin, (size_t)n, s, SG_B64_ENC_LEN((size_t)n + 1)) >= 0)
            r = json_string(s);
    }
    sg_free(bin);
    sg_free(s);
    BN_free(bn);
    return r;
}

int sg_jwt_rsa_public_jwk(const sg_jwt_rsa *k, json_t **out)
{
    *out = NULL;
    json_t *n = bn_param_b64url(k->pkey, OSSL_PKEY_PARAM_RSA_N);
    json_t *e = bn_param_b64url(k->pkey, OSSL_PKEY_PARAM_RSA_E);
    json_t *j = json_object();
    int rc = SG_ENOMEM;
    if (!n || !e || !j)
        goto fail;
    if (json_object_set_new(j, "kty", json_string("RSA")) ||
        json_object_set_new(j, "use", json_string("sig")) ||
        json_object_set_new(j, "kid", json_string(k->kid)))
        goto fail;
    json_object_set_new(j, "n", n);
    json_object_set_new(j, "e", e);
    n = e = NULL;
    if (k->cert) {
        size_t cap = SG_B64_ENC_LEN(k->cert_len);
        char *s = sg_malloc(cap);
        if (!s)
            goto fail;
        sg_b64_encode(k->cert, k->cert_len, s, cap);
        json_t *x5c = json_pack("[s]", s);
        sg_free(s);
        if (!x5c || json_object_set_new(j, "x5c", x5c) ||
            json_object_set_new(j, "x5t", json_string(k->x5t)))
            goto fail;
    }
    *out = j;
    return SG_OK;
fail:
    json_decref(n);
    json_decref(e);
    json_decref(j);
    return rc;
}

int sg_jwt_sign_rs256(const sg_jwt_rsa *k, const json_t *extra_header, const json_t *claims,
                      char **out)
{
    *out = NULL;
    if (!k || !json_is_object(claims) || (extra_header && !json_is_object(extra_header)))
        return SG_EINVAL;
    json_t *h = json_object();
    if (!h)
        return SG_ENOMEM;
    int rc = SG_ENOMEM;
    sg_buf b;
    sg_buf_init(&b, 0);
    EVP_MD_CTX *ctx = NULL;
    if (extra_header && json_object_update(h, (json_t *)extra_header))
        goto done;
    if (json_object_set_new(h, "alg", json_string("RS256")) ||
        json_object_set_new(h, "typ", json_string("JWT")) ||
        json_object_set_new(h, "kid", json_string(k->kid)))
        goto done;
    if (k->cert && json_object_set_new(h, "x5t", json_string(k->x5t)))
        goto done;
    rc = signing_input(&b, h, claims);
    if (rc)
        goto done;
    rc = SG_EINTERNAL;
    ctx = EVP_MD_CTX_new();
    size_t sl = 0;
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
        EVP_DigestSign(ctx, NULL, &sl, (const unsigned char *)b.data, b.len) != 1)
        goto done;
    unsigned char *sig = sg_malloc(sl);
    if (!sig) {
        rc = SG_ENOMEM;
        goto done;
    }
    if (EVP_DigestSign(ctx, sig, &sl, (const unsigned char *)b.data, b.len) == 1) {
        rc = sg_buf_append_byte(&b, '.');
        if (rc == 0)
            rc = b64url_append(&b, sig, sl);
    }
    sg_free(sig);
done:
    EVP_MD_CTX_free(ctx);
    json_decref(h);
    if (rc) {
        sg_buf_free(&b);
        return rc;
    }
    *out = sg_buf_steal(&b, NULL);
    return *out ? SG_OK : SG_ENOMEM;
}

/* ---------------------------------------------------------------- JWKS */

typedef struct jwks_key {
    char *kid;
    EVP_PKEY *pkey;
} jwks_key;

struct sg_jwks {
    jwks_key *keys;
    size_t n, cap;
};

sg_jwks *sg_jwks_new(void)
{
    return SG_NEW(sg_jwks);
}

void sg_jwks_free(sg_jwks *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        sg_free(s->keys[i].kid);
        EVP_PKEY_free(s->keys[i].pkey);
    }
    sg_free(s->keys);
    sg_free(s);
}

size_t sg_jwks_count(const sg_jwks *s)
{
    return s ? s->n : 0;
}

static const jwks_key *jwks_find(const sg_jwks *s, const char *kid)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->keys[i].kid, kid) == 0)
            return &s->keys[i];
    return NULL;
}

/* Takes ownership of pk in every case. */
static int jwks_put(sg_jwks *s, const char *kid, EVP_PKEY *pk)
{
    int rc = SG_OK;
    if (!kid || !*kid || !EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_bits(pk) < MIN_RSA_BITS)
        rc = SG_EINVAL;
    else if (jwks_find(s, kid))
        rc = SG_EEXIST;
    else if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4;
        jwks_key *nk = sg_realloc(s->keys, nc * sizeof(*nk));
        if (!nk)
            rc = SG_ENOMEM;
        else {
            s->keys = nk;
            s->cap = nc;
        }
    }
    char *k = rc == SG_OK ? sg_strdup(kid) : NULL;
    if (rc == SG_OK && !k)
        rc = SG_ENOMEM;
    if (rc) {
        EVP_PKEY_free(pk);
        return rc;
    }
    s->keys[s->n].kid = k;
    s->keys[s->n].pkey = pk;
    s->n++;
    return SG_OK;
}

int sg_jwks_add_rsa(sg_jwks *s, const sg_jwt_rsa *k)
{
    if (!EVP_PKEY_up_ref(k->pkey))
        return SG_EINTERNAL;
    return jwks_put(s, k->kid, k->pkey);
}

static BIGNUM *b64url_bn(const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    size_t n = json_string_length(v);
    if (n == 0 || n > 4096)
        return NULL;
    uint8_t *d = sg_malloc(SG_B64_DEC_LEN(n));
    if (!d)
        return NULL;
    long dl = sg_b64url_decode(json_string_value(v), n, d, SG_B64_DEC_LEN(n));
    BIGNUM *bn = dl > 0 ? BN_bin2bn(d, (int)dl, NULL) : NULL;
    sg_free(d);
    return bn;
}

int sg_jwks_add_jwk(sg_jwks *s, const json_t *jwk)
{
    if (!json_is_object(jwk))
        return SG_EINVAL;
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    json_t *use = json_object_get(jwk, "use");
    if (!kty || strcmp(kty, "RSA") != 0 || !kid)
        return SG_EUNSUPPORTED;
    if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
        return SG_EUNSUPPORTED;
    BIGNUM *n = b64url_bn(json_object_get(jwk, "n"));
    BIGNUM *e = b64url_bn(json_object_get(jwk, "e"));
    int rc = SG_EINVAL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    if (!n || !e)
        goto done;
    rc = SG_EINTERNAL;
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto done;
    rc = jwks_put(s, kid, pk);
    pk = NULL;
done:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return rc;
}

int sg_jwks_add_json(sg_jwks *s, const json_t *jwks)
{
    json_t *keys = json_object_get(jwks, "keys");
    if (!json_is_array(keys))
        return SG_EINVAL;
    int added = 0;
    for (size_t i = 0; i < json_array_size(keys); i++) {
        int rc = sg_jwks_add_jwk(s, json_array_get(keys, i));
        if (rc == SG_OK)
            added++;
        else if (rc == SG_ENOMEM)
            return rc;
    }
    return added;
}

int sg_jwks_add_pem(sg_jwks *s, const char *kid, const char *pem, size_t len)
{
    if (!pem || len > INT32_MAX)
        return SG_EINVAL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return SG_ENOMEM;
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (!pk) {
        (void)BIO_reset(bio);
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (x) {
            pk = X509_get_pubkey(x);
            X509_free(x);
        }
    }
    BIO_free(bio);
    if (!pk)
        return SG_EINVAL;
    return jwks_put(s, kid, pk);
}

int sg_jwt_verify_rs(const char *token, size_t len, const sg_jwks *keys,
                     const sg_jwt_verify_opts *opts, sg_jwt *out, sg_jwt_error *err)
{
    parts pt;
    int rc = parse_token(token, len, opts ? opts->max_len : 0, out, &pt, err);
    if (rc)
        return rc;
    rc = check_alg(out, SG_JWT_RS256, err);
    if (rc)
        goto fail;
    json_t *kidj = json_object_get(out->header, "kid");
    const jwks_key *k = NULL;
    if (json_is_string(kidj)) {
        k = keys ? jwks_find(keys, json_string_value(kidj)) : NULL;
        if (!k) {
            rc = jfail(err, SG_JWT_UNKNOWN_KID, "no signing key with kid '%.64s'",
                       json_string_value(kidj));
            goto fail;
        }
    } else if (keys && keys->n == 1 && !kidj) {
        k = &keys->keys[0];
    } else {
        rc = jfail(err, SG_JWT_UNKNOWN_KID, "token has no usable kid");
        goto fail;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        rc = SG_ENOMEM;
        goto fail;
    }
    int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, pt.sigbin, pt.sigbin_len, (const unsigned char *)pt.tok,
                              pt.signed_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        rc = jfail(err, SG_JWT_BAD_SIGNATURE, "signature verification failed");
        goto fail;
    }
    jok(err);
    return SG_OK;
fail:
    sg_jwt_clear(out);
    return rc;
}

/* ---------------------------------------------------------------- validation */

int sg_jwt_validate(const sg_jwt *t, const sg_jwt_validate_opts *opts, sg_jwt_error *err)
{
    if (!t || !json_is_object(t->payload))
        return jfail(err, SG_JWT_MALFORMED, "no token payload");
    sg_jwt_validate_opts def = {0};
    if (!opts) {
        def.skew = -1;
        def.require_exp = 1;
        opts = &def;
    }
    int64_t now = opts->now ? opts->now : (int64_t)time(NULL);
    int64_t skew = opts->skew < 0 ? SG_JWT_DEFAULT_SKEW : opts->skew;
    json_t *exp = json_object_get(t->payload, "exp");
    if (exp) {
        if (!json_is_number(exp))
            return jfail(err, SG_JWT_NO_EXP, "exp is not a number");
        double e = json_number_value(exp);
        if (!isfinite(e) || (double)now - (double)skew >= e)
            return jfail(err, SG_JWT_EXPIRED, "token expired at %.0f (now %lld, skew %llds)", e,
                         (long long)now, (long long)skew);
    } else if (opts->require_exp) {
        return jfail(err, SG_JWT_NO_EXP, "token has no exp claim");
    }
    json_t *nbf = json_object_get(t->payload, "nbf");
    if (nbf) {
        if (!json_is_number(nbf))
            return jfail(err, SG_JWT_NOT_YET_VALID, "nbf is not a number");
        double n = json_number_value(nbf);
        if (!isfinite(n) || (double)now + (double)skew < n)
            return jfail(err, SG_JWT_NOT_YET_VALID,
                         "token not valid before %.0f (now %lld, skew %llds)", n, (long long)now,
                         (long long)skew);
    }
    if (opts->scheme) {
        json_t *aud = json_object_get(t->payload, "aud");
        if (!sg_jwt_aud_matches(aud, opts->scheme, opts->host, opts->path, opts->hub)) {
            const char *a = json_is_string(aud)  ? json_string_value(aud)
                            : json_is_array(aud) ? "[...]"
                                                 : "(none)";
            return jfail(err, SG_JWT_BAD_AUDIENCE, "audience '%.100s' does not match %s://%s%s%s%s",
                         a, opts->scheme, opts->host ? opts->host : "",
                         opts->path ? opts->path : "", opts->hub ? "?hub=" : "",
                         opts->hub ? opts->hub : "");
        }
    }
    jok(err);
    return SG_OK;
}

/* ---------------------------------------------------------------- audience */

/* Splits "host[:port]" / "[v6]:port" into host without port. */
static sg_slice host_noport(const char *h, size_t n)
{
    sg_slice r = {h, n};
    if (n && h[0] == '[') {
        const char *rb = memchr(h, ']', n);
        if (rb)
            r.n = (size_t)(rb - h) + 1;
        return r;
    }
    const char *c = memchr(h, ':', n);
    if (c)
        r.n = (size_t)(c - h);
    return r;
}

/* Percent-decoded, trailing '/' stripped, "/client/negotiate" → "/client". NULL on error. */
static char *norm_path(const char *p, size_t n)
{
    char *d = sg_url_decode(p ? p : "", p ? n : 0, 0, NULL);
    if (!d)
        return NULL;
    size_t l = strlen(d);
    while (l && d[l - 1] == '/')
        d[--l] = 0;
    static const char neg[] = "/client/negotiate";
    if (strcasecmp(d, neg) == 0)
        d[7] = 0;
    return d;
}

int sg_jwt_aud_str_matches(const char *aud, const char *scheme, const char *host, const char *path,
                           const char *hub)
{
    if (!aud || !scheme || !host)
        return 0;
    size_t an = strlen(aud);
    const char *sep = strstr(aud, "://");
    if (!sep)
        return 0;
    size_t sl = (size_t)(sep - aud);
    if (sl != strlen(scheme) || strncasecmp(aud, scheme, sl) != 0)
        return 0;
    const char *auth = sep + 3;
    size_t authn = strcspn(auth, "/?#");
    sg_slice ah = host_noport(auth, authn);
    sg_slice eh = host_noport(host, strlen(host));
    if (ah.n == 0 || ah.n != eh.n || strncasecmp(ah.p, eh.p, ah.n) != 0)
        return 0;
    const char *ap = auth + authn;
    size_t apn = strcspn(ap, "?#");
    const char *q = ap + apn;
    size_t qn = 0;
    if (*q == '?') {
        q++;
        qn = strcspn(q, "#");
    }
    (void)an;
    const char *ep = path ? path : "";
    size_t epn = strcspn(ep, "?#");
    char *a = norm_path(ap, apn);
    char *e = norm_path(ep, epn);
    int ok = a && e && strcasecmp(a, e) == 0;
    sg_free(a);
    sg_free(e);
    if (!ok || !hub)
        return ok;
    /* hub must appear in the aud query */
    sg_slice qs = {q, qn};
    size_t pos = 0;
    sg_slice k, v;
    while (sg_query_next(qs, &pos, &k, &v)) {
        if (!sg_slice_ieq(k, "hub"))
            continue;
        char *hv = sg_url_decode(v.p, v.n, 0, NULL);
        int m = hv && strcasecmp(hv, hub) == 0;
        sg_free(hv);
        if (m)
            return 1;
    }
    return 0;
}

int sg_jwt_aud_matches(const json_t *aud, const char *scheme, const char *host, const char *path,
                       const char *hub)
{
    if (json_is_string(aud))
        return sg_jwt_aud_str_matches(json_string_value(aud), scheme, host, path, hub);
    if (json_is_array(aud)) {
        for (size_t i = 0; i < json_array_size(aud); i++) {
            json_t *e = json_array_get(aud, i);
            if (json_is_string(e) &&
                sg_jwt_aud_str_matches(json_string_value(e), scheme, host, path, hub))
                return 1;
        }
    }
    return 0;
}

json_t *sg_jwt_payload_unverified(const char *token)
{
    if (!token)
        return NULL;
    const char *a = strchr(token, '.');
    if (!a)
        return NULL;
    const char *b = strchr(a + 1, '.');
    if (!b)
        return NULL;
    size_t n = (size_t)(b - a - 1);
    if (n == 0 || n > 64 * 1024)
        return NULL;
    char *dec = sg_malloc(SG_B64_DEC_LEN(n) + 1);
    if (!dec)
        return NULL;
    long dn = sg_b64url_decode(a + 1, n, dec, SG_B64_DEC_LEN(n));
    json_t *j = NULL;
    if (dn > 0)
        j = json_loadb(dec, (size_t)dn, 0, NULL);
    sg_free(dec);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}
