/* httpc.c — blocking libcurl client (see httpc.h). */
#include "net/httpc.h"

#include "sg_err.h"
#include "sg_str.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

#define MAX_RESP_BODY (64u * 1024 * 1024)
#define MAX_RESP_HEADERS (256u * 1024)

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    sg_buf *b = ud;
    size_t len = sz * n;
    return sg_buf_append(b, p, len) == SG_OK ? len : 0;
}

int sg_httpc_do(const sg_httpc_req *req, sg_httpc_resp *resp, char *errbuf, size_t errlen)
{
    int rc = SG_EIO;
    memset(resp, 0, sizeof(*resp));
    sg_buf_init(&resp->body, req && req->max_body ? req->max_body : MAX_RESP_BODY);
    sg_buf_init(&resp->headers, req && req->max_headers ? req->max_headers : MAX_RESP_HEADERS);
    if (errbuf && errlen)
        errbuf[0] = 0;
    if (!req || !req->url) {
        if (errbuf && errlen)
            sg_snprintf(errbuf, errlen, "no url");
        return SG_EINVAL;
    }
    pthread_once(&g_once, global_init);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    char cerr[CURL_ERROR_SIZE] = {0};
    if (!c) {
        rc = SG_ENOMEM;
        goto cleanup;
    }
    const char *method = req->method ? req->method : "GET";
    long total = req->timeout_ms > 0 ? req->timeout_ms : 30000L;
    long conn =
        req->connect_timeout_ms > 0 ? req->connect_timeout_ms : (total < 10000 ? total : 10000L);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, conn);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp->headers);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (req->no_proxy)
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (req->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    int has_expect = 0;
    for (const char *const *h = req->headers; h && *h; h++) {
        if (strncasecmp(*h, "Expect:", 7) == 0)
            has_expect = 1;
        struct curl_slist *n = curl_slist_append(hl, *h);
        if (!n) {
            rc = SG_ENOMEM;
            goto cleanup;
        }
        hl = n;
    }
    if (!has_expect) {
        struct curl_slist *n = curl_slist_append(hl, "Expect:"); /* no 100-continue wait */
        if (n)
            hl = n;
    }
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    CURLcode cr = curl_easy_perform(c);
    if (cr != CURLE_OK) {
        if (errbuf && errlen)
            sg_snprintf(errbuf, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(cr));
        rc = cr == CURLE_OPERATION_TIMEDOUT && req->timeout_etimedout ? SG_ETIMEDOUT : SG_EIO;
        goto cleanup;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    rc = SG_OK;
cleanup:
    curl_slist_free_all(hl);
    if (c)
        curl_easy_cleanup(c);
    if (rc != SG_OK)
        sg_httpc_resp_free(resp); /* freeing it again is harmless */
    else if (!resp->body.data && sg_buf_append(&resp->body, "", 0) != SG_OK)
        rc = SG_ENOMEM; /* the body is always NUL-terminated on success */
    return rc;
}

void sg_httpc_resp_free(sg_httpc_resp *resp)
{
    if (!resp)
        return;
    sg_buf_free(&resp->body);
    sg_buf_free(&resp->headers);
}
