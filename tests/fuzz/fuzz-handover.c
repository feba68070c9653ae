// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the handover FDT reader (daemon/handover/handover_read.c), fed
 * arbitrary blobs. The rules it must keep whatever the blob:
 *  - a refused blob adds nothing to the core and closes no fd;
 *  - an accepted one names only fds that are open and of the type their
 *    handler expects.
 * The fds a blob can name are set up once at fixed numbers (FUZZ_FD_BASE
 * on), the same ones mkcorpus.c preserves, so the seed blob is accepted
 * and mutations of it reach every step of the reader. A mutated blob's
 * checksum would stop nearly every input at the first check, so where the
 * root has one it is made right first (fix_checksum()); the unit test
 * covers the checksum itself, byte by byte.
 */
#include <assert.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-fds.h"
#include "core/luod.h"
#include "core/state.h" /* reset between runs */

/* the core knows the fd types only once they are registered, as luod's main() does */
__attribute__((constructor)) static void register_handlers(void)
{
	handlers_register();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR;
	if (fuzz_fds_setup() < 0)
		abort();
	return 0;
}

static void check_fds_open(void)
{
	for (int i = 0; i < FUZZ_NFDS; i++)
		assert(fcntl(FUZZ_FD_BASE + i, F_GETFD) >= 0);
}

static void fix_checksum(void *blob, size_t size)
{
	const void *v;
	int len;

	if (size < sizeof(struct fdt_header) || fdt_check_header(blob) || fdt_totalsize(blob) > size ||
	    fdt_version(blob) < 17 || fdt_check_full(blob, size))
		return;
	v = fdt_getprop(blob, 0, "checksum", &len);
	if (v && len == 8)
		fdt_setprop_inplace_u64(blob, 0, "checksum",
					luo_handover_checksum(blob, fdt_totalsize(blob),
							      (size_t)((const char *)v - (const char *)blob)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct luo_handover_luod h;
	void *blob;
	int r;

	if (size > 1024 * 1024)
		return 0;
	/* a copy the size of the input: reads past it are ASan reports */
	blob = malloc(size ? size : 1);
	assert(blob);
	memcpy(blob, data, size);
	fix_checksum(blob, size);
	r = luo_handover_read(blob, size, &h);
	free(blob);
	if (r < 0) {
		assert(!core_first_session() && core_file_count() == 0);
	} else {
		for (struct luo_session *s = core_first_session(); s; s = s->next) {
			assert(s->incoming);
			for (size_t i = 0; i < s->nfiles; i++) {
				struct luo_file *f = s->files[i];
				struct stat st;

				assert(fstat(f->fd, &st) == 0); /* open: the reader checked */
				/*
				 * Of its handler's type: checked by the reader, or, for a
				 * handler that says so, by its retrieve before the fd
				 * could leave luod.
				 */
				if (!f->handler->retrieve_checks_type || f->handler->retrieve(f) == 0)
					assert((st.st_mode & S_IFMT) == f->handler->type);
				f->fd = -1; /* the harness's, not the core's to close */
			}
		}
	}
	core_free_all();
	luo_core.state = LUO_STATE_NORMAL;
	luo_core.generation = 0;
	luo_core.updates = 0;
	check_fds_open();
	return 0;
}
