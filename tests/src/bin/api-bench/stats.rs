//! Latency samples, nearest-rank percentiles and markdown tables.

use std::time::Duration;

/// Latencies of the successful requests of one measurement, and the count of failed ones.
#[derive(Debug, Default)]
pub struct Samples {
    latencies: Vec<Duration>,
    sorted: bool,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Samples {
    pub fn push(&mut self, latency: Duration) {
        self.latencies.push(latency);
        self.sorted = false;
    }

    pub fn fail(&mut self, err: &anyhow::Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{err:#}"));
        }
    }

    pub fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.sorted = false;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
    }

    pub fn len(&self) -> usize {
        self.latencies.len()
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.latencies.sort_unstable();
            self.sorted = true;
        }
    }

    /// Nearest-rank percentile; zero without samples.
    pub fn percentile(&mut self, p: f64) -> Duration {
        self.sort();
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (p / 100.0 * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    /// Successful requests per second over `elapsed`.
    pub fn rate(&self, elapsed: Duration) -> f64 {
        let secs = elapsed.as_secs_f64();
        if secs > 0.0 {
            self.latencies.len() as f64 / secs
        } else {
            0.0
        }
    }

    /// `p50 | p90 | p99 | max` cells in milliseconds.
    pub fn percentile_cells(&mut self) -> [String; 4] {
        [50.0, 90.0, 99.0, 100.0].map(|p| ms(self.percentile(p)))
    }
}

/// Milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// A markdown table.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut s = Samples::default();
        for m in (1..=100).rev() {
            s.push(Duration::from_millis(m));
        }
        assert_eq!(s.percentile(50.0), Duration::from_millis(50));
        assert_eq!(s.percentile(99.0), Duration::from_millis(99));
        assert_eq!(s.percentile(100.0), Duration::from_millis(100));
        assert_eq!(s.rate(Duration::from_secs(4)), 25.0);
        assert_eq!(
            s.percentile_cells(),
            ["50.000", "90.000", "99.000", "100.000"].map(String::from)
        );
        assert_eq!(Samples::default().percentile(99.0), Duration::ZERO);
    }

    #[test]
    fn merge_keeps_the_first_error() {
        let mut a = Samples::default();
        a.push(Duration::from_millis(3));
        let mut b = Samples::default();
        b.fail(&anyhow::anyhow!("boom"));
        b.fail(&anyhow::anyhow!("later"));
        b.push(Duration::from_millis(1));
        a.merge(b);
        assert_eq!((a.len(), a.errors), (2, 2));
        assert_eq!(a.first_error.as_deref(), Some("boom"));
        assert_eq!(a.percentile(1.0), Duration::from_millis(1));
    }

    #[test]
    fn tables_render_as_markdown() {
        let mut t = Table::new(&["verb", "req/s"]);
        t.row(vec!["get".into(), "10.0".into()]);
        assert_eq!(t.render(), "| verb | req/s |\n|---|---|\n| get | 10.0 |\n");
    }
}
