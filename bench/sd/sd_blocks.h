/* Inside bench/sd: the three networks (sd_blocks.c), run for real or planned on shapes. */
#ifndef GC_SD_BLOCKS_H
#define GC_SD_BLOCKS_H
#include "bench/sd/sd_internal.h"

/* CLIP's text transformer on the ids in p.ids, prompt `which` (0 conditional, 1 unconditional)
 * into batch entry which · N of p.context (and of SDXL's p.vector). */
int sd_text_forward(sd_model *m, int which, gc_err *err);
/* The UNet on p.unet_in at the timesteps in p.tsteps with p.context, into p.eps. */
int sd_unet_forward(sd_model *m, gc_err *err);
/* The UNet's first block: semb{4·unet_ch, B} = silu of the time (and SDXL's label) embedding of
 * p.tsteps (and p.vector), on the arena above the caller's; the cursor at the UNet's weights. */
int sd_unet_embedding(sd_model *m, gk_tensor *semb, gc_err *err);
/* The VAE decoder on image `image` of p.latent, into the same image of p.image. */
int sd_vae_forward(sd_model *m, int image, gc_err *err);

#endif
