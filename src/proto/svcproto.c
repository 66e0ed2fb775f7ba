/* svcproto.c — Azure SignalR service protocol (see svcproto.h).
 * Layouts are table-driven: each message type is a list of fields in wire order. Readers
 * read as many fields as the array holds (at least `min` elements), skip extra trailing
 * elements; writers emit every field of the newest layout. */
#include "proto/svcproto.h"

#include "proto/varint.h"
#include "proto_internal.h"
#include "sg_alloc.h"
#include "sg_err.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef enum fkind {
    F_END = 0,
    F_STR,      /* const char *, NULL ⇄ nil */
    F_STR_E,    /* const char *, NULL written as "" */
    F_I32,      /* int32_t, compact int */
    F_I32FIX,   /* int32_t, always d2 + 4 bytes */
    F_BOOL,     /* int */
    F_EXT,      /* the extension map */
    F_IDS,      /* ids / n_ids */
    F_XUIDS,    /* excluded_user_ids */
    F_CLAIMS,   /* claims */
    F_HEADERS,  /* headers */
    F_PAYLOADS, /* payloads */
    F_BYTES,    /* payload (nil → empty) */
    F_BYTES_NIL /* payload + has_payload (nil allowed) */
} fkind;

typedef struct field {
    unsigned char kind;
    unsigned short off;
} field;

typedef struct layout {
    const char *name;
    unsigned char min; /* minimum array length (type included) */
    field f[8];
} layout;

#define S(k, member)                                                                               \
    {                                                                                              \
        k, offsetof(sg_svc_msg, member)                                                            \
    }
#define X                                                                                          \
    {                                                                                              \
        F_EXT, 0                                                                                   \
    }
#define IDS                                                                                        \
    {                                                                                              \
        F_IDS, 0                                                                                   \
    }
#define PL                                                                                         \
    {                                                                                              \
        F_PAYLOADS, 0                                                                              \
    }

static const layout layouts[] = {
    [1] = {"HandshakeRequest",
           2,
           {S(F_I32, version), S(F_I32, connection_type), S(F_STR_E, target),
            S(F_I32, migration_level), X, S(F_BOOL, allow_stateful_reconnects)}},
    [2] = {"HandshakeResponse", 2, {S(F_STR_E, error_message), X, S(F_STR, connection_id)}},
    [3] = {"Ping", 1, {{F_END, 0}}},
    [4] = {"OpenConnection",
           3,
           {S(F_STR, connection_id), {F_CLAIMS, 0}, {F_HEADERS, 0}, S(F_STR_E, query_string), X}},
    [5] = {"CloseConnection",
           3,
           {S(F_STR, connection_id), S(F_STR_E, error_message), {F_HEADERS, 0}, X}},
    [6] = {"ConnectionData", 3, {S(F_STR, connection_id), {F_BYTES, 0}, X}},
    [7] = {"MultiConnectionData", 3, {IDS, PL, X}},
    [8] = {"UserData", 3, {S(F_STR, user_id), PL, X}},
    [9] = {"MultiUserData", 3, {IDS, PL, X}},
    [10] = {"BroadcastData", 3, {IDS, PL, X}},
    [11] = {"JoinGroup", 3, {S(F_STR, connection_id), S(F_STR, group_name), X}},
    [12] = {"LeaveGroup", 3, {S(F_STR, connection_id), S(F_STR, group_name), X}},
    [13] = {"GroupBroadcastData",
            4,
            {S(F_STR, group_name), IDS, PL, X, {F_XUIDS, 0}, S(F_STR, caller_user_id)}},
    [14] = {"MultiGroupBroadcastData", 3, {IDS, PL, X}},
    [15] = {"ServiceError", 2, {S(F_STR_E, error_message)}},
    [16] = {"UserJoinGroup", 3, {S(F_STR, user_id), S(F_STR, group_name), X}},
    [17] = {"UserLeaveGroup", 3, {S(F_STR, user_id), S(F_STR, group_name), X}},
    [18] = {"JoinGroupWithAck",
            4,
            {S(F_STR, connection_id), S(F_STR, group_name), S(F_I32, ack_id), X}},
    [19] = {"LeaveGroupWithAck",
            4,
            {S(F_STR, connection_id), S(F_STR, group_name), S(F_I32, ack_id), X}},
    [20] = {"Ack", 4, {S(F_I32, ack_id), S(F_I32, status), S(F_STR, message), X, {F_BYTES_NIL, 0}}},
    [21] = {"CheckUserInGroupWithAck",
            4,
            {S(F_STR, user_id), S(F_STR, group_name), S(F_I32, ack_id), X}},
    [22] = {"ServiceEvent",
            5,
            {S(F_I32, object_type), S(F_STR, event_id), S(F_I32, kind), S(F_STR, message), X}},
    [23] = {"CheckGroupExistenceWithAck", 3, {S(F_STR, group_name), S(F_I32, ack_id), X}},
    [24] = {"CheckConnectionExistenceWithAck", 3, {S(F_STR, connection_id), S(F_I32, ack_id), X}},
    [25] = {"CheckUserExistenceWithAck", 3, {S(F_STR, user_id), S(F_I32, ack_id), X}},
    [26] = {"UserJoinGroupWithAck",
            4,
            {S(F_STR, user_id), S(F_STR, group_name), S(F_I32, ack_id), X}},
    [27] = {"UserLeaveGroupWithAck",
            4,
            {S(F_STR, user_id), S(F_STR, group_name), S(F_I32, ack_id), X}},
    [28] = {"AccessKeyRequest", 2, {S(F_STR, token), S(F_STR, kid), X}},
    [29] = {"AccessKeyResponse",
            5,
            {S(F_STR, kid), S(F_STR, access_key), S(F_STR, error_type), S(F_STR, error_message),
             X}},
    [30] = {"CloseConnectionWithAck",
            4,
            {S(F_STR, connection_id), S(F_STR, reason), S(F_I32, ack_id), X}},
    [31] = {"CloseConnectionsWithAck", 4, {S(F_STR, reason), S(F_I32, ack_id), IDS, X}},
    [32] = {"CloseUserConnectionsWithAck",
            5,
            {S(F_STR, user_id), S(F_STR, reason), S(F_I32, ack_id), IDS, X}},
    [33] = {"CloseGroupConnectionsWithAck",
            5,
            {S(F_STR, group_name), S(F_STR, reason), S(F_I32, ack_id), IDS, X}},
    [34] = {"ClientInvocation",
            5,
            {S(F_STR, invocation_id), S(F_STR, connection_id), S(F_STR, caller_server_id), PL, X}},
    [35] = {"ClientCompletion",
            6,
            {S(F_STR, invocation_id),
             S(F_STR, connection_id),
             S(F_STR, caller_server_id),
             S(F_STR, protocol),
             {F_BYTES, 0},
             X}},
    [36] = {"ErrorCompletion",
            5,
            {S(F_STR, invocation_id), S(F_STR, connection_id), S(F_STR, caller_server_id),
             S(F_STR, error_message), X}},
    [37] = {"ServiceMapping",
            4,
            {S(F_STR, invocation_id), S(F_STR, connection_id), S(F_STR, instance_id), X}},
    [38] = {"ConnectionReconnect", 2, {S(F_STR, connection_id), X}},
    [39] = {"ConnectionFlowControl",
            4,
            {S(F_STR, connection_id), S(F_I32FIX, connection_type), S(F_I32FIX, operation), X}},
    [40] = {"GroupMemberQuery",
            4,
            {X, S(F_STR, group_name), S(F_I32, ack_id), S(F_I32, max),
             S(F_STR, continuation_token)}},
};
#define N_LAYOUTS ((int)(sizeof(layouts) / sizeof(layouts[0])))

const char *sg_svc_type_name(int type)
{
    if (type < 1 || type >= N_LAYOUTS || !layouts[type].name)
        return "Unknown";
    return layouts[type].name;
}

void sg_svc_msg_init(sg_svc_msg *m)
{
    memset(m, 0, sizeof(*m));
}

void sg_svc_msg_clear(sg_svc_msg *m)
{
    if (!m)
        return;
    sg__arena_free(m->arena_);
    sg_svc_msg_init(m);
}

#define FPTR(m, off, T) ((T *)((char *)(m) + (off)))
#define CFPTR(m, off, T) ((const T *)((const char *)(m) + (off)))

/* ---------------------------------------------------------------- reader */

typedef struct rd {
    sg__mp mp;
    sg__arena *arena;
    const char *why;
} rd;

static int fail(rd *r, int rc, const char *why)
{
    if (!r->why)
        r->why = why;
    return rc;
}

static int rd_str(rd *r, const char **out, const char *what)
{
    const char *s;
    uint32_t n;
    if (sg__mp_read_str_nil(&r->mp, &s, &n))
        return fail(r, SG_EPROTO, what);
    if (!s) {
        *out = NULL;
        return 0;
    }
    if (memchr(s, 0, n))
        return fail(r, SG_EPROTO, "NUL byte in string");
    *out = sg__arena_strndup(&r->arena, s, n);
    return *out ? 0 : fail(r, SG_ENOMEM, "out of memory");
}

/* Non-nil string (nil → ""). */
static int rd_str_nn(rd *r, const char **out, const char *what)
{
    int rc = rd_str(r, out, what);
    if (rc == 0 && !*out)
        *out = "";
    return rc;
}

static int rd_strlist(rd *r, const char ***out, size_t *n_out)
{
    uint32_t n;
    if (sg__mp_read_array(&r->mp, &n))
        return fail(r, SG_EPROTO, "expected an array of strings");
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    const char **v = sg__arena_alloc(&r->arena, (size_t)n * sizeof(*v));
    if (!v)
        return fail(r, SG_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        int rc = rd_str_nn(r, &v[i], "array element is not a string");
        if (rc)
            return rc;
    }
    *out = v;
    *n_out = n;
    return 0;
}

static int rd_ext(rd *r, sg_svc_ext *e)
{
    uint32_t n;
    if (sg__mp_read_map(&r->mp, &n))
        return fail(r, SG_EPROTO, "extension members are not a map");
    for (uint32_t i = 0; i < n; i++) {
        sg__mp_kind kk;
        int64_t key = -1;
        int rc = sg__mp_peek(&r->mp, &kk);
        if (rc == 0 && kk == SG__MP_INT)
            rc = sg__mp_read_i64(&r->mp, &key);
        else if (rc == 0)
            rc = sg__mp_skip(&r->mp); /* non-integer key: skip it whole, then its value */
        if (rc)
            return fail(r, SG_EPROTO, "truncated extension map");
        switch (key) {
        case 1:
            rc = sg__mp_read_u64(&r->mp, &e->tracing_id);
            e->has_tracing_id = rc == 0;
            break;
        case 2:
            rc = sg__mp_read_i32(&r->mp, &e->ttl);
            e->has_ttl = rc == 0;
            break;
        case 3:
            rc = rd_str(r, &e->protocol, "extension protocol is not a string");
            break;
        case 4:
            rc = rd_str(r, &e->filter, "extension filter is not a string");
            break;
        case 5:
            rc = sg__mp_read_i32(&r->mp, &e->data_type);
            break;
        case 6:
            rc = sg__mp_read_bool(&r->mp, &e->is_partial);
            break;
        default: /* unknown key (or non-int key): skip its value */
            rc = sg__mp_skip(&r->mp);
        }
        if (rc)
            return fail(r, SG_EPROTO, "bad extension member");
    }
    return 0;
}

static int rd_claims(rd *r, sg_svc_msg *m)
{
    uint32_t n;
    if (sg__mp_read_map(&r->mp, &n))
        return fail(r, SG_EPROTO, "claims is not a map");
    if (n == 0)
        return 0;
    sg_svc_claim *c = sg__arena_alloc(&r->arena, (size_t)n * sizeof(*c));
    if (!c)
        return fail(r, SG_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        int rc = rd_str_nn(r, &c[i].type, "claim type is not a string");
        if (!rc)
            rc = rd_str_nn(r, &c[i].value, "claim value is not a string");
        if (rc)
            return rc;
    }
    m->claims = c;
    m->n_claims = n;
    return 0;
}

static int rd_headers(rd *r, sg_svc_msg *m)
{
    uint32_t n;
    if (sg__mp_read_map(&r->mp, &n))
        return fail(r, SG_EPROTO, "headers is not a map");
    if (n == 0)
        return 0;
    sg_svc_header *h = sg__arena_alloc(&r->arena, (size_t)n * sizeof(*h));
    if (!h)
        return fail(r, SG_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        int rc = rd_str_nn(r, &h[i].key, "header name is not a string");
        if (!rc)
            rc = rd_strlist(r, (const char ***)&h[i].values, &h[i].n_values);
        if (rc)
            return rc;
    }
    m->headers = h;
    m->n_headers = n;
    return 0;
}

static int rd_payloads(rd *r, sg_svc_msg *m)
{
    uint32_t n;
    if (sg__mp_read_map(&r->mp, &n))
        return fail(r, SG_EPROTO, "payloads is not a map");
    if (n == 0)
        return 0;
    sg_svc_payload *p = sg__arena_alloc(&r->arena, (size_t)n * sizeof(*p));
    if (!p)
        return fail(r, SG_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len;
        int rc = rd_str_nn(r, &p[i].protocol, "payload key is not a string");
        if (rc)
            return rc;
        if (sg__mp_read_bytes(&r->mp, &p[i].data, &len))
            return fail(r, SG_EPROTO, "payload is not binary");
        p[i].len = len;
    }
    m->payloads = p;
    m->n_payloads = n;
    return 0;
}

static int rd_field(rd *r, sg_svc_msg *m, const field *f)
{
    switch ((fkind)f->kind) {
    case F_STR:
    case F_STR_E:
        return rd_str(r, FPTR(m, f->off, const char *), "expected a string");
    case F_I32:
    case F_I32FIX:
        return sg__mp_read_i32(&r->mp, FPTR(m, f->off, int32_t))
                   ? fail(r, SG_EPROTO, "expected an int32")
                   : 0;
    case F_BOOL:
        return sg__mp_read_bool(&r->mp, FPTR(m, f->off, int))
                   ? fail(r, SG_EPROTO, "expected a boolean")
                   : 0;
    case F_EXT:
        return rd_ext(r, &m->ext);
    case F_IDS:
        return rd_strlist(r, &m->ids, &m->n_ids);
    case F_XUIDS:
        return rd_strlist(r, &m->excluded_user_ids, &m->n_excluded_user_ids);
    case F_CLAIMS:
        return rd_claims(r, m);
    case F_HEADERS:
        return rd_headers(r, m);
    case F_PAYLOADS:
        return rd_payloads(r, m);
    case F_BYTES:
    case F_BYTES_NIL: {
        sg__mp_kind k;
        uint32_t len;
        if (sg__mp_peek(&r->mp, &k))
            return fail(r, SG_EPROTO, "truncated");
        if (sg__mp_read_bytes(&r->mp, &m->payload, &len))
            return fail(r, SG_EPROTO, "payload is not binary");
        m->payload_len = len;
        m->has_payload = k != SG__MP_NIL;
        if (!m->payload)
            m->payload = (const uint8_t *)"";
        return 0;
    }
    case F_END:
        break;
    }
    return fail(r, SG_EINTERNAL, "bad layout");
}

static int parse_body(rd *r, sg_svc_msg *m)
{
    uint32_t count;
    int64_t type;
    if (sg__mp_read_array(&r->mp, &count) || count == 0)
        return fail(r, SG_EPROTO, "message is not a non-empty array");
    m->n_elems = count;
    if (sg__mp_read_i64(&r->mp, &type))
        return fail(r, SG_EPROTO, "message type is not an integer");
    m->raw_type = type;
    uint32_t read = 1;
    if (type < 1 || type >= N_LAYOUTS || !layouts[type].name) {
        m->type = SG_SVC_UNKNOWN; /* ignored by the caller, like the SDK */
    } else if (type == SG_SVC_PING) {
        m->type = SG_SVC_PING;
        if (count > 1) {
            const char **v = sg__arena_alloc(&r->arena, (size_t)(count - 1) * sizeof(*v));
            if (!v)
                return fail(r, SG_ENOMEM, "out of memory");
            for (uint32_t i = 0; i + 1 < count; i++) {
                int rc = rd_str_nn(r, &v[i], "ping value is not a string");
                if (rc)
                    return rc;
            }
            m->ids = v;
            m->n_ids = count - 1;
            read = count;
        }
    } else {
        const layout *l = &layouts[type];
        m->type = (sg_svc_type)type;
        if (count < l->min)
            return fail(r, SG_EPROTO, "message array too short");
        for (const field *f = l->f; f->kind != F_END && read < count; f++, read++) {
            int rc = rd_field(r, m, f);
            if (rc)
                return rc;
        }
        if (m->type == SG_SVC_HANDSHAKE_REQUEST && count < 4)
            m->target = NULL;
    }
    for (; read < count; read++)
        if (sg__mp_skip(&r->mp))
            return fail(r, SG_EPROTO, "truncated trailing element");
    if (sg__mp_left(&r->mp))
        return fail(r, SG_EPROTO, "trailing bytes after message");
    return 0;
}

int sg_svc_parse_body(const void *body, size_t len, sg_svc_msg *m, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    sg_svc_msg_clear(m);
    rd r = {0};
    sg__mp_init(&r.mp, body, len);
    int rc = parse_body(&r, m);
    m->arena_ = r.arena;
    if (rc) {
        *why = r.why ? r.why : "malformed message";
        sg_svc_msg_clear(m);
    }
    return rc;
}

int sg_svc_parse(const void *buf, size_t len, size_t max_body, sg_svc_msg *m, size_t *consumed,
                 const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    sg_svc_msg_clear(m);
    const uint8_t *body;
    size_t blen, flen;
    int rc = sg_varint_frame(buf, len, max_body ? max_body : SG_SVC_DEFAULT_MAX_FRAME, &body, &blen,
                             &flen);
    if (rc == SG_EAGAIN)
        return rc;
    if (rc) {
        *why = rc == SG_ETOOBIG ? "message too large" : "invalid length prefix";
        return rc;
    }
    rc = sg_svc_parse_body(body, blen, m, why);
    if (rc)
        return rc;
    m->raw = buf;
    m->raw_len = flen;
    *consumed = flen;
    return SG_OK;
}

/* ---------------------------------------------------------------- writer */

static int wr_strlist(msgpack_packer *p, const char *const *v, size_t n)
{
    int rc = sg__mpw_rc(msgpack_pack_array(p, n));
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = sg__mpw_rc(sg__mpw_str(p, v[i]));
    return rc;
}

static int wr_ext(msgpack_packer *p, const sg_svc_ext *e)
{
    size_t n = (e->has_tracing_id != 0) + (e->has_ttl != 0) + (e->protocol != NULL) +
               (e->filter != NULL) + (e->data_type != 0) + (e->is_partial != 0);
    int rc = sg__mpw_rc(msgpack_pack_map(p, n));
    if (rc == 0 && e->has_tracing_id)
        rc = sg__mpw_rc(msgpack_pack_int(p, 1) || msgpack_pack_uint64(p, e->tracing_id));
    if (rc == 0 && e->has_ttl)
        rc = sg__mpw_rc(msgpack_pack_int(p, 2) || msgpack_pack_int32(p, e->ttl));
    if (rc == 0 && e->protocol)
        rc = sg__mpw_rc(msgpack_pack_int(p, 3) || sg__mpw_str(p, e->protocol));
    if (rc == 0 && e->filter)
        rc = sg__mpw_rc(msgpack_pack_int(p, 4) || sg__mpw_str(p, e->filter));
    if (rc == 0 && e->data_type)
        rc = sg__mpw_rc(msgpack_pack_int(p, 5) || msgpack_pack_int32(p, e->data_type));
    if (rc == 0 && e->is_partial)
        rc = sg__mpw_rc(msgpack_pack_int(p, 6) || msgpack_pack_true(p));
    return rc;
}

static int wr_field(msgpack_packer *p, const sg_svc_msg *m, const field *f)
{
    switch ((fkind)f->kind) {
    case F_STR:
        return sg__mpw_rc(sg__mpw_str(p, *CFPTR(m, f->off, char *)));
    case F_STR_E:
        return sg__mpw_rc(sg__mpw_str_empty(p, *CFPTR(m, f->off, char *)));
    case F_I32:
        return sg__mpw_rc(msgpack_pack_int32(p, *CFPTR(m, f->off, int32_t)));
    case F_I32FIX:
        return sg__mpw_rc(msgpack_pack_fix_int32(p, *CFPTR(m, f->off, int32_t)));
    case F_BOOL:
        return sg__mpw_rc(*CFPTR(m, f->off, int) ? msgpack_pack_true(p) : msgpack_pack_false(p));
    case F_EXT:
        return wr_ext(p, &m->ext);
    case F_IDS:
        return wr_strlist(p, m->ids, m->n_ids);
    case F_XUIDS:
        return wr_strlist(p, m->excluded_user_ids, m->n_excluded_user_ids);
    case F_CLAIMS: {
        int rc = sg__mpw_rc(msgpack_pack_map(p, m->n_claims));
        for (size_t i = 0; i < m->n_claims && rc == 0; i++)
            rc = sg__mpw_rc(sg__mpw_str_empty(p, m->claims[i].type) ||
                            sg__mpw_str_empty(p, m->claims[i].value));
        return rc;
    }
    case F_HEADERS: {
        int rc = sg__mpw_rc(msgpack_pack_map(p, m->n_headers));
        for (size_t i = 0; i < m->n_headers && rc == 0; i++) {
            rc = sg__mpw_rc(sg__mpw_str_empty(p, m->headers[i].key));
            if (rc == 0)
                rc = wr_strlist(p, m->headers[i].values, m->headers[i].n_values);
        }
        return rc;
    }
    case F_PAYLOADS: {
        int rc = sg__mpw_rc(msgpack_pack_map(p, m->n_payloads));
        for (size_t i = 0; i < m->n_payloads && rc == 0; i++) {
            const sg_svc_payload *pl = &m->payloads[i];
            if (pl->len > UINT32_MAX || (pl->len && !pl->data))
                return SG_EINVAL;
            rc = sg__mpw_rc(
                sg__mpw_str_empty(p, pl->protocol) ||
                msgpack_pack_bin_with_body(p, pl->data ? (const void *)pl->data : "", pl->len));
        }
        return rc;
    }
    case F_BYTES:
    case F_BYTES_NIL:
        if (f->kind == F_BYTES_NIL && !m->has_payload)
            return sg__mpw_rc(msgpack_pack_nil(p));
        if (m->payload_len > UINT32_MAX || (m->payload_len && !m->payload))
            return SG_EINVAL;
        return sg__mpw_rc(msgpack_pack_bin_with_body(p, m->payload ? (const void *)m->payload : "",
                                                     m->payload_len));
    case F_END:
        break;
    }
    return SG_EINTERNAL;
}

static int write_body(const sg_svc_msg *m, sg_buf *out)
{
    msgpack_packer p;
    sg__mpw_init(&p, out);
    int type = m->type;
    if (type == SG_SVC_PING) {
        int rc = sg__mpw_rc(msgpack_pack_array(&p, m->n_ids + 1) || msgpack_pack_int(&p, 3));
        for (size_t i = 0; i < m->n_ids && rc == 0; i++)
            rc = sg__mpw_rc(sg__mpw_str_empty(&p, m->ids[i]));
        return rc;
    }
    if (type < 1 || type >= N_LAYOUTS || !layouts[type].name)
        return SG_EINVAL;
    const layout *l = &layouts[type];
    size_t nf = 0;
    while (nf < sizeof(l->f) / sizeof(l->f[0]) && l->f[nf].kind != F_END)
        nf++;
    if (type == SG_SVC_HANDSHAKE_REQUEST && m->n_elems == 6)
        nf = 5; /* 2024-03 layout, without allow_stateful_reconnects */
    if (type == SG_SVC_ACK && !m->has_payload)
        nf = 4; /* readable by every SDK version */
    int rc = sg__mpw_rc(msgpack_pack_array(&p, nf + 1) || msgpack_pack_int(&p, type));
    for (size_t i = 0; i < nf && rc == 0; i++)
        rc = wr_field(&p, m, &l->f[i]);
    return rc;
}

int sg_svc_write_body(const sg_svc_msg *m, sg_buf *out)
{
    size_t before = out->len;
    int rc = write_body(m, out);
    if (rc) {
        out->len = before;
        if (out->data)
            out->data[before] = 0;
    }
    return rc;
}

int sg_svc_write(const sg_svc_msg *m, sg_buf *out)
{
    sg_buf body;
    sg_buf_init(&body, 0);
    int rc = write_body(m, &body);
    if (rc == 0)
        rc = sg__frame_append(out, &body);
    sg_buf_free(&body);
    return rc;
}

const sg_svc_payload *sg_svc_payload_find(const sg_svc_msg *m, const char *protocol)
{
    if (!protocol)
        return NULL;
    for (size_t i = 0; i < m->n_payloads; i++)
        if (m->payloads[i].protocol && strcasecmp(m->payloads[i].protocol, protocol) == 0)
            return &m->payloads[i];
    return NULL;
}

const char *sg_svc_ping_get(const sg_svc_msg *m, const char *key)
{
    if (m->type != SG_SVC_PING || !key)
        return NULL;
    for (size_t i = 0; i < m->n_ids; i += 2)
        if (m->ids[i] && strcmp(m->ids[i], key) == 0)
            return i + 1 < m->n_ids ? m->ids[i + 1] : "";
    return NULL;
}
