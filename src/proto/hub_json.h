/* proto/hub_json.h — the JSON hub protocol (reference §1.6, HubProtocol.md "JSON Encoding").
 *
 * Each message is one UTF-8 JSON object terminated by 0x1E. Property names are
 * case-sensitive. Strict checks: "type" must be an integer 1..9 (unknown → SG_EPROTO);
 * required fields must be present with the right JSON type (target: string, arguments:
 * array, invocationId: string, streamIds: array of strings, headers: object of strings,
 * error: string, allowReconnect: bool, sequenceId: non-negative integer); a Completion with
 * both "result" and "error" is SG_EPROTO. Unknown properties are ignored (as ASP.NET Core
 * does). Binary values are written as base64 strings; JSON never produces binary nodes.
 *
 * Return codes, ownership and `raw` exactly as sg_hub_parse / sg_hub_write in proto/hubmsg.h.
 * Thread-safe (no global state). */
#ifndef SG_PROTO_HUB_JSON_H
#define SG_PROTO_HUB_JSON_H

#include "proto/hubmsg.h"

/* Parses the first 0x1E-terminated message in buf[0..len). SG_EAGAIN if there is no 0x1E
 * yet (SG_ETOOBIG instead once len reaches lim->max_message without one). */
int sg_hub_json_parse(const void *buf, size_t len, const sg_hub_limits *lim, sg_hub_msg *m,
                      size_t *consumed, const char **why);

/* Appends {...} 0x1E for m. */
int sg_hub_json_write(const sg_hub_msg *m, sg_buf *out);

/* Appends the compact JSON text of one value (binary/ext → base64 string), no terminator.
 * Used for arguments and results; exported for the REST layer and tests. SG_EINVAL for
 * values JSON cannot represent (never happens for trees our parsers built). */
int sg_hub_json_write_value(const json_t *v, sg_buf *out);

#endif
