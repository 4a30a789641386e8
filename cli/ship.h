/* The source tree gencost remote ships: which commit it is, the per-commit folder it builds in
 * on a host, and the tar that goes there (git archive of HEAD, or with --dirty HEAD plus
 * `git diff HEAD --binary` applied: tracked changes, never untracked files). */
#ifndef GC_SHIP_H
#define GC_SHIP_H
#include <stdbool.h>
#include "base/util.h"

typedef struct gc_ship {
    char commit[64];  /* as the Makefile's GIT_COMMIT and `gencost --version` say it: abc123def456[-dirty] */
    char folder[96];  /* the per-commit folder's name: the commit, "-dirty-" + the patch's hash when dirty */
    char tar_path[GC_PATH_MAX]; /* "" when no tar was made */
} gc_ship;

/* src: the checkout (NULL: the current folder, which must be at the commit this gencost was
 * built from). A dirty checkout is refused unless dirty. tar_dir: where the tar is made (NULL:
 * none, only the commit and folder). 0, or non-zero + err (one line saying what to do). */
int ship_prepare(gc_ship *s, const char *src, bool dirty, const char *tar_dir, gc_err *err);
/* This build's own commit, no checkout needed (a gencost already on the hosts). */
void ship_this_build(gc_ship *s);
void ship_free(gc_ship *s); /* removes the tar */

#endif
