//! The terms of the risk score and their explanation in plain words.

use super::state::{
    Observation, AMOUNT_RATIO, CARD_TESTING, COUNT_LONG, HOURS_SINCE_PREVIOUS, NEW_CATEGORY,
    NEW_MERCHANT, NEW_PLACE,
};

/// Which tail of a feature's population distribution is suspicious.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tail {
    High,
    Low,
}

/// One piece of evidence: a feature, the suspicious tail, and a name.
#[derive(Debug, Clone, Copy)]
pub struct Term {
    pub name: &'static str,
    pub feature: usize,
    pub tail: Tail,
}

/// The risk score is the sum of these terms' surprises.  Equal surprises are
/// quoted in this order: the most specific pattern first.
pub const TERMS: [Term; 8] = [
    Term {
        name: "card_testing",
        feature: CARD_TESTING,
        tail: Tail::High,
    },
    Term {
        name: "high_amount",
        feature: AMOUNT_RATIO,
        tail: Tail::High,
    },
    Term {
        name: "low_amount",
        feature: AMOUNT_RATIO,
        tail: Tail::Low,
    },
    Term {
        name: "quick_succession",
        feature: HOURS_SINCE_PREVIOUS,
        tail: Tail::Low,
    },
    Term {
        name: "burst",
        feature: COUNT_LONG,
        tail: Tail::High,
    },
    Term {
        name: "new_place",
        feature: NEW_PLACE,
        tail: Tail::High,
    },
    Term {
        name: "new_merchant",
        feature: NEW_MERCHANT,
        tail: Tail::High,
    },
    Term {
        name: "new_category",
        feature: NEW_CATEGORY,
        tail: Tail::High,
    },
];
pub const N_TERMS: usize = TERMS.len();

/// A term is quoted as a reason only when its surprise is at least this
/// (its tail probability at most e^-1 / 2, about 18%).
pub const MIN_REASON_SURPRISE: f64 = 1.0;

fn duration(hours: f64) -> String {
    let minutes = hours * 60.0;
    if minutes < 1.0 {
        "less than a minute".to_string()
    } else if minutes < 90.0 {
        format!("{:.0} minutes", minutes)
    } else if hours < 48.0 {
        format!("{:.1} hours", hours)
    } else {
        format!("{:.0} days", hours / 24.0)
    }
}

/// A share as a percentage with two significant digits (0.15%, 3.2%, 45%).
fn percent(share: f64) -> String {
    let p = share * 100.0;
    let decimals = if p >= 10.0 {
        0
    } else if p >= 1.0 {
        1
    } else {
        2
    };
    format!("{p:.decimals$}%")
}

/// The reason for `term` in plain words, quoting the transaction.
pub fn phrase(term: &Term, obs: &Observation, long_window_hours: f64) -> String {
    let f = &obs.features;
    match term.name {
        "high_amount" => format!(
            "amount {:.2} is {:.1}x this customer's average of {:.2}",
            obs.amount, f[AMOUNT_RATIO], obs.usual
        ),
        "low_amount" => format!(
            "amount {:.2} is only {} of this customer's average of {:.2}",
            obs.amount,
            percent(f[AMOUNT_RATIO]),
            obs.usual
        ),
        "quick_succession" => format!(
            "only {} after the previous purchase",
            duration(f[HOURS_SINCE_PREVIOUS])
        ),
        "burst" => format!(
            "{:.0} other purchase(s) in the previous {}",
            f[COUNT_LONG],
            duration(long_window_hours)
        ),
        "new_merchant" => format!(
            "first purchase at this merchant after {} earlier purchase(s)",
            obs.n_past
        ),
        "new_category" => format!(
            "first purchase in this category after {} earlier purchase(s)",
            obs.n_past
        ),
        "new_place" => format!(
            "first purchase at this place after {} earlier purchase(s) elsewhere",
            obs.n_past
        ),
        "card_testing" => format!(
            "large purchase {} after a small one of {:.2} (card-testing pattern)",
            duration(obs.test_hours),
            obs.test_amount
        ),
        _ => term.name.to_string(),
    }
}

/// The top `n` reasons, most surprising first, joined by "; ".
pub fn explain(
    surprises: &[f64; N_TERMS],
    obs: &Observation,
    n: usize,
    long_window_hours: f64,
) -> String {
    let mut order: Vec<usize> = (0..N_TERMS)
        .filter(|&t| surprises[t] >= MIN_REASON_SURPRISE)
        .collect();
    order.sort_by(|&a, &b| surprises[b].total_cmp(&surprises[a]).then(a.cmp(&b)));
    order
        .iter()
        .take(n)
        .map(|&t| phrase(&TERMS[t], obs, long_window_hours))
        .collect::<Vec<_>>()
        .join("; ")
}
