/* proto/hub_msgpack.h — the MessagePack hub protocol (reference §1.7, HubProtocol.md
 * "MessagePack (MsgPack) encoding").
 *
 * Each message is VarInt(length) + one MessagePack array:
 *   [1, headers, invocationId|nil, target, arguments, streamIds]   (streamIds optional on read)
 *   [2, headers, invocationId, item]
 *   [3, headers, invocationId, resultKind(1 error|2 void|3 result), result?]
 *   [4, headers, invocationId, target, arguments, streamIds]
 *   [5, headers, invocationId]
 *   [6]                              (Ping: exactly 02 91 06 on the wire)
 *   [7, error|nil, allowReconnect?]
 *   [8, sequenceId]  [9, sequenceId]
 * headers = map str→str. Trailing extra array elements are skipped (forward compatibility);
 * an unknown type is SG_EPROTO. The reader is our own bounded pull parser (no msgpack-c
 * unpacker: it pre-allocates peer-announced counts) — every count is checked against the
 * bytes actually present and against the caps before anything is allocated.
 * Example: non-blocking invocation of method(42) = 0e 96 01 80 c0 a6 'method' 91 2a 90.
 *
 * Return codes, ownership and `raw` exactly as sg_hub_parse / sg_hub_write in proto/hubmsg.h.
 * Thread-safe (no global state). */
#ifndef SG_PROTO_HUB_MSGPACK_H
#define SG_PROTO_HUB_MSGPACK_H

#include "proto/hubmsg.h"

/* Parses the first VarInt-framed message in buf[0..len). SG_ETOOBIG as soon as the prefix
 * announces more than lim->max_message bytes. */
int sg_hub_msgpack_parse(const void *buf, size_t len, const sg_hub_limits *lim, sg_hub_msg *m,
                         size_t *consumed, const char **why);

/* Appends VarInt + array for m. */
int sg_hub_msgpack_write(const sg_hub_msg *m, sg_buf *out);

/* Appends the MessagePack encoding of one value (no framing). Binary nodes → bin, ext nodes →
 * ext, integers compact, reals float64, objects → map with str keys. */
int sg_hub_msgpack_write_value(const json_t *v, sg_buf *out);

/* Decodes ONE MessagePack value from p[0..n) into a json_t tree (new reference in *out),
 * with the caps of lim (NULL = defaults). *used = bytes consumed. Errors: SG_EPROTO
 * (truncated / malformed / unsupported map key), SG_ELIMIT, SG_ETOOBIG, SG_ENOMEM. */
int sg_hub_msgpack_read_value(const void *p, size_t n, const sg_hub_limits *lim, json_t **out,
                              size_t *used);

#endif
