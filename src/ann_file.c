/*
** ann_file.c: the container of annlua model files (docs/file-format.md).
**
**   offset  size  field
**   0       8     magic 89 41 4E 4E 0D 0A 1A 0A  ("\x89ANN\r\n\x1a\n")
**   8       4     u32 format version (1)
**   12      8     u64 L, the length of the body
**   20      L     body: typed records (decoded by ann_rec.c)
**   20+L    8     u64 L again
**   28+L    4     u32 CRC-32 (zlib's) of bytes 0 .. 20+L
**
** All numbers little-endian, whatever the host.  The magic catches text-
** mode mangling as PNG's does: the high byte 0x89 7-bit transfers, \r\n
** a CRLF -> LF translation, \n alone LF -> CRLF, and 0x1A stops `type`.
**
** Writing goes to .<name>.ann-tmp-<pid> beside path (name: path's last
** component), then flush, fsync,
** rename over path and fsync of the directory: a crash at any moment
** leaves either the old file or the new one, never a mix.  Reading takes
** the whole file (size-limited), checks magic, version, size and CRC
** before anything is decoded, and then hands out bounds-checked pieces.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ann_impl.h"

static const unsigned char magic[8] = {0x89, 'A', 'N', 'N', '\r', '\n',
                                       0x1A, '\n'};
#define HEADER 20         /* magic, version, length */
#define TRAILER 12        /* length, CRC */

uint32_t ann_crc32(uint32_t crc, const void *p, size_t n) {
  const unsigned char *b = p;
  while (n > 0) {                 /* zlib takes uInt lengths */
    uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
    crc = (uint32_t)crc32(crc, b, k);
    b += k; n -= k;
  }
  return crc;
}

static int little_endian(void) {
  const uint16_t x = 1;
  return *(const unsigned char *)&x == 1;
}

static void put_u32(unsigned char *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *b, uint64_t v) {
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *b) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

static uint64_t get_u64(const unsigned char *b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

static void swap32(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    u = (u >> 24) | ((u >> 8) & 0xFF00u) | ((u << 8) & 0xFF0000u) | (u << 24);
    memcpy(&x[i], &u, 4);
  }
}

/* ---- writing ------------------------------------------------------------ */

struct ann_Writer {
  FILE *f;
  char *path, *tmp;
  uint64_t len;             /* body bytes so far */
  uint32_t crc;             /* of the body so far */
  int err;                  /* first errno seen; reported at commit */
  int io;                   /* ANN_FILES_IO: the file is made in mem, */
  char *mem;                /* then written through the host's io at */
  size_t mlen, mcap;        /* commit (the header needs the length) */
};

static char *dupstr(const char *s, size_t extra) {
  size_t n = strlen(s);
  char *d = ann_malloc(n + extra + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

static void writer_free(ann_Writer *w) {
  ann_free(w->mem);
  ann_free(w->path);
  ann_free(w->tmp);
  ann_free(w);
}

/* path's directory (with its slash, or "") and last component */
static size_t dirlen(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? (size_t)(slash - path) + 1 : 0;
}

/* the pid in name if it is one of path's temp files,
** .<base>.ann-tmp-<pid>[-<k>]; else 0 */
static long temp_pid(const char *name, const char *base) {
  size_t n = strlen(base);
  long pid = 0;
  if (name[0] != '.' || strncmp(name + 1, base, n) != 0
      || strncmp(name + 1 + n, ".ann-tmp-", 9) != 0)
    return 0;
  name += n + 10;
  if (*name < '1' || *name > '9') return 0;
  for (; *name >= '0' && *name <= '9'; name++) {
    if (pid > 99999999) return 0;
    pid = pid * 10 + (*name - '0');
  }
  if (*name == '-') {
    if (!(*++name >= '0' && *name <= '9')) return 0;
    while (*name >= '0' && *name <= '9') name++;
  }
  return *name == '\0' ? pid : 0;
}

/* Removes the temp files of path left by processes that are gone (killed
** mid-save): a pid that kill(pid, 0) says does not exist.  Best effort:
** a live process that reused the pid keeps its file (it may be saving);
** processes in other pid namespaces sharing the directory are not seen. */
static void clean_stale(const char *path) {
  size_t dl = dirlen(path);
  const char *base = path + dl;
  char *dir = dupstr(path, 2), *full;
  DIR *d;
  struct dirent *e;
  if (dir == NULL) return;
  if (dl == 0) strcpy(dir, ".");
  else dir[dl] = '\0';
  d = opendir(dir);
  ann_free(dir);
  if (d == NULL) return;
  while ((e = readdir(d)) != NULL) {
    long pid = temp_pid(e->d_name, base);
    if (pid == 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    if ((full = ann_malloc(dl + strlen(e->d_name) + 1)) == NULL) break;
    memcpy(full, path, dl);
    strcpy(full + dl, e->d_name);
    (void)unlink(full);
    ann_free(full);
  }
  closedir(d);
}

/* the temp file, created exclusively: .<base>.ann-tmp-<pid>, or
** -<pid>-<k> if another of ours (a stale one of a dead process with our
** pid, a save of the same path in another thread) is in the way */
int ann_file_temp(const char *path, char **tmp) {
  static _Atomic unsigned counter;
  size_t dl = dirlen(path);
  *tmp = NULL;
  if ((*tmp = dupstr(path, 40)) == NULL) { errno = ENOMEM; return -1; }
  clean_stale(path);
  for (int k = 0; k < 100; k++) {
    unsigned c = k ? ++counter : 0;
    int fd;
    if (c == 0) sprintf(*tmp + dl, ".%s.ann-tmp-%ld", path + dl,
                        (long)getpid());
    else sprintf(*tmp + dl, ".%s.ann-tmp-%ld-%u", path + dl,
                 (long)getpid(), c);
    fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST) break;
  }
  if (errno == EEXIST || errno == 0) errno = EEXIST;
  { int e = errno; ann_free(*tmp); *tmp = NULL; errno = e; }
  return -1;
}

/* appends to the file made in memory */
static int mem_put(ann_Writer *w, const void *p, size_t n) {
  if (w->mcap - w->mlen < n) {
    size_t c = w->mcap ? w->mcap : 4096;
    char *m;
    while (c - w->mlen < n) {
      if (c > SIZE_MAX / 4) return ann_seterror("save: %s: too large", w->path);
      c *= 2;
    }
    if ((m = ann_realloc(w->mem, c)) == NULL) return ann_nomem("save");
    w->mem = m;
    w->mcap = c;
  }
  memcpy(w->mem + w->mlen, p, n);
  w->mlen += n;
  return 0;
}

/* the file made in memory, out through the host's io */
static int io_commit(ann_Writer *w, const unsigned char *h,
                     const unsigned char *tr) {
  FILE *f;
  int bad;
  if (mem_put(w, tr, TRAILER) < 0) return -1;
  memcpy(w->mem, h, HEADER);
  if ((f = ann_file_wopen(w->path)) == NULL) return -1;
  bad = fwrite(w->mem, 1, w->mlen, f) != w->mlen;
  bad |= fclose(f) != 0;
  if (bad) return ann_seterror("save: %s: write error (reported by the "
                               "host)", w->path);
  return 0;
}

ann_Writer *ann_writer_open(const char *path) {
  unsigned char h[HEADER];
  struct stat st;
  ann_Writer *w;
  int fd;
  if (path == NULL || *path == '\0')
    return ann_seterror("save: empty file name"), NULL;
  if (ann_file_check(path) < 0) return NULL;
  w = ann_calloc(1, sizeof *w);
  if (w == NULL || (w->path = dupstr(path, 0)) == NULL) {
    if (w) writer_free(w);
    return ann_nomem("save"), NULL;
  }
  if (ann_file_io()) {
    w->io = 1;
    memset(h, 0, HEADER);         /* filled in at commit */
    w->crc = (uint32_t)crc32(0, NULL, 0);
    if (mem_put(w, h, HEADER) < 0) { writer_free(w); return NULL; }
    return w;
  }
  fd = ann_file_temp(path, &w->tmp);
  if (fd < 0) {
    ann_seterror("save: %s: %s (creating its temporary file)", path,
                 strerror(errno));
    writer_free(w);
    return NULL;
  }
  /* keep the permissions of the file we replace */
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
    (void)fchmod(fd, st.st_mode & 07777);
  w->f = fdopen(fd, "wb");
  if (w->f == NULL) {
    ann_seterror("save: %s: %s", w->tmp, strerror(errno));
    close(fd);
    unlink(w->tmp);
    writer_free(w);
    return NULL;
  }
  memcpy(h, magic, 8);
  put_u32(h + 8, ANN_FILE_VERSION);
  put_u64(h + 12, 0);             /* the length, patched at commit */
  if (fwrite(h, 1, HEADER, w->f) != HEADER) w->err = errno ? errno : EIO;
  w->crc = (uint32_t)crc32(0, NULL, 0);
  return w;
}

int ann_writer_bytes(ann_Writer *w, const void *p, size_t n) {
  if (w != NULL && w->io) {
    if (mem_put(w, p, n) < 0) return -1;
    w->crc = ann_crc32(w->crc, p, n);
    w->len += n;
    return 0;
  }
  if (w == NULL || w->f == NULL)
    return ann_seterror("save: write to a closed file");
  if (w->err) return 0;           /* reported once, at commit */
  if (n > 0 && fwrite(p, 1, n, w->f) != n) {
    w->err = errno ? errno : EIO;
    return 0;
  }
  w->crc = ann_crc32(w->crc, p, n);
  w->len += n;
  return 0;
}

/* a run of n floats, strided by step, converted to little-endian */
static int write_run(ann_Writer *w, const float *x, int64_t n, int64_t step,
                     float *buf, int64_t cap) {
  if (step == 1 && little_endian())
    return ann_writer_bytes(w, x, (size_t)n * 4);
  while (n > 0) {
    int64_t k = n < cap ? n : cap;
    for (int64_t i = 0; i < k; i++) buf[i] = x[i * step];
    if (!little_endian()) swap32(buf, k);
    if (ann_writer_bytes(w, buf, (size_t)k * 4) < 0) return -1;
    x += k * step; n -= k;
  }
  return 0;
}

int ann_writer_tensor(ann_Writer *w, const ann_Tensor *t) {
  unsigned char h[1 + 8 * ANN_MAXDIM];
  enum { CAP = 4096 };
  float *buf;
  ann_Loop l;
  const int64_t *strides[1];
  int i, rc = 0;
  if (t == NULL) return ann_seterror("save: no tensor");
  h[0] = (unsigned char)t->ndim;
  for (i = 0; i < t->ndim; i++) put_u64(h + 1 + 8 * i, (uint64_t)t->shape[i]);
  if (ann_writer_bytes(w, h, 1 + 8 * (size_t)t->ndim) < 0) return -1;
  if (ann_numel(t) == 0) return 0;
  buf = ann_malloc(CAP * sizeof *buf);
  if (buf == NULL) return ann_nomem("save");
  strides[0] = t->stride;
  ann_loop_init(&l, 1, t->ndim, t->shape, strides);
  do {
    rc = write_run(w, ann_data(t) + l.off[0], l.len, l.step[0], buf, CAP);
  } while (rc == 0 && ann_loop_next(&l));
  ann_free(buf);
  return rc;
}

void ann_writer_abort(ann_Writer *w) {
  if (w == NULL) return;
  if (w->f) {
    fclose(w->f);
    unlink(w->tmp);
  }
  writer_free(w);
}

/* fsync of the directory holding path, so that the rename is durable */
static int sync_dir(const char *path) {
  char *dir = dupstr(path, 0);
  char *slash;
  int fd, rc;
  if (dir == NULL) return -1;
  slash = strrchr(dir, '/');
  if (slash == NULL) strcpy(dir, ".");
  else if (slash == dir) dir[1] = '\0';   /* "/file" */
  else *slash = '\0';
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ann_free(dir);
  if (fd < 0) return -1;
  rc = fsync(fd);
  close(fd);
  return rc;
}

int ann_writer_commit(ann_Writer *w) {
  unsigned char h[HEADER], tr[TRAILER];
  uint32_t crc;
  FILE *f;
  int e;
  if (w == NULL || (w->f == NULL && !w->io))
    return ann_seterror("save: commit of a closed file");
  /* the CRC runs over header and body: the header's is combined with the
  ** body's, which was computed as it streamed out */
  memcpy(h, magic, 8);
  put_u32(h + 8, ANN_FILE_VERSION);
  put_u64(h + 12, w->len);
  crc = (uint32_t)crc32(0, h, HEADER);
  crc = (uint32_t)crc32_combine(crc, w->crc, (z_off_t)w->len);
  put_u64(tr, w->len);
  put_u32(tr + 8, crc);
  if (w->io) {
    e = io_commit(w, h, tr);
    writer_free(w);
    return e;
  }
  f = w->f;
  if (!w->err && fwrite(tr, 1, TRAILER, f) != TRAILER)
    w->err = errno ? errno : EIO;
  if (!w->err && (fseek(f, 12, SEEK_SET) != 0
                  || fwrite(h + 12, 1, 8, f) != 8 || fflush(f) != 0
                  || fsync(fileno(f)) != 0))
    w->err = errno ? errno : EIO;
  w->f = NULL;
  if (fclose(f) != 0 && !w->err) w->err = errno ? errno : EIO;
  if (!w->err && rename(w->tmp, w->path) != 0) w->err = errno ? errno : EIO;
  e = w->err;
  if (e) {
    unlink(w->tmp);
    ann_seterror("save: %s: %s", w->path, strerror(e));
    writer_free(w);
    return -1;
  }
  (void)sync_dir(w->path);        /* the data is safe; durability of the
                                     name is best effort */
  writer_free(w);
  return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* whole file into r->buf; at most max bytes */
static int read_all(ann_Reader *r, const char *path, size_t max) {
  struct stat st;
  size_t got = 0;
  int fd;
  if (ann_file_check(path) < 0) return -1;
  if (ann_file_io()) {                  /* the host's files */
    char *b;
    if (ann_file_slurp(path, 0, max, &b, &r->size) < 0) return -1;
    r->buf = (unsigned char *)b;
    return 0;
  }
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ann_seterror("%s: %s", path, strerror(errno));
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return ann_seterror("%s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {           /* no directories, FIFOs, ttys */
    close(fd);
    return ann_seterror("%s: %s", path, S_ISDIR(st.st_mode)
                        ? "is a directory" : "not a regular file");
  }
  if ((uint64_t)st.st_size > max) {
    close(fd);
    return ann_seterror("%s: %lld bytes, more than %llu (the max_bytes "
                        "limit)", path, (long long)st.st_size,
                        (unsigned long long)max);
  }
  r->buf = ann_malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
  if (r->buf == NULL) {
    close(fd);
    return ann_nomem(path);
  }
  while (got < (size_t)st.st_size) {          /* the file may shrink */
    ssize_t k = read(fd, r->buf + got, (size_t)st.st_size - got);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      int e = errno;
      close(fd);
      return ann_seterror("%s: %s", path, strerror(e));
    }
    if (k == 0) break;
    got += (size_t)k;
  }
  close(fd);
  r->size = got;
  return 0;
}

/* magic, version, size, CRC; in that order, so that each message says
** what is really wrong */
static int check_container(ann_Reader *r, const char *path) {
  const unsigned char *b = r->buf;
  size_t n = r->size, m = n < 8 ? n : 8;
  uint64_t len, need;
  uint32_t crc, stored;
  if (memcmp(b, magic, m) != 0)
    return ann_seterror("%s: not an annlua model file (bad magic)", path);
  if (n < HEADER)
    return ann_seterror("%s: truncated: %zu bytes, shorter than the "
                        "%d-byte header", path, n, HEADER);
  r->version = get_u32(b + 8);
  if (r->version > ANN_FILE_VERSION)
    return ann_seterror("%s: format version %lu is newer than this annlua "
                        "reads (%d)", path, (unsigned long)r->version,
                        ANN_FILE_VERSION);
  if (r->version == 0)
    return ann_seterror("%s: corrupted: format version 0", path);
  len = get_u64(b + 12);
  if (len > UINT64_MAX - HEADER - TRAILER || len + HEADER + TRAILER > n) {
    if (len > UINT64_MAX - HEADER - TRAILER)
      return ann_seterror("%s: corrupted: body length %llu", path,
                          (unsigned long long)len);
    return ann_seterror("%s: truncated: %zu bytes, expected %llu", path, n,
                        (unsigned long long)(len + HEADER + TRAILER));
  }
  need = len + HEADER + TRAILER;
  if (need < n)
    return ann_seterror("%s: corrupted: %llu extra bytes after the end "
                        "(%zu bytes, expected %llu)", path,
                        (unsigned long long)(n - need), n,
                        (unsigned long long)need);
  if (get_u64(b + HEADER + len) != len)
    return ann_seterror("%s: corrupted: trailer length %llu ~= header "
                        "length %llu", path,
                        (unsigned long long)get_u64(b + HEADER + len),
                        (unsigned long long)len);
  stored = get_u32(b + HEADER + len + 8);
  crc = ann_crc32((uint32_t)crc32(0, NULL, 0), b, HEADER + (size_t)len);
  if (crc != stored)
    return ann_seterror("%s: corrupted: CRC-32 mismatch (file says %08lx, "
                        "contents give %08lx)", path, (unsigned long)stored,
                        (unsigned long)crc);
  r->pos = HEADER;
  r->end = HEADER + (size_t)len;
  return 0;
}

int ann_reader_open(ann_Reader *r, const char *path, size_t max_bytes) {
  memset(r, 0, sizeof *r);
  if (path == NULL) return ann_seterror("load: no file name");
  if (read_all(r, path, max_bytes) < 0 || check_container(r, path) < 0) {
    ann_reader_close(r);
    return -1;
  }
  r->path = dupstr(path, 0);
  if (r->path == NULL) {
    ann_reader_close(r);
    return ann_nomem(path);
  }
  return 0;
}

/* the same checks on a buffer the caller keeps (not copied, not freed) */
int ann_reader_open_mem(ann_Reader *r, const void *buf, size_t len,
                        const char *name) {
  static const unsigned char none[1];
  memset(r, 0, sizeof *r);
  if (name == NULL) name = "(buffer)";
  if (buf == NULL && len > 0) return ann_seterror("%s: no buffer", name);
  r->buf = (unsigned char *)(buf ? buf : none);  /* never written to */
  r->size = len;
  r->borrowed = 1;
  if (check_container(r, name) < 0) {
    ann_reader_close(r);
    return -1;
  }
  r->path = dupstr(name, 0);
  if (r->path == NULL) {
    ann_reader_close(r);
    return ann_seterror("%s: out of memory", name);
  }
  return 0;
}

void ann_reader_close(ann_Reader *r) {
  if (!r->borrowed) ann_free(r->buf);
  ann_free(r->path);
  memset(r, 0, sizeof *r);
}

size_t ann_reader_left(const ann_Reader *r) { return r->end - r->pos; }

const void *ann_reader_take(ann_Reader *r, size_t n, const char *what) {
  const void *p;
  if (r->buf == NULL) return ann_seterror("load: read of a closed file"), NULL;
  if (n > r->end - r->pos)
    return ann_seterror("%s: bad body at byte %zu: %s needs %zu bytes, "
                        "%zu left", r->path, r->pos, what, n,
                        r->end - r->pos), NULL;
  p = r->buf + r->pos;
  r->pos += n;
  return p;
}

ann_Tensor *ann_reader_tensor(ann_Reader *r) {
  const unsigned char *b;
  int64_t shape[ANN_MAXDIM];
  uint64_t numel = 1, nz = 1;   /* nz: product of the non-zero dims */
  size_t at = r->pos;
  ann_Tensor *t;
  int i, ndim;
  if ((b = ann_reader_take(r, 1, "a tensor's rank")) == NULL) return NULL;
  ndim = b[0];
  if (ndim > ANN_MAXDIM)
    return ann_seterror("%s: bad body at byte %zu: a tensor of %d dims "
                        "(at most %d)", r->path, at, ndim, ANN_MAXDIM), NULL;
  if ((b = ann_reader_take(r, 8 * (size_t)ndim, "a tensor's shape")) == NULL)
    return NULL;
  for (i = 0; i < ndim; i++) {
    uint64_t d = get_u64(b + 8 * i);
    if (d > (uint64_t)INT64_MAX / 4 || (d > 0 && nz > (uint64_t)INT64_MAX / 4 / d))
      return ann_seterror("%s: bad body at byte %zu: a tensor's shape is "
                          "too large", r->path, at), NULL;
    shape[i] = (int64_t)d;
    if (d > 0) nz *= d;
    else numel = 0;
  }
  if (numel) numel = nz;
  /* the data must be in the file: no allocation from a lying shape */
  if ((b = ann_reader_take(r, (size_t)numel * 4, "a tensor's data")) == NULL)
    return NULL;
  t = ann_empty(ndim, shape);
  if (t == NULL) return NULL;
  memcpy(ann_data(t), b, (size_t)numel * 4);
  if (!little_endian()) swap32(ann_data(t), (int64_t)numel);
  return t;
}
