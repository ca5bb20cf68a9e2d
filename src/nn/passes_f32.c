/* The passes over one chunk in single precision (passes.inc). */
#define HESSE_REAL_F32
#include "nn/real.h"

#include "nn/layer-impl.h"

#include <string.h>

#include "nn/passes.inc"
