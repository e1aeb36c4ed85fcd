/*
 * libcompart's loader (src/compart/loader.c), compiled as it is, so that
 * fuzz_elf can call its elf_check() and names_free() (hidden in the
 * library) through the two functions below.  The rest of libcompart
 * comes from libcompart.a; its own loader.o is never linked, this file
 * defining all it does.
 */
#undef _GNU_SOURCE	/* loader.c defines it */
#include "loader.c"	/* src/compart/loader.c: -I src/compart */

int	fz_elf_check(const char *path, char ***namesp, const char *want,
	    bool *found);
void	fz_names_free(char **names);

int
fz_elf_check(const char *path, char ***namesp, const char *want, bool *found)
{
	return elf_check(path, namesp, want, found);
}

void
fz_names_free(char **names)
{
	names_free(names);
}
