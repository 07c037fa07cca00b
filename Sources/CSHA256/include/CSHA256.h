#ifndef CSHA256_H
#define CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// SHA-256 of `length` bytes at `data` into `digest`, in one call and without a heap context,
/// using the CPU's SHA extensions. Returns 1 when it hashed; 0 when this CPU (or architecture) has
/// no SHA extensions, and then `digest` is untouched and the caller hashes another way.
int capi_sha256(const void *_Nullable data, size_t length, void *_Nonnull digest);

/// SHA-256 of two messages in one call, their rounds interleaved: on one core, about the time of
/// one. Returns 1 when it hashed both, 0 as ``capi_sha256`` does (neither digest touched).
int capi_sha256_pair(const void *_Nullable data_a, size_t length_a, const void *_Nullable data_b, size_t length_b,
    void *_Nonnull digest_a, void *_Nonnull digest_b);

/// Whether ``capi_sha256`` hashes on this CPU (asked once, then remembered).
int capi_sha256_accelerated(void);

#endif
