//! Speculative scanning: a layer is scanned while its upload streams
//! through the gate, so when the manifest arrives only the per-image part
//! of the judgement is left (the layers' evidence is in the layer cache,
//! and the pull for the verdict does not download them again).
//!
//! Each upload session (`/v2/<name>/blobs/uploads/<id>`) gets a scanner on
//! a thread of its own, fed the request bodies' chunks in order through a
//! bounded channel (the upload waits for a scanner that falls behind, so
//! memory stays bounded). When the upload completes (`PUT ?digest=D`
//! answered 201), the gate waits for the scanner and stores the evidence
//! under the digest it measured — only if that is `D`, the digest the
//! upstream verified. Blobs that are no layer (configs, artifacts) end the
//! scanner at once; an upload that fails or is abandoned is forgotten.

use crate::digest::Digest;
use crate::scan::cache::LayerCache;
use crate::scan::{ScanLimits, StreamedLayer};
use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Uploads scanned at once; more pass through unscanned.
const MAX_SESSIONS: usize = 4;
/// Chunks buffered between an upload and its scanner.
const CHANNEL_CHUNKS: usize = 64;
/// An upload idle this long is forgotten.
const IDLE: Duration = Duration::from_secs(300);

pub struct Speculation {
    cache: Arc<LayerCache>,
    limits: ScanLimits,
    sessions: Mutex<HashMap<String, Session>>,
}

struct Session {
    tx: Option<mpsc::Sender<Bytes>>,
    result: Option<oneshot::Receiver<Result<StreamedLayer, String>>>,
    last: Instant,
}

/// Feeds one request body's chunks to a session's scanner.
#[derive(Clone)]
pub struct Feed(Option<mpsc::Sender<Bytes>>);

impl Feed {
    /// Passes a chunk on; a scanner that has stopped (not a layer) is left.
    pub async fn send(&mut self, chunk: &Bytes) {
        if let Some(tx) = &self.0
            && tx.send(chunk.clone()).await.is_err()
        {
            self.0 = None;
        }
    }
}

impl Speculation {
    pub fn new(cache: Arc<LayerCache>, limits: ScanLimits) -> Speculation {
        Speculation { cache, limits, sessions: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The feed for the next chunk of upload `session`: its scanner,
    /// started on the first chunk (when fewer than [`MAX_SESSIONS`] run).
    pub fn feed(&self, session: &str) -> Feed {
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.last.elapsed() < IDLE);
        if let Some(s) = sessions.get_mut(session) {
            s.last = Instant::now();
            return Feed(s.tx.clone());
        }
        if sessions.len() >= MAX_SESSIONS {
            return Feed(None);
        }
        let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
        let (done, result) = oneshot::channel();
        let limits = self.limits.clone();
        tokio::task::spawn_blocking(move || {
            let reader = ChannelReader { rx, current: Bytes::new() };
            let _ = done.send(crate::scan::scan_stream(Box::new(reader), &limits));
        });
        sessions
            .insert(session.to_string(), Session { tx: Some(tx.clone()), result: Some(result), last: Instant::now() });
        Feed(Some(tx))
    }

    /// The upload failed or was cancelled.
    pub fn abandon(&self, session: &str) {
        self.lock().remove(session);
    }

    /// The upload completed as `digest` (the upstream verified it): waits
    /// for the scanner and stores its evidence if it read exactly that
    /// blob. Returns whether evidence was stored.
    pub async fn finish(&self, session: &str, digest: &Digest) -> bool {
        let Some(mut s) = self.lock().remove(session) else { return false };
        // Closing the channel ends the scanner's input.
        s.tx = None;
        let Some(result) = s.result.take() else { return false };
        match tokio::time::timeout(Duration::from_secs(120), result).await {
            Ok(Ok(Ok(layer))) if layer.blob == *digest => {
                let (cache, limits) = (self.cache.clone(), self.limits.clone());
                tokio::task::spawn_blocking(move || layer.store(&cache, &limits).is_ok()).await.unwrap_or(false)
            }
            _ => false,
        }
    }
}

/// The scanner's side of the channel, as a blocking reader.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// A request body that also feeds a scanner, chunk by chunk; the feed is
/// dropped when the body ends (or breaks), so the scanner sees the end.
pub fn tee<S>(inner: S, feed: Feed) -> impl futures_util::Stream<Item = Result<Bytes, axum::Error>> + Send
where
    S: futures_util::Stream<Item = Result<Bytes, axum::Error>> + Unpin + Send,
{
    use futures_util::StreamExt;
    futures_util::stream::unfold((inner, Some(feed)), |(mut inner, mut feed)| async move {
        match inner.next().await {
            Some(Ok(chunk)) => {
                if let Some(f) = feed.as_mut() {
                    f.send(&chunk).await;
                }
                Some((Ok(chunk), (inner, feed)))
            }
            Some(Err(e)) => Some((Err(e), (inner, None))),
            None => None,
        }
    })
}

/// The upload session a blob request belongs to: the path
/// `/v2/<name>/blobs/uploads/<id>` (its query changes between requests).
pub fn session_of(path: &str) -> Option<&str> {
    let (_, id) = path.strip_prefix("/v2/")?.rsplit_once("/blobs/uploads/")?;
    (!id.is_empty() && !id.contains('/')).then_some(path)
}

/// The `digest` query parameter of a completing upload.
pub fn digest_param(query: Option<&str>) -> Option<Digest> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "digest")
        .and_then(|(_, v)| Digest::parse(&v).ok())
}
