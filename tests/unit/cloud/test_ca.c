/* Local CA (ca.c): created once, reused, server certificate valid for the loopback names and
 * signed by the CA, keys 0600, re-issued (same CA) when another bind host is wanted. */
#include "cloud/cloud_internal.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static int mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int)(st.st_mode & 0777);
}

static void verify_chain(X509 *ca, X509 *leaf)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_X509_STRICT);
    X509_VERIFY_PARAM_set1_ip_asc(p, "127.0.0.1");
    int ok = X509_verify_cert(ctx);
    if (ok != 1)
        fprintf(stderr, "verify: %s\n",
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    assert_int_equal(ok, 1);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
}

static void test_ca(void **st)
{
    (void)st;
    char dir[] = "/tmp/sg_ca_XXXXXX";
    assert_non_null(mkdtemp(dir));
    sg_ca_paths p1, p2, p3;
    assert_int_equal(sg_ca_ensure(dir, "127.0.0.1", &p1), 0);
    char want[512];
    snprintf(want, sizeof want, "%s/tls/ca.pem", dir);
    assert_string_equal(p1.ca_file, want);
    assert_int_equal(mode_of(p1.key_file), 0600);
    snprintf(want, sizeof want, "%s/tls/ca-key.pem", dir);
    assert_int_equal(mode_of(want), 0600);
    snprintf(want, sizeof want, "%s/tls", dir);
    assert_int_equal(mode_of(want), 0700);

    X509 *ca = read_cert(p1.ca_file);
    X509 *leaf = read_cert(p1.cert_file);
    assert_int_equal(X509_check_ca(ca), 1);
    assert_int_equal(X509_check_ca(leaf), 0);
    assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(leaf, "::1", 0), 1);
    assert_int_equal(X509_check_host(leaf, "localhost", 0, 0, NULL), 1);
    assert_int_not_equal(X509_check_host(leaf, "example.com", 0, 0, NULL), 1);
    verify_chain(ca, leaf);

    /* second start: the same files, untouched */
    assert_int_equal(sg_ca_ensure(dir, "127.0.0.1", &p2), 0);
    X509 *ca2 = read_cert(p2.ca_file);
    X509 *leaf2 = read_cert(p2.cert_file);
    assert_int_equal(X509_cmp(ca, ca2), 0);
    assert_int_equal(X509_cmp(leaf, leaf2), 0);

    /* another bind address: same CA, new server certificate with that SAN */
    assert_int_equal(sg_ca_ensure(dir, "10.11.12.13", &p3), 0);
    X509 *ca3 = read_cert(p3.ca_file);
    X509 *leaf3 = read_cert(p3.cert_file);
    assert_int_equal(X509_cmp(ca, ca3), 0);
    assert_int_not_equal(X509_cmp(leaf, leaf3), 0);
    assert_int_equal(X509_check_ip_asc(leaf3, "10.11.12.13", 0), 1);
    assert_int_equal(X509_check_ip_asc(leaf3, "127.0.0.1", 0), 1);
    verify_chain(ca, leaf3);

    X509_free(ca);
    X509_free(ca2);
    X509_free(ca3);
    X509_free(leaf);
    X509_free(leaf2);
    X509_free(leaf3);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
