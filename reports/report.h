/* `gencost report`: results files from one or more machines + host profiles → report.md,
 * report.csv, report.html and gnuplot charts (PNG and SVG).
 *
 * Each input is a results file, optionally tied to a profile: "RESULTS=PROFILE" where PROFILE is
 * a profile id in the hosts folder or a path to an .ini file. Without one, a results file whose
 * host name equals a profile id takes that profile; otherwise the host is shown measured with
 * no cost. Profiles with no results are projected from their roofline, marked "projected". */
#ifndef GC_REPORT_H
#define GC_REPORT_H
#include <stdbool.h>
#include "base/util.h"

typedef struct gc_report_opts {
    const char *hosts_dir;     /* default "hosts" */
    const char *baseline;      /* host label for speedups; NULL = first measured host */
    const char *out_dir;       /* default "report" */
    const char *gnuplot;       /* program; NULL = env GENCOST_GNUPLOT or "gnuplot" */
    bool quiet;                /* no summary on stdout */
    /* cost at the user's volume (jobs per month); none given: the report's default volumes */
#define GC_REPORT_MAX_VOLUMES 8
    double volumes[GC_REPORT_MAX_VOLUMES];
    int n_volumes;
    bool amortise;             /* owned machines: charge purchase ÷ lifetime, not electricity only */
    bool force_profile;        /* FILE=PROFILE whose host facts differ from the profile's device */
} gc_report_opts;

/* inputs: "RESULTS" or "RESULTS=PROFILE". Returns 0, or non-zero with err filled. */
int report_run(char *const *inputs, int n_inputs, const gc_report_opts *o, gc_err *err);

#endif
