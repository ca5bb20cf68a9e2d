/* Helpers shared by the harnesses (fuzz.h): the scratch directory and little-endian loads. */
#include "fuzz.h"

#include "nn/nn-impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[256];

static void remove_scratch(void) {
    if (!scratch[0]) return;
    DIR *d = opendir(scratch);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(scratch);
    scratch[0] = '\0';
}

static int usable_dir(const char *dir) {
    struct stat st;
    return dir && dir[0] && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK) == 0;
}

const char *fuzz_dir(void) {
    if (scratch[0]) return scratch;
    const char *env = getenv("HESSE_FUZZ_TMP");
    const char *base = usable_dir(env) ? env : usable_dir("/dev/shm") ? "/dev/shm" : "/tmp";
    snprintf(scratch, sizeof scratch, "%s/hesse-fuzz.XXXXXX", base);
    if (!mkdtemp(scratch)) {
        fprintf(stderr, "fuzz: cannot create a scratch directory under %s: %s\n", base,
                strerror(errno));
        abort();
    }
    atexit(remove_scratch);
    return scratch;
}

const char *fuzz_write_file(const char *name, const void *data, size_t size) {
    static char paths[4][512]; /* the last four stay valid */
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", fuzz_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", path, strerror(errno));
        abort();
    }
    const unsigned char *p = data;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, p + done, size - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
            abort();
        }
        done += (size_t)w;
    }
    close(fd);
    return path;
}

uint32_t fuzz_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t fuzz_le64(const uint8_t *p) {
    return (uint64_t)fuzz_le32(p) | (uint64_t)fuzz_le32(p + 4) << 32;
}

int64_t fuzz_arch_params(const char *arch, int c, int h, int w) {
    hesse_layer *layers = NULL;
    char *canon = NULL;
    int count = 0;
    if (nn_parse_arch(arch, c, h, w, &layers, &count, &canon) != HESSE_OK) return -1;
    int64_t total = 0;
    for (int i = 0; i < count; i++) { /* the parser sizes every parametrised layer's views */
        if (__builtin_add_overflow(total, layers[i].weight_count, &total) ||
            __builtin_add_overflow(total, layers[i].bias_count, &total)) {
            total = INT64_MAX;
            break;
        }
    }
    free(layers);
    free(canon);
    return total;
}
