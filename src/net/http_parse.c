/* http_parse.c — socket-free request parser on llhttp (see http_parse.h). */
#include "net/http_parse.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <string.h>

#define DEF_MAX_HEADER (16 * 1024)
#define DEF_MAX_BODY (1024 * 1024)
#define DEF_MAX_HEADERS 100

static sg__http_parser *hp_of(llhttp_t *p)
{
    return (sg__http_parser *)p->data;
}

static int fail(sg__http_parser *hp, int status)
{
    if (!hp->err_status)
        hp->err_status = status;
    return -1;
}

sg__http_msg *sg__http_msg_new_error(int status)
{
    sg__http_msg *m = SG_NEW(sg__http_msg);
    if (m)
        m->err_status = status;
    return m;
}

void sg__http_msg_free(sg__http_msg *m)
{
    if (!m)
        return;
    sg_buf_free(&m->head);
    sg_buf_free(&m->body);
    sg_free(m->hdrs);
    sg_free(m->hoff);
    sg_free(m);
}

static int cb_message_begin(llhttp_t *p)
{
    sg__http_parser *hp = hp_of(p);
    sg__http_msg_free(hp->cur);
    hp->cur = SG_NEW(sg__http_msg);
    if (!hp->cur)
        return fail(hp, 500);
    sg_buf_init(&hp->cur->head, hp->lim.max_header_bytes);
    sg_buf_init(&hp->cur->body, hp->lim.max_body_bytes);
    hp->in_body = 0;
    hp->in_field = 0;
    if (hp->on_begin)
        hp->on_begin(hp->ud);
    return 0;
}

static int head_append(sg__http_parser *hp, const char *at, size_t n)
{
    if (sg_buf_append(&hp->cur->head, at, n) != SG_OK)
        return fail(hp, hp->cur->head.max && hp->cur->head.len + n > hp->cur->head.max ? 431 : 500);
    return 0;
}

static int cb_url(llhttp_t *p, const char *at, size_t n)
{
    sg__http_parser *hp = hp_of(p);
    if (!hp->cur)
        return fail(hp, 400);
    return head_append(hp, at, n);
}

static int cb_url_complete(llhttp_t *p)
{
    sg__http_parser *hp = hp_of(p);
    if (!hp->cur)
        return fail(hp, 400);
    hp->cur->target_off = 0;
    hp->cur->target_len = (uint32_t)hp->cur->head.len;
    return head_append(hp, "", 1);
}

static int cb_header_field(llhttp_t *p, const char *at, size_t n)
{
    sg__http_parser *hp = hp_of(p);
    sg__http_msg *m = hp->cur;
    if (!m)
        return fail(hp, 400);
    if (hp->in_body) /* trailers: counted against the head limit, then ignored */
        return head_append(hp, at, n);
    if (!hp->in_field) {
        if (m->nh >= hp->lim.max_headers)
            return fail(hp, 431);
        if (m->nh == m->hcap) {
            uint32_t ncap = m->hcap ? m->hcap * 2 : 8;
            void *nh = sg_realloc(m->hoff, sizeof(m->hoff[0]) * ncap);
            if (!nh)
                return fail(hp, 500);
            m->hoff = nh;
            m->hcap = ncap;
        }
        m->hoff[m->nh][0] = (uint32_t)m->head.len;
        hp->in_field = 1;
    }
    return head_append(hp, at, n);
}

static int cb_header_field_complete(llhttp_t *p)
{
    sg__http_parser *hp = hp_of(p);
    if (!hp->cur)
        return fail(hp, 400);
    if (hp->in_body)
        return 0;
    if (!hp->in_field) /* cannot happen with llhttp; be safe */
        return fail(hp, 400);
    hp->in_field = 0;
    uint32_t *o = hp->cur->hoff[hp->cur->nh];
    o[1] = (uint32_t)hp->cur->head.len - o[0];
    if (head_append(hp, "", 1) != 0)
        return -1;
    hp->vstart = (uint32_t)hp->cur->head.len;
    return 0;
}

static int cb_header_value(llhttp_t *p, const char *at, size_t n)
{
    sg__http_parser *hp = hp_of(p);
    if (!hp->cur)
        return fail(hp, 400);
    return head_append(hp, at, n);
}

static int cb_header_value_complete(llhttp_t *p)
{
    sg__http_parser *hp = hp_of(p);
    if (!hp->cur)
        return fail(hp, 400);
    if (hp->in_body)
        return 0;
    sg__http_msg *m = hp->cur;
    size_t end = m->head.len;
    while (end > hp->vstart && (m->head.data[end - 1] == ' ' || m->head.data[end - 1] == '\t'))
        end--;
    uint32_t *o = m->hoff[m->nh];
    o[2] = hp->vstart;
    o[3] = (uint32_t)(end - hp->vstart);
    if (head_append(hp, "", 1) != 0)
        return -1;
    m->nh++;
    return 0;
}

static sg_slice msg_slice(const sg__http_msg *m, uint32_t off, uint32_t len)
{
    sg_slice s = {m->head.data ? m->head.data + off : "", len};
    return s;
}

static int find_header(const sg__http_msg *m, const char *name, sg_slice *v)
{
    for (uint32_t i = 0; i < m->nh; i++) {
        sg_slice n = msg_slice(m, m->hoff[i][0], m->hoff[i][1]);
        if (sg_slice_ieq(n, name)) {
            *v = msg_slice(m, m->hoff[i][2], m->hoff[i][3]);
            return 1;
        }
    }
    return 0;
}

static int cb_headers_complete(llhttp_t *p)
{
    sg__http_parser *hp = hp_of(p);
    sg__http_msg *m = hp->cur;
    if (!m)
        return fail(hp, 400);
    hp->in_body = 1;
    if (p->flags & F_TRANSFER_ENCODING) {
        sg_slice te;
        if (find_header(m, "transfer-encoding", &te) && !sg_slice_ieq(te, "chunked"))
            return fail(hp, 501);
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > hp->lim.max_body_bytes)
        return fail(hp, 413);
    sg_slice ex;
    if (find_header(m, "expect", &ex) && sg_slice_ieq(ex, "100-continue"))
        m->expect_continue = 1;
    if (hp->on_head)
        hp->on_head(m, hp->ud);
    return 0;
}

static int cb_body(llhttp_t *p, const char *at, size_t n)
{
    sg__http_parser *hp = hp_of(p);
    if (!hp->cur)
        return fail(hp, 400);
    if (sg_buf_append(&hp->cur->body, at, n) != SG_OK)
        return fail(hp, hp->cur->body.len + n > hp->lim.max_body_bytes ? 413 : 500);
    return 0;
}

static sg_http_method map_method(uint8_t m)
{
    switch (m) {
    case HTTP_GET:
        return SG_HTTP_GET;
    case HTTP_HEAD:
        return SG_HTTP_HEAD;
    case HTTP_POST:
        return SG_HTTP_POST;
    case HTTP_PUT:
        return SG_HTTP_PUT;
    case HTTP_DELETE:
        return SG_HTTP_DELETE;
    case HTTP_PATCH:
        return SG_HTTP_PATCH;
    case HTTP_OPTIONS:
        return SG_HTTP_OPTIONS;
    default:
        return SG_HTTP_OTHER;
    }
}

static int cb_message_complete(llhttp_t *p)
{
    sg__http_parser *hp = hp_of(p);
    sg__http_msg *m = hp->cur;
    if (!m)
        return fail(hp, 400);
    if (m->nh) {
        m->hdrs = sg_calloc(m->nh, sizeof(*m->hdrs));
        if (!m->hdrs)
            return fail(hp, 500);
        for (uint32_t i = 0; i < m->nh; i++) {
            m->hdrs[i].name = msg_slice(m, m->hoff[i][0], m->hoff[i][1]);
            m->hdrs[i].value = msg_slice(m, m->hoff[i][2], m->hoff[i][3]);
        }
    }
    sg_http_req *r = &m->req;
    r->method = map_method(p->method);
    r->method_name = sg_slice_cstr(llhttp_method_name((llhttp_method_t)p->method));
    r->target = msg_slice(m, m->target_off, m->target_len);
    r->path = r->target;
    r->query = msg_slice(m, 0, 0);
    const char *q = memchr(r->target.p, '?', r->target.n);
    if (q) {
        r->path.n = (size_t)(q - r->target.p);
        r->query.p = q + 1;
        r->query.n = r->target.n - r->path.n - 1;
    }
    r->headers = m->hdrs;
    r->nheaders = m->nh;
    r->body.p = m->body.data ? m->body.data : "";
    r->body.n = m->body.len;
    r->keep_alive = llhttp_should_keep_alive(p);
    r->http_minor = p->http_minor;
    m->upgrade = p->upgrade ? 1 : 0;
    sg_free(m->hoff);
    m->hoff = NULL;
    hp->cur = NULL;
    hp->in_body = 0;
    if (hp->on_msg(m, hp->ud))
        return HPE_PAUSED;
    return 0;
}

static const llhttp_settings_t settings = {
    .on_message_begin = cb_message_begin,
    .on_url = cb_url,
    .on_url_complete = cb_url_complete,
    .on_header_field = cb_header_field,
    .on_header_field_complete = cb_header_field_complete,
    .on_header_value = cb_header_value,
    .on_header_value_complete = cb_header_value_complete,
    .on_headers_complete = cb_headers_complete,
    .on_body = cb_body,
    .on_message_complete = cb_message_complete,
};

void sg__http_parser_init(sg__http_parser *hp, const sg__http_limits *lim,
                          int (*on_msg)(sg__http_msg *m, void *ud), void *ud)
{
    memset(hp, 0, sizeof(*hp));
    if (lim)
        hp->lim = *lim;
    if (!hp->lim.max_header_bytes)
        hp->lim.max_header_bytes = DEF_MAX_HEADER;
    if (!hp->lim.max_body_bytes)
        hp->lim.max_body_bytes = DEF_MAX_BODY;
    if (!hp->lim.max_headers)
        hp->lim.max_headers = DEF_MAX_HEADERS;
    if (hp->lim.max_headers > UINT32_MAX / 2)
        hp->lim.max_headers = UINT32_MAX / 2;
    hp->on_msg = on_msg;
    hp->ud = ud;
    llhttp_init(&hp->p, HTTP_REQUEST, &settings);
    hp->p.data = hp;
}

int sg__http_parser_feed(sg__http_parser *hp, const char *p, size_t n, size_t *consumed)
{
    *consumed = 0;
    if (hp->dead)
        return SG__HP_ERROR;
    if (n == 0)
        return SG__HP_OK;
    llhttp_errno_t e = llhttp_execute(&hp->p, p, n);
    if (e == HPE_OK) {
        *consumed = n;
        return SG__HP_OK;
    }
    const char *pos = llhttp_get_error_pos(&hp->p);
    size_t at = (pos && pos >= p && pos <= p + n) ? (size_t)(pos - p) : n;
    if (e == HPE_PAUSED) {
        *consumed = at;
        llhttp_resume(&hp->p);
        return SG__HP_PAUSED;
    }
    if (e == HPE_PAUSED_UPGRADE) {
        *consumed = at;
        hp->dead = 1; /* the rest of the connection is not HTTP */
        return SG__HP_UPGRADE;
    }
    hp->dead = 1;
    if (!hp->err_status)
        hp->err_status = 400;
    *consumed = at;
    return SG__HP_ERROR;
}

int sg__http_parser_busy(const sg__http_parser *hp)
{
    return hp->cur != NULL;
}

void sg__http_parser_free(sg__http_parser *hp)
{
    sg__http_msg_free(hp->cur);
    hp->cur = NULL;
}
