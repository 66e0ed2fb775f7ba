/* sg_time.h — clocks. */
#ifndef SG_TIME_H
#define SG_TIME_H

#include <stdint.h>

uint64_t sg_mono_ms(void);  /* monotonic milliseconds */
int64_t sg_unix_now(void);  /* wall-clock seconds since the epoch */
int64_t sg_unix_ms(void);   /* wall-clock milliseconds since the epoch */
/* ISO-8601 UTC "2026-11-26T03:00:00Z" (or with .fffffff+00:00 when frac != 0). out >= 40 bytes */
void sg_time_iso8601(int64_t unix_s, char *out, unsigned outlen);

#endif
