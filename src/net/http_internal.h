/* http_internal.h — what ws.c needs from http.c (internal to src/net). */
#ifndef SG_NET_HTTP_INTERNAL_H
#define SG_NET_HTTP_INTERNAL_H

#include "net/http.h"
#include "net/stream.h"
#include "sg_buf.h"

/* Takes the connection away from HTTP: *s_out gets the stream (callbacks and hooks cleared,
 * timers off), *rest_out the bytes already received after the request (caller frees). r is
 * freed. Only for the request being handled (the head of its connection). SG_ECLOSED if the
 * connection is gone or closing. */
int sg__http_take_over(sg_http_req *r, sg_stream **s_out, sg_buf *rest_out);
/* The server's default output limits for new streams (mutable). */
sg_stream_limits *sg__http_server_deflim(sg_http_server *s);

#endif
