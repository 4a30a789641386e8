/* The three networks of Stable Diffusion 1.x, one function per block, tensor names as in the
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

/* y{Wo, Ho, cout, N} = conv_k×k(x) + bias, weights pre.weight {k, k, Cin, cout}, pre.bias. */
static int conv(sd_model *m, gk_tensor *y, const gk_tensor *x, const char *pre, int stride, int pad, int k,
                gc_err *err) {
    name_t a, b;
    int64_t cin = x->ne[2], cout = y->ne[2];
    const gk_tensor *w = sd_weight(m, nm(a, pre, "weight"), SD_CONV, k, k, cin, cout, err);
    if (!w) return -1;
    const gk_tensor *bias = sd_weight(m, nm(b, pre, "bias"), SD_VECTOR_ZERO, cout, 1, 1, 1, err);
    if (!bias) return -1;
    m->flops += 2.0 * k * k * cin * cout * y->ne[0] * y->ne[1] * y->ne[3];
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
    m->flops += 2.0 * k * nout * rows;
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
    m->flops += 4.0 * c * tq * tk * n;   /* q·kᵀ and p·v, 2 FLOPs a multiply-add each */
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
    SD_TRY(attend(m, &o, &q, &k, &v, m->c.unet_heads, pre, err));
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

/* SD 1.x's SpatialTransformer: out = x + proj_out(pixels(block(tokens(proj_in(norm(x)))))),
 * proj_in and proj_out 1×1 convolutions, x{W, H, C, N}. */
static int spatial_transformer(sd_model *m, gk_tensor *out, const gk_tensor *x, const char *pre, gc_err *err) {
    name_t b;
    int64_t c = x->ne[2];
    uint64_t mark = sd_mark(m);
    gk_tensor h, hp, t;
    SD_TRY(act_like(m, &h, x, c, err));
    SD_TRY(act_like(m, &hp, x, c, err));
    SD_TRY(sd_act(m, &t, c, x->ne[0] * x->ne[1], x->ne[3], 1, err));
    SD_TRY(group_norm(m, &h, x, nm(b, pre, "norm"), 1e-6f, err));
    SD_TRY(conv(m, &hp, &h, nm(b, pre, "proj_in"), 1, 0, 1, err));
    SD_TRY(to_tokens(m, &t, &hp, err));
    SD_TRY(basic_transformer(m, &t, nm(b, pre, "transformer_blocks.0"), err));
    SD_TRY(to_image(m, &h, &t, err));
    SD_TRY(conv(m, &hp, &h, nm(b, pre, "proj_out"), 1, 0, 1, err));
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

/* ---- the text encoder ---------------------------------------------------------------------------- */

int sd_text_forward(sd_model *m, int which, gc_err *err) {
    const sd_config *c = &m->c;
    if (!m->planning) m->cursor = m->part_first[SD_PART_TEXT];
    m->top = 0;
    const char *P = "cond_stage_model.transformer.text_model";
    name_t b, l;
    int64_t d = c->text_dim, t = c->text_ctx;
    gk_tensor x, h, q, k, v, o, f;
    SD_TRY(sd_act(m, &x, d, t, 1, 1, err));
    const gk_tensor *tok = sd_weight(m, nm(b, P, "embeddings.token_embedding.weight"), SD_EMBED, d, c->text_vocab, 1, 1, err);
    if (!tok) return -1;
    SD_RUN(m, gk_embedding(m->be, &x, tok, &m->p.ids), "token embedding");
    const gk_tensor *pos = sd_weight(m, nm(b, P, "embeddings.position_embedding.weight"), SD_VECTOR_ZERO, d, t, 1, 1, err);
    if (!pos) return -1;
    SD_RUN(m, gk_add(m->be, &x, &x, pos), "position embedding");
    uint64_t mark = sd_mark(m);
    for (int i = 0; i < c->text_layers; i++) {
        snprintf(l, sizeof l, "%s.encoder.layers.%d", P, i);
        SD_TRY(sd_act(m, &h, d, t, 1, 1, err));
        SD_TRY(sd_act(m, &q, d, t, 1, 1, err));
        SD_TRY(sd_act(m, &k, d, t, 1, 1, err));
        SD_TRY(sd_act(m, &v, d, t, 1, 1, err));
        SD_TRY(sd_act(m, &o, d, t, 1, 1, err));
        SD_TRY(sd_act(m, &f, 4 * d, t, 1, 1, err));
        /* x += out_proj(causal attention(q, k, v of layer_norm1(x))) */
        SD_TRY(layer_norm(m, &h, &x, nm(b, l, "layer_norm1"), err));
        SD_TRY(linear(m, &q, &h, nm(b, l, "self_attn.q_proj"), true, err));
        SD_TRY(linear(m, &k, &h, nm(b, l, "self_attn.k_proj"), true, err));
        SD_TRY(linear(m, &v, &h, nm(b, l, "self_attn.v_proj"), true, err));
        SD_RUN(m, gk_kv_store(m->be, &m->p.kcache, &k, 0), "text keys");
        SD_RUN(m, gk_kv_store(m->be, &m->p.vcache, &v, 0), "text values");
        int hd = (int)(d / c->text_heads);
        gk_attn_params ap = {c->text_heads, c->text_heads, hd, 0, 1.0f / sqrtf((float)hd)};
        m->flops += 2.0 * d * t * (t + 1);   /* causal: half of q·kᵀ and p·v */
        SD_RUN(m, gk_attention(m->be, &o, &q, &m->p.kcache, &m->p.vcache, &ap), "text attention");
        SD_TRY(linear(m, &h, &o, nm(b, l, "self_attn.out_proj"), true, err));
        SD_RUN(m, gk_add(m->be, &x, &x, &h), "text attention residual");
        /* x += fc2(quick_gelu(fc1(layer_norm2(x)))) */
        SD_TRY(layer_norm(m, &h, &x, nm(b, l, "layer_norm2"), err));
        SD_TRY(linear(m, &f, &h, nm(b, l, "mlp.fc1"), true, err));
        SD_RUN(m, gk_gelu_quick(m->be, &f, &f), "text mlp");
        SD_TRY(linear(m, &h, &f, nm(b, l, "mlp.fc2"), true, err));
        SD_RUN(m, gk_add(m->be, &x, &x, &h), "text mlp residual");
        sd_release(m, mark);
    }
    gk_tensor ctx;
    SD_TRY(sd_view(m, &ctx, &m->p.context, (size_t)(which * d * t) * sizeof(float), (const int64_t[4]){d, t, 1, 1},
                   NULL, err));
    return layer_norm(m, &ctx, &x, nm(b, P, "final_layer_norm"), err);
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

/* emb{4·ch, N} = time_embed.2(silu(time_embed.0(timestep_embedding(t, ch)))); semb = silu(emb). */
static int time_embedding(sd_model *m, gk_tensor *semb, const char *P, gc_err *err) {
    name_t b;
    int64_t ch = m->c.unet_ch, n = m->batch;
    gk_tensor te, e1;
    SD_TRY(sd_act(m, &te, ch, n, 1, 1, err));
    SD_TRY(sd_act(m, &e1, 4 * ch, n, 1, 1, err));
    SD_RUN(m, gk_timestep_embed(m->be, &te, &m->p.tsteps, (int)ch, 10000.0f), "timestep embedding");
    SD_TRY(linear(m, &e1, &te, nm(b, P, "time_embed.0"), true, err));
    SD_RUN(m, gk_silu(m->be, &e1, &e1), "time embedding");
    SD_TRY(linear(m, semb, &e1, nm(b, P, "time_embed.2"), true, err));
    SD_RUN(m, gk_silu(m->be, semb, semb), "time embedding");
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
    SD_TRY(time_embedding(m, &semb, P, err));
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
            if (c->attn_level[lv]) {
                SD_TRY(act_like(m, &o, &skips[ns], skips[ns].ne[2], err));
                snprintf(b, sizeof b, "%s.input_blocks.%d.1", P, idx);
                SD_TRY(spatial_transformer(m, &o, &skips[ns], b, err));
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
    SD_TRY(chain_next(m, &cn, &o, o.ne[0], o.ne[1], cmid, n, err));
    SD_TRY(spatial_transformer(m, &o, &cn.h, nm(b, P, "middle_block.1"), err));
    chain_advance(&cn, &o);
    SD_TRY(chain_next(m, &cn, &o, o.ne[0], o.ne[1], cmid, n, err));
    SD_TRY(resblock(m, &o, &cn.h, nm(b, P, "middle_block.2"), &unet_res, &semb, err));
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
            if (c->attn_level[lv]) {
                snprintf(b, sizeof b, "%s.output_blocks.%d.1", P, idx);
                SD_TRY(chain_next(m, &cn, &o, o.ne[0], o.ne[1], cout, n, err));
                SD_TRY(spatial_transformer(m, &o, &cn.h, b, err));
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

int sd_vae_forward(sd_model *m, gc_err *err) {
    const sd_config *c = &m->c;
    if (!m->planning) m->cursor = m->part_first[SD_PART_VAE];
    m->top = 0;
    const char *P = "first_stage_model";
    name_t b;
    int64_t top_ch = c->vae_ch * c->vae_mult[c->vae_levels - 1];
    gk_tensor z, zq, o;
    SD_TRY(sd_act(m, &z, m->lw, m->lh, c->latent_ch, 1, err));
    SD_TRY(sd_act(m, &zq, m->lw, m->lh, c->latent_ch, 1, err));
    SD_RUN(m, gk_scale(m->be, &z, &m->p.latent, 1.0f / 0.18215f), "latent scaling");   /* SD 1.x's scale factor */
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
    return conv(m, &m->p.image, &g, nm(b, P, "decoder.conv_out"), 1, 1, 3, err);
}
