/* loadgen.c — sigrid's load generator (one libuv loop per process).
 *
 * Speaks full SignalR to sigrid (negotiate -> WebSocket upgrade -> handshake -> hub
 * messages, JSON or MessagePack) and the plain WebSocket protocols of the peers bench/run
 * compares against (nchan pub/sub, a Node.js `ws` broadcast server, socket.io/engine.io v4).
 *
 * Modes (each prints one JSON line of results on stdout; progress goes to stderr):
 *   fanout   N subscribers, publishers keep a window of messages in flight (REST :send with
 *            keep-alive for sigrid, POST /pub for peers, a SignalR client invoking a hub
 *            method, or an app-server connection on /server sending BroadcastData over the
 *            service protocol as the Management SDK's persistent mode does); every delivery is counted and its latency taken from the send
 *            timestamp the publisher embedded in the payload ("lgts" + 16 hex digits of
 *            CLOCK_MONOTONIC ns). In flight = published x subscribers - delivered, so the
 *            publisher can never run ahead of the deliveries (no unbounded queues).
 *            deliveries_per_read = deliveries / subscriber read() calls that brought data:
 *            ~1 when a server's messages arrive one TCP segment at a time, more when they
 *            arrive coalesced (one writev per connection and turn, or Nagle).
 *   conns    opens connections in steps (--steps 10000,19000) spread over --procs processes
 *            and loopback source addresses; per step prints connects/s, connect latency and,
 *            with --server-pid, the server's RSS growth per open idle connection.
 *   http     closed-loop keep-alive GETs (e.g. IMDS tokens): first-answer latency on a fresh
 *            connection, then answers/s over --conns connections.
 *
 * Everything is bounded: --timeout (default 60 s) ends the process whatever happens.
 * At the end the process leaves with _exit() after flushing stdout: the kernel closes the
 * sockets, nothing is torn down one by one (a benchmark tool, not a library). */
#include "lg_hist.h"
#include "lg_jwt.h"
#include "lg_ws.h"

#include "proto/svcproto.h"

#include "sg_alloc.h"
#include "sg_b64.h"
#include "sg_buf.h"
#include "sg_str.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ------------------------------------------------------------------------------------------ */
/* options and global state                                                                   */

typedef enum { T_SIGRID, T_NCHAN, T_WS, T_SIO } lg_target;
typedef enum { M_FANOUT, M_CONNS, M_HTTP } lg_mode;
typedef enum { P_REST, P_CLIENT, P_SERVER, P_NONE } lg_pubkind;

#define LG_MAX_STEPS 8
#define LG_MAX_PIDS 16
#define LG_MARK "lgts"
#define LG_MARK_LEN 4

typedef struct lg_opts {
    lg_mode mode;
    lg_target target;
    const char *host;
    int port;
    const char *key;      /* access key (sigrid) */
    const char *endpoint; /* audience base, default http://<host> */
    const char *hub;
    const char *method;   /* hub method name the REST/client publisher targets */
    const char *path;     /* http mode: request path; peers: subscribe path */
    const char *label;
    int msgpack;
    long conns;
    long procs;
    long src_ips;
    long size;
    long window;
    long pub_conns;
    lg_pubkind publish;
    double duration;
    double warmup;
    double settle;
    double timeout;
    long concurrency;
    long steps[LG_MAX_STEPS];
    int nsteps;
    int server_pids[LG_MAX_PIDS];
    int nserver_pids;
    int verbose;
    int token_per_conn; /* sigrid: every connection mints its own client token */
} lg_opts;

typedef enum {
    S_IDLE = 0,
    S_NEGOTIATE, /* HTTP POST /client/negotiate */
    S_UPGRADE,   /* HTTP GET with Upgrade: websocket */
    S_HANDSHAKE, /* WebSocket open, waiting for the hub handshake answer (or EIO open) */
    S_OPEN,      /* subscribed / ready */
    S_HTTP,      /* keep-alive HTTP client (publisher, http mode) */
    S_FAILED,
} lg_state;

typedef enum { R_SUB, R_PUB, R_GET } lg_role;

typedef struct lg_http {
    llhttp_t parser;
    sg_buf body;
    char field[32];
    size_t field_len;
    int field_is_accept;
    char accept[64];
    size_t accept_len;
    int complete;
} lg_http;

typedef struct lg_conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    lg_role role;
    lg_state state;
    int closing;
    int reconnect; /* on close: connect again for the upgrade */
    int counted;   /* open/failed accounted for */
    long idx;
    lg_http *http;
    sg_buf pending; /* unparsed bytes carried to the next read */
    sg_buf frag;    /* fragmented WebSocket message */
    int frag_op;
    int ws;         /* the socket speaks WebSocket now */
    char ws_key[32];
    char *conn_token;
    char *client_tok; /* --token-per-conn: this connection's token (negotiate and upgrade) */
    uint64_t t_start;
    uint64_t t_req;
    long outstanding;
    uint64_t delivered;
    unsigned wq;
} lg_conn;

typedef struct lg_step_result {
    long opened;
    long failed;
    uint64_t t_first;
    uint64_t t_last;
    lg_hist hist;
} lg_step_result;

static struct {
    lg_opts o;
    uv_loop_t *loop;
    uint64_t now_ns; /* refreshed at every read */
    char src_ip[32]; /* bind source address ("" = kernel's choice) */
    char aud[300];   /* audience base: scheme://host of the endpoint, port dropped (§4.2) */
    /* connections */
    lg_conn *subs;
    long nsubs;
    long next_sub;
    long connecting;
    long target_open; /* conns mode: open this many, then report */
    long opened, failed;
    uint64_t t_first, t_last;
    lg_hist conn_hist;
    lg_conn *pubs;
    long npubs;
    long pub_rr;
    /* fan-out accounting */
    int publishing;
    int measuring;
    long subs_live;
    uint64_t published, expected, deliveries;
    uint64_t m_published, m_deliveries, m_responses;
    uint64_t sub_reads, m_sub_reads; /* read() calls on subscriber sockets that brought data */
    uint64_t tick_deliveries, tick_reads, tick_ns, t_pub; /* --verbose: per-second lines */
    double tick_cpu;
    uint64_t responses, bad_status, unknown_msgs;
    uint64_t last_deliveries, stall_since;
    uint64_t stalls;
    uint64_t pings;
    lg_hist lat;
    uint64_t t_measure;
    double srv_cpu0, lg_cpu0, mach_cpu0;
    /* errors */
    uint64_t errors;
    int errors_printed;
    /* publisher template */
    sg_buf pub_req;
    size_t pub_ts_off;
    size_t pub_ts_off2; /* server connection: the second encoding's timestamp (0 = none) */
    char rest_token[1024];
    /* http mode */
    uint64_t first_answer_us;
    /* timers */
    uv_timer_t t_phase, t_tick, t_hard;
    /* conns mode (child) */
    int cmd_fd, res_fd;
    uv_pipe_t cmd_pipe;
    uint32_t mask_state;
    char rbuf[256 * 1024];
} G;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t lg_rand32(void)
{
    /* xorshift32, seeded from getrandom(): masks and keys need not be secret here. */
    uint32_t x = G.mask_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    G.mask_state = x;
    return x;
}

static void lg_errorf(lg_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lg_errorf(lg_conn *c, const char *fmt, ...)
{
    G.errors++;
    if (G.errors_printed >= 5 && !G.o.verbose)
        return;
    G.errors_printed++;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "loadgen[%d]: conn %ld: %s\n", (int)getpid(), c ? c->idx : -1L, msg);
}

/* ------------------------------------------------------------------------------------------ */
/* /proc: server CPU and RSS (a pid and its direct children)                                  */

static int proc_pids(int *out, int max)
{
    int n = 0;
    for (int i = 0; i < G.o.nserver_pids && n < max; i++) {
        int pid = G.o.server_pids[i];
        out[n++] = pid;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int ch;
        while (n < max && fscanf(f, "%d", &ch) == 1)
            out[n++] = ch;
        fclose(f);
    }
    return n;
}

/* Seconds of CPU used by the server processes (user + system), -1 if unknown. */
static double pids_cpu_s(const int *pids, int n)
{
    double total = 0;
    long tck = sysconf(_SC_CLK_TCK);
    for (int i = 0; i < n; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t r = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[r] = 0;
        char *p = strrchr(buf, ')');
        if (!p)
            continue;
        unsigned long long ut = 0, st = 0;
        /* fields after ")": state(3) ... utime(14) stime(15) */
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
            total += (double)(ut + st) / (double)tck;
    }
    return total;
}

static double proc_cpu_s(void)
{
    int pids[64], n = proc_pids(pids, 64);
    return n == 0 ? -1 : pids_cpu_s(pids, n);
}

/* Resident set of the server processes in KiB, -1 if unknown. */
static long proc_rss_kb(void)
{
    int pids[64], n = proc_pids(pids, 64);
    if (n == 0)
        return -1;
    long total = 0;
    for (int i = 0; i < n; i++) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f)) {
            long kb;
            if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                total += kb;
        }
        fclose(f);
    }
    return total;
}

/* CPU seconds all cores spent busy, from /proc/stat: with the server's and our own, it tells
 * how much other processes took during a measurement. */
static double machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[10] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 5)
        return -1;
    /* user nice system irq softirq steal. Softirq stays in: this kernel charges most of it
     * (our loopback packets) to the process it interrupted, i.e. to the server or to us, and
     * leaving it out made "other" negative. */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------------------------------------ */
/* connection plumbing                                                                        */

static void conn_connect(lg_conn *c);
static void conn_on_open(lg_conn *c);
static void conn_lost(lg_conn *c);
static void pub_pump(void);
static void sub_start_more(void);

typedef struct lg_wreq {
    uv_write_t req;
    lg_conn *c;
    char data[];
} lg_wreq;

static void on_close(uv_handle_t *h)
{
    lg_conn *c = h->data;
    c->closing = 0;
    c->ws = 0;
    sg_buf_reset(&c->pending);
    sg_buf_reset(&c->frag);
    if (c->reconnect) {
        c->reconnect = 0;
        conn_connect(c);
    }
}

static void conn_close(lg_conn *c)
{
    if (c->closing || c->tcp.data == NULL)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* The connection failed: count it, close it. Safe to call more than once. */
static void conn_fail(lg_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_fail(lg_conn *c, const char *fmt, ...)
{
    if (c->state == S_FAILED)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lg_errorf(c, "state %d: %s", (int)c->state, msg);
    lg_state was = c->state;
    c->state = S_FAILED;
    c->reconnect = 0;
    conn_close(c);
    if (c->role == R_SUB) {
        if (!c->counted) {
            c->counted = 1;
            G.failed++;
            G.connecting--;
            sub_start_more();
        } else if (was == S_OPEN) {
            conn_lost(c);
        }
    }
}

static void on_write(uv_write_t *req, int status)
{
    lg_wreq *w = (lg_wreq *)req;
    lg_conn *c = w->c;
    c->wq--;
    sg_free(w);
    if (status < 0 && status != UV_ECANCELED)
        conn_fail(c, "write: %s", uv_strerror(status));
}

static int conn_write(lg_conn *c, const void *p, size_t n)
{
    if (c->closing || c->state == S_FAILED)
        return -1;
    size_t done = 0;
    if (c->wq == 0) {
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
        int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (r >= 0)
            done = (size_t)r;
        else if (r != UV_EAGAIN) {
            conn_fail(c, "write: %s", uv_strerror(r));
            return -1;
        }
        if (done == n)
            return 0;
    }
    lg_wreq *w = sg_malloc(sizeof(*w) + (n - done));
    if (!w) {
        conn_fail(c, "out of memory");
        return -1;
    }
    w->c = c;
    memcpy(w->data, (const char *)p + done, n - done);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)(n - done));
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) {
        sg_free(w);
        conn_fail(c, "write: %s", uv_strerror(r));
        return -1;
    }
    c->wq++;
    return 0;
}

static int conn_ws_send(lg_conn *c, int opcode, const void *p, size_t n)
{
    sg_buf f;
    sg_buf_init(&f, 0);
    if (lg_ws_frame_masked(&f, opcode, p, n, lg_rand32()) != 0) {
        sg_buf_free(&f);
        conn_fail(c, "out of memory");
        return -1;
    }
    int r = conn_write(c, f.data, f.len);
    sg_buf_free(&f);
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP responses (llhttp)                                                                    */

static int h_on_header_field(llhttp_t *p, const char *at, size_t n)
{
    lg_http *h = p->data;
    size_t room = sizeof(h->field) - 1 - h->field_len;
    if (n > room)
        n = room;
    memcpy(h->field + h->field_len, at, n);
    h->field_len += n;
    h->field[h->field_len] = 0;
    return 0;
}

static int h_on_header_field_complete(llhttp_t *p)
{
    lg_http *h = p->data;
    h->field_is_accept = strcasecmp(h->field, "sec-websocket-accept") == 0;
    return 0;
}

static int h_on_header_value(llhttp_t *p, const char *at, size_t n)
{
    lg_http *h = p->data;
    if (h->field_is_accept) {
        size_t room = sizeof(h->accept) - 1 - h->accept_len;
        if (n > room)
            n = room;
        memcpy(h->accept + h->accept_len, at, n);
        h->accept_len += n;
        h->accept[h->accept_len] = 0;
    }
    return 0;
}

static int h_on_header_value_complete(llhttp_t *p)
{
    lg_http *h = p->data;
    h->field_len = 0;
    h->field[0] = 0;
    h->field_is_accept = 0;
    return 0;
}

static int h_on_message_begin(llhttp_t *p)
{
    lg_http *h = p->data;
    sg_buf_reset(&h->body);
    h->accept_len = 0;
    h->accept[0] = 0;
    h->complete = 0;
    return 0;
}

static int h_on_body(llhttp_t *p, const char *at, size_t n)
{
    lg_http *h = p->data;
    return sg_buf_append(&h->body, at, n) == 0 ? 0 : -1;
}

static int h_on_message_complete(llhttp_t *p)
{
    lg_http *h = p->data;
    h->complete = 1;
    if (p->status_code == 101)
        return 0; /* llhttp answers HPE_PAUSED_UPGRADE */
    return HPE_PAUSED;
}

static llhttp_settings_t H_SETTINGS;

static lg_http *http_new(lg_conn *c)
{
    lg_http *h = c->http;
    if (!h) {
        h = SG_NEW(lg_http);
        if (!h)
            return NULL;
        sg_buf_init(&h->body, 4 * 1024 * 1024);
        c->http = h;
    }
    llhttp_init(&h->parser, HTTP_RESPONSE, &H_SETTINGS);
    h->parser.data = h;
    h->field_len = 0;
    h->accept_len = 0;
    h->complete = 0;
    return h;
}

static void http_free(lg_conn *c)
{
    if (!c->http)
        return;
    sg_buf_free(&c->http->body);
    sg_free(c->http);
    c->http = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* requests                                                                                   */

static void hostport(char *out, size_t n)
{
    snprintf(out, n, "%s:%d", G.o.host, G.o.port);
}

/* The client access token. An app server mints one per user; the load generator mints one
 * per process (renewed every 10 minutes) so its own CPU goes to connecting, while sigrid
 * still verifies it on every negotiate and every upgrade. */
static const char *client_token(void)
{
    static char tok[1024];
    static uint64_t minted;
    uint64_t now = now_ns();
    if (!tok[0] || now - minted > 600ull * 1000000000ull) {
        char aud[512];
        snprintf(aud, sizeof(aud), "%s/client/?hub=%s", G.aud, G.o.hub);
        if (lg_jwt_hs256(G.o.key, aud, NULL, 3600, tok, sizeof(tok)) < 0)
            return NULL;
        minted = now;
    }
    return tok;
}

/* --token-per-conn: a token of this connection's own (nameid lg-<pid>-<n>), as clients of an
 * app server get one per user, so the server verifies it at negotiate and sees it again at
 * the upgrade — a cache of verified tokens is measured honestly, not hit by every connect. */
static const char *conn_client_token(lg_conn *c)
{
    if (!G.o.token_per_conn)
        return client_token();
    if (c->client_tok)
        return c->client_tok;
    static unsigned long seq;
    char aud[512], extra[96], tok[1024];
    snprintf(aud, sizeof(aud), "%s/client/?hub=%s", G.aud, G.o.hub);
    snprintf(extra, sizeof(extra), ",\"nameid\":\"lg-%ld-%lu\"", (long)getpid(), ++seq);
    if (lg_jwt_hs256(G.o.key, aud, extra, 3600, tok, sizeof(tok)) < 0)
        return NULL;
    c->client_tok = sg_strdup(tok);
    return c->client_tok;
}

static int send_negotiate(lg_conn *c)
{
    char hp[128];
    sg_free(c->client_tok); /* a new negotiate: a new client */
    c->client_tok = NULL;
    const char *tok = conn_client_token(c);
    if (!tok) {
        conn_fail(c, "cannot mint token");
        return -1;
    }
    hostport(hp, sizeof(hp));
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_buf_appendf(&b,
                   "POST /client/negotiate?hub=%s&negotiateVersion=1 HTTP/1.1\r\nHost: %s\r\n"
                   "Authorization: Bearer %s\r\nContent-Length: 0\r\n"
                   "X-Requested-With: XMLHttpRequest\r\n\r\n",
                   G.o.hub, hp, tok);
    int r = conn_write(c, b.data, b.len);
    sg_buf_free(&b);
    return r;
}

static int send_upgrade(lg_conn *c)
{
    unsigned char rnd[16];
    for (int i = 0; i < 16; i += 4) {
        uint32_t x = lg_rand32();
        memcpy(rnd + i, &x, 4);
    }
    sg_b64_encode(rnd, sizeof(rnd), c->ws_key, sizeof(c->ws_key));
    char hp[128];
    hostport(hp, sizeof(hp));
    sg_buf b;
    sg_buf_init(&b, 0);
    if (G.o.target == T_SIGRID && c->role == R_PUB && G.o.publish == P_SERVER) {
        /* an app-server connection: server token (aud .../server/?hub=H), nameid = server id */
        char aud[512], tok[1024];
        snprintf(aud, sizeof(aud), "%s/server/?hub=%s", G.aud, G.o.hub);
        if (lg_jwt_hs256(G.o.key, aud, ",\"nameid\":\"loadgen\"", 3600, tok, sizeof(tok)) < 0) {
            sg_buf_free(&b);
            conn_fail(c, "cannot mint token");
            return -1;
        }
        sg_buf_appendf(&b, "GET /server/?hub=%s&cid=%08x-%04x-4%03x-8%03x-%08x%04x HTTP/1.1\r\nAuthorization: Bearer %s\r\n",
                       G.o.hub, lg_rand32(), lg_rand32() & 0xffff, lg_rand32() & 0xfff, lg_rand32() & 0xfff,
                       lg_rand32(), lg_rand32() & 0xffff, tok);
    } else if (G.o.target == T_SIGRID) {
        const char *tok = conn_client_token(c);
        if (!tok) {
            sg_buf_free(&b);
            conn_fail(c, "cannot mint token");
            return -1;
        }
        sg_buf_appendf(&b, "GET /client/?hub=%s&id=", G.o.hub);
        sg_url_encode_append(&b, c->conn_token, strlen(c->conn_token));
        sg_buf_appendf(&b, " HTTP/1.1\r\nAuthorization: Bearer %s\r\n", tok);
    } else if (G.o.target == T_SIO) {
        sg_buf_appendf(&b, "GET %s HTTP/1.1\r\n", G.o.path ? G.o.path : "/socket.io/?EIO=4&transport=websocket");
    } else {
        sg_buf_appendf(&b, "GET %s HTTP/1.1\r\n", G.o.path ? G.o.path : "/sub");
    }
    sg_buf_appendf(&b,
                   "Host: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   hp, c->ws_key);
    int r = conn_write(c, b.data, b.len);
    sg_buf_free(&b);
    return r;
}

/* The payload every publisher sends: "lgts" + 16 hex digits (send time, ns) + "." + 'x'... */
static void payload_fill(char *p, size_t size)
{
    memcpy(p, LG_MARK, LG_MARK_LEN);
    memset(p + LG_MARK_LEN, '0', 16);
    p[LG_MARK_LEN + 16] = '.';
    for (size_t i = LG_MARK_LEN + 17; i < size; i++)
        p[i] = 'x';
}

static void put_hex16(char *p, uint64_t v)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        p[i] = hx[v & 15];
        v >>= 4;
    }
}

static int get_hex16(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char ch = p[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else
            return -1;
        v = (v << 4) | d;
    }
    *out = v;
    return 0;
}

/* Builds the publisher's request template once; pub_ts_off points at the 16 hex digits. */
static int build_pub_template(void)
{
    size_t size = (size_t)G.o.size;
    char *payload = sg_malloc(size + 1);
    if (!payload)
        return -1;
    payload_fill(payload, size);
    payload[size] = 0;
    char hp[128];
    hostport(hp, sizeof(hp));
    sg_buf *b = &G.pub_req;
    sg_buf_init(b, 0);
    if (G.o.target == T_SIGRID && G.o.publish == P_REST) {
        char aud[512];
        snprintf(aud, sizeof(aud), "%s/api/hubs/%s/:send?api-version=2022-06-01", G.aud, G.o.hub);
        if (lg_jwt_hs256(G.o.key, aud, ",\"nameid\":\"loadgen\"", 3600, G.rest_token, sizeof(G.rest_token)) < 0)
            return -1;
        sg_buf body;
        sg_buf_init(&body, 0);
        sg_buf_appendf(&body, "{\"target\":\"%s\",\"arguments\":[\"", G.o.method);
        size_t off = body.len;
        sg_buf_append(&body, payload, size);
        sg_buf_append_str(&body, "\"]}");
        sg_buf_appendf(b,
                       "POST /api/hubs/%s/:send?api-version=2022-06-01 HTTP/1.1\r\nHost: %s\r\n"
                       "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n",
                       G.o.hub, hp, G.rest_token, body.len);
        G.pub_ts_off = b->len + off + LG_MARK_LEN;
        sg_buf_append(b, body.data, body.len);
        sg_buf_free(&body);
    } else if (G.o.target == T_SIGRID && G.o.publish == P_SERVER) {
        /* BroadcastData [10, excluded=[], {json: invocation, messagepack: invocation}, {}]:
         * both hub-protocol encodings of Invocation(target, [payload]), as an app server sends */
        sg_buf js, mp;
        sg_buf_init(&js, 0);
        sg_buf_init(&mp, 0);
        sg_buf_appendf(&js, "{\"type\":1,\"target\":\"%s\",\"arguments\":[\"", G.o.method);
        sg_buf_append(&js, payload, size);
        sg_buf_append_str(&js, "\"]}\x1e");
        sg_buf body;
        sg_buf_init(&body, 0);
        size_t tl = strlen(G.o.method);
        uint8_t h[8];
        sg_buf_append(&body, "\x95\x01\x80\xc0", 4); /* [1, {}, nil, */
        if (tl > 31) {
            sg_free(payload);
            return -1;
        }
        h[0] = (uint8_t)(0xa0 | tl);
        sg_buf_append(&body, h, 1);
        sg_buf_append(&body, G.o.method, tl);        /* target, */
        sg_buf_append(&body, "\x91", 1);              /* [ */
        if (size <= 0xff) {
            h[0] = 0xd9;
            h[1] = (uint8_t)size;
            sg_buf_append(&body, h, 2);
        } else {
            h[0] = 0xda;
            h[1] = (uint8_t)(size >> 8);
            h[2] = (uint8_t)size;
            sg_buf_append(&body, h, 3);
        }
        sg_buf_append(&body, payload, size); /* payload]] (non-streaming: no StreamIds) */
        size_t v = body.len, vn = 0;
        do {
            h[vn++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        sg_buf_append(&mp, h, vn);
        sg_buf_append(&mp, body.data, body.len);
        sg_buf_free(&body);
        sg_svc_payload pl[2] = {{"json", (const uint8_t *)js.data, js.len},
                                {"messagepack", (const uint8_t *)mp.data, mp.len}};
        sg_svc_msg m;
        sg_svc_msg_init(&m);
        m.type = SG_SVC_BROADCAST_DATA;
        m.payloads = pl;
        m.n_payloads = 2;
        int wr = sg_svc_write(&m, b);
        sg_buf_free(&js);
        sg_buf_free(&mp);
        if (wr != SG_OK) {
            sg_free(payload);
            return -1;
        }
        /* two timestamps to patch per message: one per encoding */
        const char *m1 = memmem(b->data, b->len, LG_MARK, LG_MARK_LEN);
        const char *m2 = m1 ? memmem(m1 + 1, b->len - (size_t)(m1 + 1 - b->data), LG_MARK, LG_MARK_LEN) : NULL;
        if (!m1 || !m2) {
            sg_free(payload);
            return -1;
        }
        G.pub_ts_off = (size_t)(m1 - b->data) + LG_MARK_LEN;
        G.pub_ts_off2 = (size_t)(m2 - b->data) + LG_MARK_LEN;
    } else if (G.o.target == T_SIGRID && G.o.publish == P_CLIENT) {
        /* a JSON hub Invocation (non-blocking), framed per send */
        sg_buf_appendf(b, "{\"type\":1,\"target\":\"%s\",\"arguments\":[\"", G.o.method);
        G.pub_ts_off = b->len + LG_MARK_LEN;
        sg_buf_append(b, payload, size);
        sg_buf_append_str(b, "\"]}\x1e");
    } else {
        sg_buf_appendf(b,
                       "POST /pub HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n"
                       "Content-Length: %zu\r\n\r\n",
                       hp, size);
        G.pub_ts_off = b->len + LG_MARK_LEN;
        sg_buf_append(b, payload, size);
    }
    sg_free(payload);
    return 0;
}

static int send_http_get(lg_conn *c)
{
    char hp[128];
    hostport(hp, sizeof(hp));
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_buf_appendf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nMetadata: true\r\n\r\n", G.o.path, hp);
    c->t_req = now_ns();
    int r = conn_write(c, b.data, b.len);
    sg_buf_free(&b);
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* delivered messages                                                                         */

static void deliver(lg_conn *c, const char *p, size_t n)
{
    /* every message of a run has the same layout: try where the marker was last time first */
    static size_t last_off;
    const char *m;
    if (n >= last_off + LG_MARK_LEN + 16 && memcmp(p + last_off, LG_MARK, LG_MARK_LEN) == 0) {
        m = p + last_off;
    } else {
        m = memmem(p, n, LG_MARK, LG_MARK_LEN);
        if (m)
            last_off = (size_t)(m - p);
    }
    uint64_t ts;
    if (!m || (size_t)(p + n - m) < LG_MARK_LEN + 16 || get_hex16(m + LG_MARK_LEN, &ts) != 0) {
        G.unknown_msgs++;
        if (G.unknown_msgs <= 3)
            lg_errorf(c, "message without timestamp: %.*s", (int)(n > 120 ? 120 : n), p);
        return;
    }
    c->delivered++;
    G.deliveries++;
    if (G.measuring && G.now_ns > ts)
        lg_hist_add(&G.lat, (G.now_ns - ts) / 1000);
}

/* One JSON hub-protocol record (without its 0x1e). */
static void sigrid_json_record(lg_conn *c, const char *p, size_t n)
{
    int type = -1;
    if (n > 10 && memcmp(p, "{\"type\":", 8) == 0 && p[8] >= '0' && p[8] <= '9' && (p[9] < '0' || p[9] > '9'))
        type = p[8] - '0';
    else {
        const char *t = memmem(p, n, "\"type\":", 7);
        if (t) {
            t += 7;
            while (t < p + n && *t == ' ')
                t++;
            if (t < p + n && *t >= '0' && *t <= '9')
                type = *t - '0';
        }
    }
    switch (type) {
    case 1:
        deliver(c, p, n);
        break;
    case 6:
        G.pings++;
        break;
    case 7:
        conn_fail(c, "server sent Close: %.*s", (int)(n > 200 ? 200 : n), p);
        break;
    default:
        G.unknown_msgs++;
        break;
    }
}

static void sigrid_json_records(lg_conn *c, const char *p, size_t n)
{
    while (n > 0 && c->state == S_OPEN) {
        const char *e = memchr(p, 0x1e, n);
        if (!e) {
            conn_fail(c, "JSON hub message without record separator");
            return;
        }
        sigrid_json_record(c, p, (size_t)(e - p));
        n -= (size_t)(e - p) + 1;
        p = e + 1;
    }
}

static void sigrid_msgpack_records(lg_conn *c, const char *p, size_t n)
{
    const uint8_t *u = (const uint8_t *)p;
    while (n > 0 && c->state == S_OPEN) {
        uint32_t len = 0;
        size_t i = 0, shift = 0;
        for (;;) {
            if (i >= n || i >= 5) {
                conn_fail(c, "bad MessagePack length prefix");
                return;
            }
            len |= (uint32_t)(u[i] & 0x7f) << shift;
            shift += 7;
            if (!(u[i++] & 0x80))
                break;
        }
        if (len > n - i || len < 2) {
            conn_fail(c, "truncated MessagePack message");
            return;
        }
        const uint8_t *b = u + i;
        /* [type, ...]: fixarray or array16 header, then a positive fixint type */
        size_t ah = (b[0] & 0xf0) == 0x90 ? 1 : (b[0] == 0xdc ? 3 : 0);
        int type = (ah && len > ah && b[ah] < 0x80) ? b[ah] : -1;
        if (type == 1)
            deliver(c, (const char *)b, len);
        else if (type == 6)
            G.pings++;
        else if (type == 7)
            conn_fail(c, "server sent Close (MessagePack)");
        else
            G.unknown_msgs++;
        n -= i + len;
        u = b + len;
    }
}

static void sio_message(lg_conn *c, const char *p, size_t n)
{
    if (n == 0)
        return;
    switch (p[0]) {
    case '0': /* engine.io open: connect to the default namespace */
        if (c->state == S_HANDSHAKE)
            conn_ws_send(c, LG_WS_TEXT, "40", 2);
        return;
    case '2': /* engine.io ping */
        G.pings++;
        conn_ws_send(c, LG_WS_TEXT, "3", 1);
        return;
    case '4':
        if (n >= 2 && p[1] == '0') { /* socket.io CONNECT ack */
            if (c->state == S_HANDSHAKE)
                conn_on_open(c);
            return;
        }
        if (n >= 2 && p[1] == '2') { /* EVENT ["m", "..."] */
            deliver(c, p, n);
            return;
        }
        if (n >= 2 && (p[1] == '1' || p[1] == '4')) {
            conn_fail(c, "socket.io disconnect/error: %.*s", (int)(n > 200 ? 200 : n), p);
            return;
        }
        G.unknown_msgs++;
        return;
    case '1':
        conn_fail(c, "engine.io close");
        return;
    default:
        G.unknown_msgs++;
    }
}

/* Service-protocol messages to the publishing app-server connection: the handshake answer,
 * pings (answered), anything else ignored. */
static void server_conn_message(lg_conn *c, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n && c->state != S_FAILED) {
        sg_svc_msg m;
        size_t used = 0;
        const char *why = "";
        sg_svc_msg_init(&m);
        int r = sg_svc_parse(p + off, n - off, 0, &m, &used, &why);
        if (r != SG_OK) {
            sg_svc_msg_clear(&m);
            conn_fail(c, "service protocol: %s (%s)", sg_strerror(r), why);
            return;
        }
        off += used;
        if (m.type == SG_SVC_HANDSHAKE_RESPONSE && c->state == S_HANDSHAKE) {
            if (m.error_message && m.error_message[0]) {
                conn_fail(c, "server handshake refused: %s", m.error_message);
            } else {
                c->state = S_OPEN;
                pub_pump();
            }
        } else if (m.type == SG_SVC_PING) {
            static const char ping[] = "\x02\x91\x03"; /* [3] */
            conn_ws_send(c, LG_WS_BINARY, ping, 3);
        } else if (m.type == SG_SVC_SERVICE_ERROR) {
            conn_fail(c, "ServiceError: %s", m.error_message ? m.error_message : "");
        }
        sg_svc_msg_clear(&m);
    }
}

/* A complete WebSocket data message. */
static void ws_message(lg_conn *c, int opcode, const char *p, size_t n)
{
    (void)opcode;
    if (c->role == R_PUB && G.o.publish == P_SERVER) {
        server_conn_message(c, p, n);
        return;
    }
    if (c->role == R_PUB) {
        if (c->state == S_HANDSHAKE) {
            const char *e = memchr(p, 0x1e, n);
            if (!e || memmem(p, (size_t)(e - p), "\"error\"", 7)) {
                conn_fail(c, "handshake refused: %.*s", (int)(n > 200 ? 200 : n), p);
                return;
            }
            c->state = S_OPEN;
            pub_pump();
        }
        return; /* a publishing client ignores what it receives */
    }
    switch (G.o.target) {
    case T_SIGRID:
        if (c->state == S_HANDSHAKE) {
            const char *e = memchr(p, 0x1e, n);
            if (!e) {
                conn_fail(c, "handshake answer without record separator");
                return;
            }
            if (memmem(p, (size_t)(e - p), "\"error\"", 7) || p[0] != '{') {
                conn_fail(c, "handshake refused: %.*s", (int)(e - p > 200 ? 200 : e - p), p);
                return;
            }
            conn_on_open(c);
            n -= (size_t)(e - p) + 1;
            p = e + 1;
        }
        if (c->state != S_OPEN || n == 0)
            return;
        if (G.o.msgpack)
            sigrid_msgpack_records(c, p, n);
        else
            sigrid_json_records(c, p, n);
        return;
    case T_SIO:
        sio_message(c, p, n);
        return;
    default:
        if (c->state == S_OPEN)
            deliver(c, p, n);
        return;
    }
}

/* Parses WebSocket frames at p[0..n). Returns bytes consumed (complete frames), -1 if the
 * connection failed or closed. */
static long ws_feed(lg_conn *c, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        lg_ws_frame f;
        const char *why = "";
        int r = lg_ws_parse((const uint8_t *)p + off, n - off, 16u << 20, &f, &why);
        if (r == 0)
            break;
        if (r < 0) {
            conn_fail(c, "WebSocket: %s", why);
            return -1;
        }
        off += f.frame_len;
        const char *pl = (const char *)f.payload;
        size_t pn = (size_t)f.len;
        if (f.opcode == LG_WS_PING) {
            if (conn_ws_send(c, LG_WS_PONG, pl, pn) != 0)
                return -1;
        } else if (f.opcode == LG_WS_CLOSE) {
            unsigned code = pn >= 2 ? ((unsigned)(uint8_t)pl[0] << 8) | (uint8_t)pl[1] : 1005;
            conn_fail(c, "server closed the WebSocket: %u %.*s", code, (int)(pn > 2 ? pn - 2 : 0), pl + 2);
            return -1;
        } else if (f.opcode == LG_WS_PONG) {
            /* ignore */
        } else if (f.opcode == LG_WS_CONT) {
            if (!c->frag_op) {
                conn_fail(c, "WebSocket: continuation without a start");
                return -1;
            }
            if (sg_buf_append(&c->frag, pl, pn) != 0) {
                conn_fail(c, "WebSocket: fragmented message too big");
                return -1;
            }
            if (f.fin) {
                int op = c->frag_op;
                c->frag_op = 0;
                ws_message(c, op, c->frag.data, c->frag.len);
                sg_buf_reset(&c->frag);
            }
        } else {
            if (c->frag_op) {
                conn_fail(c, "WebSocket: new message inside a fragmented one");
                return -1;
            }
            if (f.fin) {
                ws_message(c, f.opcode, pl, pn);
            } else {
                c->frag_op = f.opcode;
                sg_buf_reset(&c->frag);
                if (sg_buf_append(&c->frag, pl, pn) != 0) {
                    conn_fail(c, "WebSocket: fragmented message too big");
                    return -1;
                }
            }
        }
        if (c->state == S_FAILED || c->closing)
            return -1;
    }
    return (long)off;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP answers                                                                               */

static int on_negotiate(lg_conn *c)
{
    lg_http *h = c->http;
    int st = h->parser.status_code;
    if (st != 200) {
        conn_fail(c, "negotiate: HTTP %d %.*s", st, (int)(h->body.len > 300 ? 300 : h->body.len),
                  h->body.data ? h->body.data : "");
        return -1;
    }
    json_error_t je;
    json_t *j = json_loadb(h->body.data, h->body.len, 0, &je);
    const char *tok = j ? json_string_value(json_object_get(j, "connectionToken")) : NULL;
    if (!tok && j)
        tok = json_string_value(json_object_get(j, "connectionId"));
    if (!tok) {
        conn_fail(c, "negotiate: no connectionToken in %.*s", (int)(h->body.len > 300 ? 300 : h->body.len),
                  h->body.data ? h->body.data : "");
        json_decref(j);
        return -1;
    }
    sg_free(c->conn_token);
    c->conn_token = sg_strdup(tok);
    json_decref(j);
    if (!c->conn_token) {
        conn_fail(c, "out of memory");
        return -1;
    }
    /* a real client opens a second connection for the WebSocket */
    c->state = S_UPGRADE;
    c->reconnect = 1;
    conn_close(c);
    return -1;
}

static int on_http_answer(lg_conn *c)
{
    lg_http *h = c->http;
    int st = h->parser.status_code;
    G.responses++;
    if (G.measuring)
        G.m_responses++;
    if (st < 200 || st > 299) {
        G.bad_status++;
        if (G.bad_status <= 3)
            lg_errorf(c, "HTTP %d: %.*s", st, (int)(h->body.len > 300 ? 300 : h->body.len),
                      h->body.data ? h->body.data : "");
    }
    if (c->role == R_PUB) {
        c->outstanding--;
        pub_pump();
    } else if (c->role == R_GET) {
        uint64_t us = (now_ns() - c->t_req) / 1000;
        if (st == 200 && !memmem(h->body.data ? h->body.data : "", h->body.len, "access_token", 12)) {
            G.bad_status++;
            if (G.bad_status <= 3)
                lg_errorf(c, "answer without access_token: %.*s", (int)(h->body.len > 300 ? 300 : h->body.len),
                          h->body.data ? h->body.data : "");
        }
        if (G.measuring)
            lg_hist_add(&G.lat, us);
        if (G.first_answer_us == 0)
            G.first_answer_us = (now_ns() - c->t_start) / 1000;
        if (G.publishing && send_http_get(c) != 0)
            return -1;
    }
    if (!llhttp_should_keep_alive(&h->parser)) {
        conn_fail(c, "server closed a keep-alive connection");
        return -1;
    }
    return 0;
}

static int on_upgraded(lg_conn *c)
{
    lg_http *h = c->http;
    char want[64];
    lg_ws_accept_for(c->ws_key, want, sizeof(want));
    if (h->parser.status_code != 101) {
        conn_fail(c, "upgrade: HTTP %d", h->parser.status_code);
        return -1;
    }
    if (strcmp(want, h->accept) != 0) {
        conn_fail(c, "upgrade: bad Sec-WebSocket-Accept '%s'", h->accept);
        return -1;
    }
    http_free(c);
    c->ws = 1;
    if (G.o.target == T_SIGRID && c->role == R_PUB && G.o.publish == P_SERVER) {
        /* service-protocol HandshakeRequest v1, a Weak connection: it sends, carries no clients */
        sg_svc_msg m;
        sg_buf hb;
        sg_svc_msg_init(&m);
        sg_buf_init(&hb, 0);
        m.type = SG_SVC_HANDSHAKE_REQUEST;
        m.version = 1;
        m.connection_type = SG_SVC_CONN_WEAK;
        int r = sg_svc_write(&m, &hb) == SG_OK ? conn_ws_send(c, LG_WS_BINARY, hb.data, hb.len) : -1;
        sg_buf_free(&hb);
        c->state = S_HANDSHAKE;
        return r;
    }
    if (G.o.target == T_SIGRID) {
        char hs[64];
        int n = snprintf(hs, sizeof(hs), "{\"protocol\":\"%s\",\"version\":1}\x1e",
                         G.o.msgpack && c->role == R_SUB ? "messagepack" : "json");
        c->state = S_HANDSHAKE;
        return conn_ws_send(c, LG_WS_TEXT, hs, (size_t)n);
    }
    if (G.o.target == T_SIO) {
        c->state = S_HANDSHAKE; /* wait for engine.io "0{...}" */
        return 0;
    }
    conn_on_open(c);
    return 0;
}

static void conn_on_open(lg_conn *c)
{
    c->state = S_OPEN;
    if (c->role != R_SUB || c->counted)
        return;
    c->counted = 1;
    uint64_t t = now_ns();
    lg_hist_add(&G.conn_hist, (t - c->t_start) / 1000);
    if (G.t_first == 0 || c->t_start < G.t_first)
        G.t_first = c->t_start;
    G.t_last = t;
    G.opened++;
    G.subs_live++;
    G.connecting--;
    sub_start_more();
}

/* Feeds bytes to the connection; returns bytes consumed, -1 once it closed/failed. */
static long conn_feed(lg_conn *c, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        if (c->ws) {
            long r = ws_feed(c, p + off, n - off);
            if (r < 0)
                return -1;
            off += (size_t)r;
            break;
        }
        if (!c->http) {
            conn_fail(c, "unexpected bytes from server");
            return -1;
        }
        llhttp_errno_t e = llhttp_execute(&c->http->parser, p + off, n - off);
        if (e == HPE_OK) {
            off = n;
            break;
        }
        const char *ep = llhttp_get_error_pos(&c->http->parser);
        if (e == HPE_PAUSED) {
            off = (size_t)(ep - p);
            llhttp_resume(&c->http->parser);
            int r = c->state == S_NEGOTIATE ? on_negotiate(c) : on_http_answer(c);
            if (r < 0)
                return -1;
        } else if (e == HPE_PAUSED_UPGRADE) {
            off = (size_t)(ep - p);
            if (on_upgraded(c) < 0)
                return -1;
        } else {
            conn_fail(c, "HTTP parse error: %s (%s)", llhttp_errno_name(e), c->http->parser.reason);
            return -1;
        }
        if (c->state == S_FAILED || c->closing)
            return -1;
    }
    return (long)off;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(G.rbuf, sizeof(G.rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lg_conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (c->closing)
            return;
        if (nread == UV_EOF && c->http && !c->ws) {
            /* an answer delimited by EOF */
            llhttp_errno_t e = llhttp_finish(&c->http->parser);
            if (e == HPE_PAUSED && c->state != S_NEGOTIATE) {
                on_http_answer(c);
                return;
            }
            if (e == HPE_PAUSED && c->state == S_NEGOTIATE) {
                on_negotiate(c);
                return;
            }
        }
        conn_fail(c, "read: %s", nread == UV_EOF ? "connection closed by server" : uv_strerror((int)nread));
        return;
    }
    G.now_ns = now_ns();
    if (c->role == R_SUB)
        G.sub_reads++; /* libuv: one read() per callback with data */
    const char *p = buf->base;
    size_t n = (size_t)nread;
    if (c->pending.len) {
        if (sg_buf_append(&c->pending, p, n) != 0) {
            conn_fail(c, "message too big");
            return;
        }
        p = c->pending.data;
        n = c->pending.len;
    }
    long used = conn_feed(c, p, n);
    if (used < 0)
        return;
    if (c->pending.len)
        sg_buf_consume(&c->pending, (size_t)used);
    else if ((size_t)used < n && sg_buf_append(&c->pending, p + used, n - (size_t)used) != 0) {
        conn_fail(c, "out of memory");
        return;
    }
    if (c->role == R_SUB && G.publishing)
        pub_pump();
}

static void on_connect(uv_connect_t *req, int status)
{
    lg_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_fail(c, "connect: %s", uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        conn_fail(c, "read_start: %s", uv_strerror(r));
        return;
    }
    if (!http_new(c)) {
        conn_fail(c, "out of memory");
        return;
    }
    switch (c->state) {
    case S_NEGOTIATE:
        send_negotiate(c);
        break;
    case S_UPGRADE:
        send_upgrade(c);
        break;
    case S_HTTP:
        if (c->role == R_GET) {
            c->t_start = c->t_start ? c->t_start : now_ns();
            send_http_get(c);
        } else {
            pub_pump();
        }
        break;
    default:
        conn_fail(c, "connected in state %d", (int)c->state);
    }
}

static void conn_connect(lg_conn *c)
{
    int r = uv_tcp_init(G.loop, &c->tcp);
    if (r < 0) {
        lg_errorf(c, "tcp_init: %s", uv_strerror(r));
        c->tcp.data = NULL;
        return;
    }
    c->tcp.data = c;
    c->creq.data = c;
    struct sockaddr_in dst;
    uv_ip4_addr(G.o.host, G.o.port, &dst);
    if (G.src_ip[0]) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            conn_fail(c, "socket: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in src;
        uv_ip4_addr(G.src_ip, 0, &src);
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 || uv_tcp_open(&c->tcp, fd) != 0) {
            close(fd);
            conn_fail(c, "bind %s: %s", G.src_ip, strerror(errno));
            return;
        }
    }
    r = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&dst, on_connect);
    if (r < 0)
        conn_fail(c, "connect: %s", uv_strerror(r));
}

/* ------------------------------------------------------------------------------------------ */
/* subscribers                                                                                */

static void sub_begin(lg_conn *c)
{
    c->role = R_SUB;
    c->t_start = now_ns();
    c->state = G.o.target == T_SIGRID ? S_NEGOTIATE : S_UPGRADE;
    G.connecting++;
    conn_connect(c);
}

static void conns_step_done(void);

static void sub_start_more(void)
{
    while (G.next_sub < G.target_open && G.connecting < G.o.concurrency)
        sub_begin(&G.subs[G.next_sub++]);
    if (G.connecting == 0 && G.next_sub >= G.target_open)
        conns_step_done();
}

static void conn_lost(lg_conn *c)
{
    G.subs_live--;
    uint64_t missing = G.published > c->delivered ? G.published - c->delivered : 0;
    G.expected = G.expected > missing ? G.expected - missing : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* publishers                                                                                 */

static void publish_one(lg_conn *c)
{
    uint64_t ts = now_ns();
    put_hex16(G.pub_req.data + G.pub_ts_off, ts);
    if (G.pub_ts_off2)
        put_hex16(G.pub_req.data + G.pub_ts_off2, ts);
    G.published++;
    G.expected += (uint64_t)G.subs_live;
    c->outstanding++;
    if (c->role == R_PUB && (G.o.publish == P_CLIENT || G.o.publish == P_SERVER)) {
        c->outstanding--; /* fire and forget; the window is counted in deliveries */
        conn_ws_send(c, G.o.publish == P_SERVER ? LG_WS_BINARY : LG_WS_TEXT, G.pub_req.data, G.pub_req.len);
        return;
    }
    conn_write(c, G.pub_req.data, G.pub_req.len);
}

static void pub_pump(void)
{
    if (!G.publishing || G.subs_live <= 0)
        return;
    uint64_t cap = (uint64_t)G.o.window * (uint64_t)G.subs_live;
    long depth = G.o.publish == P_CLIENT || G.o.publish == P_SERVER ? 1 : (G.o.window + G.npubs - 1) / G.npubs;
    for (long tries = 0; tries < G.npubs; tries++) {
        uint64_t inflight = G.expected > G.deliveries ? G.expected - G.deliveries : 0;
        if (inflight + (uint64_t)G.subs_live > cap)
            return;
        lg_conn *c = &G.pubs[G.pub_rr];
        G.pub_rr = (G.pub_rr + 1) % G.npubs;
        int ready = (c->state == S_HTTP || (c->state == S_OPEN && G.o.publish != P_REST)) && !c->closing;
        if (!ready || c->outstanding >= depth)
            continue;
        publish_one(c);
        tries = -1; /* go round again while the window allows */
    }
}

static void pubs_start(void)
{
    G.npubs = G.o.publish == P_CLIENT || G.o.publish == P_SERVER ? 1 : G.o.pub_conns;
    G.pubs = sg_calloc((size_t)G.npubs, sizeof(lg_conn));
    if (!G.pubs) {
        fprintf(stderr, "loadgen: out of memory\n");
        _exit(2);
    }
    for (long i = 0; i < G.npubs; i++) {
        lg_conn *c = &G.pubs[i];
        c->idx = -2 - i;
        c->role = R_PUB;
        c->t_start = now_ns();
        if (G.o.publish == P_CLIENT)
            c->state = S_NEGOTIATE;
        else if (G.o.publish == P_SERVER)
            c->state = S_UPGRADE;
        else
            c->state = S_HTTP;
        conn_connect(c);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* fan-out mode                                                                               */

static double secs_since(uint64_t t) { return (double)(now_ns() - t) / 1e9; }

static void json_common(sg_buf *b, const char *mode)
{
    static const char *tn[] = {"sigrid", "nchan", "ws", "socketio"};
    sg_buf_appendf(b, "{\"tool\":\"loadgen\",\"mode\":\"%s\",\"target\":\"%s\"", mode, tn[G.o.target]);
    if (G.o.label)
        sg_buf_appendf(b, ",\"label\":\"%s\"", G.o.label);
    if (G.o.target == T_SIGRID)
        sg_buf_appendf(b, ",\"protocol\":\"%s\"", G.o.msgpack ? "messagepack" : "json");
}

static void finish(int code)
{
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}

static void fanout_report(void)
{
    double dur = secs_since(G.t_measure);
    double lcpu = self_cpu_s() - G.lg_cpu0;
    double scpu = G.o.nserver_pids ? proc_cpu_s() - G.srv_cpu0 : -1;
    double mcpu = machine_busy_s() - G.mach_cpu0;
    G.measuring = 0;
    G.publishing = 0;
    uint64_t del = G.deliveries - G.m_deliveries;
    uint64_t reads = G.sub_reads - G.m_sub_reads;
    sg_buf b;
    sg_buf_init(&b, 0);
    json_common(&b, "fanout");
    sg_buf_appendf(&b,
                   ",\"subscribers\":%ld,\"connected\":%ld,\"size\":%ld,\"window\":%ld,\"publish\":\"%s\","
                   "\"pub_conns\":%ld,\"duration_s\":%.3f,\"published\":%llu,\"deliveries\":%llu,"
                   "\"deliveries_per_s\":%.0f,\"lat_p50_us\":%llu,\"lat_p99_us\":%llu,\"lat_max_us\":%llu,"
                   "\"server_cpu\":%.3f,\"loadgen_cpu\":%.3f,\"errors\":%llu,\"bad_status\":%llu,"
                   "\"unknown_msgs\":%llu,\"stalls\":%llu,\"pings\":%llu,\"subs_live\":%ld,"
                   "\"other_cpu\":%.3f,\"sub_reads\":%llu,\"deliveries_per_read\":%.2f}\n",
                   G.o.conns, G.opened, G.o.size, G.o.window,
                   G.o.publish == P_REST     ? "rest"
                   : G.o.publish == P_CLIENT ? "client"
                   : G.o.publish == P_SERVER ? "server"
                                             : "none",
                   G.npubs, dur,
                   (unsigned long long)(G.published - G.m_published), (unsigned long long)del,
                   dur > 0 ? (double)del / dur : 0, (unsigned long long)lg_hist_quantile(&G.lat, 0.5),
                   (unsigned long long)lg_hist_quantile(&G.lat, 0.99), (unsigned long long)G.lat.max,
                   scpu >= 0 && dur > 0 ? scpu / dur : -1, dur > 0 ? lcpu / dur : 0, (unsigned long long)G.errors,
                   (unsigned long long)G.bad_status, (unsigned long long)G.unknown_msgs,
                   (unsigned long long)G.stalls, (unsigned long long)G.pings, G.subs_live,
                   dur > 0 && scpu >= 0 ? (mcpu - scpu - lcpu) / dur : -1, (unsigned long long)reads,
                   reads ? (double)del / (double)reads : 0);
    fwrite(b.data, 1, b.len, stdout);
    sg_buf_free(&b);
    finish(G.errors || G.bad_status || del == 0 ? 1 : 0);
}

static void on_measure_end(uv_timer_t *t)
{
    (void)t;
    fanout_report();
}

static void on_warmup_end(uv_timer_t *t)
{
    (void)t;
    G.measuring = 1;
    G.t_measure = now_ns();
    G.m_deliveries = G.deliveries; /* baseline (published/m_published swap below) */
    G.m_published = G.published;
    G.m_sub_reads = G.sub_reads;
    G.lg_cpu0 = self_cpu_s();
    G.srv_cpu0 = G.o.nserver_pids ? proc_cpu_s() : 0;
    G.mach_cpu0 = machine_busy_s();
    lg_hist_reset(&G.lat);
    uv_timer_start(&G.t_phase, on_measure_end, (uint64_t)(G.o.duration * 1000), 0);
}

static void on_publish_start(uv_timer_t *t)
{
    (void)t;
    G.publishing = 1;
    G.t_pub = now_ns();
    G.last_deliveries = G.deliveries;
    G.stall_since = now_ns();
    pubs_start();
    uv_timer_start(&G.t_phase, on_warmup_end, (uint64_t)(G.o.warmup * 1000), 0);
}

/* Every 250 ms: detect a stalled window (messages the server never delivered). */
static void on_tick(uv_timer_t *t)
{
    (void)t;
    if (!G.publishing)
        return;
    if (G.o.verbose) {
        /* one line per second: deliveries/s and deliveries per read, to see a server change pace */
        uint64_t tn = now_ns();
        double cpu = self_cpu_s();
        if (G.tick_ns && tn - G.tick_ns >= 1000000000ull) {
            uint64_t d = G.deliveries - G.tick_deliveries, r = G.sub_reads - G.tick_reads;
            double dt = (double)(tn - G.tick_ns) / 1e9;
            fprintf(stderr, "loadgen: t=%.1f s deliveries/s=%.0f deliveries_per_read=%.2f loadgen_cpu=%.2f\n",
                    (double)(tn - G.t_pub) / 1e9, (double)d / dt, r ? (double)d / (double)r : 0,
                    (cpu - G.tick_cpu) / dt);
        }
        if (G.tick_ns == 0 || tn - G.tick_ns >= 1000000000ull) {
            G.tick_ns = tn;
            G.tick_cpu = cpu;
            G.tick_deliveries = G.deliveries;
            G.tick_reads = G.sub_reads;
        }
    }
    if (G.deliveries != G.last_deliveries) {
        G.last_deliveries = G.deliveries;
        G.stall_since = now_ns();
        return;
    }
    if (G.expected > G.deliveries && secs_since(G.stall_since) > 1.0) {
        G.stalls++;
        lg_errorf(NULL, "no delivery for 1 s with %llu in flight: forgetting them",
                  (unsigned long long)(G.expected - G.deliveries));
        G.expected = G.deliveries;
        G.stall_since = now_ns();
        pub_pump();
    }
}

/* Called when the current batch of subscriber connects finished. */
static void conns_step_done(void)
{
    if (G.o.mode == M_FANOUT) {
        if (G.publishing || uv_is_active((uv_handle_t *)&G.t_phase))
            return;
        fprintf(stderr, "loadgen: %ld/%ld subscribers connected (%ld failed) in %.2f s\n", G.opened, G.o.conns,
                G.failed, G.t_last > G.t_first ? (double)(G.t_last - G.t_first) / 1e9 : 0);
        if (G.opened == 0) {
            printf("{\"tool\":\"loadgen\",\"mode\":\"fanout\",\"error\":\"no subscriber connected\","
                   "\"errors\":%llu}\n",
                   (unsigned long long)G.errors);
            finish(1);
        }
        if (G.o.publish == P_NONE) {
            finish(0);
        }
        /* let the server settle its subscriptions before the first message */
        uv_timer_start(&G.t_phase, on_publish_start, 200, 0);
        return;
    }
    if (G.o.mode == M_CONNS) {
        lg_step_result r;
        memset(&r, 0, sizeof(r));
        r.opened = G.opened;
        r.failed = G.failed;
        r.t_first = G.t_first;
        r.t_last = G.t_last;
        r.hist = G.conn_hist;
        ssize_t w = write(G.res_fd, &r, sizeof(r));
        (void)w;
        G.opened = G.failed = 0;
        G.t_first = G.t_last = 0;
        lg_hist_reset(&G.conn_hist);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* conns mode: children connect on command, parent measures                                   */

static void on_hard_timeout(uv_timer_t *t);

static void on_cmd_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf)
{
    (void)h;
    (void)s;
    static char cbuf[64];
    *buf = uv_buf_init(cbuf, sizeof(cbuf));
}

static void on_cmd(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)s;
    if (nread < 0)
        finish(0); /* parent is gone or told us to stop */
    for (ssize_t i = 0; i + 4 <= nread; i += 4) {
        uint32_t v;
        memcpy(&v, buf->base + i, 4);
        if (v == 0xffffffffu)
            finish(0);
        G.target_open = v > (uint32_t)G.nsubs ? G.nsubs : (long)v;
        sub_start_more();
    }
}

static void child_main(int idx)
{
    G.loop = uv_default_loop();
    uv_timer_init(G.loop, &G.t_hard);
    uv_timer_start(&G.t_hard, on_hard_timeout, (uint64_t)(G.o.timeout * 1000), 0);
    if (G.o.src_ips > 0)
        snprintf(G.src_ip, sizeof(G.src_ip), "127.0.0.%d", 1 + (idx % (int)G.o.src_ips));
    uv_pipe_init(G.loop, &G.cmd_pipe, 0);
    uv_pipe_open(&G.cmd_pipe, G.cmd_fd);
    uv_read_start((uv_stream_t *)&G.cmd_pipe, on_cmd_alloc, on_cmd);
    uv_run(G.loop, UV_RUN_DEFAULT);
    finish(0);
}

static long share(long total, int i, int n) { return total * (i + 1) / n - total * i / n; }

static int read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int conns_main(void)
{
    int P = (int)G.o.procs;
    pid_t pids[64];
    int cmd[64], res[64];
    if (P < 1 || P > 64) {
        fprintf(stderr, "loadgen: --procs must be 1..64\n");
        return 2;
    }
    long total = G.o.steps[G.o.nsteps - 1];
    long rss0 = proc_rss_kb();
    for (int i = 0; i < P; i++) {
        int a[2], b[2];
        if (pipe(a) != 0 || pipe(b) != 0) {
            perror("pipe");
            return 2;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            close(a[1]);
            close(b[0]);
            for (int j = 0; j < i; j++) {
                close(cmd[j]);
                close(res[j]);
            }
            G.cmd_fd = a[0];
            G.res_fd = b[1];
            G.nsubs = share(total, i, P);
            G.subs = sg_calloc((size_t)(G.nsubs ? G.nsubs : 1), sizeof(lg_conn));
            for (long k = 0; k < G.nsubs; k++)
                G.subs[k].idx = k;
            G.o.concurrency = G.o.concurrency / P > 0 ? G.o.concurrency / P : 1;
            child_main(i);
        }
        close(a[0]);
        close(b[1]);
        pids[i] = pid;
        cmd[i] = a[1];
        res[i] = b[0];
    }
    int rc = 0;
    long prev = 0;
    for (int s = 0; s < G.o.nsteps; s++) {
        long step = G.o.steps[s];
        double t0 = (double)now_ns() / 1e9, m0 = machine_busy_s(), s0 = proc_cpu_s(), l0 = pids_cpu_s(pids, P);
        for (int i = 0; i < P; i++) {
            /* child i's cumulative share of this step */
            uint32_t v = (uint32_t)share(step, i, P);
            ssize_t w = write(cmd[i], &v, 4);
            (void)w;
        }
        lg_step_result agg;
        memset(&agg, 0, sizeof(agg));
        int ok = 1;
        for (int i = 0; i < P; i++) {
            lg_step_result r;
            if (read_full(res[i], &r, sizeof(r)) != 0) {
                ok = 0;
                continue;
            }
            agg.opened += r.opened;
            agg.failed += r.failed;
            if (r.t_first && (agg.t_first == 0 || r.t_first < agg.t_first))
                agg.t_first = r.t_first;
            if (r.t_last > agg.t_last)
                agg.t_last = r.t_last;
            lg_hist_merge(&agg.hist, &r.hist);
        }
        double wall = (double)now_ns() / 1e9 - t0;
        double scpu = s0 >= 0 ? proc_cpu_s() - s0 : -1, lcpu = pids_cpu_s(pids, P) - l0;
        double other = scpu >= 0 && wall > 0 ? (machine_busy_s() - m0 - scpu - lcpu) / wall : -1;
        if (G.o.settle > 0)
            usleep((useconds_t)(G.o.settle * 1e6));
        long rss = proc_rss_kb();
        double span = agg.t_last > agg.t_first ? (double)(agg.t_last - agg.t_first) / 1e9 : 0;
        sg_buf b;
        sg_buf_init(&b, 0);
        json_common(&b, "conns");
        sg_buf_appendf(&b,
                       ",\"step\":%d,\"open_total\":%ld,\"new\":%ld,\"failed\":%ld,\"procs\":%d,"
                       "\"span_s\":%.3f,\"connects_per_s\":%.0f,\"connect_p50_us\":%llu,"
                       "\"connect_p99_us\":%llu,\"rss_base_kb\":%ld,\"rss_kb\":%ld",
                       s, step, agg.opened, agg.failed, P, span, span > 0 ? (double)agg.opened / span : 0,
                       (unsigned long long)lg_hist_quantile(&agg.hist, 0.5),
                       (unsigned long long)lg_hist_quantile(&agg.hist, 0.99), rss0, rss);
        if (rss0 > 0 && rss > 0 && step > 0)
            sg_buf_appendf(&b, ",\"rss_per_conn_bytes\":%.0f", (double)(rss - rss0) * 1024.0 / (double)step);
        sg_buf_appendf(&b, ",\"server_cpu\":%.3f,\"loadgen_cpu\":%.3f,\"other_cpu\":%.3f", wall > 0 && scpu >= 0 ? scpu / wall : -1,
                       wall > 0 ? lcpu / wall : 0, other);
        sg_buf_appendf(&b, ",\"ok\":%s}\n", ok && agg.failed == 0 && agg.opened == step - prev ? "true" : "false");
        fwrite(b.data, 1, b.len, stdout);
        fflush(stdout);
        sg_buf_free(&b);
        if (!ok || agg.failed || agg.opened != step - prev)
            rc = 1;
        prev = step;
        if (!ok)
            break;
    }
    for (int i = 0; i < P; i++) {
        uint32_t v = 0xffffffffu;
        ssize_t w = write(cmd[i], &v, 4);
        (void)w;
        close(cmd[i]);
    }
    for (int i = 0; i < P; i++) {
        int st;
        waitpid(pids[i], &st, 0);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* http mode (closed-loop GETs, e.g. IMDS tokens)                                             */

static void on_http_measure_end(uv_timer_t *t)
{
    (void)t;
    double dur = secs_since(G.t_measure);
    double scpu = G.o.nserver_pids ? proc_cpu_s() - G.srv_cpu0 : -1;
    double lcpu = self_cpu_s() - G.lg_cpu0;
    double mcpu = machine_busy_s() - G.mach_cpu0;
    sg_buf b;
    sg_buf_init(&b, 0);
    json_common(&b, "http");
    sg_buf_appendf(&b,
                   ",\"path\":\"%s\",\"conns\":%ld,\"duration_s\":%.3f,\"answers\":%llu,\"answers_per_s\":%.0f,"
                   "\"first_answer_us\":%llu,\"lat_p50_us\":%llu,\"lat_p99_us\":%llu,\"server_cpu\":%.3f,"
                   "\"errors\":%llu,\"bad_status\":%llu,\"loadgen_cpu\":%.3f,\"other_cpu\":%.3f}\n",
                   G.o.path, G.npubs, dur, (unsigned long long)G.m_responses,
                   dur > 0 ? (double)G.m_responses / dur : 0, (unsigned long long)G.first_answer_us,
                   (unsigned long long)lg_hist_quantile(&G.lat, 0.5), (unsigned long long)lg_hist_quantile(&G.lat, 0.99),
                   scpu >= 0 && dur > 0 ? scpu / dur : -1, (unsigned long long)G.errors,
                   (unsigned long long)G.bad_status, dur > 0 ? lcpu / dur : 0,
                   dur > 0 && scpu >= 0 ? (mcpu - scpu - lcpu) / dur : -1);
    fwrite(b.data, 1, b.len, stdout);
    sg_buf_free(&b);
    finish(G.errors || G.bad_status || G.m_responses == 0 ? 1 : 0);
}

static void on_http_warm(uv_timer_t *t)
{
    (void)t;
    G.measuring = 1;
    G.m_responses = 0;
    G.t_measure = now_ns();
    G.srv_cpu0 = G.o.nserver_pids ? proc_cpu_s() : 0;
    G.lg_cpu0 = self_cpu_s();
    G.mach_cpu0 = machine_busy_s();
    lg_hist_reset(&G.lat);
    uv_timer_start(&G.t_phase, on_http_measure_end, (uint64_t)(G.o.duration * 1000), 0);
}

static void http_first_check(uv_timer_t *t);

static void http_start_all(void)
{
    for (long i = 1; i < G.npubs; i++) {
        lg_conn *c = &G.pubs[i];
        c->idx = i;
        c->role = R_GET;
        c->state = S_HTTP;
        c->t_start = now_ns();
        conn_connect(c);
    }
    uv_timer_start(&G.t_phase, on_http_warm, (uint64_t)(G.o.warmup * 1000), 0);
}

static void http_first_check(uv_timer_t *t)
{
    (void)t;
    if (G.first_answer_us == 0 && G.errors == 0)
        return; /* the first answer is not there yet */
    uv_timer_stop(&G.t_tick);
    if (G.errors) {
        printf("{\"tool\":\"loadgen\",\"mode\":\"http\",\"error\":\"first request failed\",\"errors\":%llu}\n",
               (unsigned long long)G.errors);
        finish(1);
    }
    G.publishing = 1;
    send_http_get(&G.pubs[0]);
    http_start_all();
}

static int http_main(void)
{
    G.npubs = G.o.conns;
    G.pubs = sg_calloc((size_t)G.npubs, sizeof(lg_conn));
    if (!G.pubs)
        return 2;
    /* first: one fresh connection, one request, time to the answer */
    lg_conn *c = &G.pubs[0];
    c->role = R_GET;
    c->state = S_HTTP;
    c->t_start = now_ns();
    conn_connect(c);
    uv_timer_start(&G.t_tick, http_first_check, 1, 1);
    uv_run(G.loop, UV_RUN_DEFAULT);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* main                                                                                       */

static void on_hard_timeout(uv_timer_t *t)
{
    (void)t;
    printf("{\"tool\":\"loadgen\",\"error\":\"timeout\",\"opened\":%ld,\"failed\":%ld,\"errors\":%llu}\n", G.opened,
           G.failed, (unsigned long long)G.errors);
    finish(1);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --mode fanout|conns|http --target sigrid|nchan|ws|socketio --port N [options]\n"
            "  --host ADDR            server address (127.0.0.1)\n"
            "  --key KEY              sigrid access key (HS256 tokens are minted with it)\n"
            "  --kid KID              key id for the token header (a temporary key's KeyId)\n"
            "  --token-per-conn       sigrid: every connection mints its own client token (distinct\n"
            "                         nameid), as an app server does per user (default: one per process)\n"
            "  --conn-str STR         sigrid connection string (Endpoint=..;AccessKey=..;Port=..)\n"
            "  --endpoint URL         audience base for tokens (http://HOST)\n"
            "  --hub NAME             hub (bench)          --method NAME  target (m)\n"
            "  --protocol json|messagepack                  subscribers' hub protocol (json)\n"
            "  --conns N              subscribers / connections (100)\n"
            "  --size B               payload bytes (64)   --window W  messages in flight (32)\n"
            "  --publish rest|client|server|none (rest)           --pub-conns C  publisher connections (8)\n"
            "  --warmup S (1) --duration S (3) --settle S (1) --timeout S (60)\n"
            "  --concurrency K        connects in flight (256)\n"
            "  --steps A,B,...        conns mode: open totals to measure at (default --conns)\n"
            "  --procs P              conns mode: processes (1)   --src-ips K  127.0.0.1..K as sources\n"
            "  --server-pid P[,P]     server pids (and their children) for CPU and RSS\n"
            "  --path PATH            http mode: GET path; peers: subscribe path\n"
            "  --label TEXT           copied into the JSON output\n"
            "  --verbose              every error; fanout: deliveries/s and deliveries per read each second\n");
}

static int parse_long(const char *s, long *out)
{
    int64_t v;
    if (sg_parse_i64(s, strlen(s), &v) != 0)
        return -1;
    *out = (long)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_conn_str(const char *cs, lg_opts *o)
{
    static char endpoint[256], key[256];
    static char host[64];
    const char *p = cs;
    int have_port = 0;
    while (*p) {
        const char *e = strchr(p, ';');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 9 && strncasecmp(p, "Endpoint=", 9) == 0 && n - 9 < sizeof(endpoint)) {
            memcpy(endpoint, p + 9, n - 9);
            endpoint[n - 9] = 0;
        } else if (n > 10 && strncasecmp(p, "AccessKey=", 10) == 0 && n - 10 < sizeof(key)) {
            memcpy(key, p + 10, n - 10);
            key[n - 10] = 0;
        } else if (n > 5 && strncasecmp(p, "Port=", 5) == 0) {
            char tmp[16];
            long v;
            if (n - 5 < sizeof(tmp)) {
                memcpy(tmp, p + 5, n - 5);
                tmp[n - 5] = 0;
                if (parse_long(tmp, &v) == 0) {
                    o->port = (int)v;
                    have_port = 1;
                }
            }
        }
        p += n;
        if (*p == ';')
            p++;
    }
    if (!endpoint[0] || !key[0])
        return -1;
    size_t el = strlen(endpoint);
    while (el > 0 && endpoint[el - 1] == '/')
        endpoint[--el] = 0;
    o->endpoint = endpoint;
    o->key = key;
    /* host (and port when no Port=) from the endpoint URL */
    const char *h = strstr(endpoint, "://");
    h = h ? h + 3 : endpoint;
    size_t hl = strcspn(h, ":/");
    if (hl < sizeof(host)) {
        memcpy(host, h, hl);
        host[hl] = 0;
        if (strcmp(host, "localhost") != 0)
            o->host = host;
    }
    if (!have_port && h[hl] == ':') {
        char tmp[16];
        size_t pl = strcspn(h + hl + 1, "/");
        long v;
        if (pl < sizeof(tmp)) {
            memcpy(tmp, h + hl + 1, pl);
            tmp[pl] = 0;
            if (parse_long(tmp, &v) == 0)
                o->port = (int)v;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    lg_opts *o = &G.o;
    o->mode = M_FANOUT;
    o->target = T_SIGRID;
    o->host = "127.0.0.1";
    o->hub = "bench";
    o->method = "m";
    o->conns = 100;
    o->procs = 1;
    o->size = 64;
    o->window = 32;
    o->pub_conns = 8;
    o->publish = P_REST;
    o->duration = 3;
    o->warmup = 1;
    o->settle = 1;
    o->timeout = 60;
    o->concurrency = 256;
    static char endpoint_buf[300];
    static struct option lo[] = {
        {"mode", 1, 0, 'm'},     {"target", 1, 0, 't'},   {"host", 1, 0, 'H'},        {"port", 1, 0, 'p'},
        {"key", 1, 0, 'k'},      {"conn-str", 1, 0, 'C'}, {"endpoint", 1, 0, 'E'},    {"hub", 1, 0, 'h'},
        {"method", 1, 0, 'M'},   {"protocol", 1, 0, 'P'}, {"conns", 1, 0, 'n'},       {"size", 1, 0, 's'},
        {"window", 1, 0, 'w'},   {"publish", 1, 0, 'u'},  {"pub-conns", 1, 0, 'c'},   {"warmup", 1, 0, 'W'},
        {"duration", 1, 0, 'd'}, {"settle", 1, 0, 'S'},   {"timeout", 1, 0, 'T'},     {"concurrency", 1, 0, 'K'},
        {"steps", 1, 0, 'x'},    {"procs", 1, 0, 'j'},    {"src-ips", 1, 0, 'i'},     {"server-pid", 1, 0, 'r'},
        {"path", 1, 0, 'a'},     {"label", 1, 0, 'l'},    {"verbose", 0, 0, 'v'},     {"help", 0, 0, '?'},
        {"kid", 1, 0, 'I'},      {"token-per-conn", 0, 0, 'O'}, {0, 0, 0, 0}};
    int ch, bad = 0;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        long v = 0;
        switch (ch) {
        case 'm':
            if (!strcmp(optarg, "fanout"))
                o->mode = M_FANOUT;
            else if (!strcmp(optarg, "conns"))
                o->mode = M_CONNS;
            else if (!strcmp(optarg, "http"))
                o->mode = M_HTTP;
            else
                bad = 1;
            break;
        case 't':
            if (!strcmp(optarg, "sigrid"))
                o->target = T_SIGRID;
            else if (!strcmp(optarg, "nchan"))
                o->target = T_NCHAN;
            else if (!strcmp(optarg, "ws"))
                o->target = T_WS;
            else if (!strcmp(optarg, "socketio"))
                o->target = T_SIO;
            else
                bad = 1;
            break;
        case 'H': o->host = optarg; break;
        case 'p': bad |= parse_long(optarg, &v) != 0; o->port = (int)v; break;
        case 'k': o->key = optarg; break;
        case 'I': lg_jwt_kid = optarg; break;
        case 'O': o->token_per_conn = 1; break;
        case 'C': bad |= parse_conn_str(optarg, o) != 0; break;
        case 'E': o->endpoint = optarg; break;
        case 'h': o->hub = optarg; break;
        case 'M': o->method = optarg; break;
        case 'P':
            if (!strcmp(optarg, "json"))
                o->msgpack = 0;
            else if (!strcmp(optarg, "messagepack"))
                o->msgpack = 1;
            else
                bad = 1;
            break;
        case 'n': bad |= parse_long(optarg, &o->conns) != 0; break;
        case 's': bad |= parse_long(optarg, &o->size) != 0; break;
        case 'w': bad |= parse_long(optarg, &o->window) != 0; break;
        case 'u':
            if (!strcmp(optarg, "rest"))
                o->publish = P_REST;
            else if (!strcmp(optarg, "client"))
                o->publish = P_CLIENT;
            else if (!strcmp(optarg, "server"))
                o->publish = P_SERVER;
            else if (!strcmp(optarg, "none"))
                o->publish = P_NONE;
            else
                bad = 1;
            break;
        case 'c': bad |= parse_long(optarg, &o->pub_conns) != 0; break;
        case 'W': bad |= parse_double(optarg, &o->warmup) != 0; break;
        case 'd': bad |= parse_double(optarg, &o->duration) != 0; break;
        case 'S': bad |= parse_double(optarg, &o->settle) != 0; break;
        case 'T': bad |= parse_double(optarg, &o->timeout) != 0; break;
        case 'K': bad |= parse_long(optarg, &o->concurrency) != 0; break;
        case 'j': bad |= parse_long(optarg, &o->procs) != 0; break;
        case 'i': bad |= parse_long(optarg, &o->src_ips) != 0; break;
        case 'x': {
            char *dup = sg_strdup(optarg), *save = NULL;
            for (char *t = strtok_r(dup, ",", &save); t && o->nsteps < LG_MAX_STEPS; t = strtok_r(NULL, ",", &save))
                bad |= parse_long(t, &o->steps[o->nsteps++]) != 0;
            sg_free(dup);
            break;
        }
        case 'r': {
            char *dup = sg_strdup(optarg), *save = NULL;
            for (char *t = strtok_r(dup, ",", &save); t && o->nserver_pids < LG_MAX_PIDS;
                 t = strtok_r(NULL, ",", &save)) {
                bad |= parse_long(t, &v) != 0;
                o->server_pids[o->nserver_pids++] = (int)v;
            }
            sg_free(dup);
            break;
        }
        case 'a': o->path = optarg; break;
        case 'l': o->label = optarg; break;
        case 'v': o->verbose = 1; break;
        default: bad = 1;
        }
    }
    if (bad || o->port <= 0 || o->conns < 1 || o->window < 1 || o->pub_conns < 1 || o->concurrency < 1 ||
        (o->target == T_SIGRID && o->mode != M_HTTP && !o->key) || (o->mode == M_HTTP && !o->path) ||
        o->size < LG_MARK_LEN + 17 || o->size > (1 << 20)) {
        usage();
        return 2;
    }
    if (!o->endpoint) {
        snprintf(endpoint_buf, sizeof(endpoint_buf), "http://%s", o->host);
        o->endpoint = endpoint_buf;
    }
    if (o->nsteps == 0)
        o->steps[o->nsteps++] = o->conns;
    {
        /* audience base = scheme://host of the endpoint (no port, no path, lower case) */
        const char *e = o->endpoint, *h = strstr(e, "://");
        size_t sl = h ? (size_t)(h - e) + 3 : 0;
        size_t hl = strcspn(e + sl, ":/");
        snprintf(G.aud, sizeof(G.aud), "%.*s%.*s", (int)sl, e, (int)hl, e + sl);
        sg_str_lower(G.aud);
    }
    signal(SIGPIPE, SIG_IGN);
    uint32_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed) || seed == 0)
        seed = (uint32_t)now_ns() | 1;
    G.mask_state = seed;

    llhttp_settings_init(&H_SETTINGS);
    H_SETTINGS.on_message_begin = h_on_message_begin;
    H_SETTINGS.on_header_field = h_on_header_field;
    H_SETTINGS.on_header_field_complete = h_on_header_field_complete;
    H_SETTINGS.on_header_value = h_on_header_value;
    H_SETTINGS.on_header_value_complete = h_on_header_value_complete;
    H_SETTINGS.on_body = h_on_body;
    H_SETTINGS.on_message_complete = h_on_message_complete;

    if (o->mode == M_CONNS)
        return conns_main(); /* the children run their own loops */

    G.loop = uv_default_loop();
    uv_timer_init(G.loop, &G.t_phase);
    uv_timer_init(G.loop, &G.t_tick);
    uv_timer_init(G.loop, &G.t_hard);
    uv_timer_start(&G.t_hard, on_hard_timeout, (uint64_t)(o->timeout * 1000), 0);
    if (o->src_ips > 0)
        snprintf(G.src_ip, sizeof(G.src_ip), "127.0.0.1");

    if (o->mode == M_HTTP)
        return http_main();

    if (build_pub_template() != 0) {
        fprintf(stderr, "loadgen: cannot build the publisher request\n");
        return 2;
    }
    G.nsubs = o->conns;
    G.target_open = o->conns;
    G.subs = sg_calloc((size_t)G.nsubs, sizeof(lg_conn));
    if (!G.subs)
        return 2;
    for (long i = 0; i < G.nsubs; i++)
        G.subs[i].idx = i;
    uv_timer_start(&G.t_tick, on_tick, 250, 250);
    sub_start_more();
    uv_run(G.loop, UV_RUN_DEFAULT);
    finish(1);
    return 1;
}
