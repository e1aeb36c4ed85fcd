# One program per .c file of the including directory, linked with the
# static libcomsg, into $(BUILD)/$(PROGDIR).  Set PROGDIR first.
OUT   := $(BUILD)/$(PROGDIR)
PROGS := $(patsubst %.c,$(OUT)/%,$(wildcard *.c))

all: $(PROGS)

$(OUT)/%: %.c $(LIBCOMSG) | $(OUT)
	$(CC) $(CFLAGS) -D_GNU_SOURCE $(LDFLAGS) -o $@ $< $(LIBCOMSG) $(LDLIBS)

$(OUT):
	mkdir -p $@

.PHONY: all
