#include "sg_err.h"

#include <errno.h>

const char *sg_strerror(int err)
{
    switch (err) {
    case SG_OK: return "ok";
    case SG_ENOMEM: return "out of memory";
    case SG_EINVAL: return "invalid argument";
    case SG_EPROTO: return "protocol error";
    case SG_ENOTFOUND: return "not found";
    case SG_EEXIST: return "already exists";
    case SG_EAUTH: return "unauthorized";
    case SG_EPERM: return "forbidden";
    case SG_ETOOBIG: return "too large";
    case SG_EIO: return "i/o error";
    case SG_EAGAIN: return "try again";
    case SG_ECLOSED: return "closed";
    case SG_ETIMEDOUT: return "timed out";
    case SG_EUNSUPPORTED: return "not supported";
    case SG_ECONFLICT: return "conflict";
    case SG_EINTERNAL: return "internal error";
    case SG_ELIMIT: return "limit reached";
    default: return "unknown error";
    }
}

int sg_err_from_errno(int e)
{
    if (e < 0)
        e = -e;
    switch (e) {
    case 0: return SG_OK;
    case ENOMEM: return SG_ENOMEM;
    case EINVAL: return SG_EINVAL;
    case ENOENT: return SG_ENOTFOUND;
    case EEXIST: return SG_EEXIST;
    case EACCES:
    case EPERM: return SG_EPERM;
    case EAGAIN: return SG_EAGAIN;
    case ETIMEDOUT: return SG_ETIMEDOUT;
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN: return SG_ECLOSED;
    case EMFILE:
    case ENFILE: return SG_ELIMIT;
    default: return SG_EIO;
    }
}
