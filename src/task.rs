//! A task: one call from a Lua coroutine to a runtime, and its life cycle.
//!
//! ```text
//!   worker: post ──► QUEUED ──runtime: task_poll──► TAKEN ──runtime: respond──► DONE ──► worker
//! ```
//!
//! Tasks live in slots of a process-wide slab that is never freed, and are handed out (to
//! runtimes and to Lua) as *handles*: slot index plus generation, encoded as an address in a
//! range the module reserved (see `handle_space`), so that no runtime mistakes a handle for
//! a bad pointer. Freeing a task bumps its
//! slot's generation, so a handle that outlived its task (a runtime answering twice, or late)
//! is recognized and refused instead of touching someone else's call; and a slot, with its
//! request buffer, is reused by the next call without allocating.
//!
//! The shared part (`tag`, the request bytes, the response) crosses threads; the
//! [`WaiterSide`] is touched only by the nginx worker thread.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int, c_void};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};

use crossbeam_utils::CachePadded;
use std::sync::Mutex;

use crate::handle_space::{self, INDEX_BITS};
use crate::lua_sema::Sema;
use crate::queue::RequestQueue;
use crate::stream::Stream;
use std::sync::Arc;

#[cfg(not(target_pointer_width = "64"))]
compile_error!("task handles need 64-bit pointers");

const FREE: u64 = 0;
const QUEUED: u64 = 1;
const TAKEN: u64 = 2;
const DONE: u64 = 3;
const STATE_BITS: u32 = 2;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;

/// `direct`: the answer goes through the done-queue; the worker watches the slot for it; it
/// is in the slot (and not in the done-queue).
const UNWATCHED: u8 = 0;
const WATCHED: u8 = 1;
const ANSWERED_DIRECTLY: u8 = 2;

/// Slots per chunk, and the most chunks: 1 Mi calls in flight per process at most (the
/// slot index fills the low `INDEX_BITS` of a handle).
const CHUNK: usize = 1024;
const MAX_CHUNKS: usize = (1 << INDEX_BITS) / CHUNK;
/// A request buffer larger than this is not kept for reuse.
const KEEP_REQUEST_CAPACITY: usize = 64 * 1024;
/// Nor an answer buffer (`respond_copy`) larger than this.
const KEEP_ANSWER_CAPACITY: usize = 16 * 1024;

/// What the runtime answered. `data` was malloc()ed by the runtime and the module frees it;
/// or, `copied`, it points into the slot's own answer buffer (`respond_copy`).
struct Response {
    rc: c_int,
    data: *mut c_char,
    len: usize,
    copied: bool,
}

pub use crate::waiter::Waiter;

/// Worker-thread-only bookkeeping of a task.
pub struct WaiterSide {
    pub waiter: Waiter,
    pub sem: *mut Sema,
    /// The request's task list this task is linked in (null: none).
    pub owner: *mut crate::request_tasks::RequestTasks,
    pub prev: Option<TaskPtr>,
    pub next: Option<TaskPtr>,
    /// The answer comes as a stream (the slot has a `Stream`).
    pub is_stream: bool,
    /// A stream's reader waits on `sem` for the next chunk (or the end).
    pub reader_waiting: bool,
    /// The chunk last handed to the stream's reader (valid until it asks for the next).
    pub chunk: Vec<u8>,
    /// The request is lent (a Lua string's own bytes) and Lua anchors that string until it
    /// hears the task was freed (see `lent`); false once Lua let go of it itself.
    pub anchored: bool,
}

/// One slot of the slab. Laid out by who writes what, so that the two threads of a call do
/// not pull each other's cache lines away: the flag the waiting worker polls; what the worker
/// writes when it posts and the runtime reads; what the runtime writes when it takes and
/// answers; what only the worker touches.
#[repr(C)]
pub struct Slot {
    /// Whether the worker takes the answer straight from the slot (see `watch`). On a cache
    /// line of its own: the waiting worker polls it, and the responder's writes to the other
    /// fields (the answer, the state, the stamps) must not pull that line away each time.
    direct: CachePadded<AtomicU8>,
    /// generation << STATE_BITS | state
    tag: AtomicU64,
    /// The request bytes followed by one NUL byte (runtimes may read it as a C string).
    request: UnsafeCell<Vec<u8>>,
    /// A lent request instead: the start and length of bytes the module does not own (a Lua
    /// string's, NUL-terminated, kept alive by its lender until the task is freed); null: the
    /// request is the copy in `request`.
    lent: UnsafeCell<(*const u8, usize)>,
    /// The queue the task was posted to (queues are never freed): where its cancellation is
    /// announced, and for an `unpin` runtime, whose library the threads that touch it use.
    queue: AtomicPtr<RequestQueue>,
    /// When the caller stops waiting: CLOCK_MONOTONIC in ns; 0: never.
    deadline_ns: AtomicU64,
    /// When it was posted, taken by a runtime thread, answered (CLOCK_MONOTONIC ns; 0: not
    /// stamped, telemetry off), for `telemetry`.
    posted_ns: AtomicU64,
    /// The caller gave up on the answer (timeout, request gone, worker exiting).
    cancelled: AtomicBool,
    /// (Starts the runtime's part on a line of its own.)
    _runtime_part: CachePadded<()>,
    response: UnsafeCell<Response>,
    /// The copy of an answer given with `respond_copy`, reused by the slot's next calls.
    answer: UnsafeCell<Vec<u8>>,
    taken_ns: AtomicU64,
    answered_ns: AtomicU64,
    /// (Starts the worker's part on a line of its own.)
    _worker_part: CachePadded<()>,
    side: UnsafeCell<WaiterSide>,
    /// The chunks of a stream call's answer (None for a plain call).
    stream: Mutex<Option<Arc<Stream>>>,
}

// SAFETY: the fields behind UnsafeCell have one owner at a time, handed over through the
// queues and the `tag` atomic (see the module doc).
unsafe impl Sync for Slot {}

impl Slot {
    fn new() -> Self {
        Slot {
            _runtime_part: CachePadded::new(()),
            _worker_part: CachePadded::new(()),
            tag: AtomicU64::new(FREE),
            request: UnsafeCell::new(Vec::new()),
            lent: UnsafeCell::new((ptr::null(), 0)),
            response: UnsafeCell::new(Response {
                rc: 0,
                data: ptr::null_mut(),
                len: 0,
                copied: false,
            }),
            answer: UnsafeCell::new(Vec::new()),
            side: UnsafeCell::new(WaiterSide {
                waiter: Waiter::Gone,
                sem: ptr::null_mut(),
                owner: ptr::null_mut(),
                prev: None,
                next: None,
                is_stream: false,
                reader_waiting: false,
                chunk: Vec::new(),
                anchored: false,
            }),
            queue: AtomicPtr::new(ptr::null_mut()),
            cancelled: AtomicBool::new(false),
            direct: CachePadded::new(AtomicU8::new(UNWATCHED)),
            deadline_ns: AtomicU64::new(0),
            posted_ns: AtomicU64::new(0),
            taken_ns: AtomicU64::new(0),
            answered_ns: AtomicU64::new(0),
            stream: Mutex::new(None),
        }
    }
}

struct Slab {
    chunks: [AtomicPtr<Slot>; MAX_CHUNKS],
    /// Free slot indices, and how many slots exist.
    free: Mutex<(Vec<u32>, usize)>,
}

static SLAB: Slab = Slab {
    chunks: [const { AtomicPtr::new(ptr::null_mut()) }; MAX_CHUNKS],
    free: Mutex::new((Vec::new(), 0)),
};

fn slot_at(index: usize) -> Option<&'static Slot> {
    let chunk = SLAB.chunks.get(index / CHUNK)?.load(Ordering::Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: a published chunk holds CHUNK slots and is never freed.
    Some(unsafe { &*chunk.add(index % CHUNK) })
}

/// A free slot index, growing the slab by one chunk when needed.
fn take_index() -> Option<usize> {
    let mut free = SLAB.free.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = free.0.pop() {
        return Some(i as usize);
    }
    let base = free.1;
    let chunk_no = base / CHUNK;
    if chunk_no >= MAX_CHUNKS {
        return None;
    }
    let chunk: Box<[Slot]> = (0..CHUNK).map(|_| Slot::new()).collect();
    let p = Box::leak(chunk).as_mut_ptr();
    SLAB.chunks[chunk_no].store(p, Ordering::Release);
    free.1 = base + CHUNK;
    free.0.extend((base as u32 + 1..(base + CHUNK) as u32).rev());
    Some(base)
}

/// Every task allocated and not yet freed in this process (at most one worker's).
pub fn for_each_live(mut each: impl FnMut(TaskPtr)) {
    let slots = SLAB.free.lock().unwrap_or_else(|e| e.into_inner()).1;
    for index in 0..slots {
        let Some(slot) = slot_at(index) else { break };
        let live = slot.tag.load(Ordering::Acquire);
        if live & STATE_MASK == FREE {
            continue;
        }
        // Only the worker thread frees tasks, so this generation stays while `each` runs.
        each(TaskPtr {
            slot: NonNull::from(slot),
            index: index as u32,
            generation: (live >> STATE_BITS) as u32,
        });
    }
}

fn give_back(index: usize) {
    SLAB.free
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .push(index as u32);
}

/// A task as the module holds it: its slot and the generation it was handed out with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TaskPtr {
    slot: NonNull<Slot>,
    index: u32,
    generation: u32,
}

// SAFETY: a TaskPtr is passed from thread to thread through the queues, which synchronize;
// slots are never freed.
unsafe impl Send for TaskPtr {}

/// The runtime answered a task that was not waiting for an answer.
#[derive(Debug)]
pub struct NotTaken;

/// Why no task was made.
#[derive(Debug, PartialEq, Eq)]
pub enum NoTask {
    /// The task system is out of slots (1 Mi calls in flight), or has no handle range.
    SlabFull,
    /// No memory for the copy of the request.
    NoMemory,
}

/// A task's request bytes: copied into the slot, or lent.
#[derive(Clone, Copy)]
pub enum Request<'a> {
    /// Copied into the slot's reused buffer (plus a NUL byte).
    Copy(&'a [u8]),
    /// Lent: `len` bytes at `ptr`, followed by a NUL byte, not moved, not written and not
    /// freed by their owner until the task is freed (see `lent`).
    Lent { ptr: *const u8, len: usize },
}

impl TaskPtr {
    /// A new QUEUED task holding `req` (a copy, or lent bytes), for `queue`; `deadline_ns`: when its caller
    /// stops waiting (CLOCK_MONOTONIC), 0 for never; `now_ns`: the time of the post (0: not
    /// stamped).
    pub fn new(
        req: &[u8],
        sem: *mut Sema,
        queue: &RequestQueue,
        deadline_ns: u64,
        now_ns: u64,
    ) -> Result<TaskPtr, NoTask> {
        Self::with_request(Request::Copy(req), sem, queue, deadline_ns, now_ns)
    }

    /// As [`TaskPtr::new`], with the request copied or lent.
    pub fn with_request(
        req: Request<'_>,
        sem: *mut Sema,
        queue: &RequestQueue,
        deadline_ns: u64,
        now_ns: u64,
    ) -> Result<TaskPtr, NoTask> {
        handle_space::get().map_err(|_| NoTask::SlabFull)?;
        let index = take_index().ok_or(NoTask::SlabFull)?;
        let slot = slot_at(index).ok_or(NoTask::SlabFull)?;
        let generation = (slot.tag.load(Ordering::Relaxed) >> STATE_BITS) as u32;
        // SAFETY: a FREE slot belongs to the allocating thread until it is queued.
        unsafe {
            let buf = &mut *slot.request.get();
            buf.clear();
            match req {
                Request::Copy(bytes) => {
                    // Room for the NUL too: a push into a full Vec would double it. Without
                    // memory the call fails ("no memory"), it does not abort the worker.
                    if buf.try_reserve(bytes.len() + 1).is_err() {
                        give_back(index);
                        return Err(NoTask::NoMemory);
                    }
                    buf.extend_from_slice(bytes);
                    buf.push(0);
                    *slot.lent.get() = (ptr::null(), 0);
                }
                Request::Lent { ptr, len } => *slot.lent.get() = (ptr, len),
            }
            *slot.response.get() = Response {
                rc: 0,
                data: ptr::null_mut(),
                len: 0,
                copied: false,
            };
            *slot.side.get() = WaiterSide {
                waiter: Waiter::Waiting,
                sem,
                owner: ptr::null_mut(),
                prev: None,
                next: None,
                is_stream: false,
                reader_waiting: false,
                chunk: Vec::new(),
                anchored: false,
            };
        }
        slot.queue
            .store((queue as *const RequestQueue).cast_mut(), Ordering::Relaxed);
        slot.cancelled.store(false, Ordering::Relaxed);
        slot.direct.store(UNWATCHED, Ordering::Relaxed);
        slot.deadline_ns.store(deadline_ns, Ordering::Relaxed);
        slot.posted_ns.store(now_ns, Ordering::Relaxed);
        slot.taken_ns.store(0, Ordering::Relaxed);
        slot.answered_ns.store(0, Ordering::Relaxed);
        slot.tag.store(tag(generation, QUEUED), Ordering::Release);
        Ok(TaskPtr {
            slot: NonNull::from(slot),
            index: index as u32,
            generation,
        })
    }

    /// The handle given to runtimes and Lua: an address in the module's reserved range
    /// (never NULL, never a small integer) that encodes the slot and its generation.
    pub fn handle(self) -> *mut c_void {
        match handle_space::get() {
            Ok(space) => space.encode(self.index, self.generation) as *mut c_void,
            // Unreachable: a task exists only once the range was reserved.
            Err(_) => ptr::null_mut(),
        }
    }

    /// The task behind a handle, if the handle is still current (not answered-and-freed).
    pub fn from_handle(h: *mut c_void) -> Option<TaskPtr> {
        let (index, generation) = handle_space::get().ok()?.decode(h as usize)?;
        let index = index as usize;
        let slot = slot_at(index)?;
        let live = slot.tag.load(Ordering::Acquire);
        if (live >> STATE_BITS) as u32 != generation || live & STATE_MASK == FREE {
            return None;
        }
        Some(TaskPtr {
            slot: NonNull::from(slot),
            index: index as u32,
            generation,
        })
    }

    fn slot(&self) -> &'static Slot {
        // SAFETY: slots are never freed.
        unsafe { &*self.slot.as_ptr() }
    }

    fn state(self) -> u64 {
        self.slot().tag.load(Ordering::Acquire)
    }

    /// The queue the task was posted to.
    pub fn queue(self) -> Option<&'static RequestQueue> {
        let q = self.slot().queue.load(Ordering::Acquire);
        // SAFETY: queues are never freed (unloaded ones are retired for good).
        (!q.is_null()).then(|| unsafe { &*q })
    }

    /// Runtime side: notes the calling thread as a user of the task's runtime library, if
    /// the runtime is unpinned (see `unpin`).
    pub fn note_runtime_thread(self) {
        if let Some(users) = self.queue().and_then(RequestQueue::thread_users) {
            users.note_current_thread();
        }
    }

    /// Worker side: the caller gave up on the answer. True if a runtime holds the task now
    /// (it may want to hear of it); a task still queued is answered "cancelled" by the queue
    /// instead of being handed out.
    pub fn cancel(self) -> bool {
        // SeqCst with `mark_taken` and `is_cancelled`: of "flag set, then state read" here
        // and "state set, then flag read" in the queue, one sees the other's write, so a task
        // is either never handed out or announced (never handed out unannounced).
        self.slot().cancelled.store(true, Ordering::SeqCst);
        self.slot().tag.load(Ordering::SeqCst) == tag(self.generation, TAKEN)
    }

    /// Any thread: whether the caller gave up on the answer. Meaningful until the task is
    /// answered (then the slot may serve another call).
    pub fn is_cancelled(self) -> bool {
        self.slot().cancelled.load(Ordering::SeqCst)
    }

    /// Any thread: when the caller stops waiting (CLOCK_MONOTONIC ns), 0 for never.
    pub fn deadline_ns(self) -> u64 {
        self.slot().deadline_ns.load(Ordering::Relaxed)
    }

    /// Worker side, before the task is queued: its answer comes as a stream.
    pub fn set_stream(self, stream: Arc<Stream>) {
        *self.slot().stream.lock().unwrap_or_else(|e| e.into_inner()) = Some(stream);
    }

    /// Any thread: the task's stream, if it is a stream call.
    pub fn stream(self) -> Option<Arc<Stream>> {
        self.slot()
            .stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the task still is the one this pointer was made for (not freed since).
    pub fn is_current(self) -> bool {
        let live = self.state();
        (live >> STATE_BITS) as u32 == self.generation && live & STATE_MASK != FREE
    }

    /// Whether a runtime holds the task (taken, not answered).
    pub fn is_taken(self) -> bool {
        self.state() == tag(self.generation, TAKEN)
    }

    /// Worker side, before the task is queued: the worker will look for the answer in the
    /// slot itself (waiting inside the call), so a responder need not hand it back through
    /// the done-queue, whose push, pop and wake-up flag are cache lines more to move between
    /// the two CPUs. Ends with [`TaskPtr::unwatch`] or a true [`TaskPtr::answered_directly`].
    pub fn watch(self) {
        self.slot().direct.store(WATCHED, Ordering::Relaxed);
    }

    /// Worker side: whether the answer is in the slot, handed over directly (the watch
    /// is over then: the worker owns the answer, as if it had popped it).
    pub fn answered_directly(self) -> bool {
        let slot = self.slot();
        if slot.direct.load(Ordering::Acquire) == ANSWERED_DIRECTLY {
            slot.direct.store(UNWATCHED, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Worker side: stops watching. True if the answer came directly meanwhile (then the
    /// worker owns it); false: it will come through the done-queue.
    pub fn unwatch(self) -> bool {
        let slot = self.slot();
        match slot.direct.compare_exchange(WATCHED, UNWATCHED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => false,
            Err(ANSWERED_DIRECTLY) => {
                slot.direct.store(UNWATCHED, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    /// Responder side, after a successful [`TaskPtr::respond`]: true if the worker watches
    /// the slot and takes the answer from there (do not push it to the done-queue).
    pub fn hand_to_watcher(self) -> bool {
        self.slot()
            .direct
            .compare_exchange(WATCHED, ANSWERED_DIRECTLY, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Whether the task still waits in its queue for a runtime thread to take it.
    pub fn is_queued(self) -> bool {
        self.state() == tag(self.generation, QUEUED)
    }

    /// Runtime side: the queue handed this task to a runtime at `now_ns` (0: not stamped).
    pub fn mark_taken(self, now_ns: u64) {
        self.slot().taken_ns.store(now_ns, Ordering::Relaxed);
        // SeqCst: see `cancel`.
        self.slot()
            .tag
            .store(tag(self.generation, TAKEN), Ordering::SeqCst);
    }

    /// Runtime side: the request bytes (without the trailing NUL) and a pointer to them;
    /// None if the task is not (or no longer) in a runtime's hands.
    pub fn request(self) -> Option<(*const c_char, usize)> {
        if self.state() != tag(self.generation, TAKEN) {
            return None;
        }
        // SAFETY: while TAKEN the request buffer (or the lent pointer) is read-only; the
        // worker rewrites it only after the task was answered and freed, and a lender keeps
        // lent bytes until then.
        unsafe {
            let (lent, len) = *self.slot().lent.get();
            if !lent.is_null() {
                return Some((lent.cast(), len));
            }
            let req = &*self.slot().request.get();
            Some((req.as_ptr().cast(), req.len() - 1))
        }
    }

    /// Worker side: whether the request is lent rather than copied.
    pub fn is_lent(self) -> bool {
        // SAFETY: written only by `new` and `free`, on the worker thread that asks.
        !unsafe { (*self.slot().lent.get()).0 }.is_null()
    }

    /// Runtime side: stores the answer. Fails (and stores nothing) if the task was not
    /// taken by a runtime, was answered already, or was freed since.
    pub fn respond(self, rc: c_int, data: *mut c_char, len: usize) -> Result<(), NotTaken> {
        let slot = self.claim_answer()?;
        // SAFETY: the claim made this thread the only writer; the worker reads the response
        // only after the answer is handed to it (slot or done-queue).
        unsafe { *slot.response.get() = Response { rc, data, len, copied: false } };
        self.stamp_answered();
        Ok(())
    }

    /// Runtime side: stores a copy of the answer `bytes` (None: a NULL answer, nil in Lua)
    /// in the slot's own buffer, reused from call to call: no allocation for the runtime to
    /// make and the worker to free (on another thread, where glibc takes the owning arena's
    /// lock). Without memory for the copy the answer is "no memory" (`RC_NO_MEMORY`, no
    /// body). Fails as `respond` does, storing nothing.
    pub fn respond_copy(self, rc: c_int, bytes: Option<&[u8]>) -> Result<(), NotTaken> {
        let slot = self.claim_answer()?;
        // SAFETY: as in `respond`; the answer buffer is the slot's, touched by the one
        // responder between the claim and the hand-over, and by the worker after it.
        unsafe {
            let response = match bytes {
                None => Response { rc, data: ptr::null_mut(), len: 0, copied: false },
                Some(bytes) => {
                    let buf = &mut *slot.answer.get();
                    buf.clear();
                    if buf.try_reserve_exact(bytes.len()).is_err() {
                        // No memory for the copy: "no memory", never an abort of the worker.
                        Response { rc: resty_ffi_abi::rc::NO_MEMORY, data: ptr::null_mut(), len: 0, copied: false }
                    } else {
                        buf.extend_from_slice(bytes);
                        Response { rc, data: buf.as_mut_ptr().cast(), len: bytes.len(), copied: true }
                    }
                }
            };
            *slot.response.get() = response;
        }
        self.stamp_answered();
        Ok(())
    }

    /// Claims the right to write the answer (TAKEN -> DONE); a second answer loses here.
    fn claim_answer(self) -> Result<&'static Slot, NotTaken> {
        let slot = self.slot();
        slot.tag
            .compare_exchange(
                tag(self.generation, TAKEN),
                tag(self.generation, DONE),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map_err(|_| NotTaken)?;
        Ok(slot)
    }

    fn stamp_answered(self) {
        if crate::telemetry::enabled() {
            self.slot()
                .answered_ns
                .store(crate::telemetry::monotonic_ns(), Ordering::Relaxed);
        }
    }

    /// Worker side, once the task came back: when it was posted, taken and answered (0: not
    /// stamped).
    pub fn times(self) -> (u64, u64, u64) {
        let slot = self.slot();
        (
            slot.posted_ns.load(Ordering::Relaxed),
            slot.taken_ns.load(Ordering::Relaxed),
            slot.answered_ns.load(Ordering::Relaxed),
        )
    }

    /// Worker side: the answer (rc, data, len); valid until [`TaskPtr::free`].
    pub fn response(self) -> (c_int, *const c_char, usize) {
        // SAFETY: called by the worker after the task came back through the done-queue,
        // which orders the runtime's write before this read.
        let r = unsafe { &*self.slot().response.get() };
        (r.rc, r.data, r.len)
    }

    /// Worker side: the waiter bookkeeping.
    ///
    /// # Safety
    /// Worker thread only, and no other reference to the side may be alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn side(&self) -> &mut WaiterSide {
        &mut *self.slot().side.get()
    }

    /// Frees the task: the runtime's response is freed, the slot's generation moves on
    /// (so this handle is refused from now on) and the slot goes back to the free list.
    ///
    /// # Safety
    /// The task must not be in any queue and no runtime may still use its request.
    pub unsafe fn free(self) {
        let slot = self.slot();
        let resp = &mut *slot.response.get();
        if !resp.data.is_null() && !resp.copied {
            libc::free(resp.data.cast());
        }
        resp.data = ptr::null_mut();
        resp.copied = false;
        let answer = &mut *slot.answer.get();
        if answer.capacity() > KEEP_ANSWER_CAPACITY {
            *answer = Vec::new();
        }
        let req = &mut *slot.request.get();
        if req.capacity() > KEEP_REQUEST_CAPACITY {
            *req = Vec::new();
        }
        *slot.lent.get() = (ptr::null(), 0);
        let side = &mut *slot.side.get();
        if side.is_stream {
            // A sender still waiting holds its own clone: it sees the cancel, not freed memory.
            if let Some(stream) = slot.stream.lock().unwrap_or_else(|e| e.into_inner()).take() {
                stream.cancel();
            }
            side.chunk = Vec::new();
            side.is_stream = false;
        }
        // Generations count modulo what a handle can carry (at least 4096 of them).
        let mask = handle_space::get().map_or(0, |s| s.generation_mask());
        slot.tag.store(
            tag(self.generation.wrapping_add(1) & mask, FREE),
            Ordering::Release,
        );
        give_back(self.index as usize);
    }
}

fn tag(generation: u32, state: u64) -> u64 {
    (u64::from(generation) << STATE_BITS) | state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(req: &[u8]) -> TaskPtr {
        static QUEUE: std::sync::OnceLock<RequestQueue> = std::sync::OnceLock::new();
        let q = QUEUE.get_or_init(|| RequestQueue::new(16, false));
        TaskPtr::new(req, ptr::null_mut(), q, 0, 0).unwrap()
    }

    #[test]
    fn a_lent_request_is_read_in_place_and_forgotten_when_freed() {
        static QUEUE: std::sync::OnceLock<RequestQueue> = std::sync::OnceLock::new();
        let q = QUEUE.get_or_init(|| RequestQueue::new(16, false));
        let bytes = b"lent bytes\0";
        let t = TaskPtr::with_request(
            Request::Lent {
                ptr: bytes.as_ptr(),
                len: bytes.len() - 1,
            },
            ptr::null_mut(),
            q,
            0,
            0,
        )
        .unwrap();
        assert!(t.is_lent());
        t.mark_taken(0);
        let (p, len) = t.request().unwrap();
        assert_eq!((p.cast::<u8>(), len), (bytes.as_ptr(), 10), "no copy");
        unsafe { t.free() };
        // The slot's next call copies again.
        let n = new(b"copy");
        assert!(!n.is_lent());
        n.mark_taken(0);
        assert_eq!(n.request().unwrap().1, 4);
        unsafe { n.free() };
    }

    #[test]
    fn request_is_copied_and_nul_terminated() {
        let t = new(b"a\0b");
        assert!(t.request().is_none(), "not taken yet");
        t.mark_taken(0);
        let (p, len) = t.request().unwrap();
        assert_eq!(len, 3);
        // SAFETY: the buffer has len + 1 bytes.
        let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len + 1) };
        assert_eq!(bytes, b"a\0b\0");
        unsafe { t.free() };
    }

    #[test]
    fn a_large_copied_request_takes_its_size_not_double() {
        let big = vec![b'x'; 100 * 1024];
        let t = new(&big);
        // SAFETY: the task is ours (not queued anywhere).
        let cap = unsafe { (*t.slot().request.get()).capacity() };
        assert!(cap < 2 * big.len(), "{cap}");
        unsafe { t.free() };
    }

    #[test]
    fn respond_only_once_and_only_after_take() {
        let t = new(b"x");
        assert!(t.respond(0, ptr::null_mut(), 0).is_err());
        t.mark_taken(0);
        assert!(t.respond(7, ptr::null_mut(), 0).is_ok());
        assert!(t.respond(8, ptr::null_mut(), 0).is_err());
        assert_eq!(t.response().0, 7);
        unsafe { t.free() };
    }

    #[test]
    fn a_stale_handle_is_refused_after_the_slot_is_reused() {
        let t = new(b"old");
        let h = t.handle();
        assert_eq!(TaskPtr::from_handle(h), Some(t));
        unsafe { t.free() };
        assert_eq!(TaskPtr::from_handle(h), None);
        // Reuse slots until this one comes back: the old handle still does not match.
        let mut reused = Vec::new();
        loop {
            let n = new(b"new");
            let same = n.index == t.index;
            reused.push(n);
            if same {
                break;
            }
        }
        let n = *reused.last().unwrap();
        n.mark_taken(0);
        assert_eq!(TaskPtr::from_handle(h), None);
        assert!(TaskPtr::from_handle(n.handle()).is_some());
        for r in reused {
            unsafe { r.free() };
        }
        assert!(TaskPtr::from_handle(ptr::null_mut()).is_none());
        assert!(TaskPtr::from_handle(usize::MAX as *mut c_void).is_none());
    }

    #[test]
    fn handles_are_addresses_no_runtime_mistakes_for_bad_pointers() {
        let t = new(b"h");
        let h = t.handle() as usize;
        // Go refuses pointers below 4096 on goroutine stacks; stay far above the zero page.
        assert!(h >= 64 * 1024, "{h:#x}");
        assert_eq!(TaskPtr::from_handle(t.handle()), Some(t));
        unsafe { t.free() };
    }

    #[test]
    fn a_watched_task_is_answered_in_its_slot_and_an_unwatched_one_through_the_queue() {
        // Watched: the responder hands the answer over in the slot, once.
        let t = new(b"w");
        t.watch();
        t.mark_taken(0);
        assert!(!t.answered_directly(), "not answered yet");
        t.respond(3, ptr::null_mut(), 0).unwrap();
        assert!(t.hand_to_watcher());
        assert!(t.answered_directly());
        assert!(!t.answered_directly(), "taken once");
        assert!(!t.unwatch(), "the watch ended with the answer");
        assert_eq!(t.response().0, 3);
        unsafe { t.free() };

        // The watch ended first: the answer goes through the done-queue.
        let t = new(b"u");
        t.watch();
        assert!(!t.unwatch());
        t.mark_taken(0);
        t.respond(0, ptr::null_mut(), 0).unwrap();
        assert!(!t.hand_to_watcher());
        assert!(!t.answered_directly());
        unsafe { t.free() };

        // Answered while the worker was deciding: unwatch finds the answer.
        let t = new(b"r");
        t.watch();
        t.mark_taken(0);
        t.respond(0, ptr::null_mut(), 0).unwrap();
        assert!(t.hand_to_watcher());
        assert!(t.unwatch());
        assert!(!t.unwatch());
        unsafe { t.free() };

        // A reused slot starts unwatched.
        let t = new(b"n");
        t.mark_taken(0);
        t.respond(0, ptr::null_mut(), 0).unwrap();
        assert!(!t.hand_to_watcher());
        unsafe { t.free() };
    }

    #[test]
    fn free_releases_malloced_response() {
        let t = new(b"");
        t.mark_taken(0);
        // SAFETY: plain malloc; the task frees it.
        let data = unsafe { libc::malloc(4) }.cast::<c_char>();
        t.respond(0, data, 4).unwrap();
        unsafe { t.free() };
    }

    #[test]
    fn a_copied_answer_lives_in_the_slot_which_keeps_a_small_buffer_only() {
        let t = new(b"");
        assert!(t.respond_copy(0, Some(b"early")).is_err(), "not taken yet");
        t.mark_taken(0);
        let mut mine = b"copied".to_vec();
        t.respond_copy(3, Some(&mine)).unwrap();
        mine.fill(b'X');
        assert!(t.respond_copy(0, Some(b"second")).is_err());
        let (rc, p, len) = t.response();
        // SAFETY: the answer stays valid until free.
        assert_eq!((rc, unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }), (3, &b"copied"[..]));
        let slot = t.slot();
        unsafe { t.free() };
        // SAFETY: the slot is free and not handed out again in this test.
        let kept = unsafe { (*slot.answer.get()).capacity() };
        assert!(kept >= 6 && kept <= KEEP_ANSWER_CAPACITY);

        let t = new(b"");
        t.mark_taken(0);
        t.respond_copy(0, None).unwrap();
        assert!(t.response().1.is_null(), "NULL stays NULL (nil in Lua)");
        unsafe { t.free() };

        let t = new(b"");
        t.mark_taken(0);
        t.respond_copy(0, Some(&vec![7u8; KEEP_ANSWER_CAPACITY + 1])).unwrap();
        assert_eq!(t.response().2, KEEP_ANSWER_CAPACITY + 1);
        let slot = t.slot();
        unsafe { t.free() };
        // SAFETY: as above.
        assert!(unsafe { (*slot.answer.get()).capacity() } <= KEEP_ANSWER_CAPACITY, "a big buffer is let go");
    }
}
#[cfg(test)]
mod layout {
    use super::Slot;
    use std::mem::offset_of;

    #[test]
    fn the_parts_each_thread_writes_sit_on_lines_of_their_own() {
        let line = |offset: usize| offset / 128;
        let direct = line(offset_of!(Slot, direct));
        let posted = [offset_of!(Slot, tag), offset_of!(Slot, request), offset_of!(Slot, lent),
            offset_of!(Slot, queue), offset_of!(Slot, deadline_ns), offset_of!(Slot, posted_ns),
            offset_of!(Slot, cancelled)].map(line);
        let answered = [offset_of!(Slot, response), offset_of!(Slot, answer),
            offset_of!(Slot, taken_ns), offset_of!(Slot, answered_ns)].map(line);
        let worker = [offset_of!(Slot, side), offset_of!(Slot, stream)].map(line);
        assert!(posted.iter().all(|&l| l == posted[0] && l != direct));
        assert!(answered.iter().all(|&l| l == answered[0] && l != posted[0] && l != direct));
        assert!(worker.iter().all(|&l| l > answered[0]));
    }
}
