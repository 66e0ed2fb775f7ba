/* proto/handshake.h — SignalR hub-protocol handshake (reference §1.5, HubProtocol.md).
 *
 * Client → server: {"protocol":"json"|"messagepack","version":1} 0x1E (always JSON text).
 * Server → client: {} 0x1E on success, {"error":"..."} 0x1E on failure (then close).
 * The handshake may arrive split over several reads and may be followed, in the same read,
 * by the first hub messages: parsers report how many bytes they consumed.
 *
 * Pure functions, no I/O, thread-safe. */
#ifndef SG_PROTO_HANDSHAKE_H
#define SG_PROTO_HANDSHAKE_H

#include "sg_buf.h"

#include <stddef.h>
#include <stdint.h>

#define SG_HANDSHAKE_RS 0x1e
/* Default cap on the handshake request size (bytes, terminator included). */
#define SG_HANDSHAKE_MAX 4096
#define SG_HANDSHAKE_PROTOCOL_MAX 64

/* Hub protocols sigrid speaks. */
typedef enum sg_hub_protocol {
    SG_HUB_PROTO_UNKNOWN = 0,
    SG_HUB_PROTO_JSON = 1,    /* "json", version 1 (text) */
    SG_HUB_PROTO_MSGPACK = 2, /* "messagepack", version 1 (binary) */
} sg_hub_protocol;

/* "json" / "messagepack" (static), or "" for UNKNOWN. */
const char *sg_hub_protocol_name(sg_hub_protocol p);
/* Exact, case-sensitive match as in ASP.NET Core ("json", "messagepack"); UNKNOWN otherwise. */
sg_hub_protocol sg_hub_protocol_from_name(const char *name);

typedef struct sg_handshake_req {
    /* The requested name as sent (NUL-terminated, truncated never: longer names are SG_EPROTO). */
    char protocol_name[SG_HANDSHAKE_PROTOCOL_MAX + 1];
    sg_hub_protocol protocol; /* UNKNOWN if the name is not one we speak */
    int64_t version;          /* as sent; we support 1 (ASP.NET also accepts higher minor use) */
} sg_handshake_req;

/* Parses a handshake request at the start of buf[0..len).
 * max: cap in bytes including the 0x1E (0 = SG_HANDSHAKE_MAX).
 * Returns SG_OK: *req filled, *consumed = bytes up to and including the 0x1E (the rest of
 *                buf is hub-protocol data);
 *         SG_EAGAIN: no 0x1E yet and len < max — read more;
 *         SG_ETOOBIG: no 0x1E within max bytes;
 *         SG_EPROTO: not a valid handshake (bad JSON / UTF-8, not an object, missing or
 *                mistyped "protocol" (string) or "version" (integer)); *why (optional) gets a
 *                static human-readable reason.
 * An unknown protocol name is NOT an error here: req->protocol == SG_HUB_PROTO_UNKNOWN and
 * the caller answers with sg_handshake_write_error(..."Requested protocol '<x>' is not
 * available."). Unknown extra properties are ignored (like ASP.NET Core). */
int sg_handshake_parse_request(const void *buf, size_t len, size_t max, sg_handshake_req *req,
                               size_t *consumed, const char **why);

/* Highest hub-protocol version accepted: 2 is what clients send with stateful reconnect
 * (Ack/Sequence), 1 without; the message formats are the same. */
#define SG_HANDSHAKE_MAX_VERSION 2

/* Checks a parsed request against what this server supports (json and messagepack,
 * versions 1..SG_HANDSHAKE_MAX_VERSION). Returns SG_OK, or SG_EUNSUPPORTED and writes the
 * error text ASP.NET Core uses into err[0..errlen) (e.g. "Requested protocol 'x' is not
 * available." / "The server does not support version 3 of the 'json' protocol."). */
int sg_handshake_check(const sg_handshake_req *req, char *err, size_t errlen);

/* Appends {"protocol":"<name>","version":<v>} 0x1E (client side). */
int sg_handshake_write_request(sg_buf *out, sg_hub_protocol p, int version);
/* Appends {} 0x1E. */
int sg_handshake_write_ok(sg_buf *out);
/* Appends {"error":"<msg, JSON-escaped>"} 0x1E. msg must be valid UTF-8 (else SG_EINVAL). */
int sg_handshake_write_error(sg_buf *out, const char *msg);

/* Client side: parses the server's response at the start of buf.
 * SG_OK with *consumed set and *error_out = NULL on success, or *error_out = new sg_malloc'd
 * copy of the "error" text (caller sg_frees) when the server refused (still SG_OK: the
 * response itself was well-formed). SG_EAGAIN / SG_ETOOBIG / SG_EPROTO as above. */
int sg_handshake_parse_response(const void *buf, size_t len, size_t max, char **error_out,
                                size_t *consumed, const char **why);

#endif
