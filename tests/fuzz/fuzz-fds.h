/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fds the handover fuzzer's blobs name: mkcorpus.c preserves them to
 * write the seed blob, fuzz-handover.c sets up the same ones before fuzzing.
 */
#ifndef LUO_FUZZ_FDS_H
#define LUO_FUZZ_FDS_H

#define FUZZ_FD_BASE 100
#define FUZZ_NFDS 4 /* a memfd, both ends of a pipe, an eventfd */

/* Put them at FUZZ_FD_BASE..+FUZZ_NFDS-1; 0 or -errno. */
int fuzz_fds_setup(void);

#endif
