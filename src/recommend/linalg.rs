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
