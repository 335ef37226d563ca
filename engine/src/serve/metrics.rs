//! Prometheus metrics of the server (text exposition format 0.0.4, served
//! at `GET /metrics`): requests and latency by endpoint and verdict, verdict
//! cache hits/misses/joins, evaluations and their (plugin) time, registry
//! fetch latency and errors, policy reloads.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

const LATENCY_BUCKETS: &[f64] =
    &[0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_seconds: HistogramVec,
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
    pub cache_joins: IntCounter,
    pub evaluations: IntCounterVec,
    pub evaluation_seconds: HistogramVec,
    pub registry_seconds: HistogramVec,
    pub registry_errors: IntCounterVec,
    pub reloads: IntCounterVec,
    pub ready: IntGauge,
    /// Verification summaries found on images, by result (`trusted`, `ignored`).
    pub summaries: IntCounterVec,
    /// Evaluations refused because the queue was full.
    pub busy: IntCounter,
    /// Evaluations waiting for a permit now.
    pub queued: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("portcullis".into()), None).expect("valid prefix");
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "HTTP requests answered, by endpoint and verdict"),
            &["endpoint", "verdict"],
        )
        .expect("valid metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("request_duration_seconds", "Time to answer a request, by endpoint and verdict")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["endpoint", "verdict"],
        )
        .expect("valid metric");
        let cache_hits =
            IntCounter::new("verdict_cache_hits_total", "Image verdicts served from the cache").expect("valid metric");
        let cache_misses = IntCounter::new("verdict_cache_misses_total", "Image verdicts that started an evaluation")
            .expect("valid metric");
        let cache_joins = IntCounter::new(
            "verdict_cache_joins_total",
            "Image verdicts that waited for an evaluation already under way",
        )
        .expect("valid metric");
        let evaluations =
            IntCounterVec::new(Opts::new("evaluations_total", "Images judged by the engine, by verdict"), &["verdict"])
                .expect("valid metric");
        let evaluation_seconds = HistogramVec::new(
            HistogramOpts::new("evaluation_seconds", "Time in the engine (reading evidence and plugins) per image")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["phase"],
        )
        .expect("valid metric");
        let registry_seconds = HistogramVec::new(
            HistogramOpts::new("registry_fetch_seconds", "Registry round trips, by operation")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )
        .expect("valid metric");
        let registry_errors = IntCounterVec::new(
            Opts::new("registry_errors_total", "Registry operations that failed, by kind"),
            &["kind"],
        )
        .expect("valid metric");
        let reloads = IntCounterVec::new(Opts::new("policy_reloads_total", "Policy (re)loads, by result"), &["result"])
            .expect("valid metric");
        let ready = IntGauge::new("ready", "1 once policies and plugins are loaded").expect("valid metric");
        let summaries = IntCounterVec::new(
            Opts::new("verification_summaries_total", "Verification summaries found on images, by result"),
            &["result"],
        )
        .expect("valid metric");
        let busy = IntCounter::new(
            "evaluations_refused_busy_total",
            "Images not judged because every evaluation slot and the queue were taken",
        )
        .expect("valid metric");
        let queued = IntGauge::new("evaluations_queued", "Evaluations waiting for a slot").expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_seconds.clone()),
            Box::new(cache_hits.clone()),
            Box::new(cache_misses.clone()),
            Box::new(cache_joins.clone()),
            Box::new(evaluations.clone()),
            Box::new(evaluation_seconds.clone()),
            Box::new(registry_seconds.clone()),
            Box::new(registry_errors.clone()),
            Box::new(reloads.clone()),
            Box::new(ready.clone()),
            Box::new(summaries.clone()),
            Box::new(busy.clone()),
            Box::new(queued.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics {
            registry,
            requests,
            request_seconds,
            cache_hits,
            cache_misses,
            cache_joins,
            evaluations,
            evaluation_seconds,
            registry_seconds,
            registry_errors,
            reloads,
            ready,
            summaries,
            busy,
            queued,
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding does not fail");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
