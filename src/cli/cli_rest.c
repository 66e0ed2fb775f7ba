/* cli_rest.c — `sigrid rest`: az rest's counterpart, a raw management-API call with the admin
 * credential (debugging, scripts, tests). */
#include "cli/cli_common.h"

#include "sg_alloc.h"
#include "sg_buf.h"
#include "sg_err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int load_body(const char *arg, json_t **out)
{
    json_error_t jerr;
    if (arg[0] == '@') {
        *out = json_load_file(arg + 1, JSON_DECODE_ANY, &jerr);
        if (!*out)
            return sg_cli_fail("InvalidArgument", "argument --body: cannot read JSON from %s: %s",
                               arg + 1, jerr.text);
        return 0;
    }
    *out = json_loads(arg, JSON_DECODE_ANY, &jerr);
    if (!*out)
        return sg_cli_fail("InvalidArgument", "argument --body: invalid JSON: %s", jerr.text);
    return 0;
}

int sg_cli_rest(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {
        {.name = "--method",
         .alias = "-m",
         .metavar = "METHOD",
         .def = "get",
         .help = "HTTP method: get, put, post, patch, delete."},
        {.name = "--url",
         .alias = "-u",
         .metavar = "URL",
         .required = 1,
         .help = "Path on the cloud listener (/subscriptions/...), or an absolute URL."},
        {.name = "--body",
         .alias = "-b",
         .metavar = "JSON",
         .help = "Request body: JSON text, or @FILE."},
        {0},
    };
    json_t *body = NULL, *out = NULL;
    char method[16];
    int rc = sg_cli_parse(ctx, argc, argv, f,
                          "Invoke the management API of the running sigrid with the admin "
                          "credential (like az rest).",
                          NULL);
    if (rc != SG_CLI_RUN)
        goto done;
    const char *m = sg_cli_str(f, "--method");
    size_t i = 0;
    for (; m[i] && i + 1 < sizeof method; i++)
        method[i] = (char)toupper((unsigned char)m[i]);
    method[i] = 0;
    if (strcmp(method, "GET") && strcmp(method, "PUT") && strcmp(method, "POST") &&
        strcmp(method, "PATCH") && strcmp(method, "DELETE") && strcmp(method, "HEAD")) {
        rc = sg_cli_usage_error(ctx, "argument --method/-m: invalid choice: '%s'.", m);
        goto done;
    }
    if (sg_cli_has(f, "--body")) {
        rc = load_body(sg_cli_str(f, "--body"), &body);
        if (rc)
            goto done;
    }
    rc = sg_cli_mgmt(ctx, method, sg_cli_str(f, "--url"), body, &out);
    if (rc == 0)
        rc = sg_cli_print_json(out);
done:
    json_decref(body);
    json_decref(out);
    sg_cli_flags_free(f);
    return rc;
}
