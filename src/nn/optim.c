/* Optimizers and learning-rate schedules, step for step as torch.optim. */
#include <hesse/nn.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hesse_optimizer {
    hesse_optim_params p;
    int64_t n, steps;
    double *m1, *m2; /* SGD: momentum buffer; Adam: first and second moments */
};

hesse_optim_params hesse_optim_defaults(hesse_optim_kind kind) {
    hesse_optim_params p = {kind, 0.0, kind == HESSE_OPTIM_ADAMW ? 0.01 : 0.0, 0.9, 0.999, 1e-8};
    return p;
}

static const char *const optim_names[] = {"sgd", "adam", "adamw", "gd"};

const char *hesse_optim_name(hesse_optim_kind kind) {
    return (unsigned)kind < 4 ? optim_names[kind] : "unknown";
}

int hesse_optim_parse(const char *name, hesse_optim_kind *kind) {
    for (int k = 0; name && k < 4; k++)
        if (strcmp(name, optim_names[k]) == 0) {
            *kind = (hesse_optim_kind)k;
            return HESSE_OK;
        }
    return HESSE_EINVAL;
}

static int is_adam(hesse_optim_kind kind) {
    return kind == HESSE_OPTIM_ADAM || kind == HESSE_OPTIM_ADAMW;
}

int hesse_optimizer_create(int64_t n, const hesse_optim_params *p, hesse_optimizer **out) {
    if (!out || !p || n <= 0) return hesse_error(HESSE_EINVAL, "optimizer: invalid arguments");
    *out = NULL;
    if ((unsigned)p->kind > HESSE_OPTIM_GD)
        return hesse_error(HESSE_EINVAL, "optimizer: unknown kind %d", (int)p->kind);
    hesse_optimizer *o = calloc(1, sizeof *o);
    if (!o) return hesse_error(HESSE_ENOMEM, "optimizer: out of memory");
    o->p = *p;
    o->n = n;
    const int adam = is_adam(p->kind), sgd = p->kind == HESSE_OPTIM_SGD;
    o->m1 = adam || sgd ? hesse_calloc((size_t)n, sizeof *o->m1) : NULL;
    o->m2 = adam ? hesse_calloc((size_t)n, sizeof *o->m2) : NULL;
    if ((adam || sgd) && (!o->m1 || (adam && !o->m2))) {
        hesse_optimizer_free(o);
        return hesse_error(HESSE_ENOMEM, "optimizer: out of memory for %lld parameters",
                           (long long)n);
    }
    *out = o;
    return HESSE_OK;
}

void hesse_optimizer_free(hesse_optimizer *o) {
    if (!o) return;
    hesse_free(o->m1);
    hesse_free(o->m2);
    free(o);
}

void hesse_optimizer_step(hesse_optimizer *o, double lr, double *theta, double *g) {
    const hesse_optim_params *p = &o->p;
    const int64_t n = o->n;
    o->steps++;
    if (p->weight_decay != 0 && p->kind == HESSE_OPTIM_ADAMW) {
        /* torch.optim.AdamW: param.mul_(1 - lr * weight_decay), then Adam without decay */
        const double keep = 1.0 - lr * p->weight_decay;
        for (int64_t i = 0; i < n; i++) theta[i] *= keep;
    } else if (p->weight_decay != 0) {
        for (int64_t i = 0; i < n; i++) g[i] += p->weight_decay * theta[i];
    }
    if (is_adam(p->kind)) {
        /* Kingma & Ba (2015), Algorithm 1, in torch.optim.Adam's arrangement:
         * theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
        const double c1 = 1.0 - pow(p->beta1, (double)o->steps);
        const double c2 = sqrt(1.0 - pow(p->beta2, (double)o->steps));
        for (int64_t i = 0; i < n; i++) {
            o->m1[i] = p->beta1 * o->m1[i] + (1.0 - p->beta1) * g[i];
            o->m2[i] = p->beta2 * o->m2[i] + (1.0 - p->beta2) * g[i] * g[i];
            theta[i] -= (lr / c1) * o->m1[i] / (sqrt(o->m2[i]) / c2 + p->eps);
        }
        return;
    }
    if (p->kind == HESSE_OPTIM_SGD && p->momentum != 0) {
        /* torch.optim.SGD: b = g on the first step, then b = momentum b + g (dampening 0) */
        for (int64_t i = 0; i < n; i++)
            o->m1[i] = o->steps == 1 ? g[i] : p->momentum * o->m1[i] + g[i];
        g = o->m1;
    }
    for (int64_t i = 0; i < n; i++) theta[i] -= lr * g[i];
}

int hesse_optimizer_preconditioner(const hesse_optimizer *o, double *diag) {
    if (!o || !diag) return hesse_error(HESSE_EINVAL, "optimizer preconditioner: NULL argument");
    if (!is_adam(o->p.kind))
        return hesse_error(HESSE_EINVAL,
                           "optimizer preconditioner: %s has no diagonal preconditioner (adam or "
                           "adamw only)",
                           hesse_optim_name(o->p.kind));
    if (o->steps < 1)
        return hesse_error(HESSE_EINVAL,
                           "optimizer preconditioner: none before the first step (v is zero)");
    /* torch.optim.Adam: denom = (exp_avg_sq.sqrt() / sqrt(1 - beta2^t)).add_(eps) */
    const double c2 = sqrt(1.0 - pow(o->p.beta2, (double)o->steps));
    for (int64_t i = 0; i < o->n; i++) diag[i] = sqrt(o->m2[i]) / c2 + o->p.eps;
    return HESSE_OK;
}

double hesse_optimizer_beta1(const hesse_optimizer *o) {
    return o && is_adam(o->p.kind) ? o->p.beta1 : 0.0;
}

int64_t hesse_optimizer_steps(const hesse_optimizer *o) {
    return o ? o->steps : 0;
}

/* The state: kind, n and steps as three int64, then the moments the kind keeps (n doubles
 * each), all in the machine's byte order (a checkpoint is resumed where it was written). */
size_t hesse_optimizer_state_bytes(const hesse_optimizer *o) {
    const size_t moments = (o->m1 ? 1u : 0u) + (o->m2 ? 1u : 0u);
    return 3 * sizeof(int64_t) + moments * (size_t)o->n * sizeof(double);
}

void hesse_optimizer_state_save(const hesse_optimizer *o, unsigned char *buf) {
    const int64_t head[3] = {(int64_t)o->p.kind, o->n, o->steps};
    const size_t vb = (size_t)o->n * sizeof(double);
    memcpy(buf, head, sizeof head);
    buf += sizeof head;
    if (o->m1) memcpy(buf, o->m1, vb);
    if (o->m2) memcpy(buf + (o->m1 ? vb : 0), o->m2, vb);
}

int hesse_optimizer_state_load(hesse_optimizer *o, const unsigned char *buf, size_t size) {
    int64_t head[3];
    if (size != hesse_optimizer_state_bytes(o))
        return hesse_error(HESSE_EINPUT, "optimizer state: %zu bytes, expected %zu", size,
                           hesse_optimizer_state_bytes(o));
    memcpy(head, buf, sizeof head);
    if (head[0] != (int64_t)o->p.kind || head[1] != o->n || head[2] < 0)
        return hesse_error(HESSE_EINPUT,
                           "optimizer state: of %s over %lld parameters, expected %s over %lld",
                           hesse_optim_name((hesse_optim_kind)head[0]), (long long)head[1],
                           hesse_optim_name(o->p.kind), (long long)o->n);
    const size_t vb = (size_t)o->n * sizeof(double);
    o->steps = head[2];
    buf += sizeof head;
    if (o->m1) memcpy(o->m1, buf, vb);
    if (o->m2) memcpy(o->m2, buf + (o->m1 ? vb : 0), vb);
    return HESSE_OK;
}

double hesse_schedule_lr(hesse_schedule_kind kind, double lr, int epoch, int epochs,
                         int step_epochs, double gamma) {
    switch (kind) {
    case HESSE_SCHEDULE_STEP:
        return lr * pow(gamma, (double)(epoch / (step_epochs > 0 ? step_epochs : 1)));
    case HESSE_SCHEDULE_COSINE:
        return epochs > 0 ? lr * 0.5 * (1.0 + cos(3.14159265358979323846 * epoch / epochs)) : lr;
    default:
        return lr;
    }
}

double hesse_schedule_warmup_cosine(double lr, int64_t step, int64_t steps, int64_t warmup) {
    if (step < warmup) return lr * ((double)(step + 1) / (double)warmup);
    if (steps <= warmup) return lr;
    return lr * 0.5 *
           (1.0 + cos(3.14159265358979323846 * (double)(step - warmup) / (double)(steps - warmup)));
}
