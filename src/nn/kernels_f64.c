/* The layer kernels in double precision (kernels.inc, kernels_norm.inc). */
#include "nn/real.h"

#include "nn/nn-impl.h"

#include <string.h>

#include "nn/kernels.inc"
#include "nn/kernels_norm.inc"
