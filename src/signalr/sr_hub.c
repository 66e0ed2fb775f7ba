/* sr_hub.c — hubs, users, groups and their indexes. No I/O: delivery is a callback.
 *
 * Hub -> connected connections (list), users (map id -> user -> list of connections),
 * groups (map name -> group -> list of memberships). A connection keeps a singly linked list
 * of its memberships so leaving is O(groups of the connection). Users remember their REST
 * group memberships (with optional TTL) and apply them to connections that join later. */
#include "sr_internal.h"

#include "sg_alloc.h"
#include "sg_err.h"

#include <string.h>

static const char *hub_key(const void *v)
{
    return ((const sr_hub *)v)->name;
}
static const char *user_key(const void *v)
{
    return ((const sr_user *)v)->id;
}
static const char *group_key(const void *v)
{
    return ((const sr_group *)v)->name;
}

void sr_hubs_init(sr_hubs *h, uint32_t seed)
{
    h->seed = seed;
    sr_map_init(&h->hubs, hub_key, seed);
}

static void user_free(sr_user *u)
{
    sr_ugroup *g = u->groups;
    while (g) {
        sr_ugroup *n = g->next;
        sg_free(g);
        g = n;
    }
    sg_free(u);
}

static void group_free(sr_group *g)
{
    sr_link *l = g->members.next;
    while (l != &g->members) {
        sr_link *n = l->next;
        sr_member *m = SR_CONTAINER(l, sr_member, in_group);
        sg_free(m);
        l = n;
    }
    sg_free(g);
}

static void hub_free(sr_hub *hub)
{
    for (size_t i = 0; i < hub->users.cap; i++) {
        if (hub->users.slots[i].val)
            user_free(hub->users.slots[i].val);
    }
    for (size_t i = 0; i < hub->groups.cap; i++) {
        if (hub->groups.slots[i].val)
            group_free(hub->groups.slots[i].val);
    }
    sr_map_free(&hub->users);
    sr_map_free(&hub->groups);
    sg_free(hub);
}

void sr_hubs_free(sr_hubs *h)
{
    for (size_t i = 0; i < h->hubs.cap; i++) {
        if (h->hubs.slots[i].val)
            hub_free(h->hubs.slots[i].val);
    }
    sr_map_free(&h->hubs);
}

sr_hub *sr_hub_get(sr_hubs *h, const char *name)
{
    return sr_map_get(&h->hubs, name, strlen(name));
}

sr_hub *sr_hub_obtain(sr_hubs *h, const char *name)
{
    sr_hub *hub = sr_hub_get(h, name);
    if (hub)
        return hub;
    size_t n = strlen(name);
    hub = sg_calloc(1, sizeof(*hub) + n + 1);
    if (!hub)
        return NULL;
    memcpy(hub->name, name, n + 1);
    sr_list_init(&hub->conns);
    sr_list_init(&hub->servers);
    sr_map_init(&hub->users, user_key, h->seed ^ 0x9e3779b9u);
    sr_map_init(&hub->groups, group_key, h->seed ^ 0x7f4a7c15u);
    hub->owner = h;
    if (sr_map_put(&h->hubs, hub) != SG_OK) {
        sg_free(hub);
        return NULL;
    }
    return hub;
}

void sr_hub_maybe_free(sr_hub *hub)
{
    if (!hub || hub->refs || hub->nconns || hub->nservers || hub->users.n || hub->groups.n)
        return;
    sr_map_del(&hub->owner->hubs, hub->name, strlen(hub->name));
    hub_free(hub);
}

/* ---- groups ------------------------------------------------------------------------- */

sr_group *sr_group_get(sr_hub *hub, const char *name)
{
    return sr_map_get(&hub->groups, name, strlen(name));
}

static void group_maybe_free(sr_hub *hub, sr_group *g)
{
    if (g->n || g->pins)
        return;
    sr_map_del(&hub->groups, g->name, strlen(g->name));
    sg_free(g);
}

int sr_conn_in_group(const sr_conn *c, const char *group)
{
    for (const sr_member *m = c->groups; m; m = m->next_of_conn) {
        if (strcmp(m->g->name, group) == 0)
            return 1;
    }
    return 0;
}

int sr_group_add(sr_hub *hub, sr_conn *c, const char *group)
{
    if (sr_conn_in_group(c, group))
        return SG_OK;
    sr_group *g = sr_group_get(hub, group);
    int created = 0;
    if (!g) {
        size_t n = strlen(group);
        g = sg_calloc(1, sizeof(*g) + n + 1);
        if (!g)
            return SG_ENOMEM;
        memcpy(g->name, group, n + 1);
        sr_list_init(&g->members);
        if (sr_map_put(&hub->groups, g) != SG_OK) {
            sg_free(g);
            return SG_ENOMEM;
        }
        created = 1;
    }
    sr_member *m = SG_NEW(sr_member);
    if (!m) {
        if (created)
            group_maybe_free(hub, g);
        return SG_ENOMEM;
    }
    m->g = g;
    m->c = c;
    sr_list_push(&g->members, &m->in_group);
    g->n++;
    m->next_of_conn = c->groups;
    c->groups = m;
    return SG_OK;
}

static void member_drop(sr_hub *hub, sr_member *m)
{
    sr_group *g = m->g;
    sr_list_del(&m->in_group);
    g->n--;
    sg_free(m);
    group_maybe_free(hub, g);
}

int sr_group_remove(sr_hub *hub, sr_conn *c, const char *group)
{
    for (sr_member **pp = &c->groups; *pp; pp = &(*pp)->next_of_conn) {
        sr_member *m = *pp;
        if (strcmp(m->g->name, group) == 0) {
            *pp = m->next_of_conn;
            member_drop(hub, m);
            return SG_OK;
        }
    }
    return SG_ENOTFOUND;
}

void sr_group_remove_all(sr_conn *c)
{
    while (c->groups) {
        sr_member *m = c->groups;
        c->groups = m->next_of_conn;
        member_drop(c->hub, m);
    }
}

/* ---- users --------------------------------------------------------------------------- */

sr_user *sr_user_get(sr_hub *hub, const char *id)
{
    return sr_map_get(&hub->users, id, strlen(id));
}

static sr_user *user_obtain(sr_hub *hub, const char *id)
{
    sr_user *u = sr_user_get(hub, id);
    if (u)
        return u;
    size_t n = strlen(id);
    u = sg_calloc(1, sizeof(*u) + n + 1);
    if (!u)
        return NULL;
    memcpy(u->id, id, n + 1);
    sr_list_init(&u->conns);
    if (sr_map_put(&hub->users, u) != SG_OK) {
        sg_free(u);
        return NULL;
    }
    return u;
}

static void user_maybe_free(sr_hub *hub, sr_user *u)
{
    if (u->nconns || u->groups || u->pins)
        return;
    sr_map_del(&hub->users, u->id, strlen(u->id));
    sg_free(u);
}

static int ugroup_live(const sr_ugroup *g, uint64_t now_ms)
{
    return g->expires_ms == 0 || g->expires_ms > now_ms;
}

int sr_hub_join(sr_hub *hub, sr_conn *c, const char *user_id)
{
    c->hub = hub;
    if (user_id && *user_id) {
        sr_user *u = user_obtain(hub, user_id);
        if (!u)
            return SG_ENOMEM;
        c->user = u;
        sr_list_push(&u->conns, &c->user_link);
        u->nconns++;
        for (sr_ugroup *g = u->groups; g; g = g->next) {
            /* expiry is enforced by sr_hub_expire; a just-expired one joins and leaves */
            if (sr_group_add(hub, c, g->name) != SG_OK) {
                sr_hub_leave(c);
                return SG_ENOMEM;
            }
        }
    }
    sr_list_push(&hub->conns, &c->hub_link);
    hub->nconns++;
    return SG_OK;
}

void sr_hub_leave(sr_conn *c)
{
    sr_hub *hub = c->hub;
    if (!hub)
        return;
    if (c->hub_link.next != &c->hub_link && c->hub_link.next) {
        sr_list_del(&c->hub_link);
        hub->nconns--;
    }
    sr_group_remove_all(c);
    if (c->user) {
        sr_user *u = c->user;
        sr_list_del(&c->user_link);
        u->nconns--;
        c->user = NULL;
        user_maybe_free(hub, u);
    }
}

int sr_user_group_add(sr_hub *hub, const char *user, const char *group, int64_t ttl_s,
                      uint64_t now_ms)
{
    sr_user *u = user_obtain(hub, user);
    if (!u)
        return SG_ENOMEM;
    uint64_t exp = ttl_s > 0 ? now_ms + (uint64_t)ttl_s * 1000u : 0;
    sr_ugroup *g = u->groups;
    while (g && strcmp(g->name, group) != 0)
        g = g->next;
    if (!g) {
        size_t n = strlen(group);
        g = sg_calloc(1, sizeof(*g) + n + 1);
        if (!g) {
            user_maybe_free(hub, u);
            return SG_ENOMEM;
        }
        memcpy(g->name, group, n + 1);
        g->next = u->groups;
        u->groups = g;
    }
    g->expires_ms = exp;
    for (sr_link *l = u->conns.next; l != &u->conns; l = l->next) {
        sr_conn *c = SR_CONTAINER(l, sr_conn, user_link);
        if (sr_group_add(hub, c, group) != SG_OK)
            return SG_ENOMEM;
    }
    return SG_OK;
}

static void user_conns_leave_group(sr_hub *hub, sr_user *u, const char *group, int *removed)
{
    for (sr_link *l = u->conns.next; l != &u->conns; l = l->next) {
        sr_conn *c = SR_CONTAINER(l, sr_conn, user_link);
        if (sr_group_remove(hub, c, group) == SG_OK)
            *removed = 1;
    }
}

int sr_user_group_remove(sr_hub *hub, const char *user, const char *group)
{
    sr_user *u = sr_user_get(hub, user);
    if (!u)
        return SG_ENOTFOUND;
    int removed = 0;
    for (sr_ugroup **pp = &u->groups; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, group) == 0) {
            sr_ugroup *g = *pp;
            *pp = g->next;
            sg_free(g);
            removed = 1;
            break;
        }
    }
    user_conns_leave_group(hub, u, group, &removed);
    user_maybe_free(hub, u);
    return removed ? SG_OK : SG_ENOTFOUND;
}

void sr_user_group_remove_all(sr_hub *hub, const char *user)
{
    sr_user *u = sr_user_get(hub, user);
    if (!u)
        return;
    while (u->groups) {
        sr_ugroup *g = u->groups;
        u->groups = g->next;
        sg_free(g);
    }
    for (sr_link *l = u->conns.next; l != &u->conns; l = l->next)
        sr_group_remove_all(SR_CONTAINER(l, sr_conn, user_link));
    user_maybe_free(hub, u);
}

int sr_user_in_group(sr_hub *hub, const char *user, const char *group, uint64_t now_ms)
{
    sr_user *u = sr_user_get(hub, user);
    if (!u)
        return 0;
    for (sr_ugroup *g = u->groups; g; g = g->next) {
        if (strcmp(g->name, group) == 0 && ugroup_live(g, now_ms))
            return 1;
    }
    for (sr_link *l = u->conns.next; l != &u->conns; l = l->next) {
        if (sr_conn_in_group(SR_CONTAINER(l, sr_conn, user_link), group))
            return 1;
    }
    return 0;
}

/* Returns 1 if it changed anything. */
static int user_expire(sr_hub *hub, sr_user *u, uint64_t now_ms)
{
    int changed = 0;
    sr_ugroup **pp = &u->groups;
    while (*pp) {
        sr_ugroup *g = *pp;
        if (ugroup_live(g, now_ms)) {
            pp = &g->next;
            continue;
        }
        *pp = g->next;
        int removed = 0;
        user_conns_leave_group(hub, u, g->name, &removed);
        sg_free(g);
        changed = 1;
    }
    return changed;
}

void sr_hub_expire(sr_hub *hub, uint64_t now_ms)
{
    size_t i = 0;
    while (i < hub->users.cap) {
        sr_user *u = hub->users.slots[i].val;
        if (u && user_expire(hub, u, now_ms) && !u->nconns && !u->groups && !u->pins) {
            /* deletion shifts a later entry into slot i: look at slot i again */
            sr_map_del(&hub->users, u->id, strlen(u->id));
            sg_free(u);
            continue;
        }
        i++;
    }
}

/* ---- recipients ----------------------------------------------------------------------- */

int sr_excl_has(const sr_excl *ex, const char *id)
{
    if (!ex)
        return 0;
    for (size_t i = 0; i < ex->n; i++) {
        if (strcmp(ex->ids[i], id) == 0)
            return 1;
    }
    return 0;
}

size_t sr_hub_each(sr_hub *hub, const sr_excl *ex, sr_visit_fn fn, void *ud)
{
    size_t n = 0;
    hub->refs++; /* pin */
    sr_link *l = hub->conns.next;
    while (l != &hub->conns) {
        sr_link *next = l->next;
        sr_conn *c = SR_CONTAINER(l, sr_conn, hub_link);
        if (!sr_excl_has(ex, c->id)) {
            fn(c, ud);
            n++;
        }
        l = next;
    }
    hub->refs--;
    return n;
}

size_t sr_user_each(sr_hub *hub, const char *user, const sr_excl *ex, sr_visit_fn fn, void *ud)
{
    sr_user *u = sr_user_get(hub, user);
    if (!u)
        return 0;
    size_t n = 0;
    u->pins++;
    sr_link *l = u->conns.next;
    while (l != &u->conns) {
        sr_link *next = l->next;
        sr_conn *c = SR_CONTAINER(l, sr_conn, user_link);
        if (!sr_excl_has(ex, c->id)) {
            fn(c, ud);
            n++;
        }
        l = next;
    }
    u->pins--;
    user_maybe_free(hub, u);
    return n;
}

size_t sr_group_each(sr_hub *hub, const char *group, const sr_excl *ex, sr_visit_fn fn, void *ud)
{
    sr_group *g = sr_group_get(hub, group);
    if (!g)
        return 0;
    size_t n = 0;
    g->pins++;
    sr_link *l = g->members.next;
    while (l != &g->members) {
        sr_link *next = l->next;
        sr_member *m = SR_CONTAINER(l, sr_member, in_group);
        sr_conn *c = m->c;
        if (!sr_excl_has(ex, c->id)) {
            fn(c, ud); /* may free m (connection closed): next was saved */
            n++;
        }
        l = next;
    }
    g->pins--;
    group_maybe_free(hub, g);
    return n;
}
