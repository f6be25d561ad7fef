//! profbench's stack reader: a native thread inside the target that reads every Python
//! thread's frame chain *without the GIL*, so a sample lands where the thread is, not where it
//! next lets go of the GIL (see ../README.md, "The native reader").
//!
//! Loaded by the agent with `ctypes.PyDLL` (stdlib); it calls no Python API at all. The agent
//! finds the layout of CPython's structures by probing live objects and checks it by reading
//! its own stack (see `_probe_layout` in the agent), then hands it here. Every read of the
//! target's memory goes through `process_vm_readv` on our own pid: a frame that a thread frees
//! while we read it gives EFAULT or stale words, never a crash.
//!
//! Built by build.rs as a dependency-free cdylib and embedded in the collector.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[repr(C)]
struct IoVec {
    base: *mut c_void,
    len: usize,
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn process_vm_readv(
        pid: i32,
        local: *const IoVec,
        liovcnt: u64,
        remote: *const IoVec,
        riovcnt: u64,
        flags: u64,
    ) -> isize;
    fn getpid() -> i32;
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    fn sigfillset(set: *mut SigSet) -> i32;
    fn pthread_sigmask(how: i32, set: *const SigSet, old: *mut SigSet) -> i32;
}

/// glibc's sigset_t (1024 bits).
#[repr(C)]
struct SigSet([u64; 16]);
const SIG_BLOCK: i32 = 0;

/// Signals sent to the process must reach the target's threads: one delivered to ours would
/// not interrupt the main thread's blocking call (an alarm meant to time out a read, say).
fn block_signals() {
    let mut set = SigSet([0; 16]);
    // SAFETY: valid pointers to a sigset_t-sized buffer.
    unsafe {
        sigfillset(&mut set);
        pthread_sigmask(SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

const CLOCK_MONOTONIC: i32 = 1;
/// Records in the drained word stream (see the agent's `_drain`).
const SAMPLE: u64 = 1;
const NEW_CODE: u64 = 2;
/// Deeper chains are cut (a corrupt read must not loop).
const MAX_DEPTH: usize = 1024;

/// Where things are in this CPython's structures, found by the agent (byte offsets).
#[derive(Clone, Copy, Default)]
struct Layout {
    /// In a thread state: the pointer to the current frame, or to the `_PyCFrame` holding it.
    tstate_frame: usize,
    /// In the `_PyCFrame`: the current frame; `usize::MAX` when tstate points at it directly.
    cframe_frame: usize,
    frame_code: usize,
    frame_previous: usize,
    frame_instr: usize,
    frame_globals: usize,
    /// Where the bytecode starts inside a code object (`_PyCode_CODE`).
    code_bytecode: usize,
    code_name: usize,
    code_file: usize,
    code_type: u64,
    /// A code object whose frames Python itself hides (3.12's interpreter trampoline), or 0.
    hidden_code: u64,
    /// Address of the interpreter's first thread state pointer (`interp->threads.head`).
    threads_head: u64,
    /// In a thread state: the next one, and the kernel tid (`native_thread_id`).
    tstate_next: usize,
    tstate_tid: usize,
    /// In a code object: co_qualname, and co_firstlineno (a C int).
    code_qualname: usize,
    code_firstlineno: usize,
    /// Where a compact str keeps its characters: ASCII ones, and the others (1, 2 or 4
    /// bytes a character). Its length is at 16 and its state bits at 32 (3.11, 3.12).
    str_ascii_data: usize,
    str_compact_data: usize,
}
const LAYOUT_WORDS: usize = 18;
/// A code object's names as first seen: the agent names it from these if the object is
/// gone by the time it asks (a module's top-level code, once its import is over).
struct Names {
    qualname: String,
    file: String,
    first_line: u32,
}

impl Layout {
    fn frame_span(&self) -> usize {
        [
            self.frame_code,
            self.frame_previous,
            self.frame_instr,
            self.frame_globals,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
            + 8
    }
}

/// What one thread looked like at its last sample: unchanged CPU time means unchanged stack.
struct Last {
    cpu: u64,
    leaf_globals: u64,
    frames: Vec<u64>,
}

struct State {
    pid: i32,
    layout: Layout,
    interval_ns: u64,
    /// The agent's own thread state: never sampled.
    exclude: AtomicU64,
    out: Mutex<Vec<u64>>,
    out_cap: usize,
    stop: AtomicBool,
    /// Code objects already announced with a NEW_CODE record, with their names.
    known: Mutex<HashMap<u64, Option<Names>>>,
    ticks: AtomicU64,
    missed: AtomicU64,
    samples: AtomicU64,
    dropped: AtomicU64,
}

/// The running reader, or null. After a fork the child starts a new one and leaks the old
/// (its mutexes may be held by a thread that did not survive the fork).
static STATE: AtomicPtr<State> = AtomicPtr::new(std::ptr::null_mut());

fn state() -> Option<&'static State> {
    // SAFETY: a published State is never freed (see STATE).
    unsafe { STATE.load(Ordering::Acquire).as_ref() }
}

fn mono_ns() -> u64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid out pointer.
    unsafe { clock_gettime(CLOCK_MONOTONIC, &mut ts) };
    ts.sec as u64 * 1_000_000_000 + ts.nsec as u64
}

/// CPU time of a thread of this process by its kernel tid, None once it has ended.
/// (Linux's per-thread CPU clock id: glibc's pthread_getcpuclockid builds the same number,
/// but a pthread_t of an ended thread is unsafe to use; a tid is only a number.)
fn thread_cpu_ns(tid: u32) -> Option<u64> {
    let clock = (!(tid as i32) << 3) | 6;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid out pointer; a bad clock id gives EINVAL.
    let rc = unsafe { clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.sec as u64 * 1_000_000_000 + ts.nsec as u64)
}

/// Copies `buf.len()` bytes from `addr` in our own memory, or false (EFAULT: not mapped).
fn read(pid: i32, addr: u64, buf: &mut [u8]) -> bool {
    if addr == 0 || buf.is_empty() {
        return false;
    }
    let local = IoVec {
        base: buf.as_mut_ptr().cast(),
        len: buf.len(),
    };
    let remote = IoVec {
        base: addr as *mut c_void,
        len: buf.len(),
    };
    // SAFETY: the kernel checks the remote range; the local one is our buffer.
    let n = unsafe { process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    n == buf.len() as isize
}

fn word(buf: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(buf[at..at + 8].try_into().unwrap())
}

fn read_word(pid: i32, addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    read(pid, addr, &mut b).then(|| word(&b, 0))
}

impl State {
    /// The innermost frame a thread state points at (0: no Python frame).
    fn top_frame(&self, tstate: u64) -> Option<u64> {
        let l = &self.layout;
        let p = read_word(self.pid, tstate + l.tstate_frame as u64)?;
        if l.cframe_frame == usize::MAX {
            return Some(p);
        }
        if p == 0 {
            return Some(0);
        }
        read_word(self.pid, p + l.cframe_frame as u64)
    }

    /// Walks a chain: (leaf's globals, [code, lasti bytes] leaf first). None if torn.
    fn walk(&self, top: u64, new_codes: &mut Vec<u64>) -> Option<(u64, Vec<u64>)> {
        let l = &self.layout;
        let mut block = vec![0u8; l.frame_span()];
        let mut frames = Vec::new();
        let mut leaf_globals = 0;
        let mut f = top;
        while f != 0 && frames.len() < 2 * MAX_DEPTH {
            if !read(self.pid, f, &mut block) {
                return None;
            }
            let code = word(&block, l.frame_code);
            let instr = word(&block, l.frame_instr);
            if code != l.hidden_code {
                if !self.is_known(code) {
                    let fp = self.fingerprint(code)?;
                    new_codes.extend_from_slice(&[NEW_CODE, code, fp.0, fp.1]);
                }
                let lasti = instr.wrapping_sub(code + l.code_bytecode as u64) as i64;
                // A frame pushed but not started yet (Python hides it too).
                if lasti >= 0 {
                    if frames.is_empty() {
                        leaf_globals = word(&block, l.frame_globals);
                    }
                    frames.extend_from_slice(&[code, lasti as u64]);
                }
            }
            f = word(&block, l.frame_previous);
        }
        Some((leaf_globals, frames))
    }

    fn is_known(&self, code: u64) -> bool {
        self.known.lock().map(|k| k.contains_key(&code)).unwrap_or(false)
    }

    /// (co_name, co_filename) pointers of a code object, checking that it is one; its names
    /// are kept for `pbr_code_names`.
    fn fingerprint(&self, code: u64) -> Option<(u64, u64)> {
        let l = &self.layout;
        if read_word(self.pid, code + 8)? != l.code_type {
            return None;
        }
        let name = read_word(self.pid, code + l.code_name as u64)?;
        let file = read_word(self.pid, code + l.code_file as u64)?;
        let names = self.names(code, file);
        if let Ok(mut k) = self.known.lock() {
            if k.len() > 200_000 {
                k.clear(); // they will be announced again; the agent keeps its own table
            }
            k.insert(code, names);
        }
        Some((name, file))
    }

    fn names(&self, code: u64, file: u64) -> Option<Names> {
        let l = &self.layout;
        let qualname = read_word(self.pid, code + l.code_qualname as u64)?;
        let mut line = [0u8; 4];
        if !read(self.pid, code + l.code_firstlineno as u64, &mut line) {
            return None;
        }
        Some(Names {
            qualname: self.read_str(qualname)?,
            file: self.read_str(file)?,
            first_line: u32::from_ne_bytes(line),
        })
    }

    /// A compact str object's text (code objects' names and files always are compact).
    fn read_str(&self, obj: u64) -> Option<String> {
        let l = &self.layout;
        let mut head = [0u8; 40];
        if !read(self.pid, obj, &mut head) {
            return None;
        }
        let len = word(&head, 16) as usize;
        let state = head[32];
        let (kind, compact, ascii) = ((state >> 2) & 7, state & 0x20 != 0, state & 0x40 != 0);
        if !compact || len > 4096 {
            return None;
        }
        if ascii {
            let mut text = vec![0u8; len];
            read(self.pid, obj + l.str_ascii_data as u64, &mut text).then_some(())?;
            return String::from_utf8(text).ok();
        }
        let width = match kind {
            1 | 2 | 4 => kind as usize,
            _ => return None,
        };
        let mut raw = vec![0u8; len * width];
        read(self.pid, obj + l.str_compact_data as u64, &mut raw).then_some(())?;
        raw.chunks(width)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..width].copy_from_slice(c);
                char::from_u32(u32::from_le_bytes(b))
            })
            .collect()
    }

    /// The interpreter's threads: (thread state, kernel tid), from its linked list. A thread
    /// ending meanwhile may leave us a freed thread state: its tid then has no CPU clock (see
    /// `round`), and a garbage `next` ends the walk (unreadable) or is cut at 4096 steps.
    fn threads(&self) -> Vec<(u64, u32)> {
        let l = &self.layout;
        let exclude = self.exclude.load(Ordering::Relaxed);
        let mut out = Vec::new();
        let mut ts = read_word(self.pid, l.threads_head).unwrap_or(0);
        let span = l.tstate_next.max(l.tstate_tid) + 8;
        let mut block = vec![0u8; span];
        while ts != 0 && out.len() < 4096 && read(self.pid, ts, &mut block) {
            let tid = word(&block, l.tstate_tid);
            if ts != exclude && tid != 0 && tid <= u32::MAX as u64 {
                out.push((ts, tid as u32));
            }
            ts = word(&block, l.tstate_next);
        }
        out
    }

    /// One round: every thread of the interpreter, appended to the output.
    fn round(&self, last: &mut HashMap<u32, Last>) {
        let threads = self.threads();
        let mut words = Vec::new();
        let mut alive = HashMap::new();
        // One time for the round, as the agent's own rounds: the collector tells rounds apart
        // by it (a thread's first sample stands for the time since the previous round).
        let now = mono_ns();
        for (tstate, tid) in threads {
            // A thread that has ended has no CPU clock: its thread state may be freed memory.
            let Some(cpu) = thread_cpu_ns(tid) else {
                continue;
            };
            let entry = match last.remove(&tid).filter(|p| p.cpu == cpu) {
                // Not a nanosecond on a CPU since the last sample: the stack cannot have moved.
                Some(prev) => Some(prev),
                None => self.read_thread(tstate, &mut words).map(|(g, frames)| Last {
                    cpu,
                    leaf_globals: g,
                    frames,
                }),
            };
            let Some(entry) = entry else {
                continue;
            };
            if !entry.frames.is_empty() {
                let n = (entry.frames.len() / 2) as u64;
                words.extend_from_slice(&[SAMPLE | n << 8, tid as u64, now, cpu, entry.leaf_globals]);
                words.extend_from_slice(&entry.frames);
                self.samples.fetch_add(1, Ordering::Relaxed);
            }
            alive.insert(tid, entry);
        }
        *last = alive;
        self.push(words);
    }

    /// A thread's stack. The thread runs on while we read it: if its innermost frame moved
    /// meanwhile, read again (twice at most), then keep the last reading: dropping it would
    /// drop exactly the samples of code that calls and returns fastest (deep recursion).
    fn read_thread(&self, tstate: u64, words: &mut Vec<u64>) -> Option<(u64, Vec<u64>)> {
        let mut kept = None;
        for _ in 0..3 {
            let top = self.top_frame(tstate)?;
            let mut new_codes = Vec::new();
            let walked = self.walk(top, &mut new_codes);
            words.extend_from_slice(&new_codes);
            if let Some(w) = walked {
                if self.top_frame(tstate) == Some(top) {
                    return Some(w);
                }
                kept = Some(w);
            }
        }
        kept
    }

    fn push(&self, words: Vec<u64>) {
        if words.is_empty() {
            return;
        }
        if let Ok(mut out) = self.out.lock() {
            if out.len() + words.len() > self.out_cap {
                // The agent has not drained for long (a C call holding the GIL for seconds):
                // samples are lost, counted, never queued without bound. Codes stay announced.
                let codes: Vec<u64> = announced_codes(&words);
                out.extend_from_slice(&codes);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            out.extend_from_slice(&words);
        }
    }

    fn run(&self, seed: u64) {
        let mut rng = seed | 1;
        let mut last = HashMap::new();
        let interval = self.interval_ns;
        let mut next = mono_ns();
        while !self.stop.load(Ordering::Relaxed) {
            let now = mono_ns();
            if next > now {
                std::thread::sleep(Duration::from_nanos(next - now));
                if self.stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            self.round(&mut last);
            self.ticks.fetch_add(1, Ordering::Relaxed);
            // Jittered (0.5..1.5 × interval) as the agent's own loop, deadlines absolute.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let jitter = (rng >> 11) as f64 / (1u64 << 53) as f64;
            next += (interval as f64 * (0.5 + jitter)) as u64;
            let now = mono_ns();
            if now > next {
                self.missed.fetch_add((now - next) / interval.max(1), Ordering::Relaxed);
                next = now + (interval as f64 * (0.5 + jitter)) as u64;
            }
        }
    }
}

/// Words in the record starting with `head`: NEW_CODE code name file, or SAMPLE tid time
/// cpu globals and two words per frame.
fn record_len(head: u64) -> usize {
    match head & 0xff {
        NEW_CODE => 4,
        _ => 5 + 2 * (head >> 8) as usize,
    }
}

/// The NEW_CODE records of a word stream (kept when its samples are dropped).
fn announced_codes(words: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let len = record_len(words[i]);
        if words[i] & 0xff == NEW_CODE {
            out.extend_from_slice(&words[i..i + len]);
        }
        i += len;
    }
    out
}

/// Copies `len` bytes at `addr` of this process into `out`; 0 on success, -1 if unreadable.
/// The agent probes the layout with it (reading a guess must not crash the target).
#[no_mangle]
pub extern "C" fn pbr_read(addr: u64, out: *mut u8, len: usize) -> i32 {
    if out.is_null() {
        return -1;
    }
    // SAFETY: the agent passes a buffer of `len` bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(out, len) };
    // SAFETY: getpid cannot fail.
    if read(unsafe { getpid() }, addr, buf) {
        0
    } else {
        -1
    }
}

/// Starts the reader thread. `layout` holds `LAYOUT_WORDS` words in `Layout`'s order; the
/// agent's own thread state is never sampled. 0 on success.
#[no_mangle]
pub extern "C" fn pbr_start(
    layout: *const u64,
    n: usize,
    interval_ns: u64,
    seed: u64,
    exclude: u64,
) -> i32 {
    if layout.is_null() || n != LAYOUT_WORDS || interval_ns == 0 {
        return -1;
    }
    // SAFETY: the agent passes `n` words.
    let w = unsafe { std::slice::from_raw_parts(layout, n) };
    let layout = Layout {
        tstate_frame: w[0] as usize,
        cframe_frame: w[1] as usize,
        frame_code: w[2] as usize,
        frame_previous: w[3] as usize,
        frame_instr: w[4] as usize,
        frame_globals: w[5] as usize,
        code_bytecode: w[6] as usize,
        code_name: w[7] as usize,
        code_file: w[8] as usize,
        code_type: w[9],
        hidden_code: w[10],
        threads_head: w[11],
        tstate_next: w[12] as usize,
        tstate_tid: w[13] as usize,
        code_qualname: w[14] as usize,
        code_firstlineno: w[15] as usize,
        str_ascii_data: w[16] as usize,
        str_compact_data: w[17] as usize,
    };
    let state = Arc::new(State {
        // SAFETY: getpid cannot fail.
        pid: unsafe { getpid() },
        layout,
        interval_ns,
        exclude: AtomicU64::new(exclude),
        out: Mutex::new(Vec::new()),
        // 16 MB of words: seconds of samples at 1000 Hz while the agent waits for the GIL.
        out_cap: 2 << 20,
        stop: AtomicBool::new(false),
        known: Mutex::new(HashMap::new()),
        ticks: AtomicU64::new(0),
        missed: AtomicU64::new(0),
        samples: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
    });
    let raw = Arc::into_raw(state.clone()) as *mut State;
    STATE.store(raw, Ordering::Release);
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

/// The agent's own thread state (once its thread runs): never sampled.
#[no_mangle]
pub extern "C" fn pbr_exclude(tstate: u64) {
    if let Some(s) = state() {
        s.exclude.store(tstate, Ordering::Relaxed);
    }
}

/// Moves up to `cap` words of records into `out`; returns how many (whole records only).
#[no_mangle]
pub extern "C" fn pbr_drain(out: *mut u64, cap: usize) -> usize {
    let Some(s) = state() else { return 0 };
    let Ok(mut buf) = s.out.lock() else { return 0 };
    // Whole records only: cut at the last record boundary that fits.
    let mut end = 0;
    let mut i = 0;
    while i < buf.len() {
        let len = record_len(buf[i]);
        if i + len > cap {
            break;
        }
        i += len;
        end = i;
    }
    // SAFETY: the agent passes a buffer of `cap` words.
    unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), out, end) };
    buf.drain(..end);
    end
}

/// The names the reader kept for a code object (`qualname NUL file NUL first line`) in `out`;
/// their length, or -1 if it kept none or they do not fit.
#[no_mangle]
pub extern "C" fn pbr_code_names(code: u64, out: *mut u8, cap: usize) -> isize {
    let Some(s) = state() else { return -1 };
    let Ok(k) = s.known.lock() else { return -1 };
    let Some(Some(n)) = k.get(&code) else {
        return -1;
    };
    let text = format!("{}\0{}\0{}", n.qualname, n.file, n.first_line);
    if out.is_null() || text.len() > cap {
        return -1;
    }
    // SAFETY: the agent passes a buffer of `cap` bytes.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), out, text.len()) };
    text.len() as isize
}

/// Forgets that a code object was announced (the agent could not name it): if the address
/// is reused by another code object, it is announced again.
#[no_mangle]
pub extern "C" fn pbr_forget(code: u64) {
    if let Some(s) = state() {
        if let Ok(mut k) = s.known.lock() {
            k.remove(&code);
        }
    }
}

/// ticks, missed ticks, samples, rounds dropped (buffer full); 0 on success.
#[no_mangle]
pub extern "C" fn pbr_stats(out: *mut u64) -> i32 {
    let Some(s) = state() else { return -1 };
    let v = [
        s.ticks.load(Ordering::Relaxed),
        s.missed.load(Ordering::Relaxed),
        s.samples.load(Ordering::Relaxed),
        s.dropped.load(Ordering::Relaxed),
    ];
    // SAFETY: the agent passes 4 words.
    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out, v.len()) };
    0
}

/// Hands the agent a strong reference to the code object at `code` if it still is the one
/// announced (its type, a live reference count, the same name and file objects), else one to
/// `none` (Python's None: ctypes 3.11 crashes on a NULL py_object result). Called with the
/// GIL held (ctypes.PyDLL, restype py_object, which takes over the reference): no Python
/// thread can free the object between the check and the increment.
#[no_mangle]
pub extern "C" fn pbr_claim_code(code: u64, name: u64, file: u64, none: u64) -> u64 {
    let Some(s) = state() else {
        return incref(none);
    };
    let l = &s.layout;
    let mut head = [0u8; 16];
    let same = read(s.pid, code, &mut head)
        && word(&head, 8) == l.code_type
        && read_word(s.pid, code + l.code_name as u64) == Some(name)
        && read_word(s.pid, code + l.code_file as u64) == Some(file);
    let refcnt = word(&head, 0);
    // Freed memory holds an allocator pointer (or 0) where the count was: not a count.
    if !same || refcnt == 0 || refcnt >= 1 << 32 {
        return incref(none);
    }
    incref(code)
}

/// Py_INCREF of a live object (3.12+ leaves immortal ones, low 32 bits all ones, alone).
fn incref(obj: u64) -> u64 {
    // SAFETY: our caller holds the GIL and `obj` is a live object (checked or None).
    unsafe {
        let count = obj as *mut u64;
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
/// forget it (leaked, a few KB) so that `pbr_start` begins afresh.
#[no_mangle]
pub extern "C" fn pbr_after_fork() {
    STATE.store(std::ptr::null_mut(), Ordering::Release);
}
