//! Bindings for recommendations: interactions, fitted models, splits, metrics.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::input::{AnyArray, AnyRecordBatch};
use pyo3_arrow::PyArray;

use crate::error::{Error, Result};
use crate::python::convert::{from_bytes, read_table, to_bytes};
use crate::recommend::als::{self, AlsParams};
use crate::recommend::bpr::{self, BprParams};
use crate::recommend::ease::Ease;
use crate::recommend::ids::IdMap;
use crate::recommend::knn::{ItemKnn, Weighting};
use crate::recommend::metrics;
use crate::recommend::sparse::Csr;
use crate::recommend::split;
use crate::recommend::{Interactions, Model, Recommender, TopN, Unknown};
use crate::table::{self, Column};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyInteractions>()?;
    m.add_class::<PyRecommender>()?;
    m.add_function(wrap_pyfunction!(split_mask, m)?)?;
    m.add_function(wrap_pyfunction!(ranking_metrics, m)?)?;
    Ok(())
}

/// An Arrow array (or chunked array) as a named column.
fn column(name: &str, values: AnyArray) -> PyResult<Column> {
    let reader = values.into_reader()?;
    let field = reader.field();
    let chunks = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Invalid(format!("could not read '{name}': {e}")))?;
    Ok(Column {
        name: name.to_string(),
        data_type: field.data_type().clone(),
        chunks,
    })
}

/// Progress reports from Rust to a Python callable `callback(done, total)`.
fn reporter(callback: Option<Py<PyAny>>) -> impl FnMut(usize, usize) {
    move |done, total| {
        if let Some(cb) = &callback {
            Python::attach(|py| {
                let _ = cb.call1(py, (done, total));
            });
        }
    }
}

fn mask(n: usize, allowed: Option<Vec<Option<u32>>>) -> Option<Vec<bool>> {
    allowed.map(|codes| {
        let mut m = vec![false; n];
        for c in codes.into_iter().flatten() {
            m[c as usize] = true;
        }
        m
    })
}

#[pyclass(module = "patronage._core", name = "Interactions", frozen)]
pub struct PyInteractions {
    inner: std::sync::Arc<Interactions>,
}

#[pymethods]
impl PyInteractions {
    #[staticmethod]
    #[pyo3(signature = (data, user_col, item_col, weight_col=None))]
    fn from_table(
        py: Python<'_>,
        data: AnyRecordBatch,
        user_col: &str,
        item_col: &str,
        weight_col: Option<&str>,
    ) -> PyResult<Self> {
        let table = read_table(data)?;
        let inner =
            py.detach(|| Interactions::from_table(&table, user_col, item_col, weight_col))?;
        Ok(PyInteractions {
            inner: std::sync::Arc::new(inner),
        })
    }

    #[staticmethod]
    fn from_csr(
        py: Python<'_>,
        shape: (usize, usize),
        indptr: PyReadonlyArray1<'_, i64>,
        indices: PyReadonlyArray1<'_, i32>,
        data: PyReadonlyArray1<'_, f32>,
    ) -> PyResult<Self> {
        let indptr = indptr.as_slice()?;
        let indices = indices.as_slice()?;
        if indptr.iter().any(|&v| v < 0) || indices.iter().any(|&v| v < 0) {
            return Err(Error::argument("user_items", "has negative indices").into());
        }
        let indptr: Vec<usize> = indptr.iter().map(|&v| v as usize).collect();
        let indices: Vec<u32> = indices.iter().map(|&v| v as u32).collect();
        let data = data.as_slice()?.to_vec();
        let inner =
            py.detach(|| Interactions::from_csr(shape, indptr, indices, data, "user_items"))?;
        Ok(PyInteractions {
            inner: std::sync::Arc::new(inner),
        })
    }

    #[getter]
    fn shape(&self) -> (usize, usize) {
        (self.inner.matrix.n_rows, self.inner.matrix.n_cols)
    }

    #[getter]
    fn nnz(&self) -> usize {
        self.inner.matrix.nnz()
    }

    fn csr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        csr_dict(py, &self.inner.matrix)
    }

    fn user_ids(&self) -> PyArray {
        PyArray::from_array_ref(self.inner.users.all())
    }

    fn item_ids(&self) -> PyArray {
        PyArray::from_array_ref(self.inner.items.all())
    }
}

fn csr_dict<'py>(py: Python<'py>, m: &Csr) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("shape", (m.n_rows, m.n_cols))?;
    let indptr: Vec<i64> = m.indptr.iter().map(|&v| v as i64).collect();
    let indices: Vec<i32> = m.indices.iter().map(|&v| v as i32).collect();
    d.set_item("indptr", indptr.into_pyarray(py))?;
    d.set_item("indices", indices.into_pyarray(py))?;
    d.set_item("data", m.data.clone().into_pyarray(py))?;
    Ok(d)
}

#[pyclass(module = "patronage._core", name = "Recommender", frozen)]
pub struct PyRecommender {
    inner: Recommender,
}

impl PyRecommender {
    fn fit(
        py: Python<'_>,
        data: &PyInteractions,
        f: impl FnOnce(&Csr) -> Result<Model> + Send,
    ) -> PyResult<Self> {
        let model = py.detach(|| f(&data.inner.matrix))?;
        Ok(PyRecommender {
            inner: Recommender::new(data.inner.clone(), model),
        })
    }

    fn lookup(map: &IdMap, name: &str, values: AnyArray) -> PyResult<Vec<Option<u32>>> {
        Ok(map.lookup(&column(name, values)?)?)
    }

    fn factors(&self) -> Result<&crate::recommend::factors::Factors> {
        match &self.inner.model {
            Model::Als(f) | Model::Bpr(f) => Ok(f),
            _ => Err(Error::Invalid(format!(
                "{} has no latent factors",
                self.inner.model_name()
            ))),
        }
    }

    fn top_dict<'py>(
        py: Python<'py>,
        top: TopN,
        queries: &Column,
        query_rows: Option<&[usize]>,
        names: (&str, &str),
        items: &IdMap,
    ) -> PyResult<Bound<'py, PyDict>> {
        // The row of `queries` holding each entry's query id.
        let mut rows = top.queries();
        if let Some(map) = query_rows {
            rows.iter_mut().for_each(|q| *q = map[*q as usize] as u32);
        }
        let rank = top.ranks();
        let TopN { item, score, .. } = top;
        let item_ids = items.take(&item);
        drop(item);
        let query_ids = match queries.chunks.as_slice() {
            // One chunk (the usual case): gather with 4-byte indices.
            [chunk] => {
                let indices = arrow_array::UInt32Array::from(rows);
                arrow_select::take::take(chunk.as_ref(), &indices, None)
                    .map_err(|e| Error::Invalid(format!("could not gather ids: {e}")))?
            }
            _ => {
                let rows: Vec<usize> = rows.iter().map(|&q| q as usize).collect();
                table::take_rows(queries, &rows)?
            }
        };
        let d = PyDict::new(py);
        d.set_item(names.0, PyArray::from_array_ref(query_ids))?;
        d.set_item(names.1, PyArray::from_array_ref(item_ids))?;
        d.set_item("score", score.into_pyarray(py))?;
        d.set_item("rank", rank.into_pyarray(py))?;
        Ok(d)
    }
}

#[pymethods]
impl PyRecommender {
    #[staticmethod]
    fn fit_popularity(py: Python<'_>, data: &PyInteractions) -> PyResult<Self> {
        Self::fit(py, data, |_| Ok(Model::Popularity))
    }

    #[staticmethod]
    #[pyo3(signature = (data, weighting, k, shrinkage, k1, b, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit_item_knn(
        py: Python<'_>,
        data: &PyInteractions,
        weighting: &str,
        k: usize,
        shrinkage: f32,
        k1: f32,
        b: f32,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let weighting = Weighting::parse(weighting, k1, b)?;
        let mut report = reporter(progress);
        Self::fit(py, data, |m| {
            Ok(Model::ItemKnn(ItemKnn::fit(
                m,
                weighting,
                k,
                shrinkage,
                &mut report,
            )?))
        })
    }

    #[staticmethod]
    #[pyo3(signature = (data, factors, regularization, alpha, iterations, cg_steps, seed, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit_als(
        py: Python<'_>,
        data: &PyInteractions,
        factors: usize,
        regularization: f32,
        alpha: f32,
        iterations: usize,
        cg_steps: usize,
        seed: u64,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let params = AlsParams {
            factors,
            regularization,
            alpha,
            iterations,
            cg_steps,
            seed,
        };
        let mut report = reporter(progress);
        Self::fit(py, data, |m| {
            Ok(Model::Als(als::fit(m, params, &mut report)?))
        })
    }

    #[staticmethod]
    #[pyo3(signature = (data, factors, learning_rate, regularization, iterations, seed, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit_bpr(
        py: Python<'_>,
        data: &PyInteractions,
        factors: usize,
        learning_rate: f32,
        regularization: f32,
        iterations: usize,
        seed: u64,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let params = BprParams {
            factors,
            learning_rate,
            regularization,
            iterations,
            seed,
        };
        let mut report = reporter(progress);
        Self::fit(py, data, |m| {
            Ok(Model::Bpr(bpr::fit(m, params, &mut report)?))
        })
    }

    #[staticmethod]
    fn fit_ease(
        py: Python<'_>,
        data: &PyInteractions,
        regularization: f64,
        max_items: usize,
    ) -> PyResult<Self> {
        Self::fit(py, data, |m| {
            Ok(Model::Ease(Ease::fit(m, regularization, max_items)?))
        })
    }

    #[getter]
    fn model_name(&self) -> &'static str {
        self.inner.model_name()
    }

    #[getter]
    fn user_col(&self) -> &str {
        &self.inner.data.user_col
    }

    #[getter]
    fn item_col(&self) -> &str {
        &self.inner.data.item_col
    }

    #[getter]
    fn shape(&self) -> (usize, usize) {
        (self.inner.data.matrix.n_rows, self.inner.data.matrix.n_cols)
    }

    fn user_ids(&self) -> PyArray {
        PyArray::from_array_ref(self.inner.data.users.all())
    }

    fn item_ids(&self) -> PyArray {
        PyArray::from_array_ref(self.inner.data.items.all())
    }

    fn train_csr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        csr_dict(py, &self.inner.data.matrix)
    }

    fn popularity<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.inner.popularity.clone().into_pyarray(py)
    }

    fn user_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let f = self.factors()?;
        f.user
            .clone()
            .into_pyarray(py)
            .reshape([f.user.len() / f.n_factors, f.n_factors])
    }

    fn item_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let f = self.factors()?;
        f.item
            .clone()
            .into_pyarray(py)
            .reshape([f.item.len() / f.n_factors, f.n_factors])
    }

    fn similarity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        match &self.inner.model {
            Model::ItemKnn(knn) => csr_dict(py, &knn.similarity),
            _ => Err(Error::Invalid(format!(
                "{} has no sparse similarity matrix",
                self.inner.model_name()
            ))
            .into()),
        }
    }

    fn ease_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        match &self.inner.model {
            Model::Ease(e) => Ok(e
                .b
                .clone()
                .into_pyarray(py)
                .reshape([e.n_items, e.n_items])?),
            _ => Err(Error::Invalid(format!("{} is not EASE", self.inner.model_name())).into()),
        }
    }

    #[pyo3(signature = (users, n, exclude_seen, items=None, unknown_users="error"))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        users: AnyArray,
        n: usize,
        exclude_seen: bool,
        items: Option<AnyArray>,
        unknown_users: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let unknown = Unknown::parse(unknown_users)?;
        let queries = column("users", users)?;
        let codes = self.inner.data.users.lookup(&queries)?;
        let allowed = items
            .map(|i| Self::lookup(&self.inner.data.items, "items", i))
            .transpose()?;
        let allowed = mask(self.inner.n_items(), allowed);
        let top = py.detach(|| {
            self.inner
                .recommend(&codes, n, exclude_seen, allowed.as_deref(), unknown)
        })?;
        let d = &self.inner.data;
        Self::top_dict(py, top, &queries, None, (&d.user_col, &d.item_col), &d.items)
    }

    /// Recommendations for users given by their items (a log of new users).
    #[pyo3(signature = (data, user_col, item_col, weight_col, n, exclude_seen, items=None))]
    #[allow(clippy::too_many_arguments)]
    fn recommend_new<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        user_col: &str,
        item_col: &str,
        weight_col: Option<&str>,
        n: usize,
        exclude_seen: bool,
        items: Option<AnyArray>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let table = read_table(data)?;
        let allowed = items
            .map(|i| Self::lookup(&self.inner.data.items, "items", i))
            .transpose()?;
        let allowed = mask(self.inner.n_items(), allowed);
        let user_column = table.column(user_col)?;
        let (top, rows) = py.detach(|| -> Result<(TopN, Vec<usize>)> {
            let new = Interactions::from_table(&table, user_col, item_col, weight_col)?;
            // Re-code the new users' items into this model's item codes;
            // items the model has never seen carry no signal and are dropped.
            let item_codes = self.inner.data.items.lookup(&table.column(item_col)?)?;
            let user_codes = table::encode_ids(&user_column)?;
            let weights: Vec<f32> = match weight_col {
                Some(w) => table::values_f64(&table.column(w)?)?
                    .iter()
                    .map(|&v| v as f32)
                    .collect(),
                None => vec![1.0; item_codes.len()],
            };
            let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
            for k in 0..item_codes.len() {
                if let Some(code) = item_codes[k] {
                    r.push(user_codes.codes[k]);
                    c.push(code);
                    v.push(weights[k]);
                }
            }
            let histories = Csr::from_coo(new.users.len(), self.inner.n_items(), &r, &c, &v);
            let top = self
                .inner
                .recommend_new(&histories, n, exclude_seen, allowed.as_deref())?;
            Ok((top, user_codes.first_rows))
        })?;
        // Query positions are new-user codes; their ids are at `rows`.
        let d = &self.inner.data;
        Self::top_dict(py, top, &user_column, Some(&rows), (user_col, &d.item_col), &d.items)
    }

    #[pyo3(signature = (items, n, candidates=None))]
    fn similar_items<'py>(
        &self,
        py: Python<'py>,
        items: AnyArray,
        n: usize,
        candidates: Option<AnyArray>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let queries = column("items", items)?;
        let codes = self.inner.data.items.lookup(&queries)?;
        let allowed = candidates
            .map(|i| Self::lookup(&self.inner.data.items, "items", i))
            .transpose()?;
        let allowed = mask(self.inner.n_items(), allowed);
        let top = py.detach(|| self.inner.similar_items(&codes, n, allowed.as_deref()))?;
        let d = &self.inner.data;
        Self::top_dict(py, top, &queries, None, (&d.item_col, "similar_item"), &d.items)
    }

    fn similar_users<'py>(
        &self,
        py: Python<'py>,
        users: AnyArray,
        n: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let queries = column("users", users)?;
        let codes = self.inner.data.users.lookup(&queries)?;
        let top = py.detach(|| self.inner.similar_users(&codes, n))?;
        let d = &self.inner.data;
        Self::top_dict(py, top, &queries, None, (&d.user_col, "similar_user"), &d.users)
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| to_bytes(&self.inner))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let inner = py.detach(|| from_bytes::<Recommender>(data))?;
        Ok(PyRecommender { inner })
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

/// Test-row mask of a split: `how` is "time" (rows at or after `cutoff`),
/// "last" (each user's `k` latest rows) or "random" (`test_size` of rows).
#[pyfunction]
#[pyo3(signature = (data, user_col, time_col, how, cutoff=None, k=1, test_size=0.2, seed=0))]
#[allow(clippy::too_many_arguments)]
fn split_mask<'py>(
    py: Python<'py>,
    data: AnyRecordBatch,
    user_col: &str,
    time_col: Option<&str>,
    how: &str,
    cutoff: Option<(i64, bool)>,
    k: usize,
    test_size: f64,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let table = read_table(data)?;
    if table.num_rows() == 0 {
        return Err(
            Error::Invalid("the interactions table has no rows; nothing to split".into()).into(),
        );
    }
    let need_time = || {
        time_col
            .ok_or_else(|| Error::argument("time_col", format!("is required to split by '{how}'")))
    };
    let mask = py.detach(|| -> Result<Vec<bool>> {
        match how {
            "time" => {
                let column = table.column(need_time()?)?;
                let times = table::wall_times(&column)?;
                let (t, utc) = cutoff.ok_or_else(|| Error::argument("cutoff", "is required"))?;
                let t = if utc { times.utc_to_wall(t) } else { t };
                Ok(split::by_time(&times.micros, t))
            }
            "last" => {
                let users = table::encode_ids(&table.column(user_col)?)?;
                let column = table.column(need_time()?)?;
                let times = table::wall_times(&column)?;
                split::last_k(&users.codes, &times.micros, k)
            }
            "random" => {
                let users = table::encode_ids(&table.column(user_col)?)?;
                split::random(&users.codes, users.n_unique(), test_size, seed)
            }
            other => Err(Error::argument(
                "how",
                format!("must be 'time', 'last' or 'random', got '{other}'"),
            )),
        }
    })?;
    Ok(mask.into_pyarray(py))
}

/// Ranking metrics of recommendation lists against held-out items.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn ranking_metrics<'py>(
    py: Python<'py>,
    rec_users: AnyArray,
    rec_items: AnyArray,
    rec_ranks: PyReadonlyArray1<'py, i64>,
    test_users: AnyArray,
    test_items: AnyArray,
    k: usize,
    n_items: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let rec_users = column("recommendations user", rec_users)?;
    let rec_items = column("recommendations item", rec_items)?;
    let test_users = column("test user", test_users)?;
    let test_items = column("test item", test_items)?;
    let ranks = rec_ranks.as_slice()?.to_vec();
    let m = py.detach(|| -> Result<metrics::RankingMetrics> {
        if test_users.is_empty() {
            return Err(Error::Invalid("the test set has no rows".into()));
        }
        let (test_user_codes, users) = IdMap::encode(&test_users)?;
        let rec_user_codes = users.lookup(&rec_users)?;
        let (rec_item_codes, items) = IdMap::encode(&rec_items)?;
        let n_rec_items = items.len() as u32;
        // Test items never recommended get codes of their own past the
        // recommended ones (the same code for the same item).
        let (test_codes, _) = IdMap::encode(&test_items)?;
        let test_item_codes: Vec<u32> = items
            .lookup(&test_items)?
            .into_iter()
            .zip(&test_codes)
            .map(|(c, &t)| c.unwrap_or(n_rec_items + t))
            .collect();
        let mut relevant: Vec<Vec<u32>> = vec![Vec::new(); users.len()];
        for (&u, &i) in test_user_codes.iter().zip(&test_item_codes) {
            relevant[u as usize].push(i);
        }
        for r in relevant.iter_mut() {
            r.sort_unstable();
            r.dedup();
        }
        let mut ranked: Vec<Vec<(i64, u32)>> = vec![Vec::new(); users.len()];
        for ((u, &i), &r) in rec_user_codes.iter().zip(&rec_item_codes).zip(&ranks) {
            if let Some(u) = u {
                ranked[*u as usize].push((r, i));
            }
        }
        let recommended: Vec<Vec<u32>> = ranked
            .into_iter()
            .map(|mut l| {
                l.sort_unstable();
                l.into_iter().map(|p| p.1).collect()
            })
            .collect();
        metrics::ranking_metrics(&recommended, &relevant, k, n_items)
    })?;
    let d = PyDict::new(py);
    d.set_item("precision", m.precision)?;
    d.set_item("recall", m.recall)?;
    d.set_item("map", m.map)?;
    d.set_item("ndcg", m.ndcg)?;
    d.set_item("auc", m.auc)?;
    d.set_item("hit_rate", m.hit_rate)?;
    d.set_item("coverage", m.coverage)?;
    d.set_item("n_users", m.n_users)?;
    Ok(d)
}
