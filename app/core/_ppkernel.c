/* Compiled steps of app.core.preprocess for uint8 images (the drawing pad, on every
 * mouse move). Each function does what a group of NumPy calls in preprocess.py does; the
 * decisions (thresholds, scales, when to thicken) stay in Python, in one place.
 *
 * Why: with moves 8 ms apart the idle vCPU loses its caches, and each NumPy call then
 * fetches its code again (preprocessing a drawing after an 8 ms sleep: 0.70 ms; with the
 * code warm: 0.42 ms). Five small C functions have little code to fetch.
 *
 * stats, span, stroke_width and ink_map give exactly what the NumPy steps give (integer
 * work, and the same float32 lookup table); render computes the same float32 formulas
 * in another order (sums, products), within 1e-6 of NumPy's.
 *
 * Arrays come in through the buffer protocol (any strides); no NumPy headers needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

typedef struct {
    Py_buffer view;
    Py_ssize_t h, w, rs, cs; /* rows, columns, row and column strides in bytes */
} Image2D;

static int get_2d(PyObject *obj, Image2D *img, const char *fmt, Py_ssize_t itemsize, int writable)
{
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &img->view, flags) < 0)
        return -1;
    if (img->view.ndim != 2 || img->view.itemsize != itemsize || img->view.format == NULL ||
        strcmp(img->view.format, fmt) != 0) {
        PyBuffer_Release(&img->view);
        PyErr_Format(PyExc_ValueError, "expected a 2-D array of format '%s'", fmt);
        return -1;
    }
    img->h = img->view.shape[0];
    img->w = img->view.shape[1];
    img->rs = img->view.strides[0];
    img->cs = img->view.strides[1];
    return 0;
}

#define PX(img, i, j) (((const unsigned char *)(img).view.buf)[(i) * (img).rs + (j) * (img).cs])

/* Row i of a as a contiguous pointer, or copied into buf when the columns are strided. */
static const unsigned char *row_of(const Image2D *a, Py_ssize_t i, unsigned char *buf)
{
    const unsigned char *p = (const unsigned char *)a->view.buf + i * a->rs;
    if (a->cs == 1)
        return p;
    for (Py_ssize_t j = 0; j < a->w; j++) buf[j] = p[j * a->cs];
    return buf;
}

/* stats(a) -> (border min, border max, min, max) of a non-empty uint8 image */
static PyObject *stats(PyObject *self, PyObject *args)
{
    PyObject *obj;
    Image2D a;
    if (!PyArg_ParseTuple(args, "O", &obj) || get_2d(obj, &a, "B", 1, 0) < 0)
        return NULL;
    unsigned char *buf = PyMem_Malloc((size_t)a.w + 1);
    if (a.h == 0 || a.w == 0 || buf == NULL) {
        PyBuffer_Release(&a.view);
        PyMem_Free(buf);
        if (buf == NULL) return PyErr_NoMemory();
        PyErr_SetString(PyExc_ValueError, "empty image");
        return NULL;
    }
    unsigned char rlo = 255, rhi = 0, lo = 255, hi = 0;
    for (Py_ssize_t i = 0; i < a.h; i++) {
        const unsigned char *r = row_of(&a, i, buf);
        unsigned char l = 255, u = 0;
        for (Py_ssize_t j = 0; j < a.w; j++) {
            unsigned char v = r[j];
            l = v < l ? v : l;
            u = v > u ? v : u;
        }
        lo = l < lo ? l : lo;
        hi = u > hi ? u : hi;
        if (i == 0 || i == a.h - 1) {
            rlo = l < rlo ? l : rlo;
            rhi = u > rhi ? u : rhi;
        } else {
            unsigned char e0 = r[0], e1 = r[a.w - 1];
            unsigned char el = e0 < e1 ? e0 : e1, eu = e0 > e1 ? e0 : e1;
            rlo = el < rlo ? el : rlo;
            rhi = eu > rhi ? eu : rhi;
        }
    }
    PyMem_Free(buf);
    PyBuffer_Release(&a.view);
    return Py_BuildValue("iiii", (int)rlo, (int)rhi, (int)lo, (int)hi);
}

/* m[j] = a[i, j] > t (or < t), as 0/1 bytes */
static void mask_row(const unsigned char *r, Py_ssize_t w, int t, int above, unsigned char *m)
{
    if (above)
        for (Py_ssize_t j = 0; j < w; j++) m[j] = (unsigned char)(r[j] > t);
    else
        for (Py_ssize_t j = 0; j < w; j++) m[j] = (unsigned char)(r[j] < t);
}

/* The arguments (a, t, above) of span and stroke_width, and a buffer of ``rows`` rows of a
 * (NULL with an exception set when they are wrong or memory is short). */
static unsigned char *mask_args(PyObject *args, Image2D *a, int *t, int *above, Py_ssize_t rows)
{
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "Oip", &obj, t, above) || get_2d(obj, a, "B", 1, 0) < 0)
        return NULL;
    unsigned char *buf = PyMem_Malloc((size_t)(rows * a->w) + 1);
    if (buf == NULL) {
        PyBuffer_Release(&a->view);
        PyErr_NoMemory();
    }
    return buf;
}

/* span(a, t, above) -> (r0, r1, c0, c1): the box of the pixels > t (or < t), or None */
static PyObject *span(PyObject *self, PyObject *args)
{
    int t, above;
    Image2D a;
    unsigned char *buf = mask_args(args, &a, &t, &above, 2);
    if (buf == NULL)
        return NULL;
    unsigned char *m = buf + a.w;
    Py_ssize_t r0 = -1, r1 = -1, c0 = a.w, c1 = -1;
    for (Py_ssize_t i = 0; i < a.h; i++) {
        mask_row(row_of(&a, i, buf), a.w, t, above, m);
        const unsigned char *first = memchr(m, 1, (size_t)a.w);
        if (first == NULL)
            continue;
        Py_ssize_t j0 = first - m, j1 = a.w - 1;
        while (!m[j1]) j1--;
        if (r0 < 0) r0 = i;
        r1 = i;
        if (j0 < c0) c0 = j0;
        if (j1 > c1) c1 = j1;
    }
    PyMem_Free(buf);
    PyBuffer_Release(&a.view);
    if (r0 < 0)
        Py_RETURN_NONE;
    return Py_BuildValue("nnnn", r0, r1 + 1, c0, c1 + 1);
}

/* stroke_width(a, t, above) -> preprocess._stroke_width(a > t) (or a < t) */
static PyObject *stroke_width(PyObject *self, PyObject *args)
{
    int t, above;
    Image2D a;
    unsigned char *buf = mask_args(args, &a, &t, &above, 3);
    if (buf == NULL)
        return NULL;
    Py_ssize_t h = a.h, w = a.w, area = 0, across = 0, down = 0, border = 0;
    Py_ssize_t g = (h < w ? h : w) / 64;
    if (g < 1) g = 1;
    if (h == 0 || w == 0) {  /* no ink */
        PyMem_Free(buf);
        PyBuffer_Release(&a.view);
        return PyFloat_FromDouble(1.0);
    }
    unsigned char *cur = buf + w, *prev = buf + 2 * w;
    for (Py_ssize_t i = 0; i < h; i++) {
        mask_row(row_of(&a, i, buf), w, t, above, cur);
        unsigned int count = 0, changes = 0, dn = 0;  /* (per row: 32 bits vectorise better) */
        if (i % g == 0) {  /* area, and crossings along every g-th row */
            count = cur[0];
            for (Py_ssize_t j = 1; j < w; j++) {
                count += cur[j];
                changes += cur[j] ^ cur[j - 1];
            }
            across += changes;
        } else {
            for (Py_ssize_t j = 0; j < w; j++) count += cur[j];
        }
        area += count;
        if (i > 0) {  /* crossings down every g-th column */
            if (g == 1)
                for (Py_ssize_t j = 0; j < w; j++) dn += cur[j] ^ prev[j];
            else
                for (Py_ssize_t j = 0; j < w; j += g) dn += cur[j] ^ prev[j];
            down += dn;
        }
        if (i == 0) border += count;
        if (i == h - 1) border += count;
        border += cur[0] + cur[w - 1];
        unsigned char *swap = prev;
        prev = cur;
        cur = swap;
    }
    PyMem_Free(buf);
    PyBuffer_Release(&a.view);
    if (area == 0)
        return PyFloat_FromDouble(1.0);
    Py_ssize_t perimeter = g * across + g * down + border;
    return PyFloat_FromDouble(2.0 * (double)area / (double)(perimeter > 1 ? perimeter : 1));
}

/* ink_map(a, f, mode, table, fill, out): out = table[pooled a]; mode 0: no pooling (f = 1),
 * 1: f x f maximum, 2: f x f minimum, 3: f x f sum. Blocks cut by the bottom/right edges
 * are completed with ``fill`` (the paper), as preprocess._pool does. */
static PyObject *ink_map(PyObject *self, PyObject *args)
{
    PyObject *obj, *tobj, *oobj;
    int f, mode, fill;
    Image2D a, out;
    Py_buffer table;
    if (!PyArg_ParseTuple(args, "OiiOiO", &obj, &f, &mode, &tobj, &fill, &oobj))
        return NULL;
    if (get_2d(obj, &a, "B", 1, 0) < 0)
        return NULL;
    if (PyObject_GetBuffer(tobj, &table, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&a.view);
        return NULL;
    }
    if (get_2d(oobj, &out, "f", 4, 1) < 0) {
        PyBuffer_Release(&a.view);
        PyBuffer_Release(&table);
        return NULL;
    }
    Py_ssize_t n = table.len / (Py_ssize_t)sizeof(float);
    Py_ssize_t oh = (a.h + f - 1) / f, ow = (a.w + f - 1) / f;
    Py_ssize_t most = mode == 3 ? 255 * (Py_ssize_t)f * f : 255;
    const char *err = NULL;
    int nomem = 0;
    if (f < 1 || mode < 0 || mode > 3 || (mode == 0 && f != 1))
        err = "bad pooling";
    else if (table.format == NULL || strcmp(table.format, "f") != 0 || n <= most)
        err = "the table does not cover every value";
    else if (out.h != oh || out.w != ow)
        err = "the output has the wrong shape";
    int *acc = NULL;
    unsigned char *buf = NULL;
    if (err == NULL) {
        acc = PyMem_Malloc(sizeof(int) * (size_t)(ow + 1));
        buf = PyMem_Malloc((size_t)(ow * f) + 1);
        nomem = acc == NULL || buf == NULL;
    }
    if (err == NULL && !nomem) {
        const float *tab = (const float *)table.buf;
        for (Py_ssize_t oi = 0; oi < oh; oi++) {
            int start = mode == 2 ? 255 : 0;
            for (Py_ssize_t oj = 0; oj < ow; oj++) acc[oj] = start;
            for (Py_ssize_t di = 0; di < f; di++) {
                Py_ssize_t i = oi * f + di;
                const unsigned char *r = buf;
                if (i < a.h) {  /* the row, completed with paper up to ow * f columns */
                    r = row_of(&a, i, buf);
                    if (a.w < ow * f) {
                        if (r != buf)
                            memcpy(buf, r, (size_t)a.w);
                        memset(buf + a.w, fill, (size_t)(ow * f - a.w));
                        r = buf;
                    }
                } else {
                    memset(buf, fill, (size_t)(ow * f));
                }
                if (mode == 3) {
                    if (f == 2)
                        for (Py_ssize_t oj = 0; oj < ow; oj++) acc[oj] += r[2 * oj] + r[2 * oj + 1];
                    else
                        for (Py_ssize_t oj = 0; oj < ow; oj++)
                            for (Py_ssize_t dj = 0; dj < f; dj++) acc[oj] += r[oj * f + dj];
                } else if (mode == 1) {
                    for (Py_ssize_t oj = 0; oj < ow; oj++)
                        for (Py_ssize_t dj = 0; dj < f; dj++) {
                            int v = r[oj * f + dj];
                            acc[oj] = v > acc[oj] ? v : acc[oj];
                        }
                } else if (mode == 2) {
                    for (Py_ssize_t oj = 0; oj < ow; oj++)
                        for (Py_ssize_t dj = 0; dj < f; dj++) {
                            int v = r[oj * f + dj];
                            acc[oj] = v < acc[oj] ? v : acc[oj];
                        }
                } else {
                    for (Py_ssize_t oj = 0; oj < ow; oj++) acc[oj] = r[oj];
                }
            }
            char *o = (char *)out.view.buf + oi * out.rs;
            for (Py_ssize_t oj = 0; oj < ow; oj++) *(float *)(o + oj * out.cs) = tab[acc[oj]];
        }
    }
    PyMem_Free(acc);
    PyMem_Free(buf);
    PyBuffer_Release(&a.view);
    PyBuffer_Release(&table);
    PyBuffer_Release(&out.view);
    if (err != NULL) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    if (nomem)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* The resampling weights of one axis (preprocess._weights2, one axis): output pixel j
 * (of n) samples the source (m pixels, zero ink outside) at (j + 0.5 - start) / s with a
 * triangle filter widened by 1/s when shrinking; rows normalised over the source plus k
 * paper pixels on each side. Only the source part is kept: weights[n][m]; band[2 j] and
 * band[2 j + 1] bound the source pixels with a weight that is not 0. */
static void axis_weights(Py_ssize_t n, double start, Py_ssize_t m, double s, float *weights,
                         Py_ssize_t *band)
{
    double support = 1.0 / s > 1.0 ? 1.0 / s : 1.0;
    Py_ssize_t k = (Py_ssize_t)ceil(2.0 * support) + 2;
    /* (each constant rounded to float32 once, as NumPy's float32 scalars are) */
    float inv_s = (float)(1.0 / s), shift = (float)(0.5 - start), neg_inv_support = (float)(-1.0 / support);
    for (Py_ssize_t j = 0; j < n; j++) {
        float centre = ((float)j + shift) * inv_s;
        float total = 0.0f;
        float *row = weights + j * m;
        Py_ssize_t lo = m, hi = 0;
        for (Py_ssize_t i = -k; i < m + k; i++) {
            float d = centre - ((float)i + 0.5f);
            float wt = fabsf(d) * neg_inv_support + 1.0f;
            if (wt > 0.0f) {
                total += wt;
                if (i >= 0 && i < m) {
                    row[i] = wt;
                    if (i < lo) lo = i;
                    hi = i + 1;
                }
            } else if (i >= 0 && i < m) {
                row[i] = 0.0f;
            }
        }
        if (total > 0.0f)
            for (Py_ssize_t i = lo; i < hi; i++) row[i] /= total;
        band[2 * j] = lo;
        band[2 * j + 1] = hi > lo ? hi : lo;
    }
}

#define SIZE 28

/* render(work, extent_w, extent_h, s, out) -> bool: preprocess._render into the zeroed
 * float32 (28, 28) ``out``; False where _render returns None (``out`` is then of no use).
 * ``work`` is float32. */
static PyObject *render(PyObject *self, PyObject *args)
{
    PyObject *wobj, *oobj;
    double ew, eh, s;
    Image2D a, out;
    if (!PyArg_ParseTuple(args, "OdddO", &wobj, &ew, &eh, &s, &oobj))
        return NULL;
    if (get_2d(wobj, &a, "f", 4, 0) < 0)
        return NULL;
    if (get_2d(oobj, &out, "f", 4, 1) < 0) {
        PyBuffer_Release(&a.view);
        return NULL;
    }
    if (out.h != SIZE || out.w != SIZE || !(s > 0.0)) {
        PyBuffer_Release(&a.view);
        PyBuffer_Release(&out.view);
        PyErr_SetString(PyExc_ValueError, "render: bad output or scale");
        return NULL;
    }
    Py_ssize_t h = a.h, w = a.w;
#define W(i, j) (*(const float *)((const char *)a.view.buf + (i) * a.rs + (j) * a.cs))
    /* centre of mass (continuous coordinates: pixel i covers [i, i + 1)) */
    double total = 0.0, my = 0.0, mx = 0.0;
    for (Py_ssize_t i = 0; i < h; i++) {
        float row[4] = {0.0f, 0.0f, 0.0f, 0.0f}, mom[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        Py_ssize_t j = 0;
        if (a.cs == 4) {
            const float *r = (const float *)((const char *)a.view.buf + i * a.rs);
            for (; j + 4 <= w; j += 4)
                for (int q = 0; q < 4; q++) {
                    row[q] += r[j + q];
                    mom[q] += r[j + q] * ((float)(j + q) + 0.5f);
                }
        }
        for (; j < w; j++) {
            float v = W(i, j);
            row[0] += v;
            mom[0] += v * ((float)j + 0.5f);
        }
        double rs = (double)row[0] + row[1] + row[2] + row[3];
        total += rs;
        my += rs * ((double)i + 0.5);
        mx += (double)mom[0] + mom[1] + mom[2] + mom[3];
    }
    int ok = 0;
    float *wy = NULL, *wx = NULL, *tmp = NULL;
    Py_ssize_t *band = NULL;
    if (total > 0.0) {
        double cy = my / total, cx = mx / total;
        double dw = ew * s, dh = eh * s;
        double top = SIZE + 0.0 - dh, left = SIZE + 0.0 - dw;
        double want_top = 14.5 - cy * s, want_left = 14.5 - cx * s;
        if (want_top < 0.0) want_top = 0.0;
        if (want_left < 0.0) want_left = 0.0;
        if (want_top < top) top = want_top;
        if (want_left < left) left = want_left;
        Py_ssize_t r0 = (Py_ssize_t)floor(top), c0 = (Py_ssize_t)floor(left);
        Py_ssize_t r1 = (Py_ssize_t)ceil(top + dh), c1 = (Py_ssize_t)ceil(left + dw);
        if (r1 > SIZE) r1 = SIZE;
        if (c1 > SIZE) c1 = SIZE;
        /* (as NumPy slicing would: an empty or negative range selects nothing) */
        if (r0 < 0) r0 = 0;
        if (c0 < 0) c0 = 0;
        Py_ssize_t ny = r1 > r0 ? r1 - r0 : 0, nx = c1 > c0 ? c1 - c0 : 0;
        if (ny > 0 && nx > 0) {
            wy = PyMem_Malloc(sizeof(float) * (size_t)(ny * h));
            wx = PyMem_Malloc(sizeof(float) * (size_t)(nx * w));
            tmp = PyMem_Malloc(sizeof(float) * (size_t)(ny * w));
            band = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(2 * (ny + nx)));
            if (wy == NULL || wx == NULL || tmp == NULL || band == NULL) {
                PyMem_Free(wy); PyMem_Free(wx); PyMem_Free(tmp); PyMem_Free(band);
                PyBuffer_Release(&a.view);
                PyBuffer_Release(&out.view);
                return PyErr_NoMemory();
            }
            Py_ssize_t *by = band, *bx = band + 2 * ny;
            axis_weights(ny, top - (double)r0, h, s, wy, by);
            axis_weights(nx, left - (double)c0, w, s, wx, bx);
            /* tmp = wy @ work over each row's band of weights */
            for (Py_ssize_t j = 0; j < ny; j++) {
                float *t = tmp + j * w;
                for (Py_ssize_t x = 0; x < w; x++) t[x] = 0.0f;
                for (Py_ssize_t i = by[2 * j]; i < by[2 * j + 1]; i++) {
                    float c = wy[j * h + i];
                    const float *src = (const float *)((const char *)a.view.buf + i * a.rs);
                    if (a.cs == 4)
                        for (Py_ssize_t x = 0; x < w; x++) t[x] += c * src[x];
                    else
                        for (Py_ssize_t x = 0; x < w; x++) t[x] += c * W(i, x);
                }
            }
            /* digit = tmp @ wx.T (over each column's band), its peak; then digit / peak,
               clipped at 1, into out */
            float peak = 0.0f;
            for (Py_ssize_t j = 0; j < ny; j++) {
                float *o = (float *)((char *)out.view.buf + (r0 + j) * out.rs);
                const float *t = tmp + j * w;
                for (Py_ssize_t l = 0; l < nx; l++) {
                    const float *wr = wx + l * w;
                    float acc = 0.0f;
                    for (Py_ssize_t x = bx[2 * l]; x < bx[2 * l + 1]; x++) acc += t[x] * wr[x];
                    *(float *)((char *)o + (c0 + l) * out.cs) = acc;
                    if (acc > peak) peak = acc;
                }
            }
            if (peak > 0.0f) {
                float scale = (float)(1.0 / (double)peak);
                for (Py_ssize_t j = 0; j < ny; j++) {
                    float *o = (float *)((char *)out.view.buf + (r0 + j) * out.rs);
                    for (Py_ssize_t l = 0; l < nx; l++) {
                        float *p = (float *)((char *)o + (c0 + l) * out.cs);
                        float v = *p * scale;
                        *p = v < 1.0f ? v : 1.0f;
                    }
                }
                ok = 1;
            }
        }
    }
#undef W
    PyMem_Free(wy);
    PyMem_Free(wx);
    PyMem_Free(tmp);
    PyMem_Free(band);
    PyBuffer_Release(&a.view);
    PyBuffer_Release(&out.view);
    return PyBool_FromLong(ok);
}

static PyMethodDef methods[] = {
    {"stats", stats, METH_VARARGS, "stats(a) -> (border min, border max, min, max) of a uint8 image"},
    {"span", span, METH_VARARGS, "span(a, t, above) -> (r0, r1, c0, c1) of the pixels > t (< t), or None"},
    {"stroke_width", stroke_width, METH_VARARGS, "stroke_width(a, t, above) -> 2 * area / perimeter"},
    {"ink_map", ink_map, METH_VARARGS, "ink_map(a, f, mode, table, fill, out): pooled lookup"},
    {"render", render, METH_VARARGS, "render(work, extent_w, extent_h, s, out) -> bool"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ppkernel",
    "Compiled steps of app.core.preprocess for uint8 images (see the C source).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ppkernel(void) { return PyModule_Create(&module); }
