/* proto/hubmsg.h — protocol-neutral SignalR hub messages (reference §1.6–1.9, HubProtocol.md).
 *
 * One struct models every message type of both hub protocols. Values (arguments, stream
 * items, completion results) are jansson trees so they round-trip between JSON and
 * MessagePack:
 *   - MessagePack bin  ⇄ a "binary" json_t (see sg_hub_bin_*): written as bin to MessagePack
 *     peers and as a base64 string to JSON peers (what ASP.NET does for byte[]).
 *   - MessagePack ext (e.g. timestamp -1) ⇄ a "ext" json_t; written back as the same ext to
 *     MessagePack peers, as a base64 string of the ext data to JSON peers.
 *   - MessagePack integer keys become decimal string keys; other non-string keys are errors.
 *   - uint64 > INT64_MAX becomes a real; NaN/±Inf become null (jansson cannot hold them).
 *   - JSON integers outside int64 are read as reals.
 *
 * Every parsed message also carries `raw`: the complete framed bytes it came from (JSON text
 * plus its 0x1E, or VarInt prefix plus MessagePack body), borrowed from the caller's input
 * buffer, so a server can forward a client's message without re-encoding.
 *
 * Parsers for each protocol: proto/hub_json.h, proto/hub_msgpack.h. This header has the model,
 * limits, a protocol-dispatching parse/write, and the one-invocation-into-both-protocols
 * encoder used for fan-out.
 *
 * Threading: no global state; a message is owned by one thread at a time. */
#ifndef SG_PROTO_HUBMSG_H
#define SG_PROTO_HUBMSG_H

#include "proto/handshake.h" /* sg_hub_protocol */
#include "sg_buf.h"
#include "sg_rcbuf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sg_hub_type {
    SG_HUB_INVOCATION = 1,
    SG_HUB_STREAM_ITEM = 2,
    SG_HUB_COMPLETION = 3,
    SG_HUB_STREAM_INVOCATION = 4,
    SG_HUB_CANCEL_INVOCATION = 5,
    SG_HUB_PING = 6,
    SG_HUB_CLOSE = 7,
    SG_HUB_ACK = 8,
    SG_HUB_SEQUENCE = 9,
} sg_hub_type;

/* "Invocation", "StreamItem", ... (static); "Unknown" otherwise. */
const char *sg_hub_type_name(int type);

/* Peer-controlled caps applied by both parsers. Pass NULL for the defaults below. */
typedef struct sg_hub_limits {
    size_t max_message;  /* bytes of one framed message (JSON incl. 0x1E; MessagePack body) */
    unsigned max_depth;  /* nesting of arrays/maps inside one message (the message array = 1) */
    size_t max_elements; /* total values (array items + map entries) in one message */
    size_t max_string;   /* bytes of one string/bin value */
} sg_hub_limits;

#define SG_HUB_DEFAULT_MAX_MESSAGE (1u << 20) /* 1 MiB */
#define SG_HUB_DEFAULT_MAX_DEPTH 64
#define SG_HUB_DEFAULT_MAX_ELEMENTS 100000
#define SG_HUB_DEFAULT_MAX_STRING (1u << 20)

/* Fills *l with the defaults. */
void sg_hub_limits_default(sg_hub_limits *l);

/* Completion kinds (MessagePack ResultKind values). */
typedef enum sg_hub_completion_kind {
    SG_HUB_COMPLETION_ERROR = 1,  /* `error` set */
    SG_HUB_COMPLETION_VOID = 2,   /* neither result nor error */
    SG_HUB_COMPLETION_RESULT = 3, /* `result` set (may be json null) */
} sg_hub_completion_kind;

/* A hub message. Fields not used by a type are NULL / 0.
 *
 * Ownership: every pointer field except `raw` is OWNED by the message (sg_malloc'd strings,
 * json_t references) and released by sg_hub_msg_clear(). To build a message for writing,
 * sg_hub_msg_init() it, then set fields with sg_strdup / json references you hand over (or
 * point them at your own data and reset them to NULL before clearing — writers only read). */
typedef struct sg_hub_msg {
    sg_hub_type type;
    json_t *headers;     /* object string→string, or NULL (not on Ping) */
    char *invocation_id; /* Invocation: optional (NULL = non-blocking); StreamItem,
                            Completion, StreamInvocation, CancelInvocation: required */
    char *target;        /* Invocation, StreamInvocation */
    json_t *arguments;   /* Invocation, StreamInvocation: array (required) */
    char **stream_ids;   /* Invocation, StreamInvocation: optional, n_stream_ids entries */
    size_t n_stream_ids;
    json_t *item;                      /* StreamItem (json null allowed, never NULL after parse) */
    sg_hub_completion_kind completion; /* Completion */
    json_t *result;                    /* Completion kind RESULT */
    char *error;             /* Completion kind ERROR (required there); Close (optional) */
    int allow_reconnect;     /* Close: 0/1 */
    int has_allow_reconnect; /* Close: 1 if the field was present / should be written */
    uint64_t sequence_id;    /* Ack, Sequence */

    /* Set by parsers: the complete framed message inside the caller's input buffer
     * (borrowed; valid only as long as that buffer is unchanged). Ignored by writers. */
    const uint8_t *raw;
    size_t raw_len;
} sg_hub_msg;

void sg_hub_msg_init(sg_hub_msg *m);
/* Releases owned fields and re-initialises m. NULL-safe. */
void sg_hub_msg_clear(sg_hub_msg *m);

/* Parses one framed message of protocol `p` at the start of buf[0..len).
 * Returns SG_OK (message in *m, *consumed = its framed length, m->raw points into buf),
 *         SG_EAGAIN (incomplete: keep the bytes, read more),
 *         SG_ETOOBIG (a message exceeds lim->max_message, or a string exceeds max_string),
 *         SG_ELIMIT (depth or element cap exceeded),
 *         SG_EPROTO (malformed; unknown type; missing/mistyped required field; both result
 *                    and error; invalid UTF-8),
 *         SG_ENOMEM.
 * On failure *m is left initialised-empty and *why (optional) gets a static reason. Every
 * failure except SG_EAGAIN means the connection must be closed. To drain a buffer, call
 * repeatedly advancing by *consumed until SG_EAGAIN. */
int sg_hub_parse(sg_hub_protocol p, const void *buf, size_t len, const sg_hub_limits *lim,
                 sg_hub_msg *m, size_t *consumed, const char **why);

/* Appends the framed encoding of m in protocol p to out.
 * SG_EINVAL if m lacks a required field (e.g. Invocation without target/arguments array) or
 * holds a value the protocol cannot carry; SG_ENOMEM / SG_ETOOBIG from the buffer.
 * On failure out->len is restored to its value at entry. */
int sg_hub_write(sg_hub_protocol p, const sg_hub_msg *m, sg_buf *out);

/* Fan-out: serialises ONE Invocation — target, arguments (json array, borrowed; binary
 * values allowed), optional invocation_id (NULL = non-blocking, the usual broadcast) — into
 * BOTH protocols' framed bytes, each a fresh sg_rcbuf with refs = 1 (caller unrefs).
 * Either out pointer may be NULL to skip that protocol. Returns SG_OK, SG_EINVAL, SG_ENOMEM.
 * On failure no buffer is returned. */
int sg_hub_invocation_encode(const char *target, const json_t *arguments, const char *invocation_id,
                             sg_rcbuf **json_out, sg_rcbuf **msgpack_out);

/* The MessagePack Ping frame (02 91 06) and the JSON ping {"type":6} 0x1E, static bytes. */
extern const uint8_t sg_hub_msgpack_ping[3];
extern const char sg_hub_json_ping[]; /* NUL-terminated; length via strlen */

/* ---- binary / ext values inside json_t trees ----
 * Represented as jansson strings carrying an internal tag (a NUL-prefixed marker that a
 * valid JSON text cannot produce by accident), so they survive json_deep_copy, refcounting
 * and arrays. json_string_value() of such a node is "" — use these helpers. */

/* New binary node holding a copy of p[0..n). NULL on OOM. */
json_t *sg_hub_bin_new(const void *p, size_t n);
/* 1 if v is a binary node; then *p (sg_malloc'd copy, caller frees) and *n are set when non-NULL
 * out pointers are given. Returns 0 for other values, -1 on OOM. */
int sg_hub_bin_get(const json_t *v, uint8_t **p, size_t *n);
/* 1 if v is a binary node (cheap check, no decode). */
int sg_hub_is_bin(const json_t *v);
/* New MessagePack ext node (type -128..127, data copied). NULL on OOM. */
json_t *sg_hub_ext_new(int8_t type, const void *p, size_t n);
/* 1 if v is an ext node, filling *type / *p (sg_malloc'd) / *n when non-NULL; 0 if not; -1 OOM. */
int sg_hub_ext_get(const json_t *v, int8_t *type, uint8_t **p, size_t *n);

#endif
