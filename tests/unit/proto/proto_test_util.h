/* proto_test_util.h — tiny helpers shared by the proto unit tests (header-only). */
#ifndef PROTO_TEST_UTIL_H
#define PROTO_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* "96 01 80" → bytes; returns length. Spaces ignored. */
static inline size_t hex2bin(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            if (n < cap)
                out[n] = (uint8_t)(hi * 16 + v);
            n++;
            hi = -1;
        }
    }
    return n;
}

static inline void dump_hex(const char *label, const void *p, size_t n)
{
    fprintf(stderr, "%s:", label);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %02x", ((const uint8_t *)p)[i]);
    fprintf(stderr, "\n");
}

#endif
