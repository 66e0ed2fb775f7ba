/* stream.c — accepted TCP/TLS connections with a coalescing, reference-counted output queue,
 * flushed once per loop turn with one vectored write. See docs/internals/net.md. */
#include "net/stream.h"

#include "net/net_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <string.h>

#define IOV_MAX_ENTRIES 128
#define QUEUE_MAX_ENTRIES (1u << 20)
#define PRIV_CHUNK 2048           /* private copies coalesce into chunks of this size */
#define TLS_OUT_HIGH (256 * 1024) /* stop encrypting while this much ciphertext waits */
#define GRACEFUL_MS 5000
#define LINGER_MS 2000
#define SWEEP_MS 250
#define DEFAULT_HARD_LIMIT (32u * 1024 * 1024)
/* Hot-stream coalescing: while the loop is fanning out (>= HOLD_MIN_STREAMS streams written in
 * the previous check phase), a push stream (WebSocket, SSE) that was written in the previous
 * check too and has fewer frames queued than the loop's recent fan-out batches carried
 * (ctx->batch_hi) is held: it is flushed at the first check phase after the loop read more
 * input (or by a HOLD_MS timer), so the frames that input brings leave in the same writev.
 * Each writev costs ~4-5 us of kernel time on loopback and each extra frame in it ~10 ns, and
 * with a bounded number of messages in flight the publishers' messages otherwise settle into
 * two interleaved, half-sized batches (one arrives while the other is being written). A full
 * batch is never held, so a steady stream of full batches pays no extra latency. A stream
 * released by a read that brought only part of the batch may be held again; one hold episode
 * (from the first hold until nothing is held) is bounded by the HOLD_MS timer. */
#define HOLD_MIN_STREAMS 256
#define HOLD_MAX_BYTES (64 * 1024)
#define HOLD_MS 1
#define NHANDLES 4

enum {
    F_CLOSING = 1 << 0,  /* close requested */
    F_GRACEFUL = 1 << 1, /* flush before closing */
    F_PAUSED = 1 << 2,
    F_PENDING = 1 << 3,   /* on ctx->pending */
    F_DEFER = 1 << 4,     /* run hooks.on_defer */
    F_TCPCLOSED = 1 << 5, /* uv_close called */
    F_TAILPRIV = 1 << 6,  /* last queue entry is a private chunk we may append to */
    F_SHUTDOWN = 1 << 7,  /* uv_shutdown sent, lingering */
    F_NOLINGER = 1 << 8,
    F_TLS_DRAIN = 1 << 9, /* SSL may hold plaintext: run SSL_read again */
    F_READING = 1 << 10,
    F_EOF = 1 << 11,
    F_TLS_SHUT = 1 << 12,
    F_WANT_DRAIN = 1 << 13, /* run on_defer once queued bytes fall to DRAIN_LOW */
    F_HELD = 1 << 14,       /* on ctx->held: flushed by the next check phase */
    F_WASHELD = 1 << 15,    /* released from hold in this check */
    F_COALESCE = 1 << 16,   /* push-only stream (WebSocket, SSE): may be held one turn */
    F_QWARM = 1 << 17,      /* the empty queue arrays were used since the last sweep */
};

#define DRAIN_LOW (256 * 1024)

typedef struct qent {
    sg_rcbuf *b;
    uint32_t off;
    uint32_t len;
} qent;

typedef struct queue {
    qent *e;
    uint32_t head, count, cap;
    size_t bytes;
} queue;

typedef struct tls_state {
    SSL *ssl;
    BIO *rbio, *wbio;
    queue wq; /* ciphertext waiting for the socket */
} tls_state;

struct sg_stream {
    uv_tcp_t tcp; /* first: handle <-> stream */
    sg__netctx *ctx;
    sg_stream_cbs cbs;
    sg__stream_hooks hooks;
    void *ud;
    sg_stream *prev, *next, *pnext;
    queue q;           /* plaintext queue */
    uint32_t inflight; /* entries of the wire queue owned by wreq */
    uint32_t flags;
    uint32_t last_turn; /* ctx->turn of the last check phase that wrote to the socket */
    int close_reason;
    uv_write_t *wreq;
    tls_state *tls;
    sg_stream_limits lim;
    uint64_t soft_since;
    uint64_t deadline;
    char peer[46];
};

/* ---- queue ------------------------------------------------------------------------------ */

static qent *q_at(queue *q, uint32_t i)
{
    return &q->e[(q->head + i) & (q->cap - 1)];
}

static int q_push(queue *q, sg_rcbuf *b, uint32_t off, uint32_t len)
{
    if (q->count == q->cap) {
        if (q->cap >= QUEUE_MAX_ENTRIES)
            return SG_ELIMIT;
        uint32_t ncap = q->cap ? q->cap * 2 : 4;
        qent *ne = sg_malloc(sizeof(qent) * ncap);
        if (!ne)
            return SG_ENOMEM;
        for (uint32_t i = 0; i < q->count; i++)
            ne[i] = *q_at(q, i);
        sg_free(q->e);
        q->e = ne;
        q->cap = ncap;
        q->head = 0;
    }
    qent *e = &q->e[(q->head + q->count) & (q->cap - 1)];
    e->b = b;
    e->off = off;
    e->len = len;
    q->count++;
    q->bytes += len;
    return SG_OK;
}

/* Drops n bytes from the front. */
static void q_consume(queue *q, size_t n)
{
    while (n && q->count) {
        qent *e = q_at(q, 0);
        if (n < e->len) {
            e->off += (uint32_t)n;
            e->len -= (uint32_t)n;
            q->bytes -= n;
            return;
        }
        n -= e->len;
        q->bytes -= e->len;
        sg_rcbuf_unref(e->b);
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
    }
    if (q->count == 0)
        q->head = 0; /* the array stays for the next burst; the sweep frees it when idle */
}

/* Frees an empty queue's array: idle connections keep no queue memory. */
static void q_trim(queue *q)
{
    if (q->count == 0 && q->e) {
        sg_free(q->e);
        q->e = NULL;
        q->cap = q->head = 0;
    }
}

static void q_clear(queue *q)
{
    while (q->count) {
        qent *e = q_at(q, 0);
        sg_rcbuf_unref(e->b);
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
    }
    sg_free(q->e);
    memset(q, 0, sizeof(*q));
}

static unsigned q_iov(queue *q, uv_buf_t *iov, unsigned max, size_t *total)
{
    unsigned n = 0;
    size_t t = 0;
    for (uint32_t i = 0; i < q->count && n < max; i++) {
        qent *e = q_at(q, i);
        iov[n] = uv_buf_init(e->b->data + e->off, e->len);
        t += e->len;
        n++;
    }
    *total = t;
    return n;
}

/* ---- ctx -------------------------------------------------------------------------------- */

static void ctx_run_pending(sg__netctx *ctx);
static void stream_process(sg_stream *s);
static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf);

static void on_prepare(uv_prepare_t *h)
{
    ctx_run_pending(h->data);
}

static void stream_mark(sg_stream *s);

/* Marks every held stream for flushing (F_WASHELD). The episode's timer keeps running: a
 * stream whose batch is still small may be held again in the same check (see stream_process);
 * on_check ends the episode when nothing was held again. */
static void held_release(sg__netctx *ctx)
{
    sg_stream *s = ctx->held;
    ctx->held = NULL;
    while (s) {
        sg_stream *n = s->pnext;
        s->pnext = NULL;
        s->flags = (s->flags & ~(uint32_t)F_HELD) | F_WASHELD;
        stream_mark(s);
        s = n;
    }
}

static void on_hold_timer(uv_timer_t *t)
{
    sg__netctx *ctx = t->data;
    held_release(ctx);
    ctx->hold_episode = 0;
    ctx->in_check = 2; /* counted as written in this turn (they stay hot), never held */
    ctx_run_pending(ctx);
    ctx->in_check = 0;
}

static void on_check(uv_check_t *h)
{
    sg__netctx *ctx = h->data;
    ctx->turn++;
    if (ctx->flushed_now >= HOLD_MIN_STREAMS) {
        /* the batch estimate follows a rise at once and a fall within a few heavy turns */
        uint32_t q = ctx->qmax_now;
        ctx->batch_hi = q >= ctx->batch_hi ? q : ctx->batch_hi - (ctx->batch_hi - q + 7) / 8;
    }
    ctx->flushed_last = ctx->flushed_now;
    ctx->flushed_now = 0;
    ctx->qmax_now = 0;
    if (ctx->held && ctx->nreads != ctx->held_reads)
        held_release(ctx);
    ctx->in_check = 1;
    ctx_run_pending(ctx);
    ctx->in_check = 0;
    if (!ctx->held && ctx->hold_episode) { /* the episode is over */
        ctx->hold_episode = 0;
        if (!uv_is_closing((uv_handle_t *)&ctx->hold))
            uv_timer_stop(&ctx->hold);
    }
}

static void stream_mark(sg_stream *s)
{
    if (s->flags & (F_PENDING | F_TCPCLOSED | F_HELD))
        return;
    s->flags |= F_PENDING;
    if (!s->ctx->pending)
        uv_ref((uv_handle_t *)&s->ctx->prep); /* pending work keeps the loop alive */
    s->pnext = s->ctx->pending;
    s->ctx->pending = s;
}

static void ctx_run_pending(sg__netctx *ctx)
{
    /* Work added while processing (a handler answering a pipelined request, a resumed TLS
     * read) runs in the same turn; the bound keeps a pathological ping-pong from stalling. */
    for (int round = 0; round < 16 && ctx->pending; round++) {
        sg_stream *list = ctx->pending;
        ctx->pending = NULL;
        /* Reverse to keep FIFO order, request/response streams first: an HTTP answer (a REST
         * publisher's 202, a negotiate) should not wait behind a fan-out's thousand writes. */
        sg_stream *rev = NULL, *push = NULL;
        while (list) {
            sg_stream *n = list->pnext;
            if (list->flags & F_COALESCE) {
                list->pnext = push;
                push = list;
            } else {
                list->pnext = rev;
                rev = list;
            }
            list = n;
        }
        if (push) {
            sg_stream *tail = rev;
            while (tail && tail->pnext)
                tail = tail->pnext;
            if (tail)
                tail->pnext = push;
            else
                rev = push;
        }
        while (rev) {
            sg_stream *s = rev;
            rev = s->pnext;
            s->pnext = NULL;
            s->flags &= ~(uint32_t)F_PENDING;
            stream_process(s);
        }
    }
    if (!ctx->pending && !uv_is_closing((uv_handle_t *)&ctx->prep))
        uv_unref((uv_handle_t *)&ctx->prep);
}

static void on_sweep(uv_timer_t *t)
{
    sg__netctx *ctx = t->data;
    uint64_t now = uv_now(ctx->loop);
    for (sg_stream *s = ctx->all; s; s = s->next) {
        if (s->flags & F_TCPCLOSED)
            continue;
        if (s->deadline && now >= s->deadline) {
            s->deadline = 0;
            sg__stream_close_reason(s, SG_ETIMEDOUT, 0);
            continue;
        }
        if (s->soft_since && s->lim.soft_limit && now - s->soft_since >= s->lim.soft_grace_ms) {
            SG_LOGI("net", "event=slow_consumer peer=%s queued=%zu policy=soft", s->peer,
                    sg_stream_queued(s));
            sg__stream_close_reason(s, SG_ELIMIT, 0);
        }
        /* A busy stream reuses its queue array from flush to flush (a fan-out round would
         * otherwise grow it 4 -> 8 -> 16 -> 32 entries every time); one left unused for a whole
         * sweep period is freed. */
        if (s->flags & F_QWARM)
            s->flags &= ~(uint32_t)F_QWARM;
        else if (!s->wreq) {
            q_trim(&s->q);
            if (s->tls)
                q_trim(&s->tls->wq);
        }
    }
}

int sg__netctx_init(sg__netctx *ctx, uv_loop_t *loop)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->loop = loop;
    ctx->deflim.hard_limit = DEFAULT_HARD_LIMIT;
    uv_prepare_init(loop, &ctx->prep);
    uv_check_init(loop, &ctx->check);
    uv_timer_init(loop, &ctx->sweep);
    uv_timer_init(loop, &ctx->hold);
    ctx->prep.data = ctx->check.data = ctx->sweep.data = ctx->hold.data = ctx;
    ctx->nhandles_open = NHANDLES;
    uv_prepare_start(&ctx->prep, on_prepare);
    uv_check_start(&ctx->check, on_check);
    uv_timer_start(&ctx->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&ctx->prep);
    uv_unref((uv_handle_t *)&ctx->check);
    uv_unref((uv_handle_t *)&ctx->sweep);
    return SG_OK;
}

static void ctx_handle_closed(uv_handle_t *h)
{
    sg__netctx *ctx = h->data;
    if (--ctx->nhandles_open == 0) {
        sg_free(ctx->rbuf);
        sg_free(ctx->tlsbuf);
        sg_free(ctx->flatbuf);
        ctx->rbuf = ctx->tlsbuf = ctx->flatbuf = NULL;
        if (ctx->on_empty)
            ctx->on_empty(ctx);
    }
}

static void ctx_maybe_finish(sg__netctx *ctx)
{
    if (!ctx->on_empty || ctx->nstreams || ctx->nhandles_open != NHANDLES)
        return;
    uv_close((uv_handle_t *)&ctx->hold, ctx_handle_closed);
    uv_close((uv_handle_t *)&ctx->prep, ctx_handle_closed);
    uv_close((uv_handle_t *)&ctx->check, ctx_handle_closed);
    uv_close((uv_handle_t *)&ctx->sweep, ctx_handle_closed);
}

void sg__netctx_stop(sg__netctx *ctx)
{
    uv_ref((uv_handle_t *)&ctx->sweep); /* deadlines must fire while connections drain */
    for (sg_stream *s = ctx->all; s; s = s->next) {
        s->flags |= F_NOLINGER;
        if (!(s->flags & F_CLOSING) || (s->flags & F_GRACEFUL)) {
            uint64_t dl = uv_now(ctx->loop) + 1000;
            if (!s->deadline || s->deadline > dl)
                s->deadline = dl;
        }
        sg__stream_close_reason(s, SG_OK, 1);
    }
    ctx_maybe_finish(ctx);
}

/* ---- reading ---------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    sg_stream *s = (sg_stream *)h;
    sg__netctx *ctx = s->ctx;
    if (!ctx->rbuf)
        ctx->rbuf = sg_malloc(SG__RBUF_SIZE);
    *buf = uv_buf_init(ctx->rbuf, ctx->rbuf ? SG__RBUF_SIZE : 0);
}

static void stream_read_start(sg_stream *s)
{
    if (s->flags & (F_READING | F_TCPCLOSED | F_EOF))
        return;
    if ((s->flags & F_CLOSING) && !(s->flags & F_SHUTDOWN))
        return;
    if ((s->flags & F_PAUSED) && !(s->flags & F_SHUTDOWN))
        return;
    if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) == 0)
        s->flags |= F_READING;
}

static void stream_read_stop(sg_stream *s)
{
    if (s->flags & F_READING) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->flags &= ~(uint32_t)F_READING;
    }
}

static void tls_drain_wbio(sg_stream *s);

static void stream_eof(sg_stream *s)
{
    s->flags |= F_EOF;
    stream_read_stop(s);
    if (s->flags & F_CLOSING) {
        /* lingering close finished */
        stream_mark(s);
        return;
    }
    if (s->hooks.on_eof)
        s->hooks.on_eof(s, s->ud);
    else
        sg__stream_close_reason(s, SG_ECLOSED, 0);
}

static void deliver(sg_stream *s, const char *p, size_t n)
{
    if (s->cbs.on_data)
        s->cbs.on_data(s, p, n, s->ud);
}

/* Runs SSL_read until it wants more ciphertext, the owner pauses, or the stream closes. */
static void tls_pump(sg_stream *s)
{
    sg__netctx *ctx = s->ctx;
    s->flags &= ~(uint32_t)F_TLS_DRAIN;
    if (!ctx->tlsbuf) {
        ctx->tlsbuf = sg_malloc(SG__TLSBUF_SIZE);
        if (!ctx->tlsbuf) {
            sg__stream_close_reason(s, SG_ENOMEM, 0);
            return;
        }
    }
    int was_init = SSL_is_init_finished(s->tls->ssl);
    for (;;) {
        if (s->flags & (F_CLOSING | F_PAUSED | F_TCPCLOSED))
            break;
        ERR_clear_error();
        int r = SSL_read(s->tls->ssl, ctx->tlsbuf, SG__TLSBUF_SIZE);
        if (r > 0) {
            deliver(s, ctx->tlsbuf, (size_t)r);
            continue;
        }
        int e = SSL_get_error(s->tls->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        tls_drain_wbio(s); /* a fatal alert may be waiting */
        if (e == SSL_ERROR_ZERO_RETURN) {
            stream_eof(s);
        } else {
            SG_LOGD("net", "event=tls_error peer=%s err=%d", s->peer, e);
            sg__stream_close_reason(s, SG_EPROTO, 1);
        }
        break;
    }
    if (!was_init && SSL_is_init_finished(s->tls->ssl))
        stream_mark(s); /* plaintext queued before the handshake can go now */
    if ((s->flags & F_PAUSED) && !(s->flags & F_CLOSING))
        s->flags |= F_TLS_DRAIN; /* SSL may still hold decrypted bytes */
    tls_drain_wbio(s);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    sg_stream *s = (sg_stream *)h;
    if (nread == 0)
        return;
    s->ctx->nreads++;
    if (nread < 0) {
        if (nread == UV_EOF) {
            stream_eof(s);
        } else {
            stream_read_stop(s);
            s->flags |= F_EOF;
            if (s->flags & F_CLOSING)
                stream_mark(s);
            else if (nread == UV_ENOBUFS)
                sg__stream_close_reason(s, SG_ENOMEM, 0);
            else if (sg_err_from_errno((int)nread) == SG_ECLOSED)
                sg__stream_close_reason(s, SG_ECLOSED, 0);
            else
                sg__stream_close_reason(s, SG_EIO, 0);
        }
        return;
    }
    if (s->flags & F_CLOSING)
        return; /* lingering: discard */
    if (s->tls) {
        if (BIO_write(s->tls->rbio, buf->base, (int)nread) != (int)nread) {
            sg__stream_close_reason(s, SG_ENOMEM, 0);
            return;
        }
        tls_pump(s);
        return;
    }
    deliver(s, buf->base, (size_t)nread);
}

/* ---- writing ---------------------------------------------------------------------------- */

static queue *wire_q(sg_stream *s)
{
    return s->tls ? &s->tls->wq : &s->q;
}

size_t sg_stream_queued(const sg_stream *s)
{
    size_t n = s->q.bytes;
    if (s->tls)
        n += s->tls->wq.bytes + BIO_ctrl_pending(s->tls->wbio);
    return n;
}

static int check_limits(sg_stream *s)
{
    size_t q = sg_stream_queued(s);
    if (s->lim.hard_limit && q > s->lim.hard_limit) {
        SG_LOGI("net", "event=slow_consumer peer=%s queued=%zu policy=hard", s->peer, q);
        sg__stream_close_reason(s, SG_ELIMIT, 0);
        return SG_ELIMIT;
    }
    if (s->lim.soft_limit && q > s->lim.soft_limit) {
        uint64_t now = uv_now(s->ctx->loop);
        if (!s->soft_since)
            s->soft_since = now ? now : 1;
        else if (now - s->soft_since >= s->lim.soft_grace_ms) {
            SG_LOGI("net", "event=slow_consumer peer=%s queued=%zu policy=soft", s->peer, q);
            sg__stream_close_reason(s, SG_ELIMIT, 0);
            return SG_ELIMIT;
        }
    }
    return SG_OK;
}

int sg_stream_write_rc(sg_stream *s, sg_rcbuf *b, size_t off, size_t len)
{
    if (s->flags & F_CLOSING)
        return SG_ECLOSED;
    if (off > b->len || len > b->len - off)
        return SG_EINVAL;
    if (len == 0)
        return SG_OK;
    int rc = q_push(&s->q, sg_rcbuf_ref(b), (uint32_t)off, (uint32_t)len);
    if (rc != SG_OK) {
        sg_rcbuf_unref(b);
        if (rc == SG_ELIMIT)
            sg__stream_close_reason(s, SG_ELIMIT, 0);
        return rc;
    }
    s->flags &= ~(uint32_t)F_TAILPRIV;
    stream_mark(s);
    return check_limits(s);
}

int sg_stream_write(sg_stream *s, const void *p, size_t n)
{
    if (s->flags & F_CLOSING)
        return SG_ECLOSED;
    if (n == 0)
        return SG_OK;
    if (n > UINT32_MAX - 1)
        return SG_ETOOBIG;
    queue *q = &s->q;
    /* Append to the private tail chunk when there is room (and it is not being written:
     * the plaintext queue of a plain stream is the wire queue). */
    if ((s->flags & F_TAILPRIV) && q->count && (s->tls || q->count > s->inflight)) {
        qent *e = q_at(q, q->count - 1);
        size_t room = e->b->len - (e->off + e->len);
        if (room >= n) {
            memcpy(e->b->data + e->off + e->len, p, n);
            e->len += (uint32_t)n;
            q->bytes += n;
            stream_mark(s);
            return check_limits(s);
        }
    }
    size_t cap = n < PRIV_CHUNK ? PRIV_CHUNK : n;
    sg_rcbuf *b = sg_rcbuf_new(cap);
    if (!b)
        return SG_ENOMEM;
    memcpy(b->data, p, n);
    int rc = q_push(q, b, 0, (uint32_t)n);
    if (rc != SG_OK) {
        sg_rcbuf_unref(b);
        if (rc == SG_ELIMIT)
            sg__stream_close_reason(s, SG_ELIMIT, 0);
        return rc;
    }
    if (cap > n)
        s->flags |= F_TAILPRIV;
    else
        s->flags &= ~(uint32_t)F_TAILPRIV;
    stream_mark(s);
    return check_limits(s);
}

static void tls_drain_wbio(sg_stream *s)
{
    tls_state *t = s->tls;
    size_t pend;
    while ((pend = BIO_ctrl_pending(t->wbio)) > 0) {
        sg_rcbuf *b = sg_rcbuf_new(pend);
        if (!b) {
            sg__stream_close_reason(s, SG_ENOMEM, 0);
            return;
        }
        int r = BIO_read(t->wbio, b->data, (int)pend);
        if (r <= 0) {
            sg_rcbuf_unref(b);
            return;
        }
        if (q_push(&t->wq, b, 0, (uint32_t)r) != SG_OK) {
            sg_rcbuf_unref(b);
            sg__stream_close_reason(s, SG_ENOMEM, 0);
            return;
        }
    }
    if (t->wq.count)
        stream_mark(s);
}

/* Moves plaintext through SSL_write into the ciphertext queue. */
static void tls_encrypt(sg_stream *s)
{
    tls_state *t = s->tls;
    if (!SSL_is_init_finished(t->ssl))
        return;
    while (s->q.count && t->wq.bytes < TLS_OUT_HIGH) {
        qent *e = q_at(&s->q, 0);
        ERR_clear_error();
        int len = e->len > 65536 ? 65536 : (int)e->len;
        int r = SSL_write(t->ssl, e->b->data + e->off, len);
        if (r <= 0) {
            int err = SSL_get_error(t->ssl, r);
            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
                sg__stream_close_reason(s, SG_EPROTO, 0);
            break;
        }
        q_consume(&s->q, (size_t)r);
        s->flags &= ~(uint32_t)F_TAILPRIV;
        tls_drain_wbio(s);
    }
    tls_drain_wbio(s);
}

static void on_write(uv_write_t *req, int status)
{
    sg_stream *s = req->data;
    sg_free(req);
    s->wreq = NULL;
    queue *q = wire_q(s);
    for (uint32_t i = 0; i < s->inflight && q->count; i++)
        q_consume(q, q_at(q, 0)->len);
    s->inflight = 0;
    if (s->flags & F_TCPCLOSED)
        return;
    if (status < 0) {
        s->flags |= F_NOLINGER;
        sg__stream_close_reason(
            s, status == UV_EPIPE || status == UV_ECONNRESET ? SG_ECLOSED : SG_EIO, 0);
        return;
    }
    stream_mark(s);
}

/* Returns 1 when nothing is left to write. */
/* Copies a small iovec into the loop's flat buffer: one segment for the kernel to copy is
 * cheaper than many small ones (loopback, 32 frames: -13 % per call at ~100 B, -22 % at ~1 KB);
 * the bytes are the same, so a partial write is consumed from the queue as usual. Returns the
 * new iov count (1), or n when the buffer cannot be had. */
static unsigned flatten(sg__netctx *ctx, uv_buf_t *iov, unsigned n, size_t total)
{
    if (!ctx->flatbuf)
        ctx->flatbuf = sg_malloc(SG__FLATBUF_SIZE);
    if (!ctx->flatbuf)
        return n;
    size_t o = 0;
    for (unsigned i = 0; i < n; i++) {
        memcpy(ctx->flatbuf + o, iov[i].base, iov[i].len);
        o += iov[i].len;
    }
    iov[0] = uv_buf_init(ctx->flatbuf, (unsigned)total);
    return 1;
}

static int stream_flush(sg_stream *s)
{
    if (s->wreq)
        return 0;
    if (s->tls)
        tls_encrypt(s);
    queue *q = wire_q(s);
    uv_buf_t iov[IOV_MAX_ENTRIES];
    while (q->count) {
        size_t total;
        unsigned n = q_iov(q, iov, IOV_MAX_ENTRIES, &total);
        if (n > 1 && total <= SG__FLATBUF_SIZE)
            n = flatten(s->ctx, iov, n, total);
        int r = uv_try_write((uv_stream_t *)&s->tcp, iov, n);
        if (r == UV_EAGAIN || r == UV_ENOSYS)
            r = 0;
        if (r < 0) {
            s->flags |= F_NOLINGER;
            q_clear(q);
            sg__stream_close_reason(s, r == UV_EPIPE || r == UV_ECONNRESET ? SG_ECLOSED : SG_EIO,
                                    0);
            return 1;
        }
        q_consume(q, (size_t)r);
        if ((size_t)r < total) {
            /* the kernel is full: one uv_write of what is left, nothing else until it ends */
            n = q_iov(q, iov, IOV_MAX_ENTRIES, &total);
            uv_write_t *w = sg_malloc(sizeof(*w));
            if (!w) {
                sg__stream_close_reason(s, SG_ENOMEM, 0);
                return 1;
            }
            w->data = s;
            if (uv_write(w, (uv_stream_t *)&s->tcp, iov, n, on_write) != 0) {
                sg_free(w);
                s->flags |= F_NOLINGER;
                sg__stream_close_reason(s, SG_EIO, 0);
                return 1;
            }
            s->wreq = w;
            s->inflight = n;
            s->flags &= ~(uint32_t)F_TAILPRIV;
            return 0;
        }
        if (s->tls && s->q.count)
            tls_encrypt(s);
    }
    if (s->q.e || q->e)
        s->flags |= F_QWARM;
    if (s->soft_since && sg_stream_queued(s) <= s->lim.soft_limit)
        s->soft_since = 0;
    if ((s->flags & F_WANT_DRAIN) && sg_stream_queued(s) <= DRAIN_LOW) {
        s->flags &= ~(uint32_t)F_WANT_DRAIN;
        s->flags |= F_DEFER;
        stream_mark(s);
    }
    return s->q.count == 0 && q->count == 0;
}

/* ---- closing ---------------------------------------------------------------------------- */

static void on_tcp_closed(uv_handle_t *h)
{
    sg_stream *s = (sg_stream *)h;
    sg__netctx *ctx = s->ctx;
    if (s->cbs.on_close)
        s->cbs.on_close(s, s->close_reason, s->ud);
    q_clear(&s->q);
    if (s->tls) {
        q_clear(&s->tls->wq);
        SSL_free(s->tls->ssl); /* frees both BIOs */
        sg_free(s->tls);
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        ctx->all = s->next;
    if (s->next)
        s->next->prev = s->prev;
    ctx->nstreams--;
    sg_free(s);
    ctx_maybe_finish(ctx);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    sg_stream *s = req->data;
    sg_free(req);
    if (s->flags & F_TCPCLOSED)
        return;
    if (status < 0)
        s->flags |= F_NOLINGER | F_EOF;
    stream_mark(s);
}

static void stream_close_now(sg_stream *s)
{
    if (s->flags & F_TCPCLOSED)
        return;
    s->flags |= F_TCPCLOSED;
    stream_read_stop(s);
    uv_close((uv_handle_t *)&s->tcp, on_tcp_closed);
}

/* Progress of a requested close. */
static void stream_closing(sg_stream *s)
{
    if (!(s->flags & F_GRACEFUL)) {
        stream_close_now(s);
        return;
    }
    if (s->tls && !SSL_is_init_finished(s->tls->ssl))
        q_clear(&s->q); /* plaintext can never leave; send only pending handshake alerts */
    if (!stream_flush(s))
        return; /* waiting for writability: on_write marks us again */
    if (s->flags & F_TCPCLOSED)
        return;
    if (!(s->flags & F_GRACEFUL)) {
        stream_close_now(s);
        return;
    }
    if (s->tls && SSL_is_init_finished(s->tls->ssl) && !(s->flags & F_TLS_SHUT)) {
        s->flags |= F_TLS_SHUT;
        ERR_clear_error();
        SSL_shutdown(s->tls->ssl); /* close_notify */
        tls_drain_wbio(s);
        if (!stream_flush(s) || (s->flags & F_TCPCLOSED))
            return;
    }
    if (s->flags & (F_NOLINGER | F_EOF)) {
        stream_close_now(s);
        return;
    }
    if (!(s->flags & F_SHUTDOWN)) {
        /* Lingering close: send FIN, read and discard until the peer's EOF (bounded), so the
         * kernel does not answer unread request bytes with an RST that eats our response. */
        uv_shutdown_t *sr = sg_malloc(sizeof(*sr));
        if (!sr) {
            stream_close_now(s);
            return;
        }
        sr->data = s;
        if (uv_shutdown(sr, (uv_stream_t *)&s->tcp, on_shutdown) != 0) {
            sg_free(sr);
            stream_close_now(s);
            return;
        }
        s->flags |= F_SHUTDOWN;
        uint64_t dl = uv_now(s->ctx->loop) + LINGER_MS;
        if (!s->deadline || s->deadline > dl)
            s->deadline = dl;
        stream_read_start(s);
    }
}

static void stream_process(sg_stream *s)
{
    if (s->flags & F_TCPCLOSED)
        return;
    if ((s->flags & F_DEFER) && !(s->flags & F_CLOSING)) {
        s->flags &= ~(uint32_t)F_DEFER;
        if (s->hooks.on_defer)
            s->hooks.on_defer(s, s->ud);
        if (s->flags & F_TCPCLOSED)
            return;
    }
    if (s->tls && (s->flags & F_TLS_DRAIN) && !(s->flags & (F_PAUSED | F_CLOSING)))
        tls_pump(s);
    if (s->flags & F_CLOSING) {
        stream_closing(s);
        return;
    }
    sg__netctx *ctx = s->ctx;
    int was_held = (s->flags & F_WASHELD) != 0;
    s->flags &= ~(uint32_t)F_WASHELD;
    if ((s->flags & F_COALESCE) && ctx->in_check == 1 && !s->wreq && !s->tls && s->q.count &&
        (uint64_t)s->q.count * 4 < (uint64_t)ctx->batch_hi * 3 && s->q.bytes < HOLD_MAX_BYTES &&
        (was_held ? ctx->hold_episode != 0
                  : ctx->flushed_last >= HOLD_MIN_STREAMS && s->last_turn == ctx->turn - 1)) {
        /* hot and below the usual batch: wait for the input that completes it (a stream
         * released by a read that brought only part of it is held again, within the episode) */
        s->flags |= F_HELD;
        s->pnext = ctx->held;
        if (!ctx->held) {
            ctx->held_reads = ctx->nreads;
            if (!ctx->hold_episode) {
                ctx->hold_episode = 1;
                uv_update_time(ctx->loop); /* the loop's clock is as old as this turn */
                uv_timer_start(&ctx->hold, on_hold_timer, HOLD_MS, 0);
            }
        }
        ctx->held = s;
        return;
    }
    if (ctx->in_check && s->q.count) {
        s->last_turn = ctx->turn;
        ctx->flushed_now++;
        if ((s->flags & F_COALESCE) && s->q.count > ctx->qmax_now)
            ctx->qmax_now = s->q.count;
    }
    stream_flush(s);
}

void sg__stream_close_reason(sg_stream *s, int reason, int graceful)
{
    if (s->flags & F_TCPCLOSED)
        return;
    if (s->flags & F_CLOSING) {
        if (!graceful && (s->flags & F_GRACEFUL)) {
            s->flags &= ~(uint32_t)F_GRACEFUL;
            stream_mark(s);
        }
        return;
    }
    s->flags |= F_CLOSING;
    s->close_reason = reason;
    if (graceful) {
        s->flags |= F_GRACEFUL;
        uint64_t dl = uv_now(s->ctx->loop) + GRACEFUL_MS;
        if (!s->deadline || s->deadline > dl)
            s->deadline = dl;
    }
    stream_read_stop(s);
    stream_mark(s);
}

void sg_stream_close(sg_stream *s, int graceful)
{
    sg__stream_close_reason(s, SG_OK, graceful);
}

int sg_stream_is_closing(const sg_stream *s)
{
    return (s->flags & F_CLOSING) != 0;
}

/* ---- misc ------------------------------------------------------------------------------- */

void sg_stream_set_cbs(sg_stream *s, const sg_stream_cbs *cbs, void *ud)
{
    s->cbs = *cbs;
    s->ud = ud;
}

void sg__stream_set_hooks(sg_stream *s, const sg__stream_hooks *h)
{
    if (h)
        s->hooks = *h;
    else
        memset(&s->hooks, 0, sizeof(s->hooks));
}

void sg_stream_set_limits(sg_stream *s, const sg_stream_limits *lim)
{
    s->lim = lim ? *lim : s->ctx->deflim;
    s->soft_since = 0;
    if (!(s->flags & F_CLOSING))
        check_limits(s);
}

void sg_stream_pause(sg_stream *s)
{
    s->flags |= F_PAUSED;
    stream_read_stop(s);
}

void sg_stream_resume(sg_stream *s)
{
    if (!(s->flags & F_PAUSED))
        return;
    s->flags &= ~(uint32_t)F_PAUSED;
    if (s->flags & F_CLOSING)
        return;
    stream_read_start(s);
    if (s->tls) {
        s->flags |= F_TLS_DRAIN;
        stream_mark(s);
    }
}

void sg__stream_defer(sg_stream *s)
{
    s->flags |= F_DEFER;
    stream_mark(s);
}

void sg__stream_set_coalesce(sg_stream *s)
{
    s->flags |= F_COALESCE;
}

void sg__stream_want_drain(sg_stream *s)
{
    s->flags |= F_WANT_DRAIN;
}

void sg__stream_set_deadline(sg_stream *s, uint64_t when_ms)
{
    s->deadline = when_ms;
}

void sg__stream_set_timeout(sg_stream *s, uint32_t ms)
{
    s->deadline = ms ? uv_now(s->ctx->loop) + ms : 0;
}

void sg__stream_set_no_linger(sg_stream *s)
{
    s->flags |= F_NOLINGER;
}

sg__netctx *sg__stream_ctx(const sg_stream *s)
{
    return s->ctx;
}

void *sg__stream_ud(const sg_stream *s)
{
    return s->ud;
}

const char *sg_stream_peer_ip(const sg_stream *s)
{
    return s->peer;
}

int sg_stream_local_port(const sg_stream *s)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int sg_stream_is_tls(const sg_stream *s)
{
    return s->tls != NULL;
}

uv_loop_t *sg_stream_loop(const sg_stream *s)
{
    return s->ctx->loop;
}

static void on_reject_closed(uv_handle_t *h)
{
    sg_free(h);
}

int sg__stream_accept(sg__netctx *ctx, uv_stream_t *listener, SSL_CTX *tls, sg_stream **out)
{
    *out = NULL;
    sg_stream *s = SG_NEW(sg_stream);
    if (!s) {
        /* still take the socket off the backlog */
        uv_tcp_t *t = sg_malloc(sizeof(*t));
        if (t) {
            uv_tcp_init(ctx->loop, t);
            uv_accept(listener, (uv_stream_t *)t);
            uv_close((uv_handle_t *)t, on_reject_closed);
        }
        return SG_ENOMEM;
    }
    uv_tcp_init(ctx->loop, &s->tcp);
    s->ctx = ctx;
    s->lim = ctx->deflim;
    s->next = ctx->all;
    if (ctx->all)
        ctx->all->prev = s;
    ctx->all = s;
    ctx->nstreams++;
    if (uv_accept(listener, (uv_stream_t *)&s->tcp) != 0) {
        s->flags |= F_CLOSING | F_TCPCLOSED;
        s->close_reason = SG_EIO;
        uv_close((uv_handle_t *)&s->tcp, on_tcp_closed);
        return SG_EIO;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, s->peer, sizeof(s->peer));
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, s->peer, sizeof(s->peer));
    }
    if (tls) {
        s->tls = SG_NEW(tls_state);
        if (s->tls) {
            s->tls->ssl = SSL_new(tls);
            s->tls->rbio = BIO_new(BIO_s_mem());
            s->tls->wbio = BIO_new(BIO_s_mem());
        }
        if (!s->tls || !s->tls->ssl || !s->tls->rbio || !s->tls->wbio) {
            if (s->tls) {
                BIO_free(s->tls->rbio);
                BIO_free(s->tls->wbio);
                SSL_free(s->tls->ssl);
                sg_free(s->tls);
                s->tls = NULL;
            }
            s->flags |= F_CLOSING | F_TCPCLOSED;
            s->close_reason = SG_ENOMEM;
            uv_close((uv_handle_t *)&s->tcp, on_tcp_closed);
            return SG_ENOMEM;
        }
        BIO_set_mem_eof_return(s->tls->rbio, -1);
        BIO_set_mem_eof_return(s->tls->wbio, -1);
        SSL_set_bio(s->tls->ssl, s->tls->rbio, s->tls->wbio);
        SSL_set_mode(s->tls->ssl, SSL_MODE_RELEASE_BUFFERS);
        SSL_set_accept_state(s->tls->ssl);
    }
    stream_read_start(s);
    *out = s;
    return SG_OK;
}
