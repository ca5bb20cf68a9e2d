/* The passes over one chunk in double precision (passes.inc). */
#include "nn/real.h"

#include "nn/layer-impl.h"

#include <string.h>

#include "nn/passes.inc"
