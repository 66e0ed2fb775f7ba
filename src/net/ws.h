/* ws.h — server-side WebSocket connections (RFC 6455) on top of an accepted HTTP request.
 * Framing is proto/ws_codec (pure, fuzzed); this file does the I/O. Masking required from
 * clients, fragmentation reassembled up to max_message, ping answered with pong, close
 * handshake with status codes, UTF-8 validated on text messages (1007), oversized -> 1009,
 * protocol errors -> 1002.
 *
 * Broadcast frames: build the frame once with sg_ws_frame_rc() and queue the same bytes on
 * every recipient with sg_ws_send_rc(). Threading: the connection's loop only. */
#ifndef SG_NET_WS_H
#define SG_NET_WS_H

#include "net/http.h"
#include "sg_rcbuf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sg_ws sg_ws;

typedef struct sg_ws_cbs {
    /* A complete (reassembled) message. binary = opcode was 2. */
    void (*on_message)(sg_ws *ws, int binary, const char *p, size_t n, void *ud);
    /* Exactly once; code = the close code received or sent (1006 if the socket dropped).
     * Memory is freed after it returns. */
    void (*on_close)(sg_ws *ws, uint16_t code, const char *reason, void *ud);
} sg_ws_cbs;

typedef struct sg_ws_opts {
    size_t max_message;          /* default 1 MiB; bigger -> close 1009 */
    const sg_stream_limits *out; /* output queue limits (NULL = stream defaults) */
} sg_ws_opts;

/* Returns 1 if r is a WebSocket upgrade request (GET + Upgrade: websocket + Connection: upgrade
 * + key + version). */
int sg_ws_is_upgrade(const sg_http_req *r);
/* Added: Sec-WebSocket-Accept value for a Sec-WebSocket-Key (base64(SHA1(key + GUID))), 28
 * chars + NUL. SG_OK or SG_EINTERNAL. */
int sg_ws_accept_key(const char *key, size_t n, char out[29]);
/* Answers 101, takes over the connection. On error (bad key/version) responds 400 itself
 * and returns SG_EINVAL. After success, r is gone. No callback runs before this returns
 * (bytes the client sent right after its request are processed on the next loop turn). */
int sg_ws_accept(sg_http_req *r, const sg_ws_opts *opts, const sg_ws_cbs *cbs, void *ud,
                 sg_ws **out);

int sg_ws_send(sg_ws *ws, int binary, const void *p, size_t n); /* frames + copies */
/* A complete server->client frame (unmasked) holding p[0..n), refs = 1; NULL on OOM. */
sg_rcbuf *sg_ws_frame_rc(int binary, const void *p, size_t n);
int sg_ws_send_rc(sg_ws *ws, sg_rcbuf *frame); /* takes its own reference */
/* Sends a close frame (code, reason) and closes after the peer answers or 2 s. */
void sg_ws_close(sg_ws *ws, uint16_t code, const char *reason);
size_t sg_ws_queued(const sg_ws *ws);
sg_stream *sg_ws_stream(sg_ws *ws);
void sg_ws_set_ud(sg_ws *ws, void *ud);

#endif
