#include "sg_id.h"

#include "sg_b64.h"
#include "sg_err.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

int sg_random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return SG_EIO;
        }
        p += r;
        n -= (size_t)r;
    }
    return SG_OK;
}

int sg_uuid4(char out[37])
{
    unsigned char b[16];
    int rc = sg_random_bytes(b, sizeof b);
    if (rc)
        return rc;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return SG_OK;
}

int sg_random_token(char *out, size_t outlen, size_t nbytes)
{
    unsigned char b[64];
    if (nbytes > sizeof b)
        return SG_EINVAL;
    int rc = sg_random_bytes(b, nbytes);
    if (rc)
        return rc;
    return sg_b64url_encode(b, nbytes, out, outlen) < 0 ? SG_EINVAL : SG_OK;
}
