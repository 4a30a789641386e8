/* The sampler's numbers: Stable Diffusion's noise schedule as the Euler samplers of k-diffusion
 * (and stable-diffusion.cpp's default "discrete" schedule) use it, DDIM's as diffusers spaces
 * it, each sampler's update, and the seeded noise. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bench/sd/sd.h"

#define TRAIN_STEPS 1000

/* The Euler sampler's σ at each step, interpolated in log σ between the training timesteps as
 * k-diffusion's DiscreteSchedule does: ᾱ_t = Π(1 − β_i), β from the scaled-linear schedule
 * (sqrt(0.00085) … sqrt(0.012), squared), σ_t = sqrt((1 − ᾱ_t) / ᾱ_t). */
static void alphas_cumprod(double *abar) {
    double a = 1, lo = sqrt(0.00085), hi = sqrt(0.012);
    for (int i = 0; i < TRAIN_STEPS; i++) {
        double b = lo + (hi - lo) * i / (TRAIN_STEPS - 1);
        a *= 1 - b * b;
        abar[i] = a;
    }
}

void sd_schedule(int steps, float *sigmas, float *timesteps) {
    double log_sigma[TRAIN_STEPS], abar[TRAIN_STEPS];
    alphas_cumprod(abar);
    for (int i = 0; i < TRAIN_STEPS; i++) log_sigma[i] = log(sqrt((1 - abar[i]) / abar[i]));
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

/* diffusers' DDIMScheduler with SD's scheduler_config (timestep_spacing "leading",
 * steps_offset 1, set_alpha_to_one false), on the same ᾱ of the scaled-linear β. */
void sd_schedule_ddim(int steps, double *abar, float *timesteps) {
    double all[TRAIN_STEPS];
    alphas_cumprod(all);
    int ratio = TRAIN_STEPS / steps;
    for (int i = 0; i < steps; i++) {
        int t = (steps - 1 - i) * ratio + 1, prev = t - ratio;
        if (t > TRAIN_STEPS - 1) t = TRAIN_STEPS - 1;   /* steps 1000 only, which the shape check refuses */
        timesteps[i] = (float)t;
        abar[i] = all[t];
        abar[i + 1] = prev >= 0 ? all[prev] : all[0];
    }
}

/* Euler (k-diffusion's sample_euler, no churn): denoised = x − σ·eps, d = (x − denoised)/σ = eps,
 * x' = x + d·(σ' − σ); the UNet sees c_in·x, c_in = 1/sqrt(σ² + 1). */
sd_step sd_euler_step(float sigma, float next) {
    return (sd_step){0, 1.0f / sqrtf(sigma * sigma + 1), 1, next - sigma, 0};
}

/* Euler-ancestral (k-diffusion's sample_euler_ancestral, eta 1, get_ancestral_step):
 * σ_up = min(σ', sqrt(σ'²·(σ² − σ'²)/σ²)), σ_down = sqrt(σ'² − σ_up²);
 * x' = x + eps·(σ_down − σ) + σ_up·n, n fresh standard normal noise (σ' = 0: σ_up = 0, none). */
sd_step sd_euler_a_step(float sigma, float next) {
    double s = sigma, n = next, up = s > 0 ? sqrt(n * n * (s * s - n * n) / (s * s)) : 0;
    if (up > n) up = n;
    double down = sqrt(n * n - up * up);
    return (sd_step){0, 1.0f / sqrtf(sigma * sigma + 1), 1, (float)(down - s), (float)up};
}

/* DDIM (diffusers' DDIMScheduler.step, eta 0: no noise; epsilon prediction, no clipping), in the
 * variance-preserving sample x_t itself (the UNet sees it unscaled, c_in 1):
 * x0 = (x − sqrt(1 − ᾱ)·eps) / sqrt(ᾱ), x' = sqrt(ᾱ')·x0 + sqrt(1 − ᾱ')·eps
 *    = sqrt(ᾱ'/ᾱ)·x + (sqrt(1 − ᾱ') − sqrt(ᾱ'·(1 − ᾱ)/ᾱ))·eps. */
sd_step sd_ddim_step(double abar, double abar_prev) {
    double a = sqrt(abar_prev / abar), b = sqrt(1 - abar_prev) - sqrt(abar_prev * (1 - abar) / abar);
    return (sd_step){0, 1, (float)a, (float)b, 0};
}

static const char *const sampler_names[SD_SAMPLERS] = {"euler", "euler_a", "ddim"};

const char *sd_sampler_name(int sampler) { return sampler >= 0 && sampler < SD_SAMPLERS ? sampler_names[sampler] : NULL; }

int sd_sampler_from_name(const char *name) {
    for (int i = 0; name && i < SD_SAMPLERS; i++)
        if (!strcmp(name, sampler_names[i])) return i;
    return -1;
}

int sd_sampler_plan(int sampler, int steps, sd_step *out, float *x_scale) {
    if (steps < 1 || steps > TRAIN_STEPS || sampler < 0 || sampler >= SD_SAMPLERS) return -1;
    float sig[TRAIN_STEPS + 1], ts[TRAIN_STEPS];
    double abar[TRAIN_STEPS + 1];
    if (sampler == SD_DDIM) {
        sd_schedule_ddim(steps, abar, ts);
        for (int i = 0; i < steps; i++) {
            out[i] = sd_ddim_step(abar[i], abar[i + 1]);
            out[i].t = ts[i];
        }
        *x_scale = 1;   /* diffusers: init_noise_sigma 1 */
        return 0;
    }
    sd_schedule(steps, sig, ts);
    for (int i = 0; i < steps; i++) {
        out[i] = sampler == SD_EULER ? sd_euler_step(sig[i], sig[i + 1]) : sd_euler_a_step(sig[i], sig[i + 1]);
        out[i].t = ts[i];
    }
    *x_scale = sig[0];   /* k-diffusion: x_0 = noise × σ_max */
    return 0;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void noise_from(float *out, int64_t n, uint64_t s) {
    for (int64_t i = 0; i < n; i += 2) {
        /* two uniforms in (0, 1], then Box–Muller */
        double u1 = ((double)(splitmix(&s) >> 11) + 1) * 0x1.0p-53, u2 = (double)(splitmix(&s) >> 11) * 0x1.0p-53;
        double r = sqrt(-2 * log(u1)), a = 6.283185307179586 * u2;
        out[i] = (float)(r * cos(a));
        if (i + 1 < n) out[i + 1] = (float)(r * sin(a));
    }
}

void sd_noise(float *out, int64_t n, unsigned long seed) { noise_from(out, n, (uint64_t)seed * 0x2545f4914f6cdd1dull + 1); }

void sd_noise_image(float *out, int64_t n, unsigned long seed, int image) {
    sd_noise(out, n, seed + (unsigned long)image);
}

/* The state sd_noise(seed + image) starts at, moved by (step + 1) × another odd constant. */
void sd_step_noise(float *out, int64_t n, unsigned long seed, int image, int step) {
    uint64_t s = (uint64_t)(seed + (unsigned long)image) * 0x2545f4914f6cdd1dull + 1;
    noise_from(out, n, s + (uint64_t)(step + 1) * 0xd1b54a32d192ed03ull);
}
