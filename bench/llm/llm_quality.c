/* Host-side arithmetic on logits: argmax, KL divergence, comparison against a reference;
 * and the deterministic prompts. Double precision throughout: these are the yardsticks. */
#include <math.h>
#include "bench/llm/llm.h"

int llm_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

void llm_tokens(int32_t *out, int n, int vocab, unsigned long seed) {
    uint64_t s = (uint64_t)seed * 0x9e3779b97f4a7c15ull + 0x7f4a7c15ull;
    for (int i = 0; i < n; i++) {
        s += 0x9e3779b97f4a7c15ull;   /* splitmix64 */
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        out[i] = (int32_t)(z % (uint64_t)vocab);
    }
}

static double log_sum_exp(const float *x, int n) {
    double mx = x[llm_argmax(x, n)], s = 0;
    for (int i = 0; i < n; i++) s += exp((double)x[i] - mx);
    return mx + log(s);
}

double llm_kl_div(const float *ref, const float *q, int n) {
    double lp = log_sum_exp(ref, n), lq = log_sum_exp(q, n), kl = 0;
    for (int i = 0; i < n; i++) {
        double logp = (double)ref[i] - lp, logq = (double)q[i] - lq;
        kl += exp(logp) * (logp - logq);
    }
    return kl > 0 ? kl : 0;   /* rounding can leave a tiny negative for identical rows */
}

void llm_compare_logits(const float *ref, const float *x, int rows, int vocab, double tol, llm_compare *out) {
    *out = (llm_compare){.rows = rows};
    for (int r = 0; r < rows; r++) {
        const float *a = ref + (size_t)r * vocab, *b = x + (size_t)r * vocab;
        double amax = 0, emax = 0;
        for (int i = 0; i < vocab; i++) {
            double e = fabs((double)b[i] - a[i]);
            if (!(e <= emax)) emax = e;   /* NaN propagates as the largest error */
            if (fabs(a[i]) > amax) amax = fabs(a[i]);
        }
        double rel = amax > 0 ? emax / amax : emax;
        if (!(rel <= out->max_rel_err)) out->max_rel_err = rel;
        if (!(emax <= out->max_abs_err)) out->max_abs_err = emax;
        int ia = llm_argmax(a, vocab), ib = llm_argmax(b, vocab);
        if (ia == ib) out->top1_agree++;
        else if ((double)a[ia] - a[ib] <= tol * amax) {
            out->top1_agree++;
            out->top1_near_tie++;
        }
    }
}
