/* cli_client.h — the client-side commands built on libsigrid (cli_client.c): `account
 * get-access-token` (a verb of the account group), `send`, `negotiate`, `doctor`. */
#ifndef SG_CLI_CLIENT_H
#define SG_CLI_CLIENT_H

#include "cli/cli_common.h"

/* `sigrid account get-access-token --resource URL [--client-id ID] [--managed-identity]`. */
int sg_cli_account_get_access_token(int argc, char **argv, const sg_cli_ctx *ctx);

#endif
