//! The builtin plugins, compiled from `plugins/` by `build.rs` and embedded.

const BUILTINS: &[(&str, &[u8])] = &[
    ("image-config", include_bytes!(env!("PORTCULLIS_BUILTIN_IMAGE_CONFIG"))),
    ("go-binary", include_bytes!(env!("PORTCULLIS_BUILTIN_GO_BINARY"))),
    ("go-filesystem", include_bytes!(env!("PORTCULLIS_BUILTIN_GO_FILESYSTEM"))),
    ("go-index", include_bytes!(env!("PORTCULLIS_BUILTIN_GO_INDEX"))),
    ("sbom", include_bytes!(env!("PORTCULLIS_BUILTIN_SBOM"))),
    ("signatures", include_bytes!(env!("PORTCULLIS_BUILTIN_SIGNATURES"))),
    ("kubernetes", include_bytes!(env!("PORTCULLIS_BUILTIN_KUBERNETES"))),
    ("vulnerabilities", include_bytes!(env!("PORTCULLIS_BUILTIN_VULNERABILITIES"))),
    ("cel", include_bytes!(env!("PORTCULLIS_BUILTIN_CEL"))),
];

/// Names a policy can use in `[plugins.NAME]` without a path.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}

pub fn wasm(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, w)| *w)
}
