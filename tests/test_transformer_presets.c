/* The transformer presets built (needs issue 18's layers): vit-tiny and gpt-tiny give the
 * tensors of tools/models.py's ViTTiny() and GPTTiny() — names in PyTorch's state_dict order,
 * shapes, parameter counts (71,946 and 137,216, counted by PyTorch:
 * sum(p.numel() for p in models.preset(name)[0].parameters())) — the output shapes
 * ((10, 1, 1) and one prediction per position, (1, 64, 256)), and their overrides. The
 * expansion strings themselves are tested in test_arch_graph.c. */
#include <hesse/nn.h>

#include <string.h>

#include "check.h"

static int shape_is(const hesse_model *m, const char *name, int ndim, int64_t a, int64_t b,
                    int64_t c, int64_t d) {
    const hesse_tensor_info *t = hesse_model_find_tensor(m, name);
    const int64_t want[4] = {a, b, c, d};
    CHECK_MSG(t != NULL, "no tensor '%s'", name);
    if (!t || t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != want[i]) return 0;
    return 1;
}

static void check_output(const hesse_model *m, int c, int h, int w) {
    const hesse_layer *L = hesse_model_layer(m, hesse_model_num_layers(m) - 1);
    CHECK_MSG(L->out_c == c && L->out_h == h && L->out_w == w, "output %dx%dx%d, expected %dx%dx%d",
              L->out_c, L->out_h, L->out_w, c, h, w);
}

/* The parameter tensors in order: PyTorch's named_parameters() of the class. */
static void check_names(const hesse_model *m, const char *const *head, int nhead, int depth,
                        const char *const *tail, int ntail) {
    static const char *const block[] = {
        "ln_1.weight",          "ln_1.bias",          "attn.in_proj_weight", "attn.in_proj_bias",
        "attn.out_proj.weight", "attn.out_proj.bias", "ln_2.weight",         "ln_2.bias",
        "mlp.0.weight",         "mlp.0.bias",         "mlp.2.weight",        "mlp.2.bias"};
    REQUIRE(hesse_model_num_tensors(m) == nhead + 12 * depth + ntail);
    int at = 0;
    for (int i = 0; i < nhead; i++, at++)
        CHECK(strcmp(hesse_model_tensor(m, at)->name, head[i]) == 0);
    for (int b = 0; b < depth; b++)
        for (int i = 0; i < 12; i++, at++) {
            char want[64];
            snprintf(want, sizeof want, "blocks.%d.%s", b, block[i]);
            CHECK_MSG(strcmp(hesse_model_tensor(m, at)->name, want) == 0, "tensor %d is %s, not %s",
                      at, hesse_model_tensor(m, at)->name, want);
        }
    for (int i = 0; i < ntail; i++, at++)
        CHECK(strcmp(hesse_model_tensor(m, at)->name, tail[i]) == 0);
}

int main(void) {
    static const char *const gpt_head[] = {"tok.weight", "pos.weight"};
    static const char *const vit_head[] = {"patch.weight", "patch.bias", "pos.weight"};
    static const char *const tail[] = {"norm.weight", "norm.bias", "head.weight", "head.bias"};
    hesse_model *m = NULL;

    REQUIRE(hesse_model_create("gpt-tiny", 1, 64, 1, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    CHECK(hesse_model_num_params(m) == 137216);
    check_names(m, gpt_head, 2, 2, tail, 4);
    CHECK(shape_is(m, "tok.weight", 2, 256, 64, 0, 0));
    CHECK(shape_is(m, "pos.weight", 2, 64, 64, 0, 0));
    CHECK(shape_is(m, "blocks.1.attn.in_proj_weight", 2, 192, 64, 0, 0));
    CHECK(shape_is(m, "blocks.1.attn.in_proj_bias", 1, 192, 0, 0, 0));
    CHECK(shape_is(m, "blocks.0.attn.out_proj.weight", 2, 64, 64, 0, 0));
    CHECK(shape_is(m, "blocks.0.mlp.0.weight", 2, 256, 64, 0, 0));
    CHECK(shape_is(m, "head.weight", 2, 256, 64, 0, 0));
    check_output(m, 1, 64, 256);
    hesse_model_free(m);

    /* a shorter window than the context: posembed uses its first rows */
    REQUIRE(hesse_model_create("gpt-tiny", 1, 16, 1, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    check_output(m, 1, 16, 256);
    hesse_model_free(m);
    /* a longer one is refused ("context longer than posembed") */
    m = NULL;
    CHECK(hesse_model_create("gpt-tiny", 1, 65, 1, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_EINPUT &&
          !m);

    /* PyTorch: GPTTiny(num_classes=50, context=16, depth=1, width=32), 16,530 parameters */
    REQUIRE(hesse_model_create("gpt-tiny(context=16,width=32,depth=1,num_classes=50)", 1, 16, 1,
                               HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    CHECK(hesse_model_num_params(m) == 16530);
    check_names(m, gpt_head, 2, 1, tail, 4);
    check_output(m, 1, 16, 50);
    hesse_model_free(m);

    REQUIRE(hesse_model_create("vit-tiny", 1, 28, 28, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    CHECK(hesse_model_num_params(m) == 71946);
    check_names(m, vit_head, 3, 2, tail, 4);
    CHECK(shape_is(m, "patch.weight", 4, 64, 1, 7, 7));
    CHECK(shape_is(m, "pos.weight", 2, 16, 64, 0, 0));
    CHECK(shape_is(m, "blocks.1.mlp.0.weight", 2, 128, 64, 0, 0));
    CHECK(shape_is(m, "head.weight", 2, 10, 64, 0, 0));
    CHECK(hesse_model_num_outputs(m) == 10);
    check_output(m, 10, 1, 1);
    hesse_model_free(m);

    /* PyTorch: ViTTiny(num_classes=5, depth=3, width=16), 7,845 parameters */
    REQUIRE(hesse_model_create("vit-tiny(num_classes=5,depth=3,width=16)", 1, 28, 28,
                               HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    CHECK(hesse_model_num_params(m) == 7845);
    check_names(m, vit_head, 3, 3, tail, 4);
    check_output(m, 5, 1, 1);
    hesse_model_free(m);
    return test_summary("test_transformer_presets");
}
