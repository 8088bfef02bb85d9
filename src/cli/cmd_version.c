/* kagi version (also kagi --version): prints the version of kagi, the git
 * commit it was built from when known, and the versions of its libraries. */
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "kg_version.h"

int kg_cmd_version(int argc, char **argv)
{
	const struct kg_cli_spec spec = {
		.name = "version",
		.usage = "usage: kagi version   (or kagi --version)\n",
		.about = "Prints the version of kagi, the git commit it was built from (when the\n"
			 "build was made in a git checkout; \"-dirty\": with uncommitted changes),\n"
			 "and the versions of its libraries.\n",
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	if (KG_GIT_COMMIT[0])
		printf("kagi %s (commit %s)\n", KG_VERSION_STRING, KG_GIT_COMMIT);
	else
		printf("kagi %s\n", KG_VERSION_STRING);
	printf("sqlite %s, libmicrohttpd %s, jansson %s, libsodium %s\n", sqlite3_libversion(),
	       MHD_get_version(), JANSSON_VERSION, sodium_version_string());
	return 0;
}
