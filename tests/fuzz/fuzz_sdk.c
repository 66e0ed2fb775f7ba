/* libFuzzer target: libsigrid's settings and token-response readers (src/sdk/). Byte 0 picks:
 *   0: Functions-style settings (sg__settings_read). The rest is lines: the prefix, then
 *      "K=V" environment entries up to a line "@@", then the local.settings.json bytes (held in
 *      a memfd, read through /proc/self/fd like a file).
 *   1: a token-endpoint answer body: sg__token_expiry (expires_on as number / numeric string /
 *      ISO-8601 / App Service's "MM/dd/yyyy hh:mm:ss tt +zz:zz", else expires_in),
 *      sg__refresh_on, sg__error_text, sg_jwt_payload_unverified, sg__retry_after on the same bytes.
 *   2: the input as an expires_on string (sg__parse_time_str) and a scope
 *      (sg__scope_to_resource).
 *   3: environment lines for managed-identity detection (sg__mi_detect) and the token URL.
 * Checks: settings success implies a connection string or service URI, every failure writes a
 * message; error_text always NUL-terminates inside its buffer; a parsed expiry is >= 0. */
#include "proto/jwt.h"
#include "sdk/sdk_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOW 1700000000LL
#define MAX_ENV 64

static int g_fd = -1;
static char g_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_fd = memfd_create("fuzz_sdk_settings", 0);
    if (g_fd < 0)
        abort();
    snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd); /* lint-ok: bounded */
    return 0;
}

/* Splits s (NUL-terminated, modified) into lines: env entries until "@@"; returns the rest. */
static char *split_env(char *s, const char **env, size_t *n, int stop_at_marker)
{
    *n = 0;
    while (s && *s) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        if (stop_at_marker && strcmp(s, "@@") == 0)
            return nl ? nl + 1 : NULL;
        if (*n < MAX_ENV)
            env[(*n)++] = s;
        s = nl ? nl + 1 : NULL;
    }
    env[*n] = NULL;
    return NULL;
}

static void fuzz_settings(char *s)
{
    const char *env[MAX_ENV + 1];
    size_t n;
    char *nl = strchr(s, '\n');
    const char *prefix = s;
    if (nl)
        *nl = 0;
    char *file = split_env(nl ? nl + 1 : NULL, env, &n, 1);
    env[n] = NULL;
    const char *path = NULL;
    if (file) {
        size_t fl = strlen(file);
        if (ftruncate(g_fd, 0) || pwrite(g_fd, file, fl, 0) != (ssize_t)fl)
            abort();
        path = g_path;
    }
    sg__settings st;
    char msg[512];
    int rc = sg__settings_read(prefix, path, env, &st, msg, sizeof msg);
    if (rc == SG_OK) {
        if (!st.connection_string && !st.service_uri)
            abort();
        sg__settings_free(&st);
    } else if (!msg[0] || (rc != SG_ENOTFOUND && rc != SG_EINVAL && rc != SG_ENOMEM)) {
        abort();
    }
}

static void fuzz_token_body(const char *raw, size_t n, const char *s)
{
    json_t *j = json_loadb(raw, n, 0, NULL);
    int64_t exp = -1;
    if (json_is_object(j) && sg__token_expiry(j, NOW, &exp) == SG_OK) {
        if (exp < 0)
            abort();
        (void)sg__refresh_on(NOW, exp);
    }
    json_decref(j);
    char out[256];
    memset(out, 'x', sizeof out);
    sg__error_text(s, out, sizeof out);
    if (!memchr(out, 0, sizeof out))
        abort();
    json_t *p = sg_jwt_payload_unverified(s);
    json_decref(p);
    (void)sg__retry_after(s);
}

static void fuzz_time(const char *s)
{
    int64_t t = -1;
    if (sg__parse_time_str(s, NOW, &t) == SG_OK && t < 0)
        abort();
    char res[128];
    if (sg__scope_to_resource(s, res, sizeof res) == SG_OK && (!res[0] || strchr(res, ' ')))
        abort();
}

static void fuzz_mi(char *s)
{
    const char *env[MAX_ENV + 1];
    size_t n;
    split_env(s, env, &n, 0);
    sg__mi_source src;
    if (sg__mi_detect(env, &src) != SG_OK)
        return;
    static const sg__mi_id_kind kinds[] = {SG_MI_SYSTEM, SG_MI_CLIENT_ID, SG_MI_OBJECT_ID,
                                           SG_MI_RESOURCE_ID};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        sg_buf b;
        sg_buf_init(&b, 1 << 16);
        sg__mi_request_url(&src, "https://signalr.azure.com", kinds[i], "id/with spaces&=", env,
                           &b);
        sg_buf_free(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    char *s = sg_strndup((const char *)data + 1, size - 1);
    if (!s)
        return 0;
    switch (data[0] % 4) {
    case 0:
        fuzz_settings(s);
        break;
    case 1:
        fuzz_token_body((const char *)data + 1, size - 1, s);
        fuzz_time(s);
        break;
    case 2:
        fuzz_time(s);
        break;
    default:
        fuzz_mi(s);
        break;
    }
    sg_free(s);
    return 0;
}
