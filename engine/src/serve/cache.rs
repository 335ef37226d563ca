//! The verdict cache: judged images keyed by everything a verdict depends
//! on (subject digest, repository and tag, engine fingerprint — the key and
//! its rule are `serve::VerdictKey`), so a verdict is reused only where it
//! would come out the same, and for no longer than it holds (waiver
//! expiry bounds an entry's TTL).
//!
//! - Bounded: least recently used entries go first.
//! - Admits and denials have their own TTLs; a denial is kept only when it
//!   cannot change on retry (no finding errored — a plugin timeout or an
//!   unreadable blob might go away). Failures to judge at all (registry
//!   errors, deadlines) are never kept.
//! - Single-flight: concurrent requests for one key share one evaluation,
//!   which runs as its own task — a request that gives up at its deadline
//!   does not cancel it, and its result serves the next request.
//!
//! Tag → digest resolutions are cached separately and briefly
//! ([`TagCache`]).

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a value may be reused: `None` = not at all.
pub trait Expiry {
    fn ttl(&self, admit: Duration, deny: Duration) -> Option<Duration>;
}

/// How a lookup was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// From the cache.
    Hit,
    /// By an evaluation this request started.
    Evaluated,
    /// By joining an evaluation another request had started.
    Joined,
}

type Flight<V, E> = Shared<BoxFuture<'static, Result<V, E>>>;

struct Inner<K: Hash + Eq, V, E> {
    done: lru::LruCache<K, (V, Instant)>,
    flying: HashMap<K, Flight<V, E>>,
}

pub struct VerdictCache<K: Hash + Eq, V, E> {
    inner: Mutex<Inner<K, V, E>>,
    admit_ttl: Duration,
    deny_ttl: Duration,
}

impl<K, V, E> VerdictCache<K, V, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Expiry + Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static + From<tokio::task::JoinError>,
{
    pub fn new(capacity: usize, admit_ttl: Duration, deny_ttl: Duration) -> Arc<Self> {
        Arc::new(VerdictCache {
            inner: Mutex::new(Inner {
                done: lru::LruCache::new(NonZeroUsize::new(capacity.max(1)).expect("capacity >= 1")),
                flying: HashMap::new(),
            }),
            admit_ttl,
            deny_ttl,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V, E>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value for `key`, or the result of `evaluate` (run once
    /// for all concurrent callers, on its own task). The returned future
    /// may be dropped (deadline) without cancelling the evaluation.
    pub async fn get_or_evaluate(
        self: &Arc<Self>,
        key: K,
        evaluate: impl FnOnce() -> BoxFuture<'static, Result<V, E>>,
    ) -> (Result<V, E>, Served) {
        let (flight, served) = {
            let mut inner = self.lock();
            if let Some((v, until)) = inner.done.get(&key) {
                if *until > Instant::now() {
                    return (Ok(v.clone()), Served::Hit);
                }
                inner.done.pop(&key);
            }
            if let Some(f) = inner.flying.get(&key) {
                (f.clone(), Served::Joined)
            } else {
                let this = self.clone();
                let k = key.clone();
                let work = evaluate();
                let task = tokio::spawn(async move {
                    let r = work.await;
                    this.land(k, &r);
                    r
                });
                let (this, k) = (self.clone(), key.clone());
                let flight: Flight<V, E> = async move {
                    match task.await {
                        Ok(r) => r,
                        // The evaluation panicked: forget it, so the next request tries again.
                        Err(e) => {
                            this.lock().flying.remove(&k);
                            Err(E::from(e))
                        }
                    }
                }
                .boxed()
                .shared();
                inner.flying.insert(key, flight.clone());
                (flight, Served::Evaluated)
            }
        };
        (flight.await, served)
    }

    fn land(&self, key: K, r: &Result<V, E>) {
        let mut inner = self.lock();
        inner.flying.remove(&key);
        if let Ok(v) = r
            && let Some(ttl) = v.ttl(self.admit_ttl, self.deny_ttl)
        {
            inner.done.put(key, (v.clone(), Instant::now() + ttl));
        }
    }

    /// Drops every finished entry (a policy was reloaded).
    pub fn clear(&self) {
        self.lock().done.clear();
    }

    pub fn len(&self) -> usize {
        self.lock().done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Tag → digest, kept for a short while (tags move).
pub struct TagCache {
    entries: Mutex<lru::LruCache<String, (crate::digest::Digest, Instant)>>,
    ttl: Duration,
}

impl TagCache {
    pub fn new(capacity: usize, ttl: Duration) -> TagCache {
        TagCache {
            entries: Mutex::new(lru::LruCache::new(NonZeroUsize::new(capacity.max(1)).expect("capacity >= 1"))),
            ttl,
        }
    }

    pub fn get(&self, reference: &str) -> Option<crate::digest::Digest> {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match e.get(reference) {
            Some((d, until)) if *until > Instant::now() => Some(d.clone()),
            _ => None,
        }
    }

    pub fn put(&self, reference: String, digest: crate::digest::Digest) {
        if self.ttl.is_zero() {
            return;
        }
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.put(reference, (digest, Instant::now() + self.ttl));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Clone, Debug, PartialEq)]
    enum V {
        Admit,
        Deny,
        Unsure,
    }
    impl Expiry for V {
        fn ttl(&self, admit: Duration, deny: Duration) -> Option<Duration> {
            match self {
                V::Admit => Some(admit),
                V::Deny => Some(deny),
                V::Unsure => None,
            }
        }
    }
    #[derive(Clone, Debug)]
    struct E(#[allow(dead_code)] String);
    impl From<tokio::task::JoinError> for E {
        fn from(e: tokio::task::JoinError) -> Self {
            E(e.to_string())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_lookups_share_one_evaluation() {
        let cache: Arc<VerdictCache<u32, V, E>> =
            VerdictCache::new(10, Duration::from_secs(60), Duration::from_secs(60));
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (cache, runs) = (cache.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_evaluate(7, move || {
                        async move {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Ok(V::Admit)
                        }
                        .boxed()
                    })
                    .await
            }));
        }
        let mut served = Vec::new();
        for t in tasks {
            let (r, s) = t.await.unwrap();
            assert_eq!(r.unwrap(), V::Admit);
            served.push(s);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(served.iter().filter(|s| **s == Served::Evaluated).count(), 1);
        let (_, s) = cache.get_or_evaluate(7, || async { Ok(V::Deny) }.boxed()).await;
        assert_eq!(s, Served::Hit);
    }

    #[tokio::test]
    async fn errors_and_unsure_values_are_not_kept_and_ttls_apply() {
        let cache: Arc<VerdictCache<u32, V, E>> = VerdictCache::new(10, Duration::from_secs(60), Duration::ZERO);
        let (r, _) = cache.get_or_evaluate(1, || async { Err(E("registry down".into())) }.boxed()).await;
        assert!(r.is_err());
        let (r, s) = cache.get_or_evaluate(1, || async { Ok(V::Unsure) }.boxed()).await;
        assert_eq!((r.unwrap(), s), (V::Unsure, Served::Evaluated));
        let (_, s) = cache.get_or_evaluate(1, || async { Ok(V::Deny) }.boxed()).await;
        assert_eq!(s, Served::Evaluated, "unsure values are not kept");
        // deny TTL is zero here: expired at once
        let (_, s) = cache.get_or_evaluate(1, || async { Ok(V::Admit) }.boxed()).await;
        assert_eq!(s, Served::Evaluated);
        let (_, s) = cache.get_or_evaluate(1, || async { Ok(V::Deny) }.boxed()).await;
        assert_eq!(s, Served::Hit);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn a_panicking_evaluation_is_not_remembered() {
        let cache: Arc<VerdictCache<u32, V, E>> =
            VerdictCache::new(4, Duration::from_secs(60), Duration::from_secs(60));
        let (r, _) = cache.get_or_evaluate(5, || async { panic!("plugin host bug") }.boxed()).await;
        assert!(r.is_err());
        let (r, s) = cache.get_or_evaluate(5, || async { Ok(V::Admit) }.boxed()).await;
        assert_eq!((r.unwrap(), s), (V::Admit, Served::Evaluated));
    }

    #[tokio::test]
    async fn least_recently_used_goes_first() {
        let cache: Arc<VerdictCache<u32, V, E>> =
            VerdictCache::new(2, Duration::from_secs(60), Duration::from_secs(60));
        for k in [1, 2, 3] {
            cache.get_or_evaluate(k, || async { Ok(V::Admit) }.boxed()).await.0.unwrap();
        }
        assert_eq!(cache.len(), 2);
        let (_, s) = cache.get_or_evaluate(1, || async { Ok(V::Admit) }.boxed()).await;
        assert_eq!(s, Served::Evaluated);
    }
}
