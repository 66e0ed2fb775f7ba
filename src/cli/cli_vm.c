/* cli_vm.c — `sigrid vm ...` and `sigrid functionapp ...` (shared logic in cli_arm.c). */
#include "cli/cli_arm.h"

int sg_cli_vm(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cliarm_compute_group(argc, argv, ctx, 0);
}

int sg_cli_functionapp(int argc, char **argv, const sg_cli_ctx *ctx)
{
    return sg_cliarm_compute_group(argc, argv, ctx, 1);
}
