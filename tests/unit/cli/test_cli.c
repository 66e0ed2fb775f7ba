/* Unit tests of the CLI framework: flag parsing, dispatch, --query/--output. */
#include "cli/cli_common.h"
#include "cli/cli_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const sg_cli_ctx CTX = {.data_dir = "/nonexistent", .cmd = "sigrid test"};

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))

static void test_str_forms(void **st)
{
    (void)st;
    sg_cli_flag f[] = {
        {.name = "--resource-group", .alias = "-g", .required = 1},
        {.name = "--name", .alias = "-n"},
        {.name = "--sku", .def = "Free"},
        {0},
    };
    char **argv = ARGV("verb", "-g", "rg1", "--name=x=y");
    assert_int_equal(sg_cli_parse(&CTX, 4, argv, f, "t", NULL), SG_CLI_RUN);
    assert_string_equal(sg_cli_str(f, "--resource-group"), "rg1");
    assert_string_equal(sg_cli_str(f, "--name"), "x=y");
    assert_string_equal(sg_cli_str(f, "--sku"), "Free");
    assert_false(sg_cli_has(f, "--sku"));
    assert_null(sg_cli_str(f, "--nope"));
    sg_cli_flags_free(f);
}

static void test_multi(void **st)
{
    (void)st;
    sg_cli_flag f[] = {
        {.name = "--ids", .kind = SG_CLI_MULTI},
        {.name = "--assign-identity", .kind = SG_CLI_MULTI_OPT},
        {.name = "--name", .alias = "-n"},
        {0},
    };
    char **argv =
        ARGV("v", "--ids", "A", "B", "-n", "x", "--ids=C", "--assign-identity", "-n", "y");
    assert_int_equal(sg_cli_parse(&CTX, 10, argv, f, "t", NULL), SG_CLI_RUN);
    sg_cli_flag *ids = sg_cli_flag_find(f, "--ids");
    assert_int_equal(ids->count, 3);
    assert_string_equal(ids->values[0], "A");
    assert_string_equal(ids->values[1], "B");
    assert_string_equal(ids->values[2], "C");
    sg_cli_flag *ai = sg_cli_flag_find(f, "--assign-identity");
    assert_int_equal(ai->present, 1);
    assert_int_equal(ai->count, 0);
    assert_string_equal(sg_cli_str(f, "--name"), "y");
    sg_cli_flags_free(f);

    sg_cli_flag g[] = {{.name = "--ids", .kind = SG_CLI_MULTI}, {.name = "-x"}, {0}};
    char **argv2 = ARGV("v", "--ids");
    assert_int_equal(sg_cli_parse(&CTX, 2, argv2, g, "t", NULL), 2);
    sg_cli_flags_free(g);
}

static void test_bool_int(void **st)
{
    (void)st;
    sg_cli_flag f[] = {
        {.name = "--cloud-http", .kind = SG_CLI_BOOL},
        {.name = "--tls", .kind = SG_CLI_BOOL},
        {.name = "--port", .kind = SG_CLI_INT},
        {0},
    };
    char **argv = ARGV("v", "--cloud-http", "--tls=false", "--port", "-5");
    assert_int_equal(sg_cli_parse(&CTX, 5, argv, f, "t", NULL), SG_CLI_RUN);
    assert_int_equal(sg_cli_flag_find(f, "--cloud-http")->num, 1);
    assert_int_equal(sg_cli_flag_find(f, "--tls")->num, 0);
    assert_int_equal(sg_cli_flag_find(f, "--port")->num, -5);
    sg_cli_flags_free(f);

    /* a value that starts with one dash (connection ids are base64url) is a value, unless it
     * is one of this command's own short flags */
    sg_cli_flag c[] = {{.name = "--connection"}, {.name = "--group", .alias = "-g"}, {0}};
    char **ids = ARGV("v", "--connection", "-gTItTclVmvWf9U_YqZEQg", "-g", "grp");
    assert_int_equal(sg_cli_parse(&CTX, 5, ids, c, "t", NULL), SG_CLI_RUN);
    assert_string_equal(sg_cli_str(c, "--connection"), "-gTItTclVmvWf9U_YqZEQg");
    assert_string_equal(sg_cli_str(c, "--group"), "grp");
    sg_cli_flags_free(c);
    char **own = ARGV("v", "--connection", "-g", "grp");
    assert_int_equal(sg_cli_parse(&CTX, 4, own, c, "t", NULL), 2); /* -g is ours: no value */
    sg_cli_flags_free(c);

    sg_cli_flag g[] = {{.name = "--port", .kind = SG_CLI_INT}, {0}};
    char **bad = ARGV("v", "--port", "8x");
    assert_int_equal(sg_cli_parse(&CTX, 3, bad, g, "t", NULL), 2);
    sg_cli_flags_free(g);
}

static void test_errors(void **st)
{
    (void)st;
    sg_cli_flag f[] = {{.name = "--name", .alias = "-n", .required = 1}, {0}};
    char **a1 = ARGV("v");
    assert_int_equal(sg_cli_parse(&CTX, 1, a1, f, "t", NULL), 2); /* required */
    sg_cli_flags_free(f);
    char **a2 = ARGV("v", "-n", "x", "--bogus");
    assert_int_equal(sg_cli_parse(&CTX, 4, a2, f, "t", NULL), 2); /* unknown */
    sg_cli_flags_free(f);
    char **a3 = ARGV("v", "-n", "x", "stray");
    assert_int_equal(sg_cli_parse(&CTX, 4, a3, f, "t", NULL), 2); /* positional */
    sg_cli_flags_free(f);
    char **a4 = ARGV("v", "-n");
    assert_int_equal(sg_cli_parse(&CTX, 2, a4, f, "t", NULL), 2); /* missing value */
    sg_cli_flags_free(f);
    char **a5 = ARGV("v", "--help");
    assert_int_equal(sg_cli_parse(&CTX, 2, a5, f, "t", NULL), 0); /* help beats required */
    sg_cli_flags_free(f);
}

static void test_rest(void **st)
{
    (void)st;
    sg_cli_flag f[] = {{.name = "--vm"}, {0}};
    char **argv = ARGV("exec", "--vm", "v1", "--", "node", "--help");
    int rest = -1;
    assert_int_equal(sg_cli_parse(&CTX, 6, argv, f, "t", &rest), SG_CLI_RUN);
    assert_int_equal(rest, 4);
    assert_string_equal(argv[rest], "node");
    sg_cli_flags_free(f);
    assert_int_equal(sg_cli_parse(&CTX, 6, argv, f, "t", NULL), 2);
    sg_cli_flags_free(f);
}

static const char *seen_cmd;
static const char *seen_arg0;
static int leaf(int argc, char **argv, const sg_cli_ctx *ctx)
{
    (void)argc;
    seen_cmd = ctx->cmd ? strdup(ctx->cmd) : NULL; /* lint-ok: test */
    seen_arg0 = argv[0];
    return 7;
}
static const sg_cli_verb inner[] = {{"assign", leaf, "a"}, {0}};
static int mid(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cli_dispatch(argc, argv, ctx, inner, "identity");
}
static const sg_cli_verb outer[] = {{"identity", mid, "m"}, {"todo", NULL, "later"}, {0}};

static void test_dispatch(void **st)
{
    (void)st;
    char **argv = ARGV("vm", "identity", "assign", "-g", "x");
    assert_int_equal(sg_cli_dispatch(5, argv, &CTX, outer, "vm"), 7);
    assert_string_equal(seen_cmd, "sigrid test identity assign");
    assert_string_equal(seen_arg0, "assign");
    free((void *)seen_cmd); /* lint-ok: strdup above */
    char **unk = ARGV("vm", "nope");
    assert_int_equal(sg_cli_dispatch(2, unk, &CTX, outer, "vm"), 2);
    char **help = ARGV("vm", "--help");
    assert_int_equal(sg_cli_dispatch(2, help, &CTX, outer, "vm"), 0);
    char **none = ARGV("vm");
    assert_int_equal(sg_cli_dispatch(1, none, &CTX, outer, "vm"), 0);
    char **todo = ARGV("vm", "todo");
    assert_int_equal(sg_cli_dispatch(2, todo, &CTX, outer, "vm"), 1);
}

/* Runs sg_cli_print_json with stdout captured into buf. */
static void capture(const char *json, const char *output, const char *query, char *buf, size_t n)
{
    json_error_t e;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &e);
    assert_non_null(j);
    fflush(stdout);
    int saved = dup(1);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    dup2(fileno(tmp), 1);
    sg__cli_set_output(output, query);
    sg_cli_print_json(j);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    size_t r = fread(buf, 1, n - 1, tmp);
    buf[r] = 0;
    fclose(tmp);
    json_decref(j);
    sg__cli_set_output(NULL, NULL);
}

static void test_output(void **st)
{
    (void)st;
    char buf[1024];
    const char *doc =
        "{\"name\":\"vm1\",\"identity\":{\"principalId\":\"p1\",\"type\":\"SystemAssigned\"},"
        "\"list\":[{\"n\":\"a\"},{\"n\":\"b\"}],\"count\":2}";
    capture(doc, "json", NULL, buf, sizeof buf);
    assert_non_null(strstr(buf, "{\n  \"name\": \"vm1\",\n  \"identity\": {\n    \"principalId\""));
    capture(doc, "tsv", "identity.principalId", buf, sizeof buf);
    assert_string_equal(buf, "p1\n");
    capture(doc, "json", "list[1].n", buf, sizeof buf);
    assert_string_equal(buf, "\"b\"\n");
    capture(doc, "json", "list[-1].n", buf, sizeof buf);
    assert_string_equal(buf, "\"b\"\n");
    capture(doc, "tsv", "list[].n", buf, sizeof buf);
    assert_string_equal(buf, "a\nb\n");
    capture(doc, "json", "missing.x", buf, sizeof buf);
    assert_string_equal(buf, "null\n");
    capture(doc, "tsv", "count", buf, sizeof buf);
    assert_string_equal(buf, "2\n");
    capture(doc, "none", NULL, buf, sizeof buf);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str_forms), cmocka_unit_test(test_multi),
        cmocka_unit_test(test_bool_int),  cmocka_unit_test(test_errors),
        cmocka_unit_test(test_rest),      cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
