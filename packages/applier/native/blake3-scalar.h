/*
 * Scalar BLAKE3, shared by the native kernel (blake3-lthash-native.c) and the WebAssembly one
 * (../wasm/blake3-lthash.c): the constants, one compression to a chaining value, and everything
 * before an input's root node (the chunk chaining and the parent tree), whose output blocks the
 * kernels then compute in vectors. No libc (the WebAssembly build has none); an includer that has
 * one defines BLAKE3_SCALAR_HAVE_LIBC for memcpy/memset block loads. Needs <stddef.h> and
 * <stdint.h>.
 */
#ifndef BLAKE3_SCALAR_H
#define BLAKE3_SCALAR_H

#define CHUNK_LEN 1024u
#define BLOCK_LEN 64u
#define CHUNK_START 1u
#define CHUNK_END 2u
#define PARENT 4u
#define ROOT 8u

static const uint32_t IV[8] = {0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                               0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u};

static const uint8_t MSG_SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t rotr32(uint32_t w, uint32_t c) { return (w >> c) | (w << (32 - c)); }

static inline uint32_t load32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#define G(a, b, c, d, x, y)                                                                        \
  do {                                                                                             \
    s[a] = s[a] + s[b] + (x);                                                                      \
    s[d] = rotr32(s[d] ^ s[a], 16);                                                                \
    s[c] = s[c] + s[d];                                                                            \
    s[b] = rotr32(s[b] ^ s[c], 12);                                                                \
    s[a] = s[a] + s[b] + (y);                                                                      \
    s[d] = rotr32(s[d] ^ s[a], 8);                                                                 \
    s[c] = s[c] + s[d];                                                                            \
    s[b] = rotr32(s[b] ^ s[c], 7);                                                                 \
  } while (0)

/* A chaining value: the first 8 words of the compression's output, into cv. */
static void compress_cv(uint32_t cv[8], const uint32_t m[16], uint64_t counter,
                        uint32_t block_len, uint32_t flags) {
  uint32_t s[16];
  for (int i = 0; i < 8; i++) s[i] = cv[i];
  s[8] = IV[0];
  s[9] = IV[1];
  s[10] = IV[2];
  s[11] = IV[3];
  s[12] = (uint32_t)counter;
  s[13] = (uint32_t)(counter >> 32);
  s[14] = block_len;
  s[15] = flags;
  for (int r = 0; r < 7; r++) {
    const uint8_t *k = MSG_SCHEDULE[r];
    G(0, 4, 8, 12, m[k[0]], m[k[1]]);
    G(1, 5, 9, 13, m[k[2]], m[k[3]]);
    G(2, 6, 10, 14, m[k[4]], m[k[5]]);
    G(3, 7, 11, 15, m[k[6]], m[k[7]]);
    G(0, 5, 10, 15, m[k[8]], m[k[9]]);
    G(1, 6, 11, 12, m[k[10]], m[k[11]]);
    G(2, 7, 8, 13, m[k[12]], m[k[13]]);
    G(3, 4, 9, 14, m[k[14]], m[k[15]]);
  }
  for (int i = 0; i < 8; i++) cv[i] = s[i] ^ s[i + 8];
}

/* A block's 16 little-endian words, zero-padded past `len`. */
static inline void load_block(uint32_t m[16], const uint8_t *p, size_t len) {
#ifdef BLAKE3_SCALAR_HAVE_LIBC /* x86-64: little-endian, memcpy is the load */
  if (len == BLOCK_LEN) {
    memcpy(m, p, BLOCK_LEN);
    return;
  }
  memset(m, 0, BLOCK_LEN);
  if (len > 0) memcpy(m, p, len); /* an empty input's p may be NULL */
#else
  uint8_t b[BLOCK_LEN];
  for (size_t i = 0; i < BLOCK_LEN; i++) b[i] = i < len ? p[i] : 0;
  for (int i = 0; i < 16; i++) m[i] = load32(b + 4 * i);
#endif
}

/* The root node, whose output blocks are the XOF: compress(cv, m, t, block_len, flags | ROOT). */
typedef struct {
  uint32_t cv[8];
  uint32_t m[16];
  uint32_t block_len;
  uint32_t flags;
} RootNode;

/* A chunk (at most 1024 bytes): every block but the last chained into cv; the last block's node. */
static void chunk_node(RootNode *node, const uint8_t *p, size_t len, uint64_t chunk) {
  uint32_t cv[8];
  for (int i = 0; i < 8; i++) cv[i] = IV[i];
  uint32_t flags = CHUNK_START;
  while (len > BLOCK_LEN) {
    uint32_t m[16];
    load_block(m, p, BLOCK_LEN);
    compress_cv(cv, m, chunk, BLOCK_LEN, flags);
    flags = 0;
    p += BLOCK_LEN;
    len -= BLOCK_LEN;
  }
  for (int i = 0; i < 8; i++) node->cv[i] = cv[i];
  load_block(node->m, p, len);
  node->block_len = (uint32_t)len;
  node->flags = flags | CHUNK_END;
}

/* Chunks of a subtree's left part: the largest power of two strictly less than all its chunks. */
static uint64_t left_chunks(size_t len) {
  uint64_t chunks = (len + CHUNK_LEN - 1) / CHUNK_LEN;
  uint64_t left = 1;
  while (left * 2 < chunks) left *= 2;
  return left;
}

/* The chaining value of a non-root subtree of whole chunks starting at chunk index `chunk`. */
static void subtree_cv(uint32_t out[8], const uint8_t *p, size_t len, uint64_t chunk) {
  if (len <= CHUNK_LEN) {
    RootNode n;
    chunk_node(&n, p, len, chunk);
    for (int i = 0; i < 8; i++) out[i] = n.cv[i];
    compress_cv(out, n.m, chunk, n.block_len, n.flags);
    return;
  }
  uint64_t left = left_chunks(len);
  uint32_t m[16];
  subtree_cv(m, p, left * CHUNK_LEN, chunk);
  subtree_cv(m + 8, p + left * CHUNK_LEN, len - left * CHUNK_LEN, chunk + left);
  for (int i = 0; i < 8; i++) out[i] = IV[i];
  compress_cv(out, m, 0, BLOCK_LEN, PARENT);
}

/* The root node of an input of any length (flags without ROOT). */
static void root_node(RootNode *node, const uint8_t *p, size_t len) {
  if (len <= CHUNK_LEN) {
    chunk_node(node, p, len, 0);
    return;
  }
  uint64_t left = left_chunks(len);
  subtree_cv(node->m, p, left * CHUNK_LEN, 0);
  subtree_cv(node->m + 8, p + left * CHUNK_LEN, len - left * CHUNK_LEN, left);
  for (int i = 0; i < 8; i++) node->cv[i] = IV[i];
  node->block_len = BLOCK_LEN;
  node->flags = PARENT;
}

#endif /* BLAKE3_SCALAR_H */
