/* sr_route.h — REST API route table (reference §3.2), pure: path in, route out.
 * Private to src/signalr/ and its unit tests. */
#ifndef SG_SIGNALR_SR_ROUTE_H
#define SG_SIGNALR_SR_ROUTE_H

#include "sg_buf.h"

typedef enum sr_route_kind {
    SR_R_NONE = 0,
    SR_R_HEALTH,      /* /api/health, /api/v1/health */
    SR_R_HUB,         /* /api/v1/hubs/{hub} (POST = send, v1 alias) */
    SR_R_HUB_SEND,    /* /hubs/{hub}/:send */
    SR_R_HUB_CLOSE,   /* /hubs/{hub}/:closeConnections */
    SR_R_CONN,        /* /hubs/{hub}/connections/{id} (HEAD/GET exists, DELETE, POST alias) */
    SR_R_CONN_SEND,   /* .../connections/{id}/:send */
    SR_R_CONN_GROUPS, /* .../connections/{id}/groups (DELETE) */
    SR_R_GROUP,       /* .../groups/{group} (HEAD/GET exists, POST alias) */
    SR_R_GROUP_SEND,  /* .../groups/{group}/:send */
    SR_R_GROUP_CLOSE, /* .../groups/{group}/:closeConnections */
    SR_R_GROUP_CONN,  /* .../groups/{g}/connections/{id} and .../connections/{id}/groups/{g} */
    SR_R_USER,        /* .../users/{user} (HEAD/GET exists, POST alias) */
    SR_R_USER_SEND,   /* .../users/{user}/:send */
    SR_R_USER_CLOSE,  /* .../users/{user}/:closeConnections */
    SR_R_USER_GROUPS, /* .../users/{user}/groups (DELETE) */
    SR_R_USER_GROUP,  /* .../users/{u}/groups/{g} and .../groups/{g}/users/{u} */
} sr_route_kind;

typedef struct sr_route {
    sr_route_kind kind;
    int v1;     /* /api/v1/ prefix */
    char *hub;  /* percent-decoded, as given (not lower-cased) */
    char *conn; /* decoded, or NULL */
    char *group;
    char *user;
} sr_route;

/* Parses a still-percent-encoded request path. Returns SG_OK (route filled; strings owned by
 * the route), SG_ENOTFOUND (not an API route), SG_EINVAL (bad escape or empty segment), or
 * SG_ENOMEM. */
int sr_route_parse(sg_slice path, sr_route *out);
void sr_route_free(sr_route *r);
const char *sr_route_name(sr_route_kind k);

#endif
