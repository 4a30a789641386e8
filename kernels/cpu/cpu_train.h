/* The "cpu" backend's train family (cpu_train.c): the backward ops, AdamW and the gradient
 * norm's sums on the thread pool; attention_backward on the table's sgemm micro-kernel. */
#ifndef GK_CPU_TRAIN_H
#define GK_CPU_TRAIN_H
#include "kernels/backend.h"

extern const gk_train_ops gk_cpu_train_ops;

#endif
