/* hesse_samples: chosen, preprocessed samples as a network consumes them, and views and
 * gathers over them for minibatches. */
#include "data-impl.h"

#include <string.h>

int64_t hesse_samples_total(const hesse_samples *s) {
    return s->total > 0 ? s->total : s->n;
}

int hesse_samples_targets(const hesse_samples *s) {
    return s->targets > 1 ? s->targets : 1;
}

int64_t hesse_samples_positions(const hesse_samples *s) {
    return hesse_samples_total(s) * hesse_samples_targets(s);
}

int64_t hesse_samples_dim(const hesse_samples *s) {
    return (int64_t)s->c * s->h * s->w;
}

hesse_samples hesse_samples_slice(const hesse_samples *s, int64_t begin, int64_t count) {
    hesse_samples v = *s;
    if (begin < 0) begin = 0;
    if (begin > s->n) begin = s->n;
    if (count < 0) count = 0;
    if (count > s->n - begin) count = s->n - begin;
    int64_t dim = hesse_samples_dim(s);
    v.n = count;
    v.x = s->x ? s->x + begin * dim : NULL;
    v.y = s->y ? s->y + begin * hesse_samples_targets(s) : NULL;
    v.source = s->source ? s->source + begin : NULL;
    v.owns = 0;
    v.total = 0; /* a slice is a set of its own (a minibatch), not a shard */
    return v;
}

void hesse_samples_free(hesse_samples *s) {
    if (!s) return;
    if (s->owns) {
        hesse_free(s->x);
        hesse_free(s->y);
        hesse_free(s->source);
    }
    memset(s, 0, sizeof *s);
}

int hesse_samples_alloc(int64_t n, int c, int h, int w, int num_classes, hesse_samples *out) {
    return hesse_samples_alloc_targets(n, c, h, w, num_classes, 1, out);
}

int hesse_samples_alloc_like(const hesse_samples *s, int64_t n, hesse_samples *out) {
    return hesse_samples_alloc_targets(n, s->c, s->h, s->w, s->num_classes,
                                       hesse_samples_targets(s), out);
}

int hesse_samples_alloc_targets(int64_t n, int c, int h, int w, int num_classes, int targets,
                                hesse_samples *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_samples_alloc: out is NULL");
    memset(out, 0, sizeof *out);
    if (n < 0 || c < 1 || h < 1 || w < 1 || targets < 1)
        return hesse_error(HESSE_EINVAL,
                           "hesse_samples_alloc: invalid shape [%lld, %d, %d, %d] or %d targets",
                           (long long)n, c, h, w, targets);
    int64_t dim = (int64_t)c * h * w;
    if (n > 0 && (dim > INT64_MAX / 8 / n || targets > INT64_MAX / 8 / n))
        return hesse_error(HESSE_ENOMEM, "%lld samples of %lld values are too many", (long long)n,
                           (long long)dim);
    out->x = hesse_alloc((size_t)(n * dim) * sizeof *out->x);
    out->y = hesse_alloc((size_t)(n * targets) * sizeof *out->y);
    out->source = hesse_alloc((size_t)n * sizeof *out->source);
    out->owns = 1;
    if (!out->x || !out->y || !out->source) {
        hesse_samples_free(out);
        return hesse_error(HESSE_ENOMEM, "cannot allocate %lld samples of %lld values",
                           (long long)n, (long long)dim);
    }
    for (int64_t i = 0; i < n; i++) out->source[i] = i; /* until a gather says otherwise */
    out->n = n;
    out->c = c;
    out->h = h;
    out->w = w;
    out->num_classes = num_classes;
    out->targets = targets;
    return HESSE_OK;
}

void hesse_samples_gather(const hesse_samples *src, const int64_t *idx, int64_t count,
                          hesse_samples *dst) {
    int64_t dim = hesse_samples_dim(src);
    const int P = hesse_samples_targets(src);
    for (int64_t i = 0; i < count; i++) {
        memcpy(dst->x + i * dim, src->x + idx[i] * dim, (size_t)dim * sizeof *dst->x);
        if (P == 1)
            dst->y[i] = src->y[idx[i]];
        else
            memcpy(dst->y + i * P, src->y + idx[i] * P, (size_t)P * sizeof *dst->y);
        if (dst->source) dst->source[i] = src->source ? src->source[idx[i]] : idx[i];
    }
    dst->n = count;
    dst->num_classes = src->num_classes;
    dst->targets = src->targets;
}

void hesse_samples_hash(const hesse_samples *s, char hex[65]) {
    hesse_sha256 h;
    hesse_sha256_init(&h);
    int64_t head[5] = {s->n, s->c, s->h, s->w, s->num_classes};
    hesse_sha256_update(&h, head, sizeof head);
    if (s->n > 0 && s->x)
        hesse_sha256_update(&h, s->x, (size_t)(s->n * hesse_samples_dim(s)) * sizeof *s->x);
    const int P = hesse_samples_targets(s);
    if (P > 1) { /* absent for P = 1, so that those hashes stay what they were */
        int64_t p = P;
        hesse_sha256_update(&h, &p, sizeof p);
    }
    if (s->n > 0 && s->y) hesse_sha256_update(&h, s->y, (size_t)(s->n * P) * sizeof *s->y);
    hesse_sha256_hex(&h, hex);
}
