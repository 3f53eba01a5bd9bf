/*
 * Guard-page buffers for tests: data is copied so that its last byte sits
 * just before a PROT_NONE page, so reading one byte past the end faults.
 */
#ifndef FORKSERVE_TEST_GUARD_H
#define FORKSERVE_TEST_GUARD_H

#include <stddef.h>

/* Returns a writable copy of data[0..len) ending at a guard page (exits on
 * mmap failure). Free it with guard_free. */
char *guard_copy(const void *data, size_t len);

/* Returns nothing; unmaps a buffer from guard_copy (len as given to it). */
void guard_free(char *p, size_t len);

#endif
