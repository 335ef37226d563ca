//! Prometheus metrics of the gate (`GET /metrics`, text format 0.0.4):
//! manifest pushes by class and verdict, time to judge a tag push, upstream
//! latency and failures, bytes streamed each way, verdict cache use.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

const LATENCY_BUCKETS: &[f64] = &[0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

pub struct Metrics {
    registry: Registry,
    /// Manifest pushes by class (`tag`, `digest`, `referrer`, `attachment`,
    /// `referrers-index`, `refused`) and outcome (`admit`, `deny`,
    /// `forwarded`, `unavailable`).
    pub pushes: IntCounterVec,
    pub evaluation_seconds: Histogram,
    pub upstream_seconds: Histogram,
    pub upstream_errors: IntCounter,
    pub bytes_in: IntCounter,
    pub bytes_out: IntCounter,
    pub cache_hits: IntCounter,
    /// Layers scanned while they were uploaded, their evidence stored.
    pub speculative_scans: IntCounter,
    /// Layers a verdict's pull did not download: their evidence was cached.
    pub layers_from_cache: IntCounter,
    /// Verification summaries attached on admit, by result (`attached`, `failed`).
    pub summaries: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("portcullis_gate".into()), None).expect("valid prefix");
        let pushes = IntCounterVec::new(
            Opts::new("manifest_pushes_total", "Manifest pushes, by class and outcome"),
            &["class", "outcome"],
        )
        .expect("valid metric");
        let histogram = |name: &str, help: &str| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()))
                .expect("valid metric")
        };
        let evaluation_seconds =
            histogram("evaluation_seconds", "Time from a tag push's arrival to its verdict (reading and judging)");
        let upstream_seconds = histogram("upstream_seconds", "Upstream round trips, until the response headers");
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let upstream_errors = counter("upstream_errors_total", "Requests the upstream did not answer");
        let bytes_in = counter("bytes_in_total", "Request body bytes streamed to the upstream");
        let bytes_out = counter("bytes_out_total", "Response body bytes streamed back to clients");
        let cache_hits = counter("verdict_cache_hits_total", "Tag pushes judged from the verdict cache");
        let speculative_scans =
            counter("speculative_scans_total", "Layers scanned while uploaded through the gate, evidence stored");
        let layers_from_cache =
            counter("layers_from_cache_total", "Layers of judged images not downloaded: their evidence was cached");
        let summaries = IntCounterVec::new(
            Opts::new("verification_summaries_total", "Verification summaries attached on admit, by result"),
            &["result"],
        )
        .expect("valid metric");
        for c in [
            Box::new(pushes.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(evaluation_seconds.clone()),
            Box::new(upstream_seconds.clone()),
            Box::new(upstream_errors.clone()),
            Box::new(bytes_in.clone()),
            Box::new(bytes_out.clone()),
            Box::new(cache_hits.clone()),
            Box::new(speculative_scans.clone()),
            Box::new(layers_from_cache.clone()),
            Box::new(summaries.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics {
            registry,
            pushes,
            evaluation_seconds,
            upstream_seconds,
            upstream_errors,
            bytes_in,
            bytes_out,
            cache_hits,
            speculative_scans,
            layers_from_cache,
            summaries,
        }
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding does not fail");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}
