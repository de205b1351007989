/*
 * BLAKE3 XOF to 2048 bytes and LtHash16 lane sums for x86-64, as a Node-API addon: the native
 * counterpart of wasm/blake3-lthash.c (same function, same results; see @synddb/applier's README,
 * "State root"). An element's hash is the first 2048 bytes of BLAKE3's extended output (unkeyed
 * hash mode) of its bytes, read as 1024 little-endian 16-bit lanes: 32 output blocks, each an
 * independent compression of the element's root node with output counter t = 0..31. They are
 * computed 16 at a time (AVX-512: 2 vector compressions per element) or 8 at a time (AVX2: 4),
 * one output counter per 32-bit lane; the blocks before the root node are chained one element
 * per lane (lthash-vector.h), or by the scalar code here for inputs over one chunk.
 *
 * The level is chosen at run time: the addon exports the functions of each level the CPU and the
 * OS support (`levels`, best first); the JavaScript side picks one, or the WebAssembly kernel
 * when neither is there. Built by native/build.mjs (gcc -O3, no -march: every instruction beyond
 * x86-64's baseline is inside a level's `#pragma GCC target` region and only runs after the
 * CPUID check below).
 *
 * Exports: { levels: string[], avx512?: Level, avx2?: Level } with
 *   Level.xof(input: Uint8Array, out: Uint8Array): out[0..2048) = the XOF of all of `input`
 *   Level.accumulate(input: Uint8Array, descriptors: Uint32Array, count: number, target:
 *     Uint16Array): target's 1024 lanes += (or -=) each element's lanes, mod 2^16; element i is
 *     descriptors[2i + 1] & 0x7fffffff bytes at input[descriptors[2i]], subtracted when bit 31
 *     of its length is set.
 *   Level.changesetDelta(changeset: Uint8Array, target: Uint16Array, positions: Uint32Array):
 *     number: target += a changeset's INSERT and DELETE row elements' lanes (-= for DELETE),
 *     positions[0..n) = each state-table UPDATE's table header and record offsets; returns n,
 *     -1 when the pass does not take the input, -2 when positions is too small (see "changeset
 *     deltas" below).
 *   threadCpu(): number, leaveCpu(cpu: number): boolean: the calling thread's CPU, and a move off
 *     it that leaves the thread's affinity as it was ("thread placement" below).
 */
/* mmap, open (image-rows.h) under -std=c11; sched_getcpu, sched_setaffinity (thread placement) */
#define _GNU_SOURCE
#include <cpuid.h>
#include <sched.h>
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LTHASH_BYTES 2048u
#define BLAKE3_SCALAR_HAVE_LIBC
#include "blake3-scalar.h"

/* ---------------------------------------------------------------- vector levels */

#pragma GCC push_options
#pragma GCC target("avx2")

/*
 * Lane sums or output blocks back to natural order: `acc` holds 32-bit word w of counter c (the
 * 16 words of output block c) at acc[((c / width) * 16 + w) * width + c % width]; natural order
 * puts it at byte (c * 16 + w) * 4. 8x8 transposes of 32-bit words, 8 counters at a time.
 * add = 0: dst = the blocks; add = 1: dst's 16-bit lanes += them (mod 2^16). `dst` needs no
 * alignment.
 */
static void lthash_transpose_out(uint8_t *dst, const uint32_t *acc, int width, int add) {
  for (int c8 = 0; c8 < 32; c8 += 8) {
    const uint32_t *group = acc + (c8 / width) * 16 * width + c8 % width;
    for (int w0 = 0; w0 < 16; w0 += 8) {
      __m256i r[8];
      for (int i = 0; i < 8; i++) r[i] = _mm256_load_si256((const __m256i *)(group + (w0 + i) * width));
      __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
      __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
      __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
      __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
      __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
      __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
      __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
      __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
      __m256i o[8];
      o[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
      o[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
      o[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
      o[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
      o[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
      o[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
      o[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
      o[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
      for (int j = 0; j < 8; j++) {
        __m256i *d = (__m256i *)(dst + ((c8 + j) * 16 + w0) * 4);
        __m256i v = o[j];
        if (add) v = _mm256_add_epi16(_mm256_loadu_si256(d), v);
        _mm256_storeu_si256(d, v);
      }
    }
  }
}

#define W 8
#define V __m256i
#define LEVEL(name) name##_avx2
#define ADD32 _mm256_add_epi32
#define XOR _mm256_xor_si256
#define ROT16(x)                                                                                   \
  _mm256_shuffle_epi8((x), _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,  \
                                            2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13))
#define ROT8(x)                                                                                    \
  _mm256_shuffle_epi8((x), _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12,  \
                                            1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12))
#define ROT12(x) _mm256_or_si256(_mm256_srli_epi32((x), 12), _mm256_slli_epi32((x), 20))
#define ROT7(x) _mm256_or_si256(_mm256_srli_epi32((x), 7), _mm256_slli_epi32((x), 25))
#define SPLAT32(x) _mm256_set1_epi32((int)(x))
#define ADD16 _mm256_add_epi16
#define SUB16 _mm256_sub_epi16
#define ZERO _mm256_setzero_si256
#define COUNTERS(t0) _mm256_add_epi32(SPLAT32(t0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define LOAD(p) _mm256_load_si256((const __m256i *)(p))
#define STORE(p, v) _mm256_store_si256((__m256i *)(p), (v))
#define MASK __m256i
#define ACTIVE(n, k) _mm256_cmpgt_epi32((n), SPLAT32(k))
#define GATHER(mask, offsets, base)                                                                \
  _mm256_mask_i32gather_epi32(ZERO(), (const int *)(base), (offsets), (mask), 1)
#define BLEND(mask, old, new) _mm256_blendv_epi8((old), (new), (mask))
#include "lthash-vector.h"
#undef W
#undef V
#undef LEVEL
#undef ADD32
#undef XOR
#undef ROT16
#undef ROT8
#undef ROT12
#undef ROT7
#undef SPLAT32
#undef ADD16
#undef SUB16
#undef ZERO
#undef COUNTERS
#undef LOAD
#undef STORE
#undef MASK
#undef ACTIVE
#undef GATHER
#undef BLEND
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512vl,avx512bw")
#define W 16
#define V __m512i
#define LEVEL(name) name##_avx512
#define ADD32 _mm512_add_epi32
#define XOR _mm512_xor_si512
#define ROT16(x) _mm512_ror_epi32((x), 16)
#define ROT12(x) _mm512_ror_epi32((x), 12)
#define ROT8(x) _mm512_ror_epi32((x), 8)
#define ROT7(x) _mm512_ror_epi32((x), 7)
#define SPLAT32(x) _mm512_set1_epi32((int)(x))
#define ADD16 _mm512_add_epi16
#define SUB16 _mm512_sub_epi16
#define ZERO _mm512_setzero_si512
#define COUNTERS(t0)                                                                               \
  _mm512_add_epi32(SPLAT32(t0),                                                                    \
                   _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#define LOAD(p) _mm512_load_si512((const void *)(p))
#define STORE(p, v) _mm512_store_si512((void *)(p), (v))
#define MASK __mmask16
#define ACTIVE(n, k) _mm512_cmpgt_epu32_mask((n), SPLAT32(k))
#define GATHER(mask, offsets, base) _mm512_mask_i32gather_epi32(ZERO(), (mask), (offsets), (base), 1)
#define BLEND(mask, old, new) _mm512_mask_mov_epi32((old), (mask), (new))
#include "lthash-vector.h"
#pragma GCC pop_options

/* ---------------------------------------------------------------- CPU features */

/* XCR0: which register states the OS saves (bits 1-2: SSE and AVX; 5-7: AVX-512). */
static uint64_t xcr0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

static void cpu_levels(int *avx2, int *avx512) {
  unsigned a, b, c, d;
  *avx2 = 0;
  *avx512 = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!osxsave || !avx) return;
  uint64_t x = xcr0();
  if ((x & 0x6) != 0x6) return;
  if (__get_cpuid_max(0, NULL) < 7) return;
  __cpuid_count(7, 0, a, b, c, d);
  *avx2 = (b >> 5) & 1;
  int f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
  *avx512 = *avx2 && f && bw && vl && (x & 0xe6) == 0xe6;
}

/* ---------------------------------------------------------------- changeset deltas */

/*
 * A changeset's state delta in one pass over its bytes: the native counterpart of
 * changesetStateDelta's raw pass (src/state-root/changeset-state-delta.ts, same elements, same
 * lanes). Each INSERT and DELETE of a state table becomes its row element (src/state-root/
 * row-element.ts) in an area of this thread's, whose lanes the level's accumulate adds to (or
 * subtracts from) the target; an UPDATE of a state table whose old record has every column
 * becomes its old row's element (subtracted) and its new row's (added); every other UPDATE of a
 * state table is checked and its table header's and record's offsets are listed for the
 * JavaScript side, which reads the row; the changes of other tables (sqlite_*, _synddb_*) are
 * checked and skipped. Anything this pass does not take returns DELTA_FALLBACK
 * and the JavaScript pass decides (computes the same delta, or throws the decoder's error): a
 * patchset, a malformed or truncated change, an unknown type, an undefined value where the
 * decoder refuses one, invalid UTF-8, a REAL NaN, a value or offset beyond 32 bits. So it is at
 * least as strict as the decoder on what it takes, and the target's content is meaningless
 * after a fallback.
 */

#define OP_INSERT 0x12
#define OP_UPDATE 0x17
#define OP_DELETE 0x09
#define TABLE_CHANGESET 0x54 /* 'T' */
#define DELTA_FALLBACK (-1)
#define DELTA_POSITIONS_FULL (-2)
#define MAX_SAFE_INTEGER 9007199254740991ull
#define MAX_COLUMNS 65536u
#define AREA_ELEMENTS 4096u
#define AREA_BYTES (256u * 1024u)

static const uint8_t ROW_DOMAIN[20] = "synddb/state-row/v1";

/* Row elements waiting for the level's accumulate (one area per thread: instance data). */
typedef struct {
  uint8_t *bytes;
  size_t capacity;
  size_t used;
  uint32_t descriptors[2 * AREA_ELEMENTS];
  uint32_t count;
  /* Where each value of an UPDATE's records starts: old record, new record, the new row's. */
  size_t *at;
  size_t at_capacity;
} ElementArea;

/* Room for n value offsets; 0 when out of memory. */
static int area_offsets(ElementArea *a, size_t n) {
  if (n <= a->at_capacity) return 1;
  size_t *grown = (size_t *)realloc(a->at, n * sizeof *grown);
  if (grown == NULL) return 0;
  a->at = grown;
  a->at_capacity = n;
  return 1;
}

typedef void (*AccumulateFn)(uint8_t *target, const uint8_t *input, const uint32_t *descriptors,
                             uint32_t count);

static void area_flush(ElementArea *a, AccumulateFn accumulate, uint8_t *target) {
  if (a->count > 0) accumulate(target, a->bytes, a->descriptors, a->count);
  a->count = 0;
  a->used = 0;
}

/* Empties the area (after a pass); grown for a large row, it is not kept for the thread's life. */
static void area_reset(ElementArea *a) {
  a->count = 0;
  a->used = 0;
  if (a->capacity > 4 * (size_t)AREA_BYTES) {
    free(a->bytes);
    a->bytes = NULL;
    a->capacity = 0;
  }
}

/* Room for an element of n bytes (flushing, then growing the area); 0 when out of memory. */
static int area_reserve(ElementArea *a, AccumulateFn accumulate, uint8_t *target, size_t n) {
  if (a->count == AREA_ELEMENTS || a->used + n > a->capacity) area_flush(a, accumulate, target);
  if (n <= a->capacity) return 1;
  size_t size = a->capacity == 0 ? AREA_BYTES : a->capacity;
  while (size < n) size *= 2;
  uint8_t *grown = (uint8_t *)realloc(a->bytes, size);
  if (grown == NULL) return 0;
  a->bytes = grown;
  a->capacity = size;
  return 1;
}

/* SQLite varint as the decoder reads it (Reader#varint): 1-9 bytes, at most 2^53 - 1. */
static int read_varint(const uint8_t *b, size_t end, size_t *p, uint64_t *out) {
  size_t q = *p;
  if (q >= end) return 0;
  uint8_t c = b[q++];
  uint64_t v = c & 0x7f;
  if (c >= 0x80) {
    for (int i = 1; i < 9; i++) {
      if (q >= end) return 0;
      c = b[q++];
      if (i == 8) {
        v = (v << 8) | c;
        break;
      }
      v = (v << 7) | (c & 0x7f);
      if (c < 0x80) break;
    }
  }
  if (v > MAX_SAFE_INTEGER) return 0;
  *p = q;
  *out = v;
  return 1;
}

/* Well-formed UTF-8 (Unicode table 3-7: no overlongs, surrogates or code points past U+10FFFF). */
static int valid_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return 0;
    }
    if (n - i < len) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
      if ((s[i + k] & 0xc0) != 0x80) return 0;
    i += len;
  }
  return 1;
}

/*
 * Checks the value at *p as the decoder does (Reader#value, readRecord) and moves past it: type 0
 * (undefined) only where `undefined_ok`, reported in *undefined. 0 when the decoder refuses it.
 */
static int check_value(const uint8_t *b, size_t end, size_t *p, int undefined_ok, int *undefined) {
  size_t q = *p;
  if (q >= end) return 0;
  uint8_t t = b[q++];
  *undefined = 0;
  if (t == 1 || t == 2) {
    if (end - q < 8) return 0;
    q += 8;
  } else if (t == 3 || t == 4) {
    uint64_t n;
    if (!read_varint(b, end, &q, &n) || n > end - q) return 0;
    if (t == 3 && !valid_utf8(b + q, (size_t)n)) return 0;
    q += (size_t)n;
  } else if (t == 0) {
    if (!undefined_ok) return 0;
    *undefined = 1;
  } else if (t != 5) {
    return 0;
  }
  *p = q;
  return 1;
}

/*
 * Checks an UPDATE's two records (after its op and indirect bytes): the old one has the key. With
 * `at` (2 * columns entries), records where each value starts, old record first, and sets
 * *complete when the old record has every column (then the UPDATE needs no read of the row).
 */
static int check_update(const uint8_t *b, size_t end, size_t *p, uint32_t columns,
                        const uint8_t *pk, size_t *at, int *complete) {
  int undefined, all = 1;
  for (uint32_t i = 0; i < columns; i++) {
    if (at != NULL) at[i] = *p;
    if (!check_value(b, end, p, 1, &undefined)) return 0;
    if (undefined && pk[i] != 0) return 0;
    all &= !undefined;
  }
  for (uint32_t i = 0; i < columns; i++) {
    if (at != NULL) at[columns + i] = *p;
    if (!check_value(b, end, p, 1, &undefined)) return 0;
  }
  if (complete != NULL) *complete = all;
  return 1;
}

/* Reads the op's indirect byte (0 or 1) and leaves *p on the first record. */
static int read_indirect(const uint8_t *b, size_t end, size_t *p) {
  if (*p + 1 >= end || b[*p + 1] > 1) return 0;
  *p += 2;
  return 1;
}

static inline void put_u32be(uint8_t *d, uint32_t v) {
  d[0] = (uint8_t)(v >> 24);
  d[1] = (uint8_t)(v >> 16);
  d[2] = (uint8_t)(v >> 8);
  d[3] = (uint8_t)v;
}

/*
 * The value at q as part of an element: its size there, and in *next where the value after it
 * starts. 0 when this pass does not build an element from it (undefined, an unknown type,
 * truncated, invalid UTF-8, a length past 32 bits, a REAL NaN: what the JavaScript writer makes of
 * a NaN is its to say).
 */
static size_t element_value(const uint8_t *b, size_t end, size_t q, size_t *next) {
  if (q >= end) return 0;
  uint8_t t = b[q];
  if (t == 1) {
    if (end - q < 9) return 0;
    *next = q + 9;
    return 9;
  }
  if (t == 2) {
    if (end - q < 9) return 0;
    uint64_t bits = 0;
    for (int k = 1; k <= 8; k++) bits = (bits << 8) | b[q + k];
    if ((bits & 0x7ff0000000000000ull) == 0x7ff0000000000000ull &&
        (bits & 0x000fffffffffffffull) != 0)
      return 0;
    *next = q + 9;
    return 9;
  }
  if (t == 3 || t == 4) {
    size_t r = q + 1;
    uint64_t n;
    if (!read_varint(b, end, &r, &n) || n > end - r || n > 0xffffffffu) return 0;
    if (t == 3 && !valid_utf8(b + r, (size_t)n)) return 0;
    *next = r + (size_t)n;
    return 5 + (size_t)n;
  }
  if (t == 5) {
    *next = q + 1;
    return 1;
  }
  return 0;
}

/* Writes the value at q (accepted by element_value) as the element has it; returns its size. */
static size_t write_value(uint8_t *d, const uint8_t *b, size_t end, size_t q) {
  uint8_t t = b[q];
  if (t == 1) {
    memcpy(d, b + q, 9);
    return 9;
  }
  if (t == 2) {
    d[0] = 2;
    int zero = (b[q + 1] & 0x7f) == 0;
    for (int k = 2; k <= 8; k++) zero &= b[q + k] == 0;
    if (zero) memset(d + 1, 0, 8); /* -0.0 as +0.0 */
    else memcpy(d + 1, b + q + 1, 8);
    return 9;
  }
  if (t == 3 || t == 4) {
    size_t r = q + 1;
    uint64_t n = 0;
    read_varint(b, end, &r, &n); /* checked by element_value */
    d[0] = t;
    put_u32be(d + 1, (uint32_t)n);
    memcpy(d + 5, b + r, (size_t)n);
    return 5 + (size_t)n;
  }
  d[0] = 5;
  return 1;
}

/*
 * Appends the element of the row whose values start at b + at[0..columns) (each accepted by
 * element_value; `values` their total size in the element) to the area, to be added or
 * subtracted. 1, or -1 when out of memory.
 */
static int append_element(ElementArea *a, AccumulateFn accumulate, uint8_t *target,
                          const uint8_t *b, size_t end, const size_t *at, uint32_t columns,
                          const uint8_t *name, uint32_t name_len, size_t values, int subtract) {
  size_t size = sizeof ROW_DOMAIN + 4 + name_len + 4 + values;
  if (!area_reserve(a, accumulate, target, size)) return -1;
  uint8_t *d = a->bytes + a->used;
  uint8_t *start = d;
  memcpy(d, ROW_DOMAIN, sizeof ROW_DOMAIN);
  d += sizeof ROW_DOMAIN;
  put_u32be(d, name_len);
  d += 4;
  for (uint32_t k = 0; k < name_len; k++) {
    uint8_t c = name[k];
    d[k] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
  }
  d += name_len;
  put_u32be(d, columns);
  d += 4;
  for (uint32_t i = 0; i < columns; i++) d += write_value(d, b, end, at[i]);
  uint32_t n = (uint32_t)(d - start);
  a->descriptors[2 * a->count] = (uint32_t)a->used;
  a->descriptors[2 * a->count + 1] = subtract ? (n | 0x80000000u) : n;
  a->count++;
  a->used += n;
  return 1;
}

/* The elements' bound: past it the JavaScript pass decides (a descriptor holds 31 bits). */
#define MAX_ELEMENT_VALUES (0x7fffffffu - (1u << 20))

/*
 * The element of the complete record at *p (an INSERT's new or a DELETE's old record), appended.
 * 1 (and *p past the record), 0: the JavaScript pass decides; -1: out of memory.
 */
static int add_record_element(ElementArea *a, AccumulateFn accumulate, uint8_t *target,
                              const uint8_t *b, size_t end, size_t *p, uint32_t columns,
                              const uint8_t *name, uint32_t name_len, int subtract) {
  if (!area_offsets(a, columns)) return -1;
  size_t q = *p, values = 0;
  for (uint32_t i = 0; i < columns; i++) {
    a->at[i] = q;
    size_t n = element_value(b, end, q, &q);
    if (n == 0) return 0;
    values += n;
  }
  if (values + name_len > MAX_ELEMENT_VALUES) return 0;
  int added =
      append_element(a, accumulate, target, b, end, a->at, columns, name, name_len, values, subtract);
  if (added < 0) return -1;
  *p = q;
  return 1;
}

/*
 * An UPDATE whose old record has every column (a->at as check_update left it): the old row is
 * that record, the new row is the new record's values where it has them and the old record's
 * elsewhere, as applying it leaves the row. Both elements appended (the old one subtracted).
 * 1, 0: the JavaScript pass decides; -1: out of memory.
 */
static int add_update_elements(ElementArea *a, AccumulateFn accumulate, uint8_t *target,
                               const uint8_t *b, size_t end, uint32_t columns,
                               const uint8_t *name, uint32_t name_len) {
  size_t *old_at = a->at, *new_at = a->at + columns, *row_at = a->at + 2 * (size_t)columns;
  size_t old_values = 0, new_values = 0, next;
  for (uint32_t i = 0; i < columns; i++) {
    size_t n = element_value(b, end, old_at[i], &next);
    if (n == 0) return 0;
    old_values += n;
    row_at[i] = b[new_at[i]] == 0 ? old_at[i] : new_at[i];
    n = element_value(b, end, row_at[i], &next);
    if (n == 0) return 0;
    new_values += n;
  }
  if (old_values + name_len > MAX_ELEMENT_VALUES || new_values + name_len > MAX_ELEMENT_VALUES)
    return 0;
  if (append_element(a, accumulate, target, b, end, old_at, columns, name, name_len, old_values,
                     1) < 0 ||
      append_element(a, accumulate, target, b, end, row_at, columns, name, name_len, new_values,
                     0) < 0)
    return -1;
  return 1;
}

/* ASCII case-insensitive prefix test (SQLite folds ASCII letters only). */
static int has_prefix(const uint8_t *name, uint32_t len, const char *prefix) {
  uint32_t n = (uint32_t)strlen(prefix);
  if (len < n) return 0;
  for (uint32_t k = 0; k < n; k++) {
    uint8_t c = name[k];
    if (c >= 'A' && c <= 'Z') c = (uint8_t)(c + 32);
    if (c != (uint8_t)prefix[k]) return 0;
  }
  return 1;
}

/* A changeset's table header at *p: its columns, key flags and name; 0 when malformed. */
static int read_table_header(const uint8_t *b, size_t end, size_t *p, uint32_t *columns,
                     const uint8_t **pk, const uint8_t **name, uint32_t *name_len) {
  size_t q = *p + 1;
  uint64_t n;
  if (!read_varint(b, end, &q, &n) || n < 1 || n > MAX_COLUMNS || end - q < n) return 0;
  *columns = (uint32_t)n;
  *pk = b + q;
  int any = 0;
  for (uint32_t i = 0; i < *columns; i++) any |= (*pk)[i] != 0;
  if (!any) return 0;
  q += *columns;
  const uint8_t *nul = (const uint8_t *)memchr(b + q, 0, end - q);
  if (nul == NULL || (size_t)(nul - (b + q)) > 0xffffffffu) return 0;
  *name = b + q;
  *name_len = (uint32_t)(nul - *name);
  if (!valid_utf8(*name, *name_len)) return 0;
  *p = q + *name_len + 1;
  return 1;
}

/*
 * The delta of changeset b[0..end): lanes added to (subtracted from) target, UPDATE positions in
 * positions[0..capacity). Returns the number of positions written (two per UPDATE),
 * DELTA_FALLBACK, DELTA_POSITIONS_FULL, or -3 when out of memory.
 */
static int64_t changeset_delta(ElementArea *a, AccumulateFn accumulate, const uint8_t *b,
                               size_t end, uint8_t *target, uint32_t *positions,
                               size_t capacity) {
  size_t p = 0, written = 0;
  size_t header = 0;
  uint32_t columns = 0;
  const uint8_t *pk = NULL;
  const uint8_t *name = NULL;
  uint32_t name_len = 0;
  int seen = 0, included = 0;
  int64_t result = 0;
  a->count = 0;
  a->used = 0;
  while (p < end) {
    uint8_t op = b[p];
    if (op == TABLE_CHANGESET) {
      header = p;
      if (!read_table_header(b, end, &p, &columns, &pk, &name, &name_len)) goto fallback;
      included = !has_prefix(name, name_len, "sqlite_") && !has_prefix(name, name_len, "_synddb_");
      seen = 1;
      continue;
    }
    if (!seen) goto fallback;
    size_t start = p;
    if (op != OP_INSERT && op != OP_DELETE && op != OP_UPDATE) goto fallback;
    if (!read_indirect(b, end, &p)) goto fallback;
    if (op == OP_UPDATE) {
      if (!included) {
        if (!check_update(b, end, &p, columns, pk, NULL, NULL)) goto fallback;
        continue;
      }
      int complete;
      if (!area_offsets(a, 3 * (size_t)columns)) {
        result = -3;
        goto done;
      }
      if (!check_update(b, end, &p, columns, pk, a->at, &complete)) goto fallback;
      if (complete) {
        int added = add_update_elements(a, accumulate, target, b, end, columns, name, name_len);
        if (added == 0) goto fallback;
        if (added < 0) {
          result = -3;
          goto done;
        }
        continue;
      }
      if (header > 0xffffffffu || start > 0xffffffffu) goto fallback;
      if (written + 2 > capacity) {
        result = DELTA_POSITIONS_FULL;
        goto done;
      }
      positions[written++] = (uint32_t)header;
      positions[written++] = (uint32_t)start;
      continue;
    }
    if (!included) {
      int undefined;
      for (uint32_t i = 0; i < columns; i++)
        if (!check_value(b, end, &p, 0, &undefined)) goto fallback;
      continue;
    }
    int added = add_record_element(a, accumulate, target, b, end, &p, columns, name, name_len,
                                   op == OP_DELETE);
    if (added == 0) goto fallback;
    if (added < 0) {
      result = -3;
      goto done;
    }
  }
  area_flush(a, accumulate, target);
  result = (int64_t)written;
  goto done;
fallback:
  result = DELTA_FALLBACK;
done:
  area_reset(a);
  return result;
}

/* ---------------------------------------------------------------- the UPDATE overlay */

#include "update-overlay.h"

/* ---------------------------------------------------------------- Node-API */

/* Defined to compile the kernel alone (a C benchmark or fuzzer including this file). */
#ifndef BLAKE3_LTHASH_KERNEL_ONLY
#define NAPI_VERSION 8
#include <node_api.h>

typedef struct {
  void (*xof)(uint8_t *out, const uint8_t *p, size_t len);
  void (*accumulate)(uint8_t *target, const uint8_t *input, const uint32_t *descriptors,
                     uint32_t count);
} LevelFns;

static const LevelFns AVX2 = {xof_avx2, accumulate_avx2};
static const LevelFns AVX512 = {xof_avx512, accumulate_avx512};

static int typed_array(napi_env env, napi_value value, napi_typedarray_type want, void **data,
                       size_t *length, const char *what) {
  bool is;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) != napi_ok ||
      type != want) {
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  return 1;
}

static napi_value js_xof(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return NULL;
  void *input, *out;
  size_t input_len, out_len;
  if (!typed_array(env, argv[0], napi_uint8_array, &input, &input_len, "input: a Uint8Array") ||
      !typed_array(env, argv[1], napi_uint8_array, &out, &out_len, "out: a Uint8Array"))
    return NULL;
  if (out_len < LTHASH_BYTES) {
    napi_throw_range_error(env, NULL, "out: fewer than 2048 bytes");
    return NULL;
  }
  ((const LevelFns *)data)->xof(out, input, input_len);
  return NULL;
}

static napi_value js_accumulate(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return NULL;
  void *input, *descriptors, *target;
  size_t input_len, descriptors_len, target_len;
  uint32_t count;
  if (!typed_array(env, argv[0], napi_uint8_array, &input, &input_len, "input: a Uint8Array") ||
      !typed_array(env, argv[1], napi_uint32_array, &descriptors, &descriptors_len,
                   "descriptors: a Uint32Array") ||
      !typed_array(env, argv[3], napi_uint16_array, &target, &target_len,
                   "target: a Uint16Array"))
    return NULL;
  if (napi_get_value_uint32(env, argv[2], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "count: a number");
    return NULL;
  }
  if (target_len < LTHASH_BYTES / 2 || count > descriptors_len / 2) {
    napi_throw_range_error(env, NULL, "target: fewer than 1024 lanes, or count past descriptors");
    return NULL;
  }
  const uint32_t *d = descriptors;
  for (uint32_t i = 0; i < count; i++) {
    if ((uint64_t)d[2 * i] + (d[2 * i + 1] & 0x7fffffffu) > input_len) {
      napi_throw_range_error(env, NULL, "descriptor past the end of input");
      return NULL;
    }
  }
  ((const LevelFns *)data)->accumulate(target, input, d, count);
  return NULL;
}

static void free_area(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ElementArea *a = (ElementArea *)data;
  free(a->bytes);
  free(a->at);
  free(a);
}

/* This thread's element area (the addon's instance data: one per Node environment, freed with it). */
static ElementArea *thread_area(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  if (data != NULL) return (ElementArea *)data;
  ElementArea *a = (ElementArea *)calloc(1, sizeof *a);
  if (a == NULL) return NULL;
  if (napi_set_instance_data(env, a, free_area, NULL) != napi_ok) {
    free(a);
    return NULL;
  }
  return a;
}

static napi_value js_changeset_delta(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return NULL;
  void *changeset, *target, *positions;
  size_t changeset_len, target_len, positions_len;
  if (!typed_array(env, argv[0], napi_uint8_array, &changeset, &changeset_len,
                   "changeset: a Uint8Array") ||
      !typed_array(env, argv[1], napi_uint16_array, &target, &target_len,
                   "target: a Uint16Array") ||
      !typed_array(env, argv[2], napi_uint32_array, &positions, &positions_len,
                   "positions: a Uint32Array"))
    return NULL;
  if (target_len < LTHASH_BYTES / 2) {
    napi_throw_range_error(env, NULL, "target: fewer than 1024 lanes");
    return NULL;
  }
  ElementArea *a = thread_area(env);
  int64_t n = a == NULL ? -3
                        : changeset_delta(a, ((const LevelFns *)data)->accumulate,
                                          (const uint8_t *)changeset, changeset_len,
                                          (uint8_t *)target, (uint32_t *)positions, positions_len);
  if (n == -3) {
    napi_throw_error(env, NULL, "changesetDelta: out of memory");
    return NULL;
  }
  napi_value result;
  if (napi_create_int64(env, n, &result) != napi_ok) return NULL;
  return result;
}

/* ---- the UPDATE overlay (update-overlay.h): a handle per JavaScript GroupUpdateResolver */

static void finalize_overlay(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  overlay_free((Overlay *)data);
}

/* Type tags of this addon's handles (externals): one kind is never taken for the other. */
static const napi_type_tag OVERLAY_TAG = {0x5a1c0d9e2b7f4a31ull, 0x8e6d3c2b1a0f9e87ull};
static const napi_type_tag IMAGE_TAG = {0x3f9a6b2c7d1e4f50ull, 0x91c8e7d6b5a40312ull};

/* The data of an external this addon made with `tag`, or NULL (a TypeError `what` thrown). */
static void *external_arg(napi_env env, napi_value value, const napi_type_tag *tag,
                          const char *what) {
  void *data = NULL;
  napi_valuetype type;
  bool tagged = false;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, value, tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return data;
}

static Overlay *overlay_arg(napi_env env, napi_value value) {
  return (Overlay *)external_arg(env, value, &OVERLAY_TAG, "overlay: not an overlay handle");
}

static napi_value int64_value(napi_env env, int64_t n) {
  if (n == OV_NO_MEMORY) {
    napi_throw_error(env, NULL, "UPDATE overlay: out of memory");
    return NULL;
  }
  napi_value result;
  if (napi_create_int64(env, n, &result) != napi_ok) return NULL;
  return result;
}

/* overlayCreate(maxBytes: number): a new overlay keeping at most maxBytes of row versions */
static napi_value js_overlay_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double max_bytes;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_double(env, argv[0], &max_bytes) != napi_ok || !(max_bytes >= 0)) {
    napi_throw_type_error(env, NULL, "maxBytes: a non-negative number");
    return NULL;
  }
  Overlay *o = (Overlay *)calloc(1, sizeof *o);
  if (o == NULL) {
    napi_throw_error(env, NULL, "UPDATE overlay: out of memory");
    return NULL;
  }
  o->max_bytes = max_bytes >= 9.0e15 ? (size_t)9.0e15 : (size_t)max_bytes;
  napi_value handle;
  if (napi_create_external(env, o, finalize_overlay, NULL, &handle) != napi_ok) {
    overlay_free(o);
    return NULL;
  }
  if (napi_type_tag_object(env, handle, &OVERLAY_TAG) != napi_ok) return NULL;
  return handle;
}

/* overlayFollow(h, name: Uint8Array (UTF-8)): the table's index + 1 */
static napi_value js_overlay_follow(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Overlay *o = overlay_arg(env, argv[0]);
  void *name;
  size_t len;
  if (o == NULL || !typed_array(env, argv[1], napi_uint8_array, &name, &len, "name: a Uint8Array"))
    return NULL;
  uint32_t t = len > 0xffffffffu ? 0 : overlay_follow(o, (const uint8_t *)name, (uint32_t)len);
  return int64_value(env, t == 0 ? OV_NO_MEMORY : (int64_t)t);
}

static napi_value js_overlay_clear(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Overlay *o = overlay_arg(env, argv[0]);
  if (o != NULL) overlay_clear(o);
  return NULL;
}

static napi_value js_overlay_undo(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Overlay *o = overlay_arg(env, argv[0]);
  if (o == NULL) return NULL;
  napi_value result;
  if (napi_get_boolean(env, overlay_undo(o) != 0, &result) != napi_ok) return NULL;
  return result;
}

/* overlayStats(h, out: Float64Array): out[0] rows, out[1] bytes of elements and keys */
static napi_value js_overlay_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Overlay *o = overlay_arg(env, argv[0]);
  void *out;
  size_t len;
  if (o == NULL || !typed_array(env, argv[1], napi_float64_array, &out, &len, "out: a Float64Array"))
    return NULL;
  if (len < 2) {
    napi_throw_range_error(env, NULL, "out: fewer than 2 numbers");
    return NULL;
  }
  ((double *)out)[0] = (double)o->rows;
  ((double *)out)[1] = (double)(o->elems_used + o->keys_used);
  return NULL;
}

/* overlayMissing(h, changeset: Uint8Array, out: Uint32Array): see overlay_missing */
static napi_value js_overlay_missing(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Overlay *o = overlay_arg(env, argv[0]);
  void *changeset, *out;
  size_t changeset_len, out_len;
  if (o == NULL ||
      !typed_array(env, argv[1], napi_uint8_array, &changeset, &changeset_len,
                   "changeset: a Uint8Array") ||
      !typed_array(env, argv[2], napi_uint32_array, &out, &out_len, "out: a Uint32Array"))
    return NULL;
  return int64_value(env, overlay_missing(o, (const uint8_t *)changeset, changeset_len,
                                          (uint32_t *)out, out_len));
}

/*
 * overlayPreload(h, changeset: Uint8Array, pairs: Uint32Array, count: number, elements:
 * Uint8Array, descriptors: Uint32Array): see overlay_preload
 */
static napi_value js_overlay_preload(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Overlay *o = overlay_arg(env, argv[0]);
  void *changeset, *pairs, *elements, *desc;
  size_t changeset_len, pairs_len, elements_len, desc_len;
  uint32_t count;
  if (o == NULL ||
      !typed_array(env, argv[1], napi_uint8_array, &changeset, &changeset_len,
                   "changeset: a Uint8Array") ||
      !typed_array(env, argv[2], napi_uint32_array, &pairs, &pairs_len, "pairs: a Uint32Array") ||
      !typed_array(env, argv[4], napi_uint8_array, &elements, &elements_len,
                   "elements: a Uint8Array") ||
      !typed_array(env, argv[5], napi_uint32_array, &desc, &desc_len,
                   "descriptors: a Uint32Array"))
    return NULL;
  if (napi_get_value_uint32(env, argv[3], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "count: a number");
    return NULL;
  }
  if ((size_t)count * 2 > pairs_len || (size_t)count * 2 > desc_len) {
    napi_throw_range_error(env, NULL, "count: past pairs or descriptors");
    return NULL;
  }
  return int64_value(env, overlay_preload(o, (const uint8_t *)changeset, changeset_len,
                                          (const uint32_t *)pairs, count,
                                          (const uint8_t *)elements, elements_len,
                                          (const uint32_t *)desc));
}

/*
 * overlayPreloadRows(h, name: Uint8Array, keyColumns: Uint32Array, elements: Uint8Array,
 * descriptors: Uint32Array, count: number): see overlay_preload_rows
 */
static napi_value js_overlay_preload_rows(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  Overlay *o = overlay_arg(env, argv[0]);
  void *name, *keys, *elements, *desc;
  size_t name_len, keys_len, elements_len, desc_len;
  uint32_t count;
  if (o == NULL || !typed_array(env, argv[1], napi_uint8_array, &name, &name_len, "name: a Uint8Array") ||
      !typed_array(env, argv[2], napi_uint32_array, &keys, &keys_len, "keyColumns: a Uint32Array") ||
      !typed_array(env, argv[3], napi_uint8_array, &elements, &elements_len,
                   "elements: a Uint8Array") ||
      !typed_array(env, argv[4], napi_uint32_array, &desc, &desc_len,
                   "descriptors: a Uint32Array"))
    return NULL;
  if (napi_get_value_uint32(env, argv[5], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "count: a number");
    return NULL;
  }
  if ((size_t)count * 2 > desc_len || name_len > 0xffffffffu || keys_len > MAX_COLUMNS) {
    napi_throw_range_error(env, NULL, "count past descriptors, or a name or key too long");
    return NULL;
  }
  return int64_value(env, overlay_preload_rows(o, (const uint8_t *)name, (uint32_t)name_len,
                                               (const uint32_t *)keys, (uint32_t)keys_len,
                                               (const uint8_t *)elements, elements_len,
                                               (const uint32_t *)desc, count));
}

/*
 * overlayWalk(h, changeset: Uint8Array, positions: Uint32Array | null, target: Uint16Array |
 * null): see overlay_walk (target is needed when positions has any)
 */
static napi_value js_overlay_walk(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return NULL;
  Overlay *o = overlay_arg(env, argv[0]);
  void *changeset, *positions = NULL, *target = NULL;
  size_t changeset_len, positions_len = 0, target_len = 0;
  napi_valuetype type;
  if (o == NULL || !typed_array(env, argv[1], napi_uint8_array, &changeset, &changeset_len,
                                "changeset: a Uint8Array"))
    return NULL;
  if (napi_typeof(env, argv[2], &type) != napi_ok) return NULL;
  if (type != napi_null && !typed_array(env, argv[2], napi_uint32_array, &positions,
                                        &positions_len, "positions: a Uint32Array or null"))
    return NULL;
  if (napi_typeof(env, argv[3], &type) != napi_ok) return NULL;
  if (type != napi_null && !typed_array(env, argv[3], napi_uint16_array, &target, &target_len,
                                        "target: a Uint16Array or null"))
    return NULL;
  if ((positions_len > 0 && target == NULL) || (target != NULL && target_len < LTHASH_BYTES / 2)) {
    napi_throw_range_error(env, NULL, "target: 1024 lanes needed");
    return NULL;
  }
  ElementArea *a = thread_area(env);
  if (a == NULL) return int64_value(env, OV_NO_MEMORY);
  return int64_value(env, overlay_walk(o, a, ((const LevelFns *)data)->accumulate,
                                       (const uint8_t *)changeset, changeset_len,
                                       (const uint32_t *)positions, positions_len,
                                       (uint8_t *)target));
}


/* ---------------------------------------------------------------- image rows (image-rows.h) */

#include "image-rows.h"

/* An open image file, and the buffers its walks reuse (one thread uses a handle). */
typedef struct {
  ImageFile f;
  uint8_t *scratch;
  size_t scratch_cap;
  uint64_t *types;
  size_t *at;
  uint32_t columns_cap;
} ImageHandle;

static void image_handle_free(ImageHandle *h) {
  image_close(&h->f);
  free(h->scratch);
  free(h->types);
  free(h->at);
  free(h);
}

static void finalize_image(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  image_handle_free((ImageHandle *)data);
}

static ImageHandle *image_arg(napi_env env, napi_value value) {
  return (ImageHandle *)external_arg(env, value, &IMAGE_TAG, "image: not an image handle");
}

/* imageOpen(path: string): a handle, or null when the file is not read here (see image-rows.h) */
static napi_value js_image_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  size_t len;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "path: a string");
    return NULL;
  }
  char *path = (char *)malloc(len + 1);
  if (path == NULL) {
    napi_throw_error(env, NULL, "image: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], path, len + 1, &len);
  ImageHandle *h = (ImageHandle *)calloc(1, sizeof *h);
  int opened = h != NULL && strlen(path) == len && image_open(path, &h->f) == 0;
  free(path);
  if (!opened) {
    free(h);
    napi_get_null(env, &result);
    return result;
  }
  if (napi_create_external(env, h, finalize_image, NULL, &result) != napi_ok) {
    image_handle_free(h);
    return NULL;
  }
  if (napi_type_tag_object(env, result, &IMAGE_TAG) != napi_ok) return NULL;
  return result;
}

/* imageClose(h): unmaps the file (later calls on h are not taken) */
static napi_value js_image_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  ImageHandle *h = argc < 1 ? NULL : image_arg(env, argv[0]);
  if (h != NULL) image_close(&h->f);
  return NULL;
}

/*
 * imageRows(h, rootPage, from: bigint, to: bigint, prefix: Uint8Array, flags: Uint8Array (one per
 * column), out: Uint8Array, descriptors: Uint32Array, state: BigInt64Array(2)): the elements of
 * the rows of the table B-tree at rootPage with rowid in [from, to], in rowid order, into out
 * (descriptors: offset and length of each). Returns how many; state[1] = 1 when out or
 * descriptors filled up before the range ended (state[0]: the rowid to go on from), else 0.
 * -1: not taken (nothing of this call counts: read [from, to] through SQLite); -2: out cannot
 * hold the first row's element (state[0]: its bytes); -3: out of memory.
 */
static napi_value js_image_rows(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 9) {
    napi_throw_type_error(env, NULL, "imageRows: 9 arguments");
    return NULL;
  }
  ImageHandle *h = image_arg(env, argv[0]);
  if (h == NULL) return NULL;
  uint32_t root;
  int64_t from, to;
  bool lossless;
  void *prefix, *flags, *out, *descriptors, *state;
  size_t prefix_len, columns, out_len, descriptors_len, state_len;
  if (napi_get_value_uint32(env, argv[1], &root) != napi_ok) {
    napi_throw_type_error(env, NULL, "rootPage: a number");
    return NULL;
  }
  if (napi_get_value_bigint_int64(env, argv[2], &from, &lossless) != napi_ok || !lossless ||
      napi_get_value_bigint_int64(env, argv[3], &to, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, NULL, "from, to: 64-bit bigints");
    return NULL;
  }
  if (!typed_array(env, argv[4], napi_uint8_array, &prefix, &prefix_len, "prefix: a Uint8Array") ||
      !typed_array(env, argv[5], napi_uint8_array, &flags, &columns, "flags: a Uint8Array") ||
      !typed_array(env, argv[6], napi_uint8_array, &out, &out_len, "out: a Uint8Array") ||
      !typed_array(env, argv[7], napi_uint32_array, &descriptors, &descriptors_len,
                   "descriptors: a Uint32Array") ||
      !typed_array(env, argv[8], napi_bigint64_array, &state, &state_len,
                   "state: a BigInt64Array"))
    return NULL;
  if (state_len < 2 || columns == 0 || columns > MAX_COLUMNS || out_len > 0x7fffffffu) {
    napi_throw_range_error(env, NULL, "imageRows: state of 2, 1-65536 columns, out under 2 GiB");
    return NULL;
  }
  int64_t *st = (int64_t *)state;
  int64_t result = IMAGE_NOT_TAKEN;
  if (h->f.map != NULL) {
    if (columns > h->columns_cap) {
      uint64_t *types = (uint64_t *)realloc(h->types, columns * sizeof *types);
      if (types != NULL) h->types = types;
      size_t *at = (size_t *)realloc(h->at, columns * sizeof *at);
      if (at != NULL) h->at = at;
      if (types != NULL && at != NULL) h->columns_cap = (uint32_t)columns;
    }
    if (columns > h->columns_cap) {
      result = IMAGE_NO_MEMORY;
    } else {
      ImageWalk w;
      memset(&w, 0, sizeof w);
      w.f = &h->f;
      w.from = from;
      w.to = to;
      w.prefix = (const uint8_t *)prefix;
      w.prefix_len = prefix_len;
      w.columns = (uint32_t)columns;
      w.flags = (const uint8_t *)flags;
      w.out = (uint8_t *)out;
      w.out_cap = out_len;
      w.desc = (uint32_t *)descriptors;
      w.desc_cap = (uint32_t)(descriptors_len / 2 > 0xffffffffu ? 0xffffffffu : descriptors_len / 2);
      w.scratch = h->scratch;
      w.scratch_cap = h->scratch_cap;
      w.types = h->types;
      w.at = h->at;
      int r = from > to ? WALK_DONE : image_walk(&w, root, 0, 0, 0, 0, 0);
      h->scratch = w.scratch;
      h->scratch_cap = w.scratch_cap;
      if (r == WALK_ON || r == WALK_DONE) {
        st[0] = 0;
        st[1] = 0;
        result = w.count;
      } else if (r == WALK_FULL) {
        st[0] = w.next;
        st[1] = 1;
        result = w.count;
      } else {
        if (r == IMAGE_TOO_SMALL) st[0] = w.next;
        result = r;
      }
    }
  }
  if (result == IMAGE_NO_MEMORY) {
    napi_throw_error(env, NULL, "image rows: out of memory");
    return NULL;
  }
  napi_value v;
  if (napi_create_int64(env, result, &v) != napi_ok) return NULL;
  return v;
}

/* ---------------------------------------------------------------- thread placement */

/* threadCpu(): the CPU the calling thread runs on, -1 if unknown. */
static napi_value js_thread_cpu(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  if (napi_create_int32(env, sched_getcpu(), &v) != napi_ok) return NULL;
  return v;
}

/*
 * leaveCpu(cpu): moves the calling thread off `cpu` when it runs there and its affinity allows
 * another CPU: its affinity without `cpu` (the kernel migrates it at once), then its affinity as
 * it was (it stays where it went until the scheduler moves it). Returns whether it moved. Never
 * narrows the affinity for longer than the two calls; any failure leaves it as it was.
 */
static napi_value js_leave_cpu(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t cpu = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &cpu) != napi_ok) cpu = -1;
  int moved = 0;
  if (cpu >= 0 && cpu < CPU_SETSIZE && sched_getcpu() == cpu) {
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_ISSET(cpu, &mask) &&
        CPU_COUNT(&mask) > 1) {
      cpu_set_t others = mask;
      CPU_CLR(cpu, &others);
      if (sched_setaffinity(0, sizeof others, &others) == 0) {
        moved = sched_getcpu() != cpu;
        (void)sched_setaffinity(0, sizeof mask, &mask);
      }
    }
  }
  napi_value v;
  if (napi_get_boolean(env, moved != 0, &v) != napi_ok) return NULL;
  return v;
}

static int export_function(napi_env env, napi_value object, const char *name, napi_callback cb,
                           void *data) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, data, &fn) == napi_ok &&
         napi_set_named_property(env, object, name, fn) == napi_ok;
}

static int export_level(napi_env env, napi_value exports, const char *name, const LevelFns *fns) {
  napi_value level, xof, acc, delta;
  if (napi_create_object(env, &level) != napi_ok ||
      napi_create_function(env, "xof", NAPI_AUTO_LENGTH, js_xof, (void *)fns, &xof) != napi_ok ||
      napi_create_function(env, "accumulate", NAPI_AUTO_LENGTH, js_accumulate, (void *)fns,
                           &acc) != napi_ok ||
      napi_create_function(env, "changesetDelta", NAPI_AUTO_LENGTH, js_changeset_delta,
                           (void *)fns, &delta) != napi_ok ||
      napi_set_named_property(env, level, "xof", xof) != napi_ok ||
      napi_set_named_property(env, level, "accumulate", acc) != napi_ok ||
      napi_set_named_property(env, level, "changesetDelta", delta) != napi_ok ||
      !export_function(env, level, "overlayCreate", js_overlay_create, NULL) ||
      !export_function(env, level, "overlayFollow", js_overlay_follow, NULL) ||
      !export_function(env, level, "overlayClear", js_overlay_clear, NULL) ||
      !export_function(env, level, "overlayUndo", js_overlay_undo, NULL) ||
      !export_function(env, level, "overlayStats", js_overlay_stats, NULL) ||
      !export_function(env, level, "overlayMissing", js_overlay_missing, NULL) ||
      !export_function(env, level, "overlayPreload", js_overlay_preload, NULL) ||
      !export_function(env, level, "overlayPreloadRows", js_overlay_preload_rows, NULL) ||
      !export_function(env, level, "overlayWalk", js_overlay_walk, (void *)fns) ||
      !export_function(env, level, "imageOpen", js_image_open, NULL) ||
      !export_function(env, level, "imageClose", js_image_close, NULL) ||
      !export_function(env, level, "imageRows", js_image_rows, NULL) ||
      napi_set_named_property(env, exports, name, level) != napi_ok)
    return 0;
  return 1;
}

NAPI_MODULE_INIT() {
  int avx2, avx512;
  cpu_levels(&avx2, &avx512);
  napi_value levels, s;
  if (napi_create_array(env, &levels) != napi_ok) return NULL;
  uint32_t n = 0;
  if (avx512) {
    if (!export_level(env, exports, "avx512", &AVX512)) return NULL;
    if (napi_create_string_utf8(env, "avx512", NAPI_AUTO_LENGTH, &s) != napi_ok ||
        napi_set_element(env, levels, n++, s) != napi_ok)
      return NULL;
  }
  if (avx2) {
    if (!export_level(env, exports, "avx2", &AVX2)) return NULL;
    if (napi_create_string_utf8(env, "avx2", NAPI_AUTO_LENGTH, &s) != napi_ok ||
        napi_set_element(env, levels, n++, s) != napi_ok)
      return NULL;
  }
  if (napi_set_named_property(env, exports, "levels", levels) != napi_ok ||
      !export_function(env, exports, "threadCpu", js_thread_cpu, NULL) ||
      !export_function(env, exports, "leaveCpu", js_leave_cpu, NULL))
    return NULL;
  return exports;
}
#endif /* BLAKE3_LTHASH_KERNEL_ONLY */
