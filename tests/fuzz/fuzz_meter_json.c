/* libFuzzer harness for the HTTP meters' reading (json_path_number, bench/energy/energy.h): the
 * body comes from a device on the network, the path from the command line (http:URL#path).
 * Input: the path up to the first newline, the JSON body after it; with no newline, the body
 * alone is read at the two built-in paths (Shelly's "apower", Tasmota's StatusSNS.ENERGY.Power).
 * Any input must give a number or an error message, never crash or read out of bounds.
 * Build and run: make fuzz (seeds in tests/fuzz/corpus/meter_json, dictionary meter_json.dict). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "bench/energy/energy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_at(const char *body, const char *path) {
    double w = 0;
    gc_err err = {{0}};
    if (json_path_number(body, path, &w, &err) && !err.msg[0]) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size + 1);   /* the meter reads a NUL-terminated body (energy_http.c) */
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    char *nl = memchr(copy, '\n', size);
    if (nl) {
        *nl = 0;
        read_at(nl + 1, copy);
    } else {
        read_at(copy, "apower");
        read_at(copy, "StatusSNS.ENERGY.Power");
    }
    free(copy);
    return 0;
}
