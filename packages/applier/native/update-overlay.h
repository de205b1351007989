/*
 * The UPDATE overlay: the native counterpart of GroupUpdateResolver's walk
 * (src/state-root/group-update-resolver.ts; same elements, same lanes). Included by
 * blake3-lthash-native.c after the changeset delta pass, whose record checks and element
 * writers it uses.
 *
 * An overlay keeps, for the tables it follows, each row changed since the caller's read snapshot
 * as its latest element (src/state-root/row-element.ts), or that it was deleted, keyed by
 * (table, primary key). `overlay_walk` walks a changeset in order: every INSERT, DELETE and
 * UPDATE of a followed table updates the overlay, and the UPDATEs at the caller's positions (the
 * ones whose old record leaves columns out) add their old row's element (subtracted) and new
 * row's (added) to the lanes: the columns they leave out come from the row's element in the
 * overlay. A row the walk needs and the overlay does not have (an UPDATE that leaves columns out
 * of a row not changed since the snapshot) is listed first by `overlay_missing`; the caller reads
 * it from its snapshot and hands its element to `overlay_preload`. `overlay_missing` starts a
 * changeset: `overlay_undo` takes back its preloads and its walk.
 *
 * A key is the primary key's values in key order, each as the element has it (type byte, then
 * INTEGER/REAL as 8 bytes (-0.0 as +0.0), TEXT/BLOB as u32 length and bytes): the same rows as
 * the JavaScript overlay's keys. Elements and keys live in two arenas, entries in an open-address
 * table; nothing is freed until `overlay_clear`, and a row's new version of the same size as its
 * last replaces it in place (the arena grows for new rows and resized ones). The last walk can be taken back
 * (`overlay_undo`).
 */

#define OV_ABSENT (-2) /* an entry whose key is not in the overlay (taken back by an undo) */
#define OV_DELETED (-1)

/* Walk results besides 0 (the JavaScript side turns them into errors). */
#define OV_MALFORMED (-1)   /* the walk does not take the changeset (see changeset_delta) */
#define OV_NO_MEMORY (-3)
#define OV_ROW_DELETED (-4) /* an UPDATE of a row the overlay has as deleted */
#define OV_ROW_MISSING (-5) /* an UPDATE that needs a row the overlay does not have */
#define OV_BAD_POSITION (-6)
#define OV_BAD_ROW (-7) /* a row's element does not have the UPDATE's column count */
#define OV_TOO_LARGE (-8) /* the overlay would keep more than max_bytes of row versions */



typedef struct {
  uint64_t hash;
  size_t key_off;
  int64_t elem_off; /* OV_DELETED, OV_ABSENT, or the element's offset */
  uint32_t key_len;
  uint32_t elem_len;
  uint32_t table; /* table index + 1; 0: an empty slot */
} OvEntry;

/* An entry's value before the walk changed it, by its key (a rehash moves slots, not keys). */
typedef struct {
  uint64_t hash;
  size_t key_off;
  int64_t elem_off;
  /* the previous version's bytes in undo_bytes (overwritten in place), or SIZE_MAX */
  size_t saved;
  uint32_t key_len;
  uint32_t elem_len;
  uint32_t table;
} OvUndo;

typedef struct {
  uint8_t *name; /* lower-case */
  uint32_t len;
} OvTable;

typedef struct {
  OvEntry *slots;
  size_t capacity; /* a power of two, or 0 */
  size_t used;     /* slots taken (absent entries included) */
  size_t rows;     /* entries not absent */
  uint8_t *keys;
  size_t keys_used, keys_capacity;
  uint8_t *elems;
  size_t elems_used, elems_capacity;
  OvTable *tables;
  uint32_t table_count, table_capacity;
  OvUndo *undo;
  size_t undo_len, undo_capacity;
  uint8_t *undo_bytes;
  size_t undo_bytes_used, undo_bytes_capacity;
  int undo_valid;
  /* scratch: value offsets (old record, new record, the row's element), a key, a row element */
  size_t *at;
  size_t at_capacity;
  uint8_t *key;
  size_t key_capacity;
  uint8_t *row;
  size_t row_capacity;
  /* the current table's key columns, in key order */
  uint32_t *key_cols;
  size_t key_cols_capacity;
  uint32_t key_count;
  /*
   * Row versions kept at most (every UPDATE of a row keeps a new version until overlay_clear):
   * past it the walk stops and the caller resolves otherwise (a wide row updated again and again
   * within one job).
   */
  size_t max_bytes;
} Overlay;

static int ov_grow(void **p, size_t *capacity, size_t need, size_t unit, size_t first) {
  if (need <= *capacity) return 1;
  size_t size = *capacity == 0 ? first : *capacity;
  while (size < need) size *= 2;
  void *grown = realloc(*p, size * unit);
  if (grown == NULL) return 0;
  *p = grown;
  *capacity = size;
  return 1;
}

/* Frees a buffer grown past `limit` bytes (the next use grows it again). */
static void ov_shrink(void **p, size_t *capacity, size_t limit) {
  if (*capacity <= limit) return;
  free(*p);
  *p = NULL;
  *capacity = 0;
}

static void overlay_clear(Overlay *o) {
  if (o->capacity > 0) memset(o->slots, 0, o->capacity * sizeof *o->slots);
  o->used = 0;
  o->rows = 0;
  o->keys_used = 0;
  o->elems_used = 0;
  for (uint32_t t = 0; t < o->table_count; t++) free(o->tables[t].name);
  o->table_count = 0;
  o->undo_len = 0;
  o->undo_bytes_used = 0;
  o->undo_valid = 0;
  /* grown for a large overlay: not kept for the thread's life */
  ov_shrink((void **)&o->undo_bytes, &o->undo_bytes_capacity, (size_t)1 << 24);
  ov_shrink((void **)&o->elems, &o->elems_capacity, (size_t)1 << 26);
  ov_shrink((void **)&o->row, &o->row_capacity, (size_t)1 << 24);
  if (o->capacity > ((size_t)1 << 20)) {
    free(o->slots);
    o->slots = NULL;
    o->capacity = 0;
  }
}

static void overlay_free(Overlay *o) {
  overlay_clear(o);
  free(o->slots);
  free(o->keys);
  free(o->elems);
  free(o->tables);
  free(o->undo);
  free(o->undo_bytes);
  free(o->at);
  free(o->key);
  free(o->row);
  free(o->key_cols);
  free(o);
}

static uint8_t ascii_lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

/* The followed table named `name` (any ASCII case): its index + 1, or 0. */
static uint32_t overlay_table(const Overlay *o, const uint8_t *name, uint32_t len) {
  for (uint32_t t = 0; t < o->table_count; t++) {
    const OvTable *x = &o->tables[t];
    if (x->len != len) continue;
    uint32_t k = 0;
    while (k < len && x->name[k] == ascii_lower(name[k])) k++;
    if (k == len) return t + 1;
  }
  return 0;
}

/* Follows the table named `name` from now on; its index + 1, or 0 when out of memory. */
static uint32_t overlay_follow(Overlay *o, const uint8_t *name, uint32_t len) {
  uint32_t known = overlay_table(o, name, len);
  if (known != 0) return known;
  if (o->table_count == o->table_capacity) {
    uint32_t size = o->table_capacity == 0 ? 8 : o->table_capacity * 2;
    OvTable *grown = (OvTable *)realloc(o->tables, size * sizeof *grown);
    if (grown == NULL) return 0;
    o->tables = grown;
    o->table_capacity = size;
  }
  uint8_t *copy = (uint8_t *)malloc(len == 0 ? 1 : len);
  if (copy == NULL) return 0;
  for (uint32_t k = 0; k < len; k++) copy[k] = ascii_lower(name[k]);
  o->tables[o->table_count].name = copy;
  o->tables[o->table_count].len = len;
  return ++o->table_count;
}

static uint64_t ov_hash(uint32_t table, const uint8_t *key, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull ^ ((uint64_t)table * 0x9e3779b97f4a7c15ull);
  for (size_t i = 0; i < n; i++) h = (h ^ key[i]) * 0x100000001b3ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

/* The slot of (table, key): its entry, or the empty slot where it would go. */
static size_t ov_find(const Overlay *o, uint32_t table, const uint8_t *key, uint32_t n,
                      uint64_t h) {
  size_t mask = o->capacity - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    const OvEntry *e = &o->slots[i];
    if (e->table == 0) return i;
    if (e->hash == h && e->table == table && e->key_len == n &&
        memcmp(o->keys + e->key_off, key, n) == 0)
      return i;
  }
}

/* The entry of (table, key), or NULL (none, or absent). */
static const OvEntry *overlay_get(const Overlay *o, uint32_t table, const uint8_t *key,
                                  uint32_t n) {
  if (o->capacity == 0) return NULL;
  const OvEntry *e = &o->slots[ov_find(o, table, key, n, ov_hash(table, key, n))];
  return e->table == 0 || e->elem_off == OV_ABSENT ? NULL : e;
}

static int ov_rehash(Overlay *o) {
  size_t size = o->capacity == 0 ? 1024 : o->capacity * 2;
  OvEntry *old = o->slots;
  size_t old_capacity = o->capacity;
  OvEntry *slots = (OvEntry *)calloc(size, sizeof *slots);
  if (slots == NULL) return 0;
  o->slots = slots;
  o->capacity = size;
  size_t mask = size - 1;
  for (size_t i = 0; i < old_capacity; i++) {
    if (old[i].table == 0) continue;
    size_t j = (size_t)old[i].hash & mask;
    while (slots[j].table != 0) j = (j + 1) & mask;
    slots[j] = old[i];
  }
  free(old);
  return 1;
}

/* Room for `more` new entries (the table at most 3/4 full). 0 when out of memory. */
static int overlay_reserve(Overlay *o, size_t more) {
  while ((o->used + more) * 4 > o->capacity * 3)
    if (!ov_rehash(o)) return 0;
  return 1;
}

/*
 * Sets (table, key) to the element row[0..n) (copied) or to OV_DELETED (row NULL), logging the
 * previous value for an undo when `log`. 1, 0 when out of memory, -1 past max_bytes (before any
 * change).
 */
static int overlay_put(Overlay *o, uint32_t table, const uint8_t *key, uint32_t key_len,
                       const uint8_t *row, uint32_t n, int log) {
  if (row != NULL && o->elems_used + n > o->max_bytes) return -1;
  if (!overlay_reserve(o, 1)) return 0;
  uint64_t h = ov_hash(table, key, key_len);
  size_t i = ov_find(o, table, key, key_len, h);
  OvEntry *e = &o->slots[i];
  if (e->table == 0) {
    if (!ov_grow((void **)&o->keys, &o->keys_capacity, o->keys_used + key_len, 1, 4096)) return 0;
    memcpy(o->keys + o->keys_used, key, key_len);
    e->hash = h;
    e->table = table;
    e->key_off = o->keys_used;
    e->key_len = key_len;
    e->elem_off = OV_ABSENT;
    e->elem_len = 0;
    o->keys_used += key_len;
    o->used++;
  }
  /* a new version of the same size replaces the last one where it is (the arena grows only for
     new rows and resized ones); an undo then needs the bytes it replaced */
  int in_place = row != NULL && e->elem_off >= 0 && e->elem_len == n;
  if (row != NULL && !in_place &&
      !ov_grow((void **)&o->elems, &o->elems_capacity, o->elems_used + n, 1, 65536))
    return 0;
  if (log) {
    if (!ov_grow((void **)&o->undo, &o->undo_capacity, o->undo_len + 1, sizeof *o->undo, 256))
      return 0;
    size_t saved = SIZE_MAX;
    if (in_place) {
      if (!ov_grow((void **)&o->undo_bytes, &o->undo_bytes_capacity, o->undo_bytes_used + n, 1,
                   65536))
        return 0;
      saved = o->undo_bytes_used;
      memcpy(o->undo_bytes + saved, o->elems + e->elem_off, n);
      o->undo_bytes_used += n;
    }
    OvUndo *u = &o->undo[o->undo_len++];
    u->hash = h;
    u->key_off = e->key_off;
    u->key_len = key_len;
    u->table = table;
    u->elem_off = e->elem_off;
    u->elem_len = e->elem_len;
    u->saved = saved;
  }
  if (in_place) {
    memcpy(o->elems + e->elem_off, row, n);
    return 1;
  }
  if (e->elem_off == OV_ABSENT) o->rows++;
  if (row == NULL) {
    e->elem_off = OV_DELETED;
    e->elem_len = 0;
    return 1;
  }
  memcpy(o->elems + o->elems_used, row, n);
  e->elem_off = (int64_t)o->elems_used;
  e->elem_len = n;
  o->elems_used += n;
  return 1;
}

/* Takes the last walk back: its rows as before it. 0 when there is nothing to take back. */
static int overlay_undo(Overlay *o) {
  if (!o->undo_valid) return 0;
  for (size_t k = o->undo_len; k-- > 0;) {
    const OvUndo *u = &o->undo[k];
    OvEntry *e = &o->slots[ov_find(o, u->table, o->keys + u->key_off, u->key_len, u->hash)];
    if (u->saved != SIZE_MAX) {
      /* replaced in place: the entry still points at it */
      memcpy(o->elems + e->elem_off, o->undo_bytes + u->saved, e->elem_len);
      continue;
    }
    if (e->elem_off != OV_ABSENT && u->elem_off == OV_ABSENT) o->rows--;
    e->elem_off = u->elem_off;
    e->elem_len = u->elem_len;
  }
  o->undo_bytes_used = 0;
  o->undo_len = 0;
  o->undo_valid = 0;
  return 1;
}

/* Room for n value offsets in o->at; 0 when out of memory. */
static int area_offsets_ov(Overlay *o, size_t n) {
  return ov_grow((void **)&o->at, &o->at_capacity, n, sizeof *o->at, 64);
}

/*
 * The key columns of a table header's flags (pk[i] > 0: column i is in the key, at position
 * pk[i]), in key order: by position, then by column (as the JavaScript side sorts them).
 */
static int ov_key_order(Overlay *o, const uint8_t *pk, uint32_t columns) {
  if (!ov_grow((void **)&o->key_cols, &o->key_cols_capacity, columns, sizeof *o->key_cols, 16))
    return 0;
  uint32_t n = 0;
  for (uint32_t i = 0; i < columns; i++) {
    if (pk[i] == 0) continue;
    uint32_t j = n++;
    while (j > 0 && pk[o->key_cols[j - 1]] > pk[i]) {
      o->key_cols[j] = o->key_cols[j - 1];
      j--;
    }
    o->key_cols[j] = i;
  }
  o->key_count = n;
  return 1;
}

/*
 * The key of the record whose values start at b + at[0..columns) (at[i] == SIZE_MAX: absent):
 * the key columns' values (ov_key_order), each as the element has it, into o->key. Its length,
 * or 0 when a key column is absent or not usable, -1 when out of memory.
 */
static int64_t ov_key(Overlay *o, const uint8_t *b, size_t end, const size_t *at) {
  size_t n = 0;
  for (uint32_t k = 0; k < o->key_count; k++) {
    size_t q = at[o->key_cols[k]];
    if (q == SIZE_MAX) return 0;
    size_t next, size = element_value(b, end, q, &next);
    if (size == 0) return 0;
    if (!ov_grow((void **)&o->key, &o->key_capacity, n + size, 1, 256)) return -1;
    n += write_value(o->key + n, b, end, q);
  }
  if (n == 0 || n > 0xffffffffu) return 0;
  return (int64_t)n;
}

/* Where each column of the element at e starts (cols[0..columns)) and its end (cols[columns]). */
static int ov_element_columns(const uint8_t *e, size_t n, uint32_t columns, size_t *cols) {
  size_t p = sizeof ROW_DOMAIN;
  if (n < p + 4) return 0;
  uint32_t name_len = ((uint32_t)e[p] << 24) | ((uint32_t)e[p + 1] << 16) |
                      ((uint32_t)e[p + 2] << 8) | e[p + 3];
  p += 4 + (size_t)name_len;
  if (n < p + 4) return 0;
  uint32_t count = ((uint32_t)e[p] << 24) | ((uint32_t)e[p + 1] << 16) |
                   ((uint32_t)e[p + 2] << 8) | e[p + 3];
  if (count != columns) return 0;
  p += 4;
  for (uint32_t i = 0; i < columns; i++) {
    if (p >= n) return 0;
    cols[i] = p;
    uint8_t t = e[p];
    if (t == 1 || t == 2) p += 9;
    else if (t == 3 || t == 4) {
      if (n - p < 5) return 0;
      p += 5 + (((size_t)e[p + 1] << 24) | ((size_t)e[p + 2] << 16) | ((size_t)e[p + 3] << 8) |
                e[p + 4]);
    } else p += 1;
  }
  if (p > n) return 0;
  cols[columns] = p;
  return 1;
}

/*
 * Builds a row element into o->row: per column, the record value at rec[i] (b) when it has one,
 * else the value at rec2[i] when rec2 is given and has one, else the base element's column
 * (base bytes, base_cols). Its size, 0 when a value is not usable or missing, -1 out of memory.
 */
static int64_t ov_build(Overlay *o, const uint8_t *b, size_t end, const size_t *rec,
                        const size_t *rec2, const uint8_t *base, const size_t *base_cols,
                        uint32_t columns, const uint8_t *name, uint32_t name_len) {
  size_t size = sizeof ROW_DOMAIN + 4 + name_len + 4, next;
  for (uint32_t i = 0; i < columns; i++) {
    size_t at = rec[i] != SIZE_MAX ? rec[i] : rec2 != NULL ? rec2[i] : SIZE_MAX;
    if (at != SIZE_MAX) {
      size_t n = element_value(b, end, at, &next);
      if (n == 0) return 0;
      size += n;
    } else if (base != NULL) {
      size += base_cols[i + 1] - base_cols[i];
    } else {
      return 0;
    }
  }
  if (size > MAX_ELEMENT_VALUES) return 0;
  if (!ov_grow((void **)&o->row, &o->row_capacity, size, 1, 4096)) return -1;
  uint8_t *d = o->row;
  memcpy(d, ROW_DOMAIN, sizeof ROW_DOMAIN);
  d += sizeof ROW_DOMAIN;
  put_u32be(d, name_len);
  d += 4;
  for (uint32_t k = 0; k < name_len; k++) d[k] = ascii_lower(name[k]);
  d += name_len;
  put_u32be(d, columns);
  d += 4;
  for (uint32_t i = 0; i < columns; i++) {
    size_t at = rec[i] != SIZE_MAX ? rec[i] : rec2 != NULL ? rec2[i] : SIZE_MAX;
    if (at != SIZE_MAX) {
      d += write_value(d, b, end, at);
    } else {
      size_t n = base_cols[i + 1] - base_cols[i];
      memcpy(d, base + base_cols[i], n);
      d += n;
    }
  }
  return (int64_t)(d - o->row);
}

/*
 * One record's value offsets (SIZE_MAX where the record leaves a value out), checked as the
 * decoder does; moves *p past it. `undefined_ok`: values may be left out (UPDATE records).
 */
static int ov_record(const uint8_t *b, size_t end, size_t *p, uint32_t columns, size_t *at,
                     int undefined_ok, int *complete) {
  int undefined, all = 1;
  for (uint32_t i = 0; i < columns; i++) {
    size_t q = *p;
    if (!check_value(b, end, p, undefined_ok, &undefined)) return 0;
    at[i] = undefined ? SIZE_MAX : q;
    all &= !undefined;
  }
  if (complete != NULL) *complete = all;
  return 1;
}

/*
 * Lists the UPDATEs of followed tables whose old record leaves columns out and whose row the
 * overlay does not have (each as its table header's and record's offsets, into out[0..capacity)).
 * The count of offsets written, DELTA_POSITIONS_FULL, OV_MALFORMED or OV_NO_MEMORY.
 */
static int64_t overlay_missing(Overlay *o, const uint8_t *b, size_t end, uint32_t *out,
                               size_t capacity) {
  size_t p = 0, header = 0, written = 0;
  uint32_t columns = 0, table = 0, name_len = 0;
  const uint8_t *pk = NULL, *name = NULL;
  int seen = 0;
  /* a changeset starts here: its preloads and its walk are what an undo takes back */
  o->undo_len = 0;
  o->undo_bytes_used = 0;
  o->undo_valid = 1;
  while (p < end) {
    uint8_t op = b[p];
    if (op == TABLE_CHANGESET) {
      header = p;
      if (!read_table_header(b, end, &p, &columns, &pk, &name, &name_len)) return OV_MALFORMED;
      if (!ov_key_order(o, pk, columns)) return OV_NO_MEMORY;
      table = overlay_table(o, name, name_len);
      seen = 1;
      continue;
    }
    if (!seen) return OV_MALFORMED;
    size_t start = p;
    if (op != OP_INSERT && op != OP_DELETE && op != OP_UPDATE) return OV_MALFORMED;
    if (!read_indirect(b, end, &p)) return OV_MALFORMED;
    if (!area_offsets_ov(o, 2 * (size_t)columns + 1)) return OV_NO_MEMORY;
    int complete;
    if (!ov_record(b, end, &p, columns, o->at, op == OP_UPDATE, &complete)) return OV_MALFORMED;
    if (op == OP_UPDATE && !ov_record(b, end, &p, columns, o->at + columns, 1, NULL))
      return OV_MALFORMED;
    if (op != OP_UPDATE || table == 0 || complete) continue;
    int64_t key_len = ov_key(o, b, end, o->at);
    if (key_len < 0) return OV_NO_MEMORY;
    if (key_len == 0) return OV_MALFORMED;
    if (overlay_get(o, table, o->key, (uint32_t)key_len) != NULL) continue;
    if (header > 0xffffffffu || start > 0xffffffffu) return OV_MALFORMED;
    if (written + 2 > capacity) return DELTA_POSITIONS_FULL;
    out[written++] = (uint32_t)header;
    out[written++] = (uint32_t)start;
  }
  return (int64_t)written;
}

/*
 * Puts the rows the caller read into the overlay, as they are in its snapshot: pairs[2k],
 * pairs[2k + 1] are an UPDATE's table header and record offsets (from overlay_missing), and
 * elements[desc[2k] .. + desc[2k + 1]) the row's element. 0, OV_MALFORMED, OV_BAD_POSITION or
 * OV_NO_MEMORY. Logged with the walk that follows: an undo takes them back out (a row read for a
 * changeset that is taken back is read again when needed).
 */
static int64_t overlay_preload(Overlay *o, const uint8_t *b, size_t end, const uint32_t *pairs,
                               size_t count, const uint8_t *elements, size_t elements_len,
                               const uint32_t *desc) {
  for (size_t k = 0; k < count; k++) {
    size_t p = pairs[2 * k], record = pairs[2 * k + 1];
    if (p >= end || b[p] != TABLE_CHANGESET || record >= end || b[record] != OP_UPDATE)
      return OV_BAD_POSITION;
    uint32_t columns, name_len;
    const uint8_t *pk, *name;
    if (!read_table_header(b, end, &p, &columns, &pk, &name, &name_len)) return OV_MALFORMED;
    if (!ov_key_order(o, pk, columns)) return OV_NO_MEMORY;
    uint32_t table = overlay_table(o, name, name_len);
    if (table == 0) return OV_BAD_POSITION;
    size_t q = record;
    if (!read_indirect(b, end, &q)) return OV_MALFORMED;
    if (!area_offsets_ov(o, 2 * (size_t)columns + 1)) return OV_NO_MEMORY;
    if (!ov_record(b, end, &q, columns, o->at, 1, NULL)) return OV_MALFORMED;
    int64_t key_len = ov_key(o, b, end, o->at);
    if (key_len < 0) return OV_NO_MEMORY;
    if (key_len == 0) return OV_MALFORMED;
    if ((uint64_t)desc[2 * k] + desc[2 * k + 1] > elements_len) return OV_BAD_POSITION;
    int put = overlay_put(o, table, o->key, (uint32_t)key_len, elements + desc[2 * k],
                          desc[2 * k + 1], 1);
    if (put <= 0) return put < 0 ? OV_TOO_LARGE : OV_NO_MEMORY;
  }
  return 0;
}

/*
 * Puts rows of the followed table `name` into the overlay as the caller's snapshot has them,
 * from their elements alone (e.g. a snapshot's image, whose rows the caller has just hashed):
 * elements[desc[2k] .. + desc[2k + 1]) for k < count; the key is the columns `key_cols[0..nkey)`
 * of each element, in that order (the table's primary-key columns in key order, as the
 * changesets' headers give them). Not logged (no walk takes them back). 0, OV_BAD_ROW (an element
 * that does not parse, or without those columns), OV_TOO_LARGE or OV_NO_MEMORY.
 */
static int64_t overlay_preload_rows(Overlay *o, const uint8_t *name, uint32_t name_len,
                                    const uint32_t *key_cols, uint32_t nkey,
                                    const uint8_t *elements, size_t elements_len,
                                    const uint32_t *desc, size_t count) {
  if (nkey == 0) return OV_BAD_ROW;
  uint32_t table = overlay_follow(o, name, name_len);
  if (table == 0) return OV_NO_MEMORY;
  for (size_t k = 0; k < count; k++) {
    size_t at = desc[2 * k], n = desc[2 * k + 1];
    if (at > elements_len || n > elements_len - at) return OV_BAD_ROW;
    const uint8_t *e = elements + at;
    /* the element's column count, then where each column is */
    size_t p = sizeof ROW_DOMAIN;
    if (n < p + 4) return OV_BAD_ROW;
    uint32_t skip = ((uint32_t)e[p] << 24) | ((uint32_t)e[p + 1] << 16) |
                    ((uint32_t)e[p + 2] << 8) | e[p + 3];
    p += 4 + (size_t)skip;
    if (n < p + 4) return OV_BAD_ROW;
    uint32_t columns = ((uint32_t)e[p] << 24) | ((uint32_t)e[p + 1] << 16) |
                       ((uint32_t)e[p + 2] << 8) | e[p + 3];
    if (columns == 0 || columns > MAX_COLUMNS) return OV_BAD_ROW;
    if (!area_offsets_ov(o, (size_t)columns + 1)) return OV_NO_MEMORY;
    if (!ov_element_columns(e, n, columns, o->at)) return OV_BAD_ROW;
    size_t key_len = 0;
    for (uint32_t j = 0; j < nkey; j++) {
      if (key_cols[j] >= columns) return OV_BAD_ROW;
      key_len += o->at[key_cols[j] + 1] - o->at[key_cols[j]];
    }
    if (key_len > 0xffffffffu) return OV_BAD_ROW;
    if (!ov_grow((void **)&o->key, &o->key_capacity, key_len, 1, 256)) return OV_NO_MEMORY;
    size_t q = 0;
    for (uint32_t j = 0; j < nkey; j++) {
      size_t from = o->at[key_cols[j]], len = o->at[key_cols[j] + 1] - from;
      memcpy(o->key + q, e + from, len);
      q += len;
    }
    int put = overlay_put(o, table, o->key, (uint32_t)key_len, e, (uint32_t)n, 0);
    if (put <= 0) return put < 0 ? OV_TOO_LARGE : OV_NO_MEMORY;
  }
  return 0;
}

/*
 * Walks changeset b[0..end) (see the top of this file): the overlay follows its changes to the
 * followed tables, and the UPDATEs at positions[0..n) (header and record offset pairs, in
 * order) add their lanes to target (through the area and the level's accumulate). Called after
 * overlay_missing (and overlay_preload) for the same changeset. 0, or one of the OV_ results; the
 * overlay is then to be cleared (the walk is logged: overlay_undo).
 */
static int64_t overlay_walk(Overlay *o, ElementArea *a, AccumulateFn accumulate, const uint8_t *b,
                            size_t end, const uint32_t *positions, size_t n, uint8_t *target) {
  size_t p = 0, next = 1;
  uint32_t columns = 0, table = 0, name_len = 0;
  const uint8_t *pk = NULL, *name = NULL;
  int seen = 0, put = 1;
  int64_t result = 0;
  o->undo_valid = 1;
  a->count = 0;
  a->used = 0;
  while (p < end) {
    uint8_t op = b[p];
    if (op == TABLE_CHANGESET) {
      if (!read_table_header(b, end, &p, &columns, &pk, &name, &name_len)) goto malformed;
      if (!ov_key_order(o, pk, columns)) goto no_memory;
      table = overlay_table(o, name, name_len);
      seen = 1;
      continue;
    }
    if (!seen) goto malformed;
    size_t start = p;
    if (op != OP_INSERT && op != OP_DELETE && op != OP_UPDATE) goto malformed;
    if (!read_indirect(b, end, &p)) goto malformed;
    int resolving = next < n && positions[next] == start;
    if (resolving) {
      if (op != OP_UPDATE) {
        result = OV_BAD_POSITION;
        goto done;
      }
      next += 2;
    }
    if (!area_offsets_ov(o, 3 * (size_t)columns + 1)) goto no_memory;
    size_t *old_at = o->at, *new_at = o->at + columns, *base_cols = o->at + 2 * (size_t)columns;
    int complete;
    if (!ov_record(b, end, &p, columns, old_at, op == OP_UPDATE, &complete)) goto malformed;
    if (op == OP_UPDATE && !ov_record(b, end, &p, columns, new_at, 1, NULL)) goto malformed;
    if (table == 0) continue;
    int64_t key_len = ov_key(o, b, end, old_at);
    if (key_len < 0) goto no_memory;
    if (key_len == 0) goto malformed;
    if (op == OP_DELETE) {
      if (overlay_put(o, table, o->key, (uint32_t)key_len, NULL, 0, 1) == 0) goto no_memory;
      continue;
    }
    int64_t size;
    if (op == OP_INSERT) {
      size = ov_build(o, b, end, old_at, NULL, NULL, NULL, columns, name, name_len);
      if (size < 0) goto no_memory;
      if (size == 0) goto malformed;
      put = overlay_put(o, table, o->key, (uint32_t)key_len, o->row, (uint32_t)size, 1);
      if (put <= 0) goto put_failed;
      continue;
    }
    const uint8_t *base = NULL;
    if (!complete) {
      const OvEntry *e = overlay_get(o, table, o->key, (uint32_t)key_len);
      if (e == NULL) {
        result = OV_ROW_MISSING;
        goto done;
      }
      if (e->elem_off == OV_DELETED) {
        result = OV_ROW_DELETED;
        goto done;
      }
      base = o->elems + e->elem_off;
      if (!ov_element_columns(base, e->elem_len, columns, base_cols)) {
        result = OV_BAD_ROW;
        goto done;
      }
    }
    if (resolving) {
      /* the old row: the UPDATE's old values where it has them, the row's elsewhere */
      size = ov_build(o, b, end, old_at, NULL, base, base_cols, columns, name, name_len);
      if (size < 0) goto no_memory;
      if (size == 0) goto malformed;
      if (!area_reserve(a, accumulate, target, (size_t)size)) goto no_memory;
      memcpy(a->bytes + a->used, o->row, (size_t)size);
      a->descriptors[2 * a->count] = (uint32_t)a->used;
      a->descriptors[2 * a->count + 1] = (uint32_t)size | 0x80000000u;
      a->count++;
      a->used += (size_t)size;
    }
    /* the new row: its new values, then its old ones (the key), then the row's */
    size = ov_build(o, b, end, new_at, old_at, base, base_cols, columns, name, name_len);
    if (size < 0) goto no_memory;
    if (size == 0) goto malformed;
    if (resolving) {
      if (!area_reserve(a, accumulate, target, (size_t)size)) goto no_memory;
      memcpy(a->bytes + a->used, o->row, (size_t)size);
      a->descriptors[2 * a->count] = (uint32_t)a->used;
      a->descriptors[2 * a->count + 1] = (uint32_t)size;
      a->count++;
      a->used += (size_t)size;
    }
    put = overlay_put(o, table, o->key, (uint32_t)key_len, o->row, (uint32_t)size, 1);
    if (put <= 0) goto put_failed;
  }
  if (next < n) {
    result = OV_BAD_POSITION;
    goto done;
  }
  if (target != NULL) area_flush(a, accumulate, target);
  goto done;
put_failed:
  result = put < 0 ? OV_TOO_LARGE : OV_NO_MEMORY;
  goto done;
malformed:
  result = OV_MALFORMED;
  goto done;
no_memory:
  result = OV_NO_MEMORY;
done:
  area_reset(a);
  return result;
}
