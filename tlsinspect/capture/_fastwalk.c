/* The record walk of a classic pcap file, in C: the one measured hot path that pure Python could not make fast
 * enough (see benchmarks/README.md). Optional: when this module is not built, tlsinspect.capture.files walks
 * the records in Python with the same result, and the tests check that both agree frame for frame.
 *
 * walk_pcap(handle, buf, pos, rec_len, big_endian, divisor, limit, link_type, number, stop, shard, shards)
 *
 *   Walks the records of `buf` (any buffer: the memory-mapped file, or a chunk) from offset `pos`, calling
 *   handle(number, ts, link_type, buf, start, end, orig_len, 0) for each frame, exactly as the Python loop in
 *   CaptureFile._push_pcap does, until frame number `stop` has been walked or the next record is not whole
 *   in the buffer, or its captured length is above `limit` (the Python loop then takes over: a refill, an
 *   anomaly or the end).
 *
 *   With shards > 1, a frame that the engine's fast path would take (untagged Ethernet, IPv4 without options or
 *   fragmentation, TCP with a whole header) and whose 4-tuple belongs to another shard is passed over without
 *   calling handle. The shard is tlsinspect.decode.fast.shard_of, computed on 64-bit integers: its result
 *   only depends on bits 0..59 of the intermediate value, which wrap-around arithmetic keeps exact.
 *
 *   fast_tcp and shard_of below are the native twins of tlsinspect/decode/fast.py (fast_tcp, shard_of), the one
 *   Python definition of the fast path: a change to one is made to the other, and tests/decode/test_fast.py
 *   feeds both the same good, edge and malformed frames and compares decisions, fields and shards.
 *
 *   Returns (pos, number, captured bytes walked, ts of the last frame walked or -1.0). An exception raised by
 *   handle propagates.
 *
 * Every read is bounds-checked against the buffer: a record header must lie whole inside it, a frame whole
 * inside it, and the header fields of a frame are read only when the frame has at least 54 bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static inline uint32_t rd32(const unsigned char *p, int big_endian)
{
    if (big_endian)
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | (uint32_t)p[0];
}

/* The fields of an Ethernet/IPv4/TCP frame that the engine's fast path takes: untagged Ethernet, IPv4 without
 * options or fragmentation, TCP with a whole header. Returns 0 for any other frame. Native twin of
 * tlsinspect.decode.fast.fast_tcp (the same checks in the same order; tests/decode/test_fast.py). */
struct tcp_frame {
    const unsigned char *src, *dst;
    uint32_t seq, ack;
    unsigned sport, dport, flags;
    Py_ssize_t hl, end; /* payload at [hl, end) of the frame */
};

static int fast_tcp(const unsigned char *f, Py_ssize_t size, struct tcp_frame *t)
{
    if (size < 54)
        return 0;
    if (f[12] != 0x08 || f[13] != 0x00 || f[14] != 0x45 || f[23] != 6)
        return 0;
    if ((f[20] & 0x3F) || f[21]) /* more fragments, or a fragment offset */
        return 0;
    unsigned doff = f[46];
    if (doff < 0x50)
        return 0;
    Py_ssize_t total = ((Py_ssize_t)f[16] << 8) | f[17];
    Py_ssize_t end = total ? 14 + total : size;
    if (end > size)
        end = size;
    Py_ssize_t hl = 34 + (Py_ssize_t)((doff >> 4) << 2);
    if (hl > end) /* truncated: the general decoder judges it */
        return 0;
    t->src = f + 26;
    t->dst = f + 30;
    t->sport = ((unsigned)f[34] << 8) | f[35];
    t->dport = ((unsigned)f[36] << 8) | f[37];
    t->seq = rd32(f + 38, 1);
    t->ack = rd32(f + 42, 1);
    t->flags = f[47];
    t->hl = hl;
    t->end = end;
    return 1;
}

/* tlsinspect.decode.fast.shard_of on 64-bit integers (its native twin; tests/decode/test_fast.py). */
static int shard_of(const struct tcp_frame *t, int shards)
{
    uint64_t a = rd32(t->src, 1), b = rd32(t->dst, 1), sport = t->sport, dport = t->dport;
    uint64_t h = ((a + b) * 0x9E3779B1ULL + (sport + dport) * 0x85EBCA77ULL) ^ ((sport ^ dport) << 7);
    return (int)(((h ^ (h >> 29)) & 0x7FFFFFFFULL) % (uint64_t)shards);
}

/* Hand one frame over: to `tcp` with its fields when it is a fast-path frame and `tcp` is given, else to
 * `handle`; nothing when it belongs to another shard. `ts` is a new reference, consumed. Returns -1 on error. */
static int hand_over(PyObject *handle, PyObject *tcp, PyObject *bufobj, const unsigned char *buf, long long number,
                     PyObject *ts, PyObject *lt, int link_type, Py_ssize_t start, Py_ssize_t size,
                     unsigned long orig_len, PyObject *index, int shard, int shards)
{
    struct tcp_frame t;
    int fast = link_type == 1 && fast_tcp(buf + start, size, &t);
    if (fast && shards > 1 && shard_of(&t, shards) != shard) {
        Py_DECREF(ts);
        return 0;
    }
    PyObject *r = NULL;
    if (fast && tcp != Py_None) {
        PyObject *argv[13] = {
            PyLong_FromLongLong(number),
            ts,
            PyLong_FromSsize_t(size),
            PyBytes_FromStringAndSize((const char *)t.src, 4),
            PyBytes_FromStringAndSize((const char *)t.dst, 4),
            PyLong_FromUnsignedLong(t.sport),
            PyLong_FromUnsignedLong(t.dport),
            PyLong_FromUnsignedLong(t.seq),
            PyLong_FromUnsignedLong(t.ack),
            PyLong_FromUnsignedLong(t.flags),
            bufobj,
            PyLong_FromSsize_t(start + t.hl),
            PyLong_FromSsize_t(start + t.end),
        };
        int ok = 1;
        for (int i = 0; i < 13; i++)
            ok = ok && argv[i] != NULL;
        if (ok)
            r = PyObject_Vectorcall(tcp, argv, 13, NULL);
        for (int i = 0; i < 13; i++)
            if (i != 10)
                Py_XDECREF(argv[i]);
    } else {
        PyObject *argv[8] = {
            PyLong_FromLongLong(number),
            ts,
            lt,
            bufobj,
            PyLong_FromSsize_t(start),
            PyLong_FromSsize_t(start + size),
            PyLong_FromUnsignedLong(orig_len),
            index,
        };
        if (argv[0] && argv[4] && argv[5] && argv[6])
            r = PyObject_Vectorcall(handle, argv, 8, NULL);
        Py_XDECREF(argv[0]);
        Py_DECREF(ts);
        Py_XDECREF(argv[4]);
        Py_XDECREF(argv[5]);
        Py_XDECREF(argv[6]);
    }
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *walk_pcap(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *handle, *tcp, *bufobj;
    Py_ssize_t pos;
    int rec_len, big_endian, link_type, shard, shards;
    double divisor;
    unsigned long long limit;
    long long number, stop;
    if (!PyArg_ParseTuple(args, "OOOnipdKiLLii", &handle, &tcp, &bufobj, &pos, &rec_len, &big_endian, &divisor,
                          &limit, &link_type, &number, &stop, &shard, &shards))
        return NULL;
    if (rec_len < 16 || pos < 0 || shards < 1 || divisor <= 0.0) {
        PyErr_SetString(PyExc_ValueError, "walk_pcap: bad arguments");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(bufobj, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *buf = (const unsigned char *)view.buf;
    Py_ssize_t end = view.len;
    long long nbytes = 0;
    double last_ts = -1.0;
    PyObject *result = NULL;
    PyObject *lt = PyLong_FromLong(link_type), *zero = PyLong_FromLong(0);
    if (lt == NULL || zero == NULL)
        goto done;
    while (number < stop && pos <= end - rec_len) {
        const unsigned char *h = buf + pos;
        uint32_t sec = rd32(h, big_endian), frac = rd32(h + 4, big_endian);
        uint32_t caplen = rd32(h + 8, big_endian), orig_len = rd32(h + 12, big_endian);
        Py_ssize_t start = pos + rec_len;
        if ((unsigned long long)caplen > limit || (Py_ssize_t)caplen > end - start)
            break;
        number++;
        pos = start + (Py_ssize_t)caplen;
        nbytes += caplen;
        last_ts = (double)sec + (double)frac / divisor;
        PyObject *ts = PyFloat_FromDouble(last_ts);
        if (ts == NULL || hand_over(handle, tcp, bufobj, buf, number, ts, lt, link_type, start, (Py_ssize_t)caplen,
                                    orig_len, zero, shard, shards) < 0)
            goto done;
    }
    result = Py_BuildValue("nLLd", pos, number, nbytes, last_ts);
done:
    Py_XDECREF(lt);
    Py_XDECREF(zero);
    PyBuffer_Release(&view);
    return result;
}

/* walk_pcapng(handle, buf, pos, big_endian, interfaces, number, stop, shard, shards)
 *
 *   The same for the Enhanced Packet Blocks of a pcapng section, as the fast loop of
 *   CaptureFile._push_pcapng: `interfaces` is the section's list of (link_type, divisor, offset, limit, index);
 *   the walk stops (and Python takes over) at any other block, a block not whole in the buffer, an unknown
 *   interface, or a block whose lengths disagree. Times are computed as Python computes
 *   ((high << 32) | low) / divisor + offset: in doubles when both numbers are exact in a double (which is what
 *   Python does then), else by Python's own integer division.
 */
#define MAX_IFACES 4096
#define MAX_PACKET 262144

static PyObject *walk_pcapng(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *handle, *tcp, *bufobj, *ifaces;
    Py_ssize_t pos;
    int big_endian, shard, shards;
    long long number, stop;
    if (!PyArg_ParseTuple(args, "OOOnpOLLii", &handle, &tcp, &bufobj, &pos, &big_endian, &ifaces, &number, &stop,
                          &shard, &shards))
        return NULL;
    if (pos < 0 || shards < 1 || !PyList_Check(ifaces)) {
        PyErr_SetString(PyExc_ValueError, "walk_pcapng: bad arguments");
        return NULL;
    }
    Py_ssize_t n_ifaces = PyList_GET_SIZE(ifaces);
    if (n_ifaces > MAX_IFACES)
        n_ifaces = MAX_IFACES;
    long *lt_of = PyMem_Calloc((size_t)(n_ifaces ? n_ifaces : 1), sizeof(long));
    unsigned long long *div_of = PyMem_Calloc((size_t)(n_ifaces ? n_ifaces : 1), sizeof(unsigned long long));
    long long *off_of = PyMem_Calloc((size_t)(n_ifaces ? n_ifaces : 1), sizeof(long long));
    PyObject **lt_obj = PyMem_Calloc((size_t)(n_ifaces ? n_ifaces : 1), sizeof(PyObject *));
    PyObject **div_obj = PyMem_Calloc((size_t)(n_ifaces ? n_ifaces : 1), sizeof(PyObject *));
    PyObject **off_obj = PyMem_Calloc((size_t)(n_ifaces ? n_ifaces : 1), sizeof(PyObject *));
    PyObject **index_obj = PyMem_Calloc((size_t)(n_ifaces ? n_ifaces : 1), sizeof(PyObject *));
    PyObject *result = NULL;
    Py_buffer view;
    int have_view = 0;
    if (!lt_of || !div_of || !off_of || !lt_obj || !div_obj || !off_obj || !index_obj) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t usable = 0; /* interfaces [0, usable) are plain integers we can use */
    for (; usable < n_ifaces; usable++) {
        PyObject *t = PyList_GET_ITEM(ifaces, usable);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 5)
            break;
        PyObject *lt = PyTuple_GET_ITEM(t, 0), *dv = PyTuple_GET_ITEM(t, 1), *of = PyTuple_GET_ITEM(t, 2);
        PyObject *ix = PyTuple_GET_ITEM(t, 4);
        if (!PyLong_Check(lt) || !PyLong_Check(dv) || !PyLong_Check(of) || !PyLong_Check(ix))
            break;
        int overflow = 0;
        unsigned long long d = PyLong_AsUnsignedLongLong(dv);
        if (PyErr_Occurred()) { /* a divisor beyond 64 bits: leave this interface to Python */
            PyErr_Clear();
            break;
        }
        long long o = PyLong_AsLongLongAndOverflow(of, &overflow);
        if (overflow || (o == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            break;
        }
        long l = PyLong_AsLong(lt);
        if (PyErr_Occurred() || d == 0) {
            PyErr_Clear();
            break;
        }
        lt_of[usable] = l;
        div_of[usable] = d;
        off_of[usable] = o;
        lt_obj[usable] = lt;
        div_obj[usable] = dv;
        off_obj[usable] = of;
        index_obj[usable] = ix;
    }
    if (PyObject_GetBuffer(bufobj, &view, PyBUF_SIMPLE) < 0)
        goto done;
    have_view = 1;
    const unsigned char *buf = (const unsigned char *)view.buf;
    Py_ssize_t end = view.len;
    long long nbytes = 0;
    double last_ts = -1.0;
    while (number < stop && pos <= end - 28) {
        const unsigned char *h = buf + pos;
        uint32_t btype = rd32(h, big_endian), blen = rd32(h + 4, big_endian), iid = rd32(h + 8, big_endian);
        uint32_t ts_high = rd32(h + 12, big_endian), ts_low = rd32(h + 16, big_endian);
        uint32_t caplen = rd32(h + 20, big_endian), orig_len = rd32(h + 24, big_endian);
        if (btype != 6 || (Py_ssize_t)blen > end - pos || (Py_ssize_t)iid >= usable)
            break;
        if (caplen > MAX_PACKET || (unsigned long long)blen < (unsigned long long)caplen + 32 || (blen & 3) ||
            rd32(buf + pos + blen - 4, big_endian) != blen)
            break;
        Py_ssize_t start = pos + 28, nxt = pos + (Py_ssize_t)blen;
        unsigned long long ticks = ((unsigned long long)ts_high << 32) | ts_low;
        PyObject *ts_obj;
        if (ticks < (1ULL << 53) && div_of[iid] < (1ULL << 53) && off_of[iid] == 0) {
            ts_obj = PyFloat_FromDouble((double)ticks / (double)div_of[iid] + 0.0);
        } else {
            PyObject *t = PyLong_FromUnsignedLongLong(ticks);
            PyObject *q = t ? PyNumber_TrueDivide(t, div_obj[iid]) : NULL;
            Py_XDECREF(t);
            ts_obj = q ? PyNumber_Add(q, off_obj[iid]) : NULL;
            Py_XDECREF(q);
        }
        if (ts_obj == NULL)
            goto done;
        last_ts = PyFloat_AsDouble(ts_obj);
        number++;
        pos = nxt;
        nbytes += caplen;
        if (hand_over(handle, tcp, bufobj, buf, number, ts_obj, lt_obj[iid], (int)lt_of[iid], start,
                      (Py_ssize_t)caplen, orig_len, index_obj[iid], shard, shards) < 0)
            goto done;
    }
    result = Py_BuildValue("nLLd", pos, number, nbytes, last_ts);
done:
    if (have_view)
        PyBuffer_Release(&view);
    PyMem_Free(lt_of);
    PyMem_Free(div_of);
    PyMem_Free(off_of);
    PyMem_Free(lt_obj);
    PyMem_Free(div_obj);
    PyMem_Free(off_obj);
    PyMem_Free(index_obj);
    return result;
}

static PyMethodDef methods[] = {
    {"walk_pcap", walk_pcap, METH_VARARGS, "Walk classic pcap records and hand each frame to a handle."},
    {"walk_pcapng", walk_pcapng, METH_VARARGS, "Walk pcapng Enhanced Packet Blocks and hand each frame to a handle."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastwalk", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fastwalk(void) { return PyModule_Create(&module); }
