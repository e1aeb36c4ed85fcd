# Settings shared by every Makefile.  Override on the command line, e.g.
#   make BUILD=build-asan SANITIZE=address,undefined test
TOP      := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
BUILD    ?= $(TOP)/build
CC       ?= cc
OPT      ?= -O2 -g
SANITIZE ?=
PREFIX   ?= /usr/local

CFLAGS   += $(OPT) -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter \
	    -fno-strict-aliasing -pthread -I$(TOP)/include
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZE)
endif
LDLIBS   += -pthread

LIBCOMSG := $(BUILD)/lib/libcomsg.a
