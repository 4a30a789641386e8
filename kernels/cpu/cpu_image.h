/* The "cpu" backend's image family, shared by its files: the table (cpu_image.c, which also has
 * the norms and the elementwise and layout ops), conv2d (cpu_conv.c) and the flash-style full
 * attention (cpu_image_attention.c). */
#ifndef GK_CPU_IMAGE_H
#define GK_CPU_IMAGE_H
#include <stdint.h>
#include <string.h>
#include "kernels/backend.h"
#include "kernels/cpu/exp_fast.h"

extern const gk_image_ops gk_cpu_image_ops;

int gk_cpu_conv2d(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x, const gk_tensor *bias,
                  const gk_conv2d_params *p);
int gk_cpu_full_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                          const gk_tensor *v, const gk_full_attn_params *p);

#endif
