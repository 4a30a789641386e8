/* PNG writing with libpng into memory, then one atomic write (gc_write_file_atomic). libpng
 * reports errors by longjmp: each call sets its own jump point, and nothing allocated before it
 * is touched after a jump except through the png structs libpng frees itself. */
#include "base/png.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct membuf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} membuf;

static void write_mem(png_structp png, png_bytep bytes, png_size_t n) {
    membuf *b = png_get_io_ptr(png);
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void flush_mem(png_structp png) { (void)png; }

/* Encodes into *b; 0 on success. Separate from the caller so the longjmp target has no locals
 * that change after setjmp. */
static int encode(membuf *b, const uint8_t *rgb, int width, int height) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png) return -1;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, b, write_mem, flush_mem);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return b->failed ? -1 : 0;
}

int gc_write_png(const char *path, const uint8_t *rgb, int width, int height, gc_err *err) {
    if (width <= 0 || height <= 0 || width > 1 << 16 || height > 1 << 16)
        return gc_errf(err, "%s: cannot write a %d×%d image", path, width, height);
    membuf b = {0};
    int rc = encode(&b, rgb, width, height);
    if (rc) rc = gc_errf(err, "%s: PNG encoding failed%s", path, b.failed ? ": out of memory" : "");
    else rc = gc_write_file_atomic(path, b.data, b.len, err);
    free(b.data);
    return rc;
}
