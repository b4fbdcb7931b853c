/* Runs a libFuzzer target over files named on the command line (the seed
 * corpus), so gcc builds exercise every fuzz target in the ordinary suite.
 * With -Dfuzz=true (clang) the real libFuzzer main is linked instead. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    int ran = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        uint8_t *buf = malloc(1 << 20);
        size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
        fclose(f);
        if (buf == NULL)
            return 1;
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        ran++;
    }
    printf("ok 1 - %d corpus inputs ran without a crash\n1..1\n", ran);
    return ran > 0 ? 0 : 1;
}
