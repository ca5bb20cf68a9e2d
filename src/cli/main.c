/* hesse: the command-line tool. Dispatches to one function per subcommand. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    int distributed; /* runs data-parallel under mpirun / srun */
} commands[] = {
    {"info", cmd_info, "version, BLAS library and core, threads, CPU features", 1},
    {"train", cmd_train, "train a network (SGD or Adam) and save it as safetensors", 0},
    {"eval", cmd_eval, "loss, accuracy and gradient norm of a model on data", 1},
    {"dense", cmd_dense, "the exact full spectrum of the Hessian or GGN (small networks)", 1},
    {"spectrum", cmd_spectrum, "extreme eigenvalues: Lanczos, power iteration or dense", 1},
    {"density", cmd_density, "spectral density: stochastic Lanczos quadrature or KPM", 1},
    {"trace", cmd_trace, "trace: exact, Hutchinson or Hutch++", 1},
    {"powerlaw", cmd_powerlaw, "power-law fit and KS test of the top eigenvalues (Xie et al.)", 1},
    {"classes", cmd_classes, "class-mean hierarchy of the outliers (Papyan 2019)", 1},
    {"samples", cmd_samples, "outliers and bulk against the number of samples (Papyan 2018)", 1},
    {"kronecker", cmd_kronecker, "layer Hessians vs the Kronecker decoupling (Wu et al.)", 1},
    {"blocks", cmd_blocks, "block heterogeneity: per-block spectra and JS0 (Zhang et al.)", 1},
    {"bench", cmd_bench, "time gradients and Hessian-vector products on standard cases", 0},
    {"report", cmd_report, "one self-contained HTML page from result documents", 0},
};
#define NUM_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void log_to_stderr(void *ctx, int level, const char *message) {
    (void)ctx;
    if (level < HESSE_LOG_INFO) return;
    if (!cli_root && level < HESSE_LOG_ERROR) return; /* rank 0 says the same */
    if (level == HESSE_LOG_INFO && cli_quiet) return;
    const char *tag = level >= HESSE_LOG_ERROR  ? "error: "
                      : level == HESSE_LOG_WARN ? "warning: "
                                                : "";
    fprintf(stderr, "hesse: %s%s\n", tag, message);
}

static void usage(FILE *f) {
    fprintf(f,
            "hesse %s: exact Hessian spectra of deep-network losses\n\n"
            "Usage: hesse COMMAND [options]   (hesse COMMAND --help for its options)\n\n"
            "Commands:\n",
            hesse_version());
    for (int i = 0; i < NUM_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nExit codes: 0 ok, 1 usage error, 2 bad input, 3 numerical failure, "
               "4 resource (memory, I/O).\n");
}

static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        if (cli_root) usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("hesse %s\n", hesse_version());
        return 0;
    }
    for (int i = 0; i < NUM_COMMANDS; i++) {
        if (strcmp(cmd, commands[i].name) != 0) continue;
        cli_command = commands[i].name;
        cli_dist_command_line(argc, argv);
        if (!commands[i].distributed && cli_distributed()) {
            if (cli_root)
                fprintf(stderr,
                        "hesse %s: runs on one process: start it without mpirun or srun (the "
                        "data-parallel commands are eval, dense, spectrum, density, trace, "
                        "powerlaw, classes, samples and kronecker)\n",
                        cmd);
            return 1;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    if (cli_root) fprintf(stderr, "hesse: unknown command '%s' (see hesse --help)\n", cmd);
    return 1;
}

/* A standard descriptor the caller closed (hesse ... >&-) is opened read-only onto /dev/null,
 * so that no file hesse opens takes its number and writes to it fail as they should. */
static void hold_closed_descriptors(void) {
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int got = open("/dev/null", O_RDONLY);
            if (got >= 0 && got != fd) {
                dup2(got, fd);
                close(got);
            }
        }
}

int main(int argc, char **argv) {
    hold_closed_descriptors();
    /* Before any BLAS call: choose OpenBLAS's kernel core for this CPU (may re-execute). */
    hesse_blas_prepare(argc, argv);
    hesse_set_log(log_to_stderr, NULL);
    int rc = cli_dist_start(&argc, &argv);
    if (rc != HESSE_OK) {
        fprintf(stderr, "hesse: %s: %s\n", hesse_strerror(rc), hesse_last_error());
        return cli_dist_end(hesse_exit_code(rc));
    }
    rc = cli_dist_end(dispatch(argc, argv));
    /* The last check of standard output: closing it can fail too (a network file system). */
    if (fclose(stdout) != 0 && rc == 0 && cli_root)
        rc = cli_fail(cli_command,
                      hesse_error(HESSE_EIO, "standard output: closing: %s", strerror(errno)));
    return rc;
}
