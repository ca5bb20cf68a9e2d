#include <hesse/core.h>
#include <stdio.h>
int main(int argc, char **argv) {
    hesse_blas_prepare(argc, argv);
    printf("hesse %s\n", hesse_version());
    return 0;
}
