/*
** ann_csv.c: the CSV reader.  The file is read into one buffer
** (ann_file_slurp: gzip undone in memory) and parsed in place: cells are cut by
** writing NULs into the buffer, quoted cells are unescaped where they lie,
** and numbers go through strtod straight from the buffer, so no cell costs
** an allocation.
*/
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ann_impl.h"

/* ---- records ------------------------------------------------------------ */

typedef struct Cell {
  char *s;          /* NUL-terminated text, inside the buffer */
  long line;        /* where the cell starts */
} Cell;

#define CSV_MAX_FIELDS ((int64_t)1 << 20)

typedef struct Csv {
  const char *path;
  char *p, *end;    /* cursor; *end is a NUL */
  long line;        /* 1-based line of the cursor */
  long recline;     /* line where the current record starts */
  char delim;
  Cell *cells;      /* the current record, reused across records */
  int ncells, cellcap;
  int64_t max_elements;   /* bounds the cells of a record and the rows */
} Csv;

/* spaces and tabs around cells are dropped, unless one is the delimiter */
static int isblankc(const Csv *c, char ch) {
  return (ch == ' ' || ch == '\t') && ch != c->delim;
}

static int iseol(char ch) { return ch == '\n' || ch == '\r'; }

static void skip_blank_lines(Csv *c) {
  char *p = c->p, *q;
  while (p < c->end) {
    for (q = p; q < c->end && isblankc(c, *q); q++) ;
    if (q >= c->end) p = q;
    else if (*q == '\n') { c->line++; p = q + 1; }
    else if (*q == '\r') { c->line++; p = q + 1 + (q[1] == '\n'); }
    else break;
  }
  c->p = p;
}

/* a quoted cell at p (on the quote): unescapes "" in place over the quote
** and returns the end of the text, or NULL if the quote never closes */
static char *quoted(Csv *c, char *p, char **after) {
  char *w = p++;
  for (;;) {
    if (p >= c->end) return NULL;
    if (*p == '"') {
      if (p[1] != '"') break;
      *w++ = '"';
      p += 2;
    } else {
      if (*p == '\n' || (*p == '\r' && p[1] != '\n')) c->line++;
      *w++ = *p++;
    }
  }
  *after = p + 1;
  return w;
}

/* the next record into c->cells: 1, 0 at the end of the file, -1 error */
static int read_record(Csv *c) {
  skip_blank_lines(c);
  if (c->p >= c->end) return 0;
  c->recline = c->line;
  c->ncells = 0;
  for (;;) {
    char *p = c->p, *s, *e, term;
    long line0 = c->line;
    if (c->ncells == c->cellcap) {
      /* a line of 2^27 fields is refused at the limit, before its cells
      ** (16 bytes each) are: at most max_elements + 1 (the label), and at
      ** most 2^20 */
      int64_t most = c->max_elements < CSV_MAX_FIELDS ? c->max_elements + 1
                                                      : CSV_MAX_FIELDS;
      int ncap = c->cellcap ? c->cellcap * 2 : 64;
      if (ncap > most) ncap = (int)most;
      if (c->ncells >= ncap)
        return ann_seterror("%s:%ld: more than %lld fields in a line (%s)",
                            c->path, c->recline, (long long)most,
                            most == CSV_MAX_FIELDS ? "annlua reads at most "
                            "2^20 columns" : "the max_elements limit");
      Cell *nc = ncap > c->cellcap ? ann_realloc(c->cells, ncap * sizeof *nc)
                                   : NULL;
      if (nc == NULL)
        return ann_seterror("%s:%ld: out of memory (%d fields)", c->path,
                            c->recline, c->cellcap);
      c->cells = nc; c->cellcap = ncap;
    }
    while (p < c->end && isblankc(c, *p)) p++;
    if (p < c->end && *p == '"') {
      s = p;
      e = quoted(c, p, &p);
      if (e == NULL)
        return ann_seterror("%s:%ld:%d: unterminated quoted field", c->path,
                            line0, c->ncells + 1);
      while (p < c->end && isblankc(c, *p)) p++;
      if (p < c->end && *p != c->delim && !iseol(*p))
        return ann_seterror("%s:%ld:%d: unexpected '%c' after a closing "
                            "quote", c->path, c->line, c->ncells + 1, *p);
    } else {
      for (s = p; p < c->end && *p != c->delim && !iseol(*p); p++) ;
      for (e = p; e > s && isblankc(c, e[-1]); e--) ;
    }
    term = p < c->end ? *p : '\0';   /* *e = 0 below may overwrite it */
    *e = '\0';
    c->cells[c->ncells].s = s;
    c->cells[c->ncells].line = line0;
    c->ncells++;
    if (p < c->end && term == c->delim) { c->p = p + 1; continue; }
    if (p < c->end) {                /* \n, \r\n or \r */
      p += 1 + (term == '\r' && p[1] == '\n');
      c->line++;
    }
    c->p = p;
    return 1;
  }
}

/* ---- cells -------------------------------------------------------------- */

static int tonumber(const char *s, double *v) {
  char *e;
  *v = strtod(s, &e);
  if (e == s) return 0;
  while (*e == ' ' || *e == '\t') e++;
  return *e == '\0';
}

static int cell_float(const Csv *c, int j, float *out) {
  const Cell *cl = &c->cells[j];
  double v;
  if (cl->s[0] == '\0')
    return ann_seterror("%s:%ld:%d: empty cell, expected a number", c->path,
                        cl->line, j + 1);
  if (!tonumber(cl->s, &v))
    return ann_seterror("%s:%ld:%d: \"%.40s%s\" is not a number", c->path,
                        cl->line, j + 1, cl->s,
                        strlen(cl->s) > 40 ? "..." : "");
  *out = (float)v;
  if (isinf(*out) && !isinf(v))
    return ann_seterror("%s:%ld:%d: %s is out of float32 range", c->path,
                        cl->line, j + 1, cl->s);
  return 0;
}

/* ---- classes ------------------------------------------------------------ */

typedef struct Key { double v; const char *s; size_t row; } Key;

static int cmp_num(const void *a, const void *b) {
  double x = ((const Key *)a)->v, y = ((const Key *)b)->v;
  return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(((const Key *)a)->s, ((const Key *)b)->s);
}

static int same(const Key *a, const Key *b, int numeric) {
  return numeric ? a->v == b->v : strcmp(a->s, b->s) == 0;
}

/* labels (texts, one per row) -> classes 1..k in y, sorted numerically if
** all are finite numbers, else bytewise; names and values into out */
static int make_classes(const char *path, char **labs, size_t n, float *y,
                        ann_Csv *out) {
  Key *k = ann_malloc((n ? n : 1) * sizeof *k);
  size_t i, nk = 0, bytes = 0;
  int numeric = 1;
  char *text;
  if (k == NULL) return ann_nomem(path);
  for (i = 0; i < n; i++) {
    k[i].s = labs[i];
    k[i].row = i;
    if (numeric && !(tonumber(labs[i], &k[i].v) && isfinite(k[i].v)))
      numeric = 0;
  }
  qsort(k, n, sizeof *k, numeric ? cmp_num : cmp_str);
  for (i = 0; i < n; i++) {
    if (i == 0 || !same(&k[i], &k[i - 1], numeric)) {
      nk++;
      bytes += strlen(k[i].s) + 1;
    }
    y[k[i].row] = (float)nk;
  }
  if (nk > (1u << 24)) {
    ann_free(k);
    return ann_seterror("%s: %zu classes (at most 2^24)", path, nk);
  }
  /* one block: the pointers, then the texts */
  out->names = ann_malloc(nk * sizeof(char *) + bytes + 1);
  out->values = numeric ? ann_malloc((nk ? nk : 1) * sizeof(double)) : NULL;
  if (out->names == NULL || (numeric && out->values == NULL)) {
    ann_free(k);
    return ann_nomem(path);
  }
  text = (char *)(out->names + nk);
  for (i = 0, nk = 0; i < n; i++)
    if (i == 0 || !same(&k[i], &k[i - 1], numeric)) {
      size_t len = strlen(k[i].s) + 1;
      memcpy(text, k[i].s, len);
      out->names[nk] = text;
      if (numeric) out->values[nk] = k[i].v;
      text += len;
      nk++;
    }
  out->nclasses = (int)nk;
  out->numeric = numeric;
  ann_free(k);
  return 0;
}

/* ---- the reader --------------------------------------------------------- */

void ann_csv_defaults(ann_CsvOpts *o) {
  memset(o, 0, sizeof *o);
  o->header = -1;
  o->has_label = 1;
  o->label = -1;
  o->delimiter = ',';
}

void ann_csv_free(ann_Csv *c) {
  if (c == NULL) return;
  ann_release(c->x);
  ann_release(c->y);
  ann_free(c->values);
  ann_free(c->names);
  memset(c, 0, sizeof *c);
}

/* the label column of the first record, or -1 for none; -2 on error */
static int find_label(Csv *c, const ann_CsvOpts *o, int *hdr) {
  int j, n = c->ncells;
  if (!o->has_label) return -1;
  if (o->label_name) {
    if (*hdr == 0)
      return ann_seterror("%s: label column \"%s\" is given by name, but "
                          "the file is read without a header", c->path,
                          o->label_name) - 1;
    *hdr = 1;
    for (j = 0; j < n; j++)
      if (strcmp(c->cells[j].s, o->label_name) == 0) return j;
    return ann_seterror("%s:%ld: no column named \"%s\" in the header",
                        c->path, c->recline, o->label_name) - 1;
  }
  j = o->label < 0 ? n + o->label : o->label;
  if (j < 0 || j >= n) {
    if (o->label >= 0)
      ann_seterror("%s:%ld: label column %d out of range (%d columns)",
                   c->path, c->recline, o->label + 1, n);
    else
      ann_seterror("%s:%ld: label column %d from the end out of range "
                   "(%d columns)", c->path, c->recline, -o->label, n);
    return -2;
  }
  return j;
}

/* a header is a first line with a cell, other than the label, that is not
** a number */
static int detect_header(const Csv *c, int lab) {
  double v;
  int j;
  for (j = 0; j < c->ncells; j++)
    if (j != lab && !tonumber(c->cells[j].s, &v)) return 1;
  return 0;
}

typedef struct Rows {
  float *x, *y;     /* n * nf features; n labels (targets) */
  char **lab;       /* n label texts (classes) */
  size_t n, cap;
} Rows;

/* rows grow with the data: the first block is about 64 KB of features
** (256 rows of a narrow file, one row of a 2^14-column one), then doubles */
static int grow_rows(Rows *r, int nf, int classes, const char *path) {
  size_t w = nf ? (size_t)nf : 1;
  size_t ncap = r->cap ? r->cap * 2 : w < 64 ? 256 : w < 16384 ? 16384 / w : 1;
  void *p;
  if (ncap > SIZE_MAX / sizeof(float) / w)
    return ann_seterror("%s: too many rows", path);
  if ((p = ann_realloc(r->x, ncap * w * sizeof(float))) == NULL) goto nomem;
  r->x = p;
  if ((p = ann_realloc(r->y, ncap * sizeof(float))) == NULL) goto nomem;
  r->y = p;
  if (classes) {
    if ((p = ann_realloc(r->lab, ncap * sizeof(char *))) == NULL) goto nomem;
    r->lab = p;
  }
  r->cap = ncap;
  return 0;
nomem:
  return ann_nomem(path);
}

/* one record into the rows */
static int add_row(Csv *c, Rows *r, int ncols, int lab, int nf, int classes) {
  float *x;
  int j, k = 0;
  if (c->ncells != ncols)
    return ann_seterror("%s:%ld: %d field%s, expected %d", c->path,
                        c->recline, c->ncells, c->ncells == 1 ? "" : "s",
                        ncols);
  if ((int64_t)(r->n + 1) * (nf ? nf : 1) > c->max_elements)
    return ann_seterror("%s:%ld: more than %lld elements (the max_elements "
                        "limit)", c->path, c->recline,
                        (long long)c->max_elements);
  if (r->n == r->cap && grow_rows(r, nf, classes, c->path) < 0) return -1;
  x = r->x + r->n * (size_t)nf;
  for (j = 0; j < ncols; j++) {
    if (j != lab) {
      if (cell_float(c, j, &x[k++]) < 0) return -1;
    } else if (classes)
      r->lab[r->n] = c->cells[j].s;
    else if (cell_float(c, j, &r->y[r->n]) < 0)
      return -1;
  }
  r->n++;
  return 0;
}

int ann_csv_read(const char *path, const ann_CsvOpts *opts, ann_Csv *out) {
  ann_CsvOpts o;
  ann_ReadOpts lim;
  Csv c;
  Rows rows;
  char *buf = NULL;
  size_t len;
  int64_t shape[2];
  int rc, ncols, lab, nf, hdr, st = -1;
  if (out == NULL) return ann_seterror("csv_read: no result struct");
  memset(out, 0, sizeof *out);
  if (path == NULL) return ann_seterror("csv_read: no path");
  if (opts) o = *opts; else ann_csv_defaults(&o);
  if (o.delimiter == 0) o.delimiter = ',';
  if (o.delimiter == '"' || iseol(o.delimiter))
    return ann_seterror("csv_read: %s: bad delimiter (byte %d)", path,
                        (unsigned char)o.delimiter);
  if (o.header < -1 || o.header > 1)
    return ann_seterror("csv_read: %s: header = %d (1, 0 or -1)", path,
                        o.header);
  lim = ann_read_limits(&o.limits);
  if (ann_file_slurp(path, 1, lim.max_bytes, &buf, &len) < 0) return -1;
  memset(&c, 0, sizeof c);
  memset(&rows, 0, sizeof rows);
  c.max_elements = lim.max_elements;
  c.path = path;
  c.p = buf;
  c.end = buf + len;
  c.line = 1;
  c.delim = o.delimiter;
  if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) c.p += 3;  /* BOM */
  if ((rc = read_record(&c)) <= 0) {
    if (rc == 0) ann_seterror("%s: empty file (no rows)", path);
    goto done;
  }
  ncols = c.ncells;
  hdr = o.header;
  if ((lab = find_label(&c, &o, &hdr)) == -2) goto done;
  if (hdr < 0) hdr = detect_header(&c, lab);
  nf = ncols - (lab >= 0);
  if (hdr) {
    long hline = c.recline;
    if ((rc = read_record(&c)) <= 0) {
      if (rc == 0)
        ann_seterror("%s: no data rows after the header (line %ld)", path,
                     hline);
      goto done;
    }
  }
  do {
    if (add_row(&c, &rows, ncols, lab, nf, lab >= 0 && o.classes) < 0)
      goto done;
    if ((rows.n & 0xffff) == 0 && ann_poll(path) < 0) goto done;
  } while ((rc = read_record(&c)) > 0);
  if (rc < 0) goto done;
  shape[0] = (int64_t)rows.n;
  shape[1] = nf;
  if ((out->x = ann_from_data(rows.x, 2, shape)) == NULL) goto done;
  if (lab >= 0) {
    if (o.classes && make_classes(path, rows.lab, rows.n, rows.y, out) < 0)
      goto done;
    if ((out->y = ann_from_data(rows.y, 1, shape)) == NULL) goto done;
  }
  out->header = hdr;
  st = 0;
done:
  if (st < 0) ann_csv_free(out);
  ann_free(rows.x);
  ann_free(rows.y);
  ann_free(rows.lab);
  ann_free(c.cells);
  ann_free(buf);
  return st;
}
