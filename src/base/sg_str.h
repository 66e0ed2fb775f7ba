/* sg_str.h — small string helpers shared by every layer. */
#ifndef SG_STR_H
#define SG_STR_H

#include "sg_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Percent-decodes s (and '+' -> ' ' when form != 0) into a new NUL-terminated string.
 * Returns NULL on OOM or a bad %XX escape. *out_len (optional) gets the decoded length. */
char *sg_url_decode(const char *s, size_t n, int form, size_t *out_len);
/* Appends s percent-encoded (RFC 3986 unreserved kept) to b. */
int sg_url_encode_append(sg_buf *b, const char *s, size_t n);

/* Iterates "a=1&b=2" query strings. Returns 1 and fills key/val (raw, not decoded) while
 * pairs remain, 0 at the end. *pos starts at 0. */
int sg_query_next(sg_slice q, size_t *pos, sg_slice *key, sg_slice *val);
/* First value of `key` (exact, raw key compare), percent-decoded into a new string; NULL if
 * absent or on OOM. */
char *sg_query_get(sg_slice q, const char *key);

/* Strict decimal parsers: whole string must be digits (optional leading '-' for signed),
 * no overflow. Return 0 or SG_EINVAL. Use these instead of atoi/strtol. */
int sg_parse_i64(const char *s, size_t n, int64_t *out);
int sg_parse_u64(const char *s, size_t n, uint64_t *out);

/* ASCII lower-case in place. */
void sg_str_lower(char *s);
/* Constant-time comparison of two byte ranges (length leak only). 1 if equal. */
int sg_ct_eq(const void *a, size_t an, const void *b, size_t bn);
/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int sg_utf8_valid(const unsigned char *s, size_t n);
/* snprintf that never overflows and returns SG_ETOOBIG on truncation. */
int sg_snprintf(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
