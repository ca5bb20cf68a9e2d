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
 * Sigmoid, GELU, Dropout, Dropout2d, Identity, MultiheadAttention): the names and aliases of the
 * layer table (layer-impl.h), whose rows also configure, shape, count and describe each kind. A
 * module path names the item's tensors
 * ("layer1.0.conv1" gives "layer1.0.conv1.weight"); an unnamed item is named by its position.
 * Inside residual(...) names are prefixed by the block's own: main items by their own name or
 * position in the main branch, shortcut items by their own name or "shortcut.<position>".
 * Whole strings may also be presets (presets.c). docs/architectures.md has the details. */
#include "nn/layer-impl.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    char known[400] = "";
    size_t at = 0;
    for (int k = 0; k < NN_NUM_KINDS; k++) {
        const nn_layer_type *t = nn_layer_type_of((hesse_layer_kind)k);
        if (t->flags & NN_MARKER) continue;
        int d = edit_distance(it->name, t->name);
        if (d < best_d) {
            best_d = d;
            best = t->name;
        }
        if (at < sizeof known)
            at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", at ? ", " : "", t->name);
    }
    char hint[64] = "";
    if (best) snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    return hesse_error(HESSE_EINPUT,
                       "architecture: unknown layer '%s' at index %s, character %d of \"%s\"%s; "
                       "known: %s",
                       it->name, label, it->pos + 1, cx->shown, hint, known);
}

/* Assigns the item's arguments from `first` on to named slots: positional ones in the order
 * of `names`, keyword ones by name. Unknown keywords and surplus positionals are errors. */
int nn_arch_bind(const arch_ctx *cx, const arch_item *it, const char *label, int first,
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

int nn_arch_positive(const arch_ctx *cx, const arch_item *it, const char *label, const char *what,
                     const arch_arg *arg, int allow_zero, int *a, int *b, int dflt) {
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
int nn_arch_number(const arch_ctx *cx, const arch_item *it, const char *label, const char *what,
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
int nn_arch_bool(const arch_ctx *cx, const arch_item *it, const char *label, const char *what,
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

/* A double in its shortest text that reads back to the same value. */
void nn_format_double(char *buf, size_t cap, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* The longest canonical text of one layer: conv2d with ten-digit numbers everywhere is 127
 * characters, a layer norm with three of them and every keyword about 140. */
#define LAYER_TEXT 192

void hesse_layer_describe(const hesse_layer *L, char *buf, size_t cap) {
    const nn_layer_type *t = nn_layer_type_of(L->kind);
    if (t && t->describe)
        t->describe(L, buf, cap);
    else
        snprintf(buf, cap, "%s", hesse_layer_kind_name(L->kind));
}

/* Output shape of layer L given its input shape (its row's shape function); checks that the
 * input fits and that the output is not too large. */
static int resolve_shape(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h,
                         int w) {
    int oc = c, oh = h, ow = w, rc;
    const nn_layer_type *t = nn_layer_type_of(L->kind);
    if (t->shape && (rc = t->shape(cx, label, L, c, h, w, &oc, &oh, &ow)) != HESSE_OK) return rc;
    /* Each factor is below 2^31, so the first product cannot overflow 64 bits. */
    int64_t values = (int64_t)oc * oh;
    if (values > NN_MAX_VALUES || values * ow > NN_MAX_VALUES)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s gives %dx%dx%d values per sample, more than "
                           "%lld (\"%s\")",
                           label, hesse_layer_kind_name(L->kind), oc, oh, ow, NN_MAX_VALUES,
                           cx->shown);
    L->in_c = c; /* linear and conv2d have checked theirs */
    L->in_h = h;
    L->in_w = w;
    L->out_c = oc;
    L->out_h = oh;
    L->out_w = ow;
    return HESSE_OK;
}

/* Fills the layer's kind-specific settings from the item's arguments (its row's configure;
 * without one the item takes only inplace=...). */
static int configure(const arch_ctx *cx, const arch_item *it, const char *label, hesse_layer *L) {
    const nn_layer_type *t = nn_layer_type_of(L->kind);
    if (t->configure) return t->configure(cx, it, label, L);
    static const char *const names[] = {"inplace"};
    const arch_arg *s[MAX_ARGS];
    return nn_arch_bind(cx, it, label, 0, names, 1, s);
}

/* Sets the layer's parameter and buffer counts and adds them to the totals, refusing more than
 * NN_MAX_PARAMS in all (so that the model's tensor counts and offsets cannot overflow). */
static int count_params(const arch_ctx *cx, const char *label, hesse_layer *L, int64_t *total,
                        int64_t *buffers) {
    int64_t w = 0, b = 0;
    const nn_layer_type *t = nn_layer_type_of(L->kind);
    if (!t->params) return HESSE_OK;
    t->params(L, &w, &b, buffers);
    if (w > NN_MAX_PARAMS - b || *total > NN_MAX_PARAMS - w - b)
        return hesse_error(HESSE_EINPUT,
                           "architecture: the network has more than %lld parameters at layer %s "
                           "(\"%s\")",
                           NN_MAX_PARAMS, label, cx->shown);
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
    if (!nn_layer_lookup(it->name, &L->kind)) return unknown_layer(b->cx, it, label);
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
        if (!a->weight_count && !a->bias_count && !nn_layer_type_of(a->kind)->nbuffers) continue;
        for (int j = 0; j < i; j++) {
            const hesse_layer *b = &layers[j];
            if ((b->weight_count || b->bias_count || nn_layer_type_of(b->kind)->nbuffers) &&
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
    if ((int64_t)c * h > NN_MAX_VALUES || (int64_t)c * h * w > NN_MAX_VALUES)
        return hesse_error(HESSE_EINPUT,
                           "architecture: input shape %dx%dx%d has more than %lld values per "
                           "sample",
                           c, h, w, NN_MAX_VALUES);
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
