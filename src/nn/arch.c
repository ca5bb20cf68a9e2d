/* Architecture strings: PyTorch module names in nn.Sequential order, resolved against an
 * input shape into layers with shapes and parameter views.
 *
 *   list    := item { "," item }
 *   item    := [ module ":" ] name [ "(" arg { "," arg } ")" ]
 *            | [ module ":" ] "residual" "(" list [ "|" [ list ] ] ")"
 *   module  := a dotted PyTorch module path, characters [A-Za-z0-9_.]
 *   arg     := value | key "=" value
 *   value   := number | "(" integer "," integer [ "," integer ] ")" | True | False | None
 *            | identifier | quoted identifier
 *
 * Names are case-insensitive and accept PyTorch's class names (Linear, Conv2d, MaxPool2d,
 * AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d, BatchNorm1d, LayerNorm, Flatten, ReLU, Tanh,
 * Sigmoid, GELU, Dropout, Dropout2d, Identity). A module path names the item's tensors
 * ("layer1.0.conv1" gives "layer1.0.conv1.weight"); an unnamed item is named by its position.
 * Inside residual(...) names are prefixed by the block's own: main items by their own name or
 * position in the main branch, shortcut items by their own name or "shortcut.<position>".
 * Whole strings may also be presets (presets.c). docs/architectures.md has the details. */
#include "nn/arch-impl.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Values per sample of any activation (the input included): kernels index a sample's values
 * with int. A larger request is a corrupt or hostile string, and refusing it here keeps every
 * shape computation below free of overflow. */
#define MAX_VALUES 2147483647LL
/* Parameters of the whole network: offsets and counts are int64, and stay exact as doubles. */
#define MAX_PARAMS (1LL << 50)

static const struct {
    const char *name;
    hesse_layer_kind kind;
} layer_names[] = {
    {"linear", HESSE_LAYER_LINEAR},
    {"conv2d", HESSE_LAYER_CONV2D},
    {"maxpool2d", HESSE_LAYER_MAXPOOL2D},
    {"avgpool2d", HESSE_LAYER_AVGPOOL2D},
    {"flatten", HESSE_LAYER_FLATTEN},
    {"relu", HESSE_LAYER_RELU},
    {"tanh", HESSE_LAYER_TANH},
    {"sigmoid", HESSE_LAYER_SIGMOID},
    {"gelu", HESSE_LAYER_GELU},
    {"batchnorm2d", HESSE_LAYER_BATCHNORM2D},
    {"batchnorm1d", HESSE_LAYER_BATCHNORM1D},
    {"layernorm", HESSE_LAYER_LAYERNORM},
    {"adaptiveavgpool2d", HESSE_LAYER_ADAPTIVEAVGPOOL2D},
    {"dropout", HESSE_LAYER_DROPOUT},
    {"dropout2d", HESSE_LAYER_DROPOUT2D},
    {"identity", HESSE_LAYER_IDENTITY},
    {"residual", HESSE_LAYER_RESIDUAL},
};
#define NUM_LAYER_NAMES (sizeof layer_names / sizeof layer_names[0])

const char *hesse_layer_kind_name(hesse_layer_kind kind) {
    if (kind == HESSE_LAYER_SHORTCUT) return "shortcut";
    if (kind == HESSE_LAYER_ADD) return "add";
    for (size_t i = 0; i < NUM_LAYER_NAMES; i++)
        if (layer_names[i].kind == kind) return layer_names[i].name;
    return "?";
}

/* PyTorch class names and aliases map onto the lower-case names of layer_names. */
static int lookup_kind(const char *name, hesse_layer_kind *kind) {
    static const struct {
        const char *alias, *name;
    } aliases[] = {{"maxpool", "maxpool2d"}, {"avgpool", "avgpool2d"}, {"conv", "conv2d"}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0) name = aliases[i].name;
    for (size_t i = 0; i < NUM_LAYER_NAMES; i++)
        if (strcmp(name, layer_names[i].name) == 0) {
            *kind = layer_names[i].kind;
            return 1;
        }
    return 0;
}

/* Levenshtein distance, for "did you mean" suggestions. */
static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 31 || lb > 31) return 99;
    int d[32][32];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static int unknown_layer(const arch_ctx *cx, const arch_item *it, const char *label) {
    const char *best = NULL;
    int best_d = 3;
    for (size_t i = 0; i < NUM_LAYER_NAMES; i++) {
        int d = edit_distance(it->name, layer_names[i].name);
        if (d < best_d) {
            best_d = d;
            best = layer_names[i].name;
        }
    }
    char hint[64] = "";
    if (best) snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    return hesse_error(HESSE_EINPUT,
                       "architecture: unknown layer '%s' at index %s, character %d of \"%s\"%s; "
                       "known: linear, conv2d, maxpool2d, avgpool2d, adaptiveavgpool2d, "
                       "batchnorm2d, batchnorm1d, layernorm, flatten, relu, tanh, sigmoid, gelu, "
                       "dropout, dropout2d, identity, residual",
                       it->name, label, it->pos + 1, cx->shown, hint);
}

/* Assigns the item's arguments from `first` on to named slots: positional ones in the order
 * of `names`, keyword ones by name. Unknown keywords and surplus positionals are errors. */
static int bind_args(const arch_ctx *cx, const arch_item *it, const char *label, int first,
                     const char *const *names, int nnames, const arch_arg **slots) {
    int positional = 0;
    for (int i = 0; i < nnames; i++) slots[i] = NULL;
    for (int a = first; a < it->nargs; a++) {
        const arch_arg *arg = &it->args[a];
        int slot = -1;
        if (arg->key[0] == '\0') {
            if (positional >= nnames)
                return hesse_error(HESSE_EINPUT,
                                   "architecture: layer %s %s takes at most %d arguments (\"%s\")",
                                   label, it->name, nnames + first, cx->shown);
            slot = positional++;
        } else {
            for (int i = 0; i < nnames; i++)
                if (strcmp(arg->key, names[i]) == 0) slot = i;
            if (slot < 0)
                return hesse_error(HESSE_EINPUT,
                                   "architecture: layer %s %s has no argument '%s' (\"%s\")", label,
                                   it->name, arg->key, cx->shown);
        }
        if (slots[slot])
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s %s: argument '%s' given twice (\"%s\")",
                               label, it->name, names[slot], cx->shown);
        slots[slot] = arg;
    }
    return HESSE_OK;
}

static int need_positive(const arch_ctx *cx, const arch_item *it, const char *label,
                         const char *what, const arch_arg *arg, int allow_zero, int *a, int *b,
                         int dflt) {
    if (!arg) {
        if (dflt < 0)
            return hesse_error(HESSE_EINPUT, "architecture: layer %s %s needs %s (\"%s\")", label,
                               it->name, what, cx->shown);
        *a = *b = dflt;
        return HESSE_OK;
    }
    if (arg->is_bool || arg->word[0] || arg->n < 1 || arg->n > 2 || arg->a < (allow_zero ? 0 : 1) ||
        arg->b < (allow_zero ? 0 : 1))
        return hesse_error(
            HESSE_EINPUT, "architecture: layer %s %s: %s must be a %s integer or pair (\"%s\")",
            label, it->name, what, allow_zero ? "non-negative" : "positive", cx->shown);
    *a = arg->a;
    *b = arg->b;
    return HESSE_OK;
}

/* A number in [lo, hi] (integers accepted), or dflt when absent. */
static int need_number(const arch_ctx *cx, const arch_item *it, const char *label, const char *what,
                       const arch_arg *arg, double lo, double hi, double dflt, double *out) {
    if (!arg) {
        *out = dflt;
        return HESSE_OK;
    }
    if (arg->is_bool || arg->is_none || arg->word[0] || arg->n > 1 || !(arg->f >= lo) ||
        !(arg->f <= hi))
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s: %s must be a number in [%g, %g] (\"%s\")",
                           label, it->name, what, lo, hi, cx->shown);
    *out = arg->f;
    return HESSE_OK;
}

/* True / False (also true / false, 1 / 0), or dflt when absent: the one parser of booleans. */
static int need_bool(const arch_ctx *cx, const arch_item *it, const char *label, const char *what,
                     const arch_arg *arg, int dflt, int *out) {
    if (!arg) {
        *out = dflt;
        return HESSE_OK;
    }
    if (!(arg->is_bool || (arg->n == 1 && (arg->a == 0 || arg->a == 1))))
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s: %s must be True or False (\"%s\")", label,
                           it->name, what, cx->shown);
    *out = arg->a;
    return HESSE_OK;
}

static int configure_norm(const arch_ctx *cx, const arch_item *it, const char *label,
                          hesse_layer *L) {
    const arch_arg *s[MAX_ARGS];
    int rc, unused, flag = 1;
    if (L->kind == HESSE_LAYER_LAYERNORM) {
        /* normalized_shape: the leading positional integers, or one tuple / keyword */
        int first = 0;
        while (first < it->nargs && first < 3 && !it->args[first].key[0] &&
               it->args[first].n == 1 && !it->args[first].is_bool)
            L->norm_shape[L->norm_ndim++] = it->args[first++].a;
        static const char *const names[] = {"normalized_shape", "eps", "elementwise_affine",
                                            "bias"};
        /* with the shape given positionally, the slots start at eps */
        if ((rc = bind_args(cx, it, label, first, first ? names + 1 : names, first ? 3 : 4, s)))
            return rc;
        const arch_arg *eps = s[first ? 0 : 1], *affine = s[first ? 1 : 2],
                       *bias = s[first ? 2 : 3];
        if (!first) {
            const arch_arg *shape = s[0];
            if (!shape)
                return hesse_error(
                    HESSE_EINPUT,
                    "architecture: layer %s layernorm needs normalized_shape (\"%s\")", label,
                    cx->shown);
            if (shape->n < 1 || shape->is_bool)
                return hesse_error(HESSE_EINPUT,
                                   "architecture: layer %s layernorm: normalized_shape must be "
                                   "1 to 3 positive integers (\"%s\")",
                                   label, cx->shown);
            L->norm_ndim = shape->n;
            for (int i = 0; i < shape->n; i++) L->norm_shape[i] = shape->v[i];
        }
        for (int i = 0; i < L->norm_ndim; i++)
            if (L->norm_shape[i] < 1)
                return hesse_error(HESSE_EINPUT,
                                   "architecture: layer %s layernorm: normalized_shape must be "
                                   "positive (\"%s\")",
                                   label, cx->shown);
        if ((rc = need_number(cx, it, label, "eps", eps, 0, 1e3, 1e-5, &L->eps))) return rc;
        if ((rc = need_bool(cx, it, label, "elementwise_affine", affine, 1, &L->has_weight)))
            return rc;
        if ((rc = need_bool(cx, it, label, "bias", bias, 1, &flag))) return rc;
        L->has_bias = L->has_weight && flag;
        return HESSE_OK;
    }
    static const char *const names[] = {"num_features", "eps", "momentum", "affine",
                                        "track_running_stats"};
    if ((rc = bind_args(cx, it, label, 0, names, 5, s)) != HESSE_OK) return rc;
    if ((rc = need_positive(cx, it, label, "num_features", s[0], 0, &L->in_c, &unused, -1)))
        return rc;
    if (s[0]->n != 1)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s: num_features must be one "
                           "integer (\"%s\")",
                           label, it->name, cx->shown);
    L->out_c = L->in_c;
    if ((rc = need_number(cx, it, label, "eps", s[1], 0, 1e3, 1e-5, &L->eps))) return rc;
    if (s[2] && s[2]->is_none)
        L->momentum = NAN; /* a cumulative average in training; the same in evaluation */
    else if ((rc = need_number(cx, it, label, "momentum", s[2], 0, 1, 0.1, &L->momentum)))
        return rc;
    if ((rc = need_bool(cx, it, label, "affine", s[3], 1, &L->has_weight))) return rc;
    L->has_bias = L->has_weight;
    if ((rc = need_bool(cx, it, label, "track_running_stats", s[4], 1, &flag))) return rc;
    if (!flag)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s: track_running_stats=False normalises with "
                           "each batch's own statistics even in evaluation mode; hesse supports "
                           "batch norm in evaluation mode with running statistics only (\"%s\")",
                           label, it->name, cx->shown);
    return HESSE_OK;
}

/* Fills the layer's kind-specific settings from the item's arguments. */
static int configure(const arch_ctx *cx, const arch_item *it, const char *label, hesse_layer *L) {
    const arch_arg *s[MAX_ARGS];
    int rc, unused;
    switch (L->kind) {
    case HESSE_LAYER_LINEAR: {
        static const char *const names[] = {"in_features", "out_features", "bias"};
        if ((rc = bind_args(cx, it, label, 0, names, 3, s)) != HESSE_OK) return rc;
        if ((rc = need_positive(cx, it, label, "in_features", s[0], 0, &L->in_c, &unused, -1)))
            return rc;
        if ((rc = need_positive(cx, it, label, "out_features", s[1], 0, &L->out_c, &unused, -1)))
            return rc;
        if ((rc = need_bool(cx, it, label, "bias", s[2], 1, &L->has_bias))) return rc;
        L->has_weight = 1;
        return HESSE_OK;
    }
    case HESSE_LAYER_CONV2D: {
        static const char *const names[] = {"in_channels", "out_channels", "kernel_size", "stride",
                                            "padding",     "bias",         "dilation",    "groups"};
        if ((rc = bind_args(cx, it, label, 0, names, 8, s)) != HESSE_OK) return rc;
        if ((rc = need_positive(cx, it, label, "in_channels", s[0], 0, &L->in_c, &unused, -1)))
            return rc;
        if ((rc = need_positive(cx, it, label, "out_channels", s[1], 0, &L->out_c, &unused, -1)))
            return rc;
        if ((rc = need_positive(cx, it, label, "kernel_size", s[2], 0, &L->kh, &L->kw, -1)))
            return rc;
        if ((rc = need_positive(cx, it, label, "stride", s[3], 0, &L->sh, &L->sw, 1))) return rc;
        if ((rc = need_positive(cx, it, label, "padding", s[4], 1, &L->ph, &L->pw, 0))) return rc;
        if ((rc = need_bool(cx, it, label, "bias", s[5], 1, &L->has_bias))) return rc;
        L->has_weight = 1;
        if ((s[6] && (s[6]->a != 1 || s[6]->b != 1)) || (s[7] && s[7]->a != 1))
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s conv2d: only dilation=1 and groups=1 are "
                               "supported (\"%s\")",
                               label, cx->shown);
        return HESSE_OK;
    }
    case HESSE_LAYER_MAXPOOL2D:
    case HESSE_LAYER_AVGPOOL2D: {
        static const char *const names[] = {"kernel_size", "stride", "padding", "ceil_mode",
                                            "count_include_pad"};
        if ((rc = bind_args(cx, it, label, 0, names, 5, s)) != HESSE_OK) return rc;
        if ((rc = need_positive(cx, it, label, "kernel_size", s[0], 0, &L->kh, &L->kw, -1)))
            return rc;
        if ((rc = need_positive(cx, it, label, "stride", s[1], 0, &L->sh, &L->sw, 0))) return rc;
        if (!s[1]) {
            L->sh = L->kh; /* PyTorch: stride defaults to kernel_size */
            L->sw = L->kw;
        }
        if ((rc = need_positive(cx, it, label, "padding", s[2], 1, &L->ph, &L->pw, 0))) return rc;
        if (L->ph * 2 > L->kh || L->pw * 2 > L->kw)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s %s: padding must be at most half the "
                               "kernel size (\"%s\")",
                               label, it->name, cx->shown);
        if ((s[3] && s[3]->a != 0) || (s[4] && s[4]->a != 1))
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s %s: only ceil_mode=False and "
                               "count_include_pad=True are supported (\"%s\")",
                               label, it->name, cx->shown);
        return HESSE_OK;
    }
    case HESSE_LAYER_ADAPTIVEAVGPOOL2D: {
        static const char *const names[] = {"output_size"};
        if ((rc = bind_args(cx, it, label, 0, names, 1, s)) != HESSE_OK) return rc;
        return need_positive(cx, it, label, "output_size", s[0], 0, &L->out_h, &L->out_w, -1);
    }
    case HESSE_LAYER_BATCHNORM2D:
    case HESSE_LAYER_BATCHNORM1D:
    case HESSE_LAYER_LAYERNORM:
        return configure_norm(cx, it, label, L);
    case HESSE_LAYER_DROPOUT:
    case HESSE_LAYER_DROPOUT2D: {
        static const char *const names[] = {"p", "inplace"};
        if ((rc = bind_args(cx, it, label, 0, names, 2, s)) != HESSE_OK) return rc;
        return need_number(cx, it, label, "p", s[0], 0, 1, 0.5, &L->p);
    }
    case HESSE_LAYER_IDENTITY:
        return bind_args(cx, it, label, 0, NULL, 0, s);
    case HESSE_LAYER_GELU: {
        static const char *const names[] = {"approximate"};
        if ((rc = bind_args(cx, it, label, 0, names, 1, s)) != HESSE_OK) return rc;
        if (s[0] && strcmp(s[0]->word, "none") != 0)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s gelu: only approximate='none' (the exact "
                               "erf form) is supported (\"%s\")",
                               label, cx->shown);
        return HESSE_OK;
    }
    case HESSE_LAYER_FLATTEN: {
        static const char *const names[] = {"start_dim", "end_dim"};
        if ((rc = bind_args(cx, it, label, 0, names, 2, s)) != HESSE_OK) return rc;
        if ((s[0] && s[0]->a != 1) || (s[1] && s[1]->a != -1))
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s flatten: only start_dim=1, end_dim=-1 "
                               "(\"%s\")",
                               label, cx->shown);
        return HESSE_OK;
    }
    default: {
        static const char *const names[] = {"inplace"};
        return bind_args(cx, it, label, 0, names, 1, s);
    }
    }
}

static int check_layernorm(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h,
                           int w, const char *in_desc) {
    const int dims[3] = {c, h, w};
    const int flat = h == 1 && w == 1;
    int ok = 1;
    if (flat) /* a [N, c] tensor in PyTorch */
        ok = L->norm_ndim == 1 && L->norm_shape[0] == c;
    else /* [N, c, h, w]: a suffix of (c, h, w) */
        for (int i = 0; i < L->norm_ndim; i++)
            ok = ok && L->norm_shape[i] == dims[3 - L->norm_ndim + i];
    if (!ok) {
        char want[48];
        snprintf(want, sizeof want, flat ? "(%d)" : "a suffix of (%d,%d,%d)", c, h, w);
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s layernorm: normalized_shape must be %s for its "
                           "input %s (\"%s\")",
                           label, want, in_desc, cx->shown);
    }
    L->group = 1;
    for (int i = 0; i < L->norm_ndim; i++) L->group *= L->norm_shape[i];
    return HESSE_OK;
}

/* Output shape of layer L given its input shape; checks that the input fits. */
static int resolve_shape(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h,
                         int w) {
    int oc = c, oh = h, ow = w, rc;
    char in_desc[64];
    snprintf(in_desc, sizeof in_desc, "%dx%dx%d", c, h, w);
    switch (L->kind) {
    case HESSE_LAYER_LINEAR:
        if (h != 1 || w != 1)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s linear(%d,%d) needs flat input but gets "
                               "%s (add flatten before it) (\"%s\")",
                               label, L->in_c, L->out_c, in_desc, cx->shown);
        if (c != L->in_c)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s linear(%d,%d) expects %d input features, "
                               "the layers before it give %d (\"%s\")",
                               label, L->in_c, L->out_c, L->in_c, c, cx->shown);
        oc = L->out_c;
        break;
    case HESSE_LAYER_CONV2D:
    case HESSE_LAYER_MAXPOOL2D:
    case HESSE_LAYER_AVGPOOL2D: {
        if (L->kind == HESSE_LAYER_CONV2D && c != L->in_c)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s conv2d expects %d input channels, the "
                               "input there is %s (\"%s\")",
                               label, L->in_c, in_desc, cx->shown);
        if (L->kind != HESSE_LAYER_CONV2D) L->in_c = L->out_c = c;
        /* In 64 bits: padding may be up to 1e9 on each side. */
        int64_t ph = (int64_t)h + 2 * (int64_t)L->ph, pw = (int64_t)w + 2 * (int64_t)L->pw;
        if (ph < L->kh || pw < L->kw)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s %s with kernel %dx%d does not fit its "
                               "input %s (\"%s\")",
                               label, hesse_layer_kind_name(L->kind), L->kh, L->kw, in_desc,
                               cx->shown);
        int64_t oh64 = (ph - L->kh) / L->sh + 1, ow64 = (pw - L->kw) / L->sw + 1;
        if (oh64 > MAX_VALUES || ow64 > MAX_VALUES)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s %s gives an output of %lldx%lld, larger "
                               "than %lld values a side (\"%s\")",
                               label, hesse_layer_kind_name(L->kind), (long long)oh64,
                               (long long)ow64, MAX_VALUES, cx->shown);
        oh = (int)oh64;
        ow = (int)ow64;
        oc = L->out_c;
        break;
    }
    case HESSE_LAYER_ADAPTIVEAVGPOOL2D:
        oh = L->out_h;
        ow = L->out_w;
        break;
    case HESSE_LAYER_BATCHNORM2D:
    case HESSE_LAYER_BATCHNORM1D:
        if (L->kind == HESSE_LAYER_BATCHNORM1D && (h != 1 || w != 1))
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s batchnorm1d(%d) needs flat input but gets "
                               "%s (use batchnorm2d for channels) (\"%s\")",
                               label, L->in_c, in_desc, cx->shown);
        if (c != L->in_c)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s %s(%d) expects %d %s, the input there is "
                               "%s (\"%s\")",
                               label, hesse_layer_kind_name(L->kind), L->in_c, L->in_c,
                               L->kind == HESSE_LAYER_BATCHNORM1D ? "features" : "channels",
                               in_desc, cx->shown);
        break;
    case HESSE_LAYER_LAYERNORM:
        if ((rc = check_layernorm(cx, label, L, c, h, w, in_desc)) != HESSE_OK) return rc;
        break;
    case HESSE_LAYER_FLATTEN:
        oc = c * h * w; /* at most MAX_VALUES: the input's size, checked below */
        oh = ow = 1;
        break;
    default:
        break;
    }
    /* Each factor is below 2^31, so the first product cannot overflow 64 bits. */
    int64_t values = (int64_t)oc * oh;
    if (values > MAX_VALUES || values * ow > MAX_VALUES)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s gives %dx%dx%d values per sample, more than "
                           "%lld (\"%s\")",
                           label, hesse_layer_kind_name(L->kind), oc, oh, ow, MAX_VALUES,
                           cx->shown);
    L->in_c = L->kind == HESSE_LAYER_LINEAR || L->kind == HESSE_LAYER_CONV2D ? L->in_c : c;
    L->in_h = h;
    L->in_w = w;
    L->out_c = oc;
    L->out_h = oh;
    L->out_w = ow;
    return HESSE_OK;
}

/* A double in its shortest text that reads back to the same value. */
static void format_double(char *buf, size_t cap, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* The longest canonical text of one layer: conv2d with ten-digit numbers everywhere is 127
 * characters, a layer norm with three of them and every keyword about 140. */
#define LAYER_TEXT 192

void hesse_layer_describe(const hesse_layer *L, char *buf, size_t cap) {
    char k[48], st[48] = "", pd[48] = "", bias[16] = "", num[40];
    if (L->kh == L->kw)
        snprintf(k, sizeof k, "%d", L->kh);
    else
        snprintf(k, sizeof k, "(%d,%d)", L->kh, L->kw);
    switch (L->kind) {
    case HESSE_LAYER_LINEAR:
        snprintf(buf, cap, "linear(%d,%d%s)", L->in_c, L->out_c, L->has_bias ? "" : ",bias=False");
        return;
    case HESSE_LAYER_CONV2D:
        if (L->sh != 1 || L->sw != 1)
            snprintf(st, sizeof st, L->sh == L->sw ? ",stride=%d" : ",stride=(%d,%d)", L->sh,
                     L->sw);
        if (L->ph != 0 || L->pw != 0)
            snprintf(pd, sizeof pd, L->ph == L->pw ? ",padding=%d" : ",padding=(%d,%d)", L->ph,
                     L->pw);
        if (!L->has_bias) snprintf(bias, sizeof bias, ",bias=False");
        snprintf(buf, cap, "conv2d(%d,%d,%s%s%s%s)", L->in_c, L->out_c, k, st, pd, bias);
        return;
    case HESSE_LAYER_MAXPOOL2D:
    case HESSE_LAYER_AVGPOOL2D:
        if (L->sh != L->kh || L->sw != L->kw)
            snprintf(st, sizeof st, L->sh == L->sw ? ",stride=%d" : ",stride=(%d,%d)", L->sh,
                     L->sw);
        if (L->ph != 0 || L->pw != 0)
            snprintf(pd, sizeof pd, L->ph == L->pw ? ",padding=%d" : ",padding=(%d,%d)", L->ph,
                     L->pw);
        snprintf(buf, cap, "%s(%s%s%s)", hesse_layer_kind_name(L->kind), k, st, pd);
        return;
    case HESSE_LAYER_ADAPTIVEAVGPOOL2D:
        if (L->out_h == L->out_w)
            snprintf(buf, cap, "adaptiveavgpool2d(%d)", L->out_h);
        else
            snprintf(buf, cap, "adaptiveavgpool2d((%d,%d))", L->out_h, L->out_w);
        return;
    case HESSE_LAYER_BATCHNORM2D:
    case HESSE_LAYER_BATCHNORM1D: {
        size_t at = (size_t)snprintf(buf, cap, "%s(%d", hesse_layer_kind_name(L->kind), L->in_c);
        if (L->eps != 1e-5 && at < cap) {
            format_double(num, sizeof num, L->eps);
            at += (size_t)snprintf(buf + at, cap - at, ",eps=%s", num);
        }
        if (isnan(L->momentum) && at < cap)
            at += (size_t)snprintf(buf + at, cap - at, ",momentum=None");
        else if (L->momentum != 0.1 && at < cap) {
            format_double(num, sizeof num, L->momentum);
            at += (size_t)snprintf(buf + at, cap - at, ",momentum=%s", num);
        }
        if (!L->has_weight && at < cap) at += (size_t)snprintf(buf + at, cap - at, ",affine=False");
        if (at < cap) snprintf(buf + at, cap - at, ")");
        return;
    }
    case HESSE_LAYER_LAYERNORM: {
        size_t at = (size_t)snprintf(buf, cap, "layernorm(%d", L->norm_shape[0]);
        for (int i = 1; i < L->norm_ndim && at < cap; i++)
            at += (size_t)snprintf(buf + at, cap - at, ",%d", L->norm_shape[i]);
        if (L->eps != 1e-5 && at < cap) {
            format_double(num, sizeof num, L->eps);
            at += (size_t)snprintf(buf + at, cap - at, ",eps=%s", num);
        }
        if (!L->has_weight && at < cap)
            at += (size_t)snprintf(buf + at, cap - at, ",elementwise_affine=False");
        else if (!L->has_bias && at < cap)
            at += (size_t)snprintf(buf + at, cap - at, ",bias=False");
        if (at < cap) snprintf(buf + at, cap - at, ")");
        return;
    }
    case HESSE_LAYER_DROPOUT:
    case HESSE_LAYER_DROPOUT2D:
        if (L->p == 0.5) {
            snprintf(buf, cap, "%s", hesse_layer_kind_name(L->kind));
        } else {
            format_double(num, sizeof num, L->p);
            snprintf(buf, cap, "%s(p=%s)", hesse_layer_kind_name(L->kind), num);
        }
        return;
    default:
        snprintf(buf, cap, "%s", hesse_layer_kind_name(L->kind));
        return;
    }
}

/* Sets the layer's parameter and buffer counts and adds them to the totals, refusing more than
 * MAX_PARAMS in all (so that the model's tensor counts and offsets cannot overflow). */
static int count_params(const arch_ctx *cx, const char *label, hesse_layer *L, int64_t *total,
                        int64_t *buffers) {
    int64_t w = 0, b = 0;
    switch (L->kind) {
    case HESSE_LAYER_LINEAR:
    case HESSE_LAYER_CONV2D: {
        int64_t k = L->kind == HESSE_LAYER_CONV2D ? (int64_t)L->kh * L->kw : 1;
        if (__builtin_mul_overflow((int64_t)L->out_c, (int64_t)L->in_c, &w) ||
            __builtin_mul_overflow(w, k, &w) || w > MAX_PARAMS)
            w = MAX_PARAMS + 1;
        b = L->has_bias ? L->out_c : 0;
        break;
    }
    case HESSE_LAYER_BATCHNORM2D:
    case HESSE_LAYER_BATCHNORM1D:
        w = L->has_weight ? L->in_c : 0;
        b = L->has_bias ? L->in_c : 0;
        *buffers += 2 * (int64_t)L->in_c + 1;
        break;
    case HESSE_LAYER_LAYERNORM:
        w = L->has_weight ? L->group : 0;
        b = L->has_bias ? L->group : 0;
        break;
    default:
        return HESSE_OK;
    }
    if (w > MAX_PARAMS - b || *total > MAX_PARAMS - w - b)
        return hesse_error(HESSE_EINPUT,
                           "architecture: the network has more than %lld parameters at layer %s "
                           "(\"%s\")",
                           MAX_PARAMS, label, cx->shown);
    L->weight_count = w;
    L->bias_count = b;
    *total += w + b;
    return HESSE_OK;
}

/* The state of a parse: the layers made so far, the running shape, the canonical text. */
typedef struct {
    const arch_ctx *cx;
    hesse_layer *layers;
    int count;
    int c, h, w;
    int64_t params, buffers;
    char *canon;
    size_t len, cap;
} arch_build;

static void canon_add(arch_build *b, const char *text) {
    if (b->len < b->cap) b->len += (size_t)snprintf(b->canon + b->len, b->cap - b->len, "%s", text);
}

/* The path of an item: prefix "." name, or name alone at the top. */
static int module_path(const arch_ctx *cx, const char *prefix, const char *name, char *out) {
    int n = prefix ? snprintf(out, HESSE_MODULE_MAX, "%s.%s", prefix, name)
                   : snprintf(out, HESSE_MODULE_MAX, "%s", name);
    if (n < 0 || n >= HESSE_MODULE_MAX)
        return hesse_error(HESSE_EINPUT,
                           "architecture: module path '%s.%s' is longer than %d characters "
                           "(\"%s\")",
                           prefix ? prefix : "", name, HESSE_MODULE_MAX - 1, cx->shown);
    return HESSE_OK;
}

/* One plain item: its layer, resolved against the running shape. `dflt` is the name it has
 * when unnamed; `label` names it in messages. */
static int add_item(arch_build *b, const arch_item *it, int index, const char *prefix,
                    const char *dflt, const char *label) {
    hesse_layer *L = &b->layers[b->count];
    int rc;
    L->index = index;
    L->block[0] = L->block[1] = L->block[2] = -1;
    if ((rc = module_path(b->cx, prefix, it->module[0] ? it->module : dflt, L->name))) return rc;
    if (!lookup_kind(it->name, &L->kind)) return unknown_layer(b->cx, it, label);
    if ((rc = configure(b->cx, it, label, L)) != HESSE_OK) return rc;
    if ((rc = resolve_shape(b->cx, label, L, b->c, b->h, b->w)) != HESSE_OK) return rc;
    if ((rc = count_params(b->cx, label, L, &b->params, &b->buffers)) != HESSE_OK) return rc;
    b->c = L->out_c;
    b->h = L->out_h;
    b->w = L->out_w;
    b->count++;
    char one[LAYER_TEXT];
    hesse_layer_describe(L, one, sizeof one);
    if (it->module[0] && strcmp(it->module, dflt) != 0) {
        canon_add(b, it->module);
        canon_add(b, ":");
    }
    canon_add(b, one);
    return HESSE_OK;
}

/* A marker layer of a residual block, with the shape it passes on. */
static hesse_layer *add_marker(arch_build *b, hesse_layer_kind kind, int index, const char *name,
                               int oc, int oh, int ow) {
    hesse_layer *L = &b->layers[b->count++];
    L->kind = kind;
    L->index = index;
    snprintf(L->name, sizeof L->name, "%s", name);
    L->in_c = b->c;
    L->in_h = b->h;
    L->in_w = b->w;
    L->out_c = b->c = oc;
    L->out_h = b->h = oh;
    L->out_w = b->w = ow;
    return L;
}

static int add_residual(arch_build *b, const arch_item *it, int index, const char *dflt) {
    char prefix[HESSE_MODULE_MAX], label[HESSE_MODULE_MAX + 16], name[32];
    int rc;
    if ((rc = module_path(b->cx, NULL, it->module[0] ? it->module : dflt, prefix))) return rc;
    if (it->module[0] && strcmp(it->module, dflt) != 0) {
        canon_add(b, it->module);
        canon_add(b, ":");
    }
    canon_add(b, "residual(");
    const int xc = b->c, xh = b->h, xw = b->w;
    const int rb = b->count;
    add_marker(b, HESSE_LAYER_RESIDUAL, index, prefix, xc, xh, xw);
    int rs = -1;
    for (int j = 0; j <= it->nmain + it->nshort; j++) {
        if (j == it->nmain) {
            /* the shortcut starts from the block's input again */
            rs = b->count;
            add_marker(b, HESSE_LAYER_SHORTCUT, index, prefix, xc, xh, xw);
            if (it->nshort) canon_add(b, "|");
        } else if (j > 0 && j < it->nmain + it->nshort) {
            canon_add(b, ",");
        }
        if (j == it->nmain + it->nshort) break;
        const arch_item *sub = &it->sub[j];
        const int in_short = j >= it->nmain, pos = in_short ? j - it->nmain : j;
        snprintf(name, sizeof name, in_short ? "shortcut.%d" : "%d", pos);
        int n = snprintf(label, sizeof label, "%s.%s", prefix, sub->module[0] ? sub->module : name);
        if (n < 0 || (size_t)n >= sizeof label) snprintf(label, sizeof label, "%s", prefix);
        if (sub->is_residual)
            return hesse_error(HESSE_EINPUT,
                               "architecture: residual blocks may not nest (%s inside %s) "
                               "(\"%s\")",
                               label, prefix, b->cx->shown);
        if ((rc = add_item(b, sub, index, prefix, name, label)) != HESSE_OK) return rc;
    }
    const hesse_layer *S = &b->layers[rs]; /* its input is the main branch's output */
    if (b->c != S->in_c || b->h != S->in_h || b->w != S->in_w)
        return hesse_error(HESSE_EINPUT,
                           "architecture: residual block %s: the main branch gives %dx%dx%d but "
                           "the shortcut gives %dx%dx%d (a projection shortcut must match the "
                           "main branch) (\"%s\")",
                           prefix, S->in_c, S->in_h, S->in_w, b->c, b->h, b->w, b->cx->shown);
    const int rd = b->count;
    add_marker(b, HESSE_LAYER_ADD, index, prefix, b->c, b->h, b->w);
    const int marks[3] = {rb, rs, rd};
    for (int i = 0; i < 3; i++)
        for (int q = 0; q < 3; q++) b->layers[marks[i]].block[q] = marks[q];
    canon_add(b, ")");
    return HESSE_OK;
}

/* Layers an item list makes: a residual makes its items plus three markers. */
static int count_layers(const arch_item *items, int count) {
    int n = 0;
    for (int i = 0; i < count; i++)
        n += items[i].is_residual ? 3 + items[i].nmain + items[i].nshort : 1;
    return n;
}

/* Refuses two parameter or buffer tensors of one name: two modules with the same path. */
static int check_unique_names(const arch_ctx *cx, const hesse_layer *layers, int count) {
    for (int i = 0; i < count; i++) {
        const hesse_layer *a = &layers[i];
        if (!a->weight_count && !a->bias_count && a->kind != HESSE_LAYER_BATCHNORM2D &&
            a->kind != HESSE_LAYER_BATCHNORM1D)
            continue;
        for (int j = 0; j < i; j++) {
            const hesse_layer *b = &layers[j];
            if ((b->weight_count || b->bias_count || b->kind == HESSE_LAYER_BATCHNORM2D ||
                 b->kind == HESSE_LAYER_BATCHNORM1D) &&
                strcmp(a->name, b->name) == 0)
                return hesse_error(HESSE_EINPUT,
                                   "architecture: two modules are named '%s' (a %s and a %s); "
                                   "their tensors would have the same names (\"%s\")",
                                   a->name, hesse_layer_kind_name(b->kind),
                                   hesse_layer_kind_name(a->kind), cx->shown);
        }
    }
    return HESSE_OK;
}

int nn_parse_arch(const char *arch, int c, int h, int w, hesse_layer **layers_out, int *count_out,
                  char **canonical_out) {
    *layers_out = NULL;
    *count_out = 0;
    *canonical_out = NULL;
    if (!arch) return hesse_error(HESSE_EINVAL, "architecture: none given");
    if (c < 1 || h < 1 || w < 1)
        return hesse_error(HESSE_EINVAL, "architecture: input shape %dx%dx%d is not positive", c, h,
                           w);
    if ((int64_t)c * h > MAX_VALUES || (int64_t)c * h * w > MAX_VALUES)
        return hesse_error(HESSE_EINPUT,
                           "architecture: input shape %dx%dx%d has more than %lld values per "
                           "sample",
                           c, h, w, MAX_VALUES);
    char *expanded = NULL;
    int rc = nn_expand_preset(arch, &expanded);
    if (rc != HESSE_OK) return rc;
    arch_ctx cx;
    cx.src = expanded ? expanded : arch;
    if (strlen(arch) < sizeof cx.shown)
        snprintf(cx.shown, sizeof cx.shown, "%s", arch);
    else
        snprintf(cx.shown, sizeof cx.shown, "%.*s...", (int)sizeof cx.shown - 4, arch);
    arch_item *items = NULL;
    int count = 0;
    arch_build b = {&cx, NULL, 0, c, h, w, 0, 0, NULL, 0, 0};
    if ((rc = nn_arch_tokenize(&cx, &items, &count)) != HESSE_OK) goto cleanup;
    const int nlayers = count_layers(items, count);
    b.layers = calloc((size_t)(nlayers > 0 ? nlayers : 1), sizeof *b.layers);
    b.cap = (size_t)nlayers * (LAYER_TEXT + HESSE_MODULE_MAX + 4) + 16;
    b.canon = calloc(b.cap, 1);
    if (!b.layers || !b.canon) {
        rc = hesse_error(HESSE_ENOMEM, "architecture: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < count; i++) {
        char dflt[16], label[HESSE_MODULE_MAX];
        snprintf(dflt, sizeof dflt, "%d", i);
        snprintf(label, sizeof label, "%s", items[i].module[0] ? items[i].module : dflt);
        if (i) canon_add(&b, ",");
        if (items[i].is_residual)
            rc = add_residual(&b, &items[i], i, dflt);
        else
            rc = add_item(&b, &items[i], i, NULL, dflt, label);
        if (rc != HESSE_OK) goto cleanup;
    }
    if (b.h != 1 || b.w != 1) {
        rc = hesse_error(HESSE_EINPUT,
                         "architecture: the network's output is %dx%dx%d; it must be flat (end "
                         "with flatten or linear) (\"%s\")",
                         b.c, b.h, b.w, cx.shown);
        goto cleanup;
    }
    if ((rc = check_unique_names(&cx, b.layers, b.count)) != HESSE_OK) goto cleanup;
    nn_arch_free_items(items, count);
    free(expanded);
    *layers_out = b.layers;
    *count_out = b.count;
    *canonical_out = b.canon;
    return HESSE_OK;
cleanup:
    nn_arch_free_items(items, count);
    free(expanded);
    free(b.layers);
    free(b.canon);
    return rc;
}
