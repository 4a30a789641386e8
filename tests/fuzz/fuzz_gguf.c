/* libFuzzer harness for the GGUF reader, the llama metadata checks and the Stable Diffusion
 * file check (for inputs that hold SD tensors or say they are one): any input must be
 * accepted or rejected with a message, never crash, read out of bounds or allocate hugely.
 * Build and run: make fuzz (60 s over tests/fixtures/gguf-bad and gguf-good as seeds). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"
#include "bench/sd/sd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_file f;
    gc_err err;
    if (gguf_parse(data, size, &f, &err)) {
        if (!err.msg[0]) __builtin_trap();   /* a rejection always says why */
        return 0;
    }
    llm_config c;
    int wtype;
    if (llm_config_from_gguf(&f, &c, &wtype, &err) == 0) {
        /* Accepted: every tensor the model reads lies inside the buffer. */
        llm_tinfo t;
        for (int i = 0; i < llm_tensor_count(&c); i++) {
            llm_tensor_info(&c, i, &t);
            const gguf_tensor *g = gguf_find_tensor(&f, t.name);
            if (g && ((const uint8_t *)g->data < data || (const uint8_t *)g->data + g->nbytes > data + size)) __builtin_trap();
        }
    }
    const char *name = NULL;
    size_t len = 0;
    gc_err e;
    if (gguf_find_tensor(&f, "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight") ||
        !gguf_get_str(&f, "gencost.sd.preset", &name, &len, &e)) {
        const sd_config *c = sd_gguf_config(&f, &err);
        if (!c && !err.msg[0]) __builtin_trap();
    }
    gguf_close(&f);
    return 0;
}
