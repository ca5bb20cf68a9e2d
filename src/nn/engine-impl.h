/* Internals of the engine shared by its files (engine.c: the passes and products;
 * factors.c: backward passes with given output gradients and Kronecker factors). */
#ifndef HESSE_ENGINE_IMPL_H
#define HESSE_ENGINE_IMPL_H

#include "nn/nn-impl.h"

struct hesse_engine {
    const hesse_model *m;
    int chunk, max_block;
    int L;            /* layers */
    int C;            /* outputs */
    int first_param;  /* first layer with parameters: nothing before it is differentiated */
    int64_t *size;    /* size[l]: values per sample of activation l, l = 0..L */
    double **act;     /* act[l], l = 1..L: [chunk, size[l]] */
    double **grad;    /* grad[l], l = 1..L: dL/d act[l] */
    double **ract;    /* ract[l], l = 1..L: [k, chunk, size[l]] */
    double *rg[2];    /* R-backward ping-pong: [k, chunk, max size] */
    double **cols;    /* conv layers: im2col of the input, [K, chunk * P] */
    double **rcols;   /* conv layers: im2col of the R-input, [K, k * chunk * P] */
    int32_t **argmax; /* max-pool layers: [chunk, out size] */
    double *probs;    /* softmax of the logits, [chunk, C] */
    double *tmp;      /* conv: [max(k*Cout, Cout), k * chunk * P] */
    double *gcols;    /* conv: [K, k * chunk * P] */
    double *gyp;      /* conv: output gradient as [Cout, chunk * P] */
    double *vstack;   /* conv: the k weight directions stacked, [k * Cout, K] */
    /* Pointers for the current pass: flatten makes its output an alias of its input. */
    const double **a;
    double **g, **ra;
    size_t bytes;
};

/* One chunk of B samples (inputs x, [B, size[0]]): forward through every layer. */
void nn_forward_chunk(hesse_engine *e, int B, const double *x);
/* Loss of each sample from the logits of the last forward; fills e->probs (cross-entropy)
 * and g[L] = scale * dl/dz. Returns the index of the first sample with a non-finite loss, or
 * -1; adds the losses to *sum and the correct predictions to *correct (may be NULL). */
int64_t nn_loss_chunk(hesse_engine *e, int B, const int32_t *y, double scale, double *sum,
                      int64_t *correct);
/* Back-propagates g[L] to every layer output g[l], l > first_param, adding the parameter
 * gradient to pgrad when it is not NULL. */
void nn_backward_chunk(hesse_engine *e, int B, double *pgrad);
/* HESSE_EINPUT when the samples' shape or labels do not fit the model. */
int nn_check_samples(const hesse_engine *e, const hesse_samples *s);

#endif
