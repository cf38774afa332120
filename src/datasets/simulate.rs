//! A transaction-log simulator with ground truth, for tests and demos of all
//! three cores.
//!
//! * Timing: BG/NBD.  Each customer buys at rate `lambda ~ Gamma(r, 1/alpha)`
//!   (per day) from a first purchase uniform in the acquisition window, and
//!   after each repeat purchase drops out with probability `p ~ Beta(a, b)`.
//! * Spend: Gamma-Gamma.  Amounts are `Gamma(p, nu)` with a customer's
//!   `nu ~ Gamma(q, gamma)`, so the customer's mean spend is `p / nu`.
//! * Items: a long-tailed (Zipf) catalogue split into taste clusters; a
//!   customer buys from their own cluster with probability `taste_strength`,
//!   otherwise from the whole catalogue by popularity.  An item's category is
//!   its cluster.
//! * Places: each customer has a home place and a few places they travel to.
//! * Fraud: a share of customers has one episode: a thief tests the card with
//!   one or two small purchases minutes apart in a new place, then makes one to
//!   three large purchases within hours.  Fraud rows are labelled.
//!
//! Every customer draws from its own seeded generator, so the log is the same
//! for a seed whatever the number of threads.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, TimestampMicrosecondArray};
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::control::Control;
use crate::error::Result;
use crate::spec::{Accept, Literal, Param, Params, Spec};
use crate::table;

const MICROS_PER_DAY: f64 = 86_400_000_000.0;
const MINUTE_DAYS: f64 = 1.0 / 1440.0;

#[derive(Debug, Clone)]
pub struct SimulationConfig {
    pub n_customers: usize,
    pub seed: u64,
    /// Start of the log, microseconds since 1970-01-01.
    pub start_micros: i64,
    /// Customers make their first purchase uniformly in this many days.
    pub acquisition_days: f64,
    /// Length of the log in days.
    pub horizon_days: f64,
    // BG/NBD (rates per day)
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    // Gamma-Gamma spend
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
    // Catalogue
    pub n_items: usize,
    pub n_clusters: usize,
    pub zipf_exponent: f64,
    pub taste_strength: f64,
    // Places and fraud
    pub n_places: usize,
    pub travel_rate: f64,
    pub fraud_rate: f64,
}

const fn number(
    name: &'static str,
    default: f64,
    accepts: &'static [Accept],
    doc: &'static str,
) -> Param {
    Param {
        name,
        default: Literal::Float(default),
        accepts,
        unit: "",
        doc,
    }
}

const fn count(
    name: &'static str,
    default: i64,
    accepts: &'static [Accept],
    doc: &'static str,
) -> Param {
    Param {
        name,
        default: Literal::Int(default),
        accepts,
        unit: "",
        doc,
    }
}

const COUNT: &[Accept] = &[Accept::int_from(1)];

const POSITIVE: &[Accept] = &[Accept::above(0.0)];
const SHARE: &[Accept] = &[Accept::in_closed(0.0, 1.0)];

/// The contract of `patronage.datasets.simulate_transactions` (besides its
/// `start` date).
pub static SPEC: Spec = Spec {
    name: "simulate_transactions",
    params: &[
        count("n_customers", 1000, COUNT, "customers"),
        count(
            "seed",
            0,
            &[Accept::int_from(0)],
            "seed of every random draw",
        ),
        number(
            "acquisition_days",
            180.0,
            &[Accept::at_least(0.0)],
            "first purchases fall uniformly in this many days",
        ),
        number("horizon_days", 730.0, POSITIVE, "length of the log in days"),
        number("r", 0.75, POSITIVE, "BG/NBD purchase rate shape"),
        number("alpha", 20.0, POSITIVE, "BG/NBD purchase rate scale (days)"),
        number("a", 0.8, POSITIVE, "BG/NBD drop-out beta a"),
        number("b", 2.5, POSITIVE, "BG/NBD drop-out beta b"),
        number("p", 6.25, POSITIVE, "Gamma-Gamma spend shape"),
        number("q", 3.74, POSITIVE, "Gamma-Gamma shape of the spend rate"),
        number(
            "gamma",
            15.44,
            POSITIVE,
            "Gamma-Gamma scale of the spend rate",
        ),
        count("n_items", 2000, COUNT, "items in the catalogue"),
        count("n_clusters", 12, COUNT, "taste clusters (categories)"),
        number(
            "zipf_exponent",
            1.0,
            POSITIVE,
            "long tail of item popularity",
        ),
        number(
            "taste_strength",
            0.8,
            SHARE,
            "share of purchases from the own cluster",
        ),
        count(
            "n_places",
            50,
            &[Accept::int_from(2)],
            "places (fraud happens away from home)",
        ),
        number(
            "travel_rate",
            0.05,
            SHARE,
            "share of purchases away from home",
        ),
        number(
            "fraud_rate",
            0.01,
            SHARE,
            "share of customers with a fraud episode",
        ),
    ],
    columns: &[],
    fitted: &[],
};

/// 2024-01-01, the start of a log unless given.
pub const DEFAULT_START_MICROS: i64 = 1_704_067_200_000_000;

impl SimulationConfig {
    /// From parameters checked against [`SPEC`] and the start of the log.
    pub fn from_params(p: &Params, start_micros: i64) -> Result<Self> {
        let config = SimulationConfig {
            n_customers: p.count("n_customers"),
            seed: p.count("seed") as u64,
            start_micros,
            acquisition_days: p.number("acquisition_days"),
            horizon_days: p.number("horizon_days"),
            r: p.number("r"),
            alpha: p.number("alpha"),
            a: p.number("a"),
            b: p.number("b"),
            p: p.number("p"),
            q: p.number("q"),
            gamma: p.number("gamma"),
            n_items: p.count("n_items"),
            n_clusters: p.count("n_clusters"),
            zipf_exponent: p.number("zipf_exponent"),
            taste_strength: p.number("taste_strength"),
            n_places: p.count("n_places"),
            travel_rate: p.number("travel_rate"),
            fraud_rate: p.number("fraud_rate"),
        };
        if config.acquisition_days > config.horizon_days {
            return Err(p.error(
                "acquisition_days",
                format!(
                    "is {}; it must be at most horizon_days",
                    config.acquisition_days
                ),
            ));
        }
        if config.n_clusters > config.n_items {
            return Err(p.error("n_clusters", "must not exceed n_items"));
        }
        Ok(config)
    }
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig::from_params(&SPEC.defaults(), DEFAULT_START_MICROS)
            .expect("the defaults satisfy the contract")
    }
}

/// What each customer really is.
#[derive(Debug, Clone, Default)]
pub struct CustomerTruth {
    pub lambda: Vec<f64>,
    pub dropout_p: Vec<f64>,
    /// Day (since start) of the first purchase.
    pub first_day: Vec<f64>,
    /// Day the customer dropped out, or `f64::INFINITY` if alive at the end.
    pub dropout_day: Vec<f64>,
    pub nu: Vec<f64>,
    pub cluster: Vec<i64>,
    pub home_place: Vec<i64>,
    pub fraud_victim: Vec<bool>,
}

/// The log (sorted by time) and its truth.  Customer ids are `1..=n`.
#[derive(Debug, Clone, Default)]
pub struct Simulation {
    pub customer_id: Vec<i64>,
    pub timestamp_micros: Vec<i64>,
    pub amount: Vec<f64>,
    pub item_id: Vec<i64>,
    pub category: Vec<i64>,
    pub place: Vec<i64>,
    pub is_fraud: Vec<bool>,
    pub customers: CustomerTruth,
    /// Taste cluster (= category) of every item in the catalogue.
    pub item_cluster: Vec<i64>,
}

struct Tx {
    day: f64,
    amount: f64,
    item: u32,
    place: u32,
    fraud: bool,
}

#[derive(Default)]
struct Customer {
    lambda: f64,
    dropout_p: f64,
    first_day: f64,
    dropout_day: f64,
    nu: f64,
    cluster: usize,
    home: usize,
    victim: bool,
    txs: Vec<Tx>,
}

/// Items of each cluster with their cumulative Zipf weights, for sampling by
/// binary search.
struct Catalogue {
    all: Cumulative,
    clusters: Vec<Cumulative>,
    cluster_of: Vec<usize>,
}

struct Cumulative {
    items: Vec<u32>,
    cdf: Vec<f64>,
}

impl Cumulative {
    fn new(items: Vec<u32>, exponent: f64) -> Self {
        let mut total = 0.0;
        let cdf = items
            .iter()
            .map(|&i| {
                total += 1.0 / ((i + 1) as f64).powf(exponent);
                total
            })
            .collect();
        Cumulative { items, cdf }
    }

    fn sample(&self, rng: &mut impl Rng) -> u32 {
        let u = rng.random::<f64>() * self.cdf[self.cdf.len() - 1];
        let k = self
            .cdf
            .partition_point(|&c| c < u)
            .min(self.items.len() - 1);
        self.items[k]
    }
}

impl Catalogue {
    /// Item `i` has popularity rank `i`; clusters take items round-robin after
    /// a seeded shuffle, so every cluster has popular and niche items.
    fn new(config: &SimulationConfig) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed ^ 0x9e37_79b9_7f4a_7c15);
        let mut cluster_of: Vec<usize> =
            (0..config.n_items).map(|i| i % config.n_clusters).collect();
        for i in (1..cluster_of.len()).rev() {
            let j = rng.random_range(0..=i);
            cluster_of.swap(i, j);
        }
        let clusters = (0..config.n_clusters)
            .map(|c| {
                let items = (0..config.n_items as u32)
                    .filter(|&i| cluster_of[i as usize] == c)
                    .collect();
                Cumulative::new(items, config.zipf_exponent)
            })
            .collect();
        Catalogue {
            all: Cumulative::new((0..config.n_items as u32).collect(), config.zipf_exponent),
            clusters,
            cluster_of,
        }
    }
}

/// Simulate a log (configurations come from [`SimulationConfig::from_params`],
/// which checks them).
pub fn simulate(config: &SimulationConfig, ctl: &Control) -> Result<Simulation> {
    let catalogue = Catalogue::new(config);
    let customers: Vec<Customer> = (0..config.n_customers)
        .into_par_iter()
        .map(|i| {
            if ctl.cancelled() {
                return Customer::default();
            }
            simulate_customer(config, &catalogue, i)
        })
        .collect();
    ctl.check()?;
    Ok(assemble(config, &catalogue, customers))
}

fn customer_rng(seed: u64, index: usize) -> Xoshiro256PlusPlus {
    // Independent streams per customer.
    Xoshiro256PlusPlus::seed_from_u64(crate::hashing::stream_seed(seed, index as u64))
}

fn simulate_customer(c: &SimulationConfig, catalogue: &Catalogue, index: usize) -> Customer {
    let mut rng = customer_rng(c.seed, index);
    // Parameters were validated, so the distributions exist.
    let lambda = Gamma::new(c.r, 1.0 / c.alpha)
        .map_or(0.0, |d| d.sample(&mut rng))
        .max(1e-12);
    let dropout_p = Beta::new(c.a, c.b).map_or(0.5, |d| d.sample(&mut rng));
    let nu = Gamma::new(c.q, 1.0 / c.gamma)
        .map_or(1.0, |d| d.sample(&mut rng))
        .max(1e-12);
    let spend = Gamma::new(c.p, 1.0 / nu).ok();
    let cluster = rng.random_range(0..c.n_clusters);
    let home = rng.random_range(0..c.n_places);
    let travel: [usize; 2] = [
        rng.random_range(0..c.n_places),
        rng.random_range(0..c.n_places),
    ];
    let first_day = rng.random::<f64>() * c.acquisition_days;
    let exp = Exp::new(lambda).ok();

    let draw_item = |rng: &mut Xoshiro256PlusPlus| {
        if rng.random::<f64>() < c.taste_strength {
            catalogue.clusters[cluster].sample(rng)
        } else {
            catalogue.all.sample(rng)
        }
    };
    let mut txs = Vec::new();
    let mut day = first_day;
    let mut dropout_day = f64::INFINITY;
    loop {
        let amount = spend.as_ref().map_or(1.0, |d| d.sample(&mut rng));
        let place = if rng.random::<f64>() < c.travel_rate {
            travel[rng.random_range(0..2)]
        } else {
            home
        };
        let item = draw_item(&mut rng);
        txs.push(Tx {
            day,
            amount,
            item,
            place: place as u32,
            fraud: false,
        });
        let gap = exp.as_ref().map_or(f64::INFINITY, |d| d.sample(&mut rng));
        let next = day + gap;
        if next >= c.horizon_days {
            break;
        }
        day = next;
        // The BG/NBD customer may drop out after each repeat purchase; the
        // purchase at `day` happens only if they were still alive.
        if txs.len() > 1 && rng.random::<f64>() < dropout_p {
            dropout_day = txs[txs.len() - 1].day;
            break;
        }
    }
    let victim = rng.random::<f64>() < c.fraud_rate;
    if victim {
        push_fraud_episode(c, catalogue, &mut rng, home, c.p / nu, first_day, &mut txs);
    }
    Customer {
        lambda,
        dropout_p,
        first_day,
        dropout_day,
        nu,
        cluster,
        home,
        victim,
        txs,
    }
}

/// Card testing: one or two purchases of a few dollars minutes apart in a new
/// place, then one to three large ones within hours.
fn push_fraud_episode(
    c: &SimulationConfig,
    catalogue: &Catalogue,
    rng: &mut Xoshiro256PlusPlus,
    home: usize,
    mean_spend: f64,
    first_day: f64,
    txs: &mut Vec<Tx>,
) {
    let start = first_day + rng.random::<f64>() * (c.horizon_days - first_day) * 0.95;
    let mut place = rng.random_range(0..c.n_places);
    if place == home {
        place = (place + 1) % c.n_places;
    }
    let mut day = start;
    for _ in 0..rng.random_range(1..=2) {
        let amount = 0.5 + rng.random::<f64>() * 4.5;
        txs.push(Tx {
            day,
            amount,
            item: catalogue.all.sample(rng),
            place: place as u32,
            fraud: true,
        });
        day += MINUTE_DAYS * (1.0 + rng.random::<f64>() * 29.0);
    }
    for _ in 0..rng.random_range(1..=3) {
        day += MINUTE_DAYS * (10.0 + rng.random::<f64>() * 230.0);
        let multiple = 5.0 * (6.0f64).powf(rng.random::<f64>()); // 5x..30x
        let amount = (mean_spend * multiple).max(200.0);
        txs.push(Tx {
            day,
            amount,
            item: catalogue.all.sample(rng),
            place: place as u32,
            fraud: true,
        });
    }
    txs.retain(|t| t.day < c.horizon_days);
}

/// One log row before it is split into columns.
struct Row {
    micros: i64,
    customer: u32,
    seq: u32,
    amount: f64,
    item: u32,
    place: u32,
    fraud: bool,
}

fn assemble(c: &SimulationConfig, catalogue: &Catalogue, customers: Vec<Customer>) -> Simulation {
    // Flatten, then sort by (time, customer, position): the customer's own
    // order breaks ties, so the result does not depend on the sort algorithm.
    // Sorting whole rows keeps the column passes below sequential in memory.
    let mut rows: Vec<Row> = customers
        .par_iter()
        .enumerate()
        .flat_map_iter(|(ci, cu)| {
            cu.txs.iter().enumerate().map(move |(k, t)| Row {
                micros: c.start_micros + (t.day * MICROS_PER_DAY) as i64,
                customer: ci as u32,
                seq: k as u32,
                amount: (t.amount * 100.0).round() / 100.0,
                item: t.item,
                place: t.place,
                fraud: t.fraud,
            })
        })
        .collect();
    rows.par_sort_unstable_by_key(|r| (r.micros, r.customer, r.seq));

    let n = rows.len();
    let mut sim = Simulation {
        customer_id: rows.par_iter().map(|r| r.customer as i64 + 1).collect(),
        timestamp_micros: rows.par_iter().map(|r| r.micros).collect(),
        amount: rows.par_iter().map(|r| r.amount).collect(),
        item_id: rows.par_iter().map(|r| r.item as i64).collect(),
        category: rows
            .par_iter()
            .map(|r| catalogue.cluster_of[r.item as usize] as i64)
            .collect(),
        place: rows.par_iter().map(|r| r.place as i64).collect(),
        is_fraud: rows.par_iter().map(|r| r.fraud).collect(),
        customers: CustomerTruth::default(),
        item_cluster: catalogue.cluster_of.iter().map(|&c| c as i64).collect(),
    };
    drop(rows);
    debug_assert_eq!(sim.customer_id.len(), n);
    let truth = &mut sim.customers;
    for cu in &customers {
        truth.lambda.push(cu.lambda);
        truth.dropout_p.push(cu.dropout_p);
        truth.first_day.push(cu.first_day);
        truth.dropout_day.push(cu.dropout_day);
        truth.nu.push(cu.nu);
        truth.cluster.push(cu.cluster as i64);
        truth.home_place.push(cu.home as i64);
        truth.fraud_victim.push(cu.victim);
    }
    sim
}

impl Simulation {
    /// The log (customer_id, timestamp, amount, item_id, category, place,
    /// is_fraud) and the customers' truth (customer_id, lambda, p,
    /// first_day, dropout_day, alive, nu, mean_spend, cluster, home_place,
    /// fraud_victim) as tables; `spend_shape` is the Gamma-Gamma `p`.
    pub fn into_tables(self, spend_shape: f64) -> Result<(RecordBatch, RecordBatch)> {
        let ints = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
        let flags = |v: Vec<bool>| -> ArrayRef { Arc::new(BooleanArray::from(v)) };
        let log = table::record_batch(vec![
            ("customer_id".into(), ints(self.customer_id)),
            (
                "timestamp".into(),
                Arc::new(TimestampMicrosecondArray::from(self.timestamp_micros)),
            ),
            ("amount".into(), table::f64_array(self.amount)),
            ("item_id".into(), ints(self.item_id)),
            ("category".into(), ints(self.category)),
            ("place".into(), ints(self.place)),
            ("is_fraud".into(), flags(self.is_fraud)),
        ])?;
        let t = self.customers;
        let n = t.lambda.len() as i64;
        let alive = t.dropout_day.iter().map(|d| d.is_infinite()).collect();
        let mean_spend = t.nu.iter().map(|nu| spend_shape / nu).collect();
        let truth = table::record_batch(vec![
            ("customer_id".into(), ints((1..=n).collect())),
            ("lambda".into(), table::f64_array(t.lambda)),
            ("p".into(), table::f64_array(t.dropout_p)),
            ("first_day".into(), table::f64_array(t.first_day)),
            ("dropout_day".into(), table::f64_array(t.dropout_day)),
            ("alive".into(), flags(alive)),
            ("nu".into(), table::f64_array(t.nu)),
            ("mean_spend".into(), table::f64_array(mean_spend)),
            ("cluster".into(), ints(t.cluster)),
            ("home_place".into(), ints(t.home_place)),
            ("fraud_victim".into(), flags(t.fraud_victim)),
        ])?;
        Ok((log, truth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sorted() {
        let config = SimulationConfig {
            n_customers: 500,
            seed: 7,
            ..Default::default()
        };
        let a = simulate(&config, &Control::new()).unwrap();
        let b = simulate(&config, &Control::new()).unwrap();
        assert_eq!(a.timestamp_micros, b.timestamp_micros);
        assert_eq!(a.amount, b.amount);
        assert!(a.timestamp_micros.windows(2).all(|w| w[0] <= w[1]));
        assert!(a.is_fraud.iter().any(|&f| f) || a.customers.fraud_victim.iter().all(|&v| !v));
        assert_eq!(a.customers.lambda.len(), 500);
    }

    #[test]
    fn mean_rate_matches_the_gamma_prior() {
        let config = SimulationConfig {
            n_customers: 20_000,
            seed: 1,
            ..Default::default()
        };
        let sim = simulate(&config, &Control::new()).unwrap();
        let mean: f64 = sim.customers.lambda.iter().sum::<f64>() / 20_000.0;
        assert!((mean - config.r / config.alpha).abs() < 0.002, "{mean}");
        let fraud = sim.customers.fraud_victim.iter().filter(|&&v| v).count();
        assert!((100..=300).contains(&fraud), "{fraud}");
    }

    #[test]
    fn bad_config_is_an_error() {
        let p = SPEC.check(vec![("alpha".into(), crate::spec::Value::Float(-1.0))]);
        assert!(p.unwrap_err().to_string().contains("alpha"));
        let p = SPEC
            .check(vec![("n_clusters".into(), crate::spec::Value::Int(5000))])
            .unwrap();
        let err = SimulationConfig::from_params(&p, 0).unwrap_err();
        assert!(err.to_string().contains("n_clusters"), "{err}");
    }
}
