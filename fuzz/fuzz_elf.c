/*
 * fuzz_elf: elf_check() (src/compart/loader.c), libcompart's reader of
 * the file a program names as a compartment, run before the dynamic
 * linker sees it: it must be an ELF shared object for x86-64, and the
 * names of its entry descriptors (__compart_entry_NAME) are read from
 * its .dynsym.  The file is whoever wrote it: truncated, corrupt, or
 * made to mislead.  compart_load() asks for the list; compart_entry()
 * reads the file again to tell whether a name that is not an entry is a
 * symbol at all (want, found).
 *
 * loader.c is compiled as it is (compart_loader.c) and reached through
 * fz_elf_check(); the rest of libcompart comes from libcompart.a.
 *
 * Input: the file.  It is written to a memfd, which elf_check() opens by
 * its name in /proc/self/fd as it opens any path: a regular file.
 *
 * Checked besides crashes (UBSan included) and leaks: a list or an
 * error, never both; a file refused is ENOEXEC, with a message that
 * names it; each name listed is a string of the file (the prefix, the
 * name, a NUL); the same list each time; with want, each listed entry's
 * symbol is found, and a name longer than the file never is.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "comsg/compart.h"
#include "fuzz.h"

#define PREFIX	"__compart_entry_"
#define NWANT	4		/* entries looked up by name, at most */
#define NSCAN	32		/* names looked for in the file, at most */

/* compart_loader.c */
int	fz_elf_check(const char *path, char ***namesp, const char *want,
	    bool *found);
void	fz_names_free(char **names);

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_init();
	memfd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	FZ_CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	fz_fd_baseline();
	return 0;
}

/* The symbol's name, PREFIX and name, NUL-terminated (malloc'd). */
static char *
symname(const char *name)
{
	size_t k = strlen(PREFIX), n = strlen(name);
	char *s = malloc(k + n + 1);

	FZ_CHECK(s != NULL, "malloc");
	memcpy(s, PREFIX, k);
	memcpy(s + k, name, n + 1);
	return s;
}

static void
same(char **a, char **b)
{
	size_t i;

	for (i = 0; a[i] != NULL && b[i] != NULL; i++)
		FZ_CHECK(strcmp(a[i], b[i]) == 0, "entry %zu: %s, then %s",
		    i, a[i], b[i]);
	FZ_CHECK(a[i] == NULL && b[i] == NULL, "a list of %zu entries, then "
	    "of more or fewer", i);
}

/* elf_check() again, as compart_entry() calls it: the same result and
 * list as without want; whether it found want. */
static bool
lookup(const char *want, int rc0, char **names0)
{
	char **names;
	bool found = false;
	int rc = fz_elf_check(path, &names, want, &found);

	FZ_CHECK(rc == rc0, "%d, then %d (%s)", rc0, rc, compart_error());
	if (rc == 0)
		same(names0, names);
	else
		FZ_CHECK(names == NULL, "failed, yet a list");
	fz_names_free(names);
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *stale[1];
	char **names = stale, *big;
	size_t n = 0, i;
	int rc;

	FZ_CHECK(ftruncate(memfd, 0) == 0 &&
	    pwrite(memfd, data, size, 0) == (ssize_t)size, "memfd: %s",
	    strerror(errno));

	rc = fz_elf_check(path, &names, NULL, NULL);
	if (rc == 0) {
		FZ_CHECK(names != NULL, "no list");
		for (n = 0; names[n] != NULL; n++) {
			char *s;

			if (n >= NSCAN)
				continue;
			s = symname(names[n]);
			FZ_CHECK(memmem(data, size, s, strlen(s) + 1) != NULL,
			    "%s: not a string of the file", s);
			free(s);
		}
		FZ_LOG("%zu entries", n);
	} else {
		FZ_CHECK(rc == -1, "returned %d", rc);
		FZ_CHECK(names == NULL, "failed, yet a list");
		FZ_CHECK(errno == ENOEXEC || errno == ENOMEM, "errno %d (%s)",
		    errno, compart_error());
		FZ_CHECK(strncmp(compart_error(), path, strlen(path)) == 0,
		    "message: %s", compart_error());
		FZ_LOG("refused: %s", compart_error());
	}

	/* Each entry, by its symbol's name. */
	for (i = 0; i < n && i < NWANT; i++) {
		char *s = symname(names[i]);

		FZ_CHECK(lookup(s, rc, names), "%s listed, not found", s);
		free(s);
	}
	/* A name no symbol of the file can have. */
	big = malloc(size + 2);
	FZ_CHECK(big != NULL, "malloc");
	memset(big, 'x', size + 1);
	big[size + 1] = '\0';
	FZ_CHECK(!lookup(big, rc, names), "a name longer than the file found");
	free(big);

	fz_names_free(names);
	fz_done();
	return 0;
}
