/* A main() for the harnesses when libFuzzer is not there (any C compiler), and for AFL++:
 *
 *   fuzz_X_standalone [options] FILE|DIR...   runs every file (a directory: the files in it),
 *                                             then `-runs` variants generated from them
 *   fuzz_X_standalone                         runs stdin once (AFL++ without @@)
 *   afl-fuzz -i corpus -o out -- fuzz_X_standalone @@
 *
 * Options (libFuzzer's spelling): -runs=N generated variants (default 0), -seed=S,
 * -max_len=N (default: twice the largest file, at least 4096), -max_total_time=S (stop
 * generating after S seconds), -timeout=S per input (default 20; SIGALRM ends the run).
 *
 * The variants come from a small deterministic mutator (bit flips, interesting bytes and
 * integers, number strings, deletions, insertions, splices): far weaker than libFuzzer's
 * coverage guidance, but enough for a smoke test to reach past the first checks. When an
 * input crashes (signal, or a sanitizer report in a sanitizer build) it is written to
 * crash-<pid>-<index> in $HESSE_FUZZ_ARTIFACTS (default: the working directory). */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<sanitizer/common_interface_defs.h>)
#include <sanitizer/common_interface_defs.h>
#define HAVE_SANITIZER_HEADER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

typedef struct {
    unsigned char *data;
    size_t size;
    char *name;
} input;

/* ---- The input being run, for the crash handlers ----------------------------------------- */

static const unsigned char *current;
static size_t current_size;
static char current_path[600]; /* where the input goes if it crashes: set before it runs */
static const char *artifacts;  /* $HESSE_FUZZ_ARTIFACTS */

/* Runs in signal handlers: open, write and close only. */
static void dump_current(void) {
    if (!current) return;
    const char *path = current_path;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t done = 0;
        while (done < current_size) {
            ssize_t w = write(fd, current + done, current_size - done);
            if (w <= 0) break;
            done += (size_t)w;
        }
        close(fd);
        static const char msg[] = "fuzz: the failing input was written to ";
        (void)!write(2, msg, sizeof msg - 1);
        (void)!write(2, path, strlen(path));
        (void)!write(2, "\n", 1);
    }
    current = NULL;
}

static void on_fatal(int sig) {
    if (sig == SIGALRM) {
        static const char msg[] = "fuzz: timeout\n";
        (void)!write(2, msg, sizeof msg - 1);
    }
    dump_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_handlers(void) {
    int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGALRM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], on_fatal);
#if defined(HAVE_SANITIZER_HEADER) && defined(UNDER_SANITIZER)
    __sanitizer_set_death_callback(dump_current);
#endif
}

/* ---- Corpus ----------------------------------------------------------------------------- */

static int read_path(const char *path, input *in) {
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = hesse_read_file(path, &data, &len);
    if (rc != HESSE_OK) {
        fprintf(stderr, "fuzz: %s\n", hesse_last_error());
        return -1;
    }
    in->data = data;
    in->size = len;
    in->name = strdup(path);
    return in->name ? 0 : -1;
}

static int cmp_input(const void *a, const void *b) {
    return strcmp(((const input *)a)->name, ((const input *)b)->name);
}

/* Appends the files named by path (a file, or the regular files of a directory, sorted). */
static int add_path(const char *path, input **list, size_t *n, size_t *cap) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t first = *n;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -1;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            if (stat(sub, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                input *grown = realloc(*list, *cap * sizeof **list);
                if (!grown) {
                    closedir(d);
                    return -1;
                }
                *list = grown;
            }
            if (read_path(sub, &(*list)[*n]) == 0) (*n)++;
        }
        closedir(d);
        if (*n > first) qsort(*list + first, *n - first, sizeof **list, cmp_input);
        return 0;
    }
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        input *grown = realloc(*list, *cap * sizeof **list);
        if (!grown) return -1;
        *list = grown;
    }
    if (read_path(path, &(*list)[*n]) != 0) return -1;
    (*n)++;
    return 0;
}

static int read_stdin(input *in) {
    size_t cap = 65536, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return -1;
    for (;;) {
        if (len == cap) {
            unsigned char *grown = realloc(buf, 2 * cap);
            if (!grown) {
                free(buf);
                return -1;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t r = read(0, buf + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    in->data = buf;
    in->size = len;
    in->name = strdup("<stdin>");
    return 0;
}

/* ---- Mutator ---------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static size_t below(size_t n) {
    return n ? (size_t)(rnd() % n) : 0;
}

static const uint64_t interesting[] = {0,
                                       1,
                                       2,
                                       7,
                                       8,
                                       0x7f,
                                       0x80,
                                       0xff,
                                       0x100,
                                       0x7fff,
                                       0xffff,
                                       0x7fffffff,
                                       0x80000000,
                                       0xffffffff,
                                       0x100000000ull,
                                       0x20000000000000ull, /* 2^53 */
                                       0x7fffffffffffffffull,
                                       0x8000000000000000ull,
                                       0xffffffffffffffffull,
                                       0x7ff0000000000000ull, /* +inf */
                                       0x7ff8000000000000ull, /* NaN */
                                       0x3ff0000000000000ull /* 1.0 */};
static const char *const numbers[] = {"0",
                                      "-1",
                                      "1",
                                      "-0",
                                      "1e308",
                                      "1e400",
                                      "-1e400",
                                      "nan",
                                      "inf",
                                      "NaN",
                                      "0.5",
                                      "2147483647",
                                      "2147483648",
                                      "-2147483649",
                                      "4294967296",
                                      "9007199254740992",
                                      "9007199254740993",
                                      "18446744073709551616",
                                      "1e-320",
                                      "99999999999999999999",
                                      "\"",
                                      "[",
                                      "]",
                                      "{",
                                      "}",
                                      ",",
                                      ":",
                                      "(",
                                      ")",
                                      "="};

/* Applies 1 to 8 random edits to buf (size *len, room cap); others: the corpus to splice. */
static void mutate(unsigned char *buf, size_t *len, size_t cap, const input *others,
                   size_t nothers) {
    int edits = 1 + (int)below(8);
    for (int e = 0; e < edits; e++) {
        size_t n = *len;
        switch (below(10)) {
        case 0: /* flip a bit */
            if (n) buf[below(n)] ^= (unsigned char)(1u << below(8));
            break;
        case 1: /* a random byte */
            if (n) buf[below(n)] = (unsigned char)rnd();
            break;
        case 2: { /* an interesting integer, 1, 2, 4 or 8 bytes, either byte order */
            size_t w = (size_t)1 << below(4);
            if (n < w) break;
            uint64_t v = interesting[below(sizeof interesting / sizeof interesting[0])];
            if (rnd() & 1) v = ~v + 1;
            size_t at = below(n - w + 1);
            for (size_t i = 0; i < w; i++)
                buf[at + i] = (unsigned char)(v >> (8 * ((rnd() & 1) ? i : w - 1 - i)));
            break;
        }
        case 3: { /* a number or JSON punctuation, replacing or inserting */
            const char *s = numbers[below(sizeof numbers / sizeof numbers[0])];
            size_t sl = strlen(s), at = below(n + 1);
            if (rnd() & 1) { /* overwrite */
                if (at + sl > n) break;
            } else { /* insert */
                if (n + sl > cap) break;
                memmove(buf + at + sl, buf + at, n - at);
                *len = n + sl;
            }
            for (size_t i = 0; i < sl; i++) buf[at + i] = (unsigned char)s[i];
            break;
        }
        case 4: { /* delete a range */
            if (!n) break;
            size_t at = below(n), k = 1 + below(n - at < 64 ? n - at : 64);
            memmove(buf + at, buf + at + k, n - at - k);
            *len = n - k;
            break;
        }
        case 5: { /* duplicate a range */
            if (!n) break;
            size_t from = below(n), k = 1 + below(n - from < 64 ? n - from : 64), at = below(n + 1);
            if (n + k > cap) break;
            unsigned char tmp[64];
            memcpy(tmp, buf + from, k);
            memmove(buf + at + k, buf + at, n - at);
            memcpy(buf + at, tmp, k);
            *len = n + k;
            break;
        }
        case 6: /* truncate */
            if (n) *len = below(n);
            break;
        case 7: { /* splice: overwrite a range with bytes of another input */
            if (!nothers) break;
            const input *o = &others[below(nothers)];
            if (!o->size || !n) break;
            size_t from = below(o->size), at = below(n);
            size_t k = o->size - from < n - at ? o->size - from : n - at;
            k = 1 + below(k);
            memcpy(buf + at, o->data + from, k);
            break;
        }
        case 8: { /* copy a range within */
            if (n < 2) break;
            size_t from = below(n), to = below(n), k = 1 + below(64);
            if (from + k > n) k = n - from;
            if (to + k > n) k = n - to;
            memmove(buf + to, buf + from, k);
            break;
        }
        default: /* small arithmetic on a byte */
            if (n) buf[below(n)] += (unsigned char)(below(35) - 17);
            break;
        }
    }
}

/* ---- Driver ------------------------------------------------------------------------------ */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void run_one(const unsigned char *data, size_t size, long index, unsigned timeout) {
    /* A private copy: the harness must not read past size, and ASan sees exactly that. */
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy) abort();
    if (size) memcpy(copy, data, size);
    snprintf(current_path, sizeof current_path, "%s%scrash-%ld-%ld", artifacts ? artifacts : "",
             artifacts ? "/" : "", (long)getpid(), index);
    current = copy;
    current_size = size;
    alarm(timeout);
    LLVMFuzzerTestOneInput(copy, size);
    alarm(0);
    current = NULL;
    free(copy);
}

static int option(const char *arg, const char *name, double *value) {
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0 || arg[n] != '=') return 0;
    char *end;
    *value = strtod(arg + n + 1, &end);
    if (*end || end == arg + n + 1 || *value < 0) {
        fprintf(stderr, "fuzz: bad value in '%s'\n", arg);
        exit(1);
    }
    return 1;
}

int main(int argc, char **argv) {
    double runs = 0, seed = 1, max_len = 0, max_time = 0, timeout = 20, v;
    input *corpus = NULL;
    size_t n = 0, cap = 0;
    int paths = 0;
    install_handlers();
    artifacts = getenv("HESSE_FUZZ_ARTIFACTS");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] != '\0') {
            if (option(a, "-runs", &v))
                runs = v;
            else if (option(a, "-seed", &v))
                seed = v;
            else if (option(a, "-max_len", &v))
                max_len = v;
            else if (option(a, "-max_total_time", &v))
                max_time = v;
            else if (option(a, "-timeout", &v))
                timeout = v;
            else
                fprintf(stderr, "fuzz: ignoring option '%s'\n", a);
            continue;
        }
        paths++;
        if (add_path(a, &corpus, &n, &cap) != 0) exit(1); /* a bad path: nothing to run */
    }
    if (!paths) {
        corpus = calloc(1, sizeof *corpus);
        if (!corpus || read_stdin(&corpus[0]) != 0) exit(1);
        n = 1;
    }
    double t0 = now();
    size_t largest = 0;
    for (size_t i = 0; i < n; i++) {
        run_one(corpus[i].data, corpus[i].size, (long)i, (unsigned)timeout);
        if (corpus[i].size > largest) largest = corpus[i].size;
    }
    long generated = 0;
    if (runs > 0) {
        size_t room = max_len > 0 ? (size_t)max_len : (2 * largest > 4096 ? 2 * largest : 4096);
        unsigned char *buf = malloc(room);
        if (!buf) exit(1);
        rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)seed;
        for (; generated < (long)runs; generated++) {
            if (max_time > 0 && now() - t0 > max_time) break;
            size_t len = 0;
            if (n) {
                const input *base = &corpus[below(n)];
                len = base->size < room ? base->size : room;
                memcpy(buf, base->data, len);
            }
            mutate(buf, &len, room, corpus, n);
            run_one(buf, len, (long)n + generated, (unsigned)timeout);
        }
        free(buf);
    }
    fprintf(stderr, "fuzz: %s: %zu corpus inputs and %ld generated ones in %.1f s, no crash\n",
            argv[0], n, generated, now() - t0);
    for (size_t i = 0; i < n; i++) {
        free(corpus[i].data);
        free(corpus[i].name);
    }
    free(corpus);
    return 0;
}
