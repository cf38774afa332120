//! Small dense kernels shared by the models: dot/axpy in lanes of 8 (which
//! the compiler vectorises), a row-major Cholesky factorisation and solves.

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
    use rayon::prelude::*;
    for i in 0..n {
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
pub fn spd_inverse(mut a: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    use rayon::prelude::*;
    if !cholesky(&mut a, n) {
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
        let inv = spd_inverse(a.clone(), n).unwrap();
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
}
