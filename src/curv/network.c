/* Network curvature as operators, and which parameter tensors a layer specification selects. */
#include <hesse/curv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    hesse_engine *engine;
    const hesse_samples *samples;
    hesse_curv_kind kind;
} curvature_ctx;

static int curvature_apply(void *ctx, int k, const double *X, double *Y) {
    curvature_ctx *c = ctx;
    return hesse_curv_product(c->engine, c->samples, c->kind, k, X, Y);
}

int hesse_op_curvature(hesse_engine *e, const hesse_samples *s, hesse_curv_kind kind,
                       hesse_op *out) {
    if (!e || !s || !out) return hesse_error(HESSE_EINVAL, "hesse_op_curvature: NULL argument");
    curvature_ctx *c = malloc(sizeof *c);
    if (!c) return hesse_error(HESSE_ENOMEM, "out of memory");
    c->engine = e;
    c->samples = s;
    c->kind = kind;
    /* The engine reads parameter counts from its model; the operator's n is that count. */
    *out = (hesse_op){0};
    out->n = hesse_engine_num_params(e);
    out->apply = curvature_apply;
    out->ctx = c;
    out->max_block = 0; /* the engine splits larger blocks itself, reusing each forward pass */
    out->free_ctx = free;
    out->checks_finite = 1; /* hesse_curv_product scans every product once, and diagnoses it */
    return HESSE_OK;
}

int hesse_select_tensors(const hesse_model *m, const char *spec, int *sel, int cap, int *count) {
    *count = 0;
    if (!spec || !*spec) return hesse_error(HESSE_EINVAL, "layer: empty specification");
    int nt = hesse_model_num_tensors(m);
    char *taken = calloc((size_t)nt, 1);
    if (!taken) return hesse_error(HESSE_ENOMEM, "out of memory");
    int rc = HESSE_OK;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        char tok[64];
        if (len == 0 || len >= sizeof tok) {
            rc = hesse_error(HESSE_EINPUT, "layer: bad entry in \"%s\"", spec);
            goto cleanup;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        int matched = 0;
        for (int t = 0; t < nt; t++) {
            const char *name = hesse_model_tensor(m, t)->name;
            size_t tl = strlen(tok);
            /* "3" matches "3.weight" and "3.bias"; a full name matches itself */
            if (strcmp(name, tok) == 0 || (strncmp(name, tok, tl) == 0 && name[tl] == '.')) {
                taken[t] = 1;
                matched = 1;
            }
        }
        if (!matched) {
            char names[512] = "";
            size_t at = 0;
            for (int t = 0; t < nt && at + 40 < sizeof names; t++)
                at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", t ? ", " : "",
                                       hesse_model_tensor(m, t)->name);
            rc = hesse_error(HESSE_EINPUT,
                             "layer '%s' matches no parameter tensor (the model has %s)", tok,
                             names);
            goto cleanup;
        }
        p += len;
        if (*p == ',') p++;
    }
    for (int t = 0; t < nt; t++)
        if (taken[t]) {
            if (*count == cap) {
                rc = hesse_error(HESSE_EINVAL, "layer: more than %d tensors selected", cap);
                goto cleanup;
            }
            sel[(*count)++] = t;
        }
cleanup:
    free(taken);
    return rc;
}
