//! Binding of a fitted recommender: fitting by model name with checked
//! parameters, fitted attributes, and serving (ids in, one table out).

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::input::{AnyArray, AnyRecordBatch};
use pyo3_arrow::{PyArray, PyRecordBatch};

use super::evaluation::metrics_dict;
use super::{csr_parts, CsrParts, PyInteractions};
use crate::error::{Error, Result};
use crate::python::convert::{
    batch_out, from_py_bytes, params, read_column, read_table, to_py_bytes, Arg,
};
use crate::python::entry::Job;
use crate::recommend::factors::Factors;
use crate::recommend::serve::UnknownTestUsers;
use crate::recommend::{Model, ModelKind, Recommender, SeenItems, Unknown};
use crate::table::Column;

#[pyclass(module = "patronage._core", name = "Recommender", frozen)]
pub struct PyRecommender {
    inner: Recommender,
}

/// What lists do with seen items: a repeat-aware `mode` when given, else
/// `exclude_seen`.
fn seen_rule(exclude_seen: &Arg, mode: Option<&str>) -> Result<SeenItems> {
    match mode {
        Some(mode) => SeenItems::parse_mode(mode),
        None => Ok(SeenItems::excluded_if(exclude_seen.flag("exclude_seen")?)),
    }
}

fn optional_column(name: &str, values: Option<AnyArray>) -> PyResult<Option<Column>> {
    values.map(|v| read_column(name, v)).transpose()
}

impl PyRecommender {
    fn factors(&self) -> Result<&Factors> {
        self.inner
            .model
            .factors()
            .ok_or_else(|| Error::unsupported(self.inner.model_name(), "has no latent factors"))
    }
}

#[pymethods]
impl PyRecommender {
    /// Fit the recommender named `model` with its parameters (`get_params()`).
    #[staticmethod]
    #[pyo3(signature = (data, model, params, progress=None))]
    fn fit(
        py: Python<'_>,
        data: &PyInteractions,
        model: &str,
        params: &Bound<'_, PyDict>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let kind = ModelKind::parse(model)?;
        let checked = self::params(kind.spec(), params)?;
        let data = data.inner.clone();
        let inner = Job::new()
            .progress(progress)
            .run(py, |ctl| Recommender::fit(data, kind, &checked, ctl))?;
        Ok(PyRecommender { inner })
    }

    /// Fit the repeat-aware model on a transaction log with purchase times.
    #[staticmethod]
    fn fit_repeat_aware(
        py: Python<'_>,
        data: AnyRecordBatch,
        user_col: &str,
        item_col: &str,
        time_col: &str,
        params: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        let checked = self::params(ModelKind::RepeatAware.spec(), params)?;
        let log = read_table(data)?;
        let inner = Job::new().run(py, |ctl| {
            Recommender::fit_repeat_aware(&log, user_col, item_col, time_col, &checked, ctl)
        })?;
        Ok(PyRecommender { inner })
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
        (self.inner.n_users(), self.inner.n_items())
    }

    fn user_ids(&self) -> PyArray {
        PyArray::from_array_ref(self.inner.data.users.all())
    }

    fn item_ids(&self) -> PyArray {
        PyArray::from_array_ref(self.inner.data.items.all())
    }

    fn train_csr<'py>(&self, py: Python<'py>) -> CsrParts<'py> {
        csr_parts(py, &self.inner.data.matrix)
    }

    fn popularity<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.inner.popularity.clone().into_pyarray(py)
    }

    fn user_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let f = self.factors()?;
        f.user
            .clone()
            .into_pyarray(py)
            .reshape([self.inner.n_users(), f.n_factors])
    }

    fn item_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let f = self.factors()?;
        f.item
            .clone()
            .into_pyarray(py)
            .reshape([self.inner.n_items(), f.n_factors])
    }

    fn similarity<'py>(&self, py: Python<'py>) -> PyResult<CsrParts<'py>> {
        match self.inner.model.neighbours() {
            Some(knn) => Ok(csr_parts(py, &knn.similarity)),
            None => Err(Error::unsupported(
                self.inner.model_name(),
                "has no sparse similarity matrix",
            )
            .into()),
        }
    }

    /// The repeat-aware model's customer vectors and nearest customers.
    fn repeat_aware_parts<'py>(&self, py: Python<'py>) -> PyResult<(CsrParts<'py>, CsrParts<'py>)> {
        match &self.inner.model {
            Model::RepeatAware(r) => Ok((csr_parts(py, &r.history), csr_parts(py, &r.neighbours))),
            _ => Err(Error::unsupported(self.inner.model_name(), "is not repeat-aware").into()),
        }
    }

    fn ease_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        match &self.inner.model {
            Model::Ease(e) => e.b.clone().into_pyarray(py).reshape([e.n_items, e.n_items]),
            _ => Err(Error::unsupported(self.inner.model_name(), "has no EASE weights").into()),
        }
    }

    /// Top `n` for `users` (every training user when None); `mode`
    /// ("replenish", "discover", "mix") replaces `exclude_seen` when given.
    #[pyo3(signature = (users, n, exclude_seen, items, unknown_users, reasons, mode=None))]
    #[allow(clippy::too_many_arguments)]
    fn recommend(
        &self,
        py: Python<'_>,
        users: Option<AnyArray>,
        n: Arg,
        exclude_seen: Arg,
        items: Option<AnyArray>,
        unknown_users: &str,
        reasons: Arg,
        mode: Option<&str>,
    ) -> PyResult<PyRecordBatch> {
        let (n, unknown) = (n.count("n", 1)?, Unknown::parse(unknown_users)?);
        let rule = seen_rule(&exclude_seen, mode)?;
        let reasons = reasons.flag("reasons")?;
        let users = optional_column("users", users)?;
        let items = optional_column("items", items)?;
        let batch = Job::new().run(py, |ctl| {
            self.inner.recommend_ids(
                users.as_ref(),
                n,
                rule,
                items.as_ref(),
                unknown,
                reasons,
                ctl,
            )
        })?;
        Ok(batch_out(batch))
    }

    /// Recommendations for users not in training, from a log of their items.
    #[pyo3(signature = (data, user_col, item_col, weight_col, n, exclude_seen, items))]
    #[allow(clippy::too_many_arguments)]
    fn recommend_new(
        &self,
        py: Python<'_>,
        data: AnyRecordBatch,
        user_col: &str,
        item_col: &str,
        weight_col: Option<&str>,
        n: Arg,
        exclude_seen: Arg,
        items: Option<AnyArray>,
    ) -> PyResult<PyRecordBatch> {
        let (n, exclude_seen) = (n.count("n", 1)?, exclude_seen.flag("exclude_seen")?);
        let table = read_table(data)?;
        let items = optional_column("items", items)?;
        let batch = Job::new().run(py, |ctl| {
            self.inner.recommend_new_ids(
                &table,
                user_col,
                item_col,
                weight_col,
                n,
                exclude_seen,
                items.as_ref(),
                ctl,
            )
        })?;
        Ok(batch_out(batch))
    }

    #[pyo3(signature = (items, n, candidates))]
    fn similar_items(
        &self,
        py: Python<'_>,
        items: AnyArray,
        n: Arg,
        candidates: Option<AnyArray>,
    ) -> PyResult<PyRecordBatch> {
        let n = n.count("n", 1)?;
        let items = read_column("items", items)?;
        let candidates = optional_column("candidates", candidates)?;
        let batch = Job::new().run(py, |ctl| {
            self.inner
                .similar_items_ids(&items, n, candidates.as_ref(), ctl)
        })?;
        Ok(batch_out(batch))
    }

    fn similar_users(&self, py: Python<'_>, users: AnyArray, n: Arg) -> PyResult<PyRecordBatch> {
        let n = n.count("n", 1)?;
        let users = read_column("users", users)?;
        let batch = Job::new().run(py, |ctl| self.inner.similar_users_ids(&users, n, ctl))?;
        Ok(batch_out(batch))
    }

    /// What each source adds to `user`'s score of `item` (one id each).
    #[pyo3(signature = (user, item, n=None))]
    fn explain(
        &self,
        py: Python<'_>,
        user: AnyArray,
        item: AnyArray,
        n: Option<Arg>,
    ) -> PyResult<PyRecordBatch> {
        let n = n.map(|n| n.count("n", 1)).transpose()?;
        let (user, item) = (read_column("user", user)?, read_column("item", item)?);
        let batch = Job::new().run(py, |_| self.inner.explain_ids(&user, &item, n))?;
        Ok(batch_out(batch))
    }

    /// Ranking metrics of `k` recommendations for every test user.
    #[allow(clippy::too_many_arguments)]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        test: AnyRecordBatch,
        user_col: &str,
        item_col: &str,
        k: Arg,
        exclude_seen: Arg,
        mode: Option<&str>,
        unknown_users: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (k, unknown) = (k.count("k", 1)?, UnknownTestUsers::parse(unknown_users)?);
        let rule = seen_rule(&exclude_seen, mode)?;
        let test = read_table(test)?;
        let e = Job::new().run(py, |ctl| {
            self.inner
                .evaluate(&test, user_col, item_col, k, rule, unknown, ctl)
        })?;
        let d = metrics_dict(py, e.metrics)?;
        d.set_item("repeat_hits", e.repeat_hits)?;
        d.set_item("new_hits", e.new_hits)?;
        Ok(d)
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        to_py_bytes(py, &self.inner)
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyRecommender {
            inner: from_py_bytes(py, data)?,
        })
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}
