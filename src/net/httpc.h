/* httpc.h — blocking outbound HTTP(S) client on libcurl, for CLI commands and the SDK's
 * simple mode. Thread-safe per call (one easy handle per call). */
#ifndef SG_NET_HTTPC_H
#define SG_NET_HTTPC_H

#include "sg_buf.h"

#include <stddef.h>

typedef struct sg_httpc_req {
    const char *method; /* "GET", "POST", ... */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" strings, may be NULL */
    const void *body;
    size_t body_len;
    const char *ca_file;     /* extra CA bundle (the local CA); NULL = system */
    long timeout_ms;         /* 0 = 30 s */
    long connect_timeout_ms; /* 0 = min(timeout, 10 s) */
    int no_proxy;            /* 1: bypass any proxy (IMDS, loopback) */
    int timeout_etimedout;   /* 1: SG_ETIMEDOUT when the time ran out (0: SG_EIO) */
    size_t max_body;         /* response body cap; 0 = 64 MiB */
    size_t max_headers;      /* response header bytes cap; 0 = 256 KiB */
} sg_httpc_req;

typedef struct sg_httpc_resp {
    long status;
    sg_buf body;    /* response body (NUL-terminated) */
    sg_buf headers; /* raw response header lines */
} sg_httpc_resp;

/* Performs the request. Returns SG_OK when an HTTP answer was received (any status), SG_EIO
 * (with a message in errbuf, may be NULL) when no answer (SG_ETIMEDOUT when timed out and
 * req->timeout_etimedout). Redirects are not followed. Free resp with sg_httpc_resp_free. */
int sg_httpc_do(const sg_httpc_req *req, sg_httpc_resp *resp, char *errbuf, size_t errlen);
void sg_httpc_resp_free(sg_httpc_resp *resp);

#endif
