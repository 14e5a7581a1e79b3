//! Latency statistics shared by the load generators.
#![allow(dead_code)] // each load generator uses a part of it

/// The `p` quantile (0..=1) of sorted milliseconds, nearest rank; 0 for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Waits for the load tasks (each its latencies in ms and its error count): all latencies,
/// sorted, and the errors.
pub async fn gather(
    tasks: Vec<tokio::task::JoinHandle<(Vec<f64>, usize)>>,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    lat.sort_by(|x, y| x.total_cmp(y));
    Ok((lat, errors))
}
