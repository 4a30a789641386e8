/* Training tokens: a random sparse Markov chain whose entropy rate is known exactly, or a file.
 *
 * The chain: state i moves to `branching` distinct successors, the first always i + 1 (mod n),
 * so the chain is irreducible; the others drawn from the seed; probabilities ∝ 0.1 + u², u
 * uniform — uneven rows, each with an entropy well below ln(branching). The first token of every
 * sequence is drawn from the stationary law π, so every position's marginal is π and the best
 * loss any model can reach on next-token prediction is exactly H = Σ_i π_i · H_i. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/train/train.h"

static uint64_t mix64(uint64_t x) {   /* splitmix64's finaliser */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double unit(uint64_t *s) {   /* uniform in [0, 1): the next splitmix64 output's top 53 bits */
    *s = mix64(*s);
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

double train_markov_entropy(int n, int branching, const int32_t *next, const double *prob, double *pi) {
    double *p = malloc((size_t)n * sizeof *p), *q = malloc((size_t)n * sizeof *q);
    if (!p || !q) {
        free(p), free(q);
        return NAN;
    }
    for (int i = 0; i < n; i++) p[i] = 1.0 / n;
    /* The lazy chain (I + P)/2 has the same stationary law and converges for any irreducible P. */
    for (int it = 0; it < 100000; it++) {
        for (int i = 0; i < n; i++) q[i] = 0.5 * p[i];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < branching; j++) q[next[i * branching + j]] += 0.5 * p[i] * prob[i * branching + j];
        double delta = 0;
        for (int i = 0; i < n; i++) delta += fabs(q[i] - p[i]), p[i] = q[i];
        if (delta < 1e-14) break;
    }
    double h = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < branching; j++) {
            double x = prob[i * branching + j];
            if (x > 0) h -= p[i] * x * log(x);
        }
    if (pi) memcpy(pi, p, (size_t)n * sizeof *pi);
    free(p), free(q);
    return h;
}

int train_data_markov(train_data *d, int vocab, int branching, unsigned long seed, gc_err *err) {
    memset(d, 0, sizeof *d);
    if (vocab < 2 || branching < 1 || branching > vocab)
        return gc_errf(err, "train data: a chain of %d states with %d successors each", vocab, branching);
    d->vocab = vocab, d->branching = branching, d->seed = seed;
    size_t n = (size_t)vocab * (size_t)branching;
    d->next = malloc(n * sizeof *d->next);
    d->prob = malloc(n * sizeof *d->prob);
    d->pi_cdf = malloc((size_t)vocab * sizeof *d->pi_cdf);
    if (!d->next || !d->prob || !d->pi_cdf) {
        train_data_free(d);
        return gc_errf(err, "train data: out of memory for a chain of %d states", vocab);
    }
    uint64_t s = mix64(seed ^ 0x6d61726b6f76ull);
    for (int i = 0; i < vocab; i++) {
        int32_t *nx = d->next + (size_t)i * branching;
        double *pr = d->prob + (size_t)i * branching, sum = 0;
        for (int j = 0; j < branching; j++) {
            int32_t cand = j == 0 ? (i + 1) % vocab : (int32_t)(unit(&s) * vocab);
            for (int k = 0; k < j; k++)   /* distinct successors: step to the next free state */
                if (nx[k] == cand) cand = (cand + 1) % vocab, k = -1;
            nx[j] = cand;
            double u = unit(&s);
            sum += pr[j] = 0.1 + u * u;
        }
        for (int j = 0; j < branching; j++) pr[j] /= sum;
    }
    d->entropy = train_markov_entropy(vocab, branching, d->next, d->prob, d->pi_cdf);
    if (isnan(d->entropy)) {
        train_data_free(d);
        return gc_errf(err, "train data: out of memory for the chain's stationary law");
    }
    for (int i = 1; i < vocab; i++) d->pi_cdf[i] += d->pi_cdf[i - 1];
    return 0;
}

/* llm.c's data files (dev/data/data_common.py): 256 int32 header, magic 20240520, version 1 for
 * u16 tokens, then the token count; the ids follow. */
enum { LLMC_MAGIC = 20240520, LLMC_HEADER = 256 };

static int32_t id_at(const unsigned char *p, int bytes) {
    return bytes == 2 ? (int32_t)(p[0] | p[1] << 8) : (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

int train_data_file(train_data *d, const char *path, int bytes_per_id, int vocab, gc_err *err) {
    memset(d, 0, sizeof *d);
    d->vocab = vocab, d->entropy = NAN;
    if (bytes_per_id != 2 && bytes_per_id != 4) return gc_errf(err, "%s: ids of %d bytes (2 or 4)", path, bytes_per_id);
    FILE *f = fopen(path, "rb");
    if (!f) return gc_errf(err, "cannot open '%s': %s", path, strerror(errno));
    unsigned char *buf = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size)) && fread(buf, 1, (size_t)size, f) != (size_t)size)
        free(buf), buf = NULL;
    fclose(f);
    if (!buf) return gc_errf(err, "%s: cannot read the file (empty, or out of memory)", path);
    size_t off = 0, n = (size_t)size / (size_t)bytes_per_id;
    if (size >= LLMC_HEADER * 4 && id_at(buf, 4) == LLMC_MAGIC) {   /* llm.c's header */
        int32_t version = id_at(buf + 4, 4), count = id_at(buf + 8, 4);
        bytes_per_id = version == 1 ? 2 : 4;
        off = LLMC_HEADER * 4;
        if (count < 0 || (size_t)count > ((size_t)size - off) / (size_t)bytes_per_id) {
            free(buf);
            return gc_errf(err, "%s: llm.c header says %d tokens, the file holds fewer", path, count);
        }
        n = (size_t)count;
    } else if ((size_t)size % (size_t)bytes_per_id) {
        free(buf);
        return gc_errf(err, "%s: %ld bytes is not a whole number of %d-byte ids", path, size, bytes_per_id);
    }
    if (n < 2) {
        free(buf);
        return gc_errf(err, "%s: %zu tokens; training needs at least 2", path, n);
    }
    d->tokens = malloc(n * sizeof *d->tokens);
    if (!d->tokens) {
        free(buf);
        return gc_errf(err, "%s: out of memory for %zu tokens", path, n);
    }
    for (size_t i = 0; i < n; i++) {
        int32_t id = id_at(buf + off + i * (size_t)bytes_per_id, bytes_per_id);
        if (id < 0 || id >= vocab) {
            free(buf), train_data_free(d);
            return gc_errf(err, "%s: token %zu is id %d, outside the model's vocabulary of %d", path, i, id, vocab);
        }
        d->tokens[i] = id;
    }
    d->n_tokens = (int64_t)n;
    free(buf);
    return 0;
}

static int32_t draw(const double *cdf, int n, double u) {   /* the first index with cdf > u */
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cdf[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

void train_data_batch(const train_data *d, int64_t step, int B, int T, int32_t *out) {
    for (int b = 0; b < B; b++) {
        int32_t *seq = out + (size_t)b * (size_t)(T + 1);
        uint64_t s = mix64(d->seed ^ mix64((uint64_t)step * 1000003u + (uint64_t)b));
        if (d->tokens) {   /* a window of the file: consecutive windows, wrapping at its end */
            int64_t span = d->n_tokens - T - 1 > 0 ? d->n_tokens - T - 1 : 1;
            int64_t start = ((step * B + b) * (int64_t)T) % span;
            for (int t = 0; t <= T; t++) seq[t] = d->tokens[(start + t) % d->n_tokens];
            continue;
        }
        seq[0] = draw(d->pi_cdf, d->vocab, unit(&s) * d->pi_cdf[d->vocab - 1]);
        for (int t = 1; t <= T; t++) {
            const double *pr = d->prob + (size_t)seq[t - 1] * d->branching;
            double u = unit(&s), c = 0;
            int j = 0;
            while (j < d->branching - 1 && (c += pr[j]) <= u) j++;
            seq[t] = d->next[(size_t)seq[t - 1] * d->branching + j];
        }
    }
}

void train_data_free(train_data *d) {
    free(d->next), free(d->prob), free(d->pi_cdf), free(d->tokens);
    d->next = NULL, d->prob = NULL, d->pi_cdf = NULL, d->tokens = NULL;
}
