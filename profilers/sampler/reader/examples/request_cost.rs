//! What one request costs the thread that answers it, on this machine.
//!
//! A thread pinned to CPU 1 spins and adds up every gap in its own time stamp counter longer
//! than a microsecond: the time something else had its CPU. The main thread, on CPU 0, asks
//! it once a millisecond, for a few seconds at a time, in turn:
//! - nothing (the gaps this machine makes anyway: timer ticks, the hypervisor);
//! - the reader's signal with no request pending (the handler finds nothing to do): what
//!   delivering a signal costs;
//! - a whole request (`Requests::ask`): the handler copies a chain of `depth` frames;
//! - no asking at all, but a timer of the spinning thread's own (`timer_create` on
//!   CLOCK_MONOTONIC, armed by that thread, so it fires on its CPU with no interrupt from
//!   another one) sending it the same signal every millisecond: the other way to interrupt a
//!   running thread a thousand times a second.
//!
//! Each round prints the time lost, and the end the median lost per signal and per request
//! over the rounds, each against the quiet stretch of its own round.
//!
//! `cargo run --release -p profbench-reader --example request_cost -- [depth] [rounds]`
//! (x86-64 Linux, two CPUs or more; run nothing else meanwhile).

use profbench_reader::layout::Layout;
use profbench_reader::signal::{Answer, Requests};
use profbench_reader::stack::OUT_WORDS;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECONDS: f64 = 2.0;

fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; affinity of the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn tsc() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86-64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// A thread state and a data stack of `depth` frames, 256 bytes apart, in `m`.
fn fake_thread(m: &mut [u64], depth: u64) -> (u64, Layout) {
    let base = m.as_ptr() as u64;
    let (tstate, cframe, chunk) = (base, base + 8 * 64, base + 8 * 128);
    let frame = |k: u64| chunk + 0x18 + k * 256;
    let at = |addr: u64| ((addr - base) / 8) as usize;
    m[at(tstate + 0x38)] = cframe;
    m[at(tstate + 0xb0)] = chunk;
    m[at(tstate + 0xb8)] = frame(depth);
    m[at(tstate + 0xc0)] = base + 8 * (m.len() as u64 - 8);
    m[at(cframe + 8)] = frame(depth - 1);
    for k in 0..depth {
        let code = 0x5000 + k * 0x1000;
        m[at(frame(k) + 32)] = code;
        m[at(frame(k) + 48)] = if k == 0 { 0 } else { frame(k - 1) };
        m[at(frame(k) + 56)] = code + 0xc0 + 10;
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
    (tstate, layout)
}

#[derive(Clone, Copy, PartialEq)]
enum Ask {
    Nothing,
    Signal,
    Request,
    OwnTimer,
}

/// Arms a timer sending `signal` to the calling thread every millisecond; None if refused.
fn own_timer(signal: i32) -> Option<libc::timer_t> {
    // SAFETY: a zeroed sigevent is valid; every field used is set; out pointer is ours.
    unsafe {
        let mut event: libc::sigevent = std::mem::zeroed();
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = signal;
        event.sigev_notify_thread_id = libc::syscall(libc::SYS_gettid) as i32;
        let mut timer: libc::timer_t = std::ptr::null_mut();
        if libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) != 0 {
            return None;
        }
        let ms = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        let every = libc::itimerspec {
            it_interval: ms,
            it_value: ms,
        };
        (libc::timer_settime(timer, 0, &every, std::ptr::null_mut()) == 0).then_some(timer)
    }
}

/// Milliseconds the spinning thread lost in `SECONDS`, and how many times it was asked.
fn round(requests: &Requests, tstate: u64, depth: u64, ask: Ask, ticks_per_us: u64) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let tid = Arc::new(AtomicU32::new(0));
    let signal = requests.signal;
    let spinner = {
        let (stop, tid) = (stop.clone(), tid.clone());
        std::thread::spawn(move || {
            pin(1);
            let timer = (ask == Ask::OwnTimer).then(|| own_timer(signal).expect("a timer"));
            // SAFETY: a plain system call.
            tid.store(
                unsafe { libc::syscall(libc::SYS_gettid) } as u32,
                Ordering::Release,
            );
            let (mut lost, mut last) = (0u64, tsc());
            while !stop.load(Ordering::Relaxed) {
                let now = tsc();
                if now - last > ticks_per_us {
                    lost += now - last;
                }
                last = now;
            }
            if let Some(t) = timer {
                // SAFETY: our own timer, deleted once.
                unsafe { libc::timer_delete(t) };
            }
            lost
        })
    };
    pin(0);
    while tid.load(Ordering::Acquire) == 0 {
        std::hint::spin_loop();
    }
    let t = tid.load(Ordering::Acquire);
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    let mut out = vec![0u64; OUT_WORDS];
    let (start, mut next, mut asked) = (Instant::now(), Instant::now(), 0);
    while start.elapsed().as_secs_f64() < SECONDS {
        next += Duration::from_millis(1);
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
        match ask {
            Ask::Nothing => {}
            Ask::OwnTimer => asked += 1,
            Ask::Signal => {
                // SAFETY: our own thread; no request is pending, so the handler only returns.
                unsafe { libc::syscall(libc::SYS_tgkill, pid, t as i32, requests.signal) };
                asked += 1;
            }
            Ask::Request => {
                if let Answer::Copied(Some(c)) = requests.ask(t, tstate, &mut out) {
                    assert_eq!(c.len as u64, 2 * depth, "the chain copied");
                    asked += 1;
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let lost = spinner.join().expect("spinner") as f64 / ticks_per_us as f64 / 1e3;
    (lost, asked)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let arg = |k: usize, default: u64| {
        std::env::args()
            .nth(k)
            .map(|s| s.parse().expect("a number"))
            .unwrap_or(default)
    };
    let (depth, rounds) = (arg(1, 12).clamp(1, 30), arg(2, 5).max(1));
    let mut memory = vec![0u64; 8192];
    let (tstate, layout) = fake_thread(&mut memory, depth);
    // SAFETY: getpid cannot fail.
    let requests = Requests::install(layout, unsafe { libc::getpid() }).expect("a free signal");
    let (t, c) = (Instant::now(), tsc());
    std::thread::sleep(Duration::from_millis(200));
    let ticks_per_us = ((tsc() - c) as f64 / t.elapsed().as_secs_f64() / 1e6) as u64;
    let (mut per_signal, mut per_request, mut per_timer) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (quiet, _) = round(requests, tstate, depth, Ask::Nothing, ticks_per_us);
        let (signalled, signals) = round(requests, tstate, depth, Ask::Signal, ticks_per_us);
        let (requested, answers) = round(requests, tstate, depth, Ask::Request, ticks_per_us);
        let (timed, fired) = round(requests, tstate, depth, Ask::OwnTimer, ticks_per_us);
        println!(
            "round {}: lost {quiet:.1} ms quiet, {signalled:.1} ms with {signals} signals, \
             {requested:.1} ms with {answers} requests, {timed:.1} ms with its own timer",
            r + 1
        );
        per_signal.push((signalled - quiet) * 1e3 / signals.max(1) as f64);
        per_request.push((requested - quiet) * 1e3 / answers.max(1) as f64);
        per_timer.push((timed - quiet) * 1e3 / fired.max(1) as f64);
    }
    println!(
        "median over {rounds} rounds, µs lost by the running thread: {:.1} per signal from \
         another thread, {:.1} per request ({depth} frames), {:.1} per signal of its own timer",
        median(per_signal),
        median(per_request),
        median(per_timer)
    );
    drop(memory);
}
