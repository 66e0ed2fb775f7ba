/* lg_jwt.h — HS256 access-key tokens as the Azure SignalR SDKs mint them (reference §4.1):
 * header {"alg":"HS256","typ":"JWT"}, HMAC key = the UTF-8 bytes of the access key as
 * written (not base64-decoded). Included once, by loadgen.c. */
#ifndef LG_JWT_H
#define LG_JWT_H

#include "sg_b64.h"
#include "sg_str.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* Writes header.payload.signature into out. `extra` is appended inside the claims object
 * (e.g. ",\"nameid\":\"u1\"" or ""). Returns the token length or -1 if out is too small. */
/* Key id put in the header (--kid): a temporary key from /api/v1/auth/accessKey is found by
 * it; NULL for the resource's access keys, which the service tries in turn. */
static const char *lg_jwt_kid;

static long lg_jwt_hs256(const char *key, const char *aud, const char *extra, long ttl_s, char *out,
                         size_t outlen)
{
    char hdr[160];
    if (sg_snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"typ\":\"JWT\"%s%.100s%s}",
                    lg_jwt_kid ? ",\"kid\":\"" : "", lg_jwt_kid ? lg_jwt_kid : "",
                    lg_jwt_kid ? "\"" : "") != 0)
        return -1;
    char claims[1024];
    long now = (long)time(NULL);
    if (sg_snprintf(claims, sizeof(claims), "{\"aud\":\"%s\",\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld%s}", aud,
                    now, now - 5, now + ttl_s, extra ? extra : "") != 0)
        return -1;
    long n = sg_b64url_encode(hdr, strlen(hdr), out, outlen);
    if (n < 0 || (size_t)n + 2 >= outlen)
        return -1;
    out[n++] = '.';
    long m = sg_b64url_encode(claims, strlen(claims), out + n, outlen - (size_t)n);
    if (m < 0)
        return -1;
    n += m;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)out, (size_t)n, mac, &maclen))
        return -1;
    if ((size_t)n + 2 >= outlen)
        return -1;
    out[n++] = '.';
    m = sg_b64url_encode(mac, maclen, out + n, outlen - (size_t)n);
    if (m < 0)
        return -1;
    return n + m;
}

#endif
