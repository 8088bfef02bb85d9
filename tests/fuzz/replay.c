/* Replays inputs through a libFuzzer target without libFuzzer: each argument
 * is a file or a directory of files. Deterministic; used by `make test`. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int one(const char *path, int *count)
{
	char *data = NULL;
	size_t len = 0;
	kg_err err = {0};
	if (kg_read_file(path, 16 * 1024 * 1024, &data, &len, &err)) {
		fprintf(stderr, "replay: %s: %s\n", path, err.msg);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)(data ? data : ""), len);
	free(data);
	(*count)++;
	return 0;
}

int main(int argc, char **argv)
{
	int count = 0, rc = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: not found\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			rc |= one(argv[i], &count);
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char p[4096];
			snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
			if (!stat(p, &st) && S_ISREG(st.st_mode))
				rc |= one(p, &count);
		}
		if (d)
			closedir(d);
	}
	printf("replayed %d inputs\n", count);
	return rc || count == 0;
}
