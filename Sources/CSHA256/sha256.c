// SHA-256 with the x86 SHA extensions (SHA-NI), one call per message or per pair of messages.
//
// Every personal value of every event is hashed, and most are one 64-byte block. Through
// swift-crypto each hash allocates and frees a digest context on the heap, and the call cost about
// twice the compression itself (docs/performance.md, fifteenth part). This file does the padding
// on the stack and the rounds with the CPU's instructions. Without the extensions it answers 0 and
// the caller uses swift-crypto, so every machine gets the same digests.

#include "CSHA256.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define CAPI_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t round_constants[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/// Big-endian 32-bit words from bytes, and back.
#define CAPI_BYTE_SWAP_MASK _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL)

/// One 64-byte block into the state, kept as the instructions want it: (A, B, E, F) and (C, D, G, H).
CAPI_SHA_TARGET
static void compress_block(__m128i *abef, __m128i *cdgh, const uint8_t *block) {
    __m128i state0 = *abef;
    __m128i state1 = *cdgh;
    // The message schedule, four words at a time: the last four groups, indexed modulo 4.
    __m128i schedule[4];
    for (int group = 0; group < 16; group++) {
        __m128i words;
        if (group < 4) {
            words = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * group)), CAPI_BYTE_SWAP_MASK);
        } else {
            // W[t..t+3] from W[t-16..t-13], W[t-15..t-12], W[t-7..t-4] and W[t-2..t-1].
            __m128i partial = _mm_sha256msg1_epu32(schedule[group & 3], schedule[(group + 1) & 3]);
            partial = _mm_add_epi32(partial, _mm_alignr_epi8(schedule[(group + 3) & 3], schedule[(group + 2) & 3], 4));
            words = _mm_sha256msg2_epu32(partial, schedule[(group + 3) & 3]);
        }
        schedule[group & 3] = words;
        __m128i message = _mm_add_epi32(words, _mm_load_si128((const __m128i *)(round_constants + 4 * group)));
        state1 = _mm_sha256rnds2_epu32(state1, state0, message);
        state0 = _mm_sha256rnds2_epu32(state0, state1, _mm_shuffle_epi32(message, 0x0E));
    }
    *abef = _mm_add_epi32(*abef, state0);
    *cdgh = _mm_add_epi32(*cdgh, state1);
}

/// Two 64-byte blocks, one into each state, their rounds interleaved. Each round waits on the one
/// before it, so one message alone leaves the SHA unit idle between rounds; a second message's
/// rounds fill those gaps, and two messages cost about what one did (`bench normalize`).
CAPI_SHA_TARGET
static void compress_two(__m128i *abef_a, __m128i *cdgh_a, const uint8_t *block_a, __m128i *abef_b, __m128i *cdgh_b, const uint8_t *block_b) {
    __m128i a0 = *abef_a, a1 = *cdgh_a, b0 = *abef_b, b1 = *cdgh_b;
    __m128i schedule_a[4], schedule_b[4];
    for (int group = 0; group < 16; group++) {
        __m128i words_a, words_b;
        if (group < 4) {
            words_a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block_a + 16 * group)), CAPI_BYTE_SWAP_MASK);
            words_b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block_b + 16 * group)), CAPI_BYTE_SWAP_MASK);
        } else {
            __m128i partial_a = _mm_sha256msg1_epu32(schedule_a[group & 3], schedule_a[(group + 1) & 3]);
            __m128i partial_b = _mm_sha256msg1_epu32(schedule_b[group & 3], schedule_b[(group + 1) & 3]);
            partial_a = _mm_add_epi32(partial_a, _mm_alignr_epi8(schedule_a[(group + 3) & 3], schedule_a[(group + 2) & 3], 4));
            partial_b = _mm_add_epi32(partial_b, _mm_alignr_epi8(schedule_b[(group + 3) & 3], schedule_b[(group + 2) & 3], 4));
            words_a = _mm_sha256msg2_epu32(partial_a, schedule_a[(group + 3) & 3]);
            words_b = _mm_sha256msg2_epu32(partial_b, schedule_b[(group + 3) & 3]);
        }
        schedule_a[group & 3] = words_a;
        schedule_b[group & 3] = words_b;
        __m128i constants = _mm_load_si128((const __m128i *)(round_constants + 4 * group));
        __m128i message_a = _mm_add_epi32(words_a, constants);
        __m128i message_b = _mm_add_epi32(words_b, constants);
        a1 = _mm_sha256rnds2_epu32(a1, a0, message_a);
        b1 = _mm_sha256rnds2_epu32(b1, b0, message_b);
        a0 = _mm_sha256rnds2_epu32(a0, a1, _mm_shuffle_epi32(message_a, 0x0E));
        b0 = _mm_sha256rnds2_epu32(b0, b1, _mm_shuffle_epi32(message_b, 0x0E));
    }
    *abef_a = _mm_add_epi32(*abef_a, a0);
    *cdgh_a = _mm_add_epi32(*cdgh_a, a1);
    *abef_b = _mm_add_epi32(*abef_b, b0);
    *cdgh_b = _mm_add_epi32(*cdgh_b, b1);
}

/// A message as blocks: its whole 64-byte blocks where it lies, then a padded tail of the rest,
/// the 0x80 marker and the bit length (one block, or two when fewer than 9 bytes are left after
/// the rest).
typedef struct {
    const uint8_t *data;
    size_t whole_blocks;
    size_t blocks;
    uint8_t tail[128];
} padded_message;

static void pad_message(padded_message *message, const uint8_t *data, size_t length) {
    message->data = data;
    message->whole_blocks = length / 64;
    size_t remaining = length % 64;
    size_t tail_length = remaining < 56 ? 64 : 128;
    memset(message->tail, 0, tail_length);
    if (remaining > 0) memcpy(message->tail, data + 64 * message->whole_blocks, remaining);
    message->tail[remaining] = 0x80;
    uint64_t bits = (uint64_t)length * 8;
    for (int index = 0; index < 8; index++) message->tail[tail_length - 1 - index] = (uint8_t)(bits >> (8 * index));
    message->blocks = message->whole_blocks + tail_length / 64;
}

static const uint8_t *message_block(const padded_message *message, size_t index) {
    return index < message->whole_blocks ? message->data + 64 * index : message->tail + 64 * (index - message->whole_blocks);
}

CAPI_SHA_TARGET
static void initial_state(__m128i *abef, __m128i *cdgh) {
    static const uint32_t initial[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&initial[0]), 0xB1);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&initial[4]), 0x1B);
    *abef = _mm_alignr_epi8(dcba, efgh, 8);
    *cdgh = _mm_blend_epi16(efgh, dcba, 0xF0);
}

CAPI_SHA_TARGET
static void store_digest(__m128i abef, __m128i cdgh, uint8_t *digest) {
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    __m128i first = _mm_blend_epi16(feba, dchg, 0xF0);
    __m128i second = _mm_alignr_epi8(dchg, feba, 8);
    _mm_storeu_si128((__m128i *)digest, _mm_shuffle_epi8(first, CAPI_BYTE_SWAP_MASK));
    _mm_storeu_si128((__m128i *)(digest + 16), _mm_shuffle_epi8(second, CAPI_BYTE_SWAP_MASK));
}

CAPI_SHA_TARGET
static void sha256_extensions(const uint8_t *data, size_t length, uint8_t *digest) {
    padded_message message;
    pad_message(&message, data, length);
    __m128i abef, cdgh;
    initial_state(&abef, &cdgh);
    for (size_t index = 0; index < message.blocks; index++) compress_block(&abef, &cdgh, message_block(&message, index));
    store_digest(abef, cdgh, digest);
}

/// Two messages: their blocks side by side while both have one, then the longer one's rest alone.
CAPI_SHA_TARGET
static void sha256_pair_extensions(const uint8_t *data_a, size_t length_a, const uint8_t *data_b, size_t length_b, uint8_t *digest_a, uint8_t *digest_b) {
    padded_message a, b;
    pad_message(&a, data_a, length_a);
    pad_message(&b, data_b, length_b);
    __m128i abef_a, cdgh_a, abef_b, cdgh_b;
    initial_state(&abef_a, &cdgh_a);
    initial_state(&abef_b, &cdgh_b);
    size_t shared = a.blocks < b.blocks ? a.blocks : b.blocks;
    for (size_t index = 0; index < shared; index++) {
        compress_two(&abef_a, &cdgh_a, message_block(&a, index), &abef_b, &cdgh_b, message_block(&b, index));
    }
    for (size_t index = shared; index < a.blocks; index++) compress_block(&abef_a, &cdgh_a, message_block(&a, index));
    for (size_t index = shared; index < b.blocks; index++) compress_block(&abef_b, &cdgh_b, message_block(&b, index));
    store_digest(abef_a, cdgh_a, digest_a);
    store_digest(abef_b, cdgh_b, digest_b);
}

static int detect_extensions(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int ssse3 = (ecx >> 9) & 1;
    int sse41 = (ecx >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    int sha = (ebx >> 29) & 1;
    return ssse3 && sse41 && sha;
}
#endif

/// -1 until the CPU is asked, then 0 or 1. Racing callers only ever store the same answer.
static int accelerated = -1;

int capi_sha256_accelerated(void) {
    int known = __atomic_load_n(&accelerated, __ATOMIC_RELAXED);
    if (known >= 0) return known;
#if defined(__x86_64__)
    known = detect_extensions();
#else
    known = 0;
#endif
    __atomic_store_n(&accelerated, known, __ATOMIC_RELAXED);
    return known;
}

int capi_sha256(const void *data, size_t length, void *digest) {
    if (!capi_sha256_accelerated()) return 0;
#if defined(__x86_64__)
    static const uint8_t empty = 0;
    sha256_extensions(data ? (const uint8_t *)data : &empty, length, (uint8_t *)digest);
    return 1;
#else
    (void)data;
    (void)length;
    (void)digest;
    return 0;
#endif
}

int capi_sha256_pair(const void *data_a, size_t length_a, const void *data_b, size_t length_b, void *digest_a, void *digest_b) {
    if (!capi_sha256_accelerated()) return 0;
#if defined(__x86_64__)
    static const uint8_t empty = 0;
    sha256_pair_extensions(data_a ? (const uint8_t *)data_a : &empty, length_a, data_b ? (const uint8_t *)data_b : &empty, length_b,
        (uint8_t *)digest_a, (uint8_t *)digest_b);
    return 1;
#else
    (void)data_a;
    (void)length_a;
    (void)data_b;
    (void)length_b;
    (void)digest_a;
    (void)digest_b;
    return 0;
#endif
}
