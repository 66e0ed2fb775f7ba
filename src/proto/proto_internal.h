/* proto_internal.h — helpers shared by the files of src/proto/ (not a public contract).
 * sg__mp_*: a bounded MessagePack pull reader over a borrowed byte range. Every length and
 * count read from the input is checked against the bytes that remain before the caller can
 * act on it (an array of N elements needs at least N bytes), so no peer-announced size can
 * cause a large allocation. sg__mpw_*: thin writers over msgpack-c's packer into an sg_buf. */
#ifndef SG_PROTO_INTERNAL_H
#define SG_PROTO_INTERNAL_H

#include "sg_buf.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sg__mp_kind {
    SG__MP_NIL,
    SG__MP_BOOL,
    SG__MP_INT,  /* signed, fits int64 */
    SG__MP_UINT, /* unsigned (value in u) */
    SG__MP_FLOAT,
    SG__MP_STR,
    SG__MP_BIN,
    SG__MP_ARRAY,
    SG__MP_MAP,
    SG__MP_EXT,
} sg__mp_kind;

typedef struct sg__mp_obj {
    sg__mp_kind kind;
    int b;
    int64_t i;
    uint64_t u;
    double f;
    const uint8_t *p; /* str/bin/ext data */
    uint32_t len;     /* str/bin/ext length, array/map count */
    int8_t ext_type;
} sg__mp_obj;

typedef struct sg__mp {
    const uint8_t *p;
    size_t n;
    size_t off;
} sg__mp;

static inline void sg__mp_init(sg__mp *r, const void *p, size_t n)
{
    r->p = (const uint8_t *)p;
    r->n = n;
    r->off = 0;
}
static inline size_t sg__mp_left(const sg__mp *r)
{
    return r->n - r->off;
}

/* Reads one header/scalar. Arrays and maps: only the header (count checked against the
 * remaining bytes). Returns 0 or SG_EPROTO (truncated, 0xc1, count impossible). */
int sg__mp_next(sg__mp *r, sg__mp_obj *o);
/* Peeks the kind of the next value without consuming; SG_EPROTO at end. */
int sg__mp_peek(const sg__mp *r, sg__mp_kind *kind);
/* Skips one complete value (iterative, no recursion). */
int sg__mp_skip(sg__mp *r);
/* Typed readers: SG_EPROTO on type mismatch. */
int sg__mp_read_array(sg__mp *r, uint32_t *count); /* nil → 0 */
int sg__mp_read_map(sg__mp *r, uint32_t *count);   /* nil → 0 */
int sg__mp_read_i64(sg__mp *r, int64_t *v);        /* any int within int64 */
int sg__mp_read_i32(sg__mp *r, int32_t *v);
int sg__mp_read_u64(sg__mp *r, uint64_t *v); /* non-negative ints */
int sg__mp_read_bool(sg__mp *r, int *v);
/* str or nil (*s = NULL). */
int sg__mp_read_str_nil(sg__mp *r, const char **s, uint32_t *len);
/* bin, str, or nil (empty). */
int sg__mp_read_bytes(sg__mp *r, const uint8_t **p, uint32_t *len);

/* Writers (msgpack-c packer bound to an sg_buf). */
void sg__mpw_init(msgpack_packer *pk, sg_buf *out);
int sg__mpw_str(msgpack_packer *pk, const char *s);       /* NULL → nil */
int sg__mpw_str_empty(msgpack_packer *pk, const char *s); /* NULL → "" */
int sg__mpw_strn(msgpack_packer *pk, const char *s, size_t n);
/* Maps a msgpack-c packer result (nonzero = the sg_buf could not grow) to 0 / SG_ENOMEM. */
int sg__mpw_rc(int r);
/* Appends body to out behind its varint length prefix (binary hub / service protocol framing).
 * SG_ETOOBIG when body->len exceeds SG_VARINT_MAX_VALUE, SG_ENOMEM; on failure out is left as
 * it was (length and terminating NUL). */
int sg__frame_append(sg_buf *out, const sg_buf *body);

/* Small arena for parse results (svcproto). */
typedef struct sg__arena sg__arena;
void *sg__arena_alloc(sg__arena **a, size_t n); /* zeroed, 8-aligned; NULL on OOM */
char *sg__arena_strndup(sg__arena **a, const char *s, size_t n);
void sg__arena_free(sg__arena *a);

/* ---- shared by hub_json.c / hub_msgpack.c / hubmsg.c / handshake.c ---- */
#include <jansson.h>
struct sg_hub_limits;
/* Appends s[0..n) as a JSON string literal (quotes included). */
int sg__json_append_string(sg_buf *out, const char *s, size_t n);
/* Limits with NULL → defaults, zero members → defaults. */
void sg__hub_limits_resolve(const struct sg_hub_limits *in, struct sg_hub_limits *out);
/* Tag prefix of binary / ext nodes (8 bytes). */
#define SG__BIN_TAG "\0sg:bin\0"
#define SG__EXT_TAG "\0sg:ext\0"
#define SG__TAG_LEN 8
/* Decodes a tagged node's payload into a new sg_malloc'd buffer. Returns 1 ok, 0 not tagged /
 * corrupt tag (treat as plain string), -1 OOM. */
int sg__hub_tag_decode(const json_t *v, const char *tag, int8_t *ext_type, uint8_t **p, size_t *n);
#endif
