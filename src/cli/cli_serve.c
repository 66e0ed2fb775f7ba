/* cli_serve.c — placeholder until `sigrid serve` is wired (replaced shortly). */
#include "cli/cli_common.h"

int sg_cli_serve(int argc, char **argv, const sg_cli_ctx *ctx)
{
    sg_cli_flag f[] = {{0}};
    int rc = sg_cli_parse(ctx, argc, argv, f, "Run the local cloud.", NULL);
    if (rc == SG_CLI_RUN)
        rc = sg_cli_fail("NotImplemented", "serve is not wired yet");
    sg_cli_flags_free(f);
    return rc;
}
