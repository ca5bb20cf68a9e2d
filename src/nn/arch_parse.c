/* Architecture strings, the syntax: items, module paths, arguments and residual blocks, as
 * the grammar at the top of arch.c gives them. The tree this makes is resolved into layers by
 * arch.c. */
#include "nn/arch-impl.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static void skip_space(const char **p) {
    while (isspace((unsigned char)**p)) (*p)++;
}

/* 1: an integer read; 0: none there; -1: one beyond the range sizes may take. */
static int parse_int(const char **p, int *v) {
    char *end;
    errno = 0;
    long x = strtol(*p, &end, 10);
    if (end == *p) return 0;
    if (errno == ERANGE || x < -1000000000L || x > 1000000000L) return -1;
    *v = (int)x;
    *p = end;
    return 1;
}

/* The message for a parse_int result that is not 1. */
static const char *int_problem(int r) {
    return r < 0 ? "integer out of range (at most 1000000000 in absolute value)"
                 : "expected an integer";
}

static int syntax_error(const arch_ctx *cx, const char *at, const char *what) {
    return hesse_error(HESSE_EINPUT, "architecture: %s at character %d of \"%s\"", what,
                       (int)(at - cx->src) + 1, cx->shown);
}

static int is_module_char(char ch) {
    return isalnum((unsigned char)ch) || ch == '_' || ch == '.';
}

/* A number: [+-] digits [. digits] [(e|E) [+-] digits], or [+-] . digits ...; integers
 * (no point, no exponent) also set n = 1. */
static int parse_number(const arch_ctx *cx, const char **p, arch_arg *arg) {
    const char *s = *p, *q = s;
    if (*q == '+' || *q == '-') q++;
    int digits = 0, is_float = 0;
    while (isdigit((unsigned char)*q)) q++, digits++;
    if (*q == '.') {
        is_float = 1;
        q++;
        while (isdigit((unsigned char)*q)) q++, digits++;
    }
    if (!digits) return syntax_error(cx, s, "expected a number");
    if (*q == 'e' || *q == 'E') {
        const char *e = q + 1;
        if (*e == '+' || *e == '-') e++;
        if (!isdigit((unsigned char)*e)) return syntax_error(cx, s, "malformed exponent");
        while (isdigit((unsigned char)*e)) e++;
        q = e;
        is_float = 1;
    }
    char buf[64];
    if ((size_t)(q - s) >= sizeof buf) return syntax_error(cx, s, "number too long");
    memcpy(buf, s, (size_t)(q - s));
    buf[q - s] = '\0';
    if (is_float) {
        arg->f = strtod(buf, NULL);
        if (!isfinite(arg->f)) return syntax_error(cx, s, "number out of range");
        arg->is_float = 1;
    } else {
        const char *t = buf;
        int r = parse_int(&t, &arg->a);
        if (r != 1 || *t) return syntax_error(cx, s, int_problem(r == 1 ? 0 : r));
        arg->b = arg->a;
        arg->n = 1;
        arg->f = arg->a;
    }
    *p = q;
    return HESSE_OK;
}

static int parse_value(const arch_ctx *cx, const char **p, arch_arg *arg) {
    skip_space(p);
    if (**p == '(') {
        (*p)++;
        for (int i = 0; i < 3; i++) {
            skip_space(p);
            int r = parse_int(p, &arg->v[i]);
            if (r != 1) return syntax_error(cx, *p, int_problem(r));
            arg->n = i + 1;
            skip_space(p);
            if (**p == ')') break;
            if (**p != ',' || i == 2)
                return syntax_error(cx, *p, "expected ',' or ')' in a tuple of at most 3");
            (*p)++;
        }
        if (**p != ')') return syntax_error(cx, *p, "expected ')' closing a tuple");
        (*p)++;
        if (arg->n < 2) return syntax_error(cx, *p, "a tuple needs two or three integers");
        arg->a = arg->v[0];
        arg->b = arg->v[1];
        return HESSE_OK;
    }
    const char ch = **p;
    if (isdigit((unsigned char)ch) || ch == '-' || ch == '+' ||
        (ch == '.' && isdigit((unsigned char)(*p)[1]))) {
        int rc = parse_number(cx, p, arg);
        if (rc == HESSE_OK && arg->n == 1) arg->v[0] = arg->a;
        return rc;
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
        if (**p != quote) return syntax_error(cx, *p, "unterminated quoted value");
        (*p)++;
    }
    if (n == 0) return syntax_error(cx, *p, "expected a value");
    /* booleans as Python and JSON spell them; 'True' in quotes is a string, and so not one */
    int is_true = !quote && (strcmp(arg->word, "True") == 0 || strcmp(arg->word, "true") == 0);
    int is_false = !quote && (strcmp(arg->word, "False") == 0 || strcmp(arg->word, "false") == 0);
    if (is_true || is_false) {
        arg->is_bool = 1;
        arg->a = arg->b = is_true;
        arg->f = arg->a;
    } else if (!quote && strcmp(arg->word, "None") == 0) {
        arg->is_none = 1;
    }
    return HESSE_OK;
}

void nn_arch_free_items(arch_item *items, int count) {
    for (int i = 0; items && i < count; i++)
        nn_arch_free_items(items[i].sub, items[i].nmain + items[i].nshort);
    free(items);
}

static int grow(arch_item **items, int *cap, int count) {
    if (count < *cap) return HESSE_OK;
    int ncap = *cap ? *cap * 2 : 8;
    arch_item *grown = realloc(*items, (size_t)ncap * sizeof *grown);
    if (!grown) return hesse_error(HESSE_ENOMEM, "architecture: out of memory");
    *items = grown;
    *cap = ncap;
    return HESSE_OK;
}

static int parse_list(const arch_ctx *cx, const char **p, int depth, arch_item **items_out,
                      int *count_out);

/* One item at *p: an optional module path, the layer name, its arguments. */
static int parse_item(const arch_ctx *cx, const char **pp, int depth, arch_item *it) {
    const char *p = *pp;
    int rc;
    memset(it, 0, sizeof *it);
    it->pos = (int)(p - cx->src);
    /* "module:" ? */
    const char *q = p;
    while (is_module_char(*q)) q++;
    const char *after = q;
    skip_space(&after);
    if (q > p && *after == ':') {
        size_t len = (size_t)(q - p);
        if (len >= sizeof it->module)
            return syntax_error(cx, p, "module name longer than 100 characters");
        memcpy(it->module, p, len);
        it->module[len] = '\0';
        if (*p == '.' || q[-1] == '.' || strstr(it->module, ".."))
            return syntax_error(cx, p, "module name with an empty part (\"a..b\", \".a\", \"a.\")");
        p = after + 1;
        skip_space(&p);
        it->pos = (int)(p - cx->src);
    }
    size_t n = 0;
    while (isalnum((unsigned char)*p) || *p == '_') {
        if (n + 1 < sizeof it->name) it->name[n++] = (char)tolower((unsigned char)*p);
        p++;
    }
    it->name[n] = '\0';
    if (n == 0) return syntax_error(cx, p, "expected a layer name");
    skip_space(&p);
    if (strcmp(it->name, "residual") == 0) {
        it->is_residual = 1;
        if (depth > 0)
            return syntax_error(cx, cx->src + it->pos,
                                "residual blocks may not nest (a residual inside a residual)");
        if (*p != '(') return syntax_error(cx, p, "expected '(' after residual");
        p++;
        arch_item *main = NULL, *shortcut = NULL;
        int nmain = 0, nshort = 0;
        if ((rc = parse_list(cx, &p, depth + 1, &main, &nmain)) != HESSE_OK) return rc;
        if (*p == '|') {
            p++;
            skip_space(&p);
            if (*p != ')' && (rc = parse_list(cx, &p, depth + 1, &shortcut, &nshort)) != HESSE_OK) {
                nn_arch_free_items(main, nmain);
                return rc;
            }
        }
        if (*p != ')') {
            nn_arch_free_items(main, nmain);
            nn_arch_free_items(shortcut, nshort);
            return syntax_error(cx, p, "expected ')' closing residual(...)");
        }
        p++;
        it->sub = malloc((size_t)(nmain + nshort > 0 ? nmain + nshort : 1) * sizeof *it->sub);
        if (!it->sub) {
            nn_arch_free_items(main, nmain);
            nn_arch_free_items(shortcut, nshort);
            return hesse_error(HESSE_ENOMEM, "architecture: out of memory");
        }
        if (nmain) memcpy(it->sub, main, (size_t)nmain * sizeof *main);
        if (nshort) memcpy(it->sub + nmain, shortcut, (size_t)nshort * sizeof *shortcut);
        free(main);
        free(shortcut);
        it->nmain = nmain;
        it->nshort = nshort;
        *pp = p;
        return HESSE_OK;
    }
    if (*p == '(') {
        p++;
        skip_space(&p);
        while (*p != ')') {
            if (it->nargs == MAX_ARGS) return syntax_error(cx, p, "too many arguments");
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
            if ((rc = parse_value(cx, &p, arg)) != HESSE_OK) return rc;
            skip_space(&p);
            if (*p == ',') {
                p++;
                skip_space(&p);
            } else if (*p != ')') {
                return syntax_error(cx, p, "expected ',' or ')'");
            }
        }
        p++;
    }
    *pp = p;
    return HESSE_OK;
}

/* Items separated by commas, up to the end of the string (depth 0) or to '|' or ')' (inside a
 * residual). */
static int parse_list(const arch_ctx *cx, const char **pp, int depth, arch_item **items_out,
                      int *count_out) {
    arch_item *items = NULL;
    int cap = 0, count = 0, rc = HESSE_OK;
    const char *p = *pp;
    for (;;) {
        skip_space(&p);
        if (*p == '\0' || (depth > 0 && (*p == '|' || *p == ')'))) {
            if (count == 0 && depth == 0)
                rc = hesse_error(HESSE_EINPUT, "architecture: empty string");
            else if (count == 0)
                rc = syntax_error(cx, p, "expected a layer in residual(...)");
            else
                rc = syntax_error(cx, p, "expected a layer after ','");
            goto cleanup;
        }
        if ((rc = grow(&items, &cap, count)) != HESSE_OK) goto cleanup;
        rc = parse_item(cx, &p, depth, &items[count]);
        if (rc != HESSE_OK) {
            nn_arch_free_items(items[count].sub, items[count].nmain + items[count].nshort);
            goto cleanup;
        }
        count++;
        skip_space(&p);
        if (*p == '\0' && depth == 0) break;
        if (depth > 0 && (*p == '|' || *p == ')')) break;
        if (*p == '\0') {
            rc = syntax_error(cx, p, "expected ')' closing residual(...)");
            goto cleanup;
        }
        if (*p != ',') {
            rc = syntax_error(cx, p,
                              depth ? "expected ',', '|' or ')' in residual(...)"
                                    : "expected ',' between layers");
            goto cleanup;
        }
        p++;
    }
    *items_out = items;
    *count_out = count;
    *pp = p;
    return HESSE_OK;
cleanup:
    nn_arch_free_items(items, count);
    return rc;
}

int nn_arch_tokenize(const arch_ctx *cx, arch_item **items, int *count) {
    const char *p = cx->src;
    return parse_list(cx, &p, 0, items, count);
}
