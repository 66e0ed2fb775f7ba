/* lg_hist.h — a log-linear latency histogram (microseconds, ~1.5 % bucket width), cheap
 * enough to update once per delivered message and small enough to ship between processes.
 * Included once, by loadgen.c. */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdint.h>
#include <string.h>

#define LG_HIST_SUB 64                      /* linear sub-buckets per power of two */
#define LG_HIST_MAXEXP 40                   /* values capped at 2^40 us (~12 days) */
#define LG_HIST_N (LG_HIST_SUB * (LG_HIST_MAXEXP - 5))

typedef struct lg_hist {
    uint64_t count;
    uint64_t max;
    uint64_t b[LG_HIST_N];
} lg_hist;

static inline unsigned lg_hist_bucket(uint64_t v)
{
    if (v < LG_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 6 */
    if (e >= LG_HIST_MAXEXP)
        return LG_HIST_N - 1;
    unsigned sub = (unsigned)(v >> (e - 6)) & (LG_HIST_SUB - 1);
    return LG_HIST_SUB + (e - 6) * LG_HIST_SUB + sub;
}

/* Lower bound and width of bucket i. */
static inline uint64_t lg_hist_low(unsigned i, uint64_t *width)
{
    if (i < LG_HIST_SUB) {
        *width = 1;
        return i;
    }
    unsigned e = (i - LG_HIST_SUB) / LG_HIST_SUB + 6;
    unsigned sub = (i - LG_HIST_SUB) % LG_HIST_SUB;
    *width = 1ull << (e - 6);
    return (uint64_t)(LG_HIST_SUB + sub) << (e - 6);
}

static inline void lg_hist_add(lg_hist *h, uint64_t v)
{
    h->b[lg_hist_bucket(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

static void lg_hist_merge(lg_hist *dst, const lg_hist *src)
{
    for (unsigned i = 0; i < LG_HIST_N; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    if (src->max > dst->max)
        dst->max = src->max;
}

static void lg_hist_reset(lg_hist *h) { memset(h, 0, sizeof(*h)); }

/* q in [0,1]; the middle of the bucket holding the q-quantile; 0 when empty. */
static uint64_t lg_hist_quantile(const lg_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)(h->count - 1)) + 1, seen = 0;
    for (unsigned i = 0; i < LG_HIST_N; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t w, lo = lg_hist_low(i, &w);
            uint64_t mid = lo + w / 2;
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

#endif
