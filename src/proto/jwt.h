/* proto/jwt.h — compact JWS (RFC 7515/7519): HS256/HS512 access-key tokens (reference §4.1)
 * and RS256 Entra-style tokens, plus audience matching (§4.2).
 *
 * Verification is two steps so callers can tell failures apart:
 *   1. sg_jwt_verify_hs / sg_jwt_verify_rs: length cap, structure, base64url, JSON, alg
 *      pinned by the caller (never "none"; an RS token is refused where HS is expected and
 *      vice versa), signature (constant-time compare for HMAC; every candidate key tried).
 *   2. sg_jwt_validate: exp (required), nbf (optional), clock skew, audience.
 * Each step returns an sg_err and fills an optional sg_jwt_error with a distinct status and a
 * human-readable reason suitable for a 401 body or a log line (never containing key bytes).
 *
 * Keys: HMAC key bytes are the UTF-8 bytes of the access-key string as written (NOT base64-
 * decoded). RSA keys are parsed once into opaque objects (sg_jwt_rsa for signing, sg_jwks for
 * verification) that are immutable afterwards and may be shared between threads.
 *
 * Errors (sg_err): SG_ETOOBIG token longer than the cap; SG_EINVAL malformed token or bad
 * argument; SG_EAUTH bad/disallowed alg, unknown kid, bad signature, expired, not yet valid,
 * no exp, wrong audience; SG_ENOMEM; SG_EINTERNAL OpenSSL failure. */
#ifndef SG_PROTO_JWT_H
#define SG_PROTO_JWT_H

#include "sg_buf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SG_JWT_MAX_LEN 4096    /* default token length cap, characters (AuthUtility) */
#define SG_JWT_DEFAULT_SKEW 60 /* seconds of clock skew tolerated by sg_jwt_validate */

typedef enum sg_jwt_alg {
    SG_JWT_ALG_NONE = 0, /* never accepted */
    SG_JWT_HS256 = 1 << 0,
    SG_JWT_HS512 = 1 << 1,
    SG_JWT_RS256 = 1 << 2,
} sg_jwt_alg;
#define SG_JWT_HS_ANY (SG_JWT_HS256 | SG_JWT_HS512)

/* "HS256" / "HS512" / "RS256" (static), NULL otherwise. */
const char *sg_jwt_alg_name(sg_jwt_alg a);
/* Exact match of the JOSE name; SG_JWT_ALG_NONE for anything else ("none", "RS384", ...). */
sg_jwt_alg sg_jwt_alg_from_name(const char *name);

typedef enum sg_jwt_status {
    SG_JWT_OK = 0,
    SG_JWT_MALFORMED,     /* not three base64url parts / bad JSON / header not an object */
    SG_JWT_TOO_LONG,      /* longer than the cap */
    SG_JWT_BAD_ALG,       /* alg none, unknown, or not among the allowed ones */
    SG_JWT_UNKNOWN_KID,   /* RS: no key with that kid (or no kid and several keys) */
    SG_JWT_BAD_SIGNATURE, /* no candidate key verifies */
    SG_JWT_EXPIRED,       /* exp + skew <= now */
    SG_JWT_NOT_YET_VALID, /* nbf - skew > now */
    SG_JWT_NO_EXP,        /* exp missing or not a number */
    SG_JWT_BAD_AUDIENCE,  /* aud missing or no match */
} sg_jwt_status;

/* Static short name of a status ("expired", "bad_signature", ...). */
const char *sg_jwt_status_name(sg_jwt_status s);

typedef struct sg_jwt_error {
    sg_jwt_status status;
    char reason[200]; /* NUL-terminated, e.g. "token expired at 1700000000 (now 1700000100)" */
} sg_jwt_error;

/* A verified (or parsed) token. header and payload are owned json_t references. */
typedef struct sg_jwt {
    json_t *header;
    json_t *payload;
    sg_jwt_alg alg;
    size_t key_index; /* HS: index of the candidate key that verified */
} sg_jwt;

void sg_jwt_clear(sg_jwt *t); /* decref header/payload, zero the struct; NULL-safe */

/* ---- HMAC (access keys) ---- */

/* Signs claims (object, borrowed) with HS256/HS512. kid optional (omitted when NULL).
 * Header is {"alg":..,"typ":"JWT"[,"kid":..]}. *out = new sg_malloc'd NUL-terminated token.
 * SG_EINVAL for a non-HS alg, empty key or non-object claims. */
int sg_jwt_sign_hs(sg_jwt_alg alg, const void *key, size_t key_len, const char *kid,
                   const json_t *claims, char **out);

typedef struct sg_jwt_key {
    const void *key; /* borrowed bytes */
    size_t len;
} sg_jwt_key;

typedef struct sg_jwt_verify_opts {
    unsigned algs;  /* bitmask of allowed sg_jwt_alg; 0 = SG_JWT_HS256|SG_JWT_HS512 for HS,
                       SG_JWT_RS256 for RS. Bits of the other family are ignored. */
    size_t max_len; /* 0 = SG_JWT_MAX_LEN */
} sg_jwt_verify_opts;

/* Verifies an HS token against keys[0..nkeys) (each tried, constant-time compare). opts may
 * be NULL. On SG_OK *out holds header+payload (caller sg_jwt_clear) and out->key_index the
 * matching key. err optional. Does NOT check exp/nbf/aud: call sg_jwt_validate. */
int sg_jwt_verify_hs(const char *token, size_t len, const sg_jwt_key *keys, size_t nkeys,
                     const sg_jwt_verify_opts *opts, sg_jwt *out, sg_jwt_error *err);

/* The payload of a compact JWT as a JSON object, decoded without any verification, for
 * display only (what a token says: oid, appid, aud, exp...). Payloads over 64 KiB, bad
 * base64url or JSON other than an object give NULL. The caller json_decref()s it. */
json_t *sg_jwt_payload_unverified(const char *token);

/* Parses without verifying (header "kid" lookup before choosing keys, diagnostics).
 * Same structural checks and cap as verify; alg not checked. */
int sg_jwt_decode_unverified(const char *token, size_t len, size_t max_len, sg_jwt *out,
                             sg_jwt_error *err);

/* Signature step of sg_jwt_verify_hs for a token already parsed by sg_jwt_decode_unverified
 * (t, from the SAME token bytes): the JSON is not parsed again. Checks the length cap, t's alg
 * against opts->algs and the signature against keys[0..nkeys) as sg_jwt_verify_hs does; on
 * SG_OK sets t->alg and t->key_index. On failure t is left as it was (caller sg_jwt_clear). */
int sg_jwt_verify_hs_decoded(const char *token, size_t len, sg_jwt *t, const sg_jwt_key *keys,
                             size_t nkeys, const sg_jwt_verify_opts *opts, sg_jwt_error *err);

/* ---- RSA (RS256) ---- */

typedef struct sg_jwt_rsa sg_jwt_rsa; /* private key + kid (+ optional certificate) */

/* Generates a new RSA key (bits >= 2048). kid copied (required). */
int sg_jwt_rsa_generate(int bits, const char *kid, sg_jwt_rsa **out);
/* Loads a PEM private key (PKCS#8 or PKCS#1). kid copied (required). SG_EINVAL if not RSA. */
int sg_jwt_rsa_from_pem(const char *pem, size_t len, const char *kid, sg_jwt_rsa **out);
/* Appends the PKCS#8 PEM of the private key to out (for storage). */
int sg_jwt_rsa_to_pem(const sg_jwt_rsa *k, sg_buf *out);
/* Attaches a DER certificate (copied) exported as x5c / x5t in the JWK and x5t in headers. */
int sg_jwt_rsa_set_cert(sg_jwt_rsa *k, const void *der, size_t len);
const char *sg_jwt_rsa_kid(const sg_jwt_rsa *k);
/* New JWK object for the PUBLIC key: {"kty":"RSA","use":"sig","kid":..,"n":..,"e":..
 * [,"x5t":..,"x5c":[..]]}. Caller decrefs. */
int sg_jwt_rsa_public_jwk(const sg_jwt_rsa *k, json_t **out);
void sg_jwt_rsa_free(sg_jwt_rsa *k); /* NULL-safe */

/* Signs claims with RS256. Header {"alg":"RS256","typ":"JWT","kid":<kid>[,"x5t":..]} plus the
 * members of extra_header (optional object, borrowed; cannot override alg). */
int sg_jwt_sign_rs256(const sg_jwt_rsa *k, const json_t *extra_header, const json_t *claims,
                      char **out);

typedef struct sg_jwks sg_jwks; /* set of RSA public keys by kid */

sg_jwks *sg_jwks_new(void);
void sg_jwks_free(sg_jwks *s); /* NULL-safe */
/* Adds the public half of k. SG_EEXIST if the kid is already present. */
int sg_jwks_add_rsa(sg_jwks *s, const sg_jwt_rsa *k);
/* Adds one JWK object (kty RSA, n, e, kid required; "use" other than "sig" skipped with
 * SG_EUNSUPPORTED). */
int sg_jwks_add_jwk(sg_jwks *s, const json_t *jwk);
/* Adds every usable key of a JWKS document {"keys":[...]}; returns the number added (>= 0)
 * or a negative sg_err if the document is malformed. */
int sg_jwks_add_json(sg_jwks *s, const json_t *jwks);
/* Adds a PEM public key (SubjectPublicKeyInfo) or certificate under kid. */
int sg_jwks_add_pem(sg_jwks *s, const char *kid, const char *pem, size_t len);
size_t sg_jwks_count(const sg_jwks *s);

/* Verifies an RS256 token: the header kid selects the key (a token without kid is tried
 * against the only key when the set has exactly one). Then as sg_jwt_verify_hs. */
int sg_jwt_verify_rs(const char *token, size_t len, const sg_jwks *keys,
                     const sg_jwt_verify_opts *opts, sg_jwt *out, sg_jwt_error *err);

/* ---- claims validation ---- */

typedef struct sg_jwt_validate_opts {
    int64_t now;     /* unix seconds; 0 = time(NULL) */
    int64_t skew;    /* seconds; < 0 = SG_JWT_DEFAULT_SKEW (so 0 means "no skew") */
    int require_exp; /* 1 (recommended): missing exp is SG_JWT_NO_EXP */
    /* Audience (skipped when scheme == NULL): see sg_jwt_aud_matches. */
    const char *scheme;
    const char *host;
    const char *path;
    const char *hub;
} sg_jwt_validate_opts;

/* Checks exp / nbf (numbers, NumericDate seconds; fractional allowed) and audience of a
 * verified token. SG_OK or SG_EAUTH with err->status EXPIRED / NOT_YET_VALID / NO_EXP /
 * BAD_AUDIENCE. Set opts->skew explicitly: a zero-initialised struct means skew 0. */
int sg_jwt_validate(const sg_jwt *t, const sg_jwt_validate_opts *opts, sg_jwt_error *err);

/* Audience rule of reference §4.2. aud is the claim (string, or array of strings: any
 * element may match). The expected URL is scheme://host/path[?hub=hub]:
 *   - scheme and host compared case-insensitively; any port dropped (on both sides);
 *   - a trailing '/' dropped from both paths; "/client/negotiate" counts as "/client";
 *     paths compared after percent-decoding, ASCII case-insensitively;
 *   - the aud's query is ignored, except that when hub != NULL the aud must carry
 *     hub=<hub> (case-insensitive) — use it for /client and /server;
 *   - so REST audiences match with and without "?api-version=..." / "application=...".
 * host may include ":port". Returns 1 on match, 0 otherwise (also for NULL / bad input). */
int sg_jwt_aud_matches(const json_t *aud, const char *scheme, const char *host, const char *path,
                       const char *hub);
/* Same for one aud string. */
int sg_jwt_aud_str_matches(const char *aud, const char *scheme, const char *host, const char *path,
                           const char *hub);

#endif
