/* Architecture strings: PyTorch module names in nn.Sequential order, resolved against an
 * input shape into layers with shapes and parameter views.
 *
 *   item    := name [ "(" arg { "," arg } ")" ]
 *   arg     := value | key "=" value
 *   value   := integer | "(" integer "," integer ")" | True | False | identifier
 *
 * Names are case-insensitive and accept PyTorch's class names (Linear, Conv2d, MaxPool2d,
 * AvgPool2d, Flatten, ReLU, Tanh, Sigmoid, GELU). */
#include "nn/nn-impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ARGS 8
/* Values per sample of any activation (the input included): kernels index a sample's values
 * with int. A larger request is a corrupt or hostile string, and refusing it here keeps every
 * shape computation below free of overflow. */
#define MAX_VALUES 2147483647LL
/* Parameters of the whole network: offsets and counts are int64, and stay exact as doubles. */
#define MAX_PARAMS (1LL << 50)

typedef struct {
    char key[32]; /* "" for a positional argument */
    int a, b;     /* integer value, or the two of a pair (b = a for a single integer) */
    int is_bool;
    char word[32]; /* identifier value, e.g. approximate='none' */
} arch_arg;

typedef struct {
    char name[32];
    int nargs;
    arch_arg args[MAX_ARGS];
    int pos; /* character offset in the string, for messages */
} arch_item;

static const struct {
    const char *name;
    hesse_layer_kind kind;
} layer_names[] = {
    {"linear", HESSE_LAYER_LINEAR},       {"conv2d", HESSE_LAYER_CONV2D},
    {"maxpool2d", HESSE_LAYER_MAXPOOL2D}, {"avgpool2d", HESSE_LAYER_AVGPOOL2D},
    {"flatten", HESSE_LAYER_FLATTEN},     {"relu", HESSE_LAYER_RELU},
    {"tanh", HESSE_LAYER_TANH},           {"sigmoid", HESSE_LAYER_SIGMOID},
    {"gelu", HESSE_LAYER_GELU},
};
#define NUM_LAYER_NAMES (sizeof layer_names / sizeof layer_names[0])

const char *hesse_layer_kind_name(hesse_layer_kind kind) {
    for (size_t i = 0; i < NUM_LAYER_NAMES; i++)
        if (layer_names[i].kind == kind) return layer_names[i].name;
    return "?";
}

static void skip_space(const char **p) {
    while (isspace((unsigned char)**p)) (*p)++;
}

static int parse_int(const char **p, int *v) {
    char *end;
    long x = strtol(*p, &end, 10);
    if (end == *p || x < -1000000000L || x > 1000000000L) return 0;
    *v = (int)x;
    *p = end;
    return 1;
}

static int syntax_error(const char *arch, const char *at, const char *what) {
    return hesse_error(HESSE_EINPUT, "architecture: %s at character %d of \"%s\"", what,
                       (int)(at - arch) + 1, arch);
}

static int parse_value(const char *arch, const char **p, arch_arg *arg) {
    skip_space(p);
    if (**p == '(') {
        (*p)++;
        skip_space(p);
        if (!parse_int(p, &arg->a)) return syntax_error(arch, *p, "expected an integer");
        skip_space(p);
        if (**p != ',') return syntax_error(arch, *p, "expected ',' in a pair");
        (*p)++;
        skip_space(p);
        if (!parse_int(p, &arg->b)) return syntax_error(arch, *p, "expected an integer");
        skip_space(p);
        if (**p != ')') return syntax_error(arch, *p, "expected ')' closing a pair");
        (*p)++;
        return HESSE_OK;
    }
    if (isdigit((unsigned char)**p) || **p == '-') {
        if (!parse_int(p, &arg->a)) return syntax_error(arch, *p, "expected an integer");
        arg->b = arg->a;
        return HESSE_OK;
    }
    /* identifier or quoted word */
    char quote = '\0';
    if (**p == '\'' || **p == '"') quote = **p;
    if (quote) (*p)++;
    size_t n = 0;
    while (isalnum((unsigned char)**p) || **p == '_') {
        if (n + 1 < sizeof arg->word) arg->word[n++] = **p;
        (*p)++;
    }
    arg->word[n] = '\0';
    if (quote) {
        if (**p != quote) return syntax_error(arch, *p, "unterminated quoted value");
        (*p)++;
    }
    if (n == 0) return syntax_error(arch, *p, "expected a value");
    if (strcasecmp(arg->word, "true") == 0 || strcasecmp(arg->word, "false") == 0) {
        arg->is_bool = 1;
        arg->a = arg->b = strcasecmp(arg->word, "true") == 0;
    }
    return HESSE_OK;
}

/* Splits the string into items. */
static int tokenize(const char *arch, arch_item **items_out, int *count_out) {
    int cap = 16, count = 0;
    arch_item *items = calloc((size_t)cap, sizeof *items);
    if (!items) return hesse_error(HESSE_ENOMEM, "architecture: out of memory");
    const char *p = arch;
    int rc = HESSE_OK;
    for (;;) {
        skip_space(&p);
        if (*p == '\0') {
            if (count == 0)
                rc = hesse_error(HESSE_EINPUT, "architecture: empty string");
            else
                rc = syntax_error(arch, p, "expected a layer after ','");
            goto cleanup;
        }
        if (count == cap) {
            cap *= 2;
            arch_item *grown = realloc(items, (size_t)cap * sizeof *items);
            if (!grown) {
                rc = hesse_error(HESSE_ENOMEM, "architecture: out of memory");
                goto cleanup;
            }
            items = grown;
        }
        arch_item *it = &items[count];
        memset(it, 0, sizeof *it);
        it->pos = (int)(p - arch);
        size_t n = 0;
        while (isalnum((unsigned char)*p) || *p == '_') {
            if (n + 1 < sizeof it->name) it->name[n++] = (char)tolower((unsigned char)*p);
            p++;
        }
        it->name[n] = '\0';
        if (n == 0) {
            rc = syntax_error(arch, p, "expected a layer name");
            goto cleanup;
        }
        skip_space(&p);
        if (*p == '(') {
            p++;
            skip_space(&p);
            while (*p != ')') {
                if (it->nargs == MAX_ARGS) {
                    rc = syntax_error(arch, p, "too many arguments");
                    goto cleanup;
                }
                arch_arg *arg = &it->args[it->nargs++];
                /* key=value? */
                const char *save = p;
                size_t kn = 0;
                while (isalnum((unsigned char)*p) || *p == '_') {
                    if (kn + 1 < sizeof arg->key) arg->key[kn++] = (char)tolower((unsigned char)*p);
                    p++;
                }
                skip_space(&p);
                if (kn > 0 && *p == '=') {
                    arg->key[kn] = '\0';
                    p++;
                } else {
                    arg->key[0] = '\0';
                    p = save;
                }
                if ((rc = parse_value(arch, &p, arg)) != HESSE_OK) goto cleanup;
                skip_space(&p);
                if (*p == ',') {
                    p++;
                    skip_space(&p);
                } else if (*p != ')') {
                    rc = syntax_error(arch, p, "expected ',' or ')'");
                    goto cleanup;
                }
            }
            p++;
        }
        count++;
        skip_space(&p);
        if (*p == '\0') break;
        if (*p != ',') {
            rc = syntax_error(arch, p, "expected ',' between layers");
            goto cleanup;
        }
        p++;
    }
    *items_out = items;
    *count_out = count;
    return HESSE_OK;
cleanup:
    free(items);
    return rc;
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

static int unknown_layer(const char *arch, const arch_item *it, int index) {
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
                       "architecture: unknown layer '%s' at index %d, character %d of \"%s\"%s; "
                       "known: linear, conv2d, maxpool2d, avgpool2d, flatten, relu, tanh, "
                       "sigmoid, gelu",
                       it->name, index, it->pos + 1, arch, hint);
}

/* Assigns the item's arguments to named slots: positional ones in the order of `names`,
 * keyword ones by name. Unknown keywords and surplus positionals are errors. */
static int bind_args(const char *arch, const arch_item *it, int index, const char *const *names,
                     int nnames, const arch_arg **slots) {
    int positional = 0;
    for (int i = 0; i < nnames; i++) slots[i] = NULL;
    for (int a = 0; a < it->nargs; a++) {
        const arch_arg *arg = &it->args[a];
        int slot = -1;
        if (arg->key[0] == '\0') {
            if (positional >= nnames)
                return hesse_error(HESSE_EINPUT,
                                   "architecture: layer %d %s takes at most %d arguments (\"%s\")",
                                   index, it->name, nnames, arch);
            slot = positional++;
        } else {
            for (int i = 0; i < nnames; i++)
                if (strcmp(arg->key, names[i]) == 0) slot = i;
            if (slot < 0)
                return hesse_error(HESSE_EINPUT,
                                   "architecture: layer %d %s has no argument '%s' (\"%s\")", index,
                                   it->name, arg->key, arch);
        }
        if (slots[slot])
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d %s: argument '%s' given twice (\"%s\")",
                               index, it->name, names[slot], arch);
        slots[slot] = arg;
    }
    return HESSE_OK;
}

static int need_positive(const char *arch, const arch_item *it, int index, const char *what,
                         const arch_arg *arg, int allow_zero, int *a, int *b, int dflt) {
    if (!arg) {
        if (dflt < 0)
            return hesse_error(HESSE_EINPUT, "architecture: layer %d %s needs %s (\"%s\")", index,
                               it->name, what, arch);
        *a = *b = dflt;
        return HESSE_OK;
    }
    if (arg->is_bool || arg->word[0] || arg->a < (allow_zero ? 0 : 1) ||
        arg->b < (allow_zero ? 0 : 1))
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %d %s: %s must be a %s integer or pair (\"%s\")",
                           index, it->name, what, allow_zero ? "non-negative" : "positive", arch);
    *a = arg->a;
    *b = arg->b;
    return HESSE_OK;
}

/* Fills the layer's kind-specific settings from the item's arguments. */
static int configure(const char *arch, const arch_item *it, int index, hesse_layer *L) {
    const arch_arg *s[MAX_ARGS];
    int rc, unused;
    switch (L->kind) {
    case HESSE_LAYER_LINEAR: {
        static const char *const names[] = {"in_features", "out_features", "bias"};
        if ((rc = bind_args(arch, it, index, names, 3, s)) != HESSE_OK) return rc;
        if ((rc = need_positive(arch, it, index, "in_features", s[0], 0, &L->in_c, &unused, -1)))
            return rc;
        if ((rc = need_positive(arch, it, index, "out_features", s[1], 0, &L->out_c, &unused, -1)))
            return rc;
        L->has_bias = s[2] ? s[2]->a != 0 : 1;
        return HESSE_OK;
    }
    case HESSE_LAYER_CONV2D: {
        static const char *const names[] = {"in_channels", "out_channels", "kernel_size", "stride",
                                            "padding",     "bias",         "dilation",    "groups"};
        if ((rc = bind_args(arch, it, index, names, 8, s)) != HESSE_OK) return rc;
        if ((rc = need_positive(arch, it, index, "in_channels", s[0], 0, &L->in_c, &unused, -1)))
            return rc;
        if ((rc = need_positive(arch, it, index, "out_channels", s[1], 0, &L->out_c, &unused, -1)))
            return rc;
        if ((rc = need_positive(arch, it, index, "kernel_size", s[2], 0, &L->kh, &L->kw, -1)))
            return rc;
        if ((rc = need_positive(arch, it, index, "stride", s[3], 0, &L->sh, &L->sw, 1))) return rc;
        if ((rc = need_positive(arch, it, index, "padding", s[4], 1, &L->ph, &L->pw, 0))) return rc;
        L->has_bias = s[5] ? s[5]->a != 0 : 1;
        if ((s[6] && (s[6]->a != 1 || s[6]->b != 1)) || (s[7] && s[7]->a != 1))
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d conv2d: only dilation=1 and groups=1 are "
                               "supported (\"%s\")",
                               index, arch);
        return HESSE_OK;
    }
    case HESSE_LAYER_MAXPOOL2D:
    case HESSE_LAYER_AVGPOOL2D: {
        static const char *const names[] = {"kernel_size", "stride", "padding", "ceil_mode",
                                            "count_include_pad"};
        if ((rc = bind_args(arch, it, index, names, 5, s)) != HESSE_OK) return rc;
        if ((rc = need_positive(arch, it, index, "kernel_size", s[0], 0, &L->kh, &L->kw, -1)))
            return rc;
        if ((rc = need_positive(arch, it, index, "stride", s[1], 0, &L->sh, &L->sw, 0))) return rc;
        if (!s[1]) {
            L->sh = L->kh; /* PyTorch: stride defaults to kernel_size */
            L->sw = L->kw;
        }
        if ((rc = need_positive(arch, it, index, "padding", s[2], 1, &L->ph, &L->pw, 0))) return rc;
        if (L->ph * 2 > L->kh || L->pw * 2 > L->kw)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d %s: padding must be at most half the "
                               "kernel size (\"%s\")",
                               index, it->name, arch);
        if ((s[3] && s[3]->a != 0) || (s[4] && s[4]->a != 1))
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d %s: only ceil_mode=False and "
                               "count_include_pad=True are supported (\"%s\")",
                               index, it->name, arch);
        return HESSE_OK;
    }
    case HESSE_LAYER_GELU: {
        static const char *const names[] = {"approximate"};
        if ((rc = bind_args(arch, it, index, names, 1, s)) != HESSE_OK) return rc;
        if (s[0] && strcmp(s[0]->word, "none") != 0)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d gelu: only approximate='none' (the exact "
                               "erf form) is supported (\"%s\")",
                               index, arch);
        return HESSE_OK;
    }
    case HESSE_LAYER_FLATTEN: {
        static const char *const names[] = {"start_dim", "end_dim"};
        if ((rc = bind_args(arch, it, index, names, 2, s)) != HESSE_OK) return rc;
        if ((s[0] && s[0]->a != 1) || (s[1] && s[1]->a != -1))
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d flatten: only start_dim=1, end_dim=-1 "
                               "(\"%s\")",
                               index, arch);
        return HESSE_OK;
    }
    default: {
        static const char *const names[] = {"inplace"};
        return bind_args(arch, it, index, names, 1, s);
    }
    }
}

/* Output shape of layer L given its input shape; checks that the input fits. */
static int resolve_shape(const char *arch, int index, hesse_layer *L, int c, int h, int w) {
    int oc = c, oh = h, ow = w;
    char in_desc[64];
    snprintf(in_desc, sizeof in_desc, "%dx%dx%d", c, h, w);
    switch (L->kind) {
    case HESSE_LAYER_LINEAR:
        if (h != 1 || w != 1)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d linear(%d,%d) needs flat input but gets "
                               "%s (add flatten before it) (\"%s\")",
                               index, L->in_c, L->out_c, in_desc, arch);
        if (c != L->in_c)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d linear(%d,%d) expects %d input features, "
                               "the layers before it give %d (\"%s\")",
                               index, L->in_c, L->out_c, L->in_c, c, arch);
        oc = L->out_c;
        break;
    case HESSE_LAYER_CONV2D:
    case HESSE_LAYER_MAXPOOL2D:
    case HESSE_LAYER_AVGPOOL2D: {
        if (L->kind == HESSE_LAYER_CONV2D && c != L->in_c)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d conv2d expects %d input channels, the "
                               "input there is %s (\"%s\")",
                               index, L->in_c, in_desc, arch);
        if (L->kind != HESSE_LAYER_CONV2D) L->in_c = L->out_c = c;
        /* In 64 bits: padding may be up to 1e9 on each side. */
        int64_t ph = (int64_t)h + 2 * (int64_t)L->ph, pw = (int64_t)w + 2 * (int64_t)L->pw;
        if (ph < L->kh || pw < L->kw)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d %s with kernel %dx%d does not fit its "
                               "input %s (\"%s\")",
                               index, hesse_layer_kind_name(L->kind), L->kh, L->kw, in_desc, arch);
        int64_t oh64 = (ph - L->kh) / L->sh + 1, ow64 = (pw - L->kw) / L->sw + 1;
        if (oh64 > MAX_VALUES || ow64 > MAX_VALUES)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %d %s gives an output of %lldx%lld, larger "
                               "than %lld values a side (\"%s\")",
                               index, hesse_layer_kind_name(L->kind), (long long)oh64,
                               (long long)ow64, MAX_VALUES, arch);
        oh = (int)oh64;
        ow = (int)ow64;
        oc = L->out_c;
        break;
    }
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
                           "architecture: layer %d %s gives %dx%dx%d values per sample, more than "
                           "%lld (\"%s\")",
                           index, hesse_layer_kind_name(L->kind), oc, oh, ow, MAX_VALUES, arch);
    L->in_c = L->kind == HESSE_LAYER_LINEAR || L->kind == HESSE_LAYER_CONV2D ? L->in_c : c;
    L->in_h = h;
    L->in_w = w;
    L->out_c = oc;
    L->out_h = oh;
    L->out_w = ow;
    return HESSE_OK;
}

/* The longest canonical text of one layer: conv2d with ten-digit numbers everywhere is 127
 * characters. */
#define LAYER_TEXT 192

/* Appends the canonical text of one layer to buf. */
static void describe_layer(const hesse_layer *L, char *buf, size_t cap) {
    char k[48], st[48] = "", pd[48] = "", bias[16] = "";
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
    default:
        snprintf(buf, cap, "%s", hesse_layer_kind_name(L->kind));
        return;
    }
}

/* Adds the layer's parameters to *total, refusing more than MAX_PARAMS in all (so that the
 * model's tensor counts and offsets cannot overflow). */
static int count_params(const char *arch, int index, const hesse_layer *L, int64_t *total) {
    if (L->kind != HESSE_LAYER_LINEAR && L->kind != HESSE_LAYER_CONV2D) return HESSE_OK;
    int64_t k = L->kind == HESSE_LAYER_CONV2D ? (int64_t)L->kh * L->kw : 1, n;
    if (__builtin_mul_overflow((int64_t)L->out_c, (int64_t)L->in_c, &n) ||
        __builtin_mul_overflow(n, k, &n) || n > MAX_PARAMS - L->out_c ||
        *total > MAX_PARAMS - n - L->out_c)
        return hesse_error(HESSE_EINPUT,
                           "architecture: the network has more than %lld parameters at layer %d "
                           "(\"%s\")",
                           MAX_PARAMS, index, arch);
    *total += n + (L->has_bias ? L->out_c : 0);
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
    arch_item *items = NULL;
    int count = 0, rc;
    if ((rc = tokenize(arch, &items, &count)) != HESSE_OK) return rc;
    hesse_layer *layers = calloc(count > 0 ? (size_t)count : 1, sizeof *layers);
    size_t cap = (size_t)count * LAYER_TEXT + 1;
    int64_t params = 0;
    char *canon = calloc(cap, 1);
    if (!layers || !canon) {
        rc = hesse_error(HESSE_ENOMEM, "architecture: out of memory");
        goto cleanup;
    }
    size_t len = 0;
    for (int i = 0; i < count; i++) {
        hesse_layer *L = &layers[i];
        L->index = i;
        if (!lookup_kind(items[i].name, &L->kind)) {
            rc = unknown_layer(arch, &items[i], i);
            goto cleanup;
        }
        HESSE_CHECK(configure(arch, &items[i], i, L));
        HESSE_CHECK(resolve_shape(arch, i, L, c, h, w));
        HESSE_CHECK(count_params(arch, i, L, &params));
        c = L->out_c;
        h = L->out_h;
        w = L->out_w;
        char one[LAYER_TEXT];
        describe_layer(L, one, sizeof one);
        len += (size_t)snprintf(canon + len, cap - len, "%s%s", i ? "," : "", one);
    }
    if (h != 1 || w != 1) {
        rc = hesse_error(HESSE_EINPUT,
                         "architecture: the network's output is %dx%dx%d; it must be flat (end "
                         "with flatten or linear) (\"%s\")",
                         c, h, w, arch);
        goto cleanup;
    }
    free(items);
    *layers_out = layers;
    *count_out = count;
    *canonical_out = canon;
    return HESSE_OK;
cleanup:
    free(items);
    free(layers);
    free(canon);
    return rc;
}
