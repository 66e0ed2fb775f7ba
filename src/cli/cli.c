#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int sg_cli_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: sigrid <command> ...\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "{\"error\":{\"code\":\"UnknownCommand\",\"message\":\"unknown command '%s'\"}}\n", argv[1]);
    return 2;
}
