//! Small dense kernels of the models' inner loops: dot/axpy in lanes of 8
//! (which the compiler vectorises) and AVX2 versions.  Factorisations are
//! faer's.

#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + tail
}

/// `y += alpha * x`
#[inline(always)]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Whether the CPU has AVX2 and FMA (the [`Avx2`] kernels).
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The vector kernels of the CG solver, as a trait so the solver is compiled
/// once for plain code and once for AVX2/FMA.
pub trait Kernels {
    fn dot(a: &[f32], b: &[f32]) -> f32;
    /// `y += alpha * x`
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]);
    /// `out = A v` for a symmetric row-major `A`.
    fn symv(a: &[f32], v: &[f32], out: &mut [f32]);
}

/// Solve `H x = g` in place (`g` becomes `x`) for a small symmetric
/// positive definite row-major `n × n` `H`, whose upper triangle is
/// overwritten by `U` with `H = UᵀU`; false if `H` is not positive definite.
/// Right-looking, by rows, so the work is independent vector updates of
/// contiguous rows rather than a chain of short dot products; each update
/// starts at a multiple of 8 (whole vectors, no scalar tails when `n` is a
/// multiple of 8), so the strict lower triangle holds scratch values, never
/// read for the result.  For the
/// iALS++ blocks (n ≈ 8..64), where faer's general blocked factorisation
/// took ~30% of the solver's time at n = 32 (perf); this is ~18% faster overall.
#[inline(always)]
pub fn cholesky_solve<K: Kernels>(h: &mut [f32], n: usize, g: &mut [f32]) -> bool {
    for k in 0..n {
        let (head, trailing) = h.split_at_mut((k + 1) * n);
        let row_k = &mut head[k * n..];
        let d = row_k[k];
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        let d = d.sqrt();
        row_k[k] = d;
        let inv = 1.0 / d;
        row_k[k + 1..].iter_mut().for_each(|v| *v *= inv);
        for (row_i, i) in trailing.chunks_exact_mut(n).zip(k + 1..) {
            let s = i & !7;
            K::axpy(-row_k[i], &row_k[s..], &mut row_i[s..]);
        }
    }
    // Uᵀ z = g, then U x = z.
    for k in 0..n {
        g[k] /= h[k * n + k];
        let (done, rest) = g.split_at_mut(k + 1);
        K::axpy(-done[k], &h[k * n + k + 1..(k + 1) * n], rest);
    }
    for i in (0..n).rev() {
        g[i] = (g[i] - K::dot(&h[i * n + i + 1..(i + 1) * n], &g[i + 1..])) / h[i * n + i];
    }
    true
}

pub struct Plain;

impl Kernels for Plain {
    #[inline(always)]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        dot(a, b)
    }

    #[inline(always)]
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        axpy(alpha, x, y)
    }

    #[inline(always)]
    fn symv(a: &[f32], v: &[f32], out: &mut [f32]) {
        let f = v.len();
        out.fill(0.0);
        for (b, &vb) in v.iter().enumerate() {
            axpy(vb, &a[b * f..(b + 1) * f], out);
        }
    }
}

/// AVX2/FMA kernels; only call them (through code compiled with those
/// features) after checking the CPU has them.
#[cfg(target_arch = "x86_64")]
pub struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Kernels for Avx2 {
    #[inline(always)]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `Avx2` is only used after the CPU was checked.
        unsafe { avx2::dot(a, b) }
    }

    #[inline(always)]
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        // SAFETY: as above.
        unsafe { avx2::axpy(alpha, x, y) }
    }

    #[inline(always)]
    fn symv(a: &[f32], v: &[f32], out: &mut [f32]) {
        // SAFETY: as above.
        unsafe { avx2::symv(a, v, out) }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut k = 0;
        while k + 16 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(k)), _mm256_loadu_ps(pb.add(k)), s0);
            s1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(k + 8)),
                _mm256_loadu_ps(pb.add(k + 8)),
                s1,
            );
            k += 16;
        }
        if k + 8 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(k)), _mm256_loadu_ps(pb.add(k)), s0);
            k += 8;
        }
        let mut total = hsum(_mm256_add_ps(s0, s1));
        while k < n {
            total += a[k] * b[k];
            k += 1;
        }
        total
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        let n = x.len().min(y.len());
        let (px, py) = (x.as_ptr(), y.as_mut_ptr());
        let va = _mm256_set1_ps(alpha);
        let mut k = 0;
        while k + 8 <= n {
            let r = _mm256_fmadd_ps(va, _mm256_loadu_ps(px.add(k)), _mm256_loadu_ps(py.add(k)));
            _mm256_storeu_ps(py.add(k), r);
            k += 8;
        }
        while k < n {
            y[k] += alpha * x[k];
            k += 1;
        }
    }

    /// Columns of the output in blocks of 32 held in registers while the
    /// rows of `a` stream past.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn symv(a: &[f32], v: &[f32], out: &mut [f32]) {
        let f = v.len();
        assert!(a.len() >= f * f && out.len() >= f);
        let pa = a.as_ptr();
        let mut c = 0;
        while c + 32 <= f {
            let (mut o0, mut o1, mut o2, mut o3) = (
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
            );
            for (b, &vb) in v.iter().enumerate() {
                let row = pa.add(b * f + c);
                let s = _mm256_set1_ps(vb);
                o0 = _mm256_fmadd_ps(s, _mm256_loadu_ps(row), o0);
                o1 = _mm256_fmadd_ps(s, _mm256_loadu_ps(row.add(8)), o1);
                o2 = _mm256_fmadd_ps(s, _mm256_loadu_ps(row.add(16)), o2);
                o3 = _mm256_fmadd_ps(s, _mm256_loadu_ps(row.add(24)), o3);
            }
            let po = out.as_mut_ptr().add(c);
            _mm256_storeu_ps(po, o0);
            _mm256_storeu_ps(po.add(8), o1);
            _mm256_storeu_ps(po.add(16), o2);
            _mm256_storeu_ps(po.add(24), o3);
            c += 32;
        }
        while c + 8 <= f {
            let mut o = _mm256_setzero_ps();
            for (b, &vb) in v.iter().enumerate() {
                o = _mm256_fmadd_ps(_mm256_set1_ps(vb), _mm256_loadu_ps(pa.add(b * f + c)), o);
            }
            _mm256_storeu_ps(out.as_mut_ptr().add(c), o);
            c += 8;
        }
        for (col, o) in out.iter_mut().enumerate().take(f).skip(c) {
            *o = v
                .iter()
                .enumerate()
                .map(|(b, &vb)| vb * a[b * f + col])
                .sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solve_equals_faer() {
        use faer::linalg::solvers::Solve;
        for n in [1usize, 3, 8, 32, 37] {
            let b: Vec<f32> = (0..n * n)
                .map(|k| ((k * 37) % 19) as f32 / 19.0 - 0.5)
                .collect();
            // H = BᵀB + I: symmetric positive definite.
            let mut h = vec![0f32; n * n];
            for r in 0..n {
                for c in 0..n {
                    h[r * n + c] = (0..n).map(|k| b[k * n + r] * b[k * n + c]).sum::<f32>()
                        + if r == c { 1.0 } else { 0.0 };
                }
            }
            let g: Vec<f32> = (0..n).map(|k| (k % 5) as f32 - 2.0).collect();
            let h64: Vec<f64> = h.iter().map(|&v| v as f64).collect();
            let g64: Vec<f64> = g.iter().map(|&v| v as f64).collect();
            let exact = faer::MatRef::from_column_major_slice(&h64, n, n)
                .llt(faer::Side::Lower)
                .unwrap()
                .solve(faer::ColRef::from_slice(&g64));
            let mut x = g.clone();
            assert!(cholesky_solve::<Plain>(&mut h.clone(), n, &mut x));
            for k in 0..n {
                assert!((x[k] as f64 - exact[k]).abs() < 1e-4 * (1.0 + exact[k].abs()));
            }
        }
        let mut singular = vec![1f32, 1.0, 1.0, 1.0];
        assert!(!cholesky_solve::<Plain>(&mut singular, 2, &mut [1.0, 0.0]));
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_kernels_match_plain_ones() {
        if !(std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma"))
        {
            return;
        }
        for f in [5usize, 8, 37, 64, 67] {
            let a: Vec<f32> = (0..f * f).map(|k| ((k * 13) % 11) as f32 - 5.0).collect();
            let sym: Vec<f32> = (0..f * f).map(|k| a[k] + a[(k % f) * f + k / f]).collect();
            let v: Vec<f32> = (0..f).map(|k| (k % 7) as f32 * 0.25).collect();
            assert!((Avx2::dot(&v, &sym[..f]) - Plain::dot(&v, &sym[..f])).abs() < 1e-3);
            let (mut o1, mut o2) = (vec![0f32; f], vec![0f32; f]);
            Avx2::symv(&sym, &v, &mut o1);
            Plain::symv(&sym, &v, &mut o2);
            let (mut y1, mut y2) = (v.clone(), v.clone());
            Avx2::axpy(0.5, &sym[..f], &mut y1);
            Plain::axpy(0.5, &sym[..f], &mut y2);
            for k in 0..f {
                assert!((o1[k] - o2[k]).abs() < 1e-3 && (y1[k] - y2[k]).abs() < 1e-5);
            }
        }
    }
}
