/* sg_err.h — one error enum for all of sigrid. 0 = ok, negative = failure.
 * errno values are converted at the syscall boundary with sg_err_from_errno(). */
#ifndef SG_ERR_H
#define SG_ERR_H

typedef enum sg_err {
    SG_OK = 0,
    SG_ENOMEM = -1,    /* allocation failed */
    SG_EINVAL = -2,    /* bad argument or malformed input */
    SG_EPROTO = -3,    /* protocol violation by the peer */
    SG_ENOTFOUND = -4, /* unknown id / missing entity */
    SG_EEXIST = -5,    /* already exists */
    SG_EAUTH = -6,     /* authentication failed (401) */
    SG_EPERM = -7,     /* authenticated but not allowed (403) */
    SG_ETOOBIG = -8,   /* size limit exceeded */
    SG_EIO = -9,       /* I/O or system call failure */
    SG_EAGAIN = -10,   /* would block / need more input */
    SG_ECLOSED = -11,  /* connection or object already closed */
    SG_ETIMEDOUT = -12,
    SG_EUNSUPPORTED = -13,
    SG_ECONFLICT = -14, /* state conflict (409) */
    SG_EINTERNAL = -15,
    SG_ELIMIT = -16, /* resource limit reached (connection cap, queue full) */
} sg_err;

/* Static, never NULL, for any value (unknown values give "unknown error"). */
const char *sg_strerror(int err);

/* Maps an errno value (positive) or a libuv error (negative errno) to sg_err. */
int sg_err_from_errno(int e);

#endif
