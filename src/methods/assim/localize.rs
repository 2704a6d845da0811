//! Localisation taper: the Gaspari–Cohn fifth-order piecewise rational
//! function (Gaspari & Cohn 1999, eq. 4.10). Owns the taper and its radius
//! convention; distances come from `Domain`.
//!
//! Radius convention (Gaspari & Cohn 1999 taper; as in Sakov's and DAPPER's codes): the
//! "localisation radius" ρ is the distance at which the taper equals e^(−1/2),
//! like a Gaussian of standard deviation ρ. The GC half-width c (taper zero at
//! 2c) is then c = ρ / z*, z* the root of GC(z) = e^(−1/2) on [0, 1], so
//! c ≈ 1.7386 ρ. (DAPPER's code uses c = √(10/3) ρ ≈ 1.826 ρ, which matches the
//! Gaussian's curvature at 0 instead and gives 0.634 at ρ.)

use super::error::AssimError;

/// Gaspari–Cohn taper with half-width `c` (support [0, 2c]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaspariCohn {
    half_width: f64,
}

/// The Gaspari–Cohn function of the scaled distance z = r / c.
pub fn gaspari_cohn(z: f64) -> f64 {
    let z = z.abs();
    if z <= 1.0 {
        let z2 = z * z;
        let z3 = z2 * z;
        1.0 - 5.0 / 3.0 * z2 + 5.0 / 8.0 * z3 + 0.5 * z2 * z2 - 0.25 * z2 * z3
    } else if z < 2.0 {
        let z2 = z * z;
        let z3 = z2 * z;
        4.0 - 5.0 * z + 5.0 / 3.0 * z2 + 5.0 / 8.0 * z3 - 0.5 * z2 * z2 + z2 * z3 / 12.0
            - 2.0 / (3.0 * z)
    } else {
        0.0
    }
}

/// z* with GC(z*) = e^(−1/2), by bisection (GC decreases on [0, 1]).
fn e_half_point() -> f64 {
    let target = (-0.5f64).exp();
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if gaspari_cohn(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl GaspariCohn {
    /// Taper whose value at distance `radius` is e^(−1/2) (Sakov & Bertino 2011).
    pub fn from_radius(radius: f64) -> Result<Self, AssimError> {
        if !(radius.is_finite() && radius > 0.0) {
            return Err(AssimError::config(
                "localisation radius",
                radius,
                "must be positive and finite",
            ));
        }
        Ok(GaspariCohn {
            half_width: radius / e_half_point(),
        })
    }

    /// Taper with an explicit half-width c (zero from 2c on).
    pub fn from_half_width(c: f64) -> Result<Self, AssimError> {
        if !(c.is_finite() && c > 0.0) {
            return Err(AssimError::config(
                "taper half-width",
                c,
                "must be positive and finite",
            ));
        }
        Ok(GaspariCohn { half_width: c })
    }

    /// The half-width c.
    pub fn half_width(&self) -> f64 {
        self.half_width
    }

    /// Distance beyond which the taper is zero (2c).
    pub fn support(&self) -> f64 {
        2.0 * self.half_width
    }

    /// Taper value at distance `r`.
    pub fn at(&self, r: f64) -> f64 {
        gaspari_cohn(r / self.half_width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GC(0) = 1, GC(c) = 5/24 from both branches, GC(2c) = 0 and beyond,
    /// e^(−1/2) at the radius, and c/ρ = 1.7386 (Sakov's constant, quoted in
    /// DAPPER's `localization.py`).
    #[test]
    fn taper_known_values() {
        let radius = 4.0;
        let gc = GaspariCohn::from_radius(radius).unwrap();
        let c = gc.half_width();
        assert_eq!(gc.at(0.0), 1.0);
        assert!((gc.at(radius) - (-0.5f64).exp()).abs() < 1e-12);
        assert!((gc.at(c) - 5.0 / 24.0).abs() < 1e-12);
        assert!((gc.at(c * (1.0 + 1e-9)) - 5.0 / 24.0).abs() < 1e-8);
        assert!(gc.at(2.0 * c).abs() < 1e-12);
        assert_eq!(gc.at(2.0 * c + 0.1), 0.0);
        assert!((c / radius - 1.7386).abs() < 1e-3, "c/ρ = {}", c / radius);
        // Monotone decreasing on the support.
        let mut prev = 1.0;
        for k in 1..=100 {
            let v = gc.at(2.0 * c * k as f64 / 100.0);
            assert!(v <= prev + 1e-15);
            prev = v;
        }
    }

    #[test]
    fn rejects_bad_radius() {
        assert!(GaspariCohn::from_radius(0.0).is_err());
        assert!(GaspariCohn::from_radius(f64::NAN).is_err());
    }
}
