/* Build facts, generated into version.c by the Makefile at every build. */
#ifndef GC_VERSION_H
#define GC_VERSION_H
extern const char *const gc_version;    /* "0.1.0" */
extern const char *const gc_git_commit; /* short hash, "-dirty" when the tree had changes */
extern const char *const gc_compiler;   /* first line of `cc --version` */
extern const char *const gc_cflags;     /* optimisation / sanitizer flags of this build */
#endif
