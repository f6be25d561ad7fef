//! profbench's stack reader: a native thread inside the target that reads every Python
//! thread's frame chain *without the GIL*, so a sample lands where the thread is, not where it
//! next lets go of the GIL (see ../README.md, "The native reader").
//!
//! Loaded by the agent with `ctypes.PyDLL` (stdlib); it calls no Python API from its thread.
//! The agent finds the layout of CPython's structures by probing live objects and checks it
//! by reading its own stack (see `_probe_layout` in the agent), then hands it here.
//!
//! - `memory`: the only `process_vm_readv` (a freed frame gives EFAULT, never a fault);
//! - `layout`: the offsets the agent found;
//! - `stack`: one thread's chain, copied at one instant (or walked frame by frame);
//! - `signal`: a running thread copies its own chain in a signal handler;
//! - `sampler`: the rounds, the output buffer, the code objects' names, the stacks' numbers.
//!
//! Built by the sampler's build.rs through cargo and embedded in the collector.

pub mod layout;
pub mod memory;
pub mod sampler;
pub mod signal;
pub mod stack;

use layout::{Layout, LAYOUT_WORDS};
use memory::{Memory, OwnProcess};
use sampler::{state, Mode, State, Stats};
use std::sync::atomic::Ordering;

/// Signals sent to the process must reach the target's threads: one delivered to ours would
/// not interrupt the main thread's blocking call (an alarm meant to time out a read, say).
fn block_signals() {
    // SAFETY: a zeroed sigset_t is valid to fill; valid pointers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Copies `len` bytes at `addr` of this process into `out`; 0 on success, -1 if unreadable.
/// The agent probes the layout with it (reading a guess must not crash the target).
///
/// # Safety
/// `out` must point to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn pbr_read(addr: u64, out: *mut u8, len: usize) -> i32 {
    if out.is_null() {
        return -1;
    }
    // SAFETY: the caller passes a buffer of `len` bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(out, len) };
    if OwnProcess::new().read(addr, buf) {
        0
    } else {
        -1
    }
}

/// The layout in `n` words, or None.
///
/// # Safety
/// `layout` must point to `n` readable words.
unsafe fn layout_from(layout: *const u64, n: usize) -> Option<Layout> {
    if layout.is_null() || n != LAYOUT_WORDS {
        return None;
    }
    // SAFETY: the caller passes `n` words.
    Layout::from_words(unsafe { std::slice::from_raw_parts(layout, n) })
}

/// Reads the chain of thread state `tstate` (the caller's own: it is not running meanwhile)
/// as the reader will, into `out` as (code, instruction offset) pairs, leaf first: the
/// agent compares it with Python's own. Words written, or -1.
///
/// # Safety
/// `layout` must point to `n` words and `out` to `cap` writable words.
#[no_mangle]
pub unsafe extern "C" fn pbr_probe_chain(
    layout: *const u64,
    n: usize,
    tstate: u64,
    out: *mut u64,
    cap: usize,
) -> isize {
    // SAFETY: as documented.
    let Some(l) = (unsafe { layout_from(layout, n) }) else {
        return -1;
    };
    if out.is_null() {
        return -1;
    }
    // SAFETY: the caller passes `cap` words.
    let out = unsafe { std::slice::from_raw_parts_mut(out, cap) };
    let mut scratch = vec![0u8; stack::COPY_BYTES];
    match stack::copy_chain(&OwnProcess::new(), &l, tstate, &mut scratch, out) {
        Some(c) if !c.torn => c.len as isize,
        _ => -1,
    }
}

/// Starts the reader thread. `layout` holds `LAYOUT_WORDS` words in `Layout`'s order;
/// `mode` is 0 (walk frame by frame), 1 (copy) or 2 (signal running threads, copy the
/// others); the agent's own thread state is never sampled. 0 on success.
///
/// # Safety
/// `layout` must point to `n` readable words.
#[no_mangle]
pub unsafe extern "C" fn pbr_start(
    layout: *const u64,
    n: usize,
    interval_ns: u64,
    seed: u64,
    exclude: u64,
    mode: u64,
) -> i32 {
    // SAFETY: as documented.
    let (Some(l), Some(mode)) = (unsafe { layout_from(layout, n) }, Mode::from_word(mode)) else {
        return -1;
    };
    if interval_ns == 0 {
        return -1;
    }
    let state = sampler::publish(State::new(l, mode, interval_ns, exclude));
    let spawned = std::thread::Builder::new()
        .name("profbench-reader".into())
        .stack_size(256 << 10)
        .spawn(move || {
            block_signals();
            // Never unwind into the target: a panic here only ends sampling.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.run(seed)));
            state.stop.store(true, Ordering::Relaxed);
        });
    if spawned.is_err() {
        return -1;
    }
    0
}

/// The signal running threads are asked with, or 0 (not signalling).
#[no_mangle]
pub extern "C" fn pbr_signal() -> i32 {
    match state() {
        Some(s) if s.signalling() => signal_number(s),
        _ => 0,
    }
}

fn signal_number(s: &State) -> i32 {
    s.signal().unwrap_or(0)
}

/// The agent's own thread state (once its thread runs): never sampled.
#[no_mangle]
pub extern "C" fn pbr_exclude(tstate: u64) {
    if let Some(s) = state() {
        s.exclude.store(tstate, Ordering::Relaxed);
    }
}

/// Moves up to `cap` words of records into `out`; returns how many (whole records only).
///
/// # Safety
/// `out` must point to `cap` writable words.
#[no_mangle]
pub unsafe extern "C" fn pbr_drain(out: *mut u64, cap: usize) -> usize {
    let Some(s) = state() else { return 0 };
    if out.is_null() {
        return 0;
    }
    // SAFETY: the caller passes `cap` words.
    s.drain(unsafe { std::slice::from_raw_parts_mut(out, cap) })
}

/// The names the reader kept for a code object (`qualname NUL file NUL first line`) in `out`;
/// their length, or -1 if it kept none or they do not fit.
///
/// # Safety
/// `out` must point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn pbr_code_names(code: u64, out: *mut u8, cap: usize) -> isize {
    let Some(text) = state().and_then(|s| s.code_names(code)) else {
        return -1;
    };
    if out.is_null() || text.len() > cap {
        return -1;
    }
    // SAFETY: the caller passes a buffer of `cap` bytes.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), out, text.len()) };
    text.len() as isize
}

/// Forgets that a code object was announced (the agent could not name it): if the address
/// is reused by another code object, it is announced again.
#[no_mangle]
pub extern "C" fn pbr_forget(code: u64) {
    if let Some(s) = state() {
        s.forget_code(code);
    }
}

/// ticks, missed ticks, samples, rounds dropped (buffer full), torn chains, running threads
/// that copied their own chain, those that did not answer in time, handler replaced (0/1):
/// up to `n` of them into `out`. How many words were written.
///
/// # Safety
/// `out` must point to `n` writable words.
#[no_mangle]
pub unsafe extern "C" fn pbr_stats(out: *mut u64, n: usize) -> usize {
    let Some(s) = state() else { return 0 };
    if out.is_null() {
        return 0;
    }
    let v = s.stats.words();
    let n = n.min(Stats::WORDS);
    // SAFETY: the caller passes `n` words.
    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out, n) };
    n
}

/// Hands the agent a strong reference to the code object at `code` if it still is the one
/// announced, else one to `none` (Python's None: ctypes 3.11 crashes on a NULL py_object
/// result). Called with the GIL held (ctypes.PyDLL, restype py_object, which takes over the
/// reference): no Python thread can free the object between the check and the increment.
///
/// # Safety
/// The GIL must be held and `none` must be Python's None.
#[no_mangle]
pub unsafe extern "C" fn pbr_claim_code(code: u64, name: u64, file: u64, none: u64) -> u64 {
    let live = state().is_some_and(|s| s.still_code(code, name, file));
    // SAFETY: the GIL is held and the object is live (checked) or None.
    unsafe { incref(if live { code } else { none }) }
}

/// Py_INCREF of a live object (3.12+ leaves immortal ones, low 32 bits all ones, alone).
///
/// # Safety
/// The GIL must be held and `obj` must be a live object.
unsafe fn incref(obj: u64) -> u64 {
    let count = obj as *mut u64;
    // SAFETY: as documented.
    unsafe {
        if (*count as u32).wrapping_add(1) != 0 {
            *count += 1;
        }
    }
    obj
}

/// Asks the reader thread to stop (it ends within one interval).
#[no_mangle]
pub extern "C" fn pbr_stop() {
    if let Some(s) = state() {
        s.stop.store(true, Ordering::Relaxed);
    }
}

/// In a forked child: the reader thread is gone and the old state may hold locked mutexes;
/// forget it (leaked, a few KB) so that `pbr_start` begins afresh. Requests the parent made
/// of its own threads are void here.
#[no_mangle]
pub extern "C" fn pbr_after_fork() {
    signal::forget();
    sampler::forget();
}
