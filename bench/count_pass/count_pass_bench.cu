// The small-input count and fill passes (cuda/brute_pass.cuh, radius_brute.cu,
// knn_prep.cu) of this tree against those of a base revision (base.cu, built
// by build.sh), on the inputs of bench/small_batch.py's workloads, with no
// torch: the outputs compared (found, keep, offsets, masks, edges, the data
// checks of bad inputs), then GPU time per launch (CUDA events around 200
// back-to-back launches) and the host's wait for a count pass's report
// (median of 300). Prints a JSON object a workload; exits 1 on a mismatch.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
#include <algorithm>
#include "ops/cuda/radius_brute.cu"  // this tree's (-I pkg/csrc)
#include "ops/cuda/knn_prep.cu"

namespace ops {
template <int DIM, typename acc_t>
cudaError_t old_launch_brute_count(const BruteRadius<acc_t>&, const BruteWork&, int64_t, cudaStream_t);
template <int DIM, typename acc_t>
cudaError_t old_launch_brute_fill(const BruteRadius<acc_t>&, const BruteWork&, const BruteRows&, cudaStream_t);
template <typename acc_t>
cudaError_t old_launch_knn_count_pass(const KnnBrute<acc_t>&, int64_t, int64_t, const BruteWork&, int64_t, cudaStream_t);
}
using namespace ops;
#define CK(...) do { cudaError_t e = (__VA_ARGS__); if (e != cudaSuccess) { printf("CUDA %s at %d: %s\n", cudaGetErrorString(e), __LINE__, #__VA_ARGS__); exit(1);} } while (0)

// The pieces of a count pass alone: an empty grid, the end of the pass (the
// last block's scan and report), the checks, the old warp-a-query segment search.
__global__ void k_empty() {}
__global__ void k_finish(BruteWork out, int64_t ny) { finish_count_pass(out, ny, 0); }
__global__ void k_checks(const float* x, const int64_t* b, int64_t n, BruteWork out) {
  const int64_t w = int64_t(blockIdx.x) * 8 + (threadIdx.x >> 5); check_points(x, b, n, x, b, n, 3, &out.stats->checks, w, threadIdx.x & 31); finish_count_pass(out, n, 0); }
__global__ void k_seg(const int64_t* b, int64_t n, BruteWork out) {  // old style: a warp a query
  const int64_t w = int64_t(blockIdx.x) * 8 + (threadIdx.x >> 5);
  if (w < n) { int64_t lo, hi; warp_segment_range(b, n, b[w], lo, hi); if ((threadIdx.x & 31) == 0) out.keep[w] = hi - lo; }
  finish_count_pass(out, n, 0); }

struct Data { std::vector<float> pos; std::vector<int64_t> batch; int64_t n; float r; const char* name; };
Data make(const char* name, int mol, int lo, int hi, float r, unsigned seed) {
  std::mt19937 g(seed); Data d; d.name = name; d.r = r;
  for (int m = 0; m < mol; ++m) {
    int n = std::uniform_int_distribution<int>(lo, hi)(g);
    float side = std::cbrt(n / 0.1f);
    for (int i = 0; i < n; ++i) { for (int k = 0; k < 3; ++k) d.pos.push_back(std::uniform_real_distribution<float>(0, side)(g)); d.batch.push_back(m); }
  }
  d.n = d.batch.size(); return d;
}

struct Dev {
  float* x; int64_t* b; BruteWork w; BruteReport* rep; BruteReport* rep_dev; int64_t ny; uint64_t ticket = 0;
  int64_t* rows;
};
Dev setup(const Data& d) {
  Dev v; v.ny = d.n;
  CK(cudaMalloc(&v.x, d.pos.size() * 4)); CK(cudaMemcpy(v.x, d.pos.data(), d.pos.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMalloc(&v.b, d.n * 8)); CK(cudaMemcpy(v.b, d.batch.data(), d.n * 8, cudaMemcpyHostToDevice));
  int64_t ms = 256;
  CK(cudaMalloc(&v.w.found, d.n * 4)); CK(cudaMalloc(&v.w.keep, d.n * 8)); CK(cudaMalloc(&v.w.offset, (d.n + 1) * 8));
  CK(cudaMalloc(&v.w.masks, d.n * ms * 4)); v.w.mask_stride = ms;
  CK(cudaMalloc(&v.w.stats, sizeof(BruteStats))); CK(cudaMemset(v.w.stats, 0, sizeof(BruteStats)));
  CK(cudaHostAlloc(&v.rep, sizeof(BruteReport), cudaHostAllocMapped)); memset(v.rep, 0, sizeof(BruteReport));
  CK(cudaHostGetDevicePointer((void**)&v.rep_dev, v.rep, 0));
  v.w.count = nullptr; v.w.report = v.rep_dev;
  CK(cudaMalloc(&v.rows, 2 * 8 * 4000000));
  return v;
}
BruteRadius<float> rad(const Dev& v, float r) { return {v.x, v.x, v.b, v.b, v.ny, v.ny, 3, -1, r * r, true, 8192}; }
KnnBrute<float> knn(const Dev& v) { return {v.x, v.x, nullptr, nullptr, v.b, v.b, v.ny, v.ny, 3, true, 0}; }

// launch one count pass with report, wait for its ticket on the host
template <class F> void launch_wait(Dev& v, F f) {
  v.w.ticket = ++v.ticket; f(v.w);
  while (*(volatile uint64_t*)&v.rep->ticket != v.ticket) {}
}
template <class F> double gpu_us(Dev& v, F f, int reps = 200) {  // back-to-back launches, events
  for (int i = 0; i < 20; ++i) { v.w.ticket = ++v.ticket; f(v.w); }
  cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
  CK(cudaDeviceSynchronize()); cudaEventRecord(a);
  for (int i = 0; i < reps; ++i) { v.w.ticket = ++v.ticket; f(v.w); }
  cudaEventRecord(b); CK(cudaEventSynchronize(b)); float ms; cudaEventElapsedTime(&ms, a, b);
  return ms * 1e3 / reps;
}
template <class F> double wait_us(Dev& v, F f, int reps = 300) {  // host: launch + wait for the report
  std::vector<double> t;
  for (int i = 0; i < reps + 20; ++i) {
    auto s = std::chrono::steady_clock::now(); launch_wait(v, f);
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
  }
  t.erase(t.begin(), t.begin() + 20); std::sort(t.begin(), t.end()); return t[t.size() / 2];
}
template <class T> std::vector<T> get(const T* p, int64_t n) { std::vector<T> h(n); CK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost)); return h; }

int main() {
  std::vector<Data> ds = {make("one", 1, 20, 20, 5, 4), make("qm9", 128, 9, 29, 5, 0), make("md17", 32, 9, 21, 5, 1),
                          make("oc20", 32, 60, 100, 6, 2), make("8x1000", 8, 800, 1200, 6, 3)};
  int bad = 0;
  for (auto& d : ds) {
    Dev v = setup(d); const int64_t n = d.n; auto s = rad(v, d.r); auto a = knn(v);
    auto old_rad = [&](const BruteWork& w) { CK(old_launch_brute_count<3, float>(s, w, 0, 0)); };
    auto old_knn = [&](const BruteWork& w) { CK(old_launch_knn_count_pass<float>(a, 16, 8192, w, 0, 0)); };
    auto new_knn = [&](const BruteWork& w) { CK(launch_knn_count_pass<float>(a, 16, 8192, w, 0, 0)); };
    auto new_rad = [&](const BruteWork& w) { CK(launch_brute_count<3, float>(s, w, 0, 0)); };
    // equivalence: radius
    CK(cudaMemset(v.w.masks, 0, n * 256 * 4)); launch_wait(v, old_rad);
    auto f0 = get(v.w.found, n); auto k0 = get(v.w.keep, n); auto o0 = get(v.w.offset, n + 1); auto m0 = get(v.w.masks, n * 256);
    int64_t E = v.rep->edges;
    BruteRows rows{v.rows, -1, 4000000, false, true};
    CK(old_launch_brute_fill<3, float>(s, v.w, rows, 0)); CK(cudaDeviceSynchronize());
    auto e0 = get(v.rows, 2 * E);
    printf("{\"data\":\"%s\",\"n\":%lld,\"edges\":%lld,", d.name, (long long)n, (long long)E);
    {
      CK(cudaMemset(v.w.masks, 0, n * 256 * 4)); CK(cudaMemset(v.rows, 0xff, 2 * 8 * E)); launch_wait(v, new_rad);
      CK(launch_brute_fill<3, float>(s, v.w, rows, 0)); CK(cudaDeviceSynchronize());
      bool same = get(v.w.found, n) == f0 && get(v.w.keep, n) == k0 && get(v.w.offset, n + 1) == o0 && get(v.w.masks, n * 256) == m0 && v.rep->edges == E && get(v.rows, 2 * E) == e0;
      if (!same) ++bad;
      printf("\"rad_same\":%s,", same ? "true" : "false");
    }
    launch_wait(v, old_knn); auto kk0 = get(v.w.keep, n); auto ko0 = get(v.w.offset, n + 1);
    launch_wait(v, new_knn); bool ksame = get(v.w.keep, n) == kk0 && get(v.w.offset, n + 1) == ko0; if (!ksame) ++bad;
    printf("\"knn_same\":%s,", ksame ? "true" : "false");
    // timings
    
    printf("\"old_rad_gpu\":%.2f,\"old_rad_wait\":%.2f,", gpu_us(v, old_rad), wait_us(v, old_rad));
    printf("\"new_rad_gpu\":%.2f,\"new_rad_wait\":%.2f,", gpu_us(v, new_rad), wait_us(v, new_rad));
    printf("\"old_knn_gpu\":%.2f,\"old_knn_wait\":%.2f,\"new_knn_gpu\":%.2f,\"new_knn_wait\":%.2f,", gpu_us(v, old_knn), wait_us(v, old_knn), gpu_us(v, new_knn), wait_us(v, new_knn));
    {
      BruteRows rows{v.rows, -1, 4000000, false, true};
      launch_wait(v, new_rad);
      printf("\"old_fill_gpu\":%.2f,\"new_fill_gpu\":%.2f,", gpu_us(v, [&](const BruteWork& w) { CK(old_launch_brute_fill<3, float>(s, w, rows, 0)); }),
             gpu_us(v, [&](const BruteWork& w) { CK(launch_brute_fill<3, float>(s, w, rows, 0)); }));
    }
    const int old_blocks = count_pass_blocks(n);
    printf("\"empty_gpu\":%.2f,", gpu_us(v, [&](const BruteWork&) { k_empty<<<old_blocks, 256>>>(); }));
    printf("\"finish_gpu\":%.2f,\"finish_wait\":%.2f,", gpu_us(v, [&](const BruteWork& w) { k_finish<<<old_blocks, 256>>>(w, n); }), wait_us(v, [&](const BruteWork& w) { k_finish<<<old_blocks, 256>>>(w, n); }));
    printf("\"finish1_gpu\":%.2f,\"finish1_wait\":%.2f,", gpu_us(v, [&](const BruteWork& w) { k_finish<<<1, 256>>>(w, n); }), wait_us(v, [&](const BruteWork& w) { k_finish<<<1, 256>>>(w, n); }));
    printf("\"checks_gpu\":%.2f,", gpu_us(v, [&](const BruteWork& w) { k_checks<<<old_blocks, 256>>>(v.x, v.b, n, w); }));
    printf("\"seg_gpu\":%.2f", gpu_us(v, [&](const BruteWork& w) { k_seg<<<old_blocks, 256>>>(v.b, n, w); }));
    printf("}\n"); fflush(stdout);
  }
  // bad inputs: the flags of old and new agree
  for (int kind = 0; kind < 3; ++kind) {
    Data d = make("bad", 16, 20, 40, 5, 9);
    if (kind == 0) d.pos[3 * 100 + 1] = NAN;
    if (kind == 1) std::swap(d.batch[50], d.batch[400]);
    if (kind == 2) d.pos[3 * (d.n - 1)] = INFINITY;
    Dev v = setup(d); auto s = rad(v, d.r); auto a = knn(v); const int64_t n = d.n;
    launch_wait(v, [&](const BruteWork& w) { CK(old_launch_brute_count<3, float>(s, w, 0, 0)); }); BruteReport r0 = *v.rep;
    launch_wait(v, [&](const BruteWork& w) { CK(launch_brute_count<3, float>(s, w, 0, 0)); }); BruteReport r1 = *v.rep;
    launch_wait(v, [&](const BruteWork& w) { CK(launch_knn_count_pass<float>(a, 16, 8192, w, 0, 0)); }); BruteReport r2 = *v.rep;
    auto flags = [](const BruteReport& r) { return std::vector<long long>{r.stats.checks.x_nonfinite, r.stats.checks.y_nonfinite, r.stats.checks.bx_unsorted, r.stats.checks.by_unsorted, r.stats.checks.bx_last, r.stats.checks.by_last}; };
    bool same = flags(r0) == flags(r1) && flags(r0) == flags(r2) && (flags(r0)[0] || flags(r0)[2]);
    if (!same) ++bad;
    printf("{\"bad_kind\":%d,\"same\":%s,\"flags\":[%lld,%lld,%lld,%lld,%lld,%lld]}\n", kind, same ? "true" : "false", flags(r1)[0], flags(r1)[1], flags(r1)[2], flags(r1)[3], flags(r1)[4], flags(r1)[5]);
  }
  printf("{\"mismatches\":%d}\n", bad);
  return bad != 0;
}
