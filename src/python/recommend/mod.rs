//! Bindings for recommendations: interactions and fitted models (splits and
//! metrics in `evaluation`).

mod evaluation;

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
use crate::recommend::sparse::Csr;
use crate::recommend::{Interactions, Model, Recommender, TopN, Unknown};
use crate::table::{self, Column};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyInteractions>()?;
    m.add_class::<PyRecommender>()?;
    evaluation::register(m)?;
    Ok(())
}

/// An Arrow array (or chunked array) as a named column.
pub(super) fn column(name: &str, values: AnyArray) -> PyResult<Column> {
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
        let (indptr, indices, data) = (indptr.as_slice()?, indices.as_slice()?, data.as_slice()?);
        // The readonly borrows keep the arrays alive and unchanged while the
        // checks and copies run without the GIL.
        let inner = py.detach(|| {
            if indptr.iter().any(|&v| v < 0) || indices.iter().any(|&v| v < 0) {
                return Err(Error::argument("user_items", "has negative indices"));
            }
            let indptr: Vec<usize> = indptr.iter().map(|&v| v as usize).collect();
            let indices: Vec<u32> = indices.iter().map(|&v| v as u32).collect();
            Interactions::from_csr(shape, indptr, indices, data.to_vec(), "user_items")
        })?;
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

    #[getter]
    fn user_col(&self) -> &str {
        &self.inner.user_col
    }

    #[getter]
    fn item_col(&self) -> &str {
        &self.inner.item_col
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| to_bytes(self.inner.as_ref()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let inner = py.detach(|| from_bytes::<Interactions>(data))?;
        Ok(PyInteractions {
            inner: std::sync::Arc::new(inner),
        })
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
        Self::top_dict(
            py,
            top,
            &queries,
            None,
            (&d.user_col, &d.item_col),
            &d.items,
        )
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
        Self::top_dict(
            py,
            top,
            &user_column,
            Some(&rows),
            (user_col, &d.item_col),
            &d.items,
        )
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
        Self::top_dict(
            py,
            top,
            &queries,
            None,
            (&d.item_col, "similar_item"),
            &d.items,
        )
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
        Self::top_dict(
            py,
            top,
            &queries,
            None,
            (&d.user_col, "similar_user"),
            &d.users,
        )
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
