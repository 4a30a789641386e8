/* The suites. Add a workload to one: one line in its table. */
#include <stdio.h>
#include <string.h>
#include "bench/suites.h"
#include "kernels/backend.h"

/* The GPU backend of this project: a line on it runs only where a GPU is present. */
#define GPU_BACKEND "cuda"

/* The default suite is what `make run` runs: a 128-token prompt and 32 new tokens keep it to a
 * couple of minutes on a 2-core laptop-class CPU while still measuring prefill, decode and a
 * whole generation. `full` keeps the llm workload's own defaults (512 + 128).
 * Where a GPU is present it is measured too (issue 13: a Colab or GPU-host run should give the
 * GPU's numbers, not only its host CPU's): the same llm job on cuda, and the GPU's own roofline
 * from the kernels probe on cuda (matrix-vector products streaming weights from device memory,
 * GB/s, and 16/512-column products, GFLOP/s). triad runs on the CPU only; the kernels matvec is
 * the GPU's read-only bandwidth probe.
 * The image job: the default suite runs sd-tiny (SD 1.x's architecture and kernels at 2.5M
 * parameters, 64×64, 4 steps), because sd1.5's verification alone — one guided step and the
 * decoder through the scalar ref backend at 64×64 — takes about 3 minutes on a 2-core VM, and its
 * 128×128 case 6 in all; `full` runs sd1.5 at 512×512, 20 steps, and 256×256.
 * Training: llama-124m full training at llm.c's CPU reference shape (4 × 64 tokens a step);
 * `full` adds LoRA of tinyllama-1.1b on a q4_0 base (1 × 256). */
static const gc_suite_line default_lines[] = {
    {"triad", NULL, NULL, NULL, NULL},
    {"llm", "tinyllama-1.1b", "q4_0,q8_0", "prompt=128,gen=32", NULL},
    {"image", "sd-tiny", "q8_0", "width=64,steps=4", NULL},
    {"train", "llama-124m", "f32", NULL, NULL},
    {"kernels", NULL, "q4_0,q8_0", NULL, GPU_BACKEND},
    {"llm", "tinyllama-1.1b", "q4_0,q8_0", "prompt=128,gen=32", GPU_BACKEND},
    {"train", "llama-124m", "f32", NULL, GPU_BACKEND},
    {NULL, NULL, NULL, NULL, NULL},
};

static const gc_suite_line full_lines[] = {
    {"triad", NULL, NULL, NULL, NULL},
    {"llm", "tinyllama-1.1b", "q4_0,q8_0,f16", NULL, NULL},
    {"llm", "llama2-7b,llama3-8b,mistral-7b", "q4_0,q8_0", NULL, NULL},
    {"image", "sd1.5", "q8_0,q4_0,f16", NULL, NULL},
    {"image", "sd1.5", "q8_0", "width=256", NULL},
    {"train", "llama-124m", "f32", NULL, NULL},
    {"train", "tinyllama-1.1b", "q4_0", "mode=lora,batch=1,seq=256", NULL},
    {"kernels", NULL, "q4_0,q8_0,f16", NULL, GPU_BACKEND},
    {"train", "llama-124m", "f32", NULL, GPU_BACKEND},
    {"train", "tinyllama-1.1b", "q4_0", "mode=lora,batch=1,seq=256", GPU_BACKEND},
    {"llm", "tinyllama-1.1b", "q4_0,q8_0,f16", NULL, GPU_BACKEND},
    {"llm", "llama2-7b,llama3-8b,mistral-7b", "q4_0,q8_0", NULL, GPU_BACKEND},
    {NULL, NULL, NULL, NULL, NULL},
};

/* smoke checks that everything runs: on a GPU machine the small model on the GPU too. */
static const gc_suite_line smoke_lines[] = {
    {"triad", NULL, NULL, NULL, NULL},
    {"llm", "tiny", "q4_0", NULL, NULL},
    {"image", "sd-tiny", "q8_0", NULL, NULL},
    {"train", "tiny", "f32", NULL, NULL},
    {"llm", "tiny", "q4_0", NULL, GPU_BACKEND},
    {NULL, NULL, NULL, NULL, NULL},
};

static const gc_suite suite_default = {
    "default",
    "what `make run` measures on this machine (llm: prompt 128, 32 new tokens; image: sd-tiny 64×64, 4 steps; "
    "train: llama-124m full, 4 × 64 tokens a step; "
    "3 reps; the GPU too where one is present)",
    false, 3, default_lines};
static const gc_suite suite_full = {"full", "the default suite plus the large presets", false, 0, full_lines};
static const gc_suite suite_smoke = {"smoke", "everything small and quick (--quick): checks that it all runs",
                                     true, 0, smoke_lines};

static const gc_suite *const all[] = {&suite_default, &suite_full, &suite_smoke, NULL};

const gc_suite *const *gc_suite_all(void) { return all; }

const gc_suite *gc_suite_find(const char *name) {
    for (int i = 0; all[i]; i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    return NULL;
}

bool gc_suite_line_gpu(const gc_suite_line *l) { return l->backend && !strcmp(l->backend, GPU_BACKEND); }

/* The workloads of the lines left out, each once, for the note ("kernels, llm"). */
static void left_out_names(const gc_suite *s, char *buf, size_t n) {
    buf[0] = 0;
    for (const gc_suite_line *l = s->lines; l->workload; l++) {
        if (!gc_suite_line_gpu(l)) continue;
        bool seen = false;
        for (const gc_suite_line *m = s->lines; m < l && !seen; m++)
            seen = gc_suite_line_gpu(m) && !strcmp(m->workload, l->workload);
        size_t w = strlen(buf);
        if (!seen && w < n) snprintf(buf + w, n - w, "%s%s", w ? ", " : "", l->workload);
    }
}

int gc_suite_select(const gc_suite *s, bool gpu, const gc_suite_line **out, int max, char *note, size_t note_n) {
    int n = 0, dropped = 0;
    for (const gc_suite_line *l = s->lines; l->workload; l++) {
        if (gc_suite_line_gpu(l) && !gpu) {
            dropped++;
            continue;
        }
        if (n < max) out[n++] = l;
    }
    if (note && note_n) {
        note[0] = 0;
        char names[128];
        left_out_names(s, names, sizeof names);
        if (dropped)
            snprintf(note, note_n, "suite %s: no GPU here, so its %d %s line%s (%s) %s left out: this run measures the CPU only",
                     s->name, dropped, GPU_BACKEND, dropped == 1 ? "" : "s", names, dropped == 1 ? "is" : "are");
    }
    return n;
}

bool gc_suite_gpu_here(char *why, size_t why_n) { return gk_backend_available(GPU_BACKEND, why, why_n); }
