//! Logs and metrics: `tracing` output as text or JSON, and the Prometheus recorder whose
//! text the metrics listener serves, with process and database-pool figures read at scrape time.

use crate::config::{LogConfig, LogFormat};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// Installs the global log subscriber. An invalid filter falls back to `info` with a warning
/// rather than refusing to start.
pub fn init_logging(config: &LogConfig) {
    let (filter, bad_filter) = match EnvFilter::try_new(&config.level) {
        Ok(filter) => (filter, false),
        Err(_) => (EnvFilter::new("info"), true),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let installed = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if installed.is_ok() && bad_filter {
        tracing::warn!(level = %config.level, "log.level is not a valid filter; using info");
    }
}

/// The process-wide Prometheus recorder (installed once; later calls share it).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (only in tests that embed the server);
        // the handle still renders what this recorder collects.
        let _ = metrics::set_global_recorder(recorder);
        describe_metrics();
        handle
    })
}

fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "gatehouse_http_requests_total",
        "HTTP requests by method, route and status."
    );
    describe_histogram!(
        "gatehouse_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method and route."
    );
    describe_gauge!(
        "gatehouse_db_pool_connections",
        "Database pool connections (state=open|idle)."
    );
    describe_gauge!(
        "gatehouse_db_pool_max_connections",
        "Database pool size limit."
    );
    describe_gauge!(
        "process_resident_memory_bytes",
        Unit::Bytes,
        "Resident set size."
    );
    describe_gauge!(
        "process_virtual_memory_bytes",
        Unit::Bytes,
        "Virtual memory size."
    );
    describe_gauge!(
        "process_cpu_seconds_total",
        Unit::Seconds,
        "User and system CPU time."
    );
    describe_gauge!("process_open_fds", "Open file descriptors.");
    describe_gauge!(
        "process_start_time_seconds",
        Unit::Seconds,
        "Start time since the epoch."
    );
    describe_gauge!(
        "gatehouse_ready",
        "1 when the database answers and start-up finished."
    );
    describe_counter!(
        "gatehouse_logins_total",
        "Completed sign-ins (result=success) and refused attempts (result=failure)."
    );
    describe_counter!(
        "gatehouse_tokens_issued_total",
        "OAuth 2.0 token responses by grant type."
    );
    describe_counter!(
        "gatehouse_worker_sweeps_total",
        "Sweeps of expired rows by the worker."
    );
    describe_counter!(
        "gatehouse_worker_swept_rows_total",
        "Expired rows deleted, by kind."
    );
}

/// Process figures from `/proc/self` (Linux); other systems report nothing.
pub fn record_process_metrics() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the parenthesised command name; see proc(5).
    let Some(after_name) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = clock_ticks_per_second();
    let field = |n: usize| fields.get(n).and_then(|f| f.parse::<f64>().ok());
    // `after_name` starts at field 3 (state); utime is field 14, stime 15, starttime 22,
    // vsize 23 (1-based in proc(5)).
    if let (Some(utime), Some(stime)) = (field(11), field(12)) {
        metrics::gauge!("process_cpu_seconds_total").set((utime + stime) / ticks);
    }
    if let Some(vsize) = field(20) {
        metrics::gauge!("process_virtual_memory_bytes").set(vsize);
    }
    if let Some(rss) = resident_memory_bytes() {
        metrics::gauge!("process_resident_memory_bytes").set(rss as f64);
    }
    if let (Some(start_ticks), Some(boot)) = (field(19), boot_time_seconds()) {
        metrics::gauge!("process_start_time_seconds").set(boot + start_ticks / ticks);
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(entries.count() as f64);
    }
}

/// Resident memory in bytes, for logs and benchmarks.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn clock_ticks_per_second() -> f64 {
    // USER_HZ is 100 on every Linux architecture Gatehouse targets.
    100.0
}

fn boot_time_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}
