/* What every fuzz harness shares: the libFuzzer entry point, a scratch directory for parsers
 * that read paths, and the checks a failing call must pass (a known status and a message).
 *
 * A harness is one file defining LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a libFuzzer target; linked with standalone.c it is a program that
 * runs files, directories and generated variants of them (and AFL++'s `@@` or stdin). */
#ifndef HESSE_FUZZ_H
#define HESSE_FUZZ_H

#include <hesse/hesse.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a crash the fuzzer records) when an invariant of the code under test fails. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A failing call returns one of hesse's status codes and leaves a detail message. */
#define FUZZ_CHECK_FAILURE(rc)                                                                     \
    do {                                                                                           \
        int fuzz_rc_ = (rc);                                                                       \
        FUZZ_ASSERT(fuzz_rc_ <= HESSE_EINVAL && fuzz_rc_ >= HESSE_EINTR);                          \
        FUZZ_ASSERT(hesse_last_error()[0] != '\0');                                                \
    } while (0)

/* The path of `name` inside a private scratch directory (created on first use under
 * $HESSE_FUZZ_TMP, /dev/shm or /tmp, removed at exit), after writing data[0..size) to it.
 * Aborts when the file cannot be written: that is the harness's failure, not the input's.
 * The returned string stays valid for the next three calls. */
const char *fuzz_write_file(const char *name, const void *data, size_t size);
/* The scratch directory itself. */
const char *fuzz_dir(void);

/* Parameters of `arch` on input (c, h, w) (saturating at INT64_MAX), or -1 when it does not
 * resolve. Harnesses skip architectures above FUZZ_MAX_PARAMS before building a model: a
 * model's parameter buffer is allocated and zeroed whole, so a short string such as
 * "flatten,linear(784,100000000)" asks for gigabytes, legitimately, and would only measure
 * the machine's memory. */
#define FUZZ_MAX_PARAMS ((int64_t)1 << 22)
int64_t fuzz_arch_params(const char *arch, int c, int h, int w);

/* Little-endian loads for harnesses that peek at fixed offsets of their input. */
uint32_t fuzz_le32(const uint8_t *p);
uint64_t fuzz_le64(const uint8_t *p);

#endif
