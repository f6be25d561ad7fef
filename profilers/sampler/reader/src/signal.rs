//! A running thread copies its own stack: the reader sends it a free real-time signal and
//! the handler, in that thread, copies the frame chain (`stack::copy_chain`) into a slot made
//! beforehand. The thread is stopped in the handler, so the chain is the one of that instant.
//!
//! The handler is async-signal-safe: no allocation, no lock, no Python API; it makes only
//! system calls (getpid, gettid, process_vm_readv) and restores errno. A slot's word holds
//! the asked thread's tid and a phase: IDLE → PENDING (asked) → BUSY (the handler copies) →
//! DONE (the reader takes the chain). A request not answered in time is taken back
//! (PENDING → IDLE) and the thread is read from outside.

use crate::layout::Layout;
use crate::memory::OwnProcess;
use crate::stack::{copy_chain, Chain, COPY_BYTES, OUT_WORDS};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const IDLE: u64 = 0;
const PENDING: u64 = 1;
const BUSY: u64 = 2;
const DONE: u64 = 3;
/// How long the reader waits for an answer before reading the thread from outside.
pub const ANSWER_WITHIN: Duration = Duration::from_micros(200);
/// A handler already copying is waited for this long more before its slot is given up.
const FINISH_WITHIN: Duration = Duration::from_millis(2);
/// Slots: one is asked at a time; a second one covers a handler still busy past its time.
const SLOTS: usize = 2;

fn word(tid: u32, phase: u64) -> u64 {
    (tid as u64) << 32 | phase
}

struct Slot {
    /// tid << 32 | phase
    state: AtomicU64,
    /// Bumped by the handler when it is done: the reader sleeps on it (a futex) rather than
    /// spinning, so the asked thread can have the reader's CPU on a busy machine.
    done: AtomicU32,
    tstate: AtomicU64,
    /// Written by the handler while BUSY, read by the reader once DONE.
    chain: UnsafeCell<Option<Chain>>,
    out: UnsafeCell<Box<[u64]>>,
    scratch: UnsafeCell<Box<[u8]>>,
}

/// The answer to a request.
pub enum Answer {
    /// The thread copied its chain; `out` holds it.
    Copied(Option<Chain>),
    /// No answer in time (or no signal could be sent): read the thread from outside.
    NoAnswer,
}

pub struct Requests {
    pid: i32,
    layout: Layout,
    pub signal: i32,
    slots: [Slot; SLOTS],
}

// SAFETY: a slot's buffers are touched by one side at a time, handed over by its atomic state.
unsafe impl Sync for Requests {}

/// The requests the handler answers, or null (none, or a forked child's inherited ones).
static REQUESTS: AtomicPtr<Requests> = AtomicPtr::new(std::ptr::null_mut());

impl Requests {
    /// Installs the handler on the highest free real-time signal (one whose handler is the
    /// default, or already ours in a forked child) and publishes the slots. None if every
    /// real-time signal is taken.
    pub fn install(layout: Layout, pid: i32) -> Option<&'static Requests> {
        let signal = (libc::SIGRTMIN()..=libc::SIGRTMAX())
            .rev()
            .find(|&s| matches!(current_handler(s), Some(h) if h == libc::SIG_DFL || h == handler_address()))?;
        let slot = || Slot {
            state: AtomicU64::new(IDLE),
            done: AtomicU32::new(0),
            tstate: AtomicU64::new(0),
            chain: UnsafeCell::new(None),
            out: UnsafeCell::new(vec![0u64; OUT_WORDS].into_boxed_slice()),
            scratch: UnsafeCell::new(vec![0u8; COPY_BYTES].into_boxed_slice()),
        };
        // Leaked: a handler may still run on it after the reader stops.
        let requests: &'static Requests = Box::leak(Box::new(Requests {
            pid,
            layout,
            signal,
            slots: [slot(), slot()],
        }));
        REQUESTS.store(
            requests as *const Requests as *mut Requests,
            Ordering::Release,
        );
        // SAFETY: a zeroed sigaction is valid; every field is set below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = handler_address();
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        // SAFETY: valid pointers; the handler is async-signal-safe.
        let ok = unsafe {
            libc::sigfillset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut()) == 0
        };
        ok.then_some(requests)
    }

    /// Whether the program left our handler in place (it may install its own at any time).
    pub fn still_ours(&self) -> bool {
        current_handler(self.signal) == Some(handler_address())
    }

    /// Asks thread `tid` (thread state `tstate`) to copy its chain into `out`.
    pub fn ask(&self, tid: u32, tstate: u64, out: &mut [u64]) -> Answer {
        // A slot whose handler finished after we gave up on it is free again.
        for s in &self.slots {
            let v = s.state.load(Ordering::Acquire);
            if v & 0xff == DONE {
                let _ = s
                    .state
                    .compare_exchange(v, IDLE, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
        let Some(slot) = self
            .slots
            .iter()
            .find(|s| s.state.load(Ordering::Acquire) == IDLE)
        else {
            return Answer::NoAnswer;
        };
        slot.tstate.store(tstate, Ordering::Relaxed);
        slot.state.store(word(tid, PENDING), Ordering::Release);
        // SAFETY: tgkill only sends a signal; a thread that has ended gives ESRCH.
        let sent =
            unsafe { libc::syscall(libc::SYS_tgkill, self.pid, tid as i32, self.signal) } == 0;
        let asked = Instant::now();
        if sent && wait_done(slot, tid, asked, ANSWER_WITHIN) {
            return Answer::Copied(take(slot, out));
        }
        if slot
            .state
            .compare_exchange(
                word(tid, PENDING),
                IDLE,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            return Answer::NoAnswer; // taken back: a late handler finds nothing to do
        }
        // The handler is copying: it makes a few system calls, wait for it a little.
        if wait_done(slot, tid, asked, ANSWER_WITHIN + FINISH_WITHIN) {
            return Answer::Copied(take(slot, out));
        }
        Answer::NoAnswer // left BUSY: freed by a later `ask` once the handler is done
    }
}

/// A thread on a CPU answers in a few microseconds: spin that long before sleeping (a
/// sleeping reader may wait milliseconds for a CPU of its own on a busy machine).
const SPIN: Duration = Duration::from_micros(30);

/// Waits until the handler marks the slot DONE for `tid`, or `within` after `asked`.
fn wait_done(slot: &Slot, tid: u32, asked: Instant, within: Duration) -> bool {
    while asked.elapsed() < SPIN.min(within) {
        if slot.state.load(Ordering::Acquire) == word(tid, DONE) {
            return true;
        }
        std::hint::spin_loop();
    }
    loop {
        let seen = slot.done.load(Ordering::Acquire);
        if slot.state.load(Ordering::Acquire) == word(tid, DONE) {
            return true;
        }
        let Some(left) = within.checked_sub(asked.elapsed()) else {
            return false;
        };
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: left.as_nanos().min(999_999_999) as libc::c_long,
        };
        // SAFETY: a futex wait on our own word, with a timeout; returns at once if the
        // handler bumped it since `seen` was read.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                slot.done.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                seen,
                &timeout as *const libc::timespec,
            );
        }
    }
}

/// Takes a DONE slot's chain and frees the slot.
fn take(slot: &Slot, out: &mut [u64]) -> Option<Chain> {
    // SAFETY: DONE (acquired) hands the buffers back to the reader until the slot is IDLE.
    let (chain, frames) = unsafe { (*slot.chain.get(), &*slot.out.get()) };
    if let Some(c) = chain {
        let n = c.len.min(out.len());
        out[..n].copy_from_slice(&frames[..n]);
    }
    slot.state.store(IDLE, Ordering::Release);
    chain
}

/// In a forked child: requests of the parent are void (they were for its threads).
pub fn forget() {
    REQUESTS.store(std::ptr::null_mut(), Ordering::Release);
}

fn handler_address() -> libc::sighandler_t {
    on_signal as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
        as libc::sighandler_t
}

fn current_handler(signal: i32) -> Option<libc::sighandler_t> {
    // SAFETY: a zeroed sigaction is a valid out buffer; a null new action only queries.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        (libc::sigaction(signal, std::ptr::null(), &mut old) == 0).then_some(old.sa_sigaction)
    }
}

extern "C" fn on_signal(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: errno is this thread's; it is put back as the interrupted code left it.
    let errno = unsafe { *libc::__errno_location() };
    // SAFETY: published requests are never freed (leaked in `install`).
    if let Some(r) = unsafe { REQUESTS.load(Ordering::Acquire).as_ref() } {
        r.answer();
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

impl Requests {
    /// In the signalled thread: copy our own chain if a request is for us.
    fn answer(&self) {
        // SAFETY: plain system calls.
        let (pid, tid) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid) as u32) };
        if pid != self.pid {
            return; // a forked child: the request was for a thread of the parent
        }
        for slot in &self.slots {
            if slot
                .state
                .compare_exchange(
                    word(tid, PENDING),
                    word(tid, BUSY),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_err()
            {
                continue;
            }
            // SAFETY: BUSY gives this handler the slot's buffers until it stores DONE.
            unsafe {
                let (scratch, out) = (&mut *slot.scratch.get(), &mut *slot.out.get());
                let mem = OwnProcess { pid };
                let tstate = slot.tstate.load(Ordering::Relaxed);
                *slot.chain.get() = copy_chain(&mem, &self.layout, tstate, scratch, out);
            }
            slot.state.store(word(tid, DONE), Ordering::Release);
            slot.done.fetch_add(1, Ordering::Release);
            // SAFETY: futex wake is a plain system call (async-signal-safe).
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    slot.done.as_ptr(),
                    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                    1,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// A thread state, its _PyCFrame and a data stack with two frames, laid out in this
    /// process's memory as `stack`'s tests lay them out in an image.
    fn fake_thread() -> (Vec<u64>, Layout) {
        let mut m = vec![0u64; 1024];
        let base = m.as_ptr() as u64;
        let (tstate, cframe, chunk) = (base, base + 8 * 64, base + 8 * 128);
        let frame = |k: u64| chunk + 0x18 + k * 0x48;
        let at = |addr: u64| ((addr - base) / 8) as usize;
        m[at(tstate + 0x38)] = cframe;
        m[at(tstate + 0xb0)] = chunk;
        m[at(tstate + 0xb8)] = frame(2);
        m[at(tstate + 0xc0)] = chunk + 8 * 512;
        m[at(cframe + 8)] = frame(1);
        for (k, code) in [(0u64, 0x5000u64), (1, 0x6000)] {
            m[at(frame(k) + 32)] = code;
            m[at(frame(k) + 48)] = if k == 0 { 0 } else { frame(k - 1) };
            m[at(frame(k) + 56)] = code + 0xc0 + 10 * (k + 1);
        }
        let layout = Layout {
            tstate_frame: 0x38,
            cframe_frame: 8,
            frame_code: 32,
            frame_previous: 48,
            frame_instr: 56,
            frame_globals: 8,
            code_bytecode: 0xc0,
            tstate_chunk: 0xb0,
            tstate_top: 0xb8,
            tstate_limit: 0xc0,
            ..Layout::default()
        };
        (m, layout)
    }

    #[test]
    fn a_running_thread_answers_with_its_chain() {
        let (memory, layout) = fake_thread();
        let tstate = memory.as_ptr() as u64;
        // SAFETY: getpid cannot fail.
        let requests = Requests::install(layout, unsafe { libc::getpid() }).expect("a free signal");
        assert!(requests.still_ours());
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let spinner = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                // SAFETY: a plain system call.
                tx.send(unsafe { libc::syscall(libc::SYS_gettid) } as u32)
                    .unwrap();
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            })
        };
        let tid = rx.recv().unwrap();
        let mut out = vec![0u64; OUT_WORDS];
        let mut answered = 0;
        // A busy test machine may not run the thread within 200 µs every time.
        for _ in 0..50 {
            if let Answer::Copied(Some(chain)) = requests.ask(tid, tstate, &mut out) {
                assert_eq!(&out[..chain.len], &[0x6000, 20, 0x5000, 10]);
                assert!(!chain.torn);
                answered += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        spinner.join().unwrap();
        assert!(answered > 0, "the thread never answered");
        // A thread that has ended cannot be signalled: no answer, no hang.
        assert!(matches!(
            requests.ask(tid, tstate, &mut out),
            Answer::NoAnswer
        ));
        drop(memory);
    }
}
