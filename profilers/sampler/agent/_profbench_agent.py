# profbench sampler agent: samples every thread's Python stack in-process and streams compact
# records to the profbench collector over a private Unix socket.
#
# Rules this file lives by (the target must never notice it):
#   * stdlib only, CPython 3.8+, and only modules CPython has already loaded or that load no
#     other module (`_socket`, `_thread`): importing `random`, `json` or `threading` here would
#     change the target's import order and global state. The native reader needs `ctypes`:
#     it is imported privately (taken out of sys.modules again, see _Reader).
#   * never print; any exception switches sampling off and is reported to the collector.
#   * the sampler thread is a raw `_thread` thread, so `threading.enumerate()`,
#     `threading.active_count()` and non-daemon joins at exit do not see it.
#
# Wire format (one record a line, fields separated by TAB, strings escaped with \\ \t \n \r):
#   H <proto> <pid> <ppid> <monotonic_ns> <executable> <argv joined by \x1f>   hello
#   C <code id> <file> <function> <first line>                                  code object
#   N <tid> <thread name>                                                       thread name
#   S <tid> <monotonic_ns> <thread cpu ns | -> <code id>:<line> ... (leaf first) sample
#   K <tid> <start_ns> <end_ns> <category> <name>                               span
#   Z <ticks> <missed ticks> <samples> <rounds read again> <torn chains>        stats so far
#   M <native|gil> <detail>                                                     how it samples
#   E <message>                                                                 sampling off
# The collector answers the hello with `ok <rate Hz> <stop_at monotonic_ns or 0>` or `off`.

import os
import sys
import time
import _thread

PROTO = "1"
_FLUSH_NS = 100_000_000  # send at most every 100 ms: few syscalls, little lost on a crash
_STALL_NS = 2_000_000_000  # a collector that reads nothing for 2 s switches sampling off

_mono = time.monotonic_ns
_current_frames = sys._current_frames

try:
    _thread_cpu_clock = time.pthread_getcpuclockid
    _clock_ns = time.clock_gettime_ns
except AttributeError:  # macOS, Windows: no per-thread CPU clock of another thread
    _thread_cpu_clock = None
    _clock_ns = None

_agent = None


def _esc(s):
    s = str(s)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def _block_signals():
    """Signals sent to the process must reach the target's threads: one delivered to ours
    would not interrupt the main thread's blocking call. (`_signal` is loaded at start-up.)"""
    try:
        _signal = sys.modules["_signal"]
        _signal.pthread_sigmask(_signal.SIG_BLOCK, _signal.valid_signals())
    except (KeyError, AttributeError, OSError, ValueError):
        pass


class _Rng:
    """xorshift64*: jitter without importing `random` (and touching the target's RNG)."""

    def __init__(self, seed):
        self.s = (seed or 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF

    def uniform(self):
        s = self.s
        s ^= (s >> 12)
        s ^= (s << 25) & 0xFFFFFFFFFFFFFFFF
        s ^= (s >> 27)
        self.s = s
        return ((s * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) / 18446744073709551616.0


class Agent:
    def __init__(self, path):
        self.path = path
        self.sock = None
        self.sock_id = None
        self.lock = _thread.allocate_lock()  # one writer at a time on the socket
        self.buf = []
        self.unsent = b""  # what the non-blocking socket did not take yet
        self.stalled_since = 0
        self.codes = {}  # id(code) -> see code_id
        self.natives = {}  # C function name -> "id:0"
        self.next_code_id = 0  # code objects and C functions share one numbering
        self.tids = {}  # thread ident -> native tid string
        self.last = {}  # thread ident -> (cpu text, tid, stack text) of its last sample
        self.on = False
        self.stop = False
        self.rate = 100.0
        self.stop_at = 0
        self.ticks = 0
        self.missed = 0
        self.samples = 0
        self.rereads = 0  # extra rounds because the GIL was lost (see regained, round)
        self.torn = 0  # chains the native reader found inconsistent (cut, kept, counted)
        self.interval = 10_000_000  # ns between ticks, set from the rate in run
        self.last_flush = 0
        self.ray_patched = False
        self.ident = None
        self.main_ident = None
        self.reader = None  # the native reader (_Reader), or None: sampling from Python

    # -- connection -------------------------------------------------------------------------

    def connect(self):
        import _socket

        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(5.0)
        sock.connect(self.path)
        argv = "\x1f".join(_esc(a) for a in getattr(sys, "argv", []) or [])
        hello = "H\t%s\t%d\t%d\t%d\t%s\t%s\n" % (
            PROTO, os.getpid(), os.getppid(), _mono(), _esc(sys.executable or ""), argv)
        sock.sendall(hello.encode("utf-8", "surrogateescape"))
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(256)
            if not chunk:
                break
            reply += chunk
        fields = reply.decode("ascii", "replace").strip().split("\t")
        if fields[0] != "ok":
            sock.close()
            return False
        self.rate = float(fields[1])
        self.stop_at = int(fields[2]) if len(fields) > 2 else 0
        # Non-blocking from here: a send is one syscall, so it lets go of the GIL once (sendall
        # with a timeout polls and then sends, twice), and never waits for the collector.
        sock.settimeout(0.0)
        st = os.fstat(sock.fileno())
        self.sock_id = (st.st_dev, st.st_ino)
        self.sock = sock
        return True

    def sock_is_ours(self):
        """Whether our descriptor still is our socket. A target that closes every descriptor
        (daemons do) may reuse the number for its own file: writing or closing it then would
        corrupt the target's file."""
        try:
            st = os.fstat(self.sock.fileno())
        except (OSError, ValueError):
            return False
        return (st.st_dev, st.st_ino) == self.sock_id

    def drop_sock(self):
        """Forget the socket without touching its descriptor number (see sock_is_ours)."""
        try:
            self.sock.detach()
        except (OSError, AttributeError):
            pass
        self.sock = None
        self.on = False
        self.stop = True

    def send(self, final=False):
        if self.sock is None:
            return
        # Bounded waits everywhere: a stuck collector must not hang the target at exit.
        if not self.lock.acquire(True, 2.0):
            self.on = False
            self.stop = True
            return
        try:
            if self.sock is None:
                return
            since = _mono()
            if not self.sock_is_ours():
                self.drop_sock()
                return
            self.regained(since)
            if self.reader is not None:
                self.ticks, missed, self.samples, dropped, self.torn = self.reader.stats()[:5]
                self.missed = missed + dropped
                self.reader.check_handler()
            buf, self.buf = self.buf, []
            buf.append("Z\t%d\t%d\t%d\t%d\t%d\n" % (
                self.ticks, self.missed, self.samples, self.rereads, self.torn))
            data = self.unsent + "".join(buf).encode("utf-8", "surrogateescape")
            self.unsent = b""
            try:
                if final:
                    self.sock.settimeout(2.0)  # bounded: a stuck collector must not hang exit
                    self.sock.sendall(data)
                else:
                    since = _mono()
                    self.send_some(data)
                    self.regained(since)
            except OSError:
                # The collector is gone: stop quietly, the target must go on.
                self.on = False
                self.stop = True
            if final or self.stop:
                try:
                    self.sock.close()
                except OSError:
                    pass
                self.sock = None
        finally:
            self.lock.release()

    def send_some(self, data):
        """One non-blocking send; what the socket did not take waits for the next one."""
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self.unsent = data[sent:]
            now = _mono()
            if not self.stalled_since:
                self.stalled_since = now
            elif now - self.stalled_since > _STALL_NS:
                raise OSError("the collector stopped reading")
        else:
            self.stalled_since = 0

    def fail(self, exc):
        self.on = False
        self.stop = True
        try:
            import traceback
            msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            tb = traceback.extract_tb(exc.__traceback__)
            if tb:
                msg += " at %s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno)
        except BaseException:
            msg = repr(exc)
        self.buf.append("E\t%s\n" % _esc(msg))
        try:
            self.send(final=True)
        except BaseException:
            pass

    # -- sampling ---------------------------------------------------------------------------

    def code_id(self, co):
        """Interns a code object: (id string, the code itself so its id() stays unique,
        {lasti: "id:line"}, {lasti: "id:0" of the C function called there, or ""})."""
        cid = self.new_code_id()
        e = self.codes[id(co)] = (cid, co, {}, {})
        name = getattr(co, "co_qualname", None) or co.co_name
        self.buf.append("C\t%s\t%s\t%s\t%d\n" % (cid, _esc(co.co_filename), _esc(name), co.co_firstlineno))
        return e

    def new_code_id(self):
        cid = self.next_code_id
        self.next_code_id += 1
        return str(cid)

    def native_callee(self, frame, lasti):
        """The "id:0" item of the C function a frame is calling at `lasti`, or "".

        A Python-stack sampler sees a thread inside `np.dot(a, a)` or `time.sleep(1)` only as
        the caller's line; the callee is named here from the bytecode (see _callee), once per
        call site, so its time shows as a leaf frame `numpy.dot` / `time.sleep` (file
        <native>), as py-spy --native shows it from the machine stack."""
        try:
            name = _callee(frame, lasti)
        except Exception:
            name = None
        if not name:
            return ""
        item = self.natives.get(name)
        if item is None:
            cid = self.new_code_id()
            item = self.natives[name] = "%s:0" % cid
            self.buf.append("C\t%s\t<native>\t%s\t0\n" % (cid, _esc(name)))
        return item

    def native_tid(self, ident):
        tid = self.tids.get(ident)
        if tid is not None:
            return tid
        name = None
        tid = str(ident)
        threading = sys.modules.get("threading")
        t = getattr(threading, "_active", {}).get(ident) if threading is not None else None
        if t is not None and getattr(t, "native_id", None):
            tid = str(t.native_id)
            name = t.name
        elif ident == self.main_ident:
            tid = str(os.getpid())
            name = "MainThread"
        else:
            return tid  # not a threading.Thread yet: look again next time
        self.tids[ident] = tid
        if name is not None:
            self.buf.append("N\t%s\t%s\n" % (tid, _esc(name)))
        return tid

    def sample(self):
        frames = _current_frames()
        now = _mono()
        codes = self.codes
        out = self.buf
        me = self.ident
        last = self.last
        seen = {}
        for ident, f in frames.items():
            if ident == me:
                continue
            cpu = "-"
            if _thread_cpu_clock is not None:
                try:
                    cpu = str(_clock_ns(_thread_cpu_clock(ident)))
                except (OSError, OverflowError):
                    pass
            prev = last.get(ident)
            if prev is not None and cpu != "-" and prev[0] == cpu:
                # Not a nanosecond on a CPU since the last sample: the thread has not run, so
                # its stack cannot have changed. Blocked threads cost a syscall, not a walk.
                seen[ident] = prev
                out.append("S\t%s\t%d\t%s\t%s\n" % (prev[1], now, cpu, prev[2]))
                self.samples += 1
                continue
            parts = []
            while f is not None:
                # Per code object, the "id:line" text by instruction offset: f_lineno walks the
                # line table and formatting is not free; together they were half the cost.
                e = codes.get(id(f.f_code))
                if e is None:
                    e = self.code_id(f.f_code)
                by_lasti = e[2]
                lasti = f.f_lasti
                item = by_lasti.get(lasti)
                if item is None:
                    item = by_lasti[lasti] = "%s:%d" % (e[0], f.f_lineno or 0)
                if not parts:
                    # The leaf: if it stands on a call, name the C function being called.
                    native = e[3].get(lasti)
                    if native is None:
                        native = e[3][lasti] = self.native_callee(f, lasti)
                    if native:
                        parts.append(native)
                parts.append(item)
                f = f.f_back
            del f
            tid = self.native_tid(ident)
            stack = " ".join(parts)
            seen[ident] = (cpu, tid, stack)
            out.append("S\t%s\t%d\t%s\t%s\n" % (tid, now, cpu, stack))
            self.samples += 1
        del frames
        self.last = seen  # threads that ended drop out here

    def run(self):
        self.ident = _thread.get_ident()
        _block_signals()
        if self.reader is not None:
            try:
                self.reader.exclude_me()
                return self.run_reader()
            except _ReaderOff as exc:  # read from Python after all, and say so (last M wins)
                self.reader.stop()
                self.reader = None
                self.buf.append("M\tgil\t%s\n" % _esc(exc))
        try:
            rng = _Rng(_mono() ^ os.getpid())
            interval = self.interval = int(1e9 / self.rate)
            next_t = _mono()  # a first round at once: the main thread may soon hold the GIL
            self.last_flush = _mono()
            while not self.stop:
                now = _mono()
                if next_t > now:
                    time.sleep((next_t - now) / 1e9)
                    if self.stop:
                        break
                if self.on:
                    self.round()
                    if not self.ray_patched and "ray._private.function_manager" in sys.modules:
                        self.ray_patched = _patch_ray(self)
                # Jittered (uniform 0.5..1.5 × interval) so samples cannot lock step with a
                # periodic program; deadlines are absolute so sampling cost does not slow the rate.
                next_t += int(interval * (0.5 + rng.uniform()))
                now = _mono()
                if now > next_t:
                    # Behind (a long C call held the GIL): those ticks are missed, not queued.
                    # Their time is not lost: the late sample's weight is the time since the last.
                    self.missed += (now - next_t) // interval
                    next_t = now + int(interval * (0.5 + rng.uniform()))
                if now - self.last_flush >= _FLUSH_NS:
                    self.last_flush = now
                    self.send()
                if self.stop_at and now >= self.stop_at:
                    self.on = False
                    self.send()
                    break
        except BaseException as exc:  # noqa: B902 - anything at all switches sampling off
            self.fail(exc)

    def run_reader(self):
        """The agent's loop when the native reader samples: every flush interval, turn what
        it read into records and send them (the only time this thread needs the GIL)."""
        reader = self.reader
        try:
            while not self.stop:
                time.sleep(_FLUSH_NS / 1e9)
                if self.stop:
                    break
                reader.drain()
                if not self.ray_patched and "ray._private.function_manager" in sys.modules:
                    self.ray_patched = _patch_ray(self)
                self.send()
                if self.stop_at and _mono() >= self.stop_at:
                    self.on = False
                    reader.stop()
                    reader.drain()
                    self.send()
                    break
        except BaseException as exc:  # noqa: B902 - anything at all switches sampling off
            reader.stop()
            self.fail(exc)

    def regained(self, since):
        """After a syscall or a round (both can lose the GIL): if it came back late, the target
        took the GIL meanwhile and now stands where it let go of it: read the stacks before
        anything else can let go of it again (see round). "Late" is longer than an interval:
        a shorter loss (a switch interval of pure Python) is left to the next tick, so the
        asked rate stays the rate; a long C call is not."""
        if _mono() - since > self.interval and self.on and _thread.get_ident() == self.ident \
                and self.reader is None:
            self.sample()
            self.rereads += 1

    def round(self):
        """One sample of every thread, taken again if the GIL was lost half-way.

        The GIL comes back to the sampler where the target lets go of it: right after a long C
        call, before the next line. Reading the stacks then is the whole trick (see README,
        "Safepoint bias"), so nothing may let go of the GIL between getting it and reading. If
        the round itself lost it (the switch interval or the OS took it half-way), the target
        ran on and may now stand at the end of another long call: read once more, at once, so
        that time is charged there and not to wherever the next tick finds the target."""
        started = _mono()
        self.sample()
        self.ticks += 1
        self.regained(started)

    def finish(self):
        """atexit / os._exit: stop sampling and send what is left."""
        if self.sock is None:
            return
        self.stop = True
        self.on = False
        if self.reader is not None:
            self.reader.stop()
            # What the reader read since the last flush (all of a long C call that held the
            # GIL until the end) is only here: a loss is said, never silent.
            try:
                if self.reader.drain() is None:
                    self.buf.append("E\tthe last samples were lost at exit: the reader's "
                                    "buffer stayed busy for 2 s\n")
            except Exception as exc:
                self.buf.append("E\tthe last samples were lost at exit: %s\n" % _esc(repr(exc)))
        self.send(final=True)

    def after_fork_in_child(self):
        # The sampler thread did not survive the fork and the socket is the parent's: start over
        # with a connection of our own (the collector decides whether children are sampled).
        sock = self.sock
        self.sock = None
        self.lock = _thread.allocate_lock()
        if self.reader is not None:
            self.reader.lib.pbr_after_fork()  # its thread did not survive the fork either
            self.reader = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        self.buf = []
        self.unsent = b""
        self.stalled_since = 0
        self.codes = {}
        self.natives = {}
        self.next_code_id = 0
        self.tids = {}
        self.last = {}
        self.ticks = self.missed = self.samples = self.rereads = self.torn = 0
        self.main_ident = _thread.get_ident()
        self.on = False
        self.stop = False
        self.ray_patched = False
        self.begin()

    def begin(self):
        if not self.connect():
            return
        self.on = True
        try:
            reader = _Reader(self)
            reader.start(int(1e9 / self.rate), _mono() ^ os.getpid())
            self.reader = reader
            self.buf.append("M\tnative\t%s\n" % _esc(reader.how()))
        except _ReaderOff as exc:
            self.buf.append("M\tgil\t%s\n" % _esc(exc))
        except Exception as exc:  # a bug of ours: sample from Python, and say so
            self.buf.append("M\tgil\treader failed: %s\n" % _esc(repr(exc)))
        _thread.start_new_thread(self.run, ())

    # -- spans ------------------------------------------------------------------------------

    def span(self, start, end, category, name):
        if self.on:
            self.buf.append("K\t%d\t%d\t%d\t%s\t%s\n" % (
                _thread.get_native_id(), start, end, category, _esc(name)))


# -- the native reader ---------------------------------------------------------------------
#
# A thread sampling Python stacks from Python needs the GIL, and a CPU-bound thread hands it
# over at most once per switch interval (5 ms): short calls are seen by luck and long C calls
# are seen only when they end. The reader (native/reader.rs, loaded with ctypes) is a native
# thread that reads the frame chains without the GIL, at the asked rate. This side finds the
# layout of CPython's structures by looking at live objects, checks it by reading its own
# stack, gives the reader the thread states to read, and turns what it read into records.
# When anything here fails (no ctypes, another Python, a check that does not hold), the agent
# samples from Python as before and says why in its `M` record.

_READER_VERSIONS = ((3, 11), (3, 12), (3, 13))
# Records in the reader's word stream (sampler.rs): a sample, a code object announced, a
# stack announced with its number, every stack number forgotten.
_SAMPLE, _NEW_CODE, _NEW_STACK, _FORGET_STACKS = 1, 2, 3, 4
# PROFBENCH_READER: how the reader reads a chain (pbr_start's mode). `signal` (the default):
# a running thread copies its own chain in a signal handler, the others are copied from
# outside in one read; `copy`: every thread copied from outside; `walk`: frame by frame
# while the thread runs on (the older reader); `off`: no native reader.
_READER_MODES = {"walk": 0, "copy": 1, "signal": 2}


class _ReaderOff(Exception):
    """Why the native reader cannot run in this process (sent in the M record)."""


def _words(data):
    return memoryview(data).cast("B").cast("Q").tolist()


class _Reader:
    def __init__(self, agent):
        if sys.implementation.name != "cpython" or sys.version_info[:2] not in _READER_VERSIONS:
            raise _ReaderOff("frame layout of %s %d.%d not known to the reader" % (
                sys.implementation.name, sys.version_info[0], sys.version_info[1]))
        if "t" in getattr(sys, "abiflags", ""):
            raise _ReaderOff("free-threaded CPython: reference counts are laid out differently")
        mode = os.environ.get("PROFBENCH_READER") or "signal"
        if mode == "off":
            raise _ReaderOff("switched off (PROFBENCH_READER=off)")
        if mode not in _READER_MODES:
            raise _ReaderOff("unknown PROFBENCH_READER=%s (walk, copy, signal or off)" % mode)
        self.mode = mode
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_profbench_reader.so")
        before = set(sys.modules)
        try:
            import ctypes
        except ImportError as exc:
            raise _ReaderOff("no ctypes: %s" % exc)
        finally:
            # Ours, not the target's: a target importing ctypes (numpy does) gets its own
            # fresh module, and sys.modules and import order stay as without the profiler.
            for name in set(sys.modules) - before:
                del sys.modules[name]
        self.agent = agent
        self.ctypes = ctypes
        try:
            lib = ctypes.PyDLL(path)  # PyDLL: calls keep the GIL (and so cannot lose it)
        except OSError as exc:
            raise _ReaderOff("cannot load %s: %s" % (os.path.basename(path), exc))
        u64, vp = ctypes.c_uint64, ctypes.c_void_p
        lib.pbr_read.argtypes = [u64, ctypes.c_char_p, ctypes.c_size_t]
        lib.pbr_start.argtypes = [ctypes.POINTER(u64), ctypes.c_size_t, u64, u64, u64, u64]
        lib.pbr_probe_chain.argtypes = [ctypes.POINTER(u64), ctypes.c_size_t, u64,
                                        ctypes.POINTER(u64), ctypes.c_size_t]
        lib.pbr_probe_chain.restype = ctypes.c_ssize_t
        lib.pbr_stats.restype = ctypes.c_size_t
        lib.pbr_signal.restype = ctypes.c_int
        lib.pbr_exclude.argtypes = [u64]
        lib.pbr_drain.argtypes = [ctypes.POINTER(u64), ctypes.c_size_t]
        lib.pbr_drain.restype = ctypes.c_size_t
        lib.pbr_forget.argtypes = [u64]
        lib.pbr_code_names.argtypes = [u64, ctypes.c_char_p, ctypes.c_size_t]
        lib.pbr_code_names.restype = ctypes.c_ssize_t
        lib.pbr_stats.argtypes = [ctypes.POINTER(u64), ctypes.c_size_t]
        lib.pbr_claim_code.argtypes = [u64, u64, u64, u64]
        lib.pbr_claim_code.restype = ctypes.py_object  # takes over the reference it made
        api = ctypes.pythonapi
        api.PyThreadState_Get.restype = vp
        api.PyInterpreterState_Get.restype = vp
        api.PyInterpreterState_ThreadHead.argtypes = [vp]
        api.PyInterpreterState_ThreadHead.restype = vp
        api.PyThreadState_Next.argtypes = [vp]
        api.PyThreadState_Next.restype = vp
        self.lib = lib
        self.api = api
        self.cap = 1 << 16
        self.buf = (u64 * self.cap)()
        self.names_buf = ctypes.create_string_buffer(9000)
        try:
            self.layout = _probe_layout(ctypes, lib, api)
        except _ReaderOff:
            raise
        except Exception as exc:
            raise _ReaderOff("layout not found: %s" % exc)
        self.by_ptr = {}  # code address -> entry of agent.codes, or None (could not name it)
        self.globals = {}  # id(module dict) -> the dict, for naming C callees
        self.globals_misses = 0
        # stack number -> [frame words or None (the agent's own thread), leaf globals, text,
        # `named_gen` when the text was made]: the reader numbers each distinct stack, so a
        # stack is turned into text (a Python loop over its frames) once, not once a sample.
        self.stacks = {}
        self.named_gen = 0  # bumped when an address is announced again: kept texts are redone
        self.named = set()  # tids given a name (an N record, or none to give)
        self.agent_code = id(Agent.run.__code__)  # the bottom frame of the agent's thread
        self.lock = _thread.allocate_lock()  # the agent's loop and atexit may both drain
        self.lost = None  # the "id:0" item of code that could not be named
        self.handler_lost = False

    def start(self, interval_ns, seed):
        words = (self.ctypes.c_uint64 * len(self.layout))(*self.layout)
        if self.lib.pbr_start(words, len(self.layout), interval_ns, seed, 0,
                              _READER_MODES[self.mode]) != 0:
            raise _ReaderOff("the reader thread did not start")

    def how(self):
        """The reader's mode for the M record."""
        if self.mode != "signal":
            return self.mode
        sig = self.lib.pbr_signal()
        return "signal %d" % sig if sig else "copy (no free real-time signal)"

    def check_handler(self):
        """Says once if the program took our signal over (running threads are then copied
        from outside)."""
        if self.mode == "signal" and not self.handler_lost and self.stats()[7]:
            self.handler_lost = True
            self.agent.buf.append("M\tnative\tcopy (the program installed its own handler for "
                                  "the reader's signal)\n")

    def exclude_me(self):
        """Called by the agent's thread: the reader skips it, and the thread list layout
        (found while this process had one thread) is checked now that it has two."""
        api = self.api
        me = api.PyThreadState_Get()
        head = api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Get())
        nxt = api.PyThreadState_Next(head)
        got = _read_words(self.ctypes, self.lib, head + self.layout[12], 1)
        if got is None or got[0] != (nxt or 0):
            raise _ReaderOff("the thread list is not laid out as probed")
        self.lib.pbr_exclude(me)

    def name_thread(self, tid):
        self.named.add(tid)
        if tid == os.getpid():
            name = "MainThread"
        else:
            threading = sys.modules.get("threading")
            active = getattr(threading, "_active", None) if threading is not None else None
            name = next((t.name for t in list((active or {}).values())
                         if getattr(t, "native_id", None) == tid), None)
        if name is not None:
            self.agent.buf.append("N\t%d\t%s\n" % (tid, _esc(name)))

    def drain(self):
        """Turns the reader's records into C and S lines; returns how many samples, or None
        when another drain held the buffer for 2 s."""
        if not self.lock.acquire(True, 2.0):
            return None
        try:
            return self.drain_locked()
        finally:
            self.lock.release()

    def drain_locked(self):
        count = 0
        for _ in range(16):  # a full buffer means more is waiting: drain again, boundedly
            n = self.lib.pbr_drain(self.buf, self.cap)
            if n:
                raw = memoryview(self.buf).cast("B")[:8 * n]
                count += self.records(raw.cast("Q").tolist(), raw)
            if n < self.cap // 2:
                break
        return count

    def records(self, w, raw):
        """Turns the reader's words `w` (`raw`: the same as bytes) into records for the
        collector; how many samples."""
        n = len(w)
        count = 0
        i = 0
        stacks = self.stacks
        buf = self.agent.buf
        while i < n:
            head = w[i]
            kind = head & 0xFF
            if kind == _SAMPLE:
                tid, t, cpu, number = w[i + 1], w[i + 2], w[i + 3], w[i + 4]
                i += 5
                entry = stacks.get(number)
                if entry is None or entry[0] is None:
                    continue  # the agent's own thread, before it asked the reader to skip it
                if tid not in self.named:
                    self.name_thread(tid)
                stack = entry[2] if entry[3] == self.named_gen else self.stack_of(entry)
                buf.append("S\t%d\t%d\t%d\t%s\n" % (tid, t, cpu, stack))
                count += 1
            elif kind == _NEW_STACK:
                k = 2 * (head >> 8)
                own = w[i + 1 + k] == self.agent_code  # the root frame's code
                # Kept as bytes (8 a word, not a Python int each): read back as words.
                frames = memoryview(raw[8 * (i + 3):8 * (i + 3 + k)].tobytes()).cast("Q")
                stacks[w[i + 1]] = [None if own else frames, w[i + 2], None, -1]
                i += 3 + k
            elif kind == _NEW_CODE:
                self.announce(w[i + 1], w[i + 2], w[i + 3])
                i += 4
            elif kind == _FORGET_STACKS:
                stacks.clear()
                i += 1
            else:
                raise ValueError("unknown record %#x from the reader" % head)
        return count

    def stack_of(self, entry):
        """A numbered stack's text, kept once final."""
        text, whole = self.stack_text(entry[0], entry[1])
        if whole:
            entry[2], entry[3] = text, self.named_gen
        return text

    def announce(self, ptr, name, file):
        if ptr in self.by_ptr:
            self.named_gen += 1  # a kept text may have named the code this address held
        e = self.agent.codes.get(ptr)
        if e is not None:
            self.by_ptr[ptr] = e  # ours already: we hold it, so the address is still it
            return
        co = self.lib.pbr_claim_code(ptr, name, file, id(None))
        if co is not None:
            self.by_ptr[ptr] = self.agent.code_id(co)
            return
        # Gone (or reused) before we could take it: a module's top-level code whose import
        # ended meanwhile, say. Named from what the reader copied when it first saw it.
        n = self.lib.pbr_code_names(ptr, self.names_buf, len(self.names_buf))
        self.lib.pbr_forget(ptr)  # if the address comes back as another code, say so
        parts = self.names_buf.raw[:n].decode("utf-8", "replace").split("\0") if n >= 0 else ()
        if len(parts) != 3 or not parts[2].isdigit():
            self.by_ptr[ptr] = None  # none kept, or not whole (read as the object went away)
            return
        qualname, file, first = parts
        cid = self.agent.new_code_id()
        self.agent.buf.append("C\t%s\t%s\t%s\t%s\n" % (cid, _esc(file), _esc(qualname), first))
        # No code object: its lines cannot be read, so every sample gets its first line.
        self.by_ptr[ptr] = (cid, None, _Always("%s:%s" % (cid, first)), _Always(""))

    def stack_text(self, frames, g):
        """The stack's text, and whether it is final (every frame named, the leaf's C callee
        looked up): only a final text may be kept for the next sample of the same stack."""
        agent = self.agent
        parts = []
        whole = True
        for j in range(0, len(frames), 2):
            ptr, lasti = frames[j], frames[j + 1]
            e = self.by_ptr.get(ptr)
            if e is None:
                parts.append(self.unknown())
                whole = False
                continue
            by_lasti = e[2]
            item = by_lasti.get(lasti)
            if item is None:
                item = by_lasti[lasti] = "%s:%d" % (e[0], _line_at(e[1], lasti))
            if j == 0:
                native = e[3].get(lasti)
                if native is None:
                    view = self.frame_view(e[1], g)
                    native = agent.native_callee(view, lasti) if view is not None else ""
                    if view is not None:
                        e[3][lasti] = native
                    else:
                        whole = False  # its module's globals may be found later
                if native:
                    parts.append(native)
            parts.append(item)
        return " ".join(parts), whole

    def unknown(self):
        """The frame of a code object that was gone before the agent could name it."""
        if self.lost is None:
            cid = self.agent.new_code_id()
            self.lost = "%s:0" % cid
            self.agent.buf.append("C\t%s\t<unknown>\t<code freed before it was named>\t0\n" % cid)
        return self.lost

    def frame_view(self, co, g):
        d = self.globals.get(g)
        if d is None and self.globals_misses < 64:
            self.globals_misses += 1  # a module imported since: look again, a few times
            for m in list(sys.modules.values()):
                md = getattr(m, "__dict__", None)
                if type(md) is dict:
                    self.globals[id(md)] = md
            d = self.globals.get(g)
        if d is None:
            return None
        return _FrameView(co, d)

    def stats(self):
        """ticks, missed, samples, dropped rounds, torn chains, answered and unanswered
        signals, handler replaced (see pbr_stats)."""
        v = (self.ctypes.c_uint64 * 8)()
        self.lib.pbr_stats(v, 8)
        return list(v)

    def stop(self):
        self.lib.pbr_stop()


class _Always(dict):
    """{lasti: item} of a code known only by name: the same item at every offset."""

    def __init__(self, item):
        dict.__init__(self)
        self.item = item

    def get(self, key, default=None):
        return self.item


class _FrameView:
    """What _callee reads of a frame, for a frame the reader saw."""

    __slots__ = ("f_code", "f_globals", "f_builtins")

    def __init__(self, co, g):
        self.f_code = co
        self.f_globals = g
        b = g.get("__builtins__")
        self.f_builtins = b if type(b) is dict else getattr(b, "__dict__", {})


def _line_at(co, lasti):
    """The line of the instruction at byte offset `lasti` (what frame.f_lineno gives)."""
    for start, end, line in co.co_lines():
        if start <= lasti < end:
            return line or 0
    return 0


def _read_bytes(ctypes, lib, addr, n):
    """n bytes at addr, or b"" if unmapped: a wrong guess must not crash the target."""
    raw = ctypes.create_string_buffer(n)
    return raw.raw if addr and lib.pbr_read(addr, raw, n) == 0 else b""


def _read_words(ctypes, lib, addr, n):
    """n words at addr, or None if unmapped."""
    raw = _read_bytes(ctypes, lib, addr, 8 * n)
    return _words(raw) if raw else None


def _interp_frame(ctypes, lib, f):
    """Address of the interpreter frame behind frame object `f` (PyFrameObject.f_frame)."""
    code = id(f.f_code)
    for p in _read_words(ctypes, lib, id(f), 8)[2:]:
        if p and p % 8 == 0 and code in (_read_words(ctypes, lib, p, 12) or ()):
            return p
    raise _ReaderOff("no interpreter frame found in a frame object")


def _probe_layout(ctypes, lib, api):
    """The reader's layout words, found on live objects and checked on our own stack."""
    return _probe_inner(ctypes, lib, api, 3)


def _probe_inner(ctypes, lib, api, depth):
    if depth:
        return _probe_inner(ctypes, lib, api, depth - 1)  # a few frames to check the walk on
    f = sys._getframe()
    caller = f.f_back
    here = _interp_frame(ctypes, lib, f)
    up = _interp_frame(ctypes, lib, caller)
    co = caller.f_code
    block = _read_words(ctypes, lib, up, 12)
    frame_code = block.index(id(co)) * 8
    frame_globals = block.index(id(caller.f_globals)) * 8
    frame_previous = block.index(_interp_frame(ctypes, lib, caller.f_back)) * 8
    bytecode = type(co).__basicsize__  # tp_basicsize is offsetof(co_code_adaptive)
    instr = [k for k, v in enumerate(block) if v == id(co) + bytecode + caller.f_lasti]
    if not instr:
        raise _ReaderOff("no instruction pointer found in a frame")
    frame_instr = instr[0] * 8
    cw = _read_words(ctypes, lib, id(co), bytecode // 8)
    code_name = cw.index(id(co.co_name)) * 8
    code_file = cw.index(id(co.co_filename)) * 8
    # The thread state points at the current frame, or at a _PyCFrame that does. (Read from
    # this function: lib calls push no Python frame, so the current frame is `here`.)
    # Every read below is a direct lib call for that reason (a helper would be the frame).
    tstate = api.PyThreadState_Get()
    raw = ctypes.create_string_buffer(1024)
    if lib.pbr_read(tstate, raw, 1024) != 0:
        raise _ReaderOff("the thread state could not be read")
    tw = _words(raw.raw)
    tstate_frame = cframe_frame = None
    small = ctypes.create_string_buffer(32)
    for k, p in enumerate(tw):
        if p == here:
            tstate_frame, cframe_frame = 8 * k, (1 << 64) - 1
            break
        if k > 1 and p and p % 8 == 0 and lib.pbr_read(p, small, 32) == 0:
            cw4 = _words(small.raw)
            if here in cw4:
                tstate_frame, cframe_frame = 8 * k, cw4.index(here) * 8
                break
    if tstate_frame is None:
        raise _ReaderOff("no current frame found in the thread state")
    tid_at = tw.index(_thread.get_native_id()) * 8
    # The thread list: the interpreter's head is this thread (the only one yet); a thread
    # state starts with prev, next, interp (checked again once the agent's thread exists).
    interp = api.PyInterpreterState_Get()
    iw = _read_words(ctypes, lib, interp, 2048)  # 3.13 has 5 KB of eval state before it
    threads_head = interp + iw.index(tstate) * 8
    tstate_next = tw.index(interp) * 8 - 8
    if tstate_next < 8 or tw[tstate_next // 8] != 0:
        raise _ReaderOff("no thread list found in the thread state")
    layout = [tstate_frame, cframe_frame, frame_code, frame_previous, frame_instr,
              frame_globals, bytecode, code_name, code_file, id(type(co)), 0,
              threads_head, tstate_next, tid_at] + _probe_names(ctypes, lib, bytecode) \
        + _probe_datastack(ctypes, lib, tw, here)
    layout[10] = _check_walk(ctypes, lib, layout, here, f)
    # The copy the reader makes of this very chain (a direct lib call: `here` stays the leaf).
    words = (ctypes.c_uint64 * len(layout))(*layout)
    got = (ctypes.c_uint64 * 2048)()
    n = lib.pbr_probe_chain(words, len(layout), tstate, got, 2048)
    _check_copy(list(got)[:max(n, 0)], f, layout[10])
    return layout


def _probe_datastack(ctypes, lib, tw, here):
    """Where the thread state keeps its data-stack chunk, the chunk's first free word and
    its end: three words with chunk <= here < top <= limit, limit - chunk a whole number of
    pages, top just above our own frame; of such ranges, the narrowest (other pointers
    around ours, into the heap, can enclose it too). The copy check proves the choice."""
    found = []
    for k, chunk in enumerate(tw):
        if not chunk or chunk % 8 or chunk > here:
            continue
        for j, limit in enumerate(tw):
            size = limit - chunk
            if j == k or size <= 0 or size % 4096 or size > 1 << 30 or limit <= here:
                continue
            tops = [(v, t) for t, v in enumerate(tw)
                    if t not in (j, k) and here < v <= limit and v - here < 1 << 16]
            if tops:
                found.append((size, k, min(tops)[1], j))
    found.sort()
    if not found or len(found) > 1 and found[0][0] == found[1][0]:
        raise _ReaderOff("no single data stack found in the thread state (%d)" % len(found))
    return [8 * i for i in found[0][1:]]


def _check_copy(got, f, hidden_code):
    """The reader's copy of our chain must be Python's chain (codes, and offsets but the
    leaf's, which moves as we run)."""
    want = []
    g = f
    while g is not None:
        if id(g.f_code) != hidden_code:
            want.append((id(g.f_code), g.f_lasti))
        g = g.f_back
    pairs = list(zip(got[0::2], got[1::2]))
    if [c for c, _ in pairs] != [c for c, _ in want]:
        raise _ReaderOff("the copied frame chain (%d frames) differs from Python's (%d)" % (
            len(pairs), len(want)))
    if pairs[1:] != want[1:]:
        raise _ReaderOff("instruction offsets in the copied chain differ from Python's")


def _probe_names(ctypes, lib, bytecode):
    """Where a code object keeps co_qualname and co_firstlineno, and a str its characters."""
    co = _Rng.uniform.__code__  # a method: its qualname is not its name
    cw = _read_words(ctypes, lib, id(co), bytecode // 8)
    qualname = cw.index(id(co.co_qualname)) * 8
    other = _probe_names.__code__
    raw, raw2 = _read_bytes(ctypes, lib, id(co), bytecode), _read_bytes(ctypes, lib, id(other), bytecode)
    first = [k for k in range(0, bytecode - 3, 4)
             if int.from_bytes(raw[k:k + 4], sys.byteorder) == co.co_firstlineno
             and int.from_bytes(raw2[k:k + 4], sys.byteorder) == other.co_firstlineno]
    ascii_text, wide_text = "profbench_ascii_probe", "profbench_\xe9_probe"
    at = []
    for text, encoding, ascii_bit in ((ascii_text, "ascii", 0x40), (wide_text, "latin-1", 0)):
        obj = _read_bytes(ctypes, lib, id(text), 40) + _read_bytes(ctypes, lib, id(text) + 40, 60)
        if int.from_bytes(obj[16:24], sys.byteorder) != len(text) or obj[32] & 0x60 != 0x20 | ascii_bit:
            raise _ReaderOff("str objects are not laid out as the reader expects")
        at.append(obj.find(text.encode(encoding)))
    if not first or min(at) < 0:
        raise _ReaderOff("code or str fields not found")
    return [qualname, first[0], at[0], at[1]]


def _check_walk(ctypes, lib, layout, here, f):
    """Walks our own chain as the reader will and compares it with Python's; returns the
    code object Python hides from its chain (3.12's trampoline), or 0."""
    want = []
    g = f
    while g is not None:
        want.append((id(g.f_code), g.f_lasti if g is not f else None))
        g = g.f_back
    got = []
    p = here
    while p and len(got) < 1000:
        w = _read_words(ctypes, lib, p, 12)
        if w is None:
            raise _ReaderOff("an interpreter frame could not be read")
        code = w[layout[2] // 8]
        got.append((code, w[layout[4] // 8] - code - layout[6]))
        p = w[layout[3] // 8]
    wanted_codes = set(c for c, _ in want)
    hidden = set(c for c, _ in got if c not in wanted_codes)
    if len(hidden) > 1:
        raise _ReaderOff("the frame chain read holds %d codes Python does not show" % len(hidden))
    hidden_code = hidden.pop() if hidden else 0
    got = [x for x in got if x[0] != hidden_code]
    if [c for c, _ in got] != [c for c, _ in want]:
        raise _ReaderOff("the frame chain read (%d frames) differs from Python's (%d)" % (
            len(got), len(want)))
    for (_, a), (_, b) in zip(got[1:], want[1:]):
        if a != b:
            raise _ReaderOff("instruction offsets read differ from Python's")
    return hidden_code


# -- naming the C function a frame is calling ----------------------------------------------
#
# The leaf Python frame of a thread that runs C code stands on the call instruction. Walking
# the bytecode back from it with the stack effects of `opcode` finds the instruction that
# loaded the callable; a global (`sum`, `np`) or a chain of module attributes (`np.random.rand`)
# is then looked up statically: dict lookups only, no attribute access that could run the
# target's Python code. Callables held in local variables or returned by calls stay unnamed.
# `opcode` is used only if the target has loaded it (numpy, inspect, dataclasses, ray all do):
# importing it here would change the target's modules.

_CALL_EXTRA = {"CALL": 0, "CALL_FUNCTION": 0, "CALL_METHOD": 0, "CALL_FUNCTION_KW": 1, "CALL_KW": 1}
_NATIVE_TYPE_NAMES = {"builtin_function_or_method", "method_descriptor", "wrapper_descriptor",
                      "classmethod_descriptor", "method-wrapper", "ufunc", "type",
                      "cython_function_or_method", "fused_cython_function",
                      "_ArrayFunctionDispatcher"}
_ModuleType = type(sys)
_instructions_cache = {}  # id(code) -> (code, [(offset, op, arg)])


def _instructions(co, opcode):
    hit = _instructions_cache.get(id(co))
    if hit is not None and hit[0] is co:
        return hit[1]
    raw = co.co_code
    cache_op = opcode.opmap.get("CACHE", -1)
    ext_op = opcode.EXTENDED_ARG
    out = []
    ext = 0
    for i in range(0, len(raw) - 1, 2):
        op, arg = raw[i], raw[i + 1] | ext
        if op == ext_op:
            ext = arg << 8
            continue
        ext = 0
        if op != cache_op:
            out.append((i, op, arg))
    if len(_instructions_cache) > 4096:
        _instructions_cache.clear()
    _instructions_cache[id(co)] = (co, out)
    return out


def _callee(frame, lasti):
    opcode = sys.modules.get("opcode")
    if opcode is None or lasti < 0:
        return None
    co = frame.f_code
    ins = _instructions(co, opcode)
    at = next((k for k, x in enumerate(ins) if x[0] == lasti), None)
    if at is None:
        return None
    names = opcode.opname
    call = names[ins[at][1]]
    if call == "CALL_FUNCTION_EX":
        above = 1 + (ins[at][2] & 1)
    elif call in _CALL_EXTRA:
        above = ins[at][2] + _CALL_EXTRA[call]
    else:
        return None
    # Walk back to the instruction that wrote the callable's slot, `above` items below the
    # top: an instruction pushing `push` items wrote the slot if it is among them, else the
    # slot was `pops` deeper before it (pops = push - net effect).
    k = at - 1
    if k >= 0 and names[ins[k][1]] == "PRECALL":
        k -= 1  # 3.11 splits a call's stack effect over PRECALL and CALL
    slot = above
    have_arg = opcode.HAVE_ARGUMENT
    while k >= 0 and at - k < 64:
        _, op, arg = ins[k]
        name = names[op]
        if "JUMP" in name or name in ("FOR_ITER", "RETURN_VALUE", "SEND"):
            return None  # control flow inside the arguments: give up rather than guess
        net = opcode.stack_effect(op, arg if op >= have_arg else None)
        push = _pushes(name, arg, net)
        if slot < push:
            return _native_name(_static_value(frame, ins, k, names, 0))
        slot += (push - net) - push
        k -= 1
    return None


def _pushes(name, arg, net):
    """Items an instruction pushes (stack_effect only gives the net change)."""
    if name == "LOAD_METHOD" or (name == "LOAD_GLOBAL" and sys.version_info >= (3, 11) and arg & 1) \
            or (name == "LOAD_ATTR" and sys.version_info >= (3, 12) and arg & 1):
        return 2  # the callable and NULL/self
    if name in _NO_PUSH or name.startswith(("STORE_", "DELETE_", "POP_")):
        return 0
    return 1 if net >= 0 or name.startswith(("CALL", "BINARY", "BUILD", "COMPARE", "CONTAINS",
                                             "IS_OP", "LIST", "FORMAT", "UNPACK")) else 0


_NO_PUSH = {"PRECALL", "KW_NAMES", "NOP", "RESUME", "CACHE", "PRINT_EXPR"}


_MISSING = object()


def _static_value(frame, ins, k, names, depth):
    """The object instruction k loads, found by dict lookups only; None if unknown."""
    if depth > 4 or k < 0:
        return None
    _, op, arg = ins[k]
    name = names[op]
    co_names = frame.f_code.co_names
    new_layout = sys.version_info >= (3, 11)
    if name in ("LOAD_GLOBAL", "LOAD_NAME"):
        index = arg >> 1 if name == "LOAD_GLOBAL" and new_layout else arg
        if index >= len(co_names):
            return None
        key = co_names[index]
        value = frame.f_globals.get(key, _MISSING)
        if value is _MISSING:
            builtins = frame.f_builtins
            value = builtins.get(key) if type(builtins) is dict else None
        return value
    if name in ("LOAD_ATTR", "LOAD_METHOD"):
        index = arg >> 1 if name == "LOAD_ATTR" and sys.version_info >= (3, 12) else arg
        if index >= len(co_names):
            return None
        owner = _static_value(frame, ins, k - 1, names, depth + 1)
        if type(owner) is _ModuleType:
            return owner.__dict__.get(co_names[index])
        if type(owner) is type:
            for klass in owner.__mro__:
                value = klass.__dict__.get(co_names[index], _MISSING)
                if value is not _MISSING:
                    return value
        return None
    return None


def _native_name(c):
    """`module.qualname` of a C-implemented callable; None for Python code or the unknown."""
    if type(c).__name__ == "method":  # bound: Cython methods are wrapped like Python ones
        c = getattr(c, "__func__", None)
    if c is None or type(c).__name__ not in _NATIVE_TYPE_NAMES:
        return None
    name = getattr(c, "__qualname__", None)
    if not isinstance(name, str) or name == type(c).__qualname__ and type(c) is not type:
        name = getattr(c, "__name__", None)  # an instance showing its type's qualname
    if not isinstance(name, str):
        return None
    module = getattr(c, "__module__", None)
    if not isinstance(module, str):
        owner = getattr(c, "__self__", None)
        if type(owner) is _ModuleType:
            module = owner.__name__
        elif owner is not None:
            module = type(owner).__module__
        else:
            module = getattr(getattr(c, "__objclass__", None), "__module__", None)
    return "%s.%s" % (module, name) if isinstance(module, str) and module else name


def _timed(agent, fn, category, name):
    def timed(*args, **kwargs):
        start = _mono()
        try:
            return fn(*args, **kwargs)
        finally:
            agent.span(start, _mono(), category, name)
    timed.__wrapped__ = fn
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        try:
            setattr(timed, attr, getattr(fn, attr))
        except (AttributeError, TypeError):
            pass
    return timed


def _patch_ray(agent):
    """Exact task spans and serialization/object-store spans in Ray processes.

    Wraps Ray's own entry points at class level; anything unexpected (another Ray version)
    leaves Ray untouched and the spans are then derived from samples by the collector."""
    # Never import from this thread: the main thread may be half way through importing Ray,
    # and module locks taken from here could deadlock it. Wait until all are fully loaded.
    mods = []
    for name in ("inspect", "ray._private.function_manager", "ray._private.serialization",
                 "ray._private.worker"):
        mod = sys.modules.get(name)
        spec = getattr(mod, "__spec__", None)
        if mod is None or getattr(spec, "_initializing", False):
            return False
        mods.append(mod)
    inspect, function_manager, serialization, worker = mods
    try:
        original = function_manager.FunctionActorManager.get_execution_info
        cache = {}

        def get_execution_info(self, job_id, function_descriptor):
            info = original(self, job_id, function_descriptor)
            try:
                if function_descriptor.is_actor_method():
                    return info
                fn = info.function
                key = id(fn)
                hit = cache.get(key)
                if hit is not None and hit[0] is fn:
                    return hit[1]
                if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn) \
                        or inspect.isasyncgenfunction(fn):
                    return info
                wrapped = info._replace(function=_timed(agent, fn, "task", info.function_name))
                cache[key] = (fn, wrapped)
                return wrapped
            except BaseException:
                return info

        function_manager.FunctionActorManager.get_execution_info = get_execution_info
    except BaseException:
        pass
    for cls, method, category in (
        (getattr(serialization, "SerializationContext", None), "serialize", "serialization"),
        (getattr(serialization, "SerializationContext", None), "deserialize_objects", "serialization"),
        (getattr(worker, "Worker", None), "get_objects", "object_store"),
        (getattr(worker, "Worker", None), "put_object", "object_store"),
    ):
        try:
            fn = getattr(cls, method)
            setattr(cls, method, _timed(agent, fn, category, method))
        except BaseException:
            pass
    return True


def ray_runtime_env_hook(runtime_env):
    """Ray's RAY_RUNTIME_ENV_HOOK, called by ray.init in the driver (set by the collector).

    Workers that a raylet of this job started inherit the driver's environment, agent
    included. Workers of a cluster started elsewhere (`ray start`, other nodes) do not: the
    job's runtime env gives them the driver's PYTHONPATH (the agent's folder first) and the
    collector's socket. A node that cannot reach the folder or the socket simply runs
    unprofiled. A user's own hook, if any, runs first (PROFBENCH_RAY_HOOK_CHAIN)."""
    chained = os.environ.get("PROFBENCH_RAY_HOOK_CHAIN")
    if chained:
        module, _, name = chained.rpartition(".")
        runtime_env = getattr(__import__(module, fromlist=[name]), name)(runtime_env)
    sock = os.environ.get("PROFBENCH_SOCK")
    pythonpath = os.environ.get("PYTHONPATH")
    # A job runtime env costs a fresh worker per task (Ray's prestarted workers have none):
    # 4 s of 25 on the ray workload. Only a cluster started elsewhere needs it.
    if not sock or not pythonpath or not _joins_existing_cluster():
        return runtime_env
    try:
        env = runtime_env if runtime_env is not None else {}
        env_vars = dict(env.get("env_vars") or {})
        theirs = env_vars.get("PYTHONPATH")
        env_vars["PYTHONPATH"] = pythonpath + (os.pathsep + theirs if theirs else "")
        env_vars.setdefault("PROFBENCH_SOCK", sock)
        if os.environ.get("PROFBENCH_READER"):
            env_vars.setdefault("PROFBENCH_READER", os.environ["PROFBENCH_READER"])
        env["env_vars"] = env_vars
        return env
    except Exception:
        return runtime_env  # an unexpected runtime env type: leave it as the user made it


def _joins_existing_cluster():
    """Whether the ray.init calling the hook will connect to a running cluster rather than
    start its own (whose raylet inherits the agent). Decided as ray.init decides it, with
    Ray's own function and ray.init's own arguments; when unsure, no."""
    try:
        f = sys._getframe(1)
        suffix = os.path.join("ray", "_private", "worker.py")
        while f is not None and not (f.f_code.co_name == "init"
                                     and f.f_code.co_filename.endswith(suffix)):
            f = f.f_back
        services = sys.modules.get("ray._private.services")
        if f is None or services is None:
            return False
        args = f.f_locals
        address = args.get("address")
        return services.canonicalize_bootstrap_address(address, args.get("_temp_dir")) is not None
    except Exception:
        return False


def start():
    global _agent
    path = os.environ.get("PROFBENCH_SOCK")
    if not path or _agent is not None:
        return
    agent = Agent(path)
    agent.main_ident = _thread.get_ident()
    try:
        agent.begin()
    except BaseException:
        return  # no collector to report to: stay out of the way
    if not agent.on:
        return  # the collector does not want this process (nor its forks)
    _agent = agent
    import atexit
    atexit.register(agent.finish)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork)
    # multiprocessing's forked children leave through os._exit, which skips atexit.
    real_exit = os._exit

    def _exit(code):
        try:
            agent.finish()
        except BaseException:
            pass
        real_exit(code)

    _exit.__doc__ = real_exit.__doc__
    os._exit = _exit


def _after_fork():
    try:
        if _agent is not None:
            _agent.after_fork_in_child()
    except BaseException:
        pass
