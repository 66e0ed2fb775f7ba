/* bench/peers/nodelay.c — LD_PRELOAD shim: TCP_NODELAY on every accepted socket.
 *
 * bench/run builds it with `cc -shared -fPIC -O2 -o nodelay.so nodelay.c -ldl` into its
 * temp dir and starts the "nchan (TCP_NODELAY)" peer as LD_PRELOAD=nodelay.so nginx ....
 * nginx sets TCP_NODELAY only on keep-alive HTTP connections, never on nchan's WebSocket
 * subscribers, so stock nchan's one-writev-per-message runs under Nagle (see "Why nchan is
 * bimodal" in docs/benchmarks.md). sigrid, ASP.NET Core and Azure SignalR set TCP_NODELAY on
 * every connection; this puts nchan under the same socket options. Nothing else changes.
 * Not part of the sigrid build (CMake builds only the .c files directly in bench/). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);

static void nodelay(int fd)
{
    if (fd < 0)
        return;
    int saved = errno, one = 1;
    /* fails harmlessly (EOPNOTSUPP) on a Unix-domain socket */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    errno = saved;
}

int accept(int s, struct sockaddr *addr, socklen_t *len)
{
    static accept_fn real;
    if (!real)
        real = (accept_fn)dlsym(RTLD_NEXT, "accept");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int fd = real(s, addr, len);
    nodelay(fd);
    return fd;
}

int accept4(int s, struct sockaddr *addr, socklen_t *len, int flags)
{
    static accept4_fn real;
    if (!real)
        real = (accept4_fn)dlsym(RTLD_NEXT, "accept4");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int fd = real(s, addr, len, flags);
    nodelay(fd);
    return fd;
}
