//! A small BFGS minimiser for smooth objectives of a few parameters.
//!
//! The buy-till-you-die likelihoods have 2-4 parameters and exact gradients
//! (forward-mode duals), so a dense quasi-Newton method with a backtracking
//! Armijo line search is all that is needed; the cost is in the objective.

/// Outcome of [`minimize`].
#[derive(Debug, Clone)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
    pub gradient: Vec<f64>,
    /// The final quasi-Newton approximation of the inverse Hessian (row-major),
    /// a good start for a related problem.
    pub inverse_hessian: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    /// Ended by the caller's `stop` rule (see [`minimize_until`]).
    pub stopped: bool,
}

/// Stopping rules: the gradient's largest component below `gradient_tol`.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub max_iter: usize,
    pub gradient_tol: f64,
}

/// Minimise `f`, which returns the value and gradient at a point (a value
/// that is not finite makes the line search step back).  `inverse_hessian`
/// starts the approximation (e.g. from a fit on a subsample); without it the
/// identity is scaled to the curvature seen on the first step.
pub fn minimize(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    x0: &[f64],
    inverse_hessian: Option<Vec<f64>>,
    settings: Settings,
) -> Minimum {
    minimize_until(f, x0, inverse_hessian, settings, &|_, _| false)
}

/// [`minimize`], ended early once `stop(x, f(x))` holds after a step: the
/// caller knows the iterates are running to a boundary it handles.
pub fn minimize_until(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    x0: &[f64],
    inverse_hessian: Option<Vec<f64>>,
    settings: Settings,
    stop: &dyn Fn(&[f64], f64) -> bool,
) -> Minimum {
    let n = x0.len();
    let mut x = x0.to_vec();
    let (mut fx, mut g) = f(&x);
    let scale_first_step = inverse_hessian.is_none();
    let mut h = inverse_hessian
        .filter(|h| h.len() == n * n && h.iter().all(|v| v.is_finite()))
        .unwrap_or_else(|| identity(n));
    let mut iterations = 0;
    let mut stopped = false;
    let converged = |g: &[f64]| g.iter().all(|v| v.abs() <= settings.gradient_tol);
    while iterations < settings.max_iter && fx.is_finite() && !converged(&g) {
        iterations += 1;
        let mut direction: Vec<f64> = (0..n).map(|i| -dot(&h[i * n..(i + 1) * n], &g)).collect();
        let mut slope = dot(&direction, &g);
        if slope >= 0.0 {
            // The approximation lost positive definiteness: restart from steepest descent.
            h = identity(n);
            direction = g.iter().map(|v| -v).collect();
            slope = dot(&direction, &g);
        }
        // Keep a first step in log-parameter space below a factor of e^5.
        let longest = direction.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut step = if longest > 5.0 { 5.0 / longest } else { 1.0 };
        let mut accepted = None;
        for _ in 0..60 {
            let trial: Vec<f64> = x
                .iter()
                .zip(&direction)
                .map(|(xi, d)| xi + step * d)
                .collect();
            let (ft, gt) = f(&trial);
            if ft.is_finite() && ft <= fx + 1e-4 * step * slope && gt.iter().all(|v| v.is_finite())
            {
                accepted = Some((trial, ft, gt));
                break;
            }
            step *= 0.5;
        }
        let Some((x_new, f_new, g_new)) = accepted else {
            break; // no decrease possible at floating-point resolution
        };
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() {
            if iterations == 1 && scale_first_step {
                // Scale the initial inverse Hessian to the observed curvature.
                let scale = sy / dot(&y, &y);
                h.iter_mut().for_each(|v| *v *= scale);
            }
            update_inverse_hessian(&mut h, &s, &y, sy);
        }
        let stalled = (fx - f_new).abs() <= 1e-15 * fx.abs().max(1e-300);
        x = x_new;
        fx = f_new;
        g = g_new;
        if stop(&x, fx) {
            stopped = true;
            break;
        }
        if stalled {
            break;
        }
    }
    // Stopping because no step decreases the objective any more is success
    // when the gradient is small: what remains of it is rounding noise.
    let stalled_at_minimum = iterations < settings.max_iter
        && g.iter()
            .all(|v| v.abs() <= 0.1 * settings.gradient_tol.sqrt());
    Minimum {
        converged: fx.is_finite() && (converged(&g) || stalled_at_minimum),
        x,
        value: fx,
        gradient: g,
        inverse_hessian: h,
        iterations,
        stopped,
    }
}

fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    (0..n).for_each(|i| m[i * n + i] = 1.0);
    m
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ` with `ρ = 1 / sᵀy`.
fn update_inverse_hessian(h: &mut [f64], s: &[f64], y: &[f64], sy: f64) {
    let n = s.len();
    let rho = 1.0 / sy;
    let hy: Vec<f64> = (0..n).map(|i| dot(&h[i * n..(i + 1) * n], y)).collect();
    let yhy = dot(y, &hy);
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] +=
                -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
        }
    }
}

/// Invert a symmetric positive-definite matrix by Cholesky factorisation;
/// `None` when it is not positive definite.
pub fn invert_spd(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let sum = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if i == j {
                if !(sum > 0.0) {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    // Solve L Lᵀ X = I column by column.
    let mut inv = vec![0.0; n * n];
    for col in 0..n {
        let mut z = vec![0.0; n];
        for i in 0..n {
            let e = if i == col { 1.0 } else { 0.0 };
            z[i] = (e - (0..i).map(|k| l[i * n + k] * z[k]).sum::<f64>()) / l[i * n + i];
        }
        for i in (0..n).rev() {
            let v = (z[i]
                - (i + 1..n)
                    .map(|k| l[k * n + i] * inv[k * n + col])
                    .sum::<f64>())
                / l[i * n + i];
            inv[i * n + col] = v;
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_rosenbrock() {
        let f = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let value = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let grad = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            (value, grad)
        };
        let m = minimize(
            f,
            &[-1.2, 1.0],
            None,
            Settings {
                max_iter: 500,
                gradient_tol: 1e-9,
            },
        );
        assert!(m.converged, "{m:?}");
        assert!((m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn inverts_spd_matrices() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let inv = invert_spd(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(invert_spd(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
