/* cli_internal.h — cross-file helpers of the cli layer (not for command files). */
#ifndef SG_CLI_INTERNAL_H
#define SG_CLI_INTERNAL_H

/* Sets the global --output / --query used by sg_cli_print_json (strings borrowed from argv). */
void sg__cli_set_output(const char *output, const char *query);

#endif
