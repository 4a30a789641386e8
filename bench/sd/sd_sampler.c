/* The sampler's numbers: Stable Diffusion's noise schedule as the Euler sampler of k-diffusion
 * (and stable-diffusion.cpp's default "discrete" schedule) uses it, and the seeded noise. */
#include <math.h>
#include <stdint.h>

#include "bench/sd/sd.h"

#define TRAIN_STEPS 1000

/* The Euler sampler's σ at each step, interpolated in log σ between the training timesteps as
 * k-diffusion's DiscreteSchedule does: ᾱ_t = Π(1 − β_i), β from the scaled-linear schedule
 * (sqrt(0.00085) … sqrt(0.012), squared), σ_t = sqrt((1 − ᾱ_t) / ᾱ_t). */
void sd_schedule(int steps, float *sigmas, float *timesteps) {
    double log_sigma[TRAIN_STEPS], a = 1, lo = sqrt(0.00085), hi = sqrt(0.012);
    for (int i = 0; i < TRAIN_STEPS; i++) {
        double b = lo + (hi - lo) * i / (TRAIN_STEPS - 1);
        a *= 1 - b * b;
        log_sigma[i] = log(sqrt((1 - a) / a));
    }
    /* timesteps spaced evenly from 999 down to 0 */
    for (int i = 0; i < steps; i++) {
        double t = steps == 1 ? TRAIN_STEPS - 1 : (TRAIN_STEPS - 1) * (1.0 - (double)i / (steps - 1));
        int t0 = (int)floor(t), t1 = t0 + 1 < TRAIN_STEPS ? t0 + 1 : t0;
        double w = t - t0;
        sigmas[i] = (float)exp((1 - w) * log_sigma[t0] + w * log_sigma[t1]);
        timesteps[i] = (float)t;
    }
    sigmas[steps] = 0;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sd_noise(float *out, int64_t n, unsigned long seed) {
    uint64_t s = (uint64_t)seed * 0x2545f4914f6cdd1dull + 1;
    for (int64_t i = 0; i < n; i += 2) {
        /* two uniforms in (0, 1], then Box–Muller */
        double u1 = ((double)(splitmix(&s) >> 11) + 1) * 0x1.0p-53, u2 = (double)(splitmix(&s) >> 11) * 0x1.0p-53;
        double r = sqrt(-2 * log(u1)), a = 6.283185307179586 * u2;
        out[i] = (float)(r * cos(a));
        if (i + 1 < n) out[i + 1] = (float)(r * sin(a));
    }
}
