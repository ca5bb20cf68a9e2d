/* Precision of one compilation of the generic engine sources (*.inc): define HESSE_REAL_F32
 * before including this for single precision; double otherwise. SUF(name) gives the
 * precision's name for a function or type (name_f64 / name_f32). Not a public header. */
#ifndef HESSE_NN_REAL_H
#define HESSE_NN_REAL_H

#include <cblas.h>
#include <math.h>

#ifdef HESSE_REAL_F32
typedef float real;
#define SUF(name)   name##_f32
#define REAL_IS_F32 1
#define GEMM        cblas_sgemm
#define SYRK        cblas_ssyrk
#define AXPY        cblas_saxpy
#define R_EXP(x)    expf(x)
#define R_LOG(x)    logf(x)
#define R_TANH(x)   tanhf(x)
#define R_ERF(x)    erff(x)
#else
typedef double real;
#define SUF(name)   name##_f64
#define REAL_IS_F32 0
#define GEMM        cblas_dgemm
#define SYRK        cblas_dsyrk
#define AXPY        cblas_daxpy
#define R_EXP(x)    exp(x)
#define R_LOG(x)    log(x)
#define R_TANH(x)   tanh(x)
#define R_ERF(x)    erf(x)
#endif

#define R(x) ((real)(x))

#endif
