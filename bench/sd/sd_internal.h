/* Inside bench/sd (not a public surface): the model struct, the builder through which blocks
 * declare and use their tensors, the activation arena, and the op wrappers that count FLOPs
 * while planning and run ops otherwise. sd_model.c implements these; sd_blocks.c (the blocks
 * and the three networks) and sd_run.c (the phases) use them. */
#ifndef GC_SD_INTERNAL_H
#define GC_SD_INTERNAL_H
#include "bench/sd/sd.h"

/* The persistent tensors of a generation (outside the arena). */
typedef struct sd_persist {
    gk_tensor ids;               /* I32 {77}: one prompt's token ids */
    gk_tensor kcache, vcache;    /* F32 {the wider encoder's width, 77}: one text layer's keys and values */
    gk_tensor context;           /* {text_dim (+ text2_dim), 77, B}: the conditional prompt's for each
                                  * image, then the unconditional one's (encoded once, repeated) */
    gk_tensor vector;            /* SDXL: {adm_ch, B}, the UNet's vector conditioning per prompt:
                                  * pooled text, then the size and crop values' embeddings */
    gk_tensor adm_vals;          /* SDXL: F32 {6}: original height, width, crop top, left, target
                                  * height, width (pixels), as sd_xl_base's conditioner orders them */
    gk_tensor latent;            /* {lw, lh, 4, N}: one per image */
    gk_tensor noise;             /* {lw, lh, 4, N}: Euler-ancestral's fresh noise of a step */
    gk_tensor unet_in;           /* {lw, lh, 4, B}: the scaled latents, once per prompt */
    gk_tensor eps;               /* {lw, lh, 4, B}: the UNet's noise prediction */
    gk_tensor tsteps;            /* F32 {B}: the timestep, once per batch entry */
    gk_tensor image;             /* {W, H, 3, N} */
} sd_persist;

enum { SD_PART_TEXT, SD_PART_UNET, SD_PART_VAE, SD_PARTS };

/* SDXL's size and crop conditioning: 6 values, each through a 256-wide timestep embedding. */
#define SD_ADM_VALUES 6
#define SD_ADM_EMBED 256

struct sd_model {
    sd_config c;
    sd_shape s;
    int wtype;
    int images, prompts, batch;  /* images N per generation; prompts 2 with guidance, else 1; the
                                  * UNet's batch B = prompts · N */
    int lw, lh;                  /* latent width and height */
    /* the tensor list, in the order the forward passes use it */
    sd_tensor_info *ti;
    gk_tensor *w;
    int n_t, cap_t;
    int part_first[SD_PARTS], part_end[SD_PARTS];
    int cursor;                  /* the next tensor the running pass asks for */
#define SD_SHAPE_RING 16
    gk_tensor shape_ring[SD_SHAPE_RING];   /* planning: the shapes of the weights a block holds */
    int ring_i;
    /* planning (no backend) or running */
    bool planning;
    /* a block whose weights the checkpoint holds but this model does not run (SDXL's CLIP-L
     * conditions on its penultimate layer: the last layer and the final norm): its weights are
     * declared and loaded, its ops neither run nor count */
    bool held;
    gk_backend *be;
    double flops;                /* counted while planning */
    sd_counts counts[SD_PARTS];
    /* the activation stack: one F32 buffer, views into it */
    gk_tensor arena;
    uint64_t top, peak;
    sd_persist p;
    sd_step *sched;              /* the sampler's steps (timestep, input scale, update) */
    float x_scale;               /* the initial noise's scale */
};

/* The position of prompt `which`'s first end token (its pooled token). sd_run.c */
int sd_prompt_eos(const sd_model *m, int which);

/* ---- tensors ---- */
#define SD_CHUNK_BYTES (64u << 20)
/* Rows [r0, r0 + n) of weight i, synthetic from seed, in its storage type, into dst, made on up
 * to n_threads threads (the same values for any count); -1 when out of memory. */
int sd_weight_rows(const sd_model *m, int i, unsigned long seed, int64_t r0, int64_t n, void *dst, int n_threads);
/* Rows of weight i a chunk of about SD_CHUNK_BYTES holds. */
int64_t sd_weight_chunk_rows(const sd_model *m, int i);
struct gguf_file;
/* Uploads weight i from a GGUF file's tensor of that name (shape checked; another type is
 * converted through F32). sd_gguf.c */
int sd_upload_from_gguf(sd_model *m, int i, const struct gguf_file *f, gc_err *err);
/* The weight the running block names, declared while planning (shape, role), looked up (and its
 * name checked) while running; NULL + err on a mismatch, which would be a bug. */
gk_tensor *sd_weight(sd_model *m, const char *name, int role, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3,
                     gc_err *err);

/* ---- the arena ---- */
/* A new F32 activation {ne0, ne1, ne2, ne3} on the stack (a shape only while planning). */
int sd_act(sd_model *m, gk_tensor *t, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, gc_err *err);
static inline uint64_t sd_mark(const sd_model *m) { return m->top; }
static inline void sd_release(sd_model *m, uint64_t mark) { m->top = mark; }
/* A view of t (an arena activation or a persistent tensor) with shape ne and strides nb (NULL:
 * contiguous) from byte offset off; a shape only while planning. */
int sd_view(sd_model *m, gk_tensor *v, const gk_tensor *t, size_t off, const int64_t ne[4], const size_t nb[4],
            gc_err *err);

/* ---- ops: count while planning, run otherwise; every failure names the op and the block ---- */
int sd_failed(sd_model *m, const char *what, gc_err *err);
#define SD_RUN(m, call, what)                                                                    \
    do {                                                                                         \
        if (!(m)->planning && !(m)->held && (call) != 0) return sd_failed(m, what, err);         \
    } while (0)
#define SD_TRY(call)                                                                             \
    do {                                                                                         \
        if ((call) != 0) return -1;                                                              \
    } while (0)

#endif
