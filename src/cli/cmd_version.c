/* kagi version: prints the version of kagi and of the libraries it uses. */
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "cli/cli.h"

int kg_cmd_version(int argc, char **argv)
{
	if (kg_cli_wants_help(argc, argv)) {
		printf("usage: kagi version\n\nPrints the version of kagi and its libraries.\n");
		return 0;
	}
	printf("kagi %s\n", KG_VERSION);
	printf("sqlite %s, libmicrohttpd %s, jansson %s, libsodium %s\n", sqlite3_libversion(),
	       MHD_get_version(), JANSSON_VERSION, sodium_version_string());
	return 0;
}
