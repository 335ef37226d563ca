//! The allocator of every plugin built with this SDK: a bump arena in front
//! of the standard allocator.
//!
//! Why: the host runs each plugin call in a fresh instance and throws its
//! memory away when the call returns, so a general-purpose allocator's work
//! — free lists, coalescing, and the `free` of every string of the evidence
//! when the call's arguments are dropped — is wasted. The evidence alone is
//! hundreds of allocations (each string of the target is one), and that
//! bookkeeping was a sixth of a small call's time. Here an allocation is a
//! pointer bump, freeing the newest allocation takes it back (so a growing
//! `Vec` grows in place) and freeing anything else does nothing.
//!
//! The arena is [`ARENA_BYTES`] of static memory; past it (a call that
//! allocates, or allocates and frees, a lot) the standard allocator takes
//! over, so what the arena wastes is bounded by its size. It is static
//! rather than taken from the standard allocator because growing an
//! instance's memory costs two `mprotect`s and a TLB flush per call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes of the plugins' arena. It is zero-initialised static memory (part
/// of the module's initial memory, not of its data), so an instance starts
/// with it and no call grows memory for it; pages are committed as they are
/// touched, so a call that needs less costs less.
pub const ARENA_BYTES: usize = 1 << 20;

/// A bump arena of `N` bytes.
pub struct Arena<const N: usize> {
    bytes: UnsafeCell<[u8; N]>,
    /// Offset of the next free byte.
    next: AtomicUsize,
}

// SAFETY: plugins are single-threaded (wasm32-wasip2 has no threads), and
// the arena hands out disjoint ranges of `bytes`.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    pub const fn new() -> Self {
        Arena { bytes: UnsafeCell::new([0; N]), next: AtomicUsize::new(0) }
    }

    fn start(&self) -> usize {
        self.bytes.get() as usize
    }

    fn owns(&self, ptr: usize) -> bool {
        ptr >= self.start() && ptr < self.start() + N
    }

    /// The address of the next free byte.
    fn next(&self) -> usize {
        self.start() + self.next.load(Relaxed)
    }

    fn set_next(&self, address: usize) {
        self.next.store(address - self.start(), Relaxed);
    }

    /// A bump allocation, when the arena has room.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        let at = self.next().checked_add(layout.align() - 1)? & !(layout.align() - 1);
        let stop = at.checked_add(layout.size())?;
        if stop > self.start() + N {
            return None;
        }
        self.set_next(stop);
        Some(at as *mut u8)
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Arena::new()
    }
}

unsafe impl<const N: usize> GlobalAlloc for Arena<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(p) => p,
            // SAFETY: the caller's layout, passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let p = ptr as usize;
        if self.owns(p) {
            // The newest allocation is taken back; others stay until the
            // instance is thrown away.
            if p + layout.size() == self.next() {
                self.set_next(p);
            }
        } else {
            // SAFETY: not the arena's, so the standard allocator's.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = ptr as usize;
        if !self.owns(p) {
            // SAFETY: the standard allocator's block, passed on.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let newest = p + layout.size() == self.next();
        // Any block shrinks in place (the newest gives its tail back); the
        // newest grows in place when the arena has room.
        if new_size <= layout.size() {
            if newest {
                self.set_next(p + new_size);
            }
            return ptr;
        }
        if newest
            && let Some(stop) = p.checked_add(new_size)
            && stop <= self.start() + N
        {
            self.set_next(stop);
            return ptr;
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (the
        // caller guarantees it does not overflow `isize` once rounded).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid layout; the old block stays readable until freed.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and distinct.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn bumps_aligns_and_takes_back_the_newest() {
        let a: Box<Arena<4096>> = Box::default();
        unsafe {
            let x = a.alloc(layout(3, 1));
            let y = a.alloc(layout(8, 8));
            assert_eq!(y as usize % 8, 0);
            assert!(y as usize >= x as usize + 3);
            a.dealloc(y, layout(8, 8));
            let z = a.alloc(layout(8, 8));
            assert_eq!(z, y, "the newest allocation's space is reused");
            // Freeing an older one does not move the bump pointer.
            a.dealloc(x, layout(3, 1));
            let w = a.alloc(layout(1, 1));
            assert!(w as usize >= z as usize + 8);
        }
    }

    #[test]
    fn the_newest_allocation_grows_in_place_and_others_move() {
        let a: Box<Arena<4096>> = Box::default();
        unsafe {
            let x = a.alloc(layout(4, 1));
            x.copy_from(b"abcd".as_ptr(), 4);
            let x2 = a.realloc(x, layout(4, 1), 100);
            assert_eq!(x2, x);
            let y = a.alloc(layout(4, 1));
            let x3 = a.realloc(x2, layout(100, 1), 200);
            assert_ne!(x3, x2, "not the newest: copied");
            assert_eq!(std::slice::from_raw_parts(x3, 4), b"abcd");
            assert!(x3 as usize > y as usize);
            // An older block shrinks where it is, and keeps its bytes.
            let z = a.alloc(layout(8, 1));
            let x4 = a.realloc(x3, layout(200, 1), 2);
            assert_eq!(x4, x3);
            assert_eq!(std::slice::from_raw_parts(x4, 2), b"ab");
            assert_eq!(a.alloc(layout(1, 1)) as usize, z as usize + 8, "the bump pointer did not move back");
        }
    }

    #[test]
    fn past_the_arena_the_standard_allocator_takes_over() {
        let a: Box<Arena<4096>> = Box::default();
        unsafe {
            let big = a.alloc(layout(4097, 8));
            assert!(!big.is_null());
            assert!(!a.owns(big as usize));
            big.write_bytes(7, 4097);
            let grown = a.realloc(big, layout(4097, 8), 8192);
            assert_eq!(*grown.add(4096), 7);
            a.dealloc(grown, layout(8192, 8));
            // A small block still comes from the arena.
            let small = a.alloc(layout(16, 8));
            assert!(a.owns(small as usize));
            // A block that would cross the arena's end does not.
            let rest = 4096 - a.next.load(Relaxed);
            let over = a.alloc(layout(rest + 1, 1));
            assert!(!a.owns(over as usize));
            System.dealloc(over, layout(rest + 1, 1));
        }
    }
}
