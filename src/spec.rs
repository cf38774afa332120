//! Estimator contracts, written once in the core.
//!
//! A [`Spec`] lists an estimator's parameters (public name, default, accepted
//! values, unit), the table columns it reads and the names of the population
//! parameters it fits.  The binding checks what Python passes against the
//! spec ([`Spec::check`]) and each model builds its typed parameters from the
//! checked values; the Python layer takes names and defaults from the spec
//! instead of restating them, and does not re-check.

use std::fmt::Write;

use crate::error::{Error, Result};

/// A parameter value as it arrives from Python.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Anything else: the name of its type, for the error message.
    Other(String),
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Str(s) => format!("{s:?}"),
            Value::Other(t) => format!("a {t}"),
        }
    }
}

/// A parameter's default, as a constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Literal {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'static str),
}

impl Literal {
    pub fn value(self) -> Value {
        match self {
            Literal::None => Value::None,
            Literal::Bool(b) => Value::Bool(b),
            Literal::Int(i) => Value::Int(i),
            Literal::Float(f) => Value::Float(f),
            Literal::Str(s) => Value::Str(s.into()),
        }
    }
}

/// One form a parameter may take; a parameter accepts the union of its forms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Accept {
    None,
    Bool,
    /// An integer in `min..=max` (not a float, not a bool).
    Int {
        min: i64,
        max: i64,
    },
    /// A number (integer or float) between `min` and `max`.
    Number {
        min: f64,
        max: f64,
        open_min: bool,
        open_max: bool,
    },
    /// One of these words.
    Word(&'static [&'static str]),
    /// The name of a column of the input table.
    Column,
}

impl Accept {
    /// An integer of at least `min`.
    pub const fn int_from(min: i64) -> Accept {
        Accept::Int { min, max: i64::MAX }
    }

    /// A number in `(min, max]`.
    pub const fn in_open_closed(min: f64, max: f64) -> Accept {
        Accept::Number {
            min,
            max,
            open_min: true,
            open_max: false,
        }
    }

    /// A number in `(min, max)`.
    pub const fn in_open(min: f64, max: f64) -> Accept {
        Accept::Number {
            min,
            max,
            open_min: true,
            open_max: true,
        }
    }

    /// A number in `[min, max]`.
    pub const fn in_closed(min: f64, max: f64) -> Accept {
        Accept::Number {
            min,
            max,
            open_min: false,
            open_max: false,
        }
    }

    /// A finite number `> min`.
    pub const fn above(min: f64) -> Accept {
        Accept::in_open(min, f64::INFINITY)
    }

    /// A finite number `>= min`.
    pub const fn at_least(min: f64) -> Accept {
        Accept::Number {
            min,
            max: f64::INFINITY,
            open_min: false,
            open_max: true,
        }
    }

    /// Whether a value of this kind could be accepted (its range aside).
    fn admits_kind(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (Accept::None, Value::None)
                | (Accept::Bool, Value::Bool(_))
                | (Accept::Int { .. }, Value::Int(_))
                | (Accept::Number { .. }, Value::Int(_) | Value::Float(_))
                | (Accept::Word(_) | Accept::Column, Value::Str(_))
        )
    }

    fn admits(self, value: &Value) -> bool {
        match (self, value) {
            (Accept::Int { min, max }, Value::Int(i)) => min <= *i && *i <= max,
            (
                Accept::Number {
                    min,
                    max,
                    open_min,
                    open_max,
                },
                Value::Int(_) | Value::Float(_),
            ) => {
                let v = match value {
                    Value::Int(i) => *i as f64,
                    Value::Float(f) => *f,
                    _ => unreachable!(),
                };
                v.is_finite()
                    && (if open_min { v > min } else { v >= min })
                    && (if open_max { v < max } else { v <= max })
            }
            (Accept::Word(words), Value::Str(s)) => words.contains(&s.as_str()),
            _ => self.admits_kind(value),
        }
    }

    fn describe(self) -> String {
        match self {
            Accept::None => "None".into(),
            Accept::Bool => "True or False".into(),
            Accept::Int { min, max } => match (min, max) {
                (i64::MIN, i64::MAX) => "an integer".into(),
                (min, i64::MAX) => format!("an integer >= {min}"),
                (i64::MIN, max) => format!("an integer <= {max}"),
                (min, max) => format!("an integer in [{min}, {max}]"),
            },
            Accept::Number {
                min,
                max,
                open_min,
                open_max,
            } => {
                if max == f64::INFINITY {
                    format!("a number {} {min}", if open_min { ">" } else { ">=" })
                } else {
                    format!(
                        "a number in {}{min}, {max}{}",
                        if open_min { "(" } else { "[" },
                        if open_max { ")" } else { "]" }
                    )
                }
            }
            Accept::Word(words) => words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" or "),
            Accept::Column => "a column name (str)".into(),
        }
    }
}

/// One parameter of an estimator.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub default: Literal,
    pub accepts: &'static [Accept],
    /// Unit of a quantity ("hours", "periods", ...), empty when none.
    pub unit: &'static str,
    pub doc: &'static str,
}

impl Param {
    /// What the parameter accepts, in words.
    pub fn describe(&self) -> String {
        let forms: Vec<String> = self.accepts.iter().map(|a| a.describe()).collect();
        let mut text = match forms.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        };
        if !self.unit.is_empty() {
            let _ = write!(text, " ({})", self.unit);
        }
        text
    }
}

/// An estimator's contract.
#[derive(Debug)]
pub struct Spec {
    /// The public (Python class) name.
    pub name: &'static str,
    pub params: &'static [Param],
    /// Columns read from the input table, by their fixed names (CLV summaries).
    pub columns: &'static [&'static str],
    /// Names of the fitted population parameters, in order (CLV models).
    pub fitted: &'static [&'static str],
}

/// Parameter values checked against a spec, in the spec's order.
#[derive(Debug, Clone)]
pub struct Params {
    spec: &'static Spec,
    values: Vec<Value>,
}

impl Spec {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Check `given` (missing parameters take their defaults).  A value of a
    /// kind the parameter never takes is a type error; one of the right kind
    /// but out of range a value error; unknown names are value errors.
    pub fn check(&'static self, given: Vec<(String, Value)>) -> Result<Params> {
        let mut values: Vec<Value> = self.params.iter().map(|p| p.default.value()).collect();
        for (name, value) in given {
            let Some(k) = self.params.iter().position(|p| p.name == name) else {
                let known: Vec<&str> = self.params.iter().map(|p| p.name).collect();
                return Err(Error::Parameter {
                    estimator: self.name.into(),
                    name,
                    problem: format!("is not a parameter; the parameters are {known:?}"),
                });
            };
            let param = &self.params[k];
            if !param.accepts.iter().any(|a| a.admits(&value)) {
                let problem = format!("must be {}, got {}", param.describe(), value.describe());
                let kind_known = param.accepts.iter().any(|a| a.admits_kind(&value));
                return Err(if kind_known {
                    Error::Parameter {
                        estimator: self.name.into(),
                        name,
                        problem,
                    }
                } else {
                    Error::ParameterType {
                        estimator: self.name.into(),
                        name,
                        problem,
                    }
                });
            }
            values[k] = value;
        }
        Ok(Params { spec: self, values })
    }

    /// The defaults, checked (what a model built without arguments uses).
    pub fn defaults(&'static self) -> Params {
        Params {
            spec: self,
            values: self.params.iter().map(|p| p.default.value()).collect(),
        }
    }
}

impl Params {
    pub fn spec(&self) -> &'static Spec {
        self.spec
    }

    /// The value of a parameter of the spec (a name outside it is a bug in
    /// the model's code, caught by the tests that fit every model).
    pub fn get(&self, name: &str) -> &Value {
        let k = self
            .spec
            .params
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("{} has no parameter {name}", self.spec.name));
        &self.values[k]
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A count (an integer parameter whose forms are all `>= 0`).
    pub fn count(&self, name: &str) -> usize {
        self.int(name).map_or(0, |i| i.max(0) as usize)
    }

    pub fn float(&self, name: &str) -> Option<f64> {
        match self.get(name) {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// A number parameter (always set: its contract admits only numbers).
    pub fn number(&self, name: &str) -> f64 {
        self.float(name).unwrap_or(f64::NAN)
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Value::Bool(true))
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The seed of the `random_state` parameter (None: a fresh random one;
    /// the Python layer passes numpy's draw instead, as scikit-learn does).
    pub fn seed(&self) -> u64 {
        match self.int("random_state") {
            Some(s) => s as u64,
            None => rand::random::<u64>() >> 1,
        }
    }

    /// An error about a parameter (for rules between parameters).
    pub fn error(&self, name: &str, problem: impl Into<String>) -> Error {
        Error::Parameter {
            estimator: self.spec.name.into(),
            name: name.into(),
            problem: problem.into(),
        }
    }
}

/// The usual `n_jobs` parameter: threads, as scikit-learn counts them.
pub const N_JOBS: Param = Param {
    name: "n_jobs",
    default: Literal::None,
    accepts: &[
        Accept::None,
        Accept::Int {
            min: i64::MIN,
            max: -1,
        },
        Accept::int_from(1),
    ],
    unit: "",
    doc: "threads: None or -1 for all cores, -2 for all but one, ...; at most the number of cores",
};

/// The usual `random_state` parameter (the Python layer turns numpy
/// generators into a seed drawn from them).
pub const RANDOM_STATE: Param = Param {
    name: "random_state",
    default: Literal::None,
    accepts: &[Accept::None, Accept::int_from(0)],
    unit: "",
    doc: "seed: None (numpy's global generator), an integer, or a numpy generator",
};

/// The usual `show_progress` parameter.
pub const SHOW_PROGRESS: Param = Param {
    name: "show_progress",
    default: Literal::Bool(false),
    accepts: &[Accept::Bool],
    unit: "",
    doc: "draw a progress bar",
};

/// A count argument of a function (`n`, `k`, ...): an integer of at least
/// `min` (a bool, a float or anything else is a type error).
pub fn count(name: &str, value: &Value, min: i64) -> Result<usize> {
    match value {
        Value::Int(i) if *i >= min => Ok(*i as usize),
        Value::Int(i) => Err(Error::argument(
            name,
            format!("must be an integer >= {min}, got {i}"),
        )),
        other => Err(Error::argument_type(
            name,
            format!("must be an integer >= {min}, got {}", other.describe()),
        )),
    }
}

/// A number argument of a function (an integer or a float; its range is the
/// function's to check).
pub fn number(name: &str, value: &Value) -> Result<f64> {
    match value {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        other => Err(Error::argument_type(
            name,
            format!("must be a number, got {}", other.describe()),
        )),
    }
}

/// A True/False argument of a function.
pub fn flag(name: &str, value: &Value) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(Error::argument_type(
            name,
            format!("must be True or False, got {}", other.describe()),
        )),
    }
}

/// Threads for an `n_jobs` value (None: all cores).  More threads than
/// cores never speed up this work, so larger values use every core (and
/// `n_jobs=10_000` does not start ten thousand threads).
pub fn threads(n_jobs: Option<i64>) -> Option<usize> {
    let n = n_jobs?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    Some(if n < 0 { cores + 1 + n } else { n }.clamp(1, cores) as usize)
}

/// Every contract (the estimators', the simulator's and the CLV intervals'), for the Python
/// layer and the contract tests.
pub fn all() -> Vec<&'static Spec> {
    let mut specs = Vec::new();
    specs.extend(crate::clv::SPECS.iter().copied());
    specs.extend(crate::recommend::ModelKind::ALL.map(|k| k.spec()));
    specs.extend(crate::anomaly::SPECS.iter().copied());
    specs.push(&crate::datasets::simulate::SPEC);
    specs.push(&crate::clv::intervals::SPEC);
    specs
}

/// The spec named `name`.
pub fn find(name: &str) -> Result<&'static Spec> {
    all().into_iter().find(|s| s.name == name).ok_or_else(|| {
        Error::argument("name", format!("{name:?} is not an estimator of patronage"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    static DEMO: Spec = Spec {
        name: "Demo",
        params: &[
            Param {
                name: "k",
                default: Literal::Int(20),
                accepts: &[Accept::int_from(1)],
                unit: "",
                doc: "",
            },
            Param {
                name: "share",
                default: Literal::Str("auto"),
                accepts: &[Accept::Word(&["auto"]), Accept::in_open_closed(0.0, 0.5)],
                unit: "",
                doc: "",
            },
            Param {
                name: "window_hours",
                default: Literal::Float(1.0),
                accepts: &[Accept::above(0.0)],
                unit: "hours",
                doc: "",
            },
        ],
        columns: &[],
        fitted: &[],
    };

    fn check(name: &str, value: Value) -> Result<Params> {
        DEMO.check(vec![(name.into(), value)])
    }

    #[test]
    fn values_are_checked_by_kind_and_range() {
        let p = check("k", Value::Int(3)).unwrap();
        assert_eq!(p.count("k"), 3);
        assert_eq!(p.text("share"), Some("auto"));
        let err = check("k", Value::Int(0)).unwrap_err();
        assert!(matches!(err, Error::Parameter { .. }));
        assert_eq!(
            err.to_string(),
            "Demo parameter 'k' must be an integer >= 1, got 0"
        );
        let err = check("k", Value::Float(3.0)).unwrap_err();
        assert!(err.is_type_error(), "{err}");
        let err = check("share", Value::Float(0.7)).unwrap_err().to_string();
        assert!(err.contains("'auto' or a number in (0, 0.5]"), "{err}");
        assert!(!check("share", Value::Int(0)).unwrap_err().is_type_error());
        let err = check("window_hours", Value::Float(-1.0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a number > 0 (hours)"), "{err}");
        assert!(check("window_hours", Value::Float(f64::NAN)).is_err());
        assert!(check("nope", Value::Int(1))
            .unwrap_err()
            .to_string()
            .contains("not a parameter"));
        assert!(check("k", Value::Other("list".into()))
            .unwrap_err()
            .is_type_error());
    }

    #[test]
    fn every_spec_is_well_formed() {
        let specs = all();
        let mut names: Vec<&str> = specs.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), specs.len(), "spec names are unique");
        for spec in specs {
            for param in spec.params {
                assert!(
                    param
                        .accepts
                        .iter()
                        .any(|a| a.admits(&param.default.value())),
                    "{}.{}: the default is not accepted",
                    spec.name,
                    param.name
                );
            }
            let _ = spec.defaults();
        }
    }

    #[test]
    fn n_jobs_counts_like_scikit_learn() {
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(threads(None), None);
        assert_eq!(threads(Some(-1)), Some(cores));
        assert_eq!(threads(Some(1)), Some(1));
        assert_eq!(threads(Some(-1000)), Some(1));
        assert_eq!(threads(Some(10_000)), Some(cores));
    }
}
