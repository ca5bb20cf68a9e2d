/* hesse/hesse.h: the whole public interface of libhesse. */
#ifndef HESSE_HESSE_H
#define HESSE_HESSE_H

#include <hesse/core.h>
#include <hesse/op.h>
#include <hesse/data.h>
#include <hesse/nn.h>
#include <hesse/curv.h>
#include <hesse/spectral.h>
#include <hesse/analysis.h>
#include <hesse/io.h>
#include <hesse/schema.h>
#include <hesse/dist.h>

#endif
