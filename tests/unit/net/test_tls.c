/* TLS listener: a self-signed certificate made by the openssl CLI, then curl and sg_httpc over
 * https (keep-alive, a large body through partial writes, POST), plain bytes on the TLS port. */
#include "net/http.h"
#include "net/httpc.h"
#include "net/tls.h"
#include "net_test_util.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static char g_dir[64];
static char g_cert[128], g_key[128];
static SSL_CTX *g_ctx;
static th_server g_srv;
static char *g_big;
#define BIG_LEN (3 * 1024 * 1024 + 7)

static void handler(sg_http_req *r, void *ud)
{
    (void)ud;
    if (sg_slice_eq(r->path, "/big"))
        sg_http_respond(r, 200, "application/octet-stream", g_big, BIG_LEN);
    else if (sg_slice_eq(r->path, "/tls"))
        sg_http_respond(r, 200, "text/plain", sg_stream_is_tls(r->stream) ? "yes" : "no",
                        3 - !sg_stream_is_tls(r->stream));
    else if (sg_slice_eq(r->path, "/echo"))
        sg_http_respond(r, 200, "text/plain", r->body.p, r->body.n);
    else
        sg_http_respond(r, 404, "text/plain", "no", 2);
}

static int setup(void **st)
{
    (void)st;
    snprintf(g_dir, sizeof g_dir, "/tmp/sgtls.XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_cert, sizeof g_cert, "%s/cert.pem", g_dir);
    snprintf(g_key, sizeof g_key, "%s/key.pem", g_dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
             g_key, g_cert);
    if (system(cmd) != 0)
        return -1;
    if (sg_tls_server_ctx_new(g_cert, g_key, &g_ctx) != SG_OK)
        return -1;
    g_big = malloc(BIG_LEN);
    for (size_t i = 0; i < BIG_LEN; i++)
        g_big[i] = (char)('a' + i % 26);
    sg_http_server_opts o = {0};
    o.handler = handler;
    o.tls = g_ctx;
    return th_server_start(&g_srv, &o);
}

static int teardown(void **st)
{
    (void)st;
    int rc = th_server_stop(&g_srv);
    sg_tls_ctx_free(g_ctx);
    free(g_big);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        rc = -1;
    return rc;
}

static void test_ctx_errors(void **st)
{
    (void)st;
    SSL_CTX *c = NULL;
    assert_int_equal(sg_tls_server_ctx_new("/nonexistent.pem", g_key, &c), SG_ENOTFOUND);
    assert_int_equal(sg_tls_server_ctx_new(g_key, g_key, &c), SG_EINVAL); /* key as cert */
    assert_null(c);
}

static void test_curl_https(void **st)
{
    (void)st;
    char cmd[768];
    snprintf(cmd, sizeof cmd,
             "curl -s -m 10 --cacert %s -w ' %%{http_code} %%{num_connects}\\n' "
             "https://localhost:%d/tls https://localhost:%d/tls 2>&1",
             g_cert, g_srv.port, g_srv.port);
    FILE *p = popen(cmd, "r");
    char out[256] = {0};
    size_t n = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[n] = 0;
    assert_string_equal(out, "yes 200 1\nyes 200 0\n");
}

static void test_httpc_big_and_post(void **st)
{
    (void)st;
    char url[128];
    snprintf(url, sizeof url, "https://localhost:%d/big", g_srv.port);
    sg_httpc_req rq = {0};
    rq.method = "GET";
    rq.url = url;
    rq.ca_file = g_cert;
    sg_httpc_resp rs;
    char err[256];
    assert_int_equal(sg_httpc_do(&rq, &rs, err, sizeof err), SG_OK);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.body.len, BIG_LEN);
    assert_memory_equal(rs.body.data, g_big, BIG_LEN);
    sg_httpc_resp_free(&rs);
    snprintf(url, sizeof url, "https://localhost:%d/echo", g_srv.port);
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    rq.method = "POST";
    rq.headers = hdrs;
    rq.body = "{\"a\":1}";
    rq.body_len = 7;
    assert_int_equal(sg_httpc_do(&rq, &rs, err, sizeof err), SG_OK);
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.body.data, "{\"a\":1}");
    assert_non_null(strstr(rs.headers.data, "Content-Length: 7"));
    sg_httpc_resp_free(&rs);
    /* no CA: verification fails, no answer */
    rq.ca_file = "/nonexistent-ca.pem";
    assert_int_equal(sg_httpc_do(&rq, &rs, err, sizeof err), SG_EIO);
    assert_true(strlen(err) > 0);
    sg_httpc_resp_free(&rs);
}

static void test_plain_on_tls_port(void **st)
{
    (void)st;
    int fd = cli_connect(g_srv.port);
    cli_sends(fd, "GET /tls HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(cli_wait_closed(fd, 3000));
    close(fd);
    /* still serving */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "curl -s -m 5 --cacert %s https://localhost:%d/tls", g_cert,
             g_srv.port);
    FILE *p = popen(cmd, "r");
    char out[16] = {0};
    size_t n = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[n] = 0;
    assert_string_equal(out, "yes");
}

static void test_openssl_s_client(void **st)
{
    (void)st;
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "printf 'GET /tls HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | "
             "openssl s_client -quiet -verify_return_error -CAfile %s -connect 127.0.0.1:%d "
             "-servername localhost 2>/dev/null",
             g_cert, g_srv.port);
    FILE *p = popen(cmd, "r");
    char out[1024] = {0};
    size_t n = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[n] = 0;
    assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(out, "\r\n\r\nyes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctx_errors),         cmocka_unit_test(test_curl_https),
        cmocka_unit_test(test_httpc_big_and_post), cmocka_unit_test(test_plain_on_tls_port),
        cmocka_unit_test(test_openssl_s_client),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
