/*
 * Calls by name with arguments given as strings (cohost), through libffi:
 * the arguments are converted following the entry's signature, and the
 * call goes through the entry's gate like any other.  Without libffi at
 * build time, compart_callv() fails with ENOSYS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef HAVE_FFI
#include <ffi.h>

static int
parse_arg(char t, const char *s, void *out)
{
	char *end;

	errno = 0;
	switch (t) {
	case 'i': {
		long v = strtol(s, &end, 0);

		if (*s == '\0' || *end != '\0' || errno != 0 || v < INT32_MIN ||
		    v > UINT32_MAX)
			return -1;
		*(int *)out = (int)v;
		return 0;
	}
	case 'l':
	case 'p': {
		long long v = strtoll(s, &end, 0);

		if (*s == '\0' || *end != '\0' || errno != 0) {
			unsigned long long u;

			errno = 0;
			u = strtoull(s, &end, 0);
			if (*s == '\0' || *end != '\0' || errno != 0)
				return -1;
			v = (long long)u;
		}
		*(long *)out = (long)v;
		return 0;
	}
	case 'd':
		*(double *)out = strtod(s, &end);
		return *s == '\0' || *end != '\0' ? -1 : 0;
	}
	return -1;
}

static ffi_type *
type_of(char t)
{
	switch (t) {
	case 'v': return &ffi_type_void;
	case 'i': return &ffi_type_sint;
	case 'd': return &ffi_type_double;
	default: return &ffi_type_pointer;	/* l p s: 64 bits */
	}
}

/* An argument is a string: in c's process (process mode), which sees
 * only windows, a copy in window memory opened to it (*wp, made on first
 * use); else the string itself. */
static int
string_arg(compart_t *cp, struct compart *c, const char *s, void **argp,
    compart_window_t **wp)
{
	size_t len = strlen(s) + 1;

	if (c == NULL || c->mode != COMPART_PROCESS) {
		*argp = (void *)s;
		return 0;
	}
	if (*wp == NULL && (*wp = compart_window_create(NULL)) == NULL)
		return -1;
	if ((*argp = compart_window_alloc(*wp, len)) == NULL)
		return -1;
	memcpy(*argp, s, len);
	return compart_window_open(*wp, cp);
}

union value { int i; long l; double d; void *p; };

/* The call, through its gate like any other: -1 if the gate failed it
 * (a violation, the compartment's process gone, a bad argument): the
 * value returned is then not the function's.  A violation deeper down
 * that the callee recovered from is not the host's: only the host's own
 * gate counts. */
static int
ffi_run(ffi_cif *cif, void *fn, char rtype, void **values, union value *ret,
    const char *name)
{
	struct thr *t = thr_self();
	ffi_arg r64 = 0;
	double rd = 0;

	compart_clear_violation();
	t->host_call_err = 0;
	err_clear();
	memset(ret, 0, sizeof(*ret));
	if (rtype == 'd')
		ffi_call(cif, FFI_FN(fn), &rd, values);
	else
		ffi_call(cif, FFI_FN(fn), &r64, values);
	ret->d = rd;
	if (rtype != 'd')
		ret->l = (long)r64;
	if (t->host_call_err != 0) {
		int err = t->host_call_err;

		if (err_pending())
			errno = err;	/* the gate said why */
		else
			set_err(err, "the call of %s failed: %s", name,
			    strerror(err));
		return -1;
	}
	return 0;
}

static void
result_format(struct compart *c, char rtype, const union value *ret,
    char *res, size_t reslen)
{
	switch (rtype) {
	case 'v': snprintf(res, reslen, "(void)"); break;
	case 'i': snprintf(res, reslen, "%d", (int)ret->l); break;
	case 'l': snprintf(res, reslen, "%ld", ret->l); break;
	case 'p': snprintf(res, reslen, "%p", ret->p); break;
	case 'd': snprintf(res, reslen, "%.17g", ret->d); break;
	case 's':
		if (ret->p == NULL)
			snprintf(res, reslen, "(null)");
		else if (c != NULL && c->mode == COMPART_PROCESS &&
		    !window_covers(c->idx, (uintptr_t)ret->p, 1))
			snprintf(res, reslen, "%p (in the compartment's "
			    "process)", ret->p);
		else
			snprintf(res, reslen, "%s", (const char *)ret->p);
		break;
	}
}

int
compart_callv(compart_t *cp, const char *name, int argc, char *const argv[],
    char *res, size_t reslen)
{
	ffi_type *types[COMPART_MAXARGS];
	void *values[COMPART_MAXARGS];
	union value args[COMPART_MAXARGS], ret;
	compart_window_t *w = NULL;
	struct compart *c;
	const char *sig, *p;
	void *fn;
	ffi_cif cif;
	int n, i, rc = -1;

	if (res == NULL || reslen == 0 || argc < 0)
		return set_err(EINVAL, "bad arguments");
	res[0] = '\0';
	fn = compart_entry(cp, name);
	if (fn == NULL)
		return -1;
	sig = compart_entry_sig(cp, name);
	if (sig == NULL || sig_parse(sig, &n, NULL) < 0)
		return -1;
	if (n != argc)
		return set_err(EINVAL, "%s takes %d argument%s (signature %s), "
		    "not %d", name, n, n == 1 ? "" : "s", sig, argc);
	table_lock();
	c = compart_get(cp);
	table_unlock();
	for (i = 0, p = sig + 2; i < n; i++, p++) {
		types[i] = type_of(*p);
		values[i] = &args[i];
		if (*p == 's') {
			if (string_arg(cp, c, argv[i], &args[i].p, &w) < 0)
				goto out;
		} else if (parse_arg(*p, argv[i], &args[i]) < 0) {
			set_err(EINVAL, "argument %d (\"%s\") is not %s",
			    i + 1, argv[i], *p == 'd' ? "a number" :
			    "an integer");
			goto out;
		}
	}
	if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, (unsigned)n, type_of(sig[0]),
	    types) != FFI_OK) {
		set_err(EINVAL, "libffi refused signature %s", sig);
		goto out;
	}
	if (ffi_run(&cif, fn, sig[0], values, &ret, name) < 0)
		goto out;
	result_format(c, sig[0], &ret, res, reslen);
	rc = 0;
out:
	if (w != NULL)
		compart_window_destroy(w);
	return rc;
}

#else

int
compart_callv(compart_t *c, const char *name, int argc, char *const argv[],
    char *res, size_t reslen)
{
	(void)c; (void)name; (void)argc; (void)argv; (void)res; (void)reslen;
	return set_err(ENOSYS, "built without libffi (Debian: apt-get "
	    "install libffi-dev, then rebuild)");
}

#endif
