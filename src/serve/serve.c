/* serve.c — the `sigrid serve` process: lock, loop, cloud, data planes, endpoints.json,
 * banner, signals, clean shutdown. See docs/internals/serve.md. */
#include "serve/serve.h"

#include "cloud/cloud.h"
#include "serve/serve_tls.h"
#include "signalr/signalr.h"
#include "sg_alloc.h"
#include "sg_buf.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_str.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define MOD "serve"
#define SHUTDOWN_GRACE_MS 15000

/* One running data plane (one SignalR resource). */
typedef struct serve_dp {
    struct serve_dp *next;
    char *id;
    char *name;
    int port; /* requested port (0 = any) */
    int tls;
    int is_default;
    char url[300];
    sg_signalr *sr;
} serve_dp;

typedef struct sg_serve {
    uv_loop_t loop;
    sg_serve_opts o;
    char data_dir[PATH_MAX];
    char url_host[128]; /* host as written in URLs ("127.0.0.1", "[::1]") */
    int lock_fd;
    sg_cloud *cloud;
    serve_dp *dps;
    SSL_CTX *sr_tls; /* shared by every https data plane; NULL until needed */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t grace;
    int signals_open;
    int grace_open;
    int started; /* endpoints.json written */
    int stopping;
    int pending; /* data planes still closing */
    int exit_code;
    char err_code[64];
    char err_msg[1024];
    /* banner facts about the built-in resource */
    char default_key[256];
    int default_serverless;
} sg_serve;

void sg_serve_opts_default(sg_serve_opts *o)
{
    memset(o, 0, sizeof *o);
    o->data_dir = "./.sigrid";
    o->host = "127.0.0.1";
    o->cloud_port = 8443;
    o->signalr_port = 8888;
    o->identity_port_base = 8900;
    o->log_level = "info";
    o->max_message = 32768;
    o->max_connections = 19000;
}

static void set_error(sg_serve *sv, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(sg_serve *sv, const char *code, const char *fmt, ...)
{
    if (sv->err_code[0])
        return; /* keep the first cause */
    sg_snprintf(sv->err_code, sizeof sv->err_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sv->err_msg, sizeof sv->err_msg, fmt, ap);
    va_end(ap);
    sv->exit_code = 1;
}

/* ---- files ------------------------------------------------------------------------- */

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (sg_snprintf(tmp, sizeof tmp, "%s", path) != SG_OK)
        return SG_ETOOBIG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return sg_err_from_errno(errno);
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return sg_err_from_errno(errno);
    return SG_OK;
}

static int path_join(char *out, size_t n, const char *dir, const char *name)
{
    return sg_snprintf(out, n, "%s/%s", dir, name);
}

/* Exclusive, non-blocking lock on DIR/serve.lock (released by the kernel on any exit). */
static int take_lock(sg_serve *sv)
{
    char path[PATH_MAX + 32];
    if (path_join(path, sizeof path, sv->data_dir, "serve.lock") != SG_OK) {
        set_error(sv, "InvalidDataDir", "data dir path too long: %s", sv->data_dir);
        return SG_ETOOBIG;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_error(sv, "InvalidDataDir", "cannot open %s: %s", path, strerror(errno));
        return SG_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        if (n > 0) {
            pid[n] = 0;
            pid[strcspn(pid, "\r\n")] = 0;
        }
        close(fd);
        if (e == EWOULDBLOCK) {
            set_error(sv, "DataDirInUse",
                      "another sigrid serve%s%s is already running on %s (lock %s); stop it "
                      "first, or use another --data-dir",
                      pid[0] ? " with pid " : "", pid, sv->data_dir, path);
        } else {
            set_error(sv, "InvalidDataDir", "cannot lock %s: %s", path, strerror(e));
        }
        return SG_ECONFLICT;
    }
    char pid[32];
    sg_snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
        SG_LOGW(MOD, "event=lock_pid_write_failed err=%s", strerror(errno));
    sv->lock_fd = fd;
    return SG_OK;
}

static void release_lock(sg_serve *sv)
{
    if (sv->lock_fd >= 0) {
        close(sv->lock_fd); /* releases the flock; the file itself stays (harmless) */
        sv->lock_fd = -1;
    }
}

static int dump_cb(const char *p, size_t n, void *ud)
{
    return sg_buf_append((sg_buf *)ud, p, n) == SG_OK ? 0 : -1;
}

/* Writes DIR/name atomically: temp file, fsync, rename, fsync of the directory. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 64];
    int rc = SG_OK;
    int fd = -1;
    if (path_join(path, sizeof path, dir, name) != SG_OK ||
        sg_snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) != SG_OK)
        return SG_ETOOBIG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sg_err_from_errno(errno);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = sg_err_from_errno(errno);
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = sg_err_from_errno(errno);
        goto fail;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = sg_err_from_errno(errno);
        goto fail;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return SG_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

static void remove_endpoints(sg_serve *sv)
{
    char path[PATH_MAX + 32];
    if (path_join(path, sizeof path, sv->data_dir, "endpoints.json") == SG_OK)
        (void)unlink(path);
}

static int write_endpoints(sg_serve *sv)
{
    int rc = SG_ENOMEM;
    sg_buf out;
    sg_buf_init(&out, 0);
    json_t *list = json_array();
    json_t *ep = json_object();
    if (!list || !ep)
        goto done;
    for (serve_dp *d = sv->dps; d; d = d->next) {
        if (!d->sr)
            continue;
        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s}", "name", d->name, "id", d->id, "url", d->url));
    }
    const char *ca = sg_cloud_ca_file(sv->cloud);
    json_object_set_new(ep, "cloudUrl", json_string(sg_cloud_url(sv->cloud)));
    json_object_set_new(ep, "caFile", ca && *ca ? json_string(ca) : json_null());
    json_object_set_new(ep, "adminCredentialFile",
                        json_string(sg_cloud_admin_cred_file(sv->cloud)));
    json_object_set_new(ep, "tenantId", json_string(sg_cloud_tenant_id(sv->cloud)));
    json_object_set_new(ep, "subscriptionId", json_string(sg_cloud_subscription_id(sv->cloud)));
    json_object_set(ep, "signalr", list);
    json_object_set_new(ep, "dataDir", json_string(sv->data_dir));
    json_object_set_new(ep, "pid", json_integer((json_int_t)getpid()));
    if (json_dump_callback(ep, dump_cb, &out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        goto done;
    if (sg_buf_append_byte(&out, '\n') != SG_OK)
        goto done;
    rc = write_atomic(sv->data_dir, "endpoints.json", out.data, out.len);
    if (rc != SG_OK)
        SG_LOGE(MOD, "event=endpoints_write_failed dir=%s err=\"%s\"", sv->data_dir,
                sg_strerror(rc));
done:
    json_decref(list);
    json_decref(ep);
    sg_buf_free(&out);
    return rc;
}

/* ---- data planes ------------------------------------------------------------------- */

static void dp_free(serve_dp *d)
{
    if (!d)
        return;
    sg_free(d->id);
    sg_free(d->name);
    sg_free(d);
}

static serve_dp *dp_find(sg_serve *sv, const char *id)
{
    for (serve_dp *d = sv->dps; d; d = d->next)
        if (strcasecmp(d->id, id) == 0)
            return d;
    return NULL;
}

static void dp_unlink(sg_serve *sv, serve_dp *d)
{
    for (serve_dp **pp = &sv->dps; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            return;
        }
    }
}

static int is_builtin_default(sg_serve *sv, const sg_signalr_resource *r)
{
    return r->name && strcmp(r->name, "default") == 0 && r->resource_group &&
           strcasecmp(r->resource_group, "local") == 0 && r->subscription_id &&
           strcasecmp(r->subscription_id, sg_cloud_subscription_id(sv->cloud)) == 0;
}

static void fill_opts(sg_serve *sv, const serve_dp *d, const sg_signalr_resource *r,
                      sg_signalr_opts *so)
{
    memset(so, 0, sizeof *so);
    so->host = sv->o.host;
    so->port = d->port;
    so->tls = d->tls ? sv->sr_tls : NULL;
    so->resource_id = r->id;
    so->name = r->name;
    so->serverless = r->serverless;
    so->disable_local_auth = r->disable_local_auth;
    so->primary_key = r->primary_key;
    so->secondary_key = r->secondary_key;
    so->max_message = sv->o.max_message;
    so->max_connections = sv->o.max_connections;
    so->cloud = sv->cloud;
}

static int dp_start(sg_serve *sv, serve_dp *d, const sg_signalr_resource *r)
{
    sg_signalr_opts so;
    if (d->tls && !sv->sr_tls) {
        char err[512] = "";
        int trc = sg_serve_tls_ctx(sv->data_dir, sv->o.host, &sv->sr_tls, err, sizeof err);
        if (trc != SG_OK) {
            SG_LOGE(MOD, "event=signalr_tls_failed resource=%s err=\"%s\"", d->name, err);
            return trc;
        }
    }
    fill_opts(sv, d, r, &so);
    int rc = sg_signalr_start(&sv->loop, &so, &d->sr);
    if (rc != SG_OK) {
        d->sr = NULL;
        SG_LOGE(MOD, "event=signalr_start_failed resource=%s port=%d err=\"%s\"", d->name, d->port,
                sg_strerror(rc));
        return rc;
    }
    sg_snprintf(d->url, sizeof d->url, "%s://%s:%d", d->tls ? "https" : "http", sv->url_host,
                sg_signalr_port(d->sr));
    sg_cloud_signalr_set_url(sv->cloud, d->id, d->url);
    SG_LOGI(MOD, "event=signalr_started resource=%s url=%s mode=%s", d->name, d->url,
            r->serverless ? "Serverless" : "Default");
    return SG_OK;
}

static void on_res(sg_cloud *c, sg_res_event ev, const sg_signalr_resource *r, void *ud)
{
    sg_serve *sv = ud;
    (void)c;
    if (sv->stopping || !r || !r->id)
        return;
    serve_dp *d = dp_find(sv, r->id);
    int is_def = is_builtin_default(sv, r);
    int want_port = is_def ? sv->o.signalr_port : r->port;
    int want_tls = is_def ? sv->o.signalr_tls : r->tls;

    if (is_def) {
        sg_snprintf(sv->default_key, sizeof sv->default_key, "%s",
                    r->primary_key ? r->primary_key : "");
        sv->default_serverless = r->serverless;
    }

    if (ev == SG_RES_REMOVED) {
        if (d) {
            dp_unlink(sv, d);
            if (d->sr)
                sg_signalr_stop(d->sr, NULL, NULL);
            SG_LOGI(MOD, "event=signalr_stopped resource=%s reason=deleted", d->name);
            dp_free(d);
        }
    } else if (d && d->port == want_port && d->tls == want_tls && d->sr) {
        sg_signalr_opts so;
        fill_opts(sv, d, r, &so);
        int rc = sg_signalr_update(d->sr, &so);
        if (rc != SG_OK)
            SG_LOGE(MOD, "event=signalr_update_failed resource=%s err=\"%s\"", d->name,
                    sg_strerror(rc));
        else
            SG_LOGI(MOD, "event=signalr_updated resource=%s", d->name);
    } else {
        if (d) { /* new port or scheme (or a failed start): restart it */
            if (d->sr)
                sg_signalr_stop(d->sr, NULL, NULL);
            d->sr = NULL;
        } else {
            d = SG_NEW(serve_dp);
            if (!d) {
                SG_LOGE(MOD, "event=oom resource=%s", r->name);
                return;
            }
            d->id = sg_strdup(r->id);
            d->name = sg_strdup(r->name ? r->name : "");
            if (!d->id || !d->name) {
                dp_free(d);
                SG_LOGE(MOD, "event=oom resource=%s", r->name);
                return;
            }
            d->next = sv->dps;
            sv->dps = d;
        }
        d->port = want_port;
        d->tls = want_tls;
        d->is_default = is_def;
        int rc = dp_start(sv, d, r);
        if (rc != SG_OK && !sv->started) {
            if (is_def)
                set_error(sv, rc == SG_EEXIST || rc == SG_EIO ? "PortInUse" : "StartupFailed",
                          "cannot start the SignalR data plane of resource 'default' on %s:%d "
                          "(%s); is the port in use? pick another with --signalr-port",
                          sv->o.host, want_port,
                          rc == SG_EEXIST ? "address already in use" : sg_strerror(rc));
        }
    }
    if (sv->started)
        (void)write_endpoints(sv);
}

/* ---- banner ------------------------------------------------------------------------ */

static void print_banner(sg_serve *sv)
{
    if (sv->o.quiet)
        return;
    serve_dp *def = NULL;
    for (serve_dp *d = sv->dps; d; d = d->next)
        if (d->is_default)
            def = d;
    const char *ca = sg_cloud_ca_file(sv->cloud);
    int default_dir =
        strcmp(sv->o.data_dir, "./.sigrid") == 0 || strcmp(sv->o.data_dir, ".sigrid") == 0;
    const char *prog = sv->o.prog ? sv->o.prog : "sigrid";

    printf("\nsigrid is running  (data dir %s, pid %ld)\n\n", sv->data_dir, (long)getpid());
    printf("  Tenant (Entra ID)      %s\n", sg_cloud_tenant_id(sv->cloud));
    printf("  Subscription           %s  (default)\n", sg_cloud_subscription_id(sv->cloud));
    printf("  Resource group         local\n");
    if (def) {
        printf("  SignalR resource       default  (%s mode)\n",
               sv->default_serverless ? "Serverless" : "Default");
        printf("    endpoint             %s\n", def->url);
        printf("    connection string    Endpoint=%s;AccessKey=%s;Version=1.0;\n", def->url,
               sv->default_key);
        printf("    ARM id               %s\n", def->id);
    }
    for (serve_dp *d = sv->dps; d; d = d->next)
        if (!d->is_default && d->sr)
            printf("  SignalR resource       %s  %s\n", d->name, d->url);
    printf("  Cloud (Entra ID + ARM) %s\n", sg_cloud_url(sv->cloud));
    if (ca && *ca) {
        printf("  Local CA               %s\n", ca);
        printf(
            "                         (trust it: export NODE_EXTRA_CA_CERTS=%s SSL_CERT_FILE=%s)\n",
            ca, ca);
    }
    printf("  Endpoints file         %s/endpoints.json\n\n", sv->data_dir);
    printf("Next, in another terminal (Ctrl-C here stops sigrid):\n");
    if (!default_dir)
        printf("  export SIGRID_HOME=%s\n", sv->data_dir);
    printf("  %s vm create -g local -n myvm --assign-identity\n\n", prog);
    fflush(stdout);
}

/* ---- shutdown ---------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_own_handles(sg_serve *sv)
{
    if (sv->signals_open) {
        uv_close((uv_handle_t *)&sv->sig_term, on_handle_closed);
        uv_close((uv_handle_t *)&sv->sig_int, on_handle_closed);
        uv_close((uv_handle_t *)&sv->sig_hup, on_handle_closed);
        sv->signals_open = 0;
    }
    if (sv->grace_open) {
        uv_close((uv_handle_t *)&sv->grace, on_handle_closed);
        sv->grace_open = 0;
    }
}

static void on_cloud_closed(void *ud)
{
    sg_serve *sv = ud;
    sv->cloud = NULL;
    SG_LOGI(MOD, "event=cloud_closed");
    close_own_handles(sv);
}

static void close_cloud(sg_serve *sv)
{
    if (sv->cloud) {
        sg_cloud_close(sv->cloud, on_cloud_closed, sv);
    } else {
        close_own_handles(sv);
    }
}

static void on_dp_stopped(void *ud)
{
    sg_serve *sv = ud;
    if (--sv->pending == 0)
        close_cloud(sv);
}

static void on_grace(uv_timer_t *t)
{
    sg_serve *sv = t->data;
    SG_LOGE(MOD, "event=shutdown_timeout pending_data_planes=%d grace_ms=%d", sv->pending,
            SHUTDOWN_GRACE_MS);
    sv->exit_code = sv->exit_code ? sv->exit_code : 1;
    uv_stop(&sv->loop);
}

static void begin_shutdown(sg_serve *sv, const char *why)
{
    if (sv->stopping)
        return;
    sv->stopping = 1;
    SG_LOGI(MOD, "event=shutdown reason=%s", why);
    /* clients should not find a file pointing at listeners about to go away */
    if (sv->started)
        remove_endpoints(sv);
    if (uv_timer_init(&sv->loop, &sv->grace) == 0) {
        sv->grace.data = sv;
        sv->grace_open = 1;
        uv_timer_start(&sv->grace, on_grace, SHUTDOWN_GRACE_MS, 0);
        uv_unref((uv_handle_t *)&sv->grace);
    }
    sv->pending = 1; /* guard: no completion before every stop was requested */
    while (sv->dps) {
        serve_dp *d = sv->dps;
        sv->dps = d->next;
        if (d->sr) {
            sv->pending++;
            sg_signalr_stop(d->sr, on_dp_stopped, sv);
        }
        dp_free(d);
    }
    on_dp_stopped(sv);
}

static void on_signal(uv_signal_t *h, int signum)
{
    sg_serve *sv = h->data;
    if (sv->stopping) {
        SG_LOGW(MOD, "event=signal_again sig=%d action=force_exit", signum);
        fflush(NULL);
        _exit(128 + signum);
    }
    begin_shutdown(sv, signum == SIGINT ? "SIGINT" : signum == SIGHUP ? "SIGHUP" : "SIGTERM");
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

/* ---- run --------------------------------------------------------------------------- */

/* Every client is a file descriptor: lift the soft RLIMIT_NOFILE to the hard limit. */
static void raise_nofile(const sg_serve *sv)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = before;
    }
    size_t need = sv->o.max_connections + 256;
    if (rl.rlim_cur != RLIM_INFINITY && (size_t)rl.rlim_cur < need)
        SG_LOGW(MOD,
                "event=nofile_low limit=%llu max_connections=%zu hint=\"raise ulimit -n or "
                "lower --max-connections\"",
                (unsigned long long)rl.rlim_cur, sv->o.max_connections);
    else
        SG_LOGD(MOD, "event=nofile limit=%llu", (unsigned long long)rl.rlim_cur);
}

static void pick_url_host(sg_serve *sv)
{
    const char *h = sv->o.host;
    if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "") == 0)
        h = "127.0.0.1";
    if (strcmp(h, "::") == 0)
        h = "::1";
    if (strchr(h, ':'))
        sg_snprintf(sv->url_host, sizeof sv->url_host, "[%s]", h);
    else
        sg_snprintf(sv->url_host, sizeof sv->url_host, "%s", h);
}

int sg_serve_run(const sg_serve_opts *opts, char *err_code, size_t code_len, char *err_msg,
                 size_t msg_len)
{
    sg_serve *sv = SG_NEW(sg_serve);
    int loop_open = 0;
    int rc;
    if (!sv) {
        sg_snprintf(err_code, code_len, "OutOfMemory");
        sg_snprintf(err_msg, msg_len, "out of memory");
        return 1;
    }
    sv->o = *opts;
    sv->lock_fd = -1;
    if (!sv->o.host || !*sv->o.host)
        sv->o.host = "127.0.0.1";
    if (!sv->o.data_dir || !*sv->o.data_dir)
        sv->o.data_dir = "./.sigrid";
    pick_url_host(sv);

    sg_log_level lvl = SG_LOG_INFO;
    if (sv->o.log_level && sg_log_parse_level(sv->o.log_level, &lvl) != SG_OK) {
        set_error(sv, "InvalidArgument", "--log-level must be error, warn, info or debug, not '%s'",
                  sv->o.log_level);
        goto out;
    }
    sg_log_set_level(lvl);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(sv);

    rc = mkdir_p(sv->o.data_dir, 0700);
    if (rc != SG_OK) {
        set_error(sv, "InvalidDataDir", "cannot create data dir %s: %s", sv->o.data_dir,
                  sg_strerror(rc));
        goto out;
    }
    if (!realpath(sv->o.data_dir, sv->data_dir)) {
        set_error(sv, "InvalidDataDir", "cannot resolve data dir %s: %s", sv->o.data_dir,
                  strerror(errno));
        goto out;
    }
    if (take_lock(sv) != SG_OK)
        goto out;
    remove_endpoints(sv); /* a stale file from a crash must not announce us */

    rc = uv_loop_init(&sv->loop);
    if (rc != 0) {
        set_error(sv, "StartupFailed", "uv_loop_init: %s", uv_strerror(rc));
        goto out;
    }
    loop_open = 1;
    if (uv_signal_init(&sv->loop, &sv->sig_term) == 0 &&
        uv_signal_init(&sv->loop, &sv->sig_int) == 0 &&
        uv_signal_init(&sv->loop, &sv->sig_hup) == 0) {
        sv->signals_open = 1;
        sv->sig_term.data = sv;
        sv->sig_int.data = sv;
        sv->sig_hup.data = sv;
        uv_signal_start(&sv->sig_term, on_signal, SIGTERM);
        uv_signal_start(&sv->sig_int, on_signal, SIGINT);
        uv_signal_start(&sv->sig_hup, on_signal, SIGHUP); /* terminal closed: stop cleanly */
    } else {
        set_error(sv, "StartupFailed", "cannot install signal handlers");
        goto run;
    }

    sg_cloud_opts co = {
        .data_dir = sv->data_dir,
        .host = sv->o.host,
        .cloud_port = sv->o.cloud_port,
        .cloud_http = sv->o.cloud_http,
        .identity_port_base = sv->o.identity_port_base,
        .signalr_port = sv->o.signalr_port,
        .signalr_tls = sv->o.signalr_tls,
        .propagation_delay_s = sv->o.propagation_delay_s,
    };
    char cerr[1024] = "";
    rc = sg_cloud_open(&sv->loop, &co, &sv->cloud, cerr, sizeof cerr);
    if (rc != SG_OK) {
        sv->cloud = NULL;
        set_error(sv, "StartupFailed", "cannot start the cloud listener on %s:%d: %s%s%s",
                  sv->o.host, sv->o.cloud_port, cerr[0] ? cerr : sg_strerror(rc),
                  rc == SG_EIO ? " (is the port in use? pick another with --cloud-port)" : "", "");
        begin_shutdown(sv, "startup_failed");
        goto run;
    }
    rc = sg_cloud_signalr_watch(sv->cloud, on_res, sv);
    if (rc != SG_OK)
        set_error(sv, "StartupFailed", "cannot watch SignalR resources: %s", sg_strerror(rc));
    if (sv->exit_code) {
        begin_shutdown(sv, "startup_failed");
        goto run;
    }

    /* Every listener is bound and listening (uv_listen is synchronous): announce. */
    rc = write_endpoints(sv);
    if (rc != SG_OK) {
        set_error(sv, "StartupFailed", "cannot write %s/endpoints.json: %s", sv->data_dir,
                  sg_strerror(rc));
        begin_shutdown(sv, "startup_failed");
        goto run;
    }
    sv->started = 1;
    SG_LOGI(MOD, "event=ready cloud=%s data_dir=%s", sg_cloud_url(sv->cloud), sv->data_dir);
    print_banner(sv);

run:
    uv_run(&sv->loop, UV_RUN_DEFAULT);
    if (sv->cloud || sv->pending) {
        /* forced (grace timeout): close what is left so the loop can be closed */
        uv_walk(&sv->loop, on_walk_close, NULL);
        uv_run(&sv->loop, UV_RUN_DEFAULT);
    }
    if (sv->started)
        remove_endpoints(sv);
    SG_LOGI(MOD, "event=stopped exit_code=%d", sv->exit_code);

out:
    if (loop_open) {
        int crc = uv_loop_close(&sv->loop);
        if (crc != 0)
            SG_LOGW(MOD, "event=loop_close err=%s", uv_strerror(crc));
    }
    sg_serve_tls_free(sv->sr_tls);
    release_lock(sv);
    int code = sv->exit_code;
    if (code) {
        sg_snprintf(err_code, code_len, "%s", sv->err_code[0] ? sv->err_code : "ServeFailed");
        sg_snprintf(err_msg, msg_len, "%s", sv->err_msg[0] ? sv->err_msg : "sigrid serve failed");
    }
    sg_free(sv);
    return code;
}
