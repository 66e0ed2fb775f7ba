/* sg_log.h — one line per event, key=value, to stderr.
 * sg_log(SG_LOG_INFO, "signalr", "event=connect conn=%s hub=%s", id, hub)
 * prints: ts=2026-11-26T03:00:00.123Z level=info mod=signalr event=connect conn=... hub=...
 * Thread-safe (one fprintf per line). */
#ifndef SG_LOG_H
#define SG_LOG_H

typedef enum { SG_LOG_ERROR = 0, SG_LOG_WARN = 1, SG_LOG_INFO = 2, SG_LOG_DEBUG = 3 } sg_log_level;

void sg_log_set_level(sg_log_level lvl);
/* Parses "error|warn|info|debug"; returns 0 and sets *out, or SG_EINVAL. */
int sg_log_parse_level(const char *s, sg_log_level *out);
int sg_log_enabled(sg_log_level lvl);
void sg_log(sg_log_level lvl, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SG_LOGE(mod, ...) sg_log(SG_LOG_ERROR, mod, __VA_ARGS__)
#define SG_LOGW(mod, ...) sg_log(SG_LOG_WARN, mod, __VA_ARGS__)
#define SG_LOGI(mod, ...) sg_log(SG_LOG_INFO, mod, __VA_ARGS__)
#define SG_LOGD(mod, ...)                                                                          \
    do {                                                                                           \
        if (sg_log_enabled(SG_LOG_DEBUG))                                                          \
            sg_log(SG_LOG_DEBUG, mod, __VA_ARGS__);                                                \
    } while (0)

#endif
