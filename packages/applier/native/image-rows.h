/*
 * Row elements of a SQLite database file's rowid tables, read straight from the file's bytes (a
 * snapshot image: a complete database file nobody writes while it is read, with no WAL content),
 * for the state hash of an image: the native counterpart of reading each row through SQLite and
 * encoding it with RowElementWriter (state-root-of-database.ts). Same elements, byte for byte, or
 * IMAGE_NOT_TAKEN, after which the caller reads the same rows through SQLite.
 *
 * The file format (https://www.sqlite.org/fileformat2.html): pages of `page_size` bytes, of which
 * the last `reserved` are not B-tree content; a table B-tree's interior pages (type 0x05) hold
 * (left child, key) cells and a right-most child, its leaves (type 0x0d) (payload size, rowid,
 * payload) cells, a payload past the page's share spilling into a chain of overflow pages. A
 * payload is a record: a header (its size, then a serial type per column) and the values.
 *
 * Anything this reader does not mirror exactly, or that a well-formed file does not hold, is not
 * taken: a text encoding other than UTF-8, a file whose size disagrees with its header, a page
 * of another type, offsets or sizes past their page, child pages out of the file, keys out of
 * order or outside their parent's bounds (a corrupt B-tree), a walk longer than the file's page
 * count or deeper than 64 levels, a record with fewer or more values than the table's columns
 * (ALTER TABLE ADD COLUMN leaves older rows short: their defaults come from the schema), reserved
 * serial types 10 and 11, a NaN (SQLite reads it as NULL), text that is not well-formed UTF-8
 * (SQLite hands it to JavaScript, which replaces what is not), a rowid alias column whose record
 * value is not NULL. Input is hostile: every read is bounds-checked against the mapping.
 *
 * What SQLite does on the way out of a row, done here too: a column with REAL affinity gives a
 * REAL even where the record holds an integer (SQLite stores integral REALs as integers), the
 * INTEGER PRIMARY KEY column (the rowid alias, NULL in the record) gives the rowid, -0.0 is
 * written as +0.0 (as RowElementWriter does).
 */
#include <fcntl.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_NOT_TAKEN (-1)
#define IMAGE_TOO_SMALL (-2)
#define IMAGE_NO_MEMORY (-3)
#define IMAGE_MAX_DEPTH 64
/* Column flags (one byte per column): REAL affinity, the rowid alias (INTEGER PRIMARY KEY). */
#define IMAGE_COLUMN_REAL 1u
#define IMAGE_COLUMN_ROWID 2u

typedef struct {
  const uint8_t *map;
  size_t size;
  uint32_t page_size;
  uint32_t usable;
  uint32_t page_count;
} ImageFile;

static uint32_t image_u16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }
static uint32_t image_u32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Maps the file and checks its header; 0, or IMAGE_NOT_TAKEN (the caller reads it via SQLite). */
static int image_open(const char *path, ImageFile *f) {
  memset(f, 0, sizeof *f);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IMAGE_NOT_TAKEN;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 512) {
    close(fd);
    return IMAGE_NOT_TAKEN;
  }
  size_t size = (size_t)st.st_size;
  void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return IMAGE_NOT_TAKEN;
  const uint8_t *h = (const uint8_t *)map;
  uint32_t page_size = image_u16(h + 16);
  if (page_size == 1) page_size = 65536;
  uint32_t reserved = h[20];
  uint32_t encoding = image_u32(h + 56);
  uint32_t header_pages = image_u32(h + 28);
  int ok = memcmp(h, "SQLite format 3", 16) == 0 && page_size >= 512 && page_size <= 65536 &&
           (page_size & (page_size - 1)) == 0 && page_size - reserved >= 480 &&
           size % page_size == 0 && size / page_size <= 0xfffffffeu &&
           (encoding == 1 || encoding == 0);
  /* The header's page count, when valid (its version number is the change counter's), is the
     database's size: a file holding more or fewer pages is not read here. */
  if (ok && header_pages != 0 && image_u32(h + 92) == image_u32(h + 24))
    ok = header_pages == size / page_size;
  if (!ok) {
    munmap(map, size);
    return IMAGE_NOT_TAKEN;
  }
  f->map = h;
  f->size = size;
  f->page_size = page_size;
  f->usable = page_size - reserved;
  f->page_count = (uint32_t)(size / page_size);
  return 0;
}

static void image_close(ImageFile *f) {
  if (f->map != NULL) munmap((void *)f->map, f->size);
  f->map = NULL;
}

typedef struct {
  const ImageFile *f;
  /* rows with rowid in [from, to] */
  int64_t from, to;
  /* the element's start: domain, table name, column count (RowElementWriter#begin) */
  const uint8_t *prefix;
  size_t prefix_len;
  uint32_t columns;
  const uint8_t *flags;
  uint8_t *out;
  size_t out_cap, out_used;
  uint32_t *desc;
  uint32_t desc_cap, count;
  /* the last row emitted, so rows come strictly in order */
  int have_last;
  int64_t last;
  /* full: the row to go on from; too small: the bytes its element needs */
  int64_t next;
  uint32_t visited;
  /* a payload with overflow pages, put together */
  uint8_t *scratch;
  size_t scratch_cap;
  /* per column: serial type, and where its value starts in the payload */
  uint64_t *types;
  size_t *at;
} ImageWalk;

#define WALK_ON 0
#define WALK_DONE 1
#define WALK_FULL 2

/* SQLite's B-tree varint: 1-9 bytes, the ninth contributing 8 bits; 0 past `end`. */
static int image_varint(const uint8_t *b, size_t end, size_t *p, uint64_t *out) {
  size_t q = *p;
  uint64_t v = 0;
  for (int i = 0; i < 9; i++) {
    if (q >= end) return 0;
    uint8_t c = b[q++];
    if (i == 8) {
      v = (v << 8) | c;
      break;
    }
    v = (v << 7) | (c & 0x7f);
    if (c < 0x80) break;
  }
  *p = q;
  *out = v;
  return 1;
}

static const uint8_t *image_page(const ImageFile *f, uint64_t pgno) {
  if (pgno < 1 || pgno > f->page_count) return NULL;
  return f->map + (size_t)(pgno - 1) * f->page_size;
}

/* Bytes of a value of serial type t in a record; -1 for the reserved types 10 and 11. */
static int64_t image_value_size(uint64_t t) {
  static const int8_t fixed[12] = {0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1};
  if (t < 12) return fixed[t];
  return (int64_t)((t - 12) / 2);
}

static int64_t image_int(const uint8_t *v, uint64_t t) {
  if (t == 8) return 0;
  if (t == 9) return 1;
  int n = (int)image_value_size(t);
  uint64_t u = (v[0] & 0x80) ? ~(uint64_t)0 : 0;
  for (int i = 0; i < n; i++) u = (u << 8) | v[i];
  return (int64_t)u;
}

static void image_put_u64be(uint8_t *d, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    d[i] = (uint8_t)v;
    v >>= 8;
  }
}

static void image_put_real(uint8_t *d, double x) {
  if (x == 0) x = 0; /* -0.0 as +0.0 */
  uint64_t bits;
  memcpy(&bits, &x, 8);
  d[0] = 2;
  image_put_u64be(d + 1, bits);
}

/* One leaf row: its payload (`local` bytes at `cell`, then the overflow chain) as an element. */
static int image_row(ImageWalk *w, int64_t rowid, const uint8_t *local, uint64_t payload_size,
                     uint32_t local_size, uint32_t overflow) {
  const ImageFile *f = w->f;
  const uint8_t *payload = local;
  if (payload_size > local_size) {
    if (payload_size > (uint64_t)f->page_count * f->usable) return IMAGE_NOT_TAKEN;
    if (payload_size > w->scratch_cap) {
      uint8_t *grown = (uint8_t *)realloc(w->scratch, payload_size);
      if (grown == NULL) return IMAGE_NO_MEMORY;
      w->scratch = grown;
      w->scratch_cap = payload_size;
    }
    memcpy(w->scratch, local, local_size);
    size_t have = local_size;
    uint32_t pages = 0;
    uint32_t next = overflow;
    while (have < payload_size) {
      const uint8_t *page = next >= 2 ? image_page(f, next) : NULL;
      if (page == NULL || ++pages > f->page_count) return IMAGE_NOT_TAKEN;
      size_t n = f->usable - 4;
      if (n > payload_size - have) n = payload_size - have;
      memcpy(w->scratch + have, page + 4, n);
      have += n;
      next = image_u32(page);
    }
    payload = w->scratch;
  }
  size_t end = (size_t)payload_size;
  size_t p = 0;
  uint64_t header_size;
  if (!image_varint(payload, end, &p, &header_size) || header_size < p || header_size > end)
    return IMAGE_NOT_TAKEN;
  size_t value_at = (size_t)header_size;
  uint32_t n = 0;
  size_t bytes = w->prefix_len;
  while (p < header_size) {
    uint64_t t;
    if (n == w->columns || !image_varint(payload, (size_t)header_size, &p, &t))
      return IMAGE_NOT_TAKEN;
    int64_t size = image_value_size(t);
    if (size < 0 || (uint64_t)size > end - value_at) return IMAGE_NOT_TAKEN;
    w->types[n] = t;
    w->at[n] = value_at;
    value_at += (size_t)size;
    if (t == 0) {
      bytes += (w->flags[n] & IMAGE_COLUMN_ROWID) ? 9 : 1;
    } else if (t <= 9) {
      bytes += 9;
    } else {
      if (size > 0x7fffffff) return IMAGE_NOT_TAKEN;
      bytes += 5 + (size_t)size;
    }
    n++;
  }
  if (n != w->columns) return IMAGE_NOT_TAKEN;
  if (bytes > 0x7fffffff) return IMAGE_NOT_TAKEN;
  if (w->count == w->desc_cap || bytes > w->out_cap - w->out_used) {
    if (w->count > 0) {
      w->next = rowid;
      return WALK_FULL;
    }
    w->next = (int64_t)bytes;
    return IMAGE_TOO_SMALL;
  }
  uint8_t *d = w->out + w->out_used;
  memcpy(d, w->prefix, w->prefix_len);
  size_t q = w->prefix_len;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t t = w->types[i];
    const uint8_t *v = payload + w->at[i];
    uint8_t flags = w->flags[i];
    if (flags & IMAGE_COLUMN_ROWID) {
      if (t != 0) return IMAGE_NOT_TAKEN;
      d[q] = 1;
      image_put_u64be(d + q + 1, (uint64_t)rowid);
      q += 9;
    } else if (t == 0) {
      d[q++] = 5;
    } else if (t == 7) {
      uint64_t bits = 0;
      for (int k = 0; k < 8; k++) bits = (bits << 8) | v[k];
      double x;
      memcpy(&x, &bits, 8);
      if (isnan(x)) return IMAGE_NOT_TAKEN;
      image_put_real(d + q, x);
      q += 9;
    } else if (t <= 9) {
      int64_t x = image_int(v, t);
      if (flags & IMAGE_COLUMN_REAL) {
        image_put_real(d + q, (double)x);
      } else {
        d[q] = 1;
        image_put_u64be(d + q + 1, (uint64_t)x);
      }
      q += 9;
    } else {
      uint32_t len = (uint32_t)((t - 12) / 2);
      int text = (t & 1) != 0;
      if (text && !valid_utf8(v, len)) return IMAGE_NOT_TAKEN;
      d[q] = text ? 3 : 4;
      put_u32be(d + q + 1, len);
      memcpy(d + q + 5, v, len);
      q += 5 + (size_t)len;
    }
  }
  w->desc[2 * w->count] = (uint32_t)w->out_used;
  w->desc[2 * w->count + 1] = (uint32_t)q;
  w->count++;
  w->out_used += q;
  return WALK_ON;
}

/*
 * The rows of the subtree at `pgno` with rowid in [from, to], in order; its keys must lie in
 * (lo, hi] (`has_lo`, `has_hi`: bounded on that side). WALK_ON, WALK_DONE at the first row past
 * `to`, WALK_FULL when the output is full (w->next: the row to go on from), or a negative code.
 *
 * The rows are those SQLite's `rowid BETWEEN from AND to` reads: it seeks `from` through the
 * interior keys, then steps from row to row, leaf to leaf, until a row is past `to`. Each page is
 * checked whole before it is used (keys and rowids strictly increasing and within the page's
 * bounds, every cell inside the page), so a seek and a linear skip agree; the walk stops at a
 * row past `to`, never at an interior key (a damaged tree could hold a row that SQLite's stepping
 * would still read: the next leaf is visited, and refused if out of its bounds).
 */
static int image_walk(ImageWalk *w, uint32_t pgno, int depth, int has_lo, int64_t lo, int has_hi,
                      int64_t hi) {
  const ImageFile *f = w->f;
  const uint8_t *page = image_page(f, pgno);
  if (page == NULL || depth > IMAGE_MAX_DEPTH || ++w->visited > f->page_count)
    return IMAGE_NOT_TAKEN;
  size_t usable = f->usable;
  size_t h = pgno == 1 ? 100 : 0;
  uint8_t type = page[h];
  if (type != 0x05 && type != 0x0d) return IMAGE_NOT_TAKEN;
  size_t header = type == 0x05 ? 12 : 8;
  uint32_t cells = image_u16(page + h + 3);
  size_t pointers = h + header;
  size_t cells_start = pointers + 2 * (size_t)cells;
  if (cells_start > usable) return IMAGE_NOT_TAKEN;
  /* a leaf: payload size, rowid, the local payload, the first overflow page */
  size_t max_local = usable - 35;
  /* the whole page first: keys in order and in bounds, cells inside the page */
  int has_prev = has_lo;
  int64_t prev = lo;
  for (uint32_t i = 0; i < cells; i++) {
    size_t off = image_u16(page + pointers + 2 * i);
    if (off < cells_start || off >= usable) return IMAGE_NOT_TAKEN;
    size_t p = off;
    uint64_t u;
    if (type == 0x05) {
      if (off + 4 > usable) return IMAGE_NOT_TAKEN;
      p += 4;
      if (!image_varint(page, usable, &p, &u)) return IMAGE_NOT_TAKEN;
    } else {
      uint64_t payload_size;
      if (!image_varint(page, usable, &p, &payload_size) || !image_varint(page, usable, &p, &u))
        return IMAGE_NOT_TAKEN;
      size_t local = (size_t)payload_size;
      if (payload_size > max_local) {
        size_t m = ((usable - 12) * 32 / 255) - 23;
        size_t k = m + (size_t)((payload_size - m) % (usable - 4));
        local = k <= max_local ? k : m;
      }
      if (local + (payload_size > local ? 4 : 0) > usable - p) return IMAGE_NOT_TAKEN;
    }
    int64_t key = (int64_t)u;
    if ((has_prev && key <= prev) || (has_hi && key > hi)) return IMAGE_NOT_TAKEN;
    has_prev = 1;
    prev = key;
  }
  if (type == 0x05) {
    has_prev = has_lo;
    prev = lo;
    for (uint32_t i = 0; i < cells; i++) {
      size_t off = image_u16(page + pointers + 2 * i);
      uint32_t child = image_u32(page + off);
      size_t p = off + 4;
      uint64_t u = 0; /* checked above */
      image_varint(page, usable, &p, &u);
      int64_t key = (int64_t)u;
      /* the child holds keys in (prev, key]: before `from` when key < from (as a seek skips it) */
      if (key >= w->from) {
        int r = image_walk(w, child, depth + 1, has_prev, prev, 1, key);
        if (r != WALK_ON) return r;
      }
      has_prev = 1;
      prev = key;
    }
    return image_walk(w, image_u32(page + h + 8), depth + 1, has_prev, prev, has_hi, hi);
  }
  for (uint32_t i = 0; i < cells; i++) {
    size_t p = image_u16(page + pointers + 2 * i);
    uint64_t payload_size = 0, u = 0; /* checked above */
    image_varint(page, usable, &p, &payload_size);
    image_varint(page, usable, &p, &u);
    int64_t rowid = (int64_t)u;
    if (w->have_last && rowid <= w->last) return IMAGE_NOT_TAKEN;
    if (rowid > w->to) return WALK_DONE;
    if (rowid < w->from) continue;
    size_t local = (size_t)payload_size;
    if (payload_size > max_local) {
      size_t m = ((usable - 12) * 32 / 255) - 23;
      size_t k = m + (size_t)((payload_size - m) % (usable - 4));
      local = k <= max_local ? k : m;
    }
    uint32_t overflow = payload_size > local ? image_u32(page + p + local) : 0;
    int r = image_row(w, rowid, page + p, payload_size, (uint32_t)local, overflow);
    if (r != WALK_ON) return r;
    w->have_last = 1;
    w->last = rowid;
  }
  return WALK_ON;
}
