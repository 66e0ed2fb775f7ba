/* Unit tests for libsigrid (src/sdk): managed-identity source detection, request URLs,
 * expires_on parsing, refresh rules, retry classification (also against a scripted local HTTP
 * server), Functions-style settings, connection string -> endpoint, tokens, OOM runs. */
#include "proto/jwt.h"
#include "sdk/sdk_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"
#include "sigrid/credential.h"
#include "sigrid/signalr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- source detection ---------------------------------------------------------------------- */

static void test_detect(void **st)
{
    (void)st;
    sg__mi_source s;
    const char *none[] = {"PATH=/bin", NULL};
    assert_int_equal(sg__mi_detect(none, &s), SG_OK);
    assert_int_equal(s.kind, SG_MI_IMDS);
    assert_string_equal(s.endpoint, "http://169.254.169.254/metadata/identity/oauth2/token");
    assert_false(s.imds_overridden);

    const char *pod[] = {"AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:9/", NULL};
    assert_int_equal(sg__mi_detect(pod, &s), SG_OK);
    assert_int_equal(s.kind, SG_MI_IMDS);
    assert_true(s.imds_overridden);
    assert_string_equal(s.endpoint, "http://127.0.0.1:9/metadata/identity/oauth2/token");

    const char *app[] = {"IDENTITY_ENDPOINT=http://127.0.0.1:7/msi/token", "IDENTITY_HEADER=sek",
                         "AZURE_POD_IDENTITY_AUTHORITY_HOST=http://x", NULL};
    assert_int_equal(sg__mi_detect(app, &s), SG_OK);
    assert_int_equal(s.kind, SG_MI_APP_SERVICE);
    assert_string_equal(s.endpoint, "http://127.0.0.1:7/msi/token");
    assert_string_equal(s.secret, "sek");

    const char *sf[] = {"IDENTITY_ENDPOINT=https://localhost:2377/x", "IDENTITY_HEADER=h",
                        "IDENTITY_SERVER_THUMBPRINT=ab", NULL};
    assert_int_equal(sg__mi_detect(sf, &s), SG_OK);
    assert_int_equal(s.kind, SG_MI_SERVICE_FABRIC);

    const char *ml[] = {"MSI_ENDPOINT=http://ml/token", "MSI_SECRET=s", NULL};
    assert_int_equal(sg__mi_detect(ml, &s), SG_OK);
    assert_int_equal(s.kind, SG_MI_MACHINE_LEARNING);
    const char *cs[] = {"MSI_ENDPOINT=http://cs/token", NULL};
    assert_int_equal(sg__mi_detect(cs, &s), SG_OK);
    assert_int_equal(s.kind, SG_MI_CLOUD_SHELL);
    const char *arc[] = {"IDENTITY_ENDPOINT=http://127.0.0.1:40342/x", "IMDS_ENDPOINT=http://x",
                         NULL};
    assert_int_equal(sg__mi_detect(arc, &s), SG_OK);
    assert_int_equal(s.kind, SG_MI_ARC);
    /* IDENTITY_ENDPOINT alone (no header): not App Service; empty values count as unset */
    const char *half[] = {"IDENTITY_ENDPOINT=http://x", "IDENTITY_HEADER=", NULL};
    assert_int_equal(sg__mi_detect(half, &s), SG_OK);
    assert_int_equal(s.kind, SG_MI_IMDS);
}

static void url_is(const sg__mi_source *s, sg__mi_id_kind k, const char *id, const char *want)
{
    const char *none[] = {NULL};
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg__mi_request_url(s, "https://signalr.azure.com", k, id, none, &b), SG_OK);
    assert_string_equal(b.data, want);
    sg_buf_free(&b);
}

static void test_request_urls(void **st)
{
    (void)st;
    sg__mi_source s;
    const char *pod[] = {"AZURE_POD_IDENTITY_AUTHORITY_HOST=http://h:1", NULL};
    sg__mi_detect(pod, &s);
    const char *base = "http://h:1/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                       "https%3A%2F%2Fsignalr.azure.com";
    char want[512];
    url_is(&s, SG_MI_SYSTEM, NULL, base);
    snprintf(want, sizeof want, "%s&client_id=c1", base);
    url_is(&s, SG_MI_CLIENT_ID, "c1", want);
    snprintf(want, sizeof want, "%s&object_id=o1", base);
    url_is(&s, SG_MI_OBJECT_ID, "o1", want);
    snprintf(want, sizeof want, "%s&msi_res_id=%%2Fsubscriptions%%2Fs%%2Fx", base);
    url_is(&s, SG_MI_RESOURCE_ID, "/subscriptions/s/x", want);

    const char *app[] = {"IDENTITY_ENDPOINT=http://a/msi/token", "IDENTITY_HEADER=z", NULL};
    sg__mi_detect(app, &s);
    url_is(&s, SG_MI_RESOURCE_ID, "/r",
           "http://a/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fsignalr.azure.com"
           "&mi_res_id=%2Fr");
    url_is(&s, SG_MI_OBJECT_ID, "o",
           "http://a/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fsignalr.azure.com"
           "&object_id=o");
}

static void test_probe_verdict(void **st)
{
    (void)st;
    assert_int_equal(sg__imds_probe_available(400, "{\"error\":\"invalid_request\"}"), SG_OK);
    assert_int_equal(sg__imds_probe_available(200, "{}"), SG_OK);
    assert_int_equal(sg__imds_probe_available(500, ""), SG_OK);
    assert_int_equal(sg__imds_probe_available(403, "A socket operation was attempted to an "
                                                   "unreachable network."),
                     SG_ENOTFOUND);
    assert_int_equal(sg__imds_probe_available(0, NULL), SG_ENOTFOUND);
}

static void test_scope(void **st)
{
    (void)st;
    char r[128];
    assert_int_equal(sg__scope_to_resource("https://signalr.azure.com/.default", r, sizeof r),
                     SG_OK);
    assert_string_equal(r, "https://signalr.azure.com");
    assert_int_equal(sg__scope_to_resource("https://vault.azure.net", r, sizeof r), SG_OK);
    assert_string_equal(r, "https://vault.azure.net");
    assert_int_equal(sg__scope_to_resource("a/.default b/.default", r, sizeof r), SG_EINVAL);
    assert_int_equal(sg__scope_to_resource("", r, sizeof r), SG_EINVAL);
    assert_int_equal(sg__scope_to_resource(NULL, r, sizeof r), SG_EINVAL);
}

/* ---- expires_on ---------------------------------------------------------------------------- */

static int64_t ps(const char *s)
{
    int64_t v = -1;
    assert_int_equal(sg__parse_time_str(s, 1000000000, &v), SG_OK);
    return v;
}

static void test_expires_on(void **st)
{
    (void)st;
    int64_t v;
    json_t *n = json_integer(1735689600);
    assert_int_equal(sg__parse_expires_on(n, 0, &v), SG_OK);
    assert_int_equal(v, 1735689600);
    json_decref(n);
    n = json_real(1735689600.7);
    assert_int_equal(sg__parse_expires_on(n, 0, &v), SG_OK);
    assert_int_equal(v, 1735689600);
    json_decref(n);
    assert_int_equal(ps("1735689600"), 1735689600);
    assert_int_equal(ps(" 1735689600 "), 1735689600);
    assert_int_equal(ps("3599"), 1000000000 + 3599); /* < 2001: relative */
    assert_int_equal(ps("2025-01-01T00:00:00Z"), 1735689600);
    assert_int_equal(ps("2025-01-01T00:00:00.000Z"), 1735689600);
    assert_int_equal(ps("2025-01-01T00:00:00.1234567+00:00"), 1735689600);
    assert_int_equal(ps("2025-01-01T01:00:00+01:00"), 1735689600);
    assert_int_equal(ps("2024-12-31T19:00:00-05:00"), 1735689600);
    assert_int_equal(ps("2025-01-01 00:00:00"), 1735689600);
    assert_int_equal(ps("01/01/2025 00:00:00 +00:00"), 1735689600);
    assert_int_equal(ps("01/01/2025 12:00:00 AM +00:00"), 1735689600);
    assert_int_equal(ps("12/31/2024 07:00:00 PM -05:00"), 1735689600);
    int64_t v2;
    assert_int_equal(sg__parse_time_str("09/14/2017 00:00:00 PM +00:00", 0, &v2), SG_EINVAL);
}

static void test_expires_bad(void **st)
{
    (void)st;
    int64_t v;
    const char *bad[] = {"",
                         "abc",
                         "-5",
                         "2025-13-01T00:00:00Z",
                         "2025-01-01T25:00:00Z",
                         "2025-01-01T00:00:00Q",
                         "01/01/2025",
                         "2025-01-01",
                         NULL};
    for (const char **b = bad; *b; b++) {
        if (sg__parse_time_str(*b, 0, &v) == SG_OK)
            fail_msg("accepted '%s'", *b);
    }
    json_t *t = json_true();
    assert_int_equal(sg__parse_expires_on(t, 0, &v), SG_EINVAL);
    json_decref(t);
    /* expires_in fallback (number or string) */
    json_t *body = json_pack("{s:s,s:s}", "expires_on", "garbage", "expires_in", "3600");
    assert_int_equal(sg__token_expiry(body, 1700000000, &v), SG_OK);
    assert_int_equal(v, 1700003600);
    json_decref(body);
    body = json_pack("{s:i}", "expires_in", 60);
    assert_int_equal(sg__token_expiry(body, 1700000000, &v), SG_OK);
    assert_int_equal(v, 1700000060);
    json_decref(body);
    body = json_pack("{}");
    assert_int_equal(sg__token_expiry(body, 1700000000, &v), SG_EINVAL);
    json_decref(body);
    /* absurd expires_in (now + it would overflow; fuzz_sdk) */
    body = json_pack("{s:I}", "expires_in", (json_int_t)INT64_MAX);
    assert_int_equal(sg__token_expiry(body, 1700000000, &v), SG_EINVAL);
    json_decref(body);
    body = json_pack("{s:s}", "expires_in", "9223372036854775807");
    assert_int_equal(sg__token_expiry(body, 1700000000, &v), SG_EINVAL);
    json_decref(body);
}

static void test_refresh_on(void **st)
{
    (void)st;
    /* 24 h token: half-life */
    assert_int_equal(sg__refresh_on(1000, 1000 + 86400), 1000 + 43200);
    /* 1 h token: 5 minutes before expiry */
    assert_int_equal(sg__refresh_on(1000, 1000 + 3600), 1000 + 3300);
    /* exactly 2 h: not "longer than 2 h" */
    assert_int_equal(sg__refresh_on(1000, 1000 + 7200), 1000 + 6900);
    /* 2 min token: refresh at once */
    assert_int_equal(sg__refresh_on(1000, 1000 + 120), 1000);
}

/* ---- retries ----------------------------------------------------------------------------- */

static void test_retry_classification(void **st)
{
    (void)st;
    long yes[] = {404, 408, 410, 429, 500, 502, 503, 504, 599};
    long no[] = {200, 201, 400, 401, 403, 405, 409, 501 + 99};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(sg__mi_retryable(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(sg__mi_retryable(no[i]));
    assert_int_equal(sg__mi_retry_delay(500, 0, 800, 0, 0), 800);
    assert_int_equal(sg__mi_retry_delay(500, 1, 800, 0, 0), 1600);
    assert_int_equal(sg__mi_retry_delay(500, 3, 800, 0, 0), 6400);
    assert_int_equal(sg__mi_retry_delay(500, 20, 800, 0, 0), 60000);  /* capped */
    assert_int_equal(sg__mi_retry_delay(410, 0, 800, 0, 0), 3000);    /* 410: >= 3 s base */
    assert_int_equal(sg__mi_retry_delay(410, 4, 800, 0, 0), 48000);   /* 3+6+12+24+48 >= 70 s */
    assert_int_equal(sg__mi_retry_delay(429, 0, 800, 5, 0), 5000);    /* Retry-After */
    assert_int_equal(sg__mi_retry_delay(429, 0, 800, 999, 0), 60000); /* capped */
    long j = sg__mi_retry_delay(500, 0, 1000, 0, 20);
    assert_true(j >= 900 && j <= 1100);
    assert_int_equal(sg__retry_after("HTTP/1.1 429 x\r\nretry-after: 7\r\n\r\n"), 7);
    assert_int_equal(sg__retry_after("HTTP/1.1 429 x\r\nX: 1\r\n\r\n"), 0);
    assert_int_equal(sg__retry_after("HTTP/1.1 429 x\r\nRetry-After: Wed, 21 Oct\r\n"), 0);
}

/* A scripted HTTP server: answers each connection with the next canned response. */
typedef struct fake {
    int fd;
    int port;
    const char *const *answers; /* full HTTP responses; NULL-terminated */
    int served;
    char last_req[4096];
    pthread_t th;
} fake;

static void *fake_run(void *ud)
{
    fake *f = ud;
    for (const char *const *a = f->answers; *a; a++) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            break;
        ssize_t n = recv(c, f->last_req, sizeof f->last_req - 1, 0);
        f->last_req[n > 0 ? n : 0] = 0;
        ssize_t w = send(c, *a, strlen(*a), MSG_NOSIGNAL);
        (void)w;
        close(c);
        f->served++;
    }
    return NULL;
}

static void fake_start(fake *f, const char *const *answers)
{
    memset(f, 0, sizeof(*f));
    f->answers = answers;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(f->fd, (struct sockaddr *)&a, &l);
    f->port = ntohs(a.sin_port);
    listen(f->fd, 8);
    pthread_create(&f->th, NULL, fake_run, f);
}

static void fake_stop(fake *f)
{
    shutdown(f->fd, SHUT_RDWR);
    close(f->fd);
    pthread_join(f->th, NULL);
}

#define R500 "HTTP/1.1 500 Oops\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
#define R404 "HTTP/1.1 404 Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define R429 "HTTP/1.1 429 Slow\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define R400                                                                                       \
    "HTTP/1.1 400 Bad\r\nContent-Type: application/json\r\nContent-Length: 68\r\nConnection: "     \
    "close\r\n\r\n{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}"
#define BODY_OK                                                                                    \
    "{\"access_token\":\"a.b.c\",\"expires_on\":\"4102444800\",\"resource\":\"x\",\"token_type\":" \
    "\"Bearer\"}"
#define ROK                                                                                        \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "   \
    "87\r\n\r\n" BODY_OK

static int mi_get(fake *f, int max_retries, sg_access_token *t, sg_credential_error *e,
                  const char *client_id)
{
    char host[64];
    snprintf(host, sizeof host, "AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:%d", f->port);
    const char *env[] = {host, NULL};
    sg_credential_options o = {.size = sizeof o,
                               .environ = env,
                               .max_retries = max_retries,
                               .retry_delay_ms = 1,
                               .managed_identity_client_id = client_id};
    sg_credential *c = NULL;
    assert_int_equal(sg_managed_identity_credential_new(&o, &c, e), SG_OK);
    int rc = sg_credential_get_token(c, "https://signalr.azure.com/.default", t, e);
    if (rc == SG_OK) { /* a second call is a cache hit: no request */
        sg_access_token t2 = {0};
        int served = f->served;
        assert_int_equal(sg_credential_get_token(c, "https://signalr.azure.com/.default", &t2, e),
                         SG_OK);
        assert_string_equal(t2.token, t->token);
        assert_int_equal(f->served, served);
        sg_access_token_clear(&t2);
        assert_string_equal(sg_credential_answered_by(c), "ManagedIdentityCredential");
    }
    sg_credential_free(c);
    return rc;
}

static void test_mi_retries(void **st)
{
    (void)st;
    fake f;
    sg_access_token t = {0};
    sg_credential_error e = {0};
    const char *a1[] = {R500, R404, R429, ROK, NULL};
    fake_start(&f, a1);
    assert_int_equal(mi_get(&f, 5, &t, &e, "cid-1"), SG_OK);
    assert_string_equal(t.token, "a.b.c");
    assert_int_equal(t.expires_on, 4102444800);
    assert_int_equal(f.served, 4);
    assert_non_null(strstr(f.last_req,
                           "GET /metadata/identity/oauth2/token?api-version=2018-02-01"
                           "&resource=https%3A%2F%2Fsignalr.azure.com&client_id=cid-1 "));
    assert_non_null(strstr(f.last_req, "Metadata: true"));
    sg_access_token_clear(&t);
    fake_stop(&f);

    /* 400 is never retried: unavailable, with IMDS's reason */
    const char *a2[] = {R400, ROK, NULL};
    fake_start(&f, a2);
    assert_int_equal(mi_get(&f, 5, &t, &e, NULL), SG_ENOTFOUND);
    assert_int_equal(f.served, 1);
    assert_non_null(strstr(e.message, "Identity not found"));
    fake_stop(&f);

    /* retries are bounded: 2 retries = 3 requests, then authentication failed */
    const char *a3[] = {R500, R500, R500, ROK, NULL};
    fake_start(&f, a3);
    assert_int_equal(mi_get(&f, 2, &t, &e, NULL), SG_EAUTH);
    assert_int_equal(f.served, 3);
    assert_non_null(strstr(e.message, "retries exhausted"));
    fake_stop(&f);
}

static void test_app_service_wire(void **st)
{
    (void)st;
    fake f;
    const char *a[] = {ROK, NULL};
    fake_start(&f, a);
    char ep[96];
    snprintf(ep, sizeof ep, "IDENTITY_ENDPOINT=http://127.0.0.1:%d/msi/token", f.port);
    const char *env[] = {ep, "IDENTITY_HEADER=the-secret", NULL};
    sg_credential_options o = {
        .size = sizeof o, .environ = env, .managed_identity_resource_id = "/subscriptions/s/id"};
    sg_credential *c = NULL;
    sg_access_token t = {0};
    assert_int_equal(sg_managed_identity_credential_new(&o, &c, NULL), SG_OK);
    assert_int_equal(sg_credential_get_token(c, "https://signalr.azure.com/.default", &t, NULL),
                     SG_OK);
    assert_non_null(strstr(f.last_req,
                           "GET /msi/token?api-version=2019-08-01&resource="
                           "https%3A%2F%2Fsignalr.azure.com&mi_res_id=%2Fsubscriptions%2Fs%2Fid "));
    assert_non_null(strstr(f.last_req, "X-IDENTITY-HEADER: the-secret"));
    assert_null(strstr(f.last_req, "Metadata:"));
    sg_access_token_clear(&t);
    sg_credential_free(c);
    fake_stop(&f);
}

static void test_chain(void **st)
{
    (void)st;
    fake f;
    /* the probe (header-less GET) is skipped with the pod override; the MI answers */
    const char *a[] = {ROK, NULL};
    fake_start(&f, a);
    char host[64];
    snprintf(host, sizeof host, "AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:%d", f.port);
    const char *env[] = {host, "AZURE_TENANT_ID=t1", NULL};
    sg_credential_options o = {.size = sizeof o, .environ = env};
    sg_credential *c = NULL;
    sg_access_token t = {0};
    sg_credential_error e = {0};
    assert_int_equal(sg_default_azure_credential_new(&o, &c, &e), SG_OK);
    assert_string_equal(sg_credential_name(c), "DefaultAzureCredential");
    assert_int_equal(sg_credential_link_count(c), 4);
    assert_int_equal(sg_credential_get_token(c, "https://signalr.azure.com/.default", &t, &e),
                     SG_OK);
    assert_string_equal(sg_credential_answered_by(c), "ManagedIdentityCredential");
    sg_credential_link l;
    assert_int_equal(sg_credential_link_get(c, 0, &l), SG_OK);
    assert_string_equal(l.name, "EnvironmentCredential");
    assert_int_equal(l.outcome, SG_CRED_UNAVAILABLE);
    assert_non_null(strstr(l.message, "AZURE_CLIENT_ID"));
    assert_int_equal(sg_credential_link_get(c, 2, &l), SG_OK);
    assert_int_equal(l.outcome, SG_CRED_SUCCEEDED);
    assert_int_equal(sg_credential_link_get(c, 3, &l), SG_OK);
    assert_int_equal(l.outcome, SG_CRED_NOT_TRIED);
    assert_int_equal(f.served, 1);
    sg_access_token_clear(&t);
    sg_credential_free(c);
    fake_stop(&f);

    /* a configured EnvironmentCredential that cannot reach Entra stops the chain */
    const char *env2[] = {"AZURE_TENANT_ID=t1", "AZURE_CLIENT_ID=c", "AZURE_CLIENT_SECRET=s",
                          "AZURE_AUTHORITY_HOST=https://127.0.0.1:1", NULL};
    o.environ = env2;
    o.timeout_ms = 2000;
    assert_int_equal(sg_default_azure_credential_new(&o, &c, &e), SG_OK);
    assert_int_equal(sg_credential_get_token(c, "https://signalr.azure.com/.default", &t, &e),
                     SG_EAUTH);
    assert_int_equal(sg_credential_link_get(c, 0, &l), SG_OK);
    assert_int_equal(l.outcome, SG_CRED_FAILED);
    assert_int_equal(sg_credential_link_get(c, 2, &l), SG_OK);
    assert_int_equal(l.outcome, SG_CRED_NOT_TRIED);
    sg_credential_free(c);

    /* an http authority makes EnvironmentCredential unavailable (SDKs require https) */
    const char *env3[] = {"AZURE_TENANT_ID=t1",
                          "AZURE_CLIENT_ID=c",
                          "AZURE_CLIENT_SECRET=s",
                          "AZURE_AUTHORITY_HOST=http://127.0.0.1:1",
                          "AZURE_TOKEN_CREDENTIALS=EnvironmentCredential",
                          NULL};
    o.environ = env3;
    assert_int_equal(sg_default_azure_credential_new(&o, &c, &e), SG_OK);
    assert_int_equal(sg_credential_link_count(c), 1);
    assert_int_equal(sg_credential_get_token(c, "https://x/.default", &t, &e), SG_ENOTFOUND);
    assert_non_null(strstr(e.message, "https"));
    sg_credential_free(c);

    const char *env4[] = {"AZURE_TOKEN_CREDENTIALS=bogus", NULL};
    o.environ = env4;
    assert_int_equal(sg_default_azure_credential_new(&o, &c, &e), SG_EINVAL);
    assert_non_null(strstr(e.message, "AZURE_TOKEN_CREDENTIALS"));

    /* two selectors */
    sg_credential_options o2 = {
        .size = sizeof o2, .managed_identity_client_id = "a", .managed_identity_object_id = "b"};
    assert_int_equal(sg_managed_identity_credential_new(&o2, &c, &e), SG_EINVAL);
    assert_int_equal(sg_client_secret_credential_new("bad/tenant", "c", "s", NULL, &c, &e),
                     SG_EINVAL);
}

/* ---- settings ---------------------------------------------------------------------------- */

static void test_settings_env(void **st)
{
    (void)st;
    sg__settings s;
    char msg[256];
    const char *env[] = {"azuresignalrconnectionstring__SERVICEURI=https://x.service.signalr.net",
                         "AzureSignalRConnectionString:credential=managedidentity",
                         "AzureSignalRConnectionString__clientId=cid", "OTHER__serviceUri=no",
                         NULL};
    assert_int_equal(sg__settings_read(NULL, NULL, env, &s, msg, sizeof msg), SG_OK);
    assert_string_equal(s.service_uri, "https://x.service.signalr.net");
    assert_string_equal(s.credential, "managedidentity");
    assert_string_equal(s.client_id, "cid");
    assert_null(s.connection_string);
    sg__settings_free(&s);

    const char *env2[] = {"MyConn=Endpoint=http://a;AccessKey=k;Version=1.0;", NULL};
    assert_int_equal(sg__settings_read("myconn", NULL, env2, &s, msg, sizeof msg), SG_OK);
    assert_string_equal(s.connection_string, "Endpoint=http://a;AccessKey=k;Version=1.0;");
    sg__settings_free(&s);

    const char *env3[] = {"X=1", "AzureSignalRConnectionString__credential=managedidentity", NULL};
    assert_int_equal(sg__settings_read(NULL, NULL, env3, &s, msg, sizeof msg), SG_ENOTFOUND);
    assert_non_null(strstr(msg, "AzureSignalRConnectionString"));
    assert_null(s.credential); /* nothing left to free (LSan) */
}

static void test_settings_file(void **st)
{
    (void)st;
    char path[] = "/tmp/sg_sdk_settingsXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *json = "\xEF\xBB\xBF{\"IsEncrypted\":false,\"Values\":{"
                       "\"AzureSignalRConnectionString:serviceUri\":\"https://file.example\","
                       "\"AZURESIGNALRCONNECTIONSTRING__TENANTID\":\"tfile\","
                       "\"AzureSignalRConnectionString__clientSecret\":\"sfile\","
                       "\"AzureSignalRConnectionString__clientId\":\"cfile\"}}";
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    sg__settings s;
    char msg[256];
    const char *env[] = {"AzureSignalRConnectionString__clientId=cenv", NULL};
    assert_int_equal(sg__settings_read(NULL, path, env, &s, msg, sizeof msg), SG_OK);
    assert_string_equal(s.service_uri, "https://file.example");
    assert_string_equal(s.tenant_id, "tfile");
    assert_string_equal(s.client_secret, "sfile");
    assert_string_equal(s.client_id, "cenv"); /* the environment wins */
    sg__settings_free(&s);

    /* the endpoint built from it: ClientSecretCredential */
    sg_service_endpoint *ep = NULL;
    sg_endpoint_options eo = {.size = sizeof eo, .environ = env, .settings_file = path};
    assert_int_equal(sg_service_endpoint_from_settings(&eo, &ep, msg, sizeof msg), SG_OK);
    assert_string_equal(sg_service_endpoint_auth_name(ep), "ClientSecretCredential");
    assert_string_equal(sg_service_endpoint_url(ep), "https://file.example");
    sg_service_endpoint_free(ep);
    unlink(path);

    assert_int_equal(sg__settings_read(NULL, "/nonexistent/x.json", env, &s, msg, sizeof msg),
                     SG_EINVAL);
}

/* ---- connection strings and tokens --------------------------------------------------------- */

static json_t *claims_of(const char *token, const char *key)
{
    sg_jwt t = {0};
    sg_jwt_key k = {key, strlen(key)};
    assert_int_equal(sg_jwt_verify_hs(token, strlen(token), &k, 1, NULL, &t, NULL), SG_OK);
    json_t *p = json_incref(t.payload);
    sg_jwt_clear(&t);
    return p;
}

static void test_endpoint_access_key(void **st)
{
    (void)st;
    sg_service_endpoint *ep = NULL;
    char msg[256];
    const char *cs = "Endpoint=https://x.service.signalr.net;Port=8443;AccessKey=ABC=/+;"
                     "ClientEndpoint=https://cdn.example/;Version=1.0;";
    assert_int_equal(sg_service_endpoint_from_connection_string(cs, NULL, &ep, msg, sizeof msg),
                     SG_OK);
    assert_string_equal(sg_service_endpoint_auth_name(ep), "accessKey");
    assert_null(sg_service_endpoint_credential(ep));
    assert_string_equal(sg_service_endpoint_url(ep), "https://x.service.signalr.net:8443");
    assert_string_equal(sg_service_endpoint_server_url(ep), "https://x.service.signalr.net:8443");

    sg_negotiate_result n = {0};
    sg_service_result r = {0};
    assert_int_equal(sg_service_negotiate(ep, "Chat", "alice", NULL, &n, &r), SG_OK);
    assert_string_equal(n.url, "https://cdn.example/client/?hub=chat");
    json_t *c = claims_of(n.access_token, "ABC=/+");
    assert_string_equal(json_string_value(json_object_get(c, "aud")),
                        "https://x.service.signalr.net/client/?hub=chat");
    assert_string_equal(json_string_value(json_object_get(c, "asrs.s.uid")), "alice");
    assert_string_equal(json_string_value(json_object_get(c, "nameid")), "alice");
    int64_t exp = json_integer_value(json_object_get(c, "exp"));
    assert_true(exp > json_integer_value(json_object_get(c, "iat")) + 3500);
    json_decref(c);
    sg_negotiate_result_clear(&n);

    char *tok = NULL;
    assert_int_equal(
        sg_service_token(ep, SG_TOKEN_REST, NULL, "/api/hubs/chat/:send", NULL, &tok, &r), SG_OK);
    c = claims_of(tok, "ABC=/+");
    assert_string_equal(json_string_value(json_object_get(c, "aud")),
                        "https://x.service.signalr.net/api/hubs/chat/:send");
    json_decref(c);
    sg_service_string_free(tok);
    assert_int_equal(sg_service_token(ep, SG_TOKEN_SERVER, "Chat", NULL, NULL, &tok, &r), SG_OK);
    c = claims_of(tok, "ABC=/+");
    assert_string_equal(json_string_value(json_object_get(c, "aud")),
                        "https://x.service.signalr.net/server/?hub=chat");
    assert_non_null(json_object_get(c, "nameid"));
    json_decref(c);
    sg_service_string_free(tok);

    assert_int_equal(sg_service_negotiate(ep, "9bad", NULL, NULL, &n, &r), SG_EINVAL);
    assert_int_equal(sg_service_send(ep, "chat", SG_SEND_ALL, NULL, "t", "{\"a\":1}", &r),
                     SG_EINVAL);
    assert_non_null(strstr(r.message, "JSON array"));
    assert_int_equal(sg_service_send(ep, "chat", SG_SEND_USER, NULL, "t", "[]", &r), SG_EINVAL);
    sg_service_result_clear(&r);
    sg_service_endpoint_free(ep);
}

static void test_endpoint_auth_types(void **st)
{
    (void)st;
    const char *env[] = {"PATH=/bin", NULL};
    sg_credential_options co = {.size = sizeof co, .environ = env};
    sg_endpoint_options eo = {.size = sizeof eo, .credential = &co};
    static const struct {
        const char *cs;
        int rc;
        const char *auth;
    } cases[] = {
        {"Endpoint=https://x;AuthType=azure;Version=1.0", SG_OK, "DefaultAzureCredential"},
        {"Endpoint=https://x;AuthType=azure.msi;Version=1.0", SG_OK, "ManagedIdentityCredential"},
        {"Endpoint=https://x;AuthType=Azure.MSI;ClientId=c;Version=1.0", SG_OK,
         "ManagedIdentityCredential"},
        {"Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s", SG_OK,
         "ClientSecretCredential"},
        {"Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/p",
         SG_EUNSUPPORTED, NULL},
        {"Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t", SG_EINVAL, NULL},
        {"Endpoint=ftp://x;AccessKey=k", SG_EINVAL, NULL},
        {"AccessKey=k", SG_EINVAL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_service_endpoint *ep = NULL;
        char msg[256] = "";
        int rc = sg_service_endpoint_from_connection_string(cases[i].cs, &eo, &ep, msg, sizeof msg);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d (%s)", cases[i].cs, rc, msg);
        if (cases[i].auth)
            assert_string_equal(sg_service_endpoint_auth_name(ep), cases[i].auth);
        else
            assert_true(msg[0] != 0);
        sg_service_endpoint_free(ep);
    }
    /* endpoint + credential: the endpoint holds its own reference */
    sg_credential *cred = NULL;
    sg_service_endpoint *ep = NULL;
    assert_int_equal(sg_managed_identity_credential_new(&co, &cred, NULL), SG_OK);
    assert_int_equal(
        sg_service_endpoint_new("https://y.service.signalr.net/", cred, NULL, &ep, NULL, 0), SG_OK);
    sg_credential_free(cred);
    assert_string_equal(sg_service_endpoint_auth_name(ep), "ManagedIdentityCredential");
    assert_string_equal(sg_service_endpoint_url(ep), "https://y.service.signalr.net");
    sg_service_endpoint_free(ep);
}

/* Identity auth end to end against scripted answers: the Entra token (IMDS), then
 * GET /api/v1/auth/accessKey, then a REST send with the Entra bearer. */
#define KEY_BODY "{\"KeyId\":\"tmp-kid-1\",\"AccessKey\":\"temporary-secret\"}"
#define RKEY                                                                                       \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "   \
    "52\r\n\r\n" KEY_BODY
#define R202 "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define R403                                                                                       \
    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nConnection: close\r\n"            \
    "Content-Length: "                                                                             \
    "58\r\n\r\n{\"code\":\"Forbidden.NoRole\",\"message\":\"no\",\"hint\":\"assign\"}"

static void test_identity_flows(void **st)
{
    (void)st;
    assert_int_equal(strlen(KEY_BODY), 52);
    fake f;
    const char *a[] = {ROK, RKEY, R202, R403, NULL};
    fake_start(&f, a);
    char host[64], url[64];
    snprintf(host, sizeof host, "AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:%d", f.port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    const char *env[] = {host, NULL};
    sg_credential_options o = {.size = sizeof o, .environ = env, .retry_delay_ms = 1};
    sg_credential *cred = NULL;
    sg_service_endpoint *ep = NULL;
    assert_int_equal(sg_managed_identity_credential_new(&o, &cred, NULL), SG_OK);
    assert_int_equal(sg_service_endpoint_new(url, cred, NULL, &ep, NULL, 0), SG_OK);
    sg_credential_free(cred);

    sg_negotiate_result n = {0};
    sg_service_result r = {0};
    assert_int_equal(sg_service_negotiate(ep, "chat", "bob", NULL, &n, &r), SG_OK);
    assert_non_null(strstr(f.last_req, "GET /api/v1/auth/accessKey "));
    assert_non_null(strstr(f.last_req, "Authorization: Bearer a.b.c"));
    /* signed with the temporary key, kid = KeyId */
    sg_jwt t = {0};
    sg_jwt_key k = {"temporary-secret", 16};
    assert_int_equal(
        sg_jwt_verify_hs(n.access_token, strlen(n.access_token), &k, 1, NULL, &t, NULL), SG_OK);
    assert_string_equal(json_string_value(json_object_get(t.header, "kid")), "tmp-kid-1");
    assert_string_equal(json_string_value(json_object_get(t.payload, "asrs.s.uid")), "bob");
    sg_jwt_clear(&t);
    sg_negotiate_result_clear(&n);
    /* the key is cached: no request */
    assert_int_equal(sg_service_negotiate(ep, "chat", NULL, NULL, &n, &r), SG_OK);
    assert_int_equal(f.served, 2);
    sg_negotiate_result_clear(&n);

    /* REST with the Entra bearer (cached token) */
    assert_int_equal(sg_service_send(ep, "chat", SG_SEND_GROUP, "g 1", "t", "[1]", &r), SG_OK);
    assert_int_equal(r.status, 202);
    assert_non_null(
        strstr(f.last_req, "POST /api/hubs/chat/groups/g%201/:send?api-version=2022-06-01 "));
    assert_non_null(strstr(f.last_req, "Authorization: Bearer a.b.c"));
    assert_non_null(strstr(f.last_req, "{\"target\":\"t\",\"arguments\":[1]}"));
    /* a refusal keeps the service's reason */
    assert_int_equal(sg_service_send(ep, "chat", SG_SEND_ALL, NULL, "t", NULL, &r), SG_EPERM);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.message, "Forbidden.NoRole"));
    assert_non_null(strstr(r.message, "assign"));
    assert_int_equal(f.served, 4);
    sg_service_result_clear(&r);
    sg_service_endpoint_free(ep);
    fake_stop(&f);
}

/* Every allocation failing in turn: errors, never crashes or leaks. */
static void test_oom(void **st)
{
    (void)st;
    const char *env[] = {"AZURE_TENANT_ID=t", NULL};
    for (long n = 0; n < 400; n++) {
        long live = sg_alloc_live();
        sg_alloc_fail_after(n);
        sg_service_endpoint *ep = NULL;
        sg_negotiate_result r = {0};
        sg_credential *c = NULL;
        sg_credential_options o = {.size = sizeof o, .environ = env};
        int rc = sg_service_endpoint_from_connection_string(
            "Endpoint=http://127.0.0.1;Port=1;AccessKey=k;Version=1.0;", NULL, &ep, NULL, 0);
        if (rc == SG_OK)
            rc = sg_service_negotiate(ep, "chat", "u", NULL, &r, NULL);
        int rc2 = sg_default_azure_credential_new(&o, &c, NULL);
        sg_alloc_fail_after(-1);
        sg_negotiate_result_clear(&r);
        sg_service_endpoint_free(ep);
        sg_credential_free(c);
        assert_int_equal(sg_alloc_live(), live);
        if (rc == SG_OK && rc2 == SG_OK)
            break;
        assert_true(rc == SG_OK || rc == SG_ENOMEM || rc == SG_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_request_urls),
        cmocka_unit_test(test_probe_verdict),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_expires_on),
        cmocka_unit_test(test_expires_bad),
        cmocka_unit_test(test_refresh_on),
        cmocka_unit_test(test_retry_classification),
        cmocka_unit_test(test_mi_retries),
        cmocka_unit_test(test_app_service_wire),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_settings_env),
        cmocka_unit_test(test_settings_file),
        cmocka_unit_test(test_endpoint_access_key),
        cmocka_unit_test(test_endpoint_auth_types),
        cmocka_unit_test(test_identity_flows),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
