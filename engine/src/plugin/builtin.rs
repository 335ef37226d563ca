//! The builtin plugins, compiled from `plugins/` by `build.rs` and embedded.

const IMAGE_CONFIG: &[u8] = include_bytes!(env!("PORTCULLIS_BUILTIN_IMAGE_CONFIG"));

/// Names a policy can use in `[plugins.NAME]` without a path.
pub fn names() -> &'static [&'static str] {
    &["image-config"]
}

pub fn wasm(name: &str) -> Option<&'static [u8]> {
    match name {
        "image-config" => Some(IMAGE_CONFIG),
        _ => None,
    }
}
