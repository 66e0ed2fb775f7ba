/* sigrid/common.h — what every libsigrid header shares: export marking, the error enum.
 *
 * libsigrid is the client side of sigrid (and of Azure SignalR Service): credentials that get
 * Microsoft Entra ID tokens (managed identity, client secret, environment, the default chain)
 * and a SignalR service endpoint (REST sends, negotiate). It works against sigrid and against
 * real Azure (169.254.169.254, login.microsoftonline.com, *.service.signalr.net) alike.
 *
 * Conventions of the whole API:
 *   - handles are opaque (sg_credential, sg_service_endpoint) and created by *_new functions;
 *   - options structs start with `size_t size` = sizeof(the struct) as the caller compiled it,
 *     so fields can be added without breaking callers; a NULL options pointer = all defaults;
 *   - functions return 0 (SG_OK) or a negative sg_err value; sg_strerror() names it;
 *   - strings handed out are owned by the struct that carries them and released by its
 *     *_clear / *_free function; nothing aborts on out-of-memory (SG_ENOMEM is returned).
 *   - every call may block (HTTP); every handle may be used from several threads at once. */
#ifndef SIGRID_COMMON_H
#define SIGRID_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define SIGRID_API __attribute__((visibility("default")))
#else
#define SIGRID_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The one error enum of sigrid (identical to the internal base/sg_err.h; whichever header comes
 * first defines it). Meanings in libsigrid:
 *   SG_ENOTFOUND  credential unavailable here (a chain moves on to its next credential);
 *   SG_EAUTH      authentication failed (Entra refused the credential; a chain stops);
 *   SG_EPERM      the service refused the request (403);
 *   SG_EIO        no HTTP answer (network); SG_EPROTO the answer was not what the protocol says;
 *   SG_EINVAL     bad argument or configuration (message in the err buffer). */
#ifndef SG_ERR_H
#define SG_ERR_H
typedef enum sg_err {
    SG_OK = 0,
    SG_ENOMEM = -1,
    SG_EINVAL = -2,
    SG_EPROTO = -3,
    SG_ENOTFOUND = -4,
    SG_EEXIST = -5,
    SG_EAUTH = -6,
    SG_EPERM = -7,
    SG_ETOOBIG = -8,
    SG_EIO = -9,
    SG_EAGAIN = -10,
    SG_ECLOSED = -11,
    SG_ETIMEDOUT = -12,
    SG_EUNSUPPORTED = -13,
    SG_ECONFLICT = -14,
    SG_EINTERNAL = -15,
    SG_ELIMIT = -16,
} sg_err;
const char *sg_strerror(int err);
#endif

#ifdef __cplusplus
}
#endif

#endif
