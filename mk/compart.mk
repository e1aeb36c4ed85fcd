# What programs linking libcompart need: libffi when its header is there
# (calls by name with string arguments), the dynamic linker's API, libm.
# SQLite's header decides whether the SQLite demo and benchmark are built.
HAVE_FFI     := $(shell echo | $(CC) -include ffi.h -E -x c - >/dev/null 2>&1 && echo y)
HAVE_SQLITE3 := $(shell echo | $(CC) -include sqlite3.h -E -x c - >/dev/null 2>&1 && echo y)
LIBCOMPART   := $(BUILD)/lib/libcompart.a
COMPART_LIBS := $(if $(HAVE_FFI),-lffi) -ldl -lm
# Compartments are shared objects loaded into namespaces of their own,
# each with its own libc: never built with a sanitizer runtime.
CMP_CFLAGS   := -O2 -g -std=gnu11 -Wall -Wextra -Wshadow -fPIC -shared \
		-I$(TOP)/include
