// Chunked KDA forward and backward (docs/design/kda.md §3, §4.2), written once against the vector primitives of
// kda_simd.h and compiled once per instruction set by kda.cc (inside a `#pragma GCC target` region and its own
// namespace). No include guard on purpose; kda.cc includes the system headers and defines KdaProblem.
//
// One (batch, head) stream is processed by one thread, chunk after chunk. Inside a chunk (C = 64 or 32 rows,
// sub-chunks of BC = 16) every decay factor is exp(x) with x <= 0 (§3.1):
//   * off-diagonal sub-chunk blocks (I > J) factor E_ri = exp(Γ_r − Γ_i) exactly as
//       lam_r = exp(Γ_r − P_{I−1}) · mu_IJ = exp(P_{I−1} − P_J) · rho_i = exp(P_J − Γ_i)
//     where P_J is Γ at the last row of sub-chunk J (all three exponents are <= 0 because Γ is non-increasing);
//     the products then become small dense matrix products;
//   * diagonal 16x16 blocks use running products of the per-step decays alpha = exp(g) (each <= 1).
// Γ is accumulated in double so differences of large cumulative decays stay exact.
// A partial last chunk is zero-padded: padded rows have q = k = v = beta = g = 0, which makes every padded
// contribution vanish and carries the chunk decay of the last valid row to the chunk end.
//
// The backward recomputes: a forward state pass stores the state entering every chunk (NT·K·V floats per
// thread), then a reverse pass recomputes each chunk's intra quantities and applies §4.2. Only parallel over
// streams: with fewer (batch, head) pairs than threads the extra threads idle. Each stream's arithmetic is
// fixed, so results are bit-identical for any thread count.

static constexpr int BC = 16;  // sub-chunk size

static inline long pad16(long n) { return (n + 15) / 16 * 16; }

// ---- small dense products ---------------------------------------------------------------------------------

// C[M x N] = (acc ? C : 0) + alpha * sum_k A(m,k) * B[k*ldb + n], with A(m,k) = A[m*sam + k*sak].
// N is a multiple of W; rows of B and C are contiguous. The reduction order over k is fixed (deterministic).
template <int MR, int NV>
static inline void gemm_tile(int Kd, const float* A, long sam, long sak, const float* B, long ldb, float* C, long ldc,
                             float alpha, bool acc) {
  VF c[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) c[i][j] = vzero();
  for (int k = 0; k < Kd; ++k) {
    VF b[NV];
    const float* bk = B + k * ldb;
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) b[j] = vld(bk + j * W);
    const float* ak = A + k * sak;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      VF a = vset(ak[i * sam]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) c[i][j] = vfma(a, b[j], c[i][j]);
    }
  }
  VF al = vset(alpha);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      float* p = C + i * ldc + j * W;
      vst(p, acc ? vfma(c[i][j], al, vld(p)) : vmul(c[i][j], al));
    }
}

using TileFn = void (*)(int, const float*, long, long, const float*, long, float*, long, float, bool);

template <int MR>
static inline TileFn tile_for_nv(int nv) {
  switch (nv) {
    case 1: return gemm_tile<MR, 1>;
    case 2: return gemm_tile<MR, (GEMM_NV >= 2 ? 2 : 1)>;
    case 3: return gemm_tile<MR, (GEMM_NV >= 3 ? 3 : 1)>;
    default: return gemm_tile<MR, GEMM_NV>;
  }
}
static inline TileFn tile_for(int mr, int nv) {
  switch (mr) {
    case 1: return tile_for_nv<1>(nv);
    case 2: return tile_for_nv<2>(nv);
    case 3: return tile_for_nv<3>(nv);
    case 4: return tile_for_nv<4>(nv);
    case 5: return tile_for_nv<(GEMM_MR >= 5 ? 5 : 4)>(nv);
    default: return tile_for_nv<GEMM_MR>(nv);
  }
}

static void gemm(int M, int N, int Kd, const float* A, long sam, long sak, const float* B, long ldb, float* C, long ldc,
                 float alpha, bool acc) {
  const int strip = GEMM_NV * W;
  for (int n0 = 0; n0 < N; n0 += strip) {
    int nv = std::min(GEMM_NV, (N - n0) / W);
    for (int m0 = 0; m0 < M; m0 += GEMM_MR) {
      int mr = std::min(GEMM_MR, M - m0);
      tile_for(mr, nv)(Kd, A + m0 * sam, sam, sak, B + n0, ldb, C + m0 * ldc + n0, ldc, alpha, acc);
    }
  }
}

// out[j*ldo + i] = in[i*ldi + j] for i < R, j < Cn (both multiples of 16).
static void transpose(const float* in, int R, int Cn, long ldi, float* out, long ldo) {
  for (int i = 0; i < R; i += TILE)
    for (int j = 0; j < Cn; j += TILE) transpose_tile(in + i * ldi + j, ldi, out + j * ldo + i, ldo);
}

static inline float dot(const float* a, const float* b, int n) {
  VF s = vzero();
  for (int d = 0; d < n; d += W) s = vfma(vld(a + d), vld(b + d), s);
  return vsum(s);
}

// dst[0, n) = src[0, n) for any n (rows of the caller's tensors are not padded). Kept as an inline vector
// loop: GCC would otherwise turn it into a memcpy call per row, whose overhead is large for 60..512-byte rows.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static inline void copy_row(float* __restrict dst, const float* __restrict src, int n) {
  int d = 0;
  for (; d + W <= n; d += W) vst(dst + d, vld(src + d));
  for (; d < n; ++d) dst[d] = src[d];
}
// Output rows that fill whole aligned vectors bypass the cache (no read-for-ownership of lines that are about to
// be overwritten); others are copied normally. The caller ends its work with _mm_sfence().
static inline void store_row(float* __restrict dst, const float* __restrict src, int n, float scale = 1.0f) {
  const VF f = vset(scale);
  if (n % W == 0 && reinterpret_cast<uintptr_t>(dst) % (W * sizeof(float)) == 0) {
    for (int d = 0; d < n; d += W) vst_stream(dst + d, vmul(vld(src + d), f));
  } else {
    int d = 0;
    for (; d + W <= n; d += W) vst(dst + d, vmul(vld(src + d), f));
    for (; d < n; ++d) dst[d] = src[d] * scale;
  }
}
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static inline void zero_row(float* dst, int n) {
  int d = 0;
  for (; d + W <= n; d += W) vst(dst + d, vzero());
  for (; d < n; ++d) dst[d] = 0.0f;
}

// out = exp(a − b) (b may be null: exp(a)); the difference is taken in double, then rounded.
static inline void exp_diff(float* __restrict out, const double* __restrict a, const double* __restrict b, int n) {
  if (b)
    for (int d = 0; d < n; ++d) out[d] = static_cast<float>(a[d] - b[d]);
  else
    for (int d = 0; d < n; ++d) out[d] = static_cast<float>(a[d]);
  for (int d = 0; d < n; d += W) vst(out + d, vexp(vld(out + d)));
}

// In-place solves with one BC x BC diagonal block of the unit lower-triangular (I + L), a register-resident
// column strip at a time: X ← (I + L_blk)⁻¹ X (forward) and Y ← (I + L_blk)⁻ᵀ Y (backward). X, Y: BC rows, ld ldx.
static inline void solve_block_lower(float* X, long ldx, const float* L, long ldl) {
  for (long c0 = 0; c0 < ldx; c0 += W) {
    VF x[BC];
#pragma GCC unroll 16
    for (int r = 0; r < BC; ++r) x[r] = vld(X + r * ldx + c0);
#pragma GCC unroll 16
    for (int i = 0; i < BC; ++i)
#pragma GCC unroll 16
      for (int r = i + 1; r < BC; ++r) x[r] = vfnma(vset(L[r * ldl + i]), x[i], x[r]);
#pragma GCC unroll 16
    for (int r = 0; r < BC; ++r) vst(X + r * ldx + c0, x[r]);
  }
}
static inline void solve_block_upper(float* Y, long ldy, const float* L, long ldl) {
  for (long c0 = 0; c0 < ldy; c0 += W) {
    VF y[BC];
#pragma GCC unroll 16
    for (int r = 0; r < BC; ++r) y[r] = vld(Y + r * ldy + c0);
#pragma GCC unroll 16
    for (int r = BC - 1; r > 0; --r)
#pragma GCC unroll 16
      for (int i = 0; i < r; ++i) y[i] = vfnma(vset(L[r * ldl + i]), y[r], y[i]);
#pragma GCC unroll 16
    for (int r = 0; r < BC; ++r) vst(Y + r * ldy + c0, y[r]);
  }
}

// ---- per-thread workspace ---------------------------------------------------------------------------------

struct Work {
  int C, K, V, NC, Kp, Vp, LX;
  float scale;
  std::vector<double> G;  // Γ, cumulative log decay inside the chunk [C, Kp]
  float* mem = nullptr;
  // chunk inputs (zero padded)
  float *qc, *kc, *gc, *vc, *bc, *dO;
  // decay factors
  float *gam, *ebar, *lam, *rho, *alp, *mu, *E;
  // intra-chunk operands
  float *Qg, *Kg, *Kbar, *sQl, *bKl, *Krho, *KrhoT, *RT, *A, *Lm, *X, *Vt, *O, *S;
  // backward
  float *dVt, *dA, *dL, *dX, *VtT, *S0T, *dST, *XT, *dQi, *dKb, *P1, *Rr, *Coff, *Cd, *dG, *dS, *tmp, *colsum;

  Work(int C_, int K_, int V_, float scale_)
      : C(C_), K(K_), V(V_), NC(C_ / BC), Kp(pad16(K_)), Vp(pad16(V_)), LX(0), scale(scale_) {
    LX = Kp + Vp;
    G.assign(static_cast<size_t>(C) * Kp, 0.0);
    const long CK = (long)C * Kp, CV = (long)C * Vp, CC = (long)C * C, KV = (long)Kp * Vp, CX = (long)C * LX;
    struct Slot {
      float** p;
      long n;
    } slots[] = {
        {&qc, CK},   {&kc, CK},    {&gc, CK},   {&vc, CV},   {&bc, pad16(C)}, {&dO, CV},  {&gam, CK},
        {&ebar, CK}, {&lam, CK},   {&rho, CK},  {&alp, CK},  {&mu, (long)NC * NC * Kp}, {&E, Kp},
        {&Qg, CK},   {&Kg, CK},    {&Kbar, CK}, {&sQl, CK},  {&bKl, CK},    {&Krho, CK}, {&KrhoT, CK},
        {&RT, CK},   {&A, CC},     {&Lm, CC},   {&X, CX},    {&Vt, CV},     {&O, CV},    {&S, KV},
        {&dVt, CV},  {&dA, CC},    {&dL, CC},   {&dX, CX},   {&VtT, CV},    {&S0T, KV},  {&dST, KV},
        {&XT, CX},   {&dQi, CK},   {&dKb, CK},  {&P1, CK},   {&Rr, CK},     {&Coff, CK}, {&Cd, CK},
        {&dG, CK},   {&dS, KV},    {&tmp, CK > CV ? CK : CV}, {&colsum, Kp},
    };
    long total = 0;
    for (auto& s : slots) total += pad16(s.n);
    mem = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(total) * sizeof(float)));
    if (!mem) throw std::bad_alloc();
    std::memset(mem, 0, static_cast<size_t>(total) * sizeof(float));
    long off = 0;
    for (auto& s : slots) {
      *s.p = mem + off;
      off += pad16(s.n);
    }
  }
  ~Work() { std::free(mem); }
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;
};

// One (batch, head) stream of the problem: base pointers and row strides.
struct Stream {
  const float *q, *k, *v, *g, *beta, *dO;
  long sk, sv, sb;
};

static Stream stream_of(const KdaProblem& P, int bh) {
  const int b = bh / P.H, h = bh % P.H;
  const long row0 = static_cast<long>(b) * P.T * P.H + h;
  Stream s;
  s.q = P.q + row0 * P.K;
  s.k = P.k + row0 * P.K;
  s.g = P.g + row0 * P.K;
  s.v = P.v + row0 * P.V;
  s.beta = P.beta + row0;
  s.dO = P.dO ? P.dO + row0 * P.V : nullptr;
  s.sk = static_cast<long>(P.H) * P.K;
  s.sv = static_cast<long>(P.H) * P.V;
  s.sb = P.H;
  return s;
}

// Rows of the next chunk to bring towards L2, a row at a time, spread over the current chunk's work. Rows are
// H·K floats apart, which the hardware prefetchers follow poorly; issuing a whole chunk of prefetches at once
// would just stall on the line-fill buffers.
struct RowPrefetch {
  const float* base[10];
  long stride[10], bytes[10];
  int n = 0;
  long t0 = 0, t1 = 0;
  void add(const float* b, long st, long by) {
    base[n] = b, stride[n] = st, bytes[n] = by;
    ++n;
  }
  void row(int r) const {
    const long t = t0 + r;
    if (t < t0 || t >= t1) return;
    for (int a = 0; a < n; ++a) {
      const char* p = reinterpret_cast<const char*>(base[a] + t * stride[a]);
      for (long o = 0; o < bytes[a]; o += 64) _mm_prefetch(p + o, _MM_HINT_T1);
    }
  }
};

// The inputs (and output rows) of the chunk starting at t0 (none when t0 is outside the sequence).
static RowPrefetch chunk_prefetch(const KdaProblem& P, const Stream& s, int bh, int C, int t0, bool fwd_out,
                                  bool bwd_in, bool bwd_out) {
  RowPrefetch pf;
  if (t0 < 0 || t0 >= P.T) return pf;
  pf.t0 = t0, pf.t1 = std::min(P.T, t0 + C);
  const long kb = (long)P.K * 4, vb = (long)P.V * 4;
  pf.add(s.q, s.sk, kb);
  pf.add(s.k, s.sk, kb);
  pf.add(s.g, s.sk, kb);
  pf.add(s.v, s.sv, vb);
  const long row0 = (long)(bh / P.H) * P.T * P.H + bh % P.H;
  if (bwd_in) pf.add(s.dO, s.sv, vb);
  if (fwd_out) pf.add(P.o + row0 * P.V, s.sv, vb);
  if (bwd_out) {
    pf.add(P.dq + row0 * P.K, s.sk, kb);
    pf.add(P.dk + row0 * P.K, s.sk, kb);
    pf.add(P.dg + row0 * P.K, s.sk, kb);
    pf.add(P.dv + row0 * P.V, s.sv, vb);
  }
  return pf;
}

// Copies rows [t0, t0+n) of a stream into the zero-padded chunk buffers.
static void gather(const KdaProblem& P, const Stream& s, Work& w, int t0, int n, bool with_dO) {
  const int C = w.C, Kp = w.Kp, Vp = w.Vp, K = P.K, V = P.V;
  for (int r = 0; r < C; ++r) {
    float *q = w.qc + r * Kp, *k = w.kc + r * Kp, *g = w.gc + r * Kp, *v = w.vc + r * Vp;
    if (r < n) {
      const long t = t0 + r;
      copy_row(q, s.q + t * s.sk, K);
      copy_row(k, s.k + t * s.sk, K);
      copy_row(g, s.g + t * s.sk, K);
      // exp(-1000) is 0 in float and double alike: clamping changes no result but keeps -inf (a full reset)
      // from turning differences of cumulative gates into NaN.
      for (int d = 0; d < K; ++d) g[d] = std::max(g[d], -1000.0f);
      copy_row(v, s.v + t * s.sv, V);
      w.bc[r] = s.beta[t * s.sb];
      if (with_dO) copy_row(w.dO + r * Vp, s.dO + t * s.sv, V);
    } else {
      zero_row(q, K);
      zero_row(k, K);
      zero_row(g, K);
      zero_row(v, V);
      w.bc[r] = 0.0f;
      if (with_dO) zero_row(w.dO + r * Vp, V);
    }
    // columns K..Kp and V..Vp stay zero from the workspace's initial memset (never written)
  }
}

// ---- intra-chunk quantities (state independent) -----------------------------------------------------------
// Γ, decay factors, Qg = s·q⊙γ, Kg = k⊙γ, Kbar = k⊙γ_C/γ, the L matrix (strictly lower, row-scaled by β),
// the A matrix (lower incl. diagonal, scaled by s; only when need_A) and X = [W U] = (I+L)⁻¹ [β·Kg, β·V].
static void compute_intra(Work& w, bool need_A, const RowPrefetch& pf) {
  const int C = w.C, NC = w.NC, Kp = w.Kp, Vp = w.Vp, LX = w.LX;
  const float s = w.scale;
  double* G = w.G.data();
  {
    const float* __restrict gc = w.gc;
    for (int d = 0; d < Kp; ++d) G[d] = gc[d];
    for (int r = 1; r < C; ++r) {
      const double* __restrict prev = G + (long)(r - 1) * Kp;
      double* __restrict cur = G + (long)r * Kp;
      const float* __restrict gr = gc + (long)r * Kp;
      for (int d = 0; d < Kp; ++d) cur[d] = prev[d] + gr[d];
    }
  }

  // Per row: lam = exp(Γ_r − P_{I−1}), rho = exp(P_I − Γ_r), alp = exp(g_r). Per sub-chunk I: the decay from the
  // chunk start to the sub-chunk start, exp(P_{I−1}), and from the sub-chunk end to the chunk end, exp(Γ_C − P_I),
  // give gam = lam·exp(P_{I−1}) and ebar = rho·exp(Γ_C − P_I) as products of factors <= 1.
  const double* Gend = G + (long)(C - 1) * Kp;
  for (int I = 0; I < NC; ++I) {
    const double* Pprev = I ? G + (long)(BC * I - 1) * Kp : nullptr;
    const double* Pself = G + (long)(BC * I + BC - 1) * Kp;
    float* head = w.tmp;       // exp(P_{I−1})
    float* tail = w.tmp + Kp;  // exp(Γ_C − P_I)
    if (Pprev)
      exp_diff(head, Pprev, nullptr, Kp);
    else
      for (int d = 0; d < Kp; d += W) vst(head + d, vset(1.0f));
    exp_diff(tail, Gend, Pself, Kp);
    for (int r = BC * I; r < BC * I + BC; ++r) {
      pf.row(r);
      const long o = (long)r * Kp;
      const double* Gr = G + o;
      if (Pprev)
        exp_diff(w.lam + o, Gr, Pprev, Kp);
      else
        exp_diff(w.lam + o, Gr, nullptr, Kp);
      exp_diff(w.rho + o, Pself, Gr, Kp);
      for (int d = 0; d < Kp; d += W) {
        vst(w.alp + o + d, vexp(vld(w.gc + o + d)));
        vst(w.gam + o + d, vmul(vld(w.lam + o + d), vld(head + d)));
        vst(w.ebar + o + d, vmul(vld(w.rho + o + d), vld(tail + d)));
      }
    }
  }
  for (int I = 2; I < NC; ++I)
    for (int J = 0; J < I - 1; ++J)
      exp_diff(w.mu + (long)(I * NC + J) * Kp, G + (long)(BC * I - 1) * Kp, G + (long)(BC * J + BC - 1) * Kp, Kp);

  const VF vs = vset(s);
  for (int r = 0; r < C; ++r) {
    const long o = (long)r * Kp;
    const VF vb = vset(w.bc[r]);
    for (int d = 0; d < Kp; d += W) {
      VF q = vld(w.qc + o + d), k = vld(w.kc + o + d), lam = vld(w.lam + o + d);
      VF gam = vld(w.gam + o + d);
      vst(w.Qg + o + d, vmul(vmul(q, gam), vs));
      vst(w.Kg + o + d, vmul(k, gam));
      vst(w.Kbar + o + d, vmul(k, vld(w.ebar + o + d)));
      vst(w.Krho + o + d, vmul(k, vld(w.rho + o + d)));
      vst(w.bKl + o + d, vmul(vmul(k, lam), vb));
      if (need_A) vst(w.sQl + o + d, vmul(vmul(q, lam), vs));
    }
  }

  // Off-diagonal sub-chunk blocks of L (and A): [row block I] x [columns 0 .. BC*I).
  transpose(w.Krho, C, Kp, Kp, w.KrhoT, C);
  for (int I = 1; I < NC; ++I) {
    const int nI = BC * I;
    for (int d = 0; d < Kp; ++d) {
      for (int J = 0; J < I; ++J) {
        const float* src = w.KrhoT + (long)d * C + BC * J;
        float* dst = w.RT + (long)d * C + BC * J;
        if (J == I - 1) {
          for (int i = 0; i < BC; i += W) vst(dst + i, vld(src + i));
        } else {
          VF f = vset(w.mu[(long)(I * NC + J) * Kp + d]);
          for (int i = 0; i < BC; i += W) vst(dst + i, vmul(vld(src + i), f));
        }
      }
    }
    gemm(BC, nI, Kp, w.bKl + (long)nI * Kp, Kp, 1, w.RT, C, w.Lm + (long)nI * C, C, 1.0f, false);
    if (need_A) gemm(BC, nI, Kp, w.sQl + (long)nI * Kp, Kp, 1, w.RT, C, w.A + (long)nI * C, C, 1.0f, false);
  }

  // Diagonal blocks: E_ri = prod_{j=i+1..r} alpha_j, built from the diagonal outwards.
  for (int r = 0; r < C; ++r) {
    const int i0 = (r / BC) * BC;
    float* Arow = w.A + (long)r * C;
    float* Lrow = w.Lm + (long)r * C;
    for (int i = i0; i < C; ++i) Lrow[i] = 0.0f;
    if (need_A)
      for (int i = i0; i < C; ++i) Arow[i] = 0.0f;
    const float* qr = w.qc + (long)r * Kp;
    const float* kr = w.kc + (long)r * Kp;
    if (need_A) Arow[r] = s * dot(qr, kr, Kp);
    for (int d = 0; d < Kp; d += W) vst(w.E + d, vset(1.0f));
    for (int i = r - 1; i >= i0; --i) {
      const float* ki = w.kc + (long)i * Kp;
      const float* ai = w.alp + (long)(i + 1) * Kp;
      VF sq = vzero(), sk = vzero();
      for (int d = 0; d < Kp; d += W) {
        VF e = vmul(vld(w.E + d), vld(ai + d));
        vst(w.E + d, e);
        VF t = vmul(e, vld(ki + d));
        sq = vfma(vld(qr + d), t, sq);
        sk = vfma(vld(kr + d), t, sk);
      }
      Lrow[i] = w.bc[r] * vsum(sk);
      if (need_A) Arow[i] = s * vsum(sq);
    }
  }

  // X = (I + L)⁻¹ [β·Kg, β·V] by blocked forward substitution.
  for (int r = 0; r < C; ++r) {
    const VF vb = vset(w.bc[r]);
    float* x = w.X + (long)r * LX;
    for (int d = 0; d < Kp; d += W) vst(x + d, vmul(vld(w.Kg + (long)r * Kp + d), vb));
    for (int d = 0; d < Vp; d += W) vst(x + Kp + d, vmul(vld(w.vc + (long)r * Vp + d), vb));
  }
  for (int I = 0; I < NC; ++I) {
    const int r0 = BC * I;
    if (I) gemm(BC, LX, r0, w.Lm + (long)r0 * C, C, 1, w.X, LX, w.X + (long)r0 * LX, LX, -1.0f, true);
    solve_block_lower(w.X + (long)r0 * LX, LX, w.Lm + (long)r0 * C + r0, C);
  }
}

// Ṽ = U − W·S (S: state entering the chunk)
static void pseudo_values(Work& w, const float* S) {
  const int C = w.C, Kp = w.Kp, Vp = w.Vp, LX = w.LX;
  for (int r = 0; r < C; ++r) copy_row(w.Vt + (long)r * Vp, w.X + (long)r * LX + Kp, Vp);
  gemm(C, Vp, Kp, w.X, LX, 1, S, Vp, w.Vt, Vp, -1.0f, true);
}

// S ← diag(γ_C)·S + Kbarᵀ·Ṽ (rows >= n of Kbar and Ṽ are zero, so only n of them are summed)
static void advance_state(Work& w, float* S, int n) {
  const int C = w.C, Kp = w.Kp, Vp = w.Vp;
  const float* gC = w.gam + (long)(C - 1) * Kp;
  for (int d = 0; d < Kp; ++d) {
    const VF f = vset(gC[d]);
    float* row = S + (long)d * Vp;
    for (int v = 0; v < Vp; v += W) vst(row + v, vmul(vld(row + v), f));
  }
  gemm(Kp, Vp, n, w.Kbar, 1, Kp, w.Vt, Vp, S, Vp, 1.0f, true);
}

static void load_state(const KdaProblem& P, const float* src, Work& w, float* S) {
  std::memset(S, 0, sizeof(float) * w.Kp * w.Vp);
  if (!src) return;
  for (int d = 0; d < P.K; ++d) std::memcpy(S + (long)d * w.Vp, src + (long)d * P.V, P.V * sizeof(float));
}
static void store_state(const KdaProblem& P, const float* S, const Work& w, float* dst) {
  for (int d = 0; d < P.K; ++d) std::memcpy(dst + (long)d * P.V, S + (long)d * w.Vp, P.V * sizeof(float));
}

// ---- forward ----------------------------------------------------------------------------------------------

static void forward_stream(const KdaProblem& P, Work& w, int bh) {
  const Stream st = stream_of(P, bh);
  const int C = w.C, Vp = w.Vp, Kp = w.Kp;
  const long KV = (long)P.K * P.V;
  load_state(P, P.h0 ? P.h0 + bh * KV : nullptr, w, w.S);
  for (int t0 = 0; t0 < P.T; t0 += C) {
    const int n = std::min(C, P.T - t0);
    gather(P, st, w, t0, n, false);
    compute_intra(w, true, chunk_prefetch(P, st, bh, C, t0 + C, true, false, false));
    pseudo_values(w, w.S);
    // O = Qg·S + A·Ṽ (A is lower triangular: row block I needs Ṽ rows < BC*(I+1))
    gemm(C, Vp, Kp, w.Qg, Kp, 1, w.S, Vp, w.O, Vp, 1.0f, false);
    for (int I = 0; I < w.NC; ++I)
      gemm(BC, Vp, BC * (I + 1), w.A + (long)BC * I * C, C, 1, w.Vt, Vp, w.O + (long)BC * I * Vp, Vp, 1.0f, true);
    advance_state(w, w.S, n);
    const int b = bh / P.H, h = bh % P.H;
    for (int r = 0; r < n; ++r)
      store_row(P.o + ((static_cast<long>(b) * P.T + t0 + r) * P.H + h) * P.V, w.O + (long)r * Vp, P.V);
  }
  if (P.ht) store_state(P, w.S, w, P.ht + bh * KV);
}

// ---- backward ---------------------------------------------------------------------------------------------

// Gradients of one chunk. On entry w.dS holds the gradient w.r.t. the chunk-end state; on exit the gradient
// w.r.t. the chunk-start state S0. Writes dq, dk, dv, dg, dbeta rows [t0, t0+n).
static void backward_chunk(const KdaProblem& P, Work& w, const float* S0, int bh, int t0, int n) {
  const int C = w.C, NC = w.NC, Kp = w.Kp, Vp = w.Vp, LX = w.LX;
  const float s = w.scale;
  const float* gC = w.gam + (long)(C - 1) * Kp;

  pseudo_values(w, S0);

  // dA = tril_incl(dO·Ṽᵀ) (unscaled; dÂ = s·dA)
  transpose(w.Vt, C, Vp, Vp, w.VtT, C);
  for (int I = 0; I < NC; ++I) {
    const int r0 = BC * I;
    gemm(BC, r0 + BC, Vp, w.dO + (long)r0 * Vp, Vp, 1, w.VtT, C, w.dA + (long)r0 * C, C, 1.0f, false);
    for (int r = r0; r < r0 + BC; ++r)
      for (int i = r + 1; i < C; ++i) w.dA[(long)r * C + i] = 0.0f;
  }

  // dṼ = Aᵀ·dO + Kbar·dS1
  gemm(C, Vp, Kp, w.Kbar, Kp, 1, w.dS, Vp, w.dVt, Vp, 1.0f, false);
  for (int I = 0; I < NC; ++I) {
    const int r0 = BC * I;
    gemm(BC, Vp, C - r0, w.A + (long)r0 * C + r0, 1, C, w.dO + (long)r0 * Vp, Vp, w.dVt + (long)r0 * Vp, Vp, 1.0f,
         true);
  }

  // dKbar = Ṽ·dS1ᵀ; the chunk-decay gradient γ_C ⊙ rowsum(S0 ⊙ dS1)
  transpose(w.dS, Kp, Vp, Vp, w.dST, Kp);
  gemm(C, Kp, Vp, w.Vt, Vp, 1, w.dST, Kp, w.dKb, Kp, 1.0f, false);
  for (int d = 0; d < Kp; ++d) w.colsum[d] = gC[d] * dot(S0 + (long)d * Vp, w.dS + (long)d * Vp, Vp);

  // dS0 = diag(γ_C)·dS1 + Qgᵀ·dO − Wᵀ·dṼ
  for (int d = 0; d < Kp; ++d) {
    const VF f = vset(gC[d]);
    float* row = w.dS + (long)d * Vp;
    for (int v = 0; v < Vp; v += W) vst(row + v, vmul(vld(row + v), f));
  }
  gemm(Kp, Vp, C, w.Qg, 1, Kp, w.dO, Vp, w.dS, Vp, 1.0f, true);
  gemm(Kp, Vp, C, w.X, 1, LX, w.dVt, Vp, w.dS, Vp, -1.0f, true);

  // dQi = dO·S0ᵀ (gradient of Qg), dW = −dṼ·S0ᵀ, dU = dṼ
  transpose(S0, Kp, Vp, Vp, w.S0T, Kp);
  gemm(C, Kp, Vp, w.dO, Vp, 1, w.S0T, Kp, w.dQi, Kp, 1.0f, false);
  gemm(C, Kp, Vp, w.dVt, Vp, 1, w.S0T, Kp, w.dX, LX, -1.0f, false);
  for (int r = 0; r < C; ++r) copy_row(w.dX + (long)r * LX + Kp, w.dVt + (long)r * Vp, Vp);

  // Y = (I + L)⁻ᵀ [dW dU] (blocked back substitution, in place in dX): Y = [dBk dBv]
  for (int I = NC - 1; I >= 0; --I) {
    const int r0 = BC * I, r1 = r0 + BC;
    if (r1 < C)
      gemm(BC, LX, C - r1, w.Lm + (long)r1 * C + r0, 1, C, w.dX + (long)r1 * LX, LX, w.dX + (long)r0 * LX, LX, -1.0f,
           true);
    solve_block_upper(w.dX + (long)r0 * LX, LX, w.Lm + (long)r0 * C + r0, C);
  }

  // dL = −tril_strict(Y·Xᵀ)
  transpose(w.X, C, LX, LX, w.XT, C);
  for (int I = 0; I < NC; ++I) {
    const int r0 = BC * I;
    gemm(BC, r0 + BC, LX, w.dX + (long)r0 * LX, LX, 1, w.XT, C, w.dL + (long)r0 * C, C, -1.0f, false);
    for (int r = r0; r < r0 + BC; ++r)
      for (int i = r; i < C; ++i) w.dL[(long)r * C + i] = 0.0f;
  }

  // Intra A/L backward. Off-diagonal blocks as products with the lam/mu/rho factors:
  //   P1_r = s·lam_r ⊙ (dA·R)_r,  Rr_r = lam_r ⊙ (dL·R)_r,  Coff_i = rho_i ⊙ Σ_I mu_I,J(i) ⊙ (dAᵀ·sQl + dLᵀ·bKl)_i
  std::memset(w.P1, 0, sizeof(float) * C * Kp);
  std::memset(w.Rr, 0, sizeof(float) * C * Kp);
  std::memset(w.Coff, 0, sizeof(float) * C * Kp);
  std::memset(w.Cd, 0, sizeof(float) * C * Kp);
  for (int I = 1; I < NC; ++I) {
    const int nI = BC * I;
    float* R = w.RT;  // row-major [nI, Kp]: R_i = Krho_i ⊙ mu_I,J(i)
    for (int J = 0; J < I; ++J)
      for (int i = BC * J; i < BC * J + BC; ++i) {
        const float* src = w.Krho + (long)i * Kp;
        float* dst = R + (long)i * Kp;
        if (J == I - 1)
          copy_row(dst, src, Kp);
        else {
          const float* m = w.mu + (long)(I * NC + J) * Kp;
          for (int d = 0; d < Kp; d += W) vst(dst + d, vmul(vld(src + d), vld(m + d)));
        }
      }
    gemm(BC, Kp, nI, w.dA + (long)nI * C, C, 1, R, Kp, w.P1 + (long)nI * Kp, Kp, s, false);
    gemm(BC, Kp, nI, w.dL + (long)nI * C, C, 1, R, Kp, w.Rr + (long)nI * Kp, Kp, 1.0f, false);
    for (int r = nI; r < nI + BC; ++r) {
      const long o = (long)r * Kp;
      for (int d = 0; d < Kp; d += W) {
        VF lam = vld(w.lam + o + d);
        vst(w.P1 + o + d, vmul(vld(w.P1 + o + d), lam));
        vst(w.Rr + o + d, vmul(vld(w.Rr + o + d), lam));
      }
    }
    gemm(nI, Kp, BC, w.dA + (long)nI * C, 1, C, w.sQl + (long)nI * Kp, Kp, w.tmp, Kp, 1.0f, false);
    gemm(nI, Kp, BC, w.dL + (long)nI * C, 1, C, w.bKl + (long)nI * Kp, Kp, w.tmp, Kp, 1.0f, true);
    for (int J = 0; J < I; ++J)
      for (int i = BC * J; i < BC * J + BC; ++i) {
        const long o = (long)i * Kp;
        if (J == I - 1) {
          for (int d = 0; d < Kp; d += W) vst(w.Coff + o + d, vadd(vld(w.Coff + o + d), vld(w.tmp + o + d)));
        } else {
          const float* m = w.mu + (long)(I * NC + J) * Kp;
          for (int d = 0; d < Kp; d += W)
            vst(w.Coff + o + d, vfma(vld(w.tmp + o + d), vld(m + d), vld(w.Coff + o + d)));
        }
      }
  }
  // Diagonal blocks with running decay products.
  for (int r = 0; r < C; ++r) {
    const int i0 = (r / BC) * BC;
    const long orow = (long)r * Kp;
    const float* qr = w.qc + orow;
    const float* kr = w.kc + orow;
    float* p1 = w.P1 + orow;
    float* rr = w.Rr + orow;
    {
      const VF a = vset(s * w.dA[(long)r * C + r]);
      float* cd = w.Cd + orow;
      for (int d = 0; d < Kp; d += W) {
        vst(p1 + d, vfma(a, vld(kr + d), vld(p1 + d)));
        vst(cd + d, vfma(a, vld(qr + d), vld(cd + d)));
      }
    }
    for (int d = 0; d < Kp; d += W) vst(w.E + d, vset(1.0f));
    const float br = w.bc[r];
    for (int i = r - 1; i >= i0; --i) {
      const float* ki = w.kc + (long)i * Kp;
      const float* ai = w.alp + (long)(i + 1) * Kp;
      float* ci = w.Cd + (long)i * Kp;
      const float as = s * w.dA[(long)r * C + i], l = w.dL[(long)r * C + i];
      const VF va = vset(as), vl = vset(l), vlb = vset(l * br);
      for (int d = 0; d < Kp; d += W) {
        VF e = vmul(vld(w.E + d), vld(ai + d));
        vst(w.E + d, e);
        VF t = vmul(e, vld(ki + d));
        vst(p1 + d, vfma(va, t, vld(p1 + d)));
        vst(rr + d, vfma(vl, t, vld(rr + d)));
        VF u = vfma(vlb, vld(kr + d), vmul(va, vld(qr + d)));
        vst(ci + d, vfma(u, e, vld(ci + d)));
      }
    }
  }

  // Assemble per-row gradients and the cumulative-gate gradient dΓ.
  const int b = bh / P.H, h = bh % P.H;
  const VF vs = vset(s);
  for (int d = 0; d < Kp; ++d) w.tmp[d] = 0.0f;  // Σ_r k_r ⊙ dK^inter_r
  for (int r = 0; r < C; ++r) {
    const long o = (long)r * Kp;
    const float br = w.bc[r];
    const VF vb = vset(br);
    VF dbk = vzero(), dbv = vzero(), dbr = vzero();
    const float* yk = w.dX + (long)r * LX;
    const float* yv = yk + Kp;
    for (int d = 0; d < Kp; d += W) {
      VF q = vld(w.qc + o + d), k = vld(w.kc + o + d), gam = vld(w.gam + o + d);
      VF dbkr = vld(yk + d);                                       // dBk_r
      VF dq = vfma(vmul(vs, gam), vld(w.dQi + o + d), vld(w.P1 + o + d));
      VF dki = vmul(vld(w.dKb + o + d), vld(w.ebar + o + d));      // dK^inter
      VF c = vfma(vld(w.Coff + o + d), vld(w.rho + o + d), vld(w.Cd + o + d));
      VF rr = vld(w.Rr + o + d);
      VF kpart = vmul(vb, vfma(gam, dbkr, rr));                    // β(γ dBk + R)
      VF dk = vadd(vadd(dki, kpart), c);
      dbk = vfma(dbkr, vld(w.Kg + o + d), dbk);
      dbr = vfma(rr, k, dbr);
      VF dGr = vfma(q, dq, vmul(k, vsub(kpart, vadd(dki, c))));
      vst(w.dG + o + d, dGr);
      vst(w.tmp + d, vfma(k, dki, vld(w.tmp + d)));
      vst(w.P1 + o + d, dq);  // reuse as dq output
      vst(w.Rr + o + d, dk);  // reuse as dk output
    }
    for (int d = 0; d < Vp; d += W) dbv = vfma(vld(yv + d), vld(w.vc + (long)r * Vp + d), dbv);
    if (r < n) {
      const long t = t0 + r;
      const long rowk = ((static_cast<long>(b) * P.T + t) * P.H + h);
      store_row(P.dq + rowk * P.K, w.P1 + o, P.K);
      store_row(P.dk + rowk * P.K, w.Rr + o, P.K);
      store_row(P.dv + rowk * P.V, yv, P.V, br);
      P.dbeta[rowk] = vsum(dbk) + vsum(dbv) + vsum(dbr);
    }
  }
  // last row: chunk-decay terms; then dg = reverse cumulative sum of dΓ inside the chunk
  {
    float* last = w.dG + (long)(C - 1) * Kp;
    for (int d = 0; d < Kp; ++d) last[d] += w.colsum[d] + w.tmp[d];
  }
  double* __restrict acc = w.G.data();  // reuse Γ storage (no longer needed) as the double accumulator
  for (int d = 0; d < Kp; ++d) acc[d] = 0.0;
  for (int r = C - 1; r >= 0; --r) {
    float* sum = w.dG + (long)r * Kp;  // dΓ_r in, dg_r out
    for (int d = 0; d < Kp; ++d) {
      acc[d] += sum[d];
      sum[d] = static_cast<float>(acc[d]);
    }
    if (r < n) {
      const long rowk = ((static_cast<long>(b) * P.T + t0 + r) * P.H + h);
      store_row(P.dg + rowk * P.K, sum, P.K);
    }
  }
}

static void backward_stream(const KdaProblem& P, Work& w, std::vector<float>& hist, int bh) {
  const Stream st = stream_of(P, bh);
  const int C = w.C, Kp = w.Kp, Vp = w.Vp;
  const long KV = (long)P.K * P.V, KVp = (long)Kp * Vp;
  const int NT = (P.T + C - 1) / C;
  // forward state pass: the state entering every chunk
  load_state(P, P.h0 ? P.h0 + bh * KV : nullptr, w, w.S);
  for (int c = 0; c < NT; ++c) {
    const int t0 = c * C, n = std::min(C, P.T - t0);
    std::memcpy(hist.data() + c * KVp, w.S, KVp * sizeof(float));
    if (c == NT - 1) break;  // the last chunk's end state is not needed
    gather(P, st, w, t0, n, false);
    compute_intra(w, false, chunk_prefetch(P, st, bh, C, t0 + C, false, c + 1 == NT - 1, false));
    pseudo_values(w, w.S);
    advance_state(w, w.S, n);
  }
  // reverse pass
  load_state(P, P.dht ? P.dht + bh * KV : nullptr, w, w.dS);
  for (int c = NT - 1; c >= 0; --c) {
    const int t0 = c * C, n = std::min(C, P.T - t0);
    gather(P, st, w, t0, n, true);
    compute_intra(w, true, chunk_prefetch(P, st, bh, C, t0 - C, false, true, true));
    backward_chunk(P, w, hist.data() + c * KVp, bh, t0, n);
  }
  if (P.dh0) store_state(P, w.dS, w, P.dh0 + bh * KV);
}

// ---- entry points -----------------------------------------------------------------------------------------

// Flush denormals to zero inside the kernels: products of many decays underflow, and denormal arithmetic is
// ~100x slower on x86. Values below FLT_MIN (1.2e-38) are negligible next to the O(1) terms they are summed with.
struct FlushDenormals {
  unsigned saved;
  FlushDenormals() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040); }  // FTZ | DAZ
  ~FlushDenormals() { _mm_setcsr(saved); }
};

// Each thread keeps its workspace between calls of the same (C, K, V): its allocation and first touch cost as
// much as a small problem. The padding columns of the chunk inputs stay zero because K and V match exactly.
static Work& thread_work(const KdaProblem& P) {
  static thread_local std::unique_ptr<Work> cached;
  if (!cached || cached->C != P.C || cached->K != P.K || cached->V != P.V) {
    cached.reset();
    cached.reset(new Work(P.C, P.K, P.V, P.scale));
  }
  cached->scale = P.scale;
  return *cached;
}

// Workspace allocation happens inside the parallel region (the cache is per thread); a failure there must not
// escape an OpenMP region (that would terminate the process), so it is recorded and rethrown afterwards.
static void forward(const KdaProblem& P) {
  const int BH = P.B * P.H;
  std::atomic<bool> failed{false};
#pragma omp parallel
  {
    FlushDenormals ftz;
    Work* w = nullptr;
    try {
      w = &thread_work(P);
    } catch (...) {
      failed = true;
    }
#pragma omp barrier
    if (!failed) {
#pragma omp for schedule(static)
      for (int bh = 0; bh < BH; ++bh) forward_stream(P, *w, bh);
      _mm_sfence();  // order the streaming output stores before the results are used
    }
  }
  if (failed) throw std::bad_alloc();
}

static void backward(const KdaProblem& P) {
  const int BH = P.B * P.H;
  std::atomic<bool> failed{false};
#pragma omp parallel
  {
    FlushDenormals ftz;
    Work* w = nullptr;
    std::vector<float> hist;  // the state entering every chunk of the current stream
    try {
      w = &thread_work(P);
      hist.resize(static_cast<size_t>((P.T + P.C - 1) / P.C) * w->Kp * w->Vp);
    } catch (...) {
      failed = true;
    }
#pragma omp barrier
    if (!failed) {
#pragma omp for schedule(static)
      for (int bh = 0; bh < BH; ++bh) backward_stream(P, *w, hist, bh);
      _mm_sfence();
    }
  }
  if (failed) throw std::bad_alloc();
}
