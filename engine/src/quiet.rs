//! Silencing panics that are caught on purpose.
//!
//! A few third-party parsers can still panic on hostile input (see
//! `sbom::spdx`); those calls run under `catch_unwind`, and the panic becomes
//! an ordinary error. This keeps the default panic hook from printing a
//! backtrace for them, without hiding any other panic in the process.

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

struct Reset(bool);

impl Drop for Reset {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(self.0));
    }
}

/// Runs `f` with panic messages suppressed on this thread.
pub(crate) fn quiet_panics<R>(f: impl FnOnce() -> R) -> R {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let _reset = Reset(QUIET.with(|q| q.replace(true)));
    f()
}
