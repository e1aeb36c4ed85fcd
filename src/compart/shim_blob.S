/* The heap shim (shim.c, built as a shared object), carried inside the
 * library so that loading a compartment needs no file on disk but its
 * own. */
	.section .rodata
	.globl	compart_shim_blob
	.hidden	compart_shim_blob
	.globl	compart_shim_blob_end
	.hidden	compart_shim_blob_end
	.balign	16
compart_shim_blob:
	.incbin	SHIM_SO
compart_shim_blob_end:
	.section .note.GNU-stack,"",@progbits
