#include "sg_log.h"

#include "sg_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static sg_log_level g_level = SG_LOG_INFO;
static const char *const g_names[] = {"error", "warn", "info", "debug"};

void sg_log_set_level(sg_log_level lvl)
{
    g_level = lvl;
}

int sg_log_enabled(sg_log_level lvl)
{
    return lvl <= g_level;
}

int sg_log_parse_level(const char *s, sg_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, g_names[i]) == 0) {
            *out = (sg_log_level)i;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

void sg_log(sg_log_level lvl, const char *mod, const char *fmt, ...)
{
    if (lvl > g_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s mod=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, g_names[lvl], mod);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
