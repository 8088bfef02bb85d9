/* Calls that are easy to misuse; included into every kagi translation unit.
 * Use snprintf / kg_buf_printf / strtol-based parsers instead. */
#ifndef KG_BANNED_H
#define KG_BANNED_H

/* The system headers first: with optimisation glibc defines inline atoi/atol
 * in <stdlib.h>, which the macros below would otherwise break. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KG_BANNED(func) sorry_##func##_is_banned_in_kagi

#undef strcpy
#define strcpy(x, y) KG_BANNED(strcpy)
#undef strcat
#define strcat(x, y) KG_BANNED(strcat)
#undef sprintf
#define sprintf(...) KG_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) KG_BANNED(vsprintf)
#undef gets
#define gets(x) KG_BANNED(gets)
#undef atoi
#define atoi(x) KG_BANNED(atoi)
#undef atol
#define atol(x) KG_BANNED(atol)

#endif
