/* The ref backend's image family (ref_image.c): the scalar oracle of the Stable Diffusion ops. */
#ifndef GK_REF_IMAGE_H
#define GK_REF_IMAGE_H
#include "kernels/backend.h"

extern const gk_image_ops gk_ref_image_ops;

#endif
