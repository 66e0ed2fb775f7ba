/* sigrid — one binary: `sigrid serve` and the az-shaped management and client commands. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return sg_cli_main(argc, argv);
}
