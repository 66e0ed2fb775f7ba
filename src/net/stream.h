/* stream.h — one accepted TCP (optionally TLS) connection with a coalescing output queue.
 *
 * Output: every write queues a reference to bytes (an sg_rcbuf shared between recipients, or
 * a private copy). A stream with queued bytes is flushed once per loop turn (uv_check) with a
 * single vectored uv_try_write of everything queued; what the kernel does not take waits for
 * writability. TLS streams encrypt at flush time.
 *
 * Slow consumers: when queued bytes exceed `soft_limit` for longer than `soft_grace_ms`, or
 * exceed `hard_limit` at any time, the stream is closed with SG_ELIMIT. Callers never block.
 *
 * Lifetime: close is a request. sg_stream_close() (or a peer close / error) calls on_close once,
 * from the loop, never from inside the caller's own call; memory is freed after on_close
 * returns. All functions must be called on the stream's loop thread. */
#ifndef SG_NET_STREAM_H
#define SG_NET_STREAM_H

#include "sg_rcbuf.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sg_stream sg_stream;

typedef struct sg_stream_limits {
    size_t soft_limit;      /* bytes; 0 = none */
    uint32_t soft_grace_ms; /* how long soft_limit may be exceeded */
    size_t hard_limit;      /* bytes; 0 = none */
} sg_stream_limits;

typedef struct sg_stream_cbs {
    /* Plaintext bytes from the peer. */
    void (*on_data)(sg_stream *s, const char *p, size_t n, void *ud);
    /* Called exactly once. reason: SG_OK (closed by us), SG_ECLOSED (peer closed),
     * SG_ELIMIT (output limits), SG_ETIMEDOUT, SG_EIO, SG_EPROTO (TLS). */
    void (*on_close)(sg_stream *s, int reason, void *ud);
} sg_stream_cbs;

/* Replace callbacks/user data (used when HTTP hands a connection over to WebSocket/SSE). */
void sg_stream_set_cbs(sg_stream *s, const sg_stream_cbs *cbs, void *ud);
void sg_stream_set_limits(sg_stream *s, const sg_stream_limits *lim);

/* Queue bytes. write_rc takes its own reference to b (the caller keeps its own).
 * Return SG_OK, SG_ECLOSED (stream closing: bytes dropped), SG_ENOMEM or SG_ELIMIT. */
int sg_stream_write_rc(sg_stream *s, sg_rcbuf *b, size_t off, size_t len);
int sg_stream_write(sg_stream *s, const void *p, size_t n);
size_t sg_stream_queued(const sg_stream *s);

/* Stop/resume delivering on_data (backpressure for pipelined HTTP). */
void sg_stream_pause(sg_stream *s);
void sg_stream_resume(sg_stream *s);

/* Request close. graceful != 0: flush queued bytes first (bounded by 5 s), then close. */
void sg_stream_close(sg_stream *s, int graceful);
int sg_stream_is_closing(const sg_stream *s);

/* Peer address as text ("127.0.0.1"), local port, and whether TLS is on. */
const char *sg_stream_peer_ip(const sg_stream *s);
int sg_stream_local_port(const sg_stream *s);
int sg_stream_is_tls(const sg_stream *s);
uv_loop_t *sg_stream_loop(const sg_stream *s);

#endif
