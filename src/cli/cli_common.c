/* cli_common.c — dispatch, flag parsing, output and the management-API client. */
#include "cli/cli_common.h"

#include "cli/cli_internal.h"
#include "net/httpc.h"
#include "sg_alloc.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_str.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Process-wide output settings (the CLI is one short-lived, single-threaded process). */
static const char *g_output = "json";
static const char *g_query;

void sg__cli_set_output(const char *output, const char *query)
{
    g_output = output ? output : "json";
    g_query = query;
}

/* ---- errors ------------------------------------------------------------------------ */

static void print_error_v(const char *code, const char *fmt, va_list ap)
{
    sg_buf msg;
    sg_buf_init(&msg, 0);
    if (sg_buf_vappendf(&msg, fmt, ap) != SG_OK) {
        fprintf(stderr, "{\"error\":{\"code\":\"%s\",\"message\":\"out of memory\"}}\n", code);
        sg_buf_free(&msg);
        return;
    }
    json_t *err =
        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg.data ? msg.data : "");
    if (err) {
        json_dumpf(err, stderr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stderr);
        json_decref(err);
    } else {
        fprintf(stderr, "{\"error\":{\"code\":\"%s\",\"message\":\"(unprintable)\"}}\n", code);
    }
    fflush(stderr);
    sg_buf_free(&msg);
}

int sg_cli_fail(const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error_v(code, fmt, ap);
    va_end(ap);
    return 1;
}

int sg_cli_usage_error(const sg_cli_ctx *ctx, const char *fmt, ...)
{
    sg_buf msg;
    sg_buf_init(&msg, 0);
    va_list ap;
    va_start(ap, fmt);
    int rc = sg_buf_vappendf(&msg, fmt, ap);
    va_end(ap);
    if (rc == SG_OK)
        rc = sg_buf_appendf(&msg, " See '%s --help'.", ctx && ctx->cmd ? ctx->cmd : "sigrid");
    sg_cli_fail("InvalidArgument", "%s", rc == SG_OK ? msg.data : "invalid arguments");
    sg_buf_free(&msg);
    return 2;
}

/* ---- dispatch ---------------------------------------------------------------------- */

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static void print_group_usage(const sg_cli_ctx *ctx, const sg_cli_verb *verbs, const char *summary)
{
    printf("\nGroup\n    %s", ctx->cmd);
    if (summary)
        printf(" : %s", summary);
    printf("\n\nCommands:\n");
    size_t w = 0;
    for (const sg_cli_verb *v = verbs; v->name; v++)
        if (strlen(v->name) > w)
            w = strlen(v->name);
    for (const sg_cli_verb *v = verbs; v->name; v++)
        printf("    %-*s : %s\n", (int)w, v->name, v->summary ? v->summary : "");
    printf("\nGlobal arguments:\n"
           "    --data-dir DIR     : sigrid's data dir (default $SIGRID_HOME or ./.sigrid)\n"
           "    --output -o FORMAT : json (default), jsonc, tsv, none\n"
           "    --query EXPR       : JMESPath subset to select from the output (a.b, a[0], a[].b)\n"
           "\nFor more specific help run '%s <command> --help'.\n\n",
           ctx->cmd);
}

int sg_cli_dispatch(int argc, char **argv, const sg_cli_ctx *ctx, const sg_cli_verb *verbs,
                    const char *summary)
{
    if (argc < 2 || is_help(argv[1])) {
        print_group_usage(ctx, verbs, summary);
        return 0;
    }
    for (const sg_cli_verb *v = verbs; v->name; v++) {
        if (strcmp(v->name, argv[1]) != 0)
            continue;
        char path[512];
        if (sg_snprintf(path, sizeof path, "%s %s", ctx->cmd, v->name) != SG_OK)
            return sg_cli_fail("InvalidArgument", "command path too long");
        sg_cli_ctx child = *ctx;
        child.cmd = path;
        if (!v->fn)
            return sg_cli_fail("NotImplemented", "'%s' is not implemented yet", path);
        return v->fn(argc - 1, argv + 1, &child);
    }
    if (argv[1][0] == '-')
        return sg_cli_usage_error(ctx, "'%s' needs a command before its arguments, got '%s'.",
                                  ctx->cmd, argv[1]);
    sg_cli_fail("UnknownCommand",
                "'%s' is misspelled or not recognized by the system. See '%s --help'.", argv[1],
                ctx->cmd);
    return 2;
}

/* ---- flags ------------------------------------------------------------------------- */

static void print_flag_usage(const sg_cli_ctx *ctx, const sg_cli_flag *flags, const char *summary)
{
    printf("\nCommand\n    %s", ctx->cmd);
    if (summary)
        printf(" : %s", summary);
    printf("\n\nArguments\n");
    for (const sg_cli_flag *f = flags; f->name; f++) {
        sg_buf left;
        sg_buf_init(&left, 0);
        sg_buf_appendf(&left, "%s%s%s", f->name, f->alias ? " " : "", f->alias ? f->alias : "");
        const char *mv = f->metavar ? f->metavar : "VALUE";
        switch (f->kind) {
        case SG_CLI_BOOL:
            break;
        case SG_CLI_MULTI:
            sg_buf_appendf(&left, " %s...", mv);
            break;
        case SG_CLI_MULTI_OPT:
            sg_buf_appendf(&left, " [%s...]", mv);
            break;
        default:
            sg_buf_appendf(&left, " %s", mv);
            break;
        }
        printf("    %-34s%s: %s", left.data ? left.data : f->name,
               f->required ? " [Required] " : " ", f->help ? f->help : "");
        if (f->def)
            printf(" Default: %s.", f->def);
        printf("\n");
        sg_buf_free(&left);
    }
    printf("\nGlobal Arguments\n"
           "    --data-dir DIR                    : sigrid's data dir (default $SIGRID_HOME or "
           "./.sigrid).\n"
           "    --output -o FORMAT                : json (default), jsonc, tsv, none.\n"
           "    --query EXPR                      : JMESPath subset (a.b, a[0], a[].b).\n"
           "    --help -h                         : Show this help message and exit.\n\n");
}

sg_cli_flag *sg_cli_flag_find(sg_cli_flag *flags, const char *name)
{
    for (sg_cli_flag *f = flags; f && f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static sg_cli_flag *find_alias(sg_cli_flag *flags, const char *alias)
{
    for (sg_cli_flag *f = flags; f->name; f++)
        if (f->alias && strcmp(f->alias, alias) == 0)
            return f;
    return NULL;
}

const char *sg_cli_str(sg_cli_flag *flags, const char *name)
{
    sg_cli_flag *f = sg_cli_flag_find(flags, name);
    if (!f)
        return NULL;
    return f->present ? f->value : f->def;
}

int sg_cli_has(sg_cli_flag *flags, const char *name)
{
    sg_cli_flag *f = sg_cli_flag_find(flags, name);
    return f && f->present;
}

void sg_cli_flags_free(sg_cli_flag *flags)
{
    for (sg_cli_flag *f = flags; f && f->name; f++) {
        sg_free((void *)f->values);
        f->values = NULL;
        f->count = 0;
    }
}

static int looks_like_flag(sg_cli_flag *flags, const char *a)
{
    if (a[0] != '-' || a[1] == 0)
        return 0;
    if (a[1] == '-')
        return 1;
    /* "-g" is a flag only if it is one of ours; anything else with one dash ("-5", a
     * connection id such as "-gTItTclVmvWf9U_YqZEQg") is a value */
    return find_alias(flags, a) != NULL;
}

static int add_value(sg_cli_flag *f, const char *v, int argc)
{
    if (!f->values) {
        f->values = sg_calloc((size_t)argc + 1, sizeof(char *));
        if (!f->values)
            return SG_ENOMEM;
    }
    f->values[f->count++] = v;
    return SG_OK;
}

static int flag_label(const sg_cli_flag *f, char *out, size_t n)
{
    if (f->alias)
        return sg_snprintf(out, n, "%s/%s", f->name, f->alias);
    return sg_snprintf(out, n, "%s", f->name);
}

int sg_cli_parse(const sg_cli_ctx *ctx, int argc, char **argv, sg_cli_flag *flags,
                 const char *summary, int *rest)
{
    if (rest)
        *rest = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (!rest)
                return sg_cli_usage_error(ctx, "unrecognized argument: --.");
            *rest = i + 1;
            break;
        }
        if (is_help(a)) {
            print_flag_usage(ctx, flags, summary);
            return 0;
        }
        if (a[0] != '-' || a[1] == 0)
            return sg_cli_usage_error(ctx, "unrecognized argument: '%s'.", a);

        sg_cli_flag *f = NULL;
        const char *inline_val = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t n = eq ? (size_t)(eq - a) : strlen(a);
            for (sg_cli_flag *c = flags; c->name; c++)
                if (strlen(c->name) == n && strncmp(c->name, a, n) == 0)
                    f = c;
            if (eq)
                inline_val = eq + 1;
        } else {
            f = find_alias(flags, a);
        }
        if (!f)
            return sg_cli_usage_error(ctx, "unrecognized argument: '%s'.", a);

        f->present++;
        switch (f->kind) {
        case SG_CLI_BOOL:
            if (!inline_val || strcmp(inline_val, "true") == 0) {
                f->value = "true";
                f->num = 1;
            } else if (strcmp(inline_val, "false") == 0) {
                f->value = "false";
                f->num = 0;
            } else {
                return sg_cli_usage_error(ctx, "argument %s: expected true or false, got '%s'.",
                                          f->name, inline_val);
            }
            break;
        case SG_CLI_STR:
        case SG_CLI_INT: {
            const char *v = inline_val;
            if (!v) {
                if (i + 1 >= argc || looks_like_flag(flags, argv[i + 1]) ||
                    strcmp(argv[i + 1], "--") == 0)
                    return sg_cli_usage_error(ctx, "argument %s: expected one argument.", f->name);
                v = argv[++i];
            }
            f->value = v;
            if (f->kind == SG_CLI_INT) {
                int64_t n = 0;
                if (sg_parse_i64(v, strlen(v), &n) != SG_OK)
                    return sg_cli_usage_error(ctx, "argument %s: invalid int value: '%s'.", f->name,
                                              v);
                f->num = n;
            }
            break;
        }
        case SG_CLI_MULTI:
        case SG_CLI_MULTI_OPT: {
            size_t before = f->count;
            if (inline_val) {
                if (add_value(f, inline_val, argc) != SG_OK)
                    return sg_cli_fail("OutOfMemory", "out of memory");
            } else {
                while (i + 1 < argc && !looks_like_flag(flags, argv[i + 1]) &&
                       strcmp(argv[i + 1], "--") != 0) {
                    if (add_value(f, argv[++i], argc) != SG_OK)
                        return sg_cli_fail("OutOfMemory", "out of memory");
                }
            }
            if (f->kind == SG_CLI_MULTI && f->count == before)
                return sg_cli_usage_error(ctx, "argument %s: expected at least one argument.",
                                          f->name);
            if (f->count)
                f->value = f->values[f->count - 1];
            break;
        }
        }
    }

    sg_buf missing;
    sg_buf_init(&missing, 0);
    for (sg_cli_flag *f = flags; f->name; f++) {
        if (f->required && !f->present) {
            char label[128];
            flag_label(f, label, sizeof label);
            sg_buf_appendf(&missing, "%s%s", missing.len ? ", " : "", label);
        }
    }
    if (missing.len) {
        int rc = sg_cli_usage_error(ctx, "the following arguments are required: %s.", missing.data);
        sg_buf_free(&missing);
        return rc;
    }
    sg_buf_free(&missing);
    return SG_CLI_RUN;
}

/* ---- output ------------------------------------------------------------------------ */

/* JMESPath subset: identifiers (a.b, "quoted"), [N] (negative from the end), [] and [*]
 * projections over arrays, .* is not supported. Returns a new reference, or NULL (json null)
 * when the path does not exist. *bad set on a syntax error. */
static json_t *query_eval(const json_t *node, const char *e, int *bad)
{
    if (!node || json_is_null(node))
        return NULL;
    while (*e == ' ')
        e++;
    if (*e == 0)
        return json_incref((json_t *)node);
    if (*e == '.') {
        e++;
        if (*e == 0 || *e == '.' || *e == '[') {
            *bad = 1;
            return NULL;
        }
    }
    if (*e == '[') {
        const char *close = strchr(e, ']');
        if (!close) {
            *bad = 1;
            return NULL;
        }
        size_t n = (size_t)(close - e - 1);
        if (n == 0 || (n == 1 && e[1] == '*')) {
            if (!json_is_array(node))
                return NULL;
            json_t *res = json_array();
            size_t idx;
            json_t *el;
            json_array_foreach(node, idx, el)
            {
                json_t *v = query_eval(el, close + 1, bad);
                if (v)
                    json_array_append_new(res, v);
            }
            return res;
        }
        int64_t k = 0;
        if (sg_parse_i64(e + 1, n, &k) != SG_OK) {
            *bad = 1;
            return NULL;
        }
        if (!json_is_array(node))
            return NULL;
        int64_t sz = (int64_t)json_array_size(node);
        if (k < 0)
            k += sz;
        if (k < 0 || k >= sz)
            return NULL;
        return query_eval(json_array_get(node, (size_t)k), close + 1, bad);
    }
    char key[256];
    size_t kn = 0;
    if (*e == '"') {
        e++;
        while (*e && *e != '"' && kn + 1 < sizeof key)
            key[kn++] = *e++;
        if (*e != '"') {
            *bad = 1;
            return NULL;
        }
        e++;
    } else {
        while (*e && *e != '.' && *e != '[' && *e != ' ' && kn + 1 < sizeof key)
            key[kn++] = *e++;
    }
    key[kn] = 0;
    if (kn == 0) {
        *bad = 1;
        return NULL;
    }
    if (!json_is_object(node))
        return NULL;
    return query_eval(json_object_get(node, key), e, bad);
}

static void print_tsv_scalar(const json_t *v)
{
    if (json_is_string(v))
        fputs(json_string_value(v), stdout);
    else if (json_is_integer(v))
        printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        printf("%.17g", json_real_value(v));
    else if (json_is_true(v))
        fputs("True", stdout);
    else if (json_is_false(v))
        fputs("False", stdout);
}

static void print_tsv_row(const json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach((json_t *)v, k, x)
        {
            if (json_is_object(x) || json_is_array(x))
                continue;
            if (!first)
                fputc('\t', stdout);
            first = 0;
            print_tsv_scalar(x);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i)
                fputc('\t', stdout);
            print_tsv_scalar(x);
        }
    } else {
        print_tsv_scalar(v);
    }
    fputc('\n', stdout);
}

int sg_cli_print_json(const json_t *j)
{
    if (!j)
        return 0;
    json_t *sel = NULL;
    if (g_query) {
        int bad = 0;
        sel = query_eval(j, g_query, &bad);
        if (bad) {
            json_decref(sel);
            return sg_cli_fail("InvalidArgument", "argument --query: invalid expression '%s'",
                               g_query);
        }
        if (!sel)
            sel = json_null();
        j = sel;
    }
    if (strcmp(g_output, "none") == 0) {
        /* nothing */
    } else if (strcmp(g_output, "tsv") == 0) {
        if (json_is_array(j)) {
            size_t i;
            json_t *x;
            json_array_foreach(j, i, x) print_tsv_row(x);
        } else if (!json_is_null(j)) {
            print_tsv_row(j);
        }
    } else {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        fputc('\n', stdout);
    }
    fflush(stdout);
    json_decref(sel);
    return 0;
}

/* ---- the running server ------------------------------------------------------------ */

static int read_file(const char *path, sg_buf *out, char *err, size_t errlen)
{
    int oerr;
    int rc = sg_buf_append_file(out, path, &oerr);
    if (oerr) {
        sg_snprintf(err, errlen, "cannot open %s: %s", path, strerror(oerr));
        return SG_ENOTFOUND;
    }
    if (rc == SG_EIO)
        sg_snprintf(err, errlen, "cannot read %s", path);
    return rc;
}

static int load_endpoints(const sg_cli_ctx *ctx, json_t **out, char *err, size_t errlen)
{
    char path[4096];
    sg_buf b;
    int rc;
    *out = NULL;
    sg_buf_init(&b, 1 << 20);
    if (sg_snprintf(path, sizeof path, "%s/endpoints.json", ctx->data_dir) != SG_OK) {
        sg_snprintf(err, errlen, "data dir path too long");
        rc = SG_EINVAL;
        goto done;
    }
    rc = read_file(path, &b, err, errlen);
    if (rc == SG_ENOTFOUND) {
        sg_snprintf(err, errlen,
                    "sigrid is not running: no endpoints.json in %s — start it with `sigrid "
                    "serve%s%s`",
                    ctx->data_dir, strcmp(ctx->data_dir, "./.sigrid") ? " --data-dir " : "",
                    strcmp(ctx->data_dir, "./.sigrid") ? ctx->data_dir : "");
        goto done;
    }
    if (rc != SG_OK)
        goto done;
    json_error_t jerr;
    *out = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
    if (!*out || !json_is_object(*out) || !json_is_string(json_object_get(*out, "cloudUrl"))) {
        sg_snprintf(err, errlen, "%s is not a valid endpoints file (%s)", path,
                    *out ? "no cloudUrl" : jerr.text);
        json_decref(*out);
        *out = NULL;
        rc = SG_EINVAL;
    }
done:
    sg_buf_free(&b);
    return rc;
}

int sg_cli_endpoints(const sg_cli_ctx *ctx, json_t **out)
{
    char err[1024];
    if (load_endpoints(ctx, out, err, sizeof err) != SG_OK)
        return sg_cli_fail("NotRunning", "%s", err);
    return 0;
}

static void trim(sg_buf *b)
{
    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r' ||
                      b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\t'))
        b->data[--b->len] = 0;
}

static int dump_to_buf(const char *p, size_t n, void *ud)
{
    return sg_buf_append((sg_buf *)ud, p, n) == SG_OK ? 0 : -1;
}

int sg_cli_mgmt_call(const sg_cli_ctx *ctx, const char *method, const char *path,
                     const json_t *body, long *status, json_t **out, char *errmsg, size_t errlen)
{
    json_t *ep = NULL;
    char *body_str = NULL;
    sg_buf cred, url, auth;
    sg_httpc_resp resp;
    int rc;
    char err[1024] = "";

    *out = NULL;
    *status = 0;
    sg_buf_init(&cred, 64 * 1024);
    sg_buf_init(&url, 0);
    sg_buf_init(&auth, 0);
    memset(&resp, 0, sizeof resp);

    rc = load_endpoints(ctx, &ep, err, sizeof err);
    if (rc != SG_OK)
        goto done;
    const char *cloud = json_string_value(json_object_get(ep, "cloudUrl"));
    const char *ca = json_string_value(json_object_get(ep, "caFile"));
    const char *credf = json_string_value(json_object_get(ep, "adminCredentialFile"));
    if (!credf) {
        sg_snprintf(err, sizeof err, "endpoints.json in %s names no adminCredentialFile",
                    ctx->data_dir);
        rc = SG_EINVAL;
        goto done;
    }
    rc = read_file(credf, &cred, err, sizeof err);
    if (rc != SG_OK)
        goto done;
    trim(&cred);

    if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0) {
        rc = sg_buf_append_str(&url, path);
    } else {
        size_t cl = strlen(cloud);
        while (cl && cloud[cl - 1] == '/')
            cl--;
        rc = sg_buf_append(&url, cloud, cl);
        if (rc == SG_OK)
            rc = sg_buf_appendf(&url, "%s%s", path[0] == '/' ? "" : "/", path);
    }
    if (rc == SG_OK)
        rc = sg_buf_appendf(&auth, "Authorization: Bearer %s", cred.data ? cred.data : "");
    if (rc != SG_OK) {
        sg_snprintf(err, sizeof err, "out of memory");
        goto done;
    }

    if (body) {
        sg_buf bb;
        sg_buf_init(&bb, 0);
        if (json_dump_callback(body, dump_to_buf, &bb, JSON_COMPACT | JSON_ENCODE_ANY) != 0 ||
            !bb.data) {
            sg_buf_free(&bb);
            sg_snprintf(err, sizeof err, "cannot serialise the request body");
            rc = SG_ENOMEM;
            goto done;
        }
        body_str = sg_buf_steal(&bb, NULL);
    }

    const char *headers[] = {auth.data, "Content-Type: application/json",
                             "Accept: application/json", NULL};
    sg_httpc_req req = {
        .method = method,
        .url = url.data,
        .headers = headers,
        .body = body_str,
        .body_len = body_str ? strlen(body_str) : 0,
        .ca_file = ca,
        .timeout_ms = 30000,
    };
    rc = sg_httpc_do(&req, &resp, err, sizeof err);
    if (rc != SG_OK) {
        char tmp[1024];
        sg_snprintf(tmp, sizeof tmp,
                    "sigrid is not running at %s (%s) — start it with `sigrid serve --data-dir %s`",
                    cloud, err[0] ? err : sg_strerror(rc), ctx->data_dir);
        memcpy(err, tmp, sizeof err);
        goto done;
    }
    *status = resp.status;
    if (resp.body.len) {
        json_error_t jerr;
        *out = json_loadb(resp.body.data, resp.body.len, JSON_DECODE_ANY, &jerr);
    }
    rc = SG_OK;
done:
    if (rc != SG_OK && errmsg)
        sg_snprintf(errmsg, errlen, "%s", err[0] ? err : sg_strerror(rc));
    sg_httpc_resp_free(&resp);
    sg_free(body_str);
    sg_buf_free(&auth);
    sg_buf_free(&url);
    sg_buf_free(&cred);
    json_decref(ep);
    return rc;
}

int sg_cli_mgmt(const sg_cli_ctx *ctx, const char *method, const char *path, const json_t *body,
                json_t **out)
{
    long status = 0;
    json_t *ans = NULL;
    char err[1024];
    *out = NULL;
    int rc = sg_cli_mgmt_call(ctx, method, path, body, &status, &ans, err, sizeof err);
    if (rc != SG_OK)
        return sg_cli_fail("NotRunning", "%s", err);
    if (status >= 200 && status < 300) {
        *out = ans;
        return 0;
    }
    json_t *e = json_object_get(ans, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (code || msg) {
        rc = sg_cli_fail(code ? code : "Error", "%s", msg ? msg : "");
    } else if (status == 401) {
        rc = sg_cli_fail("AuthenticationFailed",
                         "the management API refused the admin credential (HTTP 401)");
    } else {
        rc = sg_cli_fail("HttpError", "%s %s answered HTTP %ld", method, path, status);
    }
    json_decref(ans);
    return rc;
}
