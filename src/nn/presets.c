/* Presets: whole architecture strings that expand to the module layouts of common PyTorch
 * models, so that their state_dicts load without renaming (docs/architectures.md):
 *
 *   resnet18-cifar   kuangliu/pytorch-cifar ResNet18 (3x3 stem, no max-pool, BasicBlocks with
 *                    projection shortcuts "shortcut.0/1", avg_pool2d(4), "linear")
 *   vgg11-bn-cifar   kuangliu/pytorch-cifar VGG('VGG11'): "features.<i>" conv + batch norm +
 *                    ReLU per cfg entry, max-pool for 'M', AvgPool2d(1, 1), "classifier"
 *   lenet5           the LeNet-5 of DESIGN.md and examples/reproduce (28x28 input);
 *                    lenet5(width=K) has K times the convolution channels
 *   mlp(a,b,...,z)   flatten, then linear/ReLU as nn.Sequential(Linear, ReLU, ..., Linear)
 *                    names them: "0", "2", "4", ...
 *   vit-tiny         tools/models.py ViTTiny: patch conv 7x7 stride 7 -> 16 tokens, learned
 *                    positions, 2 pre-LN blocks (4 heads, MLP 2D), layer norm, mean-pool, head
 *   gpt-tiny         tools/models.py GPTTiny: byte embedding, learned positions (context 64),
 *                    2 causal pre-LN blocks (4 heads, MLP 4D), layer norm, head per position
 *
 * The transformer presets take keyword overrides num_classes=, depth=, width= (and context=
 * for gpt-tiny), each at most once.
 * The first three take an optional num_classes (positional or keyword), default 10. Names are
 * case-insensitive; a preset is the whole string (it does not mix with other items). */
#include "nn/nn-impl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_MLP 64

typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
        char *grown = realloc(b->s, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
}

/* One BasicBlock of kuangliu's ResNet: conv-bn-relu-conv-bn, plus a projection shortcut
 * (1x1 conv, bn) when the shape changes; the ReLU after the sum follows the block. */
static void basic_block(sbuf *b, int layer, int index, int in, int planes, int stride) {
    char st[16] = "";
    if (stride != 1) snprintf(st, sizeof st, ",stride=%d", stride);
    sb_add(b,
           ",layer%d.%d:residual(conv1:conv2d(%d,%d,3%s,padding=1,bias=False),bn1:batchnorm2d(%d),"
           "relu,conv2:conv2d(%d,%d,3,padding=1,bias=False),bn2:batchnorm2d(%d)",
           layer, index, in, planes, st, planes, planes, planes, planes);
    if (stride != 1 || in != planes)
        sb_add(b, "|conv2d(%d,%d,1%s,bias=False),batchnorm2d(%d)", in, planes, st, planes);
    sb_add(b, "),relu");
}

static void resnet18_cifar(sbuf *b, int classes) {
    sb_add(b, "conv1:conv2d(3,64,3,padding=1,bias=False),bn1:batchnorm2d(64),relu");
    int in = 64;
    for (int layer = 1; layer <= 4; layer++) {
        const int planes = 64 << (layer - 1);
        for (int i = 0; i < 2; i++) {
            basic_block(b, layer, i, in, planes, i == 0 && layer > 1 ? 2 : 1);
            in = planes;
        }
    }
    sb_add(b, ",avgpool2d(4),flatten,linear:linear(512,%d)", classes);
}

static void vgg11_bn_cifar(sbuf *b, int classes) {
    static const int cfg[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0}; /* 0: 'M' */
    int at = 0, in = 3;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        if (cfg[i] == 0) {
            sb_add(b, "%sfeatures.%d:maxpool2d(2)", at ? "," : "", at);
            at++;
            continue;
        }
        sb_add(b,
               "%sfeatures.%d:conv2d(%d,%d,3,padding=1),features.%d:batchnorm2d(%d),"
               "features.%d:relu",
               at ? "," : "", at, in, cfg[i], at + 1, cfg[i], at + 2);
        in = cfg[i];
        at += 3;
    }
    sb_add(b, ",features.%d:avgpool2d(1,stride=1),flatten,classifier:linear(512,%d)", at, classes);
}

/* width = k multiplies the channels of both convolutions (6k, 16k); the fully connected
 * layers keep 120 and 84 units (the first takes the 16k x 5 x 5 features). */
static void lenet5(sbuf *b, int classes, int width) {
    sb_add(b,
           "conv2d(1,%d,5,padding=2),relu,maxpool2d(2),conv2d(%d,%d,5),relu,maxpool2d(2),flatten,"
           "linear(%d,120),relu,linear(120,84),relu,linear(84,%d)",
           6 * width, 6 * width, 16 * width, 400 * width, classes);
}

static void mlp(sbuf *b, const int *sizes, int n) {
    sb_add(b, "flatten");
    for (int i = 0; i + 1 < n; i++)
        sb_add(b, ",%d:linear(%d,%d)%s", 2 * i, sizes[i], sizes[i + 1], i + 2 < n ? ",relu" : "");
}

/* One pre-LN block of tools/models.py's Block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
static void transformer_block(sbuf *b, int i, int width, int mlp, int causal) {
    sb_add(b,
           ",blocks.%d:residual(ln_1:layernorm(%d),attn:multiheadattention(%d,4%s)),"
           "blocks.%d:residual(ln_2:layernorm(%d),mlp.0:linear(%d,%d),gelu,mlp.2:linear(%d,%d))",
           i, width, width, causal ? ",causal=True" : "", i, width, width, mlp, mlp, width);
}

/* Overrides of a transformer preset: num_classes, context, depth, width. */
enum { TP_CLASSES, TP_CONTEXT, TP_DEPTH, TP_WIDTH, TP_COUNT };

static void vit_tiny(sbuf *b, const int *v) {
    sb_add(b, "patch:conv2d(1,%d,7,stride=7),tokens,pos:posembed(16,%d)", v[TP_WIDTH], v[TP_WIDTH]);
    for (int i = 0; i < v[TP_DEPTH]; i++) transformer_block(b, i, v[TP_WIDTH], 2 * v[TP_WIDTH], 0);
    sb_add(b, ",norm:layernorm(%d),meanpool,head:linear(%d,%d)", v[TP_WIDTH], v[TP_WIDTH],
           v[TP_CLASSES]);
}

static void gpt_tiny(sbuf *b, const int *v) {
    sb_add(b, "tok:embedding(%d,%d),pos:posembed(%d,%d)", v[TP_CLASSES], v[TP_WIDTH], v[TP_CONTEXT],
           v[TP_WIDTH]);
    for (int i = 0; i < v[TP_DEPTH]; i++) transformer_block(b, i, v[TP_WIDTH], 4 * v[TP_WIDTH], 1);
    sb_add(b, ",norm:layernorm(%d),head:linear(%d,%d)", v[TP_WIDTH], v[TP_WIDTH], v[TP_CLASSES]);
}

/* One "key=N" at *pp into v (advancing *pp): 0 for an unknown, repeated or out-of-range key,
 * or context where it does not apply (context_ok 0). */
static int transformer_arg(const char **pp, int context_ok, int *v, int *given) {
    static const char *const keys[TP_COUNT] = {"num_classes", "context", "depth", "width"};
    static const long hi[TP_COUNT] = {1000000, 65536, 64, 4096};
    const char *p = *pp, *k = p;
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    int key = -1;
    for (int i = 0; i < TP_COUNT; i++)
        if ((size_t)(p - k) == strlen(keys[i]) && strncmp(k, keys[i], (size_t)(p - k)) == 0)
            key = i;
    while (isspace((unsigned char)*p)) p++;
    if (key < 0 || given[key] || (key == TP_CONTEXT && !context_ok) || *p++ != '=') return 0;
    char *end;
    long x = strtol(p, &end, 10);
    if (end == p || x < 1 || x > hi[key]) return 0;
    v[key] = (int)x;
    given[key] = 1;
    *pp = end;
    return 1;
}

/* "(key=N, ...)", "()" or nothing at p into v[TP_*]: 1 when well formed. */
static int transformer_args(const char *p, int context_ok, int *v) {
    int given[TP_COUNT] = {0};
    while (isspace((unsigned char)*p)) p++;
    if (*p == '\0') return 1;
    if (*p++ != '(') return 0;
    for (int first = 1;; first = 0) {
        while (isspace((unsigned char)*p)) p++;
        if (*p == ')' && first) break;
        if (!transformer_arg(&p, context_ok, v, given)) return 0;
        while (isspace((unsigned char)*p)) p++;
        if (*p == ')') break;
        if (*p++ != ',') return 0;
    }
    p++;
    while (isspace((unsigned char)*p)) p++;
    return *p == '\0';
}

/* vit-tiny / gpt-tiny with their overrides; heads stay 4, so the width is a multiple of 4. */
static int transformer_preset(const char *arch, const char *args, int gpt, char **out) {
    int v[TP_COUNT] = {gpt ? 256 : 10, 64, 2, 64};
    if (!transformer_args(args, gpt, v) || v[TP_WIDTH] % 4 != 0)
        return hesse_error(HESSE_EINPUT,
                           "architecture: preset %s takes num_classes=N%s, depth=L (1 to 64) and "
                           "width=D (a multiple of 4, its 4 heads, up to 4096), each at most "
                           "once, not \"%s\"",
                           gpt ? "gpt-tiny" : "vit-tiny", gpt ? ", context=T (up to 65536)" : "",
                           arch);
    sbuf b = {NULL, 0, 0, 0};
    if (gpt)
        gpt_tiny(&b, v);
    else
        vit_tiny(&b, v);
    if (b.failed || !b.s) {
        free(b.s);
        return hesse_error(HESSE_ENOMEM, "architecture: out of memory expanding %s", arch);
    }
    *out = b.s;
    return HESSE_OK;
}

/* Integers of "(a, b, ...)" or "(key=a)" at p into v (at most cap); the count, or -1 when the
 * text is not such a list. *key receives the one keyword given, if any. */
static int preset_args(const char *p, int *v, int cap, char *key, size_t key_cap) {
    int n = 0;
    key[0] = '\0';
    while (isspace((unsigned char)*p)) p++;
    if (*p == '\0') return 0;
    if (*p++ != '(') return -1;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (*p == ')' && n == 0) break;
        const char *k = p;
        while (isalnum((unsigned char)*p) || *p == '_') p++;
        const char *ke = p;
        while (isspace((unsigned char)*p)) p++;
        if (*p == '=' && ke > k) {
            if ((size_t)(ke - k) >= key_cap || key[0]) return -1;
            memcpy(key, k, (size_t)(ke - k));
            key[ke - k] = '\0';
            p++;
            while (isspace((unsigned char)*p)) p++;
        } else {
            p = k;
        }
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 1000000000L || n == cap) return -1;
        v[n++] = (int)x;
        p = end;
        while (isspace((unsigned char)*p)) p++;
        if (*p == ')') break;
        if (*p++ != ',') return -1;
    }
    p++;
    while (isspace((unsigned char)*p)) p++;
    return *p == '\0' ? n : -1;
}

int nn_expand_preset(const char *arch, char **out) {
    *out = NULL;
    static const char *const names[] = {"resnet18-cifar", "vgg11-bn-cifar", "lenet5", "mlp",
                                        "vit-tiny",       "gpt-tiny"};
    const char *p = arch;
    while (isspace((unsigned char)*p)) p++;
    int which = -1;
    size_t len = 0;
    for (int i = 0; i < 6; i++) {
        size_t l = strlen(names[i]);
        if (strncasecmp(p, names[i], l) == 0 && !isalnum((unsigned char)p[l]) && p[l] != '_' &&
            p[l] != '-' && p[l] != '.' && p[l] != ':') {
            which = i;
            len = l;
        }
    }
    if (which < 0) return HESSE_OK; /* not a preset */
    if (which >= 4) return transformer_preset(arch, p + len, which == 5, out);
    int v[MAX_MLP];
    char key[32];
    int n = preset_args(p + len, v, MAX_MLP, key, sizeof key);
    const int width_given = which == 2 && n == 1 && strcmp(key, "width") == 0;
    if (width_given && v[0] > 1024)
        return hesse_error(
            HESSE_EINPUT, "architecture: lenet5(width=K) takes K from 1 to 1024, not \"%s\"", arch);
    if (which == 2 && !width_given &&
        (n < 0 || n > 1 || (key[0] && strcmp(key, "num_classes") != 0)))
        return hesse_error(HESSE_EINPUT,
                           "architecture: preset lenet5 takes at most num_classes=N or width=K "
                           "(a positive integer), not \"%s\"",
                           arch);
    if (which < 2) {
        if (n < 0 || n > 1 || (key[0] && strcmp(key, "num_classes") != 0))
            return hesse_error(HESSE_EINPUT,
                               "architecture: preset %s takes at most num_classes=N (a positive "
                               "integer), not \"%s\"",
                               names[which], arch);
    } else if (which == 3 && (n < 2 || key[0])) {
        return hesse_error(HESSE_EINPUT,
                           "architecture: preset mlp(a,b,...) is a whole architecture of at "
                           "least two layer sizes (positive integers, at most %d), not \"%s\"",
                           MAX_MLP, arch);
    }
    const int classes = n == 1 && !width_given ? v[0] : 10;
    sbuf b = {NULL, 0, 0, 0};
    switch (which) {
    case 0:
        resnet18_cifar(&b, classes);
        break;
    case 1:
        vgg11_bn_cifar(&b, classes);
        break;
    case 2:
        lenet5(&b, classes, width_given ? v[0] : 1);
        break;
    default:
        mlp(&b, v, n);
        break;
    }
    if (b.failed || !b.s) {
        free(b.s);
        return hesse_error(HESSE_ENOMEM, "architecture: out of memory expanding %s", names[which]);
    }
    *out = b.s;
    return HESSE_OK;
}
