//! The report's figures folded one value at a time, so that no list of values (one per
//! participant) is kept: [`MeanSum`] for a mean and [`PairSums`] for the paired
//! comparison of `stats::paired`. Each adds in the order the values come, exactly as
//! `stats::mean` and `stats::paired` add a list in its order (from −0.0, as Rust's
//! `Sum` for floats does), so the figures are the same to the last bit when the values
//! come in the order the list had. The standard deviation needs the mean first: a second
//! look at the same values in the same order ([`PairSums::add_square`]).

use crate::stats::{self, meets_target, Paired, TargetGroup};

/// Values folded into their count and sum; with how many reached their target, for the
/// per-person means of the 目標達成 sheet.
#[derive(Debug, Clone, Copy)]
pub struct MeanSum {
    pub n: usize,
    sum: f64,
    /// Values that reached the target they were added with.
    pub met: usize,
}

impl Default for MeanSum {
    fn default() -> Self {
        MeanSum {
            n: 0,
            sum: -0.0,
            met: 0,
        }
    }
}

impl MeanSum {
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
    }

    /// A participant's mean daily steps, held against their target.
    pub fn add_person(&mut self, x: f64, target: TargetGroup) {
        self.add(x);
        self.met += usize::from(meets_target(target, x));
    }

    /// As `stats::mean` of the values added.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// `(before, after)` pairs folded for `stats::paired`: the sums first
/// ([`PairSums::add`]), then, once every pair is in, the squares of the differences from
/// their mean ([`PairSums::add_square`], the same pairs again in the same order).
#[derive(Debug, Clone, Copy)]
pub struct PairSums {
    pub n: usize,
    before: f64,
    after: f64,
    diff: f64,
    squares: f64,
    pub increased: usize,
    unchanged: usize,
    decreased: usize,
}

impl Default for PairSums {
    fn default() -> Self {
        PairSums {
            n: 0,
            before: -0.0,
            after: -0.0,
            diff: -0.0,
            squares: -0.0,
            increased: 0,
            unchanged: 0,
            decreased: 0,
        }
    }
}

impl PairSums {
    pub fn add(&mut self, before: f64, after: f64) {
        let d = after - before;
        self.n += 1;
        self.before += before;
        self.after += after;
        self.diff += d;
        self.increased += usize::from(d > 0.0);
        self.unchanged += usize::from(d == 0.0);
        self.decreased += usize::from(d < 0.0);
    }

    fn mean_diff(&self) -> f64 {
        self.diff / self.n as f64
    }

    /// The second look: one pair again, after all of them were added.
    pub fn add_square(&mut self, before: f64, after: f64) {
        let m = self.mean_diff();
        let d = after - before;
        self.squares += (d - m) * (d - m);
    }

    /// As `stats::paired` of the pairs (once each was added and squared).
    pub fn paired(&self) -> Option<Paired> {
        if self.n == 0 {
            return None;
        }
        let n = self.n;
        let mean_diff = self.mean_diff();
        let sd_diff = (n >= 2).then(|| (self.squares / (n - 1) as f64).sqrt());
        let ci95 = sd_diff.map(|sd| {
            let half = stats::t_quantile(0.975, (n - 1) as u64) * sd / (n as f64).sqrt();
            (mean_diff - half, mean_diff + half)
        });
        Some(Paired {
            n,
            mean_before: self.before / n as f64,
            mean_after: self.after / n as f64,
            mean_diff,
            sd_diff,
            ci95,
            increased: self.increased,
            unchanged: self.unchanged,
            decreased: self.decreased,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudo-random step means with many decimals (xorshift), some pairs equal.
    fn pairs(n: usize, seed: u64) -> Vec<(f64, f64)> {
        let mut x = seed;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 1_500_000) as f64 / 97.0
        };
        (0..n)
            .map(|i| {
                let b = next();
                (b, if i % 7 == 0 { b } else { next() })
            })
            .collect()
    }

    #[test]
    fn pairs_folded_twice_give_stats_paired_to_the_last_bit() {
        for (n, seed) in [(0, 1), (1, 2), (2, 3), (5, 4), (1000, 5), (30_000, 6)] {
            let ps = pairs(n, seed);
            let mut f = PairSums::default();
            ps.iter().for_each(|p| f.add(p.0, p.1));
            ps.iter().for_each(|p| f.add_square(p.0, p.1));
            assert_eq!(f.paired(), stats::paired(&ps), "{n} pairs");
            assert_eq!(f.n, ps.len());
        }
    }

    /// A list made of two groups (the report's 計 rows): the first group's sums carried on
    /// with the second's pairs, then the squares of both in the list's order.
    #[test]
    fn two_groups_carried_on_give_the_joined_list() {
        let (a, b) = (pairs(777, 7), pairs(1234, 8));
        let mut fa = PairSums::default();
        a.iter().for_each(|p| fa.add(p.0, p.1));
        let mut all = fa;
        b.iter().for_each(|p| all.add(p.0, p.1));
        a.iter().chain(&b).for_each(|p| all.add_square(p.0, p.1));
        let joined: Vec<(f64, f64)> = a.iter().chain(&b).copied().collect();
        assert_eq!(all.paired(), stats::paired(&joined));
    }

    #[test]
    fn means_are_stats_mean_with_the_people_who_met_their_target() {
        let xs: Vec<f64> = pairs(5000, 9).into_iter().map(|p| p.0).collect();
        let mut m = MeanSum::default();
        xs.iter().for_each(|x| m.add_person(*x, TargetGroup::Adult));
        assert_eq!(m.mean(), stats::mean(&xs));
        assert_eq!(m.met, xs.iter().filter(|x| **x >= 8000.0).count());
        assert_eq!(MeanSum::default().mean(), None);
    }
}
