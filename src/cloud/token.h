/* token.h — access-token issuance for the local Entra ID tenant: the signing key ring
 * (RS256, RSA 2048, kept in the store, rotated, previous keys published until their tokens
 * expire), the JWKS document, and the claims of the v1-shaped app-only tokens sigrid issues
 * (managed identities and client credentials alike; INTERFACE §6).
 *
 * The pure parts (claims JSON, rotation plan) do no I/O and are unit-tested; the key ring
 * parses each key's PEM once (proto/jwt.h's sg_jwt_rsa) and signs / verifies / exports JWKs
 * with proto/jwt.h.
 * Threading: a key ring belongs to one loop (the cloud's). */
#ifndef SG_CLOUD_TOKEN_H
#define SG_CLOUD_TOKEN_H

#include "cloud/store.h"
#include "proto/jwt.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SG_TOK_MAX_KEYS 8
#define SG_TOK_SKEW_S 300 /* iat/nbf are backdated this much; retired keys live this much longer   \
                           */

/* ---- claims ---------------------------------------------------------------------------- */

typedef struct sg_tok_claims {
    const char *aud; /* resource as requested, e.g. "https://signalr.azure.com" */
    const char *iss; /* "{cloud}/{tid}/" */
    const char *tid;
    const char *oid;        /* object id; sub = oid */
    const char *appid;      /* client id */
    const char *appidacr;   /* "2" managed identity (certificate), "1" client secret */
    const char *xms_mirid;  /* managed identities: ARM id of the identity's resource; or NULL */
    const char *xms_az_rid; /* user-assigned MI: ARM id of the compute resource; or NULL */
    const char *uti;        /* unique token id (base64url); NULL = generate */
    int64_t iat, nbf, exp;
} sg_tok_claims;

/* Claims object for `c` (aud, iss, iat, nbf, exp, appid, appidacr, idp, idtyp, oid, sub, tid,
 * uti, ver "1.0", xms_mirid, xms_az_rid). New reference (caller decrefs) or NULL (OOM /
 * missing aud, iss, tid, oid or appid). */
json_t *sg_tok_claims_obj(const sg_tok_claims *c);
/* Same as compact JSON: a new string (sg_free) or NULL. */
char *sg_tok_claims_json(const sg_tok_claims *c);

/* ---- rotation plan (pure) --------------------------------------------------------------- */

typedef struct sg_tok_keymeta {
    int64_t created;
    int64_t not_after; /* 0 = may sign (active) */
    int64_t expires;   /* 0 = never dropped; else removed from JWKS/store after it */
} sg_tok_keymeta;

typedef struct sg_tok_plan {
    int need_new;                /* generate a key and make it the active one */
    int active;                  /* index of the key that signs now (-1 when need_new) */
    int retire[SG_TOK_MAX_KEYS]; /* 1 = set not_after = now, expires = now + lifetime + skew */
    int drop[SG_TOK_MAX_KEYS];   /* 1 = delete (its tokens have all expired) */
} sg_tok_plan;

/* Decides what to do with keys k[0..n) at `now`: the newest key that may sign is active
 * unless older than rotate_after_s (or `force`); other signing keys are retired; retired keys
 * whose `expires` has passed are dropped. max_lifetime_s is the longest token lifetime. */
void sg_tok_plan_rotation(const sg_tok_keymeta *k, size_t n, int64_t now, int64_t rotate_after_s,
                          int force, sg_tok_plan *out);

/* ---- key ring ----------------------------------------------------------------------------- */

typedef struct sg_tok_key {
    char kid[64]; /* RFC 7638 JWK thumbprint (base64url SHA-256) for keys sigrid made */
    sg_jwt_rsa *rsa;
    json_t *jwk; /* public JWK as published: kty, use, kid, n, e, alg, x5t */
    sg_tok_keymeta meta;
} sg_tok_key;

typedef struct sg_keyring {
    sg_tok_key keys[SG_TOK_MAX_KEYS];
    size_t n;
    int active; /* index of the signing key */
    char *jwks; /* {"keys":[...]} for every key in the ring */
    size_t jwks_len;
    sg_jwks *pub; /* the same keys, for verification */
    uint64_t gen; /* moves on every time pub is rebuilt (a key added, rotated or dropped) */
    int64_t max_lifetime_s;
    int64_t rotate_after_s;
} sg_keyring;

/* Loads the ring from the store, applies the rotation plan (creating the first key, rotating
 * an old one, dropping expired ones) and builds the JWKS. Returns SG_OK or an sg_err. */
int sg_keyring_load(sg_keyring *kr, sg_store *st, int64_t now, int64_t rotate_after_s,
                    int64_t max_lifetime_s);
/* Re-applies the plan (force = rotate now). Returns SG_OK or an sg_err; the ring is unchanged
 * on error. */
int sg_keyring_maintain(sg_keyring *kr, sg_store *st, int64_t now, int force);
void sg_keyring_free(sg_keyring *kr);

/* Generates an RSA 2048 key: PEM (PKCS#8) in *pem (sg_free). */
int sg_tok_rsa_generate(char **pem);
/* Fills key->rsa, jwk and kid from a PEM private key; kid NULL = compute the thumbprint. */
int sg_tok_key_from_pem(sg_tok_key *key, const char *pem, const char *kid);
void sg_tok_key_clear(sg_tok_key *key);

/* RS256 JWT signed with the active key; header {"x5t":kid,"alg":"RS256","typ":"JWT",
 * "kid":kid}. Returns a new string (sg_free) or NULL. */
char *sg_keyring_sign(const sg_keyring *kr, const sg_tok_claims *c);

/* Verifies an RS256 compact JWT against the ring (by kid); 1 = valid signature. Payload JSON
 * (sg_free) in *payload when non-NULL. For tests and diagnostics. */
int sg_keyring_verify(const sg_keyring *kr, const char *jwt, char **payload);

#endif
