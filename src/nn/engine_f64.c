/* The engine's per-precision parts in double precision (engine_typed.inc). */
#include "nn/real.h"

#include "nn/layer-impl.h"

#include <stdlib.h>
#include <string.h>

#include "nn/engine_typed.inc"
