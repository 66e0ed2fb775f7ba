/* Unit tests for proto/connstr: grammar (§4.3) and the SDK's error texts. */
#include "proto/connstr.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void ok(const char *s, sg_connstr *c)
{
    char err[256];
    int rc = sg_connstr_parse(s, c, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s -> %s\n", s, err);
    assert_int_equal(rc, SG_OK);
}

static void bad(const char *s, const char *msg)
{
    sg_connstr c;
    char err[256];
    assert_int_equal(sg_connstr_parse(s, &c, err, sizeof err), SG_EINVAL);
    if (strcmp(err, msg) != 0)
        fprintf(stderr, "%s\n  got:  %s\n  want: %s\n", s, err, msg);
    assert_string_equal(err, msg);
    assert_null(c.endpoint);
}

static void test_access_key(void **st)
{
    (void)st;
    sg_connstr c;
    ok("Endpoint=https://x.service.signalr.net;AccessKey=ABC=/+;Version=1.0;", &c);
    assert_string_equal(c.endpoint, "https://x.service.signalr.net");
    assert_string_equal(c.scheme, "https");
    assert_string_equal(c.host, "x.service.signalr.net");
    assert_int_equal(c.port, 443);
    assert_string_equal(c.audience_base, "https://x.service.signalr.net/");
    assert_string_equal(c.access_key, "ABC=/+"); /* first '=' splits, the rest is kept */
    assert_string_equal(c.version, "1.0");
    assert_int_equal(c.cred, SG_CRED_ACCESS_KEY);
    assert_null(c.client_endpoint);
    sg_connstr_free(&c);
    /* emulator string: Port overrides the endpoint port; audience drops it */
    ok("Endpoint=http://"
       "localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;",
       &c);
    assert_string_equal(c.endpoint, "http://localhost:8888");
    assert_int_equal(c.port, 8888);
    assert_string_equal(c.audience_base, "http://localhost/");
    sg_connstr_free(&c);
    /* keys case-insensitive and trimmed, trailing '/' trimmed, host lower-cased, URI port kept */
    ok("  endpoint = HTTP://Example.COM:500/ ; ACCESSKEY = k k ;", &c);
    assert_string_equal(c.endpoint, "http://example.com:500");
    assert_int_equal(c.port, 500);
    assert_string_equal(c.access_key, "k k");
    sg_connstr_free(&c);
    ok("endpoint=http://aaa:500;accesskey=k;port=400;clientEndpoint=http://bbb:600/"
       ";serverEndpoint=https://ccc/base/",
       &c);
    assert_string_equal(c.endpoint, "http://aaa:400");
    assert_string_equal(c.client_endpoint, "http://bbb:600"); /* Port does not apply */
    assert_string_equal(c.server_endpoint, "https://ccc/base");
    sg_connstr_free(&c);
    ok("Endpoint=https://x:443/;AccessKey=k;Version=1.1-preview;unknown=1;noequals;;", &c);
    assert_string_equal(c.endpoint, "https://x");
    assert_string_equal(c.version, "1.1-preview");
    sg_connstr_free(&c);
    ok("Endpoint=http://[::1]:8080;AccessKey=k", &c);
    assert_string_equal(c.host, "[::1]");
    assert_string_equal(c.audience_base, "http://[::1]/");
    sg_connstr_free(&c);
}

static void test_auth_types(void **st)
{
    (void)st;
    sg_connstr c;
    ok("Endpoint=https://x;AuthType=azure;ClientId=ignored", &c);
    assert_int_equal(c.cred, SG_CRED_DEFAULT);
    assert_string_equal(c.auth_type, "azure");
    sg_connstr_free(&c);
    ok("Endpoint=https://x;AuthType=Azure.MSI", &c);
    assert_int_equal(c.cred, SG_CRED_MI_SYSTEM);
    sg_connstr_free(&c);
    ok("Endpoint=https://x;AuthType=azure.msi;ClientId=mi", &c);
    assert_int_equal(c.cred, SG_CRED_MI_USER);
    assert_string_equal(c.client_id, "mi");
    sg_connstr_free(&c);
    ok("Endpoint=https://x;AuthType=azure.app;ClientId=a;TenantId=t;ClientSecret=s", &c);
    assert_int_equal(c.cred, SG_CRED_APP_SECRET);
    assert_string_equal(c.client_secret, "s");
    assert_string_equal(c.tenant_id, "t");
    sg_connstr_free(&c);
    ok("Endpoint=https://x;AuthType=azure.app;ClientId=a;TenantId=t;clientCert=/p.pem", &c);
    assert_int_equal(c.cred, SG_CRED_APP_CERT);
    assert_string_equal(c.client_cert, "/p.pem");
    sg_connstr_free(&c);
    ok("Endpoint=https://x;AuthType=aad", &c);
    assert_int_equal(c.cred, SG_CRED_MI_SYSTEM);
    sg_connstr_free(&c);
    ok("Endpoint=https://x;AuthType=aad;ClientId=a;ClientSecret=ignored", &c);
    assert_int_equal(c.cred, SG_CRED_MI_USER);
    sg_connstr_free(&c);
    ok("Endpoint=https://x;AuthType=aad;ClientId=a;TenantId=t;ClientSecret=s", &c);
    assert_int_equal(c.cred, SG_CRED_APP_SECRET);
    sg_connstr_free(&c);
    ok("Endpoint=https://x;AuthType=other;AccessKey=k", &c); /* unknown type: access key */
    assert_int_equal(c.cred, SG_CRED_ACCESS_KEY);
    sg_connstr_free(&c);
    assert_string_equal(sg_connstr_cred_name(SG_CRED_MI_USER), "managedIdentity(user)");
}

static void test_errors(void **st)
{
    (void)st;
    const char *missing = "Connection string missing required properties endpoint.";
    bad("", missing);
    bad("Endpoint=https://x", missing);
    bad("Endpoint=https://x;", missing);
    bad("XXX", missing);
    bad("AccessKey=k;Version=1.0", missing);
    bad("Endpoint=https://a;endpoint=https://b;AccessKey=k",
        "Duplicate properties found in connection string: endpoint.");
    bad("Endpoint=aaa;AccessKey=bbb;",
        "Invalid value for endpoint property, it must be a valid URI.");
    bad("Endpoint=endpoint=aaa;AccessKey=bbb;",
        "Invalid value for endpoint property, it must be a valid URI.");
    bad("Endpoint=ftp://aaa;AccessKey=bbb;",
        "Invalid value for endpoint property, it must be a valid URI.");
    bad("Endpoint=https://;AccessKey=bbb;",
        "Invalid value for endpoint property, it must be a valid URI.");
    bad("Endpoint=https://a:99999;AccessKey=bbb;",
        "Invalid value for endpoint property, it must be a valid URI.");
    bad("Endpoint=https://a b;AccessKey=bbb;",
        "Invalid value for endpoint property, it must be a valid URI.");
    const char *port =
        "Invalid value for port property, it must be an positive integer between (0, 65536)";
    bad("Endpoint=https://aaa;AccessKey=bbb;version=1.0;port=2.3", port);
    bad("Endpoint=https://aaa;AccessKey=bbb;version=1.1;port=1000000", port);
    bad("Endpoint=https://aaa;AccessKey=bbb;version=1.0-preview;port=0", port);
    bad("Endpoint=https://aaa;AccessKey=bbb;port=-1", port);
    bad("Endpoint=https://aaa;AccessKey=bbb;port=", port);
    bad("Endpoint=https://aaa;AccessKey=bbb;version=abc", "Version abc is not supported.");
    bad("Endpoint=https://aaa;AccessKey=bbb;version=1.x", "Version 1.x is not supported.");
    bad("Endpoint=https://aaa;AccessKey=bbb;version=2.0", "Version 2.0 is not supported.");
    bad("Endpoint=https://aaa;AccessKey=bbb;version=1.", "Version 1. is not supported.");
    bad("Endpoint=https://aaa;AccessKey=bbb;version=1.0 beta",
        "Version 1.0 beta is not supported.");
    bad("endpoint=https://aaa;clientEndpoint=aaa;AccessKey=bbb;",
        "Invalid value for clientEndpoint property, it must be a valid URI.");
    bad("endpoint=https://aaa;ServerEndpoint=x;AccessKey=bbb;",
        "ServerEndpoint property in connection string is not a valid URI: x.");
    bad("Endpoint=https://aaa;Version=1.0", "accesskey is required.");
    bad("endpoint=https://aaa;AuthType=aad;clientId=123;tenantId=t",
        "Connection string missing required properties clientSecret or clientCert.");
    bad("endpoint=https://aaa;AuthType=azure.app;clientId=123;tenantId=t",
        "Connection string missing required properties clientSecret or clientCert.");
    bad("endpoint=https://aaa;AuthType=azure.app;tenantId=t;clientSecret=s",
        "Connection string missing required properties clientId.");
    bad("endpoint=https://aaa;AuthType=azure.app;clientId=c;clientSecret=s",
        "Connection string missing required properties tenantId.");
    /* secrets are never echoed */
    sg_connstr c;
    char err[256];
    assert_int_equal(
        sg_connstr_parse("Endpoint=https://a;AccessKey=SECRET;Port=x", &c, err, sizeof err),
        SG_EINVAL);
    assert_null(strstr(err, "SECRET"));
    assert_int_equal(sg_connstr_parse(NULL, &c, err, sizeof err), SG_EINVAL);
    sg_connstr_free(&c);
    sg_connstr_free(NULL);
}

static void test_oom(void **st)
{
    (void)st;
    for (long k = 0; k < 20; k++) {
        sg_connstr c;
        char err[128];
        sg_alloc_fail_after(k);
        int rc = sg_connstr_parse(
            "Endpoint=https://x;AuthType=azure.app;ClientId=a;TenantId=t;ClientSecret=s;"
            "ClientEndpoint=https://c;ServerEndpoint=https://s;Version=1.0",
            &c, err, sizeof err);
        sg_alloc_fail_after(-1);
        assert_true(rc == SG_OK || rc == SG_ENOMEM);
        sg_connstr_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_access_key),
                                       cmocka_unit_test(test_auth_types),
                                       cmocka_unit_test(test_errors), cmocka_unit_test(test_oom)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
