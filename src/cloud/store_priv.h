/* store_priv.h — helpers shared by store*.c (not for other files). */
#ifndef SG_CLOUD_STORE_PRIV_H
#define SG_CLOUD_STORE_PRIV_H

#include "cloud/store.h"

#include <sqlite3.h>

struct sg_store {
    sqlite3 *db;
    uint64_t gen; /* sg_store_generation */
};

/* Every write that can change an authorization decision (principals, subscriptions,
 * management groups, resource groups, resources, role definitions and assignments, and a
 * rollback) returns through this: the generation moves on, whatever rc says. */
static inline int sg__store_bumped(sg_store *st, int rc)
{
    st->gen++;
    return rc;
}

/* Maps a SQLite result code to sg_err (constraint -> SG_EEXIST), logging real failures. */
int sg__store_err(sg_store *st, int sqlite_rc, const char *what);
/* Prepares sql and binds parameters: fmt has one char per '?': 's' const char * (NULL ->
 * NULL), 'i' int64_t, 'd' int, 'n' NULL. */
int sg__store_prepare(sg_store *st, sqlite3_stmt **out, const char *sql, const char *fmt, ...);
/* Prepare + bind + step once + finalize. */
int sg__store_exec(sg_store *st, const char *sql, const char *fmt, ...);
/* Same, but SG_ENOTFOUND when no row changed. */
int sg__store_exec_changes(sg_store *st, const char *sql, const char *fmt, ...);
/* Copies text column col into dst[n] (truncating; "" for NULL). */
void sg__store_col(sqlite3_stmt *s, int col, char *dst, size_t n);
#define SG_STORE_COL(s, col, arr) sg__store_col((s), (col), (arr), sizeof(arr))
/* 1 if s is non-NULL and shorter than n. */
int sg__store_fits(const char *s, size_t n);
/* Starts a transaction unless one is open (*own = 1 if this call started it); txn_end
 * commits (rc == SG_OK) or rolls back what txn_start started and returns the final rc. */
int sg__store_txn_start(sg_store *st, int *own);
int sg__store_txn_end(sg_store *st, int own, int rc);

#endif
