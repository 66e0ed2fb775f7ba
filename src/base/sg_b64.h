/* sg_b64.h — base64 (RFC 4648 §4) and base64url (§5) codecs.
 * Encoders write a NUL-terminated string and return its length, or -1 if out is too small
 * (needs 4*ceil(n/3)+1 bytes). Decoders accept input with or without padding, reject any
 * other character, and return the decoded length or -1; out needs 3*(n/4)+3 bytes. */
#ifndef SG_B64_H
#define SG_B64_H

#include <stddef.h>

#define SG_B64_ENC_LEN(n) ((((n) + 2) / 3) * 4 + 1)
#define SG_B64_DEC_LEN(n) (((n) / 4) * 3 + 3)

long sg_b64_encode(const void *in, size_t n, char *out, size_t outlen);
long sg_b64url_encode(const void *in, size_t n, char *out, size_t outlen); /* no padding */
long sg_b64_decode(const char *in, size_t n, void *out, size_t outlen);
long sg_b64url_decode(const char *in, size_t n, void *out, size_t outlen);

#endif
