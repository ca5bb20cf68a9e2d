/* Internals of the architecture parser: the syntax tree of a string (arch_parse.c) that
 * arch.c resolves into layers. */
#ifndef HESSE_ARCH_IMPL_H
#define HESSE_ARCH_IMPL_H

#include "nn/nn-impl.h"

#define MAX_ARGS 8

typedef struct {
    char key[32]; /* "" for a positional argument */
    int n;        /* integers given: 1 (a), 2 (a pair a, b), 3 (v[0..2]); 0: not integers */
    int a, b;     /* integer value, or the two of a pair (b = a for a single integer) */
    int v[3];     /* the integers of a tuple */
    int is_bool, is_float, is_none;
    double f;      /* numeric value (integers too) */
    char word[32]; /* identifier value, e.g. approximate='none' */
} arch_arg;

typedef struct arch_item {
    char module[HESSE_MODULE_MAX]; /* "" when unnamed */
    char name[32];                 /* lower-case layer name */
    int nargs;
    arch_arg args[MAX_ARGS];
    int pos; /* character offset in the string, for messages */
    /* residual(...): the main items then the shortcut items */
    struct arch_item *sub;
    int nmain, nshort, is_residual;
} arch_item;

/* The string parsed and its text for messages (a preset's name, or a long string cut). */
typedef struct {
    const char *src;
    char shown[200];
} arch_ctx;

/* Splits the string cx->src into items (residual blocks with their own items). Errors are
 * HESSE_EINPUT naming the character. */
int nn_arch_tokenize(const arch_ctx *cx, arch_item **items, int *count);
void nn_arch_free_items(arch_item *items, int count);

#endif
