//! Small dense kernels shared by the models: dot/axpy in lanes of 8 (which
//! the compiler vectorises), a row-major Cholesky factorisation and solves.

use crate::control::Control;

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

#[inline(always)]
pub fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0f64;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// In-place Cholesky of a symmetric positive definite row-major `n × n`
/// matrix: on return the lower triangle holds `L` with `A = L Lᵀ`.  Returns
/// false if `A` is not positive definite.
pub fn cholesky(a: &mut [f64], n: usize) -> bool {
    cholesky_unless_cancelled(a, n, &Control::new())
}

/// [`cholesky`], giving up (false) once `ctl` is cancelled.
pub fn cholesky_unless_cancelled(a: &mut [f64], n: usize, ctl: &Control) -> bool {
    use rayon::prelude::*;
    for i in 0..n {
        if ctl.cancelled() {
            return false;
        }
        let (done, rest) = a.split_at_mut(i * n);
        let row_i = &mut rest[..n];
        // Entries j < i of row i depend on earlier entries of the same row,
        // so compute them sequentially; large rows use blocks in parallel.
        let block = 64;
        let mut j0 = 0;
        while j0 < i {
            let j1 = (j0 + block).min(i);
            // Within a block, first the contributions of columns < j0 in
            // parallel, then the triangular part sequentially.
            let head: Vec<f64> = (j0..j1)
                .into_par_iter()
                .with_min_len(16)
                .map(|j| dot64(&row_i[..j0], &done[j * n..j * n + j0]))
                .collect();
            for j in j0..j1 {
                let row_j = &done[j * n..j * n + j];
                let s = row_i[j] - head[j - j0] - dot64(&row_i[j0..j], &row_j[j0..j]);
                row_i[j] = s / row_j_diag(done, n, j);
            }
            j0 = j1;
        }
        let d = row_i[i] - dot64(&row_i[..i], &row_i[..i]);
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        row_i[i] = d.sqrt();
    }
    true
}

#[inline]
fn row_j_diag(done: &[f64], n: usize, j: usize) -> f64 {
    done[j * n + j]
}

/// Solve `L Lᵀ x = b` in place for a factor from [`cholesky`].
pub fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s = b[i] - dot64(&l[i * n..i * n + i], &b[..i]);
        b[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

/// The inverse of a symmetric positive definite matrix (row-major, full), or
/// `None` if it is not positive definite.  Work is parallel over columns.
pub fn spd_inverse(mut a: Vec<f64>, n: usize, ctl: &Control) -> Option<Vec<f64>> {
    use rayon::prelude::*;
    if !cholesky_unless_cancelled(&mut a, n, ctl) {
        return None;
    }
    let l = &a;
    // Column k of L⁻¹ (zero above k), by forward substitution.
    let linv_cols: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|k| {
            let mut x = vec![0f64; n - k];
            for i in k..n {
                let delta = if i == k { 1.0 } else { 0.0 };
                let s = delta - dot64(&l[i * n + k..i * n + i], &x[..i - k]);
                x[i - k] = s / l[i * n + i];
            }
            x
        })
        .collect();
    // A⁻¹ = L⁻ᵀ L⁻¹: entry (a, b) is the dot product of columns a and b of L⁻¹.
    let mut inv = vec![0f64; n * n];
    inv.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
        let col_r = &linv_cols[r];
        for (c, out) in row.iter_mut().enumerate() {
            let col_c = &linv_cols[c];
            let start = r.max(c);
            *out = dot64(&col_r[start - r..], &col_c[start - c..]);
        }
    });
    Some(inv)
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
    fn inverse_times_matrix_is_identity() {
        let n = 150;
        let mut a = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = ((i * j) % 7) as f64 * 0.1 + if i == j { n as f64 } else { 0.0 };
            }
        }
        for i in 0..n {
            for j in 0..i {
                a[i * n + j] = a[j * n + i];
            }
        }
        let inv = spd_inverse(a.clone(), n, &Control::new()).unwrap();
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..n).map(|k| a[i * n + k] * inv[k * n + j]).sum();
                assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
            }
        }
        let mut l = a.clone();
        assert!(cholesky(&mut l, n));
        let mut b: Vec<f64> = (0..n).map(|i| i as f64).collect();
        cholesky_solve(&l, n, &mut b);
        for i in 0..n {
            let s: f64 = (0..n).map(|k| a[i * n + k] * b[k]).sum();
            assert!((s - i as f64).abs() < 1e-9);
        }
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
