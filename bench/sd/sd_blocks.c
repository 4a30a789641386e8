/* The three networks of Stable Diffusion 1.x and SDXL, one function per block, tensor names as in the
 * original checkpoint (and stable-diffusion.cpp's GGUF files), shapes in the comments:
 * images {W, H, C, N}, tokens {C, T, N}.
 *
 * Each function writes into an output its caller allocated, allocates its temporaries on the
 * arena above it and releases them at its end. Chains of blocks (the VAE, the UNet's middle and
 * up path) alternate between two chain buffers, so a dead input never holds memory; the UNet's
 * skip connections stay on the arena below the chain, in the order the up path takes them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/sd/sd_blocks.h"

/* A block's prefix ("model.diffusion_model.input_blocks.1.0") fits a prefix_t; a tensor's full
 * name (prefix + "." + a short suffix) a name_t, as long as sd_tensor_info's. */
#define PREFIX 112
#define NAME 160
typedef char prefix_t[PREFIX];
typedef char name_t[NAME];

static const char *nm(name_t b, const char *prefix, const char *suffix) {
    snprintf(b, NAME, "%.*s.%.40s", PREFIX - 1, prefix, suffix);
    return b;
}

/* ---- ops with their FLOPs -------------------------------------------------------------------- */

/* FLOPs of an op the pass plans (none for a held block's, which never runs). */
static void count(sd_model *m, double flops) {
    if (!m->held) m->flops += flops;
}

/* y{Wo, Ho, cout, N} = conv_k×k(x) + bias, weights pre.weight {k, k, Cin, cout}, pre.bias. */
static int conv(sd_model *m, gk_tensor *y, const gk_tensor *x, const char *pre, int stride, int pad, int k,
                gc_err *err) {
    name_t a, b;
    int64_t cin = x->ne[2], cout = y->ne[2];
    const gk_tensor *w = sd_weight(m, nm(a, pre, "weight"), SD_CONV, k, k, cin, cout, err);
    if (!w) return -1;
    const gk_tensor *bias = sd_weight(m, nm(b, pre, "bias"), SD_VECTOR_ZERO, cout, 1, 1, 1, err);
    if (!bias) return -1;
    count(m, 2.0 * k * k * cin * cout * y->ne[0] * y->ne[1] * y->ne[3]);
    gk_conv2d_params p = {stride, pad};
    SD_RUN(m, gk_conv2d(m->be, y, w, x, bias, &p), pre);
    return 0;
}

/* y{nout, T, N} = x{K, T, N} · Wᵀ (+ bias): pre.weight {K, nout} (and pre.bias {nout}). */
static int linear(sd_model *m, gk_tensor *y, const gk_tensor *x, const char *pre, bool has_bias, gc_err *err) {
    name_t a, b;
    int64_t k = x->ne[0], nout = y->ne[0], rows = x->ne[1] * x->ne[2] * x->ne[3];
    const gk_tensor *w = sd_weight(m, nm(a, pre, "weight"), SD_LINEAR, k, nout, 1, 1, err);
    if (!w) return -1;
    count(m, 2.0 * k * nout * rows);
    SD_RUN(m, gk_matmul(m->be, y, w, x, NULL), pre);
    if (!has_bias) return 0;
    const gk_tensor *bias = sd_weight(m, nm(b, pre, "bias"), SD_VECTOR_ZERO, nout, 1, 1, 1, err);
    if (!bias) return -1;
    /* the bias per output feature: y seen as {1, 1, nout, rows}, whose channel is the feature */
    gk_tensor v;
    SD_TRY(sd_view(m, &v, y, 0, (const int64_t[4]){1, 1, nout, rows}, NULL, err));
    SD_RUN(m, gk_add_channel(m->be, &v, &v, bias), pre);
    return 0;
}

static int group_norm(sd_model *m, gk_tensor *y, const gk_tensor *x, const char *pre, float eps, gc_err *err) {
    name_t a, b;
    const gk_tensor *g = sd_weight(m, nm(a, pre, "weight"), SD_VECTOR_ONE, x->ne[2], 1, 1, 1, err);
    if (!g) return -1;
    const gk_tensor *beta = sd_weight(m, nm(b, pre, "bias"), SD_VECTOR_ZERO, x->ne[2], 1, 1, 1, err);
    if (!beta) return -1;
    SD_RUN(m, gk_group_norm(m->be, y, x, g, beta, m->c.groups, eps), pre);
    return 0;
}

static int layer_norm(sd_model *m, gk_tensor *y, const gk_tensor *x, const char *pre, gc_err *err) {
    name_t a, b;
    const gk_tensor *g = sd_weight(m, nm(a, pre, "weight"), SD_VECTOR_ONE, x->ne[0], 1, 1, 1, err);
    if (!g) return -1;
    const gk_tensor *beta = sd_weight(m, nm(b, pre, "bias"), SD_VECTOR_ZERO, x->ne[0], 1, 1, 1, err);
    if (!beta) return -1;
    SD_RUN(m, gk_layer_norm(m->be, y, x, g, beta, 1e-5f), pre);
    return 0;
}

/* out{C, Tq, N} = softmax(q·kᵀ/sqrt(d))·v over n_head heads of d = C / n_head. */
static int attend(sd_model *m, gk_tensor *out, const gk_tensor *q, const gk_tensor *k, const gk_tensor *v,
                  int n_head, const char *what, gc_err *err) {
    int64_t c = q->ne[0], tq = q->ne[1], tk = k->ne[1], n = q->ne[2];
    count(m, 4.0 * c * tq * tk * n);   /* q·kᵀ and p·v, 2 FLOPs a multiply-add each */
    gk_full_attn_params p = {n_head, (int)(c / n_head), 1.0f / sqrtf((float)(c / n_head))};
    SD_RUN(m, gk_full_attention(m->be, out, q, k, v, &p), what);
    return 0;
}

/* tokens{C, W·H, N} = the channels of each pixel of x{W, H, C, N}, and back. */
static int to_tokens(sd_model *m, gk_tensor *t, const gk_tensor *x, gc_err *err) {
    int64_t w = x->ne[0], h = x->ne[1], c = x->ne[2], n = x->ne[3];
    size_t f = sizeof(float);
    gk_tensor v;
    SD_TRY(sd_view(m, &v, x, 0, (const int64_t[4]){c, w * h, n, 1},
                   (const size_t[4]){(size_t)(w * h) * f, f, (size_t)(c * w * h) * f, (size_t)(c * w * h * n) * f}, err));
    SD_RUN(m, gk_cont(m->be, t, &v), "pixels to tokens");
    return 0;
}

static int to_image(sd_model *m, gk_tensor *x, const gk_tensor *t, gc_err *err) {
    int64_t w = x->ne[0], h = x->ne[1], c = x->ne[2], n = x->ne[3];
    size_t f = sizeof(float);
    gk_tensor v;
    SD_TRY(sd_view(m, &v, t, 0, (const int64_t[4]){w, h, c, n},
                   (const size_t[4]){(size_t)c * f, (size_t)(c * w) * f, f, (size_t)(c * w * h) * f}, err));
    SD_RUN(m, gk_cont(m->be, x, &v), "tokens to pixels");
    return 0;
}

static int act_like(sd_model *m, gk_tensor *t, const gk_tensor *x, int64_t c, gc_err *err) {
    return sd_act(m, t, x->ne[0], x->ne[1], c, x->ne[3], err);
}

/* ---- blocks ---------------------------------------------------------------------------------- */

/* The ResNet block's tensor names: the UNet's (openaimodel) or the VAE's (ldm's ResnetBlock). */
typedef struct res_names {
    const char *norm1, *conv1, *emb, *norm2, *conv2, *skip;
    float eps;
} res_names;
static const res_names unet_res = {"in_layers.0", "in_layers.2", "emb_layers.1", "out_layers.0", "out_layers.3",
                                   "skip_connection", 1e-5f};
static const res_names vae_res = {"norm1", "conv1", NULL, "norm2", "conv2", "nin_shortcut", 1e-6f};

/* out{W, H, Cout, N} = skip(x) + conv(silu(norm(conv(silu(norm(x))) + emb))), x{W, H, Cin, N};
 * semb{temb, N}: silu of the UNet's time embedding, NULL in the VAE. */
static int resblock(sd_model *m, gk_tensor *out, const gk_tensor *x, const char *pre, const res_names *rn,
                    const gk_tensor *semb, gc_err *err) {
    name_t b;
    int64_t cout = out->ne[2];
    uint64_t mark = sd_mark(m);
    gk_tensor h, h2, h3;
    SD_TRY(act_like(m, &h, x, x->ne[2], err));
    SD_TRY(group_norm(m, &h, x, nm(b, pre, rn->norm1), rn->eps, err));
    SD_RUN(m, gk_silu(m->be, &h, &h), pre);
    SD_TRY(act_like(m, &h2, x, cout, err));
    SD_TRY(conv(m, &h2, &h, nm(b, pre, rn->conv1), 1, 1, 3, err));
    if (semb) {   /* the time embedding, projected to this block's channels, added per channel */
        gk_tensor e;
        SD_TRY(sd_act(m, &e, cout, semb->ne[1], 1, 1, err));
        SD_TRY(linear(m, &e, semb, nm(b, pre, rn->emb), true, err));
        SD_RUN(m, gk_add_channel(m->be, &h2, &h2, &e), pre);
    }
    SD_TRY(group_norm(m, &h2, &h2, nm(b, pre, rn->norm2), rn->eps, err));
    SD_RUN(m, gk_silu(m->be, &h2, &h2), pre);
    SD_TRY(act_like(m, &h3, x, cout, err));
    SD_TRY(conv(m, &h3, &h2, nm(b, pre, rn->conv2), 1, 1, 3, err));
    if (x->ne[2] != cout) {
        SD_TRY(conv(m, out, x, nm(b, pre, rn->skip), 1, 0, 1, err));
        SD_RUN(m, gk_add(m->be, out, out, &h3), pre);
    } else {
        SD_RUN(m, gk_add(m->be, out, x, &h3), pre);
    }
    sd_release(m, mark);
    return 0;
}

/* The UNet's attention heads at c channels: SD 1.x a fixed count, SDXL heads of 64. */
static int unet_heads(const sd_config *cf, int64_t c) {
    return cf->unet_heads > 0 ? cf->unet_heads : (int)(c / cf->unet_head_dim);
}

/* Attention of the UNet's transformer: to_q on xq, to_k and to_v on xkv{Ckv, Tk, N}, the heads,
 * to_out.0 (with bias) into out{C, Tq, N}. */
static int attention_block(sd_model *m, gk_tensor *out, const gk_tensor *xq, const gk_tensor *xkv, const char *pre,
                           gc_err *err) {
    name_t b;
    int64_t c = xq->ne[0];
    uint64_t mark = sd_mark(m);
    gk_tensor q, k, v, o;
    SD_TRY(sd_act(m, &q, c, xq->ne[1], xq->ne[2], 1, err));
    SD_TRY(sd_act(m, &k, c, xkv->ne[1], xkv->ne[2], 1, err));
    SD_TRY(sd_act(m, &v, c, xkv->ne[1], xkv->ne[2], 1, err));
    SD_TRY(sd_act(m, &o, c, xq->ne[1], xq->ne[2], 1, err));
    SD_TRY(linear(m, &q, xq, nm(b, pre, "to_q"), false, err));
    SD_TRY(linear(m, &k, xkv, nm(b, pre, "to_k"), false, err));
    SD_TRY(linear(m, &v, xkv, nm(b, pre, "to_v"), false, err));
    SD_TRY(attend(m, &o, &q, &k, &v, unet_heads(&m->c, c), pre, err));
    SD_TRY(linear(m, out, &o, nm(b, pre, "to_out.0"), true, err));
    sd_release(m, mark);
    return 0;
}

/* In place on t{C, T, N}: t += attn1(norm1(t)); t += attn2(norm2(t), context);
 * t += ff(norm3(t)), ff = net.2(GEGLU(net.0.proj(·))) with an inner width of 4C. */
static int basic_transformer(sd_model *m, gk_tensor *t, const char *pre, gc_err *err) {
    name_t b;
    int64_t c = t->ne[0], n_tok = t->ne[1], n = t->ne[2];
    uint64_t mark = sd_mark(m);
    gk_tensor x, a, ff, g;
    SD_TRY(sd_act(m, &x, c, n_tok, n, 1, err));
    SD_TRY(sd_act(m, &a, c, n_tok, n, 1, err));
    SD_TRY(layer_norm(m, &x, t, nm(b, pre, "norm1"), err));
    SD_TRY(attention_block(m, &a, &x, &x, nm(b, pre, "attn1"), err));
    SD_RUN(m, gk_add(m->be, t, t, &a), pre);
    SD_TRY(layer_norm(m, &x, t, nm(b, pre, "norm2"), err));
    SD_TRY(attention_block(m, &a, &x, &m->p.context, nm(b, pre, "attn2"), err));
    SD_RUN(m, gk_add(m->be, t, t, &a), pre);
    SD_TRY(layer_norm(m, &x, t, nm(b, pre, "norm3"), err));
    SD_TRY(sd_act(m, &ff, 8 * c, n_tok, n, 1, err));
    SD_TRY(sd_act(m, &g, 4 * c, n_tok, n, 1, err));
    SD_TRY(linear(m, &ff, &x, nm(b, pre, "ff.net.0.proj"), true, err));
    SD_RUN(m, gk_geglu(m->be, &g, &ff), pre);
    SD_TRY(linear(m, &a, &g, nm(b, pre, "ff.net.2"), true, err));
    SD_RUN(m, gk_add(m->be, t, t, &a), pre);
    sd_release(m, mark);
    return 0;
}

/* The SpatialTransformer: out = x + proj_out(pixels(blocks(tokens(proj_in(norm(x)))))), x{W, H, C,
 * N}, `depth` transformer blocks; SD 1.x's proj_in and proj_out are 1×1 convolutions on pixels,
 * SDXL's (use_linear_in_transformer) linear layers on the tokens — the same product, other
 * tensor shapes ({C, C} instead of {1, 1, C, C}). */
static int spatial_transformer(sd_model *m, gk_tensor *out, const gk_tensor *x, const char *pre, int depth,
                               gc_err *err) {
    name_t b;
    int64_t c = x->ne[2], n_tok = x->ne[0] * x->ne[1];
    uint64_t mark = sd_mark(m);
    gk_tensor h, hp, t, tp;
    SD_TRY(act_like(m, &h, x, c, err));
    SD_TRY(act_like(m, &hp, x, c, err));
    SD_TRY(sd_act(m, &t, c, n_tok, x->ne[3], 1, err));
    SD_TRY(group_norm(m, &h, x, nm(b, pre, "norm"), 1e-6f, err));
    if (m->c.linear_proj) {
        SD_TRY(sd_act(m, &tp, c, n_tok, x->ne[3], 1, err));
        SD_TRY(to_tokens(m, &tp, &h, err));
        SD_TRY(linear(m, &t, &tp, nm(b, pre, "proj_in"), true, err));
    } else {
        SD_TRY(conv(m, &hp, &h, nm(b, pre, "proj_in"), 1, 0, 1, err));
        SD_TRY(to_tokens(m, &t, &hp, err));
    }
    for (int i = 0; i < depth; i++) {
        name_t blk;
        snprintf(blk, sizeof blk, "%.*s.transformer_blocks.%d", PREFIX - 1, pre, i);
        SD_TRY(basic_transformer(m, &t, blk, err));
    }
    if (m->c.linear_proj) {
        SD_TRY(linear(m, &tp, &t, nm(b, pre, "proj_out"), true, err));
        SD_TRY(to_image(m, &hp, &tp, err));
    } else {
        SD_TRY(to_image(m, &h, &t, err));
        SD_TRY(conv(m, &hp, &h, nm(b, pre, "proj_out"), 1, 0, 1, err));
    }
    SD_RUN(m, gk_add(m->be, out, x, &hp), pre);
    sd_release(m, mark);
    return 0;
}

/* The VAE's single-head attention over pixels: out = x + proj_out(attend(q, k, v)), q, k, v
 * 1×1 convolutions of norm(x). */
static int vae_attention(sd_model *m, gk_tensor *out, const gk_tensor *x, const char *pre, gc_err *err) {
    name_t b;
    int64_t c = x->ne[2], n_tok = x->ne[0] * x->ne[1];
    uint64_t mark = sd_mark(m);
    gk_tensor h, q, k, v, tq, tk, tv, o;
    SD_TRY(act_like(m, &h, x, c, err));
    SD_TRY(group_norm(m, &h, x, nm(b, pre, "norm"), 1e-6f, err));
    gk_tensor *img[] = {&q, &k, &v}, *tok[] = {&tq, &tk, &tv};
    const char *names[] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        SD_TRY(act_like(m, img[i], x, c, err));
        SD_TRY(conv(m, img[i], &h, nm(b, pre, names[i]), 1, 0, 1, err));
        SD_TRY(sd_act(m, tok[i], c, n_tok, x->ne[3], 1, err));
        SD_TRY(to_tokens(m, tok[i], img[i], err));
    }
    SD_TRY(sd_act(m, &o, c, n_tok, x->ne[3], 1, err));
    SD_TRY(attend(m, &o, &tq, &tk, &tv, 1, pre, err));
    SD_TRY(to_image(m, &q, &o, err));
    SD_TRY(conv(m, &h, &q, nm(b, pre, "proj_out"), 1, 0, 1, err));
    SD_RUN(m, gk_add(m->be, out, x, &h), pre);
    sd_release(m, mark);
    return 0;
}

/* out{2W, 2H, C, N} = conv3×3(nearest 2× of x). */
static int upsample(sd_model *m, gk_tensor *out, const gk_tensor *x, const char *pre, gc_err *err) {
    uint64_t mark = sd_mark(m);
    gk_tensor u;
    SD_TRY(sd_act(m, &u, 2 * x->ne[0], 2 * x->ne[1], x->ne[2], x->ne[3], err));
    SD_RUN(m, gk_upsample2x(m->be, &u, x), pre);
    SD_TRY(conv(m, out, &u, pre, 1, 1, 3, err));
    sd_release(m, mark);
    return 0;
}

/* ---- chains ------------------------------------------------------------------------------------ */

/* Two buffers of `elems` floats the blocks of a chain alternate between. */
typedef struct chain {
    gk_tensor buf[2];
    int cur;
    gk_tensor h;                 /* the chain's current activation: a view of buf[cur] */
} chain;

static int chain_init(sd_model *m, chain *ch, int64_t elems, gc_err *err) {
    ch->cur = 0;
    SD_TRY(sd_act(m, &ch->buf[0], elems, 1, 1, 1, err));
    return sd_act(m, &ch->buf[1], elems, 1, 1, 1, err);
}

/* The other buffer, shaped {w, h, c, n}, for the next block's output. */
static int chain_next(sd_model *m, chain *ch, gk_tensor *out, int64_t w, int64_t h, int64_t c, int64_t n,
                      gc_err *err) {
    return sd_view(m, out, &ch->buf[1 - ch->cur], 0, (const int64_t[4]){w, h, c, n}, NULL, err);
}

static void chain_advance(chain *ch, const gk_tensor *out) {
    ch->cur = 1 - ch->cur;
    ch->h = *out;
}

/* ---- the text encoders ---------------------------------------------------------------------------- */

/* One CLIP text transformer's shapes and names (stable-diffusion.cpp's, Hugging Face CLIP's:
 * SDXL's OpenCLIP bigG under cond_stage_model.1.transformer.text_model with its attention's
 * in_proj split into q_proj, k_proj and v_proj, as sd.cpp converts it). */
typedef struct text_enc {
    const char *prefix;
    int64_t dim, ff;
    int layers, heads;
    bool quick_gelu;             /* CLIP-L's x·σ(1.702x); bigG's GELU (tanh form, as sd.cpp's ggml_gelu) */
} text_enc;

static text_enc clip_l(const sd_config *c) {
    return (text_enc){"cond_stage_model.transformer.text_model", c->text_dim, 4 * c->text_dim, c->text_layers,
                      c->text_heads, true};
}

static text_enc clip_g(const sd_config *c) {
    return (text_enc){"cond_stage_model.1.transformer.text_model", c->text2_dim, c->text2_ff, c->text2_layers,
                      c->text2_heads, false};
}

/* x{d, T} = the token embeddings of p.ids + the position embeddings. */
static int text_embed(sd_model *m, gk_tensor *x, const text_enc *e, gc_err *err) {
    name_t b;
    const gk_tensor *tok = sd_weight(m, nm(b, e->prefix, "embeddings.token_embedding.weight"), SD_EMBED, e->dim,
                                     m->c.text_vocab, 1, 1, err);
    if (!tok) return -1;
    SD_RUN(m, gk_embedding(m->be, x, tok, &m->p.ids), "token embedding");
    const gk_tensor *pos = sd_weight(m, nm(b, e->prefix, "embeddings.position_embedding.weight"), SD_VECTOR_ZERO, e->dim,
                                     m->c.text_ctx, 1, 1, err);
    if (!pos) return -1;
    SD_RUN(m, gk_add(m->be, x, x, pos), "position embedding");
    return 0;
}

/* In place on x{d, T}: x += out_proj(causal attention(q, k, v of layer_norm1(x)));
 * x += fc2(act(fc1(layer_norm2(x)))). */
static int text_layer(sd_model *m, gk_tensor *x, const text_enc *e, int i, gc_err *err) {
    name_t b, l;
    int64_t d = e->dim, t = x->ne[1];
    snprintf(l, sizeof l, "%s.encoder.layers.%d", e->prefix, i);
    uint64_t mark = sd_mark(m);
    gk_tensor h, q, k, v, o, f, kc, vc;
    SD_TRY(sd_act(m, &h, d, t, 1, 1, err));
    SD_TRY(sd_act(m, &q, d, t, 1, 1, err));
    SD_TRY(sd_act(m, &k, d, t, 1, 1, err));
    SD_TRY(sd_act(m, &v, d, t, 1, 1, err));
    SD_TRY(sd_act(m, &o, d, t, 1, 1, err));
    SD_TRY(sd_act(m, &f, e->ff, t, 1, 1, err));
    SD_TRY(sd_view(m, &kc, &m->p.kcache, 0, (const int64_t[4]){d, t, 1, 1}, NULL, err));
    SD_TRY(sd_view(m, &vc, &m->p.vcache, 0, (const int64_t[4]){d, t, 1, 1}, NULL, err));
    SD_TRY(layer_norm(m, &h, x, nm(b, l, "layer_norm1"), err));
    SD_TRY(linear(m, &q, &h, nm(b, l, "self_attn.q_proj"), true, err));
    SD_TRY(linear(m, &k, &h, nm(b, l, "self_attn.k_proj"), true, err));
    SD_TRY(linear(m, &v, &h, nm(b, l, "self_attn.v_proj"), true, err));
    SD_RUN(m, gk_kv_store(m->be, &kc, &k, 0), "text keys");
    SD_RUN(m, gk_kv_store(m->be, &vc, &v, 0), "text values");
    int hd = (int)(d / e->heads);
    gk_attn_params ap = {e->heads, e->heads, hd, 0, 1.0f / sqrtf((float)hd)};
    count(m, 2.0 * d * t * (t + 1));   /* causal: half of q·kᵀ and p·v */
    SD_RUN(m, gk_attention(m->be, &o, &q, &kc, &vc, &ap), "text attention");
    SD_TRY(linear(m, &h, &o, nm(b, l, "self_attn.out_proj"), true, err));
    SD_RUN(m, gk_add(m->be, x, x, &h), "text attention residual");
    SD_TRY(layer_norm(m, &h, x, nm(b, l, "layer_norm2"), err));
    SD_TRY(linear(m, &f, &h, nm(b, l, "mlp.fc1"), true, err));
    SD_RUN(m, e->quick_gelu ? gk_gelu_quick(m->be, &f, &f) : gk_gelu(m->be, &f, &f), "text mlp");
    SD_TRY(linear(m, &h, &f, nm(b, l, "mlp.fc2"), true, err));
    SD_RUN(m, gk_add(m->be, x, x, &h), "text mlp residual");
    sd_release(m, mark);
    return 0;
}

/* SD 1.x: prompt `which`'s context {768, 77} = final_layer_norm(CLIP-L's last layer), into its
 * first entry (which · N; sd_encode repeats it to the batch's other images). */
static int text_forward_sd1(sd_model *m, int which, gc_err *err) {
    text_enc e = clip_l(&m->c);
    name_t b;
    int64_t t = m->c.text_ctx;
    gk_tensor x, ctx;
    SD_TRY(sd_act(m, &x, e.dim, t, 1, 1, err));
    SD_TRY(text_embed(m, &x, &e, err));
    for (int i = 0; i < e.layers; i++) SD_TRY(text_layer(m, &x, &e, i, err));
    SD_TRY(sd_view(m, &ctx, &m->p.context, (size_t)((int64_t)which * m->images * e.dim * t) * sizeof(float),
                   (const int64_t[4]){e.dim, t, 1, 1}, NULL, err));
    return layer_norm(m, &ctx, &x, nm(b, e.prefix, "final_layer_norm"), err);
}

/* pooled{1280} = final_layer_norm(x)[end token] · text_projection, x{1280, 77} bigG's last
 * layer. OpenCLIP multiplies x · P with P {width, proj} (ggml's {proj, width}): the matmul's
 * weight is Pᵀ, made contiguous first as stable-diffusion.cpp does. */
static int pooled_text(sd_model *m, gk_tensor *pooled, gk_tensor *x, const text_enc *e, int which, gc_err *err) {
    name_t b;
    int64_t d = e->dim, proj = m->c.text2_dim;
    uint64_t mark = sd_mark(m);
    SD_TRY(layer_norm(m, x, x, nm(b, e->prefix, "final_layer_norm"), err));
    const gk_tensor *p = sd_weight(m, nm(b, e->prefix, "text_projection"), SD_MATRIX_F32, proj, d, 1, 1, err);
    if (!p) return -1;
    gk_tensor pt, tv, row;
    size_t f = sizeof(float);
    SD_TRY(sd_act(m, &pt, d, proj, 1, 1, err));
    SD_TRY(sd_view(m, &tv, p, 0, (const int64_t[4]){d, proj, 1, 1},
                   (const size_t[4]){(size_t)proj * f, f, (size_t)(d * proj) * f, (size_t)(d * proj) * f}, err));
    SD_RUN(m, gk_cont(m->be, &pt, &tv), "text projection");
    SD_TRY(sd_view(m, &row, x, (size_t)(sd_prompt_eos(m, which) * d) * f, (const int64_t[4]){d, 1, 1, 1}, NULL, err));
    count(m, 2.0 * d * proj);
    SD_RUN(m, gk_matmul(m->be, pooled, &pt, &row, NULL), "text projection");
    sd_release(m, mark);
    return 0;
}

/* SDXL's conditioner for prompt `which`: context entry {768 + 1280, 77} = CLIP-L's penultimate
 * layer's output (its last layer and final norm are held, not run: layer="hidden", layer_idx 11)
 * beside bigG's penultimate one (layer="penultimate"), concatenated along features; vector entry
 * {2816} = bigG's pooled text, then original size (h, w), crop (top, left) and target size (h, w)
 * each through a 256-wide timestep embedding (sgm's ConcatTimestepEmbedderND). Both encoders
 * read the same ids (their BPE vocabularies are one). */
static int text_forward_xl(sd_model *m, int which, gc_err *err) {
    const sd_config *c = &m->c;
    text_enc l = clip_l(c), g = clip_g(c);
    int64_t t = c->text_ctx, dc = l.dim + g.dim;
    name_t b;
    gk_tensor xl, xg, pen, ctx, a, cc, pooled, sizes;
    SD_TRY(sd_act(m, &xl, l.dim, t, 1, 1, err));
    SD_TRY(text_embed(m, &xl, &l, err));
    for (int i = 0; i < l.layers; i++) {
        m->held = i == l.layers - 1;
        SD_TRY(text_layer(m, &xl, &l, i, err));
    }
    m->held = true;
    SD_TRY(layer_norm(m, &xl, &xl, nm(b, l.prefix, "final_layer_norm"), err));
    m->held = false;
    SD_TRY(sd_act(m, &xg, g.dim, t, 1, 1, err));
    SD_TRY(sd_act(m, &pen, g.dim, t, 1, 1, err));
    SD_TRY(text_embed(m, &xg, &g, err));
    for (int i = 0; i < g.layers; i++) {
        if (i == g.layers - 1) SD_RUN(m, gk_cont(m->be, &pen, &xg), "bigG's penultimate layer");
        SD_TRY(text_layer(m, &xg, &g, i, err));
    }
    /* the two along features: a channel concatenation of {1, 1, C, 77} images */
    SD_TRY(sd_view(m, &ctx, &m->p.context, (size_t)((int64_t)which * m->images * dc * t) * sizeof(float),
                   (const int64_t[4]){1, 1, dc, t}, NULL, err));
    SD_TRY(sd_view(m, &a, &xl, 0, (const int64_t[4]){1, 1, l.dim, t}, NULL, err));
    SD_TRY(sd_view(m, &cc, &pen, 0, (const int64_t[4]){1, 1, g.dim, t}, NULL, err));
    SD_RUN(m, gk_concat(m->be, &ctx, &a, &cc), "text context");
    size_t vec = (size_t)((int64_t)which * m->images * c->adm_ch) * sizeof(float);
    SD_TRY(sd_view(m, &pooled, &m->p.vector, vec, (const int64_t[4]){c->text2_dim, 1, 1, 1}, NULL, err));
    SD_TRY(pooled_text(m, &pooled, &xg, &g, which, err));
    SD_TRY(sd_view(m, &sizes, &m->p.vector, vec + (size_t)c->text2_dim * sizeof(float),
                   (const int64_t[4]){SD_ADM_EMBED, SD_ADM_VALUES, 1, 1}, NULL, err));
    SD_RUN(m, gk_timestep_embed(m->be, &sizes, &m->p.adm_vals, SD_ADM_EMBED, 10000.0f), "size embedding");
    return 0;
}

int sd_text_forward(sd_model *m, int which, gc_err *err) {
    if (!m->planning) m->cursor = m->part_first[SD_PART_TEXT];
    m->top = 0;
    m->held = false;
    int rc = m->c.text2_dim ? text_forward_xl(m, which, err) : text_forward_sd1(m, which, err);
    m->held = false;
    return rc;
}

/* ---- the UNet ---------------------------------------------------------------------------------------- */

/* The largest activation of the UNet's middle and up path: a level's output, or its upsampled
 * copy one level up. */
static int64_t unet_chain_elems(const sd_model *m) {
    const sd_config *c = &m->c;
    int64_t best = 0;
    for (int l = 0; l < c->n_levels; l++) {
        int64_t w = m->lw >> l, h = m->lh >> l, e = w * h * c->unet_ch * c->ch_mult[l] * m->batch * (l ? 4 : 1);
        if (e > best) best = e;
    }
    return best;
}

/* semb{4·ch, N} = silu(emb): emb = time_embed.2(silu(time_embed.0(timestep_embedding(t, ch)))),
 * plus SDXL's label_emb.0.2(silu(label_emb.0.0(y))) of the vector conditioning y = p.vector
 * {adm_ch, N} (openaimodel's num_classes "sequential"). */
int sd_unet_embedding(sd_model *m, gk_tensor *semb, gc_err *err) {
    const char *P = "model.diffusion_model";
    name_t b;
    int64_t ch = m->c.unet_ch, n = m->batch;
    uint64_t mark = sd_mark(m);
    gk_tensor te, e1;
    SD_TRY(sd_act(m, &te, ch, n, 1, 1, err));
    SD_TRY(sd_act(m, &e1, 4 * ch, n, 1, 1, err));
    SD_RUN(m, gk_timestep_embed(m->be, &te, &m->p.tsteps, (int)ch, 10000.0f), "timestep embedding");
    SD_TRY(linear(m, &e1, &te, nm(b, P, "time_embed.0"), true, err));
    SD_RUN(m, gk_silu(m->be, &e1, &e1), "time embedding");
    SD_TRY(linear(m, semb, &e1, nm(b, P, "time_embed.2"), true, err));
    if (m->c.adm_ch) {
        gk_tensor y2;
        SD_TRY(sd_act(m, &y2, 4 * ch, n, 1, 1, err));
        SD_TRY(linear(m, &e1, &m->p.vector, nm(b, P, "label_emb.0.0"), true, err));
        SD_RUN(m, gk_silu(m->be, &e1, &e1), "label embedding");
        SD_TRY(linear(m, &y2, &e1, nm(b, P, "label_emb.0.2"), true, err));
        SD_RUN(m, gk_add(m->be, semb, semb, &y2), "label embedding");
    }
    SD_RUN(m, gk_silu(m->be, semb, semb), "time embedding");
    sd_release(m, mark);
    return 0;
}

int sd_unet_forward(sd_model *m, gc_err *err) {
    const sd_config *c = &m->c;
    if (!m->planning) m->cursor = m->part_first[SD_PART_UNET];
    m->top = 0;
    const char *P = "model.diffusion_model";
    name_t b;
    int64_t n = m->batch, ch = c->unet_ch;
    gk_tensor semb, skips[64], o;
    int ns = 0, last = c->n_levels - 1;
    SD_TRY(sd_act(m, &semb, 4 * ch, n, 1, 1, err));
    SD_TRY(sd_unet_embedding(m, &semb, err));
    /* down: every block's output is a skip */
    SD_TRY(sd_act(m, &skips[ns], m->lw, m->lh, ch, n, err));
    SD_TRY(conv(m, &skips[ns], &m->p.unet_in, nm(b, P, "input_blocks.0.0"), 1, 1, 3, err));
    ns++;
    int idx = 1;
    for (int lv = 0; lv < c->n_levels; lv++) {
        for (int r = 0; r < c->res_blocks; r++, idx++) {
            const gk_tensor *x = &skips[ns - 1];
            snprintf(b, sizeof b, "%s.input_blocks.%d.0", P, idx);
            SD_TRY(act_like(m, &skips[ns], x, ch * c->ch_mult[lv], err));
            SD_TRY(resblock(m, &skips[ns], x, b, &unet_res, &semb, err));
            if (c->depth[lv]) {
                SD_TRY(act_like(m, &o, &skips[ns], skips[ns].ne[2], err));
                snprintf(b, sizeof b, "%s.input_blocks.%d.1", P, idx);
                SD_TRY(spatial_transformer(m, &o, &skips[ns], b, c->depth[lv], err));
                skips[ns] = o;   /* the block's output; the resblock's stays below, unused */
            }
            ns++;
        }
        if (lv != last) {
            const gk_tensor *x = &skips[ns - 1];
            snprintf(b, sizeof b, "%s.input_blocks.%d.0.op", P, idx++);
            SD_TRY(sd_act(m, &skips[ns], x->ne[0] / 2, x->ne[1] / 2, x->ne[2], n, err));
            SD_TRY(conv(m, &skips[ns], x, b, 2, 1, 3, err));
            ns++;
        }
    }
    /* middle, then up: a chain above the skips */
    chain cn;
    SD_TRY(chain_init(m, &cn, unet_chain_elems(m), err));
    const gk_tensor *x = &skips[ns - 1];
    int64_t cmid = x->ne[2];
    SD_TRY(chain_next(m, &cn, &o, x->ne[0], x->ne[1], cmid, n, err));
    SD_TRY(resblock(m, &o, x, nm(b, P, "middle_block.0"), &unet_res, &semb, err));
    chain_advance(&cn, &o);
    int mid = 1;
    if (c->depth_mid) {
        SD_TRY(chain_next(m, &cn, &o, o.ne[0], o.ne[1], cmid, n, err));
        SD_TRY(spatial_transformer(m, &o, &cn.h, nm(b, P, "middle_block.1"), c->depth_mid, err));
        chain_advance(&cn, &o);
        mid = 2;
    }
    SD_TRY(chain_next(m, &cn, &o, o.ne[0], o.ne[1], cmid, n, err));
    SD_TRY(resblock(m, &o, &cn.h, nm(b, P, mid == 2 ? "middle_block.2" : "middle_block.1"), &unet_res, &semb, err));
    chain_advance(&cn, &o);
    idx = 0;
    for (int lv = last; lv >= 0; lv--) {
        int64_t cout = ch * c->ch_mult[lv];
        for (int r = 0; r <= c->res_blocks; r++, idx++) {
            const gk_tensor *s = &skips[--ns];
            uint64_t mark = sd_mark(m);
            gk_tensor cat;
            SD_TRY(act_like(m, &cat, &cn.h, cn.h.ne[2] + s->ne[2], err));
            SD_RUN(m, gk_concat(m->be, &cat, &cn.h, s), "skip concatenation");
            snprintf(b, sizeof b, "%s.output_blocks.%d.0", P, idx);
            SD_TRY(chain_next(m, &cn, &o, cat.ne[0], cat.ne[1], cout, n, err));
            SD_TRY(resblock(m, &o, &cat, b, &unet_res, &semb, err));
            sd_release(m, mark);
            chain_advance(&cn, &o);
            int sub = 1;
            if (c->depth[lv]) {
                snprintf(b, sizeof b, "%s.output_blocks.%d.1", P, idx);
                SD_TRY(chain_next(m, &cn, &o, o.ne[0], o.ne[1], cout, n, err));
                SD_TRY(spatial_transformer(m, &o, &cn.h, b, c->depth[lv], err));
                chain_advance(&cn, &o);
                sub = 2;
            }
            if (lv != 0 && r == c->res_blocks) {
                snprintf(b, sizeof b, "%s.output_blocks.%d.%d.conv", P, idx, sub);
                SD_TRY(chain_next(m, &cn, &o, 2 * o.ne[0], 2 * o.ne[1], cout, n, err));
                SD_TRY(upsample(m, &o, &cn.h, b, err));
                chain_advance(&cn, &o);
            }
        }
    }
    /* out: norm, silu, conv to the latent's channels, into eps */
    gk_tensor g;
    SD_TRY(act_like(m, &g, &cn.h, cn.h.ne[2], err));
    SD_TRY(group_norm(m, &g, &cn.h, nm(b, P, "out.0"), 1e-5f, err));
    SD_RUN(m, gk_silu(m->be, &g, &g), "UNet out");
    return conv(m, &m->p.eps, &g, nm(b, P, "out.2"), 1, 1, 3, err);
}

/* ---- the VAE decoder ------------------------------------------------------------------------------- */

static int64_t vae_chain_elems(const sd_model *m) {
    const sd_config *c = &m->c;
    int64_t best = 0, top = c->vae_ch * c->vae_mult[c->vae_levels - 1];
    for (int i = c->vae_levels - 1; i >= 0; i--) {
        int64_t scale = (int64_t)1 << (c->vae_levels - 1 - i), w = m->lw * scale, h = m->lh * scale;
        int64_t cin = i == c->vae_levels - 1 ? top : c->vae_ch * c->vae_mult[i + 1];
        int64_t cmax = cin > c->vae_ch * c->vae_mult[i] ? cin : c->vae_ch * c->vae_mult[i];
        if (w * h * cmax > best) best = w * h * cmax;
    }
    return best;
}

int sd_vae_forward(sd_model *m, int image, gc_err *err) {
    const sd_config *c = &m->c;
    if (!m->planning) m->cursor = m->part_first[SD_PART_VAE];
    m->top = 0;
    const char *P = "first_stage_model";
    name_t b;
    int64_t top_ch = c->vae_ch * c->vae_mult[c->vae_levels - 1];
    gk_tensor z, zq, o, lat, img;
    size_t f = sizeof(float);
    SD_TRY(sd_view(m, &lat, &m->p.latent, (size_t)(image * m->lw * m->lh * c->latent_ch) * f,
                   (const int64_t[4]){m->lw, m->lh, c->latent_ch, 1}, NULL, err));
    SD_TRY(sd_view(m, &img, &m->p.image, (size_t)((int64_t)image * m->s.width * m->s.height * 3) * f,
                   (const int64_t[4]){m->s.width, m->s.height, 3, 1}, NULL, err));
    SD_TRY(sd_act(m, &z, m->lw, m->lh, c->latent_ch, 1, err));
    SD_TRY(sd_act(m, &zq, m->lw, m->lh, c->latent_ch, 1, err));
    SD_RUN(m, gk_scale(m->be, &z, &lat, 1.0f / m->c.latent_scale), "latent scaling");
    SD_TRY(conv(m, &zq, &z, nm(b, P, "post_quant_conv"), 1, 0, 1, err));
    chain cn;
    SD_TRY(chain_init(m, &cn, vae_chain_elems(m), err));
    SD_TRY(chain_next(m, &cn, &o, m->lw, m->lh, top_ch, 1, err));
    SD_TRY(conv(m, &o, &zq, nm(b, P, "decoder.conv_in"), 1, 1, 3, err));
    chain_advance(&cn, &o);
    SD_TRY(chain_next(m, &cn, &o, m->lw, m->lh, top_ch, 1, err));
    SD_TRY(resblock(m, &o, &cn.h, nm(b, P, "decoder.mid.block_1"), &vae_res, NULL, err));
    chain_advance(&cn, &o);
    SD_TRY(chain_next(m, &cn, &o, m->lw, m->lh, top_ch, 1, err));
    SD_TRY(vae_attention(m, &o, &cn.h, nm(b, P, "decoder.mid.attn_1"), err));
    chain_advance(&cn, &o);
    SD_TRY(chain_next(m, &cn, &o, m->lw, m->lh, top_ch, 1, err));
    SD_TRY(resblock(m, &o, &cn.h, nm(b, P, "decoder.mid.block_2"), &vae_res, NULL, err));
    chain_advance(&cn, &o);
    for (int i = c->vae_levels - 1; i >= 0; i--) {
        int64_t cout = c->vae_ch * c->vae_mult[i];
        for (int j = 0; j <= c->vae_res_blocks; j++) {
            snprintf(b, sizeof b, "%s.decoder.up.%d.block.%d", P, i, j);
            SD_TRY(chain_next(m, &cn, &o, cn.h.ne[0], cn.h.ne[1], cout, 1, err));
            SD_TRY(resblock(m, &o, &cn.h, b, &vae_res, NULL, err));
            chain_advance(&cn, &o);
        }
        if (i != 0) {
            snprintf(b, sizeof b, "%s.decoder.up.%d.upsample.conv", P, i);
            SD_TRY(chain_next(m, &cn, &o, 2 * cn.h.ne[0], 2 * cn.h.ne[1], cout, 1, err));
            SD_TRY(upsample(m, &o, &cn.h, b, err));
            chain_advance(&cn, &o);
        }
    }
    gk_tensor g;
    SD_TRY(act_like(m, &g, &cn.h, cn.h.ne[2], err));
    SD_TRY(group_norm(m, &g, &cn.h, nm(b, P, "decoder.norm_out"), 1e-6f, err));
    SD_RUN(m, gk_silu(m->be, &g, &g), "VAE out");
    return conv(m, &img, &g, nm(b, P, "decoder.conv_out"), 1, 1, 3, err);
}
