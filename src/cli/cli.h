/* cli.h — `sigrid <group> <verb> ...`: argument parsing and JSON printing only. */
#ifndef SG_CLI_H
#define SG_CLI_H

/* Dispatches argv (argv[1] = group or "serve"). Returns the process exit code. */
int sg_cli_main(int argc, char **argv);

#endif
