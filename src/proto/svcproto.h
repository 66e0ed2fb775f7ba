/* proto/svcproto.h — the Azure SignalR service protocol (app server ↔ service; reference §2).
 *
 * Each message is VarInt(length) + one MessagePack array whose element 0 is the type id.
 * Readers decide optional trailing fields by array length (older/newer SDK layouts are all
 * accepted, extra trailing elements are skipped); writers emit the newest layout. Unknown
 * type ids are NOT errors: they parse to type SG_SVC_UNKNOWN (the raw id in m->raw_type) and
 * the caller ignores them, as the SDK does. The extension map ({ext}, int keys 1..6) skips
 * unknown keys together with their values when reading and is written with only the members
 * that are set (an empty map is 0x80).
 *
 * Field use per type (element order on the wire in brackets; "ids" = m->ids):
 *   1  HandshakeRequest      [version, connection_type, target, migration_level, {ext},
 *                             allow_stateful_reconnects]   (2/4/5/6/7-element forms read)
 *   2  HandshakeResponse     [error_message, {ext}, connection_id]  (2/3/4 read)
 *   3  Ping                  [strs...]  (key/value pairs; sg_svc_ping_get)
 *   4  OpenConnection        [connection_id, claims, headers, query_string, {ext}]
 *   5  CloseConnection       [connection_id, error_message, headers, {ext}]
 *   6  ConnectionData        [connection_id, payload, {ext}]
 *   7  MultiConnectionData   [ids=connectionIds, payloads, {ext}]
 *   8  UserData              [user_id, payloads, {ext}]
 *   9  MultiUserData         [ids=userIds, payloads, {ext}]
 *   10 BroadcastData         [ids=excludedConnectionIds, payloads, {ext}]
 *   11 JoinGroup / 12 LeaveGroup            [connection_id, group_name, {ext}]
 *   13 GroupBroadcastData    [group_name, ids=excludedConnectionIds, payloads, {ext},
 *                             excluded_user_ids, caller_user_id]
 *   14 MultiGroupBroadcastData [ids=groupNames, payloads, {ext}]
 *   15 ServiceError          [error_message]
 *   16 UserJoinGroup / 17 UserLeaveGroup    [user_id, group_name, {ext}]  (ttl in ext)
 *   18 JoinGroupWithAck / 19 LeaveGroupWithAck [connection_id, group_name, ack_id, {ext}]
 *   20 Ack                   [ack_id, status, message, {ext}, payload|nil]
 *   21 CheckUserInGroupWithAck [user_id, group_name, ack_id, {ext}]
 *   22 ServiceEvent          [object_type, event_id, kind, message, {ext}]
 *   23 CheckGroupExistenceWithAck      [group_name, ack_id, {ext}]
 *   24 CheckConnectionExistenceWithAck [connection_id, ack_id, {ext}]
 *   25 CheckUserExistenceWithAck       [user_id, ack_id, {ext}]
 *   26 UserJoinGroupWithAck / 27 UserLeaveGroupWithAck [user_id, group_name, ack_id, {ext}]
 *   28 AccessKeyRequest      [token, kid, {ext}]
 *   29 AccessKeyResponse     [kid, access_key, error_type, error_message, {ext}]
 *   30 CloseConnectionWithAck          [connection_id, reason, ack_id, {ext}]
 *   31 CloseConnectionsWithAck         [reason, ack_id, ids=excluded, {ext}]
 *   32 CloseUserConnectionsWithAck     [user_id, reason, ack_id, ids=excluded, {ext}]
 *   33 CloseGroupConnectionsWithAck    [group_name, reason, ack_id, ids=excluded, {ext}]
 *   34 ClientInvocation      [invocation_id, connection_id, caller_server_id, payloads, {ext}]
 *   35 ClientCompletion      [invocation_id, connection_id, caller_server_id, protocol,
 *                             payload, {ext}]
 *   36 ErrorCompletion       [invocation_id, connection_id, caller_server_id, error_message,
 *                             {ext}]
 *   37 ServiceMapping        [invocation_id, connection_id, instance_id, {ext}]
 *   38 ConnectionReconnect   [connection_id, {ext}]
 *   39 ConnectionFlowControl [connection_id, connection_type(int32 fixed), operation(int32
 *                             fixed), {ext}]
 *   40 GroupMemberQuery      [{ext}, group_name, ack_id, max, continuation_token]
 * Strings read as nil become NULL; writers write NULL as nil for nullable fields and as ""
 * where the .NET writer never writes nil (e.g. HandshakeRequest target, error messages).
 *
 * Pure, no I/O, no global state; a message is owned by one thread at a time. */
#ifndef SG_PROTO_SVCPROTO_H
#define SG_PROTO_SVCPROTO_H

#include "sg_buf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum sg_svc_type {
    SG_SVC_UNKNOWN = 0, /* unknown type id: ignore the message */
    SG_SVC_HANDSHAKE_REQUEST = 1,
    SG_SVC_HANDSHAKE_RESPONSE = 2,
    SG_SVC_PING = 3,
    SG_SVC_OPEN_CONNECTION = 4,
    SG_SVC_CLOSE_CONNECTION = 5,
    SG_SVC_CONNECTION_DATA = 6,
    SG_SVC_MULTI_CONNECTION_DATA = 7,
    SG_SVC_USER_DATA = 8,
    SG_SVC_MULTI_USER_DATA = 9,
    SG_SVC_BROADCAST_DATA = 10,
    SG_SVC_JOIN_GROUP = 11,
    SG_SVC_LEAVE_GROUP = 12,
    SG_SVC_GROUP_BROADCAST_DATA = 13,
    SG_SVC_MULTI_GROUP_BROADCAST_DATA = 14,
    SG_SVC_SERVICE_ERROR = 15,
    SG_SVC_USER_JOIN_GROUP = 16,
    SG_SVC_USER_LEAVE_GROUP = 17,
    SG_SVC_JOIN_GROUP_WITH_ACK = 18,
    SG_SVC_LEAVE_GROUP_WITH_ACK = 19,
    SG_SVC_ACK = 20,
    SG_SVC_CHECK_USER_IN_GROUP_WITH_ACK = 21,
    SG_SVC_SERVICE_EVENT = 22,
    SG_SVC_CHECK_GROUP_EXISTENCE_WITH_ACK = 23,
    SG_SVC_CHECK_CONNECTION_EXISTENCE_WITH_ACK = 24,
    SG_SVC_CHECK_USER_EXISTENCE_WITH_ACK = 25,
    SG_SVC_USER_JOIN_GROUP_WITH_ACK = 26,
    SG_SVC_USER_LEAVE_GROUP_WITH_ACK = 27,
    SG_SVC_ACCESS_KEY_REQUEST = 28,
    SG_SVC_ACCESS_KEY_RESPONSE = 29,
    SG_SVC_CLOSE_CONNECTION_WITH_ACK = 30,
    SG_SVC_CLOSE_CONNECTIONS_WITH_ACK = 31,
    SG_SVC_CLOSE_USER_CONNECTIONS_WITH_ACK = 32,
    SG_SVC_CLOSE_GROUP_CONNECTIONS_WITH_ACK = 33,
    SG_SVC_CLIENT_INVOCATION = 34,
    SG_SVC_CLIENT_COMPLETION = 35,
    SG_SVC_ERROR_COMPLETION = 36,
    SG_SVC_SERVICE_MAPPING = 37,
    SG_SVC_CONNECTION_RECONNECT = 38,
    SG_SVC_CONNECTION_FLOW_CONTROL = 39,
    SG_SVC_GROUP_MEMBER_QUERY = 40,
} sg_svc_type;

/* "HandshakeRequest", ... (static); "Unknown" otherwise. */
const char *sg_svc_type_name(int type);

/* Enums (reference §2.3, §2.5). */
enum { SG_SVC_CONN_DEFAULT = 0, SG_SVC_CONN_ONDEMAND = 1, SG_SVC_CONN_WEAK = 2 };
enum { SG_SVC_MIGRATE_OFF = 0, SG_SVC_MIGRATE_SHUTDOWN_ONLY = 1, SG_SVC_MIGRATE_ANY = 2 };
enum {
    SG_SVC_ACK_OK = 1,
    SG_SVC_ACK_NOT_FOUND = 2,
    SG_SVC_ACK_TIMEOUT = 3,
    SG_SVC_ACK_INTERNAL_ERROR = 4
};
enum {
    SG_SVC_DATA_UNKNOWN = 0,
    SG_SVC_DATA_HANDSHAKE = 1,
    SG_SVC_DATA_INVOCATION = 2,
    SG_SVC_DATA_OTHER = 3
};
enum { SG_SVC_FLOW_CLIENT = 1, SG_SVC_FLOW_SERVER = 2 };
enum {
    SG_SVC_FLOW_PAUSE = 1,
    SG_SVC_FLOW_PAUSE_ACK = 2,
    SG_SVC_FLOW_RESUME = 3,
    SG_SVC_FLOW_OFFLINE = 4
};

/* Extension members (reference §2.2). Written only when set. */
typedef struct sg_svc_ext {
    int has_tracing_id;
    uint64_t tracing_id; /* key 1 */
    int has_ttl;
    int32_t ttl;          /* key 2, seconds */
    const char *protocol; /* key 3, NULL = absent */
    const char *filter;   /* key 4, NULL = absent */
    int32_t data_type;    /* key 5, SG_SVC_DATA_*, 0 = absent */
    int is_partial;       /* key 6, 0 = absent */
} sg_svc_ext;

typedef struct sg_svc_claim {
    const char *type;
    const char *value;
} sg_svc_claim;

typedef struct sg_svc_header {
    const char *key;
    const char **values;
    size_t n_values;
} sg_svc_header;

typedef struct sg_svc_payload {
    const char *protocol; /* "json", "messagepack", ... */
    const uint8_t *data;
    size_t len;
} sg_svc_payload;

/* A service message. See the table above for which fields each type uses.
 *
 * Ownership: every pointer is const. After sg_svc_parse, strings and arrays live in an
 * arena owned by the message (freed by sg_svc_msg_clear) — EXCEPT payload bytes
 * (`payload`, `payloads[i].data`) and `raw`, which point into the caller's input buffer
 * (zero copy) and are valid only while that buffer is unchanged. For writing, point the
 * fields at your own data; writers only read. */
typedef struct sg_svc_msg {
    sg_svc_type type;
    int64_t raw_type; /* type id as read (meaningful for SG_SVC_UNKNOWN) */
    uint32_t n_elems; /* array length as read. Writers: 0 = newest layout; for
                         HandshakeRequest 6 writes the 2024-03 layout (no
                         allow_stateful_reconnects) */

    /* scalars */
    int32_t version;         /* HandshakeRequest (1) */
    int32_t connection_type; /* HandshakeRequest SG_SVC_CONN_*; FlowControl SG_SVC_FLOW_* */
    int32_t migration_level; /* HandshakeRequest */
    int allow_stateful_reconnects;
    int32_t operation; /* ConnectionFlowControl SG_SVC_FLOW_PAUSE.. */
    int32_t ack_id;
    int32_t status;      /* Ack SG_SVC_ACK_* */
    int32_t object_type; /* ServiceEvent */
    int32_t kind;        /* ServiceEvent */
    int32_t max;         /* GroupMemberQuery */

    /* strings (NULL = absent / nil) */
    const char *target; /* HandshakeRequest */
    const char *connection_id;
    const char *user_id;
    const char *group_name;
    const char *error_message;
    const char *query_string;       /* OpenConnection */
    const char *message;            /* Ack, ServiceEvent */
    const char *event_id;           /* ServiceEvent id */
    const char *token;              /* AccessKeyRequest */
    const char *kid;                /* AccessKeyRequest/Response */
    const char *access_key;         /* AccessKeyResponse */
    const char *error_type;         /* AccessKeyResponse */
    const char *reason;             /* Close*WithAck */
    const char *invocation_id;      /* 34..37 */
    const char *caller_server_id;   /* 34..36 */
    const char *instance_id;        /* ServiceMapping */
    const char *protocol;           /* ClientCompletion */
    const char *caller_user_id;     /* GroupBroadcastData */
    const char *continuation_token; /* GroupMemberQuery */

    /* lists */
    const char **ids; /* connectionIds / userIds / excluded ids / groupNames / ping strings */
    size_t n_ids;
    const char **excluded_user_ids; /* GroupBroadcastData */
    size_t n_excluded_user_ids;
    const sg_svc_claim *claims; /* OpenConnection */
    size_t n_claims;
    const sg_svc_header *headers; /* OpenConnection, CloseConnection */
    size_t n_headers;
    const sg_svc_payload *payloads; /* multicast types, ClientInvocation */
    size_t n_payloads;

    /* bytes */
    const uint8_t *payload; /* ConnectionData, ClientCompletion, Ack (has_payload) */
    size_t payload_len;
    int has_payload; /* Ack: payload present (not nil) */

    sg_svc_ext ext;

    /* set by sg_svc_parse: the whole frame (prefix + body) in the input buffer */
    const uint8_t *raw;
    size_t raw_len;

    void *arena_; /* private */
} sg_svc_msg;

/* Ping strings are stored in ids/n_ids. */

void sg_svc_msg_init(sg_svc_msg *m);
void sg_svc_msg_clear(sg_svc_msg *m); /* frees the arena, re-initialises; NULL-safe */

#define SG_SVC_DEFAULT_MAX_FRAME (16u << 20) /* 16 MiB body cap when max_body == 0 */

/* Parses the first VarInt-framed message in buf[0..len).
 * Returns SG_OK (*m filled, *consumed = frame length; unknown types give SG_SVC_UNKNOWN),
 *         SG_EAGAIN (incomplete frame),
 *         SG_ETOOBIG (announced body > max_body; 0 = SG_SVC_DEFAULT_MAX_FRAME),
 *         SG_EPROTO (malformed body: not an array, wrong element types, too few elements,
 *                    truncated; *why gets a static reason),
 *         SG_ENOMEM.
 * *m must be initialised (sg_svc_msg_init); it is cleared first. */
int sg_svc_parse(const void *buf, size_t len, size_t max_body, sg_svc_msg *m, size_t *consumed,
                 const char **why);
/* Same for one unframed body (exactly len bytes; trailing bytes after the array are SG_EPROTO). */
int sg_svc_parse_body(const void *body, size_t len, sg_svc_msg *m, const char **why);

/* Appends VarInt + body (sg_svc_write) or the body only (sg_svc_write_body) for m.
 * SG_EINVAL for SG_SVC_UNKNOWN or a type the writer cannot build; SG_ENOMEM / SG_ETOOBIG
 * from the buffer. On failure out->len is restored. */
int sg_svc_write(const sg_svc_msg *m, sg_buf *out);
int sg_svc_write_body(const sg_svc_msg *m, sg_buf *out);

/* Case-insensitive lookup of a payload by protocol name; NULL if absent. */
const sg_svc_payload *sg_svc_payload_find(const sg_svc_msg *m, const char *protocol);
/* Ping: the value following the first string equal to key (case-sensitive), or NULL. A key
 * present with no following value yields "". */
const char *sg_svc_ping_get(const sg_svc_msg *m, const char *key);

#endif
