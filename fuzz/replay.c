/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs each file of the directories given on the command line through a fuzz target's entry
 * point, as libFuzzer would: the regression test of make check (built with gcc). A crash fails
 * the test; a missing directory is skipped. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Targets that need no set-up do not define it. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    char chunk[65536];
    size_t n;
    while (mem && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(f);
    if (!mem || fclose(mem) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    /* An exact-size copy, so that ASan sees a read past the end of the input. */
    uint8_t *data = malloc(size ? size : 1);
    if (!data) {
        free(buf);
        return -1;
    }
    memcpy(data, buf, size);
    free(buf);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    int failed = 0;
    unsigned total = 0;
    for (int i = 1; i < argc; i++) {
        struct dirent **names;
        int n = scandir(argv[i], &names, NULL, alphasort);
        if (n < 0) {
            printf("# %s: %s (skipped)\n", argv[i], strerror(errno));
            continue;
        }
        for (int k = 0; k < n; k++) {
            if (names[k]->d_name[0] != '.') {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
                printf("replay %s\n", path);
                fflush(stdout);
                if (replay_file(path) < 0)
                    failed = 1;
                total++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("%u inputs replayed\n", total);
    return failed;
}
