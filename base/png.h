/* PNG files through libpng: an 8-bit RGB image written whole, atomically (a reader never sees
 * half a picture; a name planted at the destination is not followed). */
#ifndef GC_PNG_H
#define GC_PNG_H
#include <stdint.h>
#include "base/util.h"

/* rgb: height rows of width × 3 bytes, top row first. 0, or -1 with err naming the file. */
int gc_write_png(const char *path, const uint8_t *rgb, int width, int height, gc_err *err);

#endif
