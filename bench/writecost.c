/* bench/writecost.c — what one send of F frames of S bytes costs on loopback, as a writev of F
 * entries and as one write of the same bytes copied into a flat buffer (what src/net/stream.c
 * does for flushes up to 64 KiB). N TCP_NODELAY loopback connections; the writer on core 0,
 * a reader thread draining them all with epoll on core 1; the two modes alternate every N
 * calls so drift in the machine's load hits both alike. Runs 6 s.
 *
 *   build/bench/writecost [FRAMES [SIZE [CONNS]]]      (built with the tree: make build)
 *
 * Prints µs per call for both modes and their ratio. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAXCONNS 2000
#define MAXFRAMES 128

static int wfd[MAXCONNS], rfd[MAXCONNS];
static int nconns = 500;
static volatile int stop;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pin(int cpu)
{
    cpu_set_t c;
    CPU_ZERO(&c);
    CPU_SET(cpu, &c);
    sched_setaffinity(0, sizeof c, &c);
}

static void *reader(void *arg)
{
    (void)arg;
    pin(1);
    int ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.fd = rfd[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, rfd[i], &e);
    }
    static char buf[65536];
    struct epoll_event ev[256];
    while (!stop) {
        int n = epoll_wait(ep, ev, 256, 10);
        for (int i = 0; i < n; i++)
            while (read(ev[i].data.fd, buf, sizeof buf) == (ssize_t)sizeof buf)
                ;
    }
    close(ep);
    return NULL;
}

int main(int argc, char **argv)
{
    int frames = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 32;
    int size = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 100;
    nconns = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 500;
    if (frames < 1 || frames > MAXFRAMES || size < 1 || (size_t)frames * (size_t)size > 65536 ||
        nconns < 1 || nconns > MAXCONNS) {
        fprintf(stderr,
                "usage: writecost [FRAMES<=128 [SIZE (FRAMES*SIZE<=65536) [CONNS<=2000]]]\n");
        return 2;
    }
    pin(0);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1024) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
        perror("listen");
        return 1;
    }
    for (int i = 0; i < nconns; i++) {
        rfd[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(rfd[i], (struct sockaddr *)&sa, sizeof sa) != 0) {
            perror("connect");
            return 1;
        }
        wfd[i] = accept(ls, NULL, NULL);
        int one = 1;
        setsockopt(wfd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);

    struct iovec iov[MAXFRAMES];
    for (int i = 0; i < frames; i++) {
        iov[i].iov_base = malloc((size_t)size);
        memset(iov[i].iov_base, 'a' + i % 26, (size_t)size);
        iov[i].iov_len = (size_t)size;
    }
    static char flat[65536];
    double spent[2] = {0, 0};
    long calls[2] = {0, 0};
    double end = now_s() + 6;
    for (int round = 0; now_s() < end; round++) {
        int mode = round & 1;
        double t0 = now_s();
        for (int i = 0; i < nconns; i++) {
            if (mode == 0) {
                if (writev(wfd[i], iov, frames) < 0)
                    perror("writev");
            } else {
                size_t o = 0;
                for (int k = 0; k < frames; k++) {
                    memcpy(flat + o, iov[k].iov_base, iov[k].iov_len);
                    o += iov[k].iov_len;
                }
                if (write(wfd[i], flat, o) < 0)
                    perror("write");
            }
        }
        spent[mode] += now_s() - t0;
        calls[mode] += nconns;
        usleep(2000); /* let the reader drain */
    }
    stop = 1;
    pthread_join(th, NULL);
    double a = spent[0] / (double)calls[0] * 1e6, b = spent[1] / (double)calls[1] * 1e6;
    printf("%d frames x %d B, %d connections: writev %.3f us/call, flat write %.3f us/call, "
           "ratio %.3f\n",
           frames, size, nconns, a, b, b / a);
    for (int i = 0; i < frames; i++)
        free(iov[i].iov_base);
    for (int i = 0; i < nconns; i++) {
        close(wfd[i]);
        close(rfd[i]);
    }
    close(ls);
    return 0;
}
