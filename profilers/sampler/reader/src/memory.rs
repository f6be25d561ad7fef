//! The reader's only way into memory: `process_vm_readv` on our own pid. A frame that a
//! thread frees while we read it gives EFAULT or stale words, never a fault. Async-signal-safe
//! (one system call, no allocation): the signal handler reads through it too.

/// One range to read: `buf.len()` bytes at `addr`.
pub struct Part<'a> {
    pub addr: u64,
    pub buf: &'a mut [u8],
}

/// Something to read words from: this process, or an image in the tests.
pub trait Memory {
    /// Fills every part in one go; false if any byte of any part could not be read.
    fn read_parts(&self, parts: &mut [Part<'_>]) -> bool;

    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        self.read_parts(&mut [Part { addr, buf }])
    }

    fn word(&self, addr: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b).then(|| word(&b, 0))
    }
}

/// At most this many ranges per call (kept on the stack: no allocation).
pub const MAX_PARTS: usize = 8;

/// This process, read through the kernel.
#[derive(Clone, Copy)]
pub struct OwnProcess {
    pub pid: i32,
}

impl OwnProcess {
    pub fn new() -> Self {
        // SAFETY: getpid cannot fail.
        OwnProcess {
            pid: unsafe { libc::getpid() },
        }
    }
}

impl Default for OwnProcess {
    fn default() -> Self {
        Self::new()
    }
}

impl Memory for OwnProcess {
    fn read_parts(&self, parts: &mut [Part<'_>]) -> bool {
        if parts.is_empty() || parts.len() > MAX_PARTS {
            return false;
        }
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut local = [empty; MAX_PARTS];
        let mut remote = [empty; MAX_PARTS];
        let mut total = 0usize;
        for (k, p) in parts.iter_mut().enumerate() {
            if p.addr == 0 || p.buf.is_empty() {
                return false;
            }
            local[k] = libc::iovec {
                iov_base: p.buf.as_mut_ptr().cast(),
                iov_len: p.buf.len(),
            };
            remote[k] = libc::iovec {
                iov_base: p.addr as *mut libc::c_void,
                iov_len: p.buf.len(),
            };
            total += p.buf.len();
        }
        let n = parts.len() as libc::c_ulong;
        // SAFETY: the kernel checks the remote ranges; the local ones are our buffers.
        let got =
            unsafe { libc::process_vm_readv(self.pid, local.as_ptr(), n, remote.as_ptr(), n, 0) };
        got == total as isize
    }
}

/// The native-endian word at byte `at` of `buf`, 0 past its end (never panics: the signal
/// handler uses it).
pub fn word(buf: &[u8], at: usize) -> u64 {
    match buf.get(at..at.saturating_add(8)) {
        Some(b) => {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            u64::from_ne_bytes(w)
        }
        None => 0,
    }
}

#[cfg(test)]
pub mod fake {
    //! A memory image for the tests: words at addresses, which can change after the n-th
    //! read (a thread that runs on while it is read).
    use super::{Memory, Part};
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;

    #[derive(Default)]
    pub struct Image {
        pub words: RefCell<BTreeMap<u64, u64>>,
        /// (after this many reads, address, new word)
        pub changes: RefCell<Vec<(usize, u64, u64)>>,
        pub reads: Cell<usize>,
    }

    impl Image {
        pub fn set(&self, addr: u64, value: u64) {
            self.words.borrow_mut().insert(addr, value);
        }
        pub fn change_after(&self, reads: usize, addr: u64, value: u64) {
            self.changes.borrow_mut().push((reads, addr, value));
        }
        fn byte(&self, addr: u64) -> Option<u8> {
            let w = self.words.borrow();
            let base = addr & !7;
            w.get(&base)
                .map(|v| v.to_ne_bytes()[(addr - base) as usize])
        }
    }

    impl Memory for Image {
        fn read_parts(&self, parts: &mut [Part<'_>]) -> bool {
            let n = self.reads.get();
            self.reads.set(n + 1);
            let mut ok = true;
            for p in parts.iter_mut() {
                for (k, b) in p.buf.iter_mut().enumerate() {
                    match self.byte(p.addr + k as u64) {
                        Some(v) => *b = v,
                        None => ok = false,
                    }
                }
            }
            // The program runs on between two reads.
            for &(after, addr, value) in self.changes.borrow().iter() {
                if after == n + 1 {
                    self.words.borrow_mut().insert(addr, value);
                }
            }
            ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_several_ranges_of_our_own_memory_in_one_call() {
        let a = [1u64, 2, 3];
        let b = [9u8; 5];
        let (mut x, mut y) = ([0u8; 24], [0u8; 5]);
        let mem = OwnProcess::new();
        assert!(mem.read_parts(&mut [
            Part {
                addr: a.as_ptr() as u64,
                buf: &mut x
            },
            Part {
                addr: b.as_ptr() as u64,
                buf: &mut y
            },
        ]));
        assert_eq!((word(&x, 8), y), (2, [9; 5]));
        assert_eq!(mem.word(a.as_ptr() as u64 + 16), Some(3));
    }

    #[test]
    fn unmapped_memory_is_an_answer_not_a_crash() {
        let mem = OwnProcess::new();
        assert_eq!(mem.word(8), None);
        assert_eq!(mem.word(0), None);
        assert_eq!(word(&[1, 2, 3], 0), 0);
    }
}
