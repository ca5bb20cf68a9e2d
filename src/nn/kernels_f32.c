/* The layer kernels in single precision (kernels.inc, kernels_norm.inc). */
#define HESSE_REAL_F32
#include "nn/real.h"

#include "nn/nn-impl.h"

#include <string.h>

#include "nn/kernels.inc"
#include "nn/kernels_norm.inc"
