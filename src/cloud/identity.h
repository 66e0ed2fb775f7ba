/* identity.h — extra entry points of the identity side of the cloud layer (CA, Entra
 * endpoints, token issuance, identity endpoints). The ones cloud.c calls — sg_ca_ensure,
 * sg_entra_init/free/handle, sg_idep_sync/stop — are declared in cloud_internal.h (the
 * contract with cloud.c); this header adds what tests and tools need.
 *
 * State: c->entra holds the token issuer (signing keys, caches; token.c/entra.c), c->idep the
 * identity endpoints (idep.c). Threading: everything on c->loop. */
#ifndef SG_CLOUD_IDENTITY_H
#define SG_CLOUD_IDENTITY_H

#include "cloud/cloud_internal.h"

#include <stdint.h>

/* Rotates the signing key now: a new key signs from now on; the previous one stays in the
 * JWKS until every token it signed has expired. sg_entra_init calls it when the active key
 * is older than SG_KEY_ROTATE_DAYS. Returns SG_OK or an sg_err. */
#define SG_KEY_ROTATE_DAYS 30
int sg_entra_rotate_key(sg_cloud *c);

#endif
