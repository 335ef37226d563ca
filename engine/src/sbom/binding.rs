//! Which image an SBOM describes, decided per image it is offered to.
//!
//! A document names what it describes (CycloneDX `metadata.component`, the
//! packages an SPDX document DESCRIBES) by digests — a digest version, a
//! `pkg:oci` purl version, a SHA-256 hash — and, in the purl's qualifiers,
//! possibly by platform (`arch`, `os`, `variant`, `platform`). An SBOM that
//! came inside an in-toto statement is also bound by the statement's
//! `subject`. For one image (manifest digest, config digest, the index it
//! belongs to, its platform) this module says which digests the document
//! binds to:
//!
//! - a subject whose purl names another platform describes nothing here
//!   (an SBOM of the index's arm64 image is not one of its amd64 image),
//!   and neither does a subject whose purl cannot be read;
//! - a statement's SBOM binds only when the statement and the document
//!   inside both name this image; the document alone naming it does not do
//!   (the statement is what a signature covers), nor the statement alone
//!   when the document names another image;
//! - a document that names no subject digest at all binds through its
//!   statement when it has one (buildx writes such SBOMs: the statement is
//!   their only binding), and to nothing otherwise.
//!
//! What is refused is said in a note, shown with the document's origin.

use super::{Component, Document};

/// What an image is known by, for binding SBOMs to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageIdentity {
    /// Manifest digest (the image ID for `docker save` archives).
    pub digest: String,
    pub config_digest: String,
    pub parent_index: Option<String>,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl ImageIdentity {
    fn digests(&self) -> Vec<&str> {
        let mut d = vec![self.digest.as_str(), self.config_digest.as_str()];
        d.extend(self.parent_index.as_deref());
        d
    }

    fn platform(&self) -> String {
        let mut p = format!("{}/{}", self.os, architecture(&self.architecture));
        if let Some(v) = &self.variant {
            p.push('/');
            p.push_str(v);
        }
        p
    }
}

/// What a document binds to for one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    /// The digests it describes here: when none is this image's, the ones
    /// it names instead (for the finding to show).
    pub describes: Vec<String>,
    /// Why a subject or the statement did not count, when one did not.
    pub note: Option<String>,
}

/// A platform a purl's qualifiers name; `None` parts are not said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Claim {
    os: Option<String>,
    arch: Option<String>,
    variant: Option<String>,
}

impl Claim {
    fn is_empty(&self) -> bool {
        self.os.is_none() && self.arch.is_none() && self.variant.is_none()
    }

    /// Each part the claim says must be the image's; a variant only counts
    /// when the image has one too (`arm64` images often leave `v8` unsaid).
    fn fits(&self, image: &ImageIdentity) -> bool {
        let same = |claim: &Option<String>, ours: &str| claim.as_ref().is_none_or(|c| c.eq_ignore_ascii_case(ours));
        same(&self.os, &image.os)
            && same(&self.arch, &architecture(&image.architecture))
            && match (&self.variant, &image.variant) {
                (Some(c), Some(v)) => c.eq_ignore_ascii_case(v),
                _ => true,
            }
    }
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<&str> =
            [&self.os, &self.arch, &self.variant].into_iter().flatten().map(String::as_str).collect();
        f.write_str(&parts.join("/"))
    }
}

/// Architecture names as OCI platforms spell them (`x86_64` is `amd64`,
/// `aarch64` is `arm64`), the way tools other than Go write them.
fn architecture(a: &str) -> String {
    match a.to_ascii_lowercase().as_str() {
        "x86_64" | "x86-64" | "amd64" => "amd64".into(),
        "aarch64" | "arm64" => "arm64".into(),
        "i386" | "i486" | "i586" | "i686" | "386" | "x86" => "386".into(),
        "armhf" | "armel" | "armv7" | "armv7l" | "armv6" | "arm" => "arm".into(),
        other => other.to_string(),
    }
}

/// Decodes `%XX` escapes; an escape that is not one is an error.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
            let hex = hex.ok_or_else(|| format!("`{}` is not a percent-escape", &s[i..s.len().min(i + 3)]))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "escapes that are not UTF-8".to_string())
}

/// The platform a purl's qualifiers claim. `platform=os/arch[/variant]`
/// and the separate qualifiers must agree when both are given.
fn claim(purl: &str) -> Result<Claim, String> {
    let query = purl.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or_default();
    let mut c = Claim::default();
    let mut platform = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value)?;
        // An empty value is an absent qualifier (the purl specification).
        if value.is_empty() {
            continue;
        }
        match key.to_ascii_lowercase().as_str() {
            "os" => c.os = Some(value.to_ascii_lowercase()),
            // `arch=arm64/v8` carries the variant too.
            "arch" => match value.split_once('/') {
                Some((a, v)) => {
                    c.arch = Some(architecture(a));
                    c.variant = Some(v.to_ascii_lowercase());
                }
                None => c.arch = Some(architecture(&value)),
            },
            "variant" => c.variant = Some(value.to_ascii_lowercase()),
            "platform" => platform = Some(value),
            _ => {}
        }
    }
    if let Some(p) = platform {
        let mut parts = p.split('/');
        let from = Claim {
            os: parts.next().filter(|s| !s.is_empty()).map(str::to_ascii_lowercase),
            arch: parts.next().filter(|s| !s.is_empty()).map(architecture),
            variant: parts.next().filter(|s| !s.is_empty()).map(str::to_ascii_lowercase),
        };
        let agrees = |a: &Option<String>, b: &Option<String>| a.is_none() || b.is_none() || a == b;
        if !(agrees(&c.os, &from.os) && agrees(&c.arch, &from.arch) && agrees(&c.variant, &from.variant)) {
            return Err(format!("its qualifiers name two platforms ({c} and platform={p})"));
        }
        c = Claim { os: c.os.or(from.os), arch: c.arch.or(from.arch), variant: c.variant.or(from.variant) };
    }
    Ok(c)
}

fn push_new(out: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for d in items {
        if !out.contains(&d) {
            out.push(d);
        }
    }
}

fn name_of(s: &Component) -> &str {
    if s.name.is_empty() { &s.reference } else { &s.name }
}

/// Which digests `doc` binds to for `image` (see the module documentation).
pub fn bind(doc: &Document, image: &ImageIdentity) -> Binding {
    let ours = image.digests();
    let mut named: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut names_any = false;
    for s in &doc.sbom.subjects {
        let digests = s.digests();
        if digests.is_empty() {
            continue;
        }
        names_any = true;
        let Some(purl) = &s.purl else {
            push_new(&mut named, digests);
            continue;
        };
        match claim(purl) {
            Ok(c) if c.is_empty() || c.fits(image) => push_new(&mut named, digests),
            Ok(c) => {
                notes.push(format!("its subject {} is for {c}, not this image's {}", name_of(s), image.platform()))
            }
            Err(e) => notes.push(format!("its subject {}'s purl `{purl}` cannot be read: {e}", name_of(s))),
        }
    }
    let is_ours = |d: &String| ours.contains(&d.as_str());
    let document_binds = named.iter().any(is_ours);
    let note = |notes: Vec<String>| (!notes.is_empty()).then(|| notes.join("; "));
    let Some(statement) = &doc.bound_to else {
        let note = if document_binds { None } else { note(notes) };
        return Binding { describes: named, note };
    };
    if !names_any {
        // The document names nothing: the statement is its only binding.
        return Binding { describes: statement.clone(), note: None };
    }
    let statement_binds = statement.iter().any(is_ours);
    let mut all = statement.clone();
    push_new(&mut all, named.iter().cloned());
    if statement_binds && document_binds {
        return Binding { describes: all, note: None };
    }
    if statement_binds && !named.is_empty() {
        notes.push(format!("the in-toto statement names this image, the document inside {}", named.join(", ")));
    } else if document_binds {
        notes.push(format!("the document names this image, its in-toto statement {}", statement.join(", ")));
    }
    Binding { describes: all.into_iter().filter(|d| !is_ours(d)).collect(), note: note(notes) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::Sbom;
    use std::sync::Arc;

    const M: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const C: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const I: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
    const X: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";

    fn image(arch: &str, variant: Option<&str>) -> ImageIdentity {
        ImageIdentity {
            digest: M.into(),
            config_digest: C.into(),
            parent_index: Some(I.into()),
            os: "linux".into(),
            architecture: arch.into(),
            variant: variant.map(str::to_owned),
        }
    }

    fn doc(subject: Option<(&str, Option<&str>)>, statement: Option<&[&str]>) -> Document {
        let subjects = subject
            .map(|(digest, purl)| Component {
                name: "app".into(),
                version: Some(digest.into()),
                purl: purl.map(str::to_owned),
                ..Default::default()
            })
            .into_iter()
            .collect();
        Document {
            origin: "file:x".into(),
            sbom: Arc::new(Sbom { subjects, ..Default::default() }),
            bound_to: statement.map(|s| s.iter().map(|d| d.to_string()).collect()),
            binding: None,
            attested_by: None,
        }
    }

    #[test]
    fn platform_qualifiers() {
        let purl = |q: &str| format!("pkg:oci/app@{}?{q}", I.replace(':', "%3A"));
        let amd = image("amd64", None);
        let arm = image("arm64", Some("v8"));
        for (q, on_amd, on_arm) in [
            ("arch=arm64", false, true),
            ("arch=aarch64&os=linux", false, true),
            ("platform=linux%2Famd64", true, false),
            ("arch=arm64%2Fv7", false, false),
            ("variant=v8&arch=arm64", false, true),
            ("arch=&tag=v1", true, true),
            ("os=windows", false, false),
        ] {
            let d = doc(Some((I, Some(&purl(q)))), None);
            assert_eq!(bind(&d, &amd).describes.contains(&I.to_string()), on_amd, "{q} on amd64");
            assert_eq!(bind(&d, &arm).describes.contains(&I.to_string()), on_arm, "{q} on arm64");
        }
        let b = bind(&doc(Some((I, Some(&purl("arch=arm64")))), None), &amd);
        assert_eq!(b.note.as_deref(), Some("its subject app is for arm64, not this image's linux/amd64"));
        let b = bind(&doc(Some((I, Some(&purl("arch=%zz")))), None), &amd);
        assert!(b.describes.is_empty() && b.note.unwrap().contains("cannot be read"));
        let b = bind(&doc(Some((I, Some(&purl("arch=arm64&platform=linux/amd64")))), None), &arm);
        assert!(b.describes.is_empty() && b.note.unwrap().contains("two platforms"));
    }

    #[test]
    fn statements_and_the_documents_inside() {
        let amd = image("amd64", None);
        let binds = |d: &Document| bind(d, &amd).describes.iter().any(|x| [M, C, I].contains(&x.as_str()));
        assert!(binds(&doc(Some((M, None)), Some(&[M]))));
        assert!(binds(&doc(Some((C, None)), Some(&[M]))), "the config digest is this image too");
        assert!(binds(&doc(None, Some(&[M]))), "no subject: the statement binds");
        let b = bind(&doc(Some((X, None)), Some(&[M])), &amd);
        assert_eq!(b.describes, [X]);
        assert!(b.note.unwrap().contains("the document inside sha256:4444"));
        let b = bind(&doc(Some((M, None)), Some(&[X])), &amd);
        assert_eq!(b.describes, [X]);
        assert!(b.note.unwrap().contains("its in-toto statement sha256:4444"));
        assert!(!binds(&doc(None, Some(&[X]))));
        // No statement: the document's own subject, or nothing.
        assert!(binds(&doc(Some((M, None)), None)));
        assert!(bind(&doc(None, None), &amd).describes.is_empty());
    }
}
