/* The engine's per-precision parts in single precision (engine_typed.inc). */
#define HESSE_REAL_F32
#include "nn/real.h"

#include "nn/layer-impl.h"

#include <stdlib.h>
#include <string.h>

#include "nn/engine_typed.inc"
