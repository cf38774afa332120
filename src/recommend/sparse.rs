//! Compressed sparse rows (user × item or item × user), built in parallel.
//!
//! `from_coo` and the transposes are parallel counting sorts: per-chunk
//! histograms give every chunk its own write positions and chunks scatter
//! concurrently.  `from_coo` then sorts each row by column and sums duplicate
//! (row, column) entries; a transpose's rows come out sorted already.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Csr {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub data: Vec<f32>,
}

/// A raw pointer that rayon tasks may share because they write disjoint slots.
#[derive(Clone, Copy)]
struct SharedMut<T>(*mut T);
unsafe impl<T> Send for SharedMut<T> {}
unsafe impl<T> Sync for SharedMut<T> {}

impl Csr {
    pub fn empty(n_rows: usize, n_cols: usize) -> Self {
        Csr {
            n_rows,
            n_cols,
            indptr: vec![0; n_rows + 1],
            indices: Vec::new(),
            data: Vec::new(),
        }
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    #[inline]
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Hint the CPU to start loading row `r` (a no-op off x86-64).
    #[inline(always)]
    pub fn prefetch_row(&self, r: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let start = self.indptr[r];
            if start < self.indices.len() {
                let idx = self.indices[start..].as_ptr() as *const i8;
                let val = self.data[start..].as_ptr() as *const i8;
                // SAFETY: prefetching is a hint and never faults; the
                // pointers are in bounds anyway.
                #[allow(unused_unsafe)]
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(idx);
                    _mm_prefetch::<_MM_HINT_T0>(val);
                }
            }
        }
    }

    #[inline]
    pub fn row_len(&self, r: usize) -> usize {
        self.indptr[r + 1] - self.indptr[r]
    }

    /// Build from coordinates; duplicates are summed and columns sorted per row.
    pub fn from_coo(
        n_rows: usize,
        n_cols: usize,
        rows: &[u32],
        cols: &[u32],
        values: &[f32],
    ) -> Self {
        let nnz = rows.len();
        // One histogram of n_rows counters per chunk: few chunks keep that small.
        let n_chunks = rayon::current_num_threads().clamp(1, nnz.max(1).div_ceil(4096));
        let chunk_len = nnz.div_ceil(n_chunks).max(1);
        let histograms: Vec<Vec<usize>> = rows
            .par_chunks(chunk_len)
            .map(|chunk| {
                let mut h = vec![0usize; n_rows];
                for &r in chunk {
                    h[r as usize] += 1;
                }
                h
            })
            .collect();
        let (indptr, offsets) = chunk_offsets(histograms, n_rows);
        let mut indices = vec![0u32; nnz];
        let mut data = vec![0f32; nnz];
        let (ip, dp) = (
            SharedMut(indices.as_mut_ptr()),
            SharedMut(data.as_mut_ptr()),
        );
        offsets
            .into_par_iter()
            .enumerate()
            .for_each(move |(c, mut next)| {
                let start = c * chunk_len;
                let end = (start + chunk_len).min(nnz);
                let (ip, dp) = (ip, dp);
                for k in start..end {
                    let slot = &mut next[rows[k] as usize];
                    // SAFETY: each (chunk, row) owns the range given by the
                    // offsets, so every slot is written exactly once.
                    unsafe {
                        *ip.0.add(*slot) = cols[k];
                        *dp.0.add(*slot) = values[k];
                    }
                    *slot += 1;
                }
            });
        let mut csr = Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        };
        csr.sort_and_sum_duplicates();
        csr
    }

    /// From rows of (column, value) pairs, each sorted by column.
    pub fn from_rows(rows: &[Vec<(u32, f32)>], n_cols: usize) -> Self {
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        indptr.push(0);
        for r in rows {
            indptr.push(indptr.last().unwrap() + r.len());
        }
        let nnz = *indptr.last().unwrap();
        let (mut indices, mut data) = (vec![0u32; nnz], vec![0f32; nnz]);
        split_rows_mut(&indptr, &mut indices, &mut data)
            .into_par_iter()
            .zip(rows)
            .for_each(|((idx, val), row)| {
                for ((i, v), &(c, x)) in idx.iter_mut().zip(val.iter_mut()).zip(row) {
                    (*i, *v) = (c, x);
                }
            });
        Csr {
            n_rows: rows.len(),
            n_cols,
            indptr,
            indices,
            data,
        }
    }

    /// Sort each row by column, sum repeated columns and compact.
    fn sort_and_sum_duplicates(&mut self) {
        let lengths: Vec<usize> = {
            let indptr = &self.indptr;
            let mut parts = split_rows_mut(indptr, &mut self.indices, &mut self.data);
            parts
                .par_iter_mut()
                .map(|(idx, val)| {
                    if !idx.windows(2).all(|w| w[0] < w[1]) {
                        let mut pairs: Vec<(u32, f32)> =
                            idx.iter().copied().zip(val.iter().copied()).collect();
                        pairs.sort_by_key(|p| p.0);
                        let mut n = 0usize;
                        for (c, v) in pairs {
                            if n > 0 && idx[n - 1] == c {
                                val[n - 1] += v;
                            } else {
                                idx[n] = c;
                                val[n] = v;
                                n += 1;
                            }
                        }
                        n
                    } else {
                        idx.len()
                    }
                })
                .collect()
        };
        let total: usize = lengths.iter().sum();
        if total == self.nnz() {
            return;
        }
        let mut indptr = vec![0usize; self.n_rows + 1];
        for (r, &l) in lengths.iter().enumerate() {
            indptr[r + 1] = indptr[r] + l;
        }
        let mut indices = vec![0u32; total];
        let mut data = vec![0f32; total];
        {
            let mut out = split_rows_mut(&indptr, &mut indices, &mut data);
            out.par_iter_mut().enumerate().for_each(|(r, (idx, val))| {
                let a = self.indptr[r];
                idx.copy_from_slice(&self.indices[a..a + idx.len()]);
                val.copy_from_slice(&self.data[a..a + val.len()]);
            });
        }
        self.indptr = indptr;
        self.indices = indices;
        self.data = data;
    }

    /// The transpose (columns become rows), built in parallel.
    pub fn transpose(&self) -> Csr {
        self.transpose_with(&self.data)
    }

    /// The transpose of this matrix's structure holding `data` instead of
    /// its values (`data` aligned with `indices`).
    pub fn transpose_with(&self, data: &[f32]) -> Csr {
        let (indptr, entries) = self.transpose_entries(|r, k| (r as u32, data[k]));
        let (indices, data) = entries.into_iter().unzip();
        Csr {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            data,
        }
    }

    /// The transpose's row pointers and its entries `entry(row, k)`, `k`
    /// indexing this matrix's `indices`: column `c` of this matrix becomes
    /// row `c`, holding `entry` of each of its entries in row order.
    pub fn transpose_entries<T: Copy + Default + Send + Sync>(
        &self,
        entry: impl Fn(usize, usize) -> T + Sync,
    ) -> (Vec<usize>, Vec<T>) {
        // A parallel counting sort by column over chunks of rows: rows are
        // visited in order, so every output row comes out sorted.  Each chunk
        // has a histogram of n_cols counters, so chunks are few and large.
        let nnz = self.nnz();
        let min_chunk = (4 * self.n_cols).max(4096);
        let n_chunks = rayon::current_num_threads().min(nnz / min_chunk).max(1);
        let bounds: Vec<usize> = (0..=n_chunks)
            .map(|c| {
                self.indptr
                    .partition_point(|&p| p < c * nnz / n_chunks)
                    .min(self.n_rows)
            })
            .collect();
        let histograms: Vec<Vec<usize>> = bounds
            .par_windows(2)
            .map(|w| {
                let mut h = vec![0usize; self.n_cols];
                for &c in &self.indices[self.indptr[w[0]]..self.indptr[w[1]]] {
                    h[c as usize] += 1;
                }
                h
            })
            .collect();
        let (indptr, offsets) = chunk_offsets(histograms, self.n_cols);
        let mut entries = vec![T::default(); nnz];
        let out = SharedMut(entries.as_mut_ptr());
        let entry = &entry;
        offsets
            .into_par_iter()
            .zip(bounds.par_windows(2))
            .for_each(move |(mut next, w)| {
                let out = out;
                for r in w[0]..w[1] {
                    for k in self.indptr[r]..self.indptr[r + 1] {
                        let slot = &mut next[self.indices[k] as usize];
                        // SAFETY: each (chunk, column) owns the range given
                        // by the offsets, so every slot is written once.
                        unsafe { *out.0.add(*slot) = entry(r, k) };
                        *slot += 1;
                    }
                }
            });
        (indptr, entries)
    }

    /// Number of stored entries in each column.
    pub fn column_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_cols];
        for &c in &self.indices {
            counts[c as usize] += 1;
        }
        counts
    }

    /// `f(row, col, value)` of every stored entry, aligned with `indices`.
    pub fn mapped_values<T: Copy + Default + Send>(
        &self,
        f: impl Fn(usize, u32, f32) -> T + Sync,
    ) -> Vec<T> {
        let mut out = vec![T::default(); self.nnz()];
        {
            let parts = split_by(&self.indptr, &mut out);
            parts.into_par_iter().enumerate().for_each(|(r, part)| {
                let (cols, vals) = self.row(r);
                for ((o, &c), &v) in part.iter_mut().zip(cols).zip(vals) {
                    *o = f(r, c, v);
                }
            });
        }
        out
    }

    /// Every value replaced by `f(row, col, value)`, in place.
    pub fn map_values(mut self, f: impl Fn(usize, u32, f32) -> f32 + Sync) -> Csr {
        {
            let indptr = &self.indptr;
            let indices = &self.indices;
            let parts = split_by(indptr, &mut self.data);
            parts.into_par_iter().enumerate().for_each(|(r, vals)| {
                let a = indptr[r];
                for (k, v) in vals.iter_mut().enumerate() {
                    *v = f(r, indices[a + k], *v);
                }
            });
        }
        self
    }

    /// Check the structure of a matrix received from outside (scipy).
    pub fn validate(&self, name: &str) -> Result<()> {
        let bad = |problem: &str| Err(Error::argument(name, problem.to_string()));
        // Codes are 32-bit; larger shapes cannot come from this crate.
        if self.n_rows > u32::MAX as usize || self.n_cols > u32::MAX as usize {
            return bad("has more than 2^32 rows or columns");
        }
        if self.indptr.len() != self.n_rows + 1 || self.indptr[0] != 0 {
            return bad("has an invalid indptr");
        }
        if self.indptr.windows(2).any(|w| w[0] > w[1]) || self.indptr[self.n_rows] != self.nnz() {
            return bad("has an invalid indptr");
        }
        if self.data.len() != self.nnz() {
            return bad("has data and indices of different lengths");
        }
        if self.indices.par_iter().any(|&c| c as usize >= self.n_cols) {
            return bad("has column indices outside its shape");
        }
        Ok(())
    }
}

/// Per-chunk histograms of bucket sizes into the bucket pointers and, for
/// every chunk, the first slot of each bucket it writes (buckets in order,
/// chunks in order within a bucket, so a stable counting sort).
fn chunk_offsets(
    mut histograms: Vec<Vec<usize>>,
    n_buckets: usize,
) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut indptr = vec![0usize; n_buckets + 1];
    let mut running = 0usize;
    for b in 0..n_buckets {
        indptr[b] = running;
        for h in histograms.iter_mut() {
            let count = h[b];
            h[b] = running;
            running += count;
        }
    }
    indptr[n_buckets] = running;
    (indptr, histograms)
}

/// Split `values` into the row slices given by `indptr`.
fn split_by<'a, T>(indptr: &[usize], mut values: &'a mut [T]) -> Vec<&'a mut [T]> {
    let mut parts = Vec::with_capacity(indptr.len().saturating_sub(1));
    for w in indptr.windows(2) {
        let (head, tail) = values.split_at_mut(w[1] - w[0]);
        parts.push(head);
        values = tail;
    }
    parts
}

fn split_rows_mut<'a>(
    indptr: &[usize],
    indices: &'a mut [u32],
    data: &'a mut [f32],
) -> Vec<(&'a mut [u32], &'a mut [f32])> {
    split_by(indptr, indices)
        .into_iter()
        .zip(split_by(indptr, data))
        .collect()
}

/// Scratch for accumulating one sparse row (a row of a sparse product): the
/// sum per column, optionally the number of contributions, and the columns
/// touched, so that resetting costs only what was used.
///
/// A column counts as touched while its sum is non-zero: sums alone keep
/// the scratch small (40 KB for 10,000 columns, within L1), and a column
/// whose contributions cancel to exactly 0 carries no similarity anyway (it
/// is skipped when draining, even if it was recorded twice).
pub struct SparseAccumulator {
    sums: Vec<f32>,
    /// Empty unless built [`with_counts`](Self::with_counts).
    counts: Vec<u32>,
    touched: Vec<u32>,
}

impl SparseAccumulator {
    pub fn new(n: usize) -> Self {
        SparseAccumulator {
            sums: vec![0.0; n],
            counts: Vec::new(),
            touched: Vec::new(),
        }
    }

    /// Also count contributions per column (for shrinkage).
    pub fn with_counts(n: usize) -> Self {
        SparseAccumulator {
            counts: vec![0; n],
            ..SparseAccumulator::new(n)
        }
    }

    #[inline(always)]
    pub fn add(&mut self, column: u32, value: f32) {
        self.add_pairs(&[(column, value)], 1.0, true);
    }

    /// Add `scale · values` at `columns` (a sparse row); `tracked = false`
    /// skips recording columns, for rows so dense that scanning every column
    /// ([`drain_all_into`](Self::drain_all_into)) is cheaper.
    #[inline(always)]
    pub fn add_row(&mut self, columns: &[u32], values: &[f32], scale: f32, tracked: bool) {
        self.add_iter(
            columns.iter().copied().zip(values.iter().copied()),
            scale,
            tracked,
        );
    }

    /// [`add_row`](Self::add_row) for a row stored as (column, value) pairs.
    #[inline(always)]
    pub fn add_pairs(&mut self, row: &[(u32, f32)], scale: f32, tracked: bool) {
        self.add_iter(row.iter().copied(), scale, tracked);
    }

    #[inline(always)]
    fn add_iter(
        &mut self,
        row: impl ExactSizeIterator<Item = (u32, f32)>,
        scale: f32,
        tracked: bool,
    ) {
        let sums = &mut self.sums[..];
        let counting = !self.counts.is_empty();
        if tracked {
            // Branch-free tracking: every column is written to the next free
            // slot, which is kept only if the column was untouched (whether a
            // column is new is a coin flip the branch predictor would lose).
            let mut n = self.touched.len();
            self.touched.resize(n + row.len(), 0);
            let touched = &mut self.touched[..];
            for (c, v) in row {
                let sum = &mut sums[c as usize];
                touched[n] = c;
                n += usize::from(*sum == 0.0);
                *sum += scale * v;
                if counting {
                    self.counts[c as usize] += 1;
                }
            }
            self.touched.truncate(n);
        } else {
            for (c, v) in row {
                sums[c as usize] += scale * v;
                if counting {
                    self.counts[c as usize] += 1;
                }
            }
        }
    }

    #[inline(always)]
    fn take(&mut self, c: usize) -> (f32, u32) {
        let sum = std::mem::take(&mut self.sums[c]);
        let count = self.counts.get_mut(c).map_or(0, std::mem::take);
        (sum, count)
    }

    /// Every column with a non-zero sum as `f(column, sum, count)`, in column
    /// order (after untracked adds); leaves the accumulator empty.
    #[inline]
    pub fn drain_all_into(
        &mut self,
        f: impl Fn(u32, f32, u32) -> f32,
        mut sink: impl FnMut(u32, f32),
    ) {
        for c in 0..self.sums.len() {
            if self.sums[c] != 0.0 {
                let (sum, count) = self.take(c);
                sink(c as u32, f(c as u32, sum, count));
            }
        }
    }

    /// The touched columns with `f(column, sum, count)`, in the order they were
    /// first touched; leaves the accumulator empty.
    pub fn drain(&mut self, f: impl Fn(u32, f32, u32) -> f32) -> Vec<(u32, f32)> {
        let mut out = Vec::with_capacity(self.touched.len());
        self.drain_into(f, |c, v| out.push((c, v)));
        out
    }

    /// Like [`drain`](Self::drain), handing each column to `sink`.
    #[inline]
    pub fn drain_into(&mut self, f: impl Fn(u32, f32, u32) -> f32, mut sink: impl FnMut(u32, f32)) {
        let touched = std::mem::take(&mut self.touched);
        for &c in &touched {
            let (sum, count) = self.take(c as usize);
            if sum != 0.0 {
                sink(c, f(c, sum, count));
            }
        }
        self.touched = touched;
        self.touched.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulator_drops_cancelled_columns_and_counts_on_request() {
        let mut acc = SparseAccumulator::with_counts(5);
        acc.add_row(&[1, 3], &[1.0, 2.0], 1.0, true);
        acc.add(3, -2.0); // cancels: column 3 is no longer touched
        acc.add(3, 0.5); // touched again (recorded twice, drained once)
        acc.add(4, 0.0); // nothing
        let mut out = acc.drain(|_, s, n| s * 10.0 + n as f32);
        out.sort_by_key(|p| p.0);
        assert_eq!(out, vec![(1, 11.0), (3, 8.0)]);
        assert!(acc.drain(|_, s, _| s).is_empty());
        acc.add_row(&[2, 0], &[1.0, 1.0], 2.0, false);
        let mut all = Vec::new();
        acc.drain_all_into(|_, s, _| s, |c, s| all.push((c, s)));
        assert_eq!(all, vec![(0, 2.0), (2, 2.0)]);
    }

    #[test]
    fn duplicates_are_summed_and_rows_sorted() {
        let rows = [1u32, 0, 1, 1, 2];
        let cols = [2u32, 1, 0, 2, 1];
        let vals = [1.0f32, 2.0, 3.0, 4.0, 5.0];
        let m = Csr::from_coo(3, 3, &rows, &cols, &vals);
        assert_eq!(m.indptr, vec![0, 1, 3, 4]);
        assert_eq!(m.indices, vec![1, 0, 2, 1]);
        assert_eq!(m.data, vec![2.0, 3.0, 5.0, 5.0]);
        let t = m.transpose();
        assert_eq!(t.indptr, vec![0, 1, 3, 4]);
        assert_eq!(t.indices, vec![1, 0, 2, 1]);
        assert_eq!(t.transpose(), m);
    }

    #[test]
    fn large_random_matches_naive() {
        let n = 50_000usize;
        let rows: Vec<u32> = (0..n).map(|k| ((k * 7919) % 997) as u32).collect();
        let cols: Vec<u32> = (0..n).map(|k| ((k * 104_729) % 389) as u32).collect();
        let vals = vec![1.0f32; n];
        let m = Csr::from_coo(997, 389, &rows, &cols, &vals);
        let mut dense = vec![0f32; 997 * 389];
        for k in 0..n {
            dense[rows[k] as usize * 389 + cols[k] as usize] += 1.0;
        }
        let total: f32 = m.data.iter().sum();
        assert_eq!(total, n as f32);
        for r in 0..997 {
            let (idx, val) = m.row(r);
            for (c, v) in idx.iter().zip(val) {
                assert_eq!(dense[r * 389 + *c as usize], *v);
            }
        }
        // The transpose, in as many chunks as 8 threads give, is the dense
        // transpose; rebuilt from its rows it is unchanged.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(8)
            .build()
            .unwrap();
        let t = pool.install(|| m.transpose());
        assert_eq!(t.nnz(), m.nnz());
        for c in 0..389 {
            let (idx, val) = t.row(c);
            assert!(idx.windows(2).all(|w| w[0] < w[1]));
            for (r, v) in idx.iter().zip(val) {
                assert_eq!(dense[*r as usize * 389 + c], *v);
            }
        }
        let rows: Vec<Vec<(u32, f32)>> = (0..389)
            .map(|c| {
                t.row(c)
                    .0
                    .iter()
                    .copied()
                    .zip(t.row(c).1.iter().copied())
                    .collect()
            })
            .collect();
        assert_eq!(Csr::from_rows(&rows, 997), t);
    }
}
