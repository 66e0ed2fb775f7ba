/* sg_id.h — randomness and identifiers (CSPRNG via getrandom(2)). */
#ifndef SG_ID_H
#define SG_ID_H

#include <stddef.h>

int sg_random_bytes(void *out, size_t n); /* 0 or SG_EIO */
/* Lower-case RFC 4122 v4 GUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"; out >= 37 bytes. */
int sg_uuid4(char out[37]);
/* URL-safe random token: `nbytes` random bytes as base64url without padding.
 * out must hold 4*nbytes/3 + 4 bytes. */
int sg_random_token(char *out, size_t outlen, size_t nbytes);

#endif
