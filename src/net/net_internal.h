/* net_internal.h — private plumbing shared by the .c files of src/net (not for other layers).
 *
 * One sg__netctx per server (listener): prepare/check handles that run deferred work and
 * flush dirty streams once per loop turn, a sweep timer for deadlines and slow consumers,
 * the shared 64 KiB read buffer and the list of every stream it owns. */
#ifndef SG_NET_INTERNAL_H
#define SG_NET_INTERNAL_H

#include "net/stream.h"

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SG__RBUF_SIZE (64 * 1024)
#define SG__TLSBUF_SIZE (16 * 1024)
#define SG__FLATBUF_SIZE (64 * 1024)

typedef struct sg__netctx {
    uv_loop_t *loop;
    uv_prepare_t prep;
    uv_check_t check;
    uv_timer_t sweep;
    uv_timer_t hold;    /* releases held streams when no input came within ~1 ms */
    sg_stream *pending; /* streams with deferred work (singly linked, s->pnext) */
    sg_stream *held;    /* hot streams whose small flush waits for the next check (s->pnext) */
    uint32_t turn;      /* check phases run so far */
    uint32_t nreads;    /* reads so far; held streams leave at the first check after a read */
    uint32_t held_reads;
    int hold_episode;     /* a hold episode is running (its HOLD_MS timer bounds it) */
    uint32_t flushed_last, flushed_now; /* streams written in the previous / this check */
    uint32_t qmax_now;  /* most frames one push stream carried in this check's flushes */
    uint32_t batch_hi;  /* recent fan-out batch size (frames per push-stream flush) */
    int in_check;       /* 1 in the check phase, 2 in the hold timer's flush, else 0 */
    sg_stream *all;     /* every stream (doubly linked) */
    size_t nstreams;
    char *rbuf;   /* shared read buffer, allocated on first read */
    char *tlsbuf; /* shared plaintext buffer for SSL_read */
    char *flatbuf; /* small flushes are copied here and written as one segment */
    sg_stream_limits deflim;
    int nhandles_open;                        /* prep/check/sweep/idle open (stop waits for 0) */
    void (*on_empty)(struct sg__netctx *ctx); /* stopping and the last stream is gone */
    void *owner;
} sg__netctx;

/* Internal hooks owned by the same party as the public cbs. */
typedef struct sg__stream_hooks {
    /* Peer half-closed (EOF). NULL = close with SG_ECLOSED. */
    void (*on_eof)(sg_stream *s, void *ud);
    /* Deferred work requested with sg__stream_defer(), run from prepare/check. */
    void (*on_defer)(sg_stream *s, void *ud);
} sg__stream_hooks;

int sg__netctx_init(sg__netctx *ctx, uv_loop_t *loop);
/* Closes every stream (graceful flush bounded by 1 s) and the handles; ctx->on_empty runs
 * when everything is gone (from a close callback). */
void sg__netctx_stop(sg__netctx *ctx);

/* Accepts one pending connection from `listener` into a new stream (TCP_NODELAY on, peer
 * address recorded, TLS server state when tls != NULL). Reading starts at once. */
int sg__stream_accept(sg__netctx *ctx, uv_stream_t *listener, SSL_CTX *tls, sg_stream **out);
void sg__stream_set_hooks(sg_stream *s, const sg__stream_hooks *h);
/* Schedule hooks.on_defer for this loop turn (prepare or check). */
void sg__stream_defer(sg_stream *s);
/* Run hooks.on_defer once the queued output has drained to 256 KiB or less (output
 * backpressure: stop producing, get called back when the peer has caught up). */
void sg__stream_want_drain(sg_stream *s);
/* Marks a push-mostly stream (WebSocket, SSE): while the loop is fanning out, its small flushes
 * may wait one loop turn to share a writev with the next turn's frames (see stream.c). */
void sg__stream_set_coalesce(sg_stream *s);
/* Close with a specific reason (SG_OK, SG_ELIMIT, ...). */
void sg__stream_close_reason(sg_stream *s, int reason, int graceful);
/* Absolute deadline (uv_now based); 0 clears it. Past it the stream closes with SG_ETIMEDOUT.
 * Checked by a 250 ms sweep. */
void sg__stream_set_deadline(sg_stream *s, uint64_t when_ms);
void sg__stream_set_timeout(sg_stream *s, uint32_t ms); /* 0 clears */
/* Graceful close without the lingering read (server shutdown). */
void sg__stream_set_no_linger(sg_stream *s);
sg__netctx *sg__stream_ctx(const sg_stream *s);
void *sg__stream_ud(const sg_stream *s);

#endif
