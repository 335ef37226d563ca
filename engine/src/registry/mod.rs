//! Registries: pulls an image by tag or digest over the OCI distribution API
//! (oci-client) into an on-disk, content-addressed blob cache, with what is
//! attached to it — cosign signatures, attestations and SBOMs by the
//! `sha256-<hex>.{sig,att,sbom}` tag scheme, and OCI 1.1 referrers — and
//! presents the result as an OCI layout ([`Pulled`]). A remote image is then
//! read and judged by the very code that reads local layouts, so auditing
//! `docker://host/repo:tag` and auditing the same image from a layout give
//! the same report.
//!
//! Every manifest and blob is verified against its digest as it arrives
//! (oci-client hashes the stream; manifests are hashed here) and again when
//! the layout reader reads it. Blobs already in the cache are not fetched
//! again: the cache is keyed by content, so it never serves stale data.

pub mod auth;
pub mod egress;

use crate::digest::Digest;
use crate::oci::{self, media_type};
use futures_util::{StreamExt, TryStreamExt};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The manifest media types asked for (and the only ones followed).
const MANIFEST_TYPES: &[&str] =
    &[media_type::OCI_INDEX, media_type::OCI_MANIFEST, media_type::DOCKER_LIST, media_type::DOCKER_MANIFEST];

const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Nested indexes followed at most this deep.
const MAX_DEPTH: usize = 4;
/// Most verification-summary referrers read for one image.
pub const MAX_SUMMARIES: usize = 8;
/// Most manifests pulled for one image (platforms, attachments).
const MAX_MANIFESTS: usize = 256;

#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Root of the blob cache (`<dir>/blobs/sha256/<hex>`, the layout shape).
    pub cache_dir: PathBuf,
    /// Registries spoken to over plain HTTP. Loopback registries
    /// (`localhost`, `127.0.0.0/8`, `[::1]`) always are, as docker does.
    pub insecure: Vec<String>,
    /// A docker `config.json` / containers `auth.json` (default: the usual places).
    pub auth_file: Option<PathBuf>,
    /// Connect and read timeout of each request.
    pub timeout: Duration,
    /// Blobs fetched at once.
    pub concurrency: usize,
    /// Bytes of layer evidence kept in `<cache_dir>/layers.redb`
    /// ([`crate::scan::cache`]); 0 turns the layer cache off.
    pub layer_cache_bytes: u64,
    /// The limits pulled images will be scanned with: a layer whose
    /// evidence under them is in the layer cache is not downloaded (the
    /// pulled image is then read with these limits).
    pub scan_limits: crate::scan::ScanLimits,
    /// Where connections may go ([`egress`]): `None` connects anywhere (the
    /// CLI, which pulls what its user names; the gate, whose upstream its
    /// operator names). `serve` always has one.
    pub egress: Option<std::sync::Arc<egress::Egress>>,
    /// Most bytes one pull may download (manifests and blobs), checked
    /// against the descriptors before a download and on the bytes as they
    /// arrive; `None`: no bound.
    pub max_pull_bytes: Option<u64>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            cache_dir: dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("portcullis/registry"),
            insecure: Vec::new(),
            auth_file: None,
            timeout: Duration::from_secs(30),
            concurrency: 4,
            layer_cache_bytes: 1 << 30,
            scan_limits: crate::scan::ScanLimits::default(),
            egress: None,
            max_pull_bytes: None,
        }
    }
}

/// Why a pull failed. None of these is a property of the image: a caller
/// must not remember them as a verdict (the registry may answer next time).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    #[error("`{0}` is not an image reference: {1}")]
    BadReference(String, String),
    #[error("{reference}: not found in the registry ({detail})")]
    NotFound { reference: String, detail: String },
    #[error("{reference}: the registry refused access ({detail}); give credentials in a docker config.json")]
    Denied { reference: String, detail: String },
    #[error("{reference}: registry unreachable or failing: {detail}")]
    Unavailable { reference: String, detail: String },
    #[error("{reference}: the registry sent unusable content: {detail}")]
    BadContent { reference: String, detail: String },
    /// The egress guard refused the connection (a forbidden or private
    /// address): a property of where the reference points.
    #[error("{reference}: {detail}")]
    Refused { reference: String, detail: String },
    /// The image is larger than one pull may download.
    #[error("{reference}: {detail}")]
    TooLarge { reference: String, detail: String },
    #[error("registry credentials: {0}")]
    Credentials(String),
    #[error("blob cache {path}: {detail}")]
    Cache { path: String, detail: String },
}

/// A parsed `[docker://]host/repo[:tag][@digest]`.
pub fn parse_reference(text: &str) -> Result<oci_client::Reference, RegistryError> {
    let bare = text.strip_prefix("docker://").unwrap_or(text);
    bare.parse::<oci_client::Reference>().map_err(|e| RegistryError::BadReference(text.to_string(), e.to_string()))
}

/// `host/repo` as the rest of the engine names repositories (docker.io
/// spelled `docker.io`).
pub fn repository_of(r: &oci_client::Reference) -> String {
    // Host names are case-insensitive: `Registry.ACME.corp` is the host a
    // waiver for `registry.acme.corp/*` names.
    format!("{}/{}", r.registry().to_ascii_lowercase(), r.repository())
}

/// What a pull brought: the image's digest and an `index.json` naming it and
/// its attachments, over the blob cache.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// `docker://host/repo:tag` or `…@sha256:…` as asked.
    pub reference: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Digest,
    pub index_json: Vec<u8>,
    pub cache_dir: PathBuf,
    /// Manifests and blobs fetched (not already cached).
    pub fetched: usize,
    pub fetched_bytes: u64,
    /// Evidence of layers already scanned. Blobs of the cache are verified
    /// against their digests as they arrive, so evidence keyed by a blob
    /// digest describes exactly the blob the layout would serve.
    pub layer_cache: Option<std::sync::Arc<crate::scan::cache::LayerCache>>,
    /// Layers not downloaded because their evidence under these limits is
    /// in the layer cache; the image must be scanned with the same limits.
    pub skipped_layers: usize,
    pub scan_limits: crate::scan::ScanLimits,
}

pub struct Registry {
    opts: RegistryOptions,
    layer_cache: Option<std::sync::Arc<crate::scan::cache::LayerCache>>,
    credentials: auth::Credentials,
    clients: Mutex<HashMap<String, oci_client::Client>>,
}

impl Registry {
    pub fn new(opts: RegistryOptions) -> Result<Registry, RegistryError> {
        let credentials = auth::Credentials::load(opts.auth_file.as_deref()).map_err(RegistryError::Credentials)?;
        let blobs = opts.cache_dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs)
            .map_err(|e| RegistryError::Cache { path: blobs.display().to_string(), detail: e.to_string() })?;
        // Best effort: a cache another process holds open is done without.
        let layer_cache = (opts.layer_cache_bytes > 0)
            .then(|| {
                crate::scan::cache::LayerCache::open(&opts.cache_dir.join("layers.redb"), opts.layer_cache_bytes).ok()
            })
            .flatten()
            .map(std::sync::Arc::new);
        Ok(Registry { opts, layer_cache, credentials, clients: Mutex::new(HashMap::new()) })
    }

    pub fn cache_dir(&self) -> &Path {
        &self.opts.cache_dir
    }

    /// The layer-evidence cache pulls read from, if it could be opened.
    pub fn layer_cache(&self) -> Option<&std::sync::Arc<crate::scan::cache::LayerCache>> {
        self.layer_cache.as_ref()
    }

    /// The limits pulled images are scanned with.
    pub fn scan_limits(&self) -> &crate::scan::ScanLimits {
        &self.opts.scan_limits
    }

    /// One client per registry (each knows its protocol and keeps its tokens).
    async fn client(&self, r: &oci_client::Reference) -> Result<oci_client::Client, RegistryError> {
        let registry = r.resolve_registry().to_string();
        if let Some(c) = self.clients.lock().unwrap_or_else(|p| p.into_inner()).get(&registry) {
            return Ok(c.clone());
        }
        let client = self.new_client(r).await?;
        let auth = self.credentials.for_registry(r.registry()).map_err(RegistryError::Credentials)?;
        client.store_auth_if_needed(&registry, &auth).await;
        self.clients.lock().unwrap_or_else(|p| p.into_inner()).insert(registry, client.clone());
        Ok(client)
    }

    async fn new_client(&self, r: &oci_client::Reference) -> Result<oci_client::Client, RegistryError> {
        let registry = r.resolve_registry();
        let plain = is_loopback(registry) || self.opts.insecure.iter().any(|h| h == registry);
        // Every connection of the client (registry, token service,
        // redirects) goes through the guard, which checks where it goes.
        let proxy = match &self.opts.egress {
            Some(guard) => Some(
                guard
                    .proxy_url()
                    .await
                    .map_err(|detail| RegistryError::Unavailable { reference: r.whole(), detail })?,
            ),
            None => None,
        };
        let config = ClientConfig {
            protocol: if plain { ClientProtocol::Http } else { ClientProtocol::Https },
            platform_resolver: None,
            read_timeout: Some(self.opts.timeout),
            connect_timeout: Some(self.opts.timeout.min(Duration::from_secs(10))),
            user_agent: concat!("portcullis/", env!("CARGO_PKG_VERSION")),
            https_proxy: proxy.clone(),
            http_proxy: proxy,
            ..Default::default()
        };
        // `Client::new` falls back to a default client (no proxy, no
        // timeouts) when the configuration is refused: never take that.
        oci_client::Client::try_from(config)
            .map_err(|e| RegistryError::Unavailable { reference: r.whole(), detail: format!("HTTP client: {e}") })
    }

    fn auth(&self, r: &oci_client::Reference) -> Result<RegistryAuth, RegistryError> {
        self.credentials.for_registry(r.registry()).map_err(RegistryError::Credentials)
    }

    /// The digest a reference names now (a `HEAD` for tags).
    pub async fn resolve(&self, r: &oci_client::Reference) -> Result<Digest, RegistryError> {
        if let Some(d) = r.digest() {
            return Digest::parse(d).map_err(|e| RegistryError::BadReference(r.whole(), e));
        }
        let client = self.client(r).await?;
        let d = client.fetch_manifest_digest(r, &self.auth(r)?).await.map_err(|e| self.classify(r, e))?;
        Digest::parse(&d).map_err(|e| RegistryError::BadContent { reference: r.whole(), detail: e })
    }

    /// Pulls the image `r` names (every platform of an index) and its
    /// attachments into the cache. `skip_layers`: manifests and configs only.
    pub async fn pull(&self, r: &oci_client::Reference, skip_layers: bool) -> Result<Pulled, RegistryError> {
        self.pull_reporting(r, skip_layers, None).await
    }

    /// [`Registry::pull`], reporting the blobs' download to `progress`:
    /// the bytes of the blobs to fetch (their descriptors' sizes) as the
    /// total, each byte as it is written to the cache.
    pub async fn pull_reporting(
        &self,
        r: &oci_client::Reference,
        skip_layers: bool,
        progress: Option<crate::scan::ProgressSink>,
    ) -> Result<Pulled, RegistryError> {
        let client = self.client(r).await?;
        self.pull_with(client, None, r, skip_layers, progress).await
    }

    /// [`Registry::pull`] with someone else's credentials (the push gate
    /// reads evidence as the pusher, so it never reads what the pusher
    /// cannot). The client is made for this pull alone: tokens it obtains
    /// are not shared with other callers.
    pub async fn pull_as(
        &self,
        auth: RegistryAuth,
        r: &oci_client::Reference,
        skip_layers: bool,
    ) -> Result<Pulled, RegistryError> {
        let client = self.new_client(r).await?;
        client.store_auth_if_needed(r.resolve_registry(), &auth).await;
        self.pull_with(client, Some(auth), r, skip_layers, None).await
    }

    async fn pull_with(
        &self,
        client: oci_client::Client,
        auth: Option<RegistryAuth>,
        r: &oci_client::Reference,
        skip_layers: bool,
        progress: Option<crate::scan::ProgressSink>,
    ) -> Result<Pulled, RegistryError> {
        let mut job = Job {
            registry: self,
            client,
            auth,
            r,
            fetched: 0,
            fetched_bytes: 0,
            skipped: 0,
            seen: Vec::new(),
            progress,
        };
        if let Some(p) = &job.progress {
            p.0.stage("downloading");
        }
        let tag = r.tag().map(str::to_string);
        let asked = r.digest().map(str::to_string).or_else(|| tag.clone()).unwrap_or_else(|| "latest".into());
        let (top, top_bytes) = job.manifest(&asked, r.digest().is_some()).await?;
        let top_type = oci::sniff_media_type(&top_bytes).unwrap_or_else(|| media_type::OCI_MANIFEST.to_string());
        let subjects = job.tree(&top, &top_bytes, skip_layers).await?;

        let mut entries = vec![index_entry(&top_type, &top, top_bytes.len(), tag.as_deref())];
        for subject in &subjects {
            entries.extend(job.attachments(subject).await?);
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": entries,
        });
        let reference = match &tag {
            Some(t) if r.digest().is_none() => format!("docker://{}:{t}", repository_of(r)),
            _ => format!("docker://{}@{top}", repository_of(r)),
        };
        Ok(Pulled {
            reference,
            repository: repository_of(r),
            tag,
            digest: top,
            index_json: serde_json::to_vec(&index).expect("index serialises"),
            cache_dir: self.opts.cache_dir.clone(),
            fetched: job.fetched,
            fetched_bytes: job.fetched_bytes,
            layer_cache: self.layer_cache.clone(),
            skipped_layers: job.skipped,
            scan_limits: self.opts.scan_limits.clone(),
        })
    }

    /// The DSSE envelopes attached to the image `r` names (by digest) as
    /// OCI referrers of `artifact_type` — the referrers API, or its tag
    /// schema — at most [`MAX_SUMMARIES`] referrers and 1 MiB an envelope,
    /// each checked against its digest (through the blob cache).
    pub async fn referrer_envelopes(
        &self,
        r: &oci_client::Reference,
        artifact_type: &str,
    ) -> Result<Vec<Vec<u8>>, RegistryError> {
        let Some(digest) = r.digest() else {
            return Err(RegistryError::BadReference(r.whole(), "a digest is needed to find referrers".into()));
        };
        let client = self.client(r).await?;
        let mut job = Job {
            registry: self,
            client,
            auth: None,
            r,
            fetched: 0,
            fetched_bytes: 0,
            skipped: 0,
            seen: Vec::new(),
            progress: None,
        };
        let at = job.at(digest);
        let index = match job.client.pull_referrers(&at, Some(artifact_type)).await.map_err(|e| self.classify(&at, e)) {
            Ok(index) => index,
            Err(RegistryError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut envelopes = Vec::new();
        for entry in index.manifests.iter().filter(|m| media_type::is_manifest(&m.media_type)).take(MAX_SUMMARIES) {
            let (d, bytes) = job.manifest(&entry.digest, true).await?;
            let m = oci::parse_manifest(&bytes).map_err(|e| job.bad(format!("referrer {d}: {e}")))?;
            let layers: Vec<oci::Descriptor> = m
                .layers
                .into_iter()
                .filter(|l| l.media_type == crate::attestation::DSSE_ENVELOPE && l.size <= 1 << 20)
                .collect();
            job.blobs(layers.clone()).await?;
            for l in layers {
                let path = self.blob_path(&l.digest);
                let bytes = std::fs::read(&path)
                    .map_err(|e| RegistryError::Cache { path: path.display().to_string(), detail: e.to_string() })?;
                if l.digest.verify(&bytes).is_ok() {
                    envelopes.push(bytes);
                }
            }
        }
        Ok(envelopes)
    }

    /// [`classify`], and when the egress guard refused the connection the
    /// error broke on (the registry's, or a redirect's), that refusal.
    fn classify(&self, r: &oci_client::Reference, e: OciDistributionError) -> RegistryError {
        let refusal = self.opts.egress.as_ref().and_then(|guard| {
            let url = match &e {
                OciDistributionError::ServerError { url, .. }
                | OciDistributionError::RegistryError { url, .. }
                | OciDistributionError::UnauthorizedError { url } => url.parse::<reqwest::Url>().ok(),
                OciDistributionError::RequestError(inner) => inner.url().cloned(),
                _ => None,
            }?;
            guard.refusal(&format!("{}:{}", url.host_str()?, url.port_or_known_default()?))
        });
        match refusal {
            Some(detail) => RegistryError::Refused { reference: r.whole(), detail },
            None => classify(r, e),
        }
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.opts.cache_dir.join("blobs").join(d.algorithm()).join(d.encoded())
    }
}

fn index_entry(mt: &str, d: &Digest, size: usize, name: Option<&str>) -> serde_json::Value {
    let mut e = serde_json::json!({ "mediaType": mt, "digest": d.as_str(), "size": size });
    if let Some(n) = name {
        e["annotations"] = serde_json::json!({ REF_NAME: n });
    }
    e
}

/// One pull: the client, the counters, the manifests already taken.
struct Job<'a> {
    registry: &'a Registry,
    client: oci_client::Client,
    /// Credentials given for this pull, instead of the configured ones.
    auth: Option<RegistryAuth>,
    r: &'a oci_client::Reference,
    fetched: usize,
    fetched_bytes: u64,
    /// Layers whose evidence was already in the layer cache.
    skipped: usize,
    seen: Vec<Digest>,
    /// Receives the download's bytes.
    progress: Option<crate::scan::ProgressSink>,
}

impl Job<'_> {
    fn at(&self, tag_or_digest: &str) -> oci_client::Reference {
        let (registry, repository) = (self.r.registry().to_string(), self.r.repository().to_string());
        if tag_or_digest.contains(':') {
            oci_client::Reference::with_digest(registry, repository, tag_or_digest.to_string())
        } else {
            oci_client::Reference::with_tag(registry, repository, tag_or_digest.to_string())
        }
    }

    /// A manifest by tag or digest, hashed here and stored in the cache.
    async fn manifest(&mut self, tag_or_digest: &str, by_digest: bool) -> Result<(Digest, Vec<u8>), RegistryError> {
        if self.seen.len() >= MAX_MANIFESTS {
            return Err(self.bad(format!("more than {MAX_MANIFESTS} manifests; refusing to follow more")));
        }
        let at = self.at(tag_or_digest);
        if by_digest {
            let want = Digest::parse(tag_or_digest).map_err(|e| RegistryError::BadReference(at.whole(), e))?;
            if let Ok(bytes) = std::fs::read(self.registry.blob_path(&want))
                && want.verify(&bytes).is_ok()
            {
                self.seen.push(want.clone());
                return Ok((want, bytes));
            }
        }
        let auth = self.auth(&at)?;
        let (bytes, _) = self
            .client
            .pull_manifest_raw(&at, &auth, MANIFEST_TYPES)
            .await
            .map_err(|e| self.registry.classify(&at, e))?;
        let digest = self.keep(tag_or_digest, &bytes, by_digest)?;
        Ok((digest, bytes.to_vec()))
    }

    /// A manifest that arrived as `name`: bounded, hashed here (checked
    /// against `name` when that is its digest), stored and counted.
    fn keep(&mut self, name: &str, bytes: &[u8], by_digest: bool) -> Result<Digest, RegistryError> {
        if bytes.len() as u64 > oci::MAX_MANIFEST_BYTES {
            return Err(self.bad(format!("manifest {name} is {} bytes, over the limit", bytes.len())));
        }
        let digest = Digest::sha256(bytes);
        if by_digest && digest.as_str() != name {
            return Err(self.bad(format!("manifest {name} arrived with digest {digest}")));
        }
        self.spend(bytes.len() as u64, || format!("manifest {name}"))?;
        self.store(&digest, bytes)?;
        self.fetched += 1;
        self.fetched_bytes += bytes.len() as u64;
        self.seen.push(digest.clone());
        Ok(digest)
    }

    fn auth(&self, at: &oci_client::Reference) -> Result<RegistryAuth, RegistryError> {
        match &self.auth {
            Some(a) => Ok(a.clone()),
            None => self.registry.auth(at),
        }
    }

    /// Whether `more` bytes (for `what`) still fit the pull's budget.
    fn spend(&self, more: u64, what: impl FnOnce() -> String) -> Result<(), RegistryError> {
        match self.registry.opts.max_pull_bytes {
            Some(max) if self.fetched_bytes.saturating_add(more) > max => Err(RegistryError::TooLarge {
                reference: self.r.whole(),
                detail: format!(
                    "{} would take the pull to {} bytes, over the {max} one pull may download (serve --max-pull-bytes)",
                    what(),
                    self.fetched_bytes.saturating_add(more)
                ),
            }),
            _ => Ok(()),
        }
    }

    fn bad(&self, detail: String) -> RegistryError {
        RegistryError::BadContent { reference: self.r.whole(), detail }
    }

    fn store(&self, d: &Digest, bytes: &[u8]) -> Result<(), RegistryError> {
        let path = self.registry.blob_path(d);
        let tmp = path.with_extension(format!("part-{}", rand::random::<u64>()));
        let cache_err =
            |e: std::io::Error| RegistryError::Cache { path: path.display().to_string(), detail: e.to_string() };
        std::fs::write(&tmp, bytes).map_err(cache_err)?;
        std::fs::rename(&tmp, &path).map_err(cache_err)
    }

    /// Follows an image or index down to every platform manifest, fetching
    /// configs and (unless skipped) layers. Returns the manifests that
    /// attachments may point at.
    async fn tree(&mut self, top: &Digest, bytes: &[u8], skip_layers: bool) -> Result<Vec<Digest>, RegistryError> {
        let mut subjects = vec![top.clone()];
        let mut queue = vec![(top.clone(), bytes.to_vec(), 0usize)];
        let mut blobs: Vec<oci::Descriptor> = Vec::new();
        let mut images: Vec<oci::Manifest> = Vec::new();
        while let Some((digest, bytes, depth)) = queue.pop() {
            let mt = oci::sniff_media_type(&bytes).unwrap_or_default();
            if media_type::is_index(&mt) {
                let index = oci::parse_index(&bytes).map_err(|e| self.bad(format!("index {digest}: {e}")))?;
                if depth >= MAX_DEPTH {
                    return Err(self.bad(format!("indexes nested deeper than {MAX_DEPTH}")));
                }
                for m in index.manifests {
                    if media_type::is_index(&m.media_type) || media_type::is_manifest(&m.media_type) {
                        let (d, b) = self.manifest(m.digest.as_str(), true).await?;
                        subjects.push(d.clone());
                        queue.push((d, b, depth + 1));
                    }
                }
            } else {
                let m = oci::parse_manifest(&bytes).map_err(|e| self.bad(format!("manifest {digest}: {e}")))?;
                blobs.push(m.config.clone());
                if !skip_layers {
                    images.push(m);
                }
            }
        }
        // Configs first: their diffIDs say which layers' evidence is cached.
        self.blobs(blobs).await?;
        let mut layers = Vec::new();
        for m in images {
            let diff_ids = self.diff_ids(&m.config.digest);
            for (i, l) in m.layers.into_iter().enumerate() {
                if let (Some(cache), Some(diff)) = (&self.registry.layer_cache, diff_ids.get(i))
                    && cache.contains(&crate::scan::cache::LayerCache::key(
                        &l.digest,
                        Some(diff),
                        &self.registry.opts.scan_limits,
                    ))
                {
                    self.skipped += 1;
                    continue;
                }
                layers.push(l);
            }
        }
        self.blobs(layers).await?;
        Ok(subjects)
    }

    /// The diffIDs of a config in the cache (none if it does not parse:
    /// its layers are then all fetched, and the reader reports the config).
    fn diff_ids(&self, config: &Digest) -> Vec<Digest> {
        std::fs::read(self.registry.blob_path(config))
            .ok()
            .and_then(|b| oci::parse_config(&b).ok())
            .map(|c| c.rootfs.diff_ids)
            .unwrap_or_default()
    }

    /// Fetches blobs not yet in the cache, a few at a time.
    async fn blobs(&mut self, blobs: Vec<oci::Descriptor>) -> Result<(), RegistryError> {
        let mut wanted: Vec<oci::Descriptor> = Vec::new();
        for b in blobs {
            let cached = std::fs::metadata(self.registry.blob_path(&b.digest)).is_ok_and(|m| m.len() == b.size);
            if !cached && !wanted.iter().any(|w| w.digest == b.digest) {
                wanted.push(b);
            }
        }
        // Declared sizes are checked against the budget before anything is
        // downloaded; each blob is then held to its declared size as it
        // arrives, so a registry cannot send more than the budget.
        let total: u64 = wanted.iter().map(|b| b.size).fold(0, u64::saturating_add);
        self.spend(total, || format!("{} blobs of {total} bytes", wanted.len()))?;
        let (client, r, registry) = (&self.client, self.r, self.registry);
        let progress = self.progress.as_ref();
        if let Some(p) = progress {
            p.0.add_total(total);
        }
        let sizes: Vec<u64> = futures_util::stream::iter(wanted)
            .map(|b: oci::Descriptor| async move {
                let path = registry.blob_path(&b.digest);
                let tmp = path.with_extension(format!("part-{}", rand::random::<u64>()));
                let cache_err = |e: std::io::Error| RegistryError::Cache {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                };
                let file = tokio::fs::File::create(&tmp).await.map_err(cache_err)?;
                let at = oci_client::Reference::with_digest(
                    r.registry().to_string(),
                    r.repository().to_string(),
                    b.digest.to_string(),
                );
                let over = std::sync::atomic::AtomicBool::new(false);
                let file = Counting { inner: file, progress, left: b.size, over: &over };
                if let Err(e) = client.pull_blob(&at, b.digest.as_str(), file).await {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    if over.load(std::sync::atomic::Ordering::Relaxed) {
                        return Err(RegistryError::BadContent {
                            reference: at.whole(),
                            detail: format!("blob {} sent more than its descriptor's {} bytes", b.digest, b.size),
                        });
                    }
                    return Err(registry.classify(&at, e));
                }
                let len = tokio::fs::metadata(&tmp).await.map_err(cache_err)?.len();
                if len != b.size {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(RegistryError::BadContent {
                        reference: at.whole(),
                        detail: format!("blob {} is {len} bytes, its descriptor says {}", b.digest, b.size),
                    });
                }
                tokio::fs::rename(&tmp, &path).await.map_err(cache_err)?;
                Ok::<u64, RegistryError>(len)
            })
            .buffer_unordered(registry.opts.concurrency.max(1))
            .try_collect()
            .await?;
        self.fetched += sizes.len();
        self.fetched_bytes += sizes.iter().sum::<u64>();
        Ok(())
    }

    /// Signatures, attestations and SBOMs attached to `subject`: the cosign
    /// tags, then the referrers API (falling back to its tag schema). A
    /// missing tag is no attachment; any other failure fails the pull — an
    /// incomplete view of the evidence must not be judged.
    async fn attachments(&mut self, subject: &Digest) -> Result<Vec<serde_json::Value>, RegistryError> {
        // The four lookups go out at once (most answer 404).
        let tags: Vec<String> = ["sig", "att", "sbom"]
            .iter()
            .map(|s| format!("{}-{}.{s}", subject.algorithm(), subject.encoded()))
            .collect();
        let at = self.at(subject.as_str());
        let auth = self.auth(&at)?;
        let (client, this) = (&self.client, &*self);
        let tag_lookups = futures_util::future::join_all(tags.iter().map(|tag| {
            let at = this.at(tag);
            let auth = auth.clone();
            async move {
                client.pull_manifest_raw(&at, &auth, MANIFEST_TYPES).await.map_err(|e| this.registry.classify(&at, e))
            }
        }));
        let referrers = async { client.pull_referrers(&at, None).await.map_err(|e| this.registry.classify(&at, e)) };
        let (found, referrers) = futures_util::join!(tag_lookups, referrers);

        let mut entries = Vec::new();
        for (tag, result) in tags.iter().zip(found) {
            let bytes = match result {
                Ok((bytes, _)) => bytes,
                Err(RegistryError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let d = self.keep(tag, &bytes, false)?;
            self.attachment_blobs(&d, &bytes).await?;
            let mt = oci::sniff_media_type(&bytes).unwrap_or_else(|| media_type::OCI_MANIFEST.into());
            entries.push(index_entry(&mt, &d, bytes.len(), Some(tag)));
        }
        let referrers = match referrers {
            Ok(index) => index.manifests,
            Err(RegistryError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        for entry in referrers {
            if !media_type::is_manifest(&entry.media_type) || self.seen.iter().any(|s| s.as_str() == entry.digest) {
                continue;
            }
            let (d, bytes) = self.manifest(&entry.digest, true).await?;
            self.attachment_blobs(&d, &bytes).await?;
            entries.push(index_entry(&entry.media_type, &d, bytes.len(), None));
        }
        Ok(entries)
    }

    async fn attachment_blobs(&mut self, d: &Digest, bytes: &[u8]) -> Result<(), RegistryError> {
        let m = oci::parse_manifest(bytes).map_err(|e| self.bad(format!("attachment manifest {d}: {e}")))?;
        let mut blobs = vec![m.config];
        blobs.extend(m.layers);
        self.blobs(blobs).await
    }
}

fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Sorts oci-client's errors into what a caller can act on.
fn classify(r: &oci_client::Reference, e: OciDistributionError) -> RegistryError {
    let reference = r.whole();
    let detail = error_chain(&e);
    match &e {
        OciDistributionError::ImageManifestNotFoundError(_) => RegistryError::NotFound { reference, detail },
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound
                        | OciErrorCode::BlobUnknown
                )
            }) {
                RegistryError::NotFound { reference, detail }
            } else if codes.iter().any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied)) {
                RegistryError::Denied { reference, detail }
            } else {
                RegistryError::Unavailable { reference, detail }
            }
        }
        OciDistributionError::ServerError { code: 404, .. } => RegistryError::NotFound { reference, detail },
        OciDistributionError::ServerError { code: 401 | 403, .. }
        | OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => RegistryError::Denied { reference, detail },
        OciDistributionError::DigestError(_)
        | OciDistributionError::ManifestParsingError(_)
        | OciDistributionError::SpecViolationError(_)
        | OciDistributionError::UnsupportedMediaTypeError(_) => RegistryError::BadContent { reference, detail },
        _ => RegistryError::Unavailable { reference, detail },
    }
}

/// What a registry's 4xx answer with `body` becomes: oci-client's reading
/// of the body (an OCI error envelope, or else the text), classified as a
/// pull of a fixed reference would classify it. For the fuzz target of
/// registry answers ([`crate::fuzzing::registry_answers`]).
pub fn answer_error(status: u16, body: &[u8]) -> RegistryError {
    let url = "https://registry.example/v2/app/manifests/1".to_string();
    let e = match serde_json::from_slice::<oci_client::errors::OciEnvelope>(body) {
        Ok(envelope) => OciDistributionError::RegistryError { envelope, url },
        Err(_) => {
            OciDistributionError::ServerError { code: status, url, message: String::from_utf8_lossy(body).into() }
        }
    };
    classify(&oci_client::Reference::with_tag("registry.example".into(), "app".into(), "1".into()), e)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

/// The pulled image as an OCI layout: `index.json` and `oci-layout` in
/// memory, blobs from the cache.
pub(crate) struct PulledLayout<'a> {
    pulled: &'a Pulled,
    blobs: crate::blob::DirContainer,
}

impl<'a> PulledLayout<'a> {
    pub(crate) fn new(pulled: &'a Pulled) -> Self {
        PulledLayout { pulled, blobs: crate::blob::DirContainer::new(&pulled.cache_dir) }
    }
}

impl crate::blob::Container for PulledLayout<'_> {
    fn read(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, crate::blob::ContainerError> {
        match name {
            "index.json" => Ok(Some(self.pulled.index_json.clone())),
            "oci-layout" => Ok(Some(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec())),
            n if n.starts_with("blobs/") => self.blobs.read(n, max),
            _ => Ok(None),
        }
    }

    fn open(&self, name: &str) -> Result<Option<crate::blob::Stream>, crate::blob::ContainerError> {
        if name.starts_with("blobs/") { self.blobs.open(name) } else { Ok(None) }
    }

    fn size(&self, name: &str) -> Option<u64> {
        if name.starts_with("blobs/") { self.blobs.size(name) } else { None }
    }
}

/// A blob file being written, its bytes reported as they land and held to
/// the blob's declared size (a write past it fails, and `over` says why).
struct Counting<'p, W> {
    inner: W,
    progress: Option<&'p crate::scan::ProgressSink>,
    left: u64,
    over: &'p std::sync::atomic::AtomicBool,
}

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counting<'_, W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if buf.len() as u64 > self.left {
            self.over.store(true, std::sync::atomic::Ordering::Relaxed);
            return std::task::Poll::Ready(Err(std::io::Error::other("more bytes than the descriptor's size")));
        }
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            self.left -= *n as u64;
            if let Some(p) = self.progress {
                p.0.advance(*n as u64);
            }
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_speak_http() {
        for r in ["localhost:5000", "127.0.0.1:5000", "127.0.0.2", "[::1]:5000", "localhost"] {
            assert!(is_loopback(r), "{r}");
        }
        for r in ["ghcr.io", "10.0.0.1:5000", "registry.local:443", "localhost.example.com"] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn references() {
        let r = parse_reference("docker://127.0.0.1:5000/go/app:v1").unwrap();
        assert_eq!(repository_of(&r), "127.0.0.1:5000/go/app");
        assert_eq!(r.tag(), Some("v1"));
        let r = parse_reference("alpine").unwrap();
        assert_eq!(repository_of(&r), "docker.io/library/alpine");
        let e = parse_reference("docker://Bad Ref").unwrap_err();
        assert!(e.to_string().contains("`docker://Bad Ref` is not an image reference"), "{e}");
    }
}
