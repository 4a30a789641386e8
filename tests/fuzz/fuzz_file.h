/* For harnesses whose parser takes a path (results_read, profile_load): the input is put in an
 * anonymous in-memory file (memfd) and read back through /proc/self/fd/N, so the parser runs
 * exactly as on a real file (its own open, read and close) with no disk I/O and nothing left
 * behind. One memfd per process, rewritten for every input. */
#ifndef GC_FUZZ_FILE_H
#define GC_FUZZ_FILE_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *fuzz_as_file(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("gencost-fuzz", 0);
        if (fd < 0) { perror("memfd_create"); abort(); }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("memfd write");
        abort();
    }
    return path;
}

#endif
