/* The ref backend's train family (ref_train.c): the scalar oracle of the backward ops and AdamW. */
#ifndef GK_REF_TRAIN_H
#define GK_REF_TRAIN_H
#include "kernels/backend.h"

extern const gk_train_ops gk_ref_train_ops;

#endif
