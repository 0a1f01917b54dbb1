// Dense layers through oneDNN or OpenBLAS, one thread each: the measurement behind the choice
// of bnc's Gemm/MatMul kernel (tools/bench/run --dense; docs/benchmarks.md).
//
// For each shape (rows × in → out: the MLP's layers and the CNN's first dense layer, at the
// row counts bnc's executor hands one core), it times y = x · Wᵀ + b
//   - oneDNN's inner product (forward inference, weights reordered once into the layout the
//     primitive chooses, bias in the primitive), and
//   - OpenBLAS's cblas_sgemm on the plain weights (as GemmStep calls it; the bias pass that
//     follows in bnc is not timed, which favours OpenBLAS by a few per cent),
// best of REPS calls after 3 warm-up calls, and checks that the two agree (max |Δ| relative to
// max |y| ≤ 1e-5: both sum the same products in Float, in different orders).
//
// usage: dense [REPS]   (built and run by tools/bench/run --dense)
#include <cblas.h>
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != dnnl_success) {                                          \
      fprintf(stderr, "dense: %s failed (line %d)\n", #call, __LINE__);    \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

static float *floats(long n) {
  float *p = aligned_alloc(64, ((size_t)n * sizeof(float) + 63) / 64 * 64);
  if (!p) { fprintf(stderr, "dense: out of memory\n"); exit(1); }
  return p;
}

// One shape; returns 0 when the results agree.
static int measure(dnnl_engine_t engine, dnnl_stream_t stream, int rows, int in, int out, int reps) {
  float *x = floats((long)rows * in), *w = floats((long)out * in), *b = floats(out);
  float *y1 = floats((long)rows * out), *y2 = floats((long)rows * out);
  unsigned s = 12345;
  for (long i = 0; i < (long)rows * in; i++) { s = s * 1103515245u + 12345u; x[i] = (float)(s >> 8) / 16777216.0f - 0.5f; }
  for (long i = 0; i < (long)out * in; i++) { s = s * 1103515245u + 12345u; w[i] = (float)(s >> 8) / 16777216.0f - 0.5f; }
  for (int i = 0; i < out; i++) b[i] = 0.01f * i;

  dnnl_memory_desc_t src, plain, any, bias, dst;
  dnnl_dims_t sd = {rows, in}, wd = {out, in}, bd = {out}, dd = {rows, out};
  CHECK(dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_f32, dnnl_nc));
  CHECK(dnnl_memory_desc_init_by_tag(&plain, 2, wd, dnnl_f32, dnnl_oi));
  CHECK(dnnl_memory_desc_init_by_tag(&any, 2, wd, dnnl_f32, dnnl_format_tag_any));
  CHECK(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x));
  CHECK(dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_nc));
  dnnl_inner_product_desc_t desc;
  CHECK(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src, &any, &bias, &dst));
  dnnl_primitive_desc_t pd;
  CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
  const char *impl = "?";
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  dnnl_memory_desc_t chosen = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  float *packed = floats((long)(dnnl_memory_desc_get_size(&chosen) / sizeof(float)) + 16);

  dnnl_memory_t mw, mp, mx, mb, my;
  CHECK(dnnl_memory_create(&mw, &plain, engine, w));
  CHECK(dnnl_memory_create(&mp, &chosen, engine, packed));
  dnnl_primitive_desc_t rpd;
  CHECK(dnnl_reorder_primitive_desc_create(&rpd, &plain, engine, &chosen, engine, NULL));
  dnnl_primitive_t reorder;
  CHECK(dnnl_primitive_create(&reorder, rpd));
  dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, mw}, {DNNL_ARG_TO, mp}};
  CHECK(dnnl_primitive_execute(reorder, stream, 2, rargs));
  CHECK(dnnl_stream_wait(stream));
  CHECK(dnnl_memory_create(&mx, &src, engine, x));
  CHECK(dnnl_memory_create(&mb, &bias, engine, b));
  CHECK(dnnl_memory_create(&my, &dst, engine, y1));
  dnnl_primitive_t ip;
  CHECK(dnnl_primitive_create(&ip, pd));
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mp}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, my}};

  double best1 = 1e30, best2 = 1e30;
  for (int r = 0; r < reps + 3; r++) {
    double t = seconds();
    CHECK(dnnl_primitive_execute(ip, stream, 4, args));
    CHECK(dnnl_stream_wait(stream));
    t = seconds() - t;
    if (r >= 3 && t < best1) best1 = t;
  }
  for (int r = 0; r < reps + 3; r++) {
    double t = seconds();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1, x, in, w, in, 0, y2, out);
    t = seconds() - t;
    if (r >= 3 && t < best2) best2 = t;
  }
  double scale = 0, diff = 0;
  for (long i = 0; i < (long)rows * out; i++) {
    double ref = y2[i] + b[i % out];
    scale = fmax(scale, fabs(ref));
    diff = fmax(diff, fabs(y1[i] - ref));
  }
  double flop = 2.0 * rows * in * out;
  int agree = diff <= 1e-5 * fmax(scale, 1e-30);
  printf("%6d × %4d → %3d   oneDNN %-14s %9.1f µs %6.1f GFLOP/s   OpenBLAS sgemm %9.1f µs %6.1f GFLOP/s   oneDNN/OpenBLAS speed %.2f×%s\n",
         rows, in, out, impl, best1 * 1e6, flop / best1 * 1e-9, best2 * 1e6, flop / best2 * 1e-9, best2 / best1,
         agree ? "" : "   RESULTS DIFFER");
  dnnl_primitive_destroy(ip);
  dnnl_primitive_destroy(reorder);
  dnnl_primitive_desc_destroy(rpd);
  dnnl_primitive_desc_destroy(pd);
  dnnl_memory_destroy(mw); dnnl_memory_destroy(mp); dnnl_memory_destroy(mx); dnnl_memory_destroy(mb); dnnl_memory_destroy(my);
  free(x); free(w); free(b); free(y1); free(y2); free(packed);
  return agree ? 0 : 1;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 200;
  if (reps < 1) { fprintf(stderr, "dense: REPS must be a positive number\n"); return 2; }
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
  CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
  // rows: one image (batch 1), half of batch 100 (one core's share), a large block.
  static const int shapes[][3] = {
    {1, 784, 100}, {50, 784, 100}, {256, 784, 100}, {5000, 784, 100},
    {50, 100, 100}, {256, 100, 100}, {50, 100, 10}, {256, 100, 10},
    {16, 3136, 128}, {50, 3136, 128},
  };
  int failed = 0;
  printf("one thread each (OpenMP 1, OPENBLAS_NUM_THREADS=1); best of %d calls\n", reps);
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    failed |= measure(engine, stream, shapes[i][0], shapes[i][1], shapes[i][2], reps);
  dnnl_stream_destroy(stream);
  dnnl_engine_destroy(engine);
  return failed;
}
