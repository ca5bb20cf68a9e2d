/* The layer kernels in double precision (kernels.inc). */
#include "nn/real.h"

#include "nn/nn-impl.h"

#include <string.h>

#include "nn/kernels.inc"
