/* ws_codec.h — RFC 6455 WebSocket framing without I/O, shared by the server (net/ws.c), the
 * load generator and the SDK's WebSocket client.
 *
 *  - sg_wsc_parse_header(): one frame header from bytes (needs-more / malformed / ok).
 *  - sg_wsc_mask(): (un)mask payload bytes in place.
 *  - sg_wsc_build_header() / sg_wsc_build_frame() / sg_wsc_build_close(): frames out; a
 *    non-NULL mask makes a client->server (masked) frame, NULL a server->client frame.
 *  - sg_wsc_reader: bytes in -> events (complete messages, ping, pong, close), with
 *    fragmentation reassembly, masking rules for its role, control-frame rules, UTF-8 checks on
 *    text and close reasons, and a message size cap. A violation returns the close code to
 *    send (1002 protocol, 1007 bad UTF-8, 1009 too big); the reader is then dead.
 *
 * Pure functions over caller memory; a reader belongs to one thread. */
#ifndef SG_PROTO_WS_CODEC_H
#define SG_PROTO_WS_CODEC_H

#include "sg_buf.h"

#include <stddef.h>
#include <stdint.h>

enum {
    SG_WSC_CONT = 0x0,
    SG_WSC_TEXT = 0x1,
    SG_WSC_BINARY = 0x2,
    SG_WSC_CLOSE = 0x8,
    SG_WSC_PING = 0x9,
    SG_WSC_PONG = 0xA,
};

enum {
    SG_WSC_NORMAL = 1000,
    SG_WSC_GOING_AWAY = 1001,
    SG_WSC_PROTOCOL_ERROR = 1002,
    SG_WSC_UNSUPPORTED = 1003,
    SG_WSC_NO_STATUS = 1005, /* never sent: "the close frame had no code" */
    SG_WSC_ABNORMAL = 1006,  /* never sent: "the connection dropped" */
    SG_WSC_INVALID_DATA = 1007,
    SG_WSC_POLICY = 1008,
    SG_WSC_TOO_BIG = 1009,
    SG_WSC_INTERNAL = 1011,
};

#define SG_WSC_MAX_HEADER 14 /* 2 + 8 (length) + 4 (mask) */
#define SG_WSC_MAX_CONTROL 125

typedef struct sg_wsc_header {
    uint8_t fin;
    uint8_t rsv; /* the three RSV bits, (b0 >> 4) & 7 */
    uint8_t opcode;
    uint8_t masked;
    uint8_t mask[4];
    uint64_t len;   /* payload length */
    size_t hdr_len; /* bytes of header (payload starts there) */
} sg_wsc_header;

/* SG_OK: h filled. SG_EAGAIN: need more bytes. SG_EPROTO: a 64-bit length with the top bit
 * set, or a length not in its minimal encoding. */
int sg_wsc_parse_header(const void *p, size_t n, sg_wsc_header *h);

/* XORs p[0..n) with mask, where p[0] is byte `pos` of the payload. Masking = unmasking. */
void sg_wsc_mask(void *p, size_t n, const uint8_t mask[4], uint64_t pos);

/* Writes a frame header into out (>= SG_WSC_MAX_HEADER bytes), returns its length. mask NULL
 * = unmasked (server). */
size_t sg_wsc_build_header(uint8_t *out, int fin, int opcode, uint64_t len, const uint8_t *mask);
/* Appends a whole frame (payload masked when mask != NULL) to out. SG_OK/SG_ENOMEM/SG_ETOOBIG. */
int sg_wsc_build_frame(sg_buf *out, int fin, int opcode, const void *p, size_t n,
                       const uint8_t *mask);
/* Client side: appends a masked frame with a fresh random mask. */
int sg_wsc_build_masked_frame(sg_buf *out, int fin, int opcode, const void *p, size_t n);
/* Appends a close frame: code (0 = no code) and reason (truncated to fit 125 bytes). */
int sg_wsc_build_close(sg_buf *out, uint16_t code, const char *reason, const uint8_t *mask);
/* 1 if `code` may appear in a close frame on the wire. */
int sg_wsc_close_code_valid(uint16_t code);

/* ---- reader ----------------------------------------------------------------------------- */

enum { SG_WSC_EV_MESSAGE = 1, SG_WSC_EV_PING, SG_WSC_EV_PONG, SG_WSC_EV_CLOSE };

typedef struct sg_wsc_event {
    int type;
    int binary; /* MESSAGE: opcode was 2 */
    char *p;    /* payload (unmasked); valid only during the callback */
    size_t n;
    uint16_t code; /* CLOSE: status code, SG_WSC_NO_STATUS if none; p/n = reason */
} sg_wsc_event;

/* Return 0 to continue, non-zero to stop (remaining input is dropped). */
typedef int (*sg_wsc_event_fn)(void *ud, const sg_wsc_event *ev);

typedef struct sg_wsc_reader {
    sg_buf in;          /* partial frame carried between feeds */
    sg_buf msg;         /* fragments of the message being reassembled */
    size_t max_message; /* 0 = 1 MiB */
    uint8_t server;     /* 1: peer is a client (frames must be masked); 0: must not be */
    uint8_t msg_opcode; /* opcode of the fragmented message in progress, 0 = none */
    uint8_t dead;       /* violation seen, close received, or stopped */
} sg_wsc_reader;

void sg_wsc_reader_init(sg_wsc_reader *r, int server, size_t max_message);
/* Consumes p[0..n) (p is modified: payloads are unmasked in place; p may be NULL when n == 0,
 * which processes what is already buffered). Returns 0, or a close code (1002/1007/1009, or
 * 1011 on allocation failure) after which the reader is dead. Once dead, input is ignored. */
int sg_wsc_reader_feed(sg_wsc_reader *r, char *p, size_t n, sg_wsc_event_fn fn, void *ud);
/* Queue bytes for the next feed without processing them (e.g. bytes that arrived with the
 * HTTP upgrade). SG_OK/SG_ENOMEM. */
int sg_wsc_reader_push(sg_wsc_reader *r, const void *p, size_t n);
void sg_wsc_reader_free(sg_wsc_reader *r);

#endif
