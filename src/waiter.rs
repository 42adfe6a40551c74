//! The life cycle of a call's waiting side, as one pure function: `step(state, event)` gives
//! the next state and what the worker must do. `worker.rs` only carries the actions out;
//! ARCHITECTURE.md's "who frees" table is this file's table, and the tests below check it row
//! by row.
//!
//! A task has two owners over its life: the runtime between `task_poll` and `respond` (the
//! task's atomic state, `task.rs`), and on the worker thread its waiter side, tracked here.
//! The waiter side decides who frees the task: the coroutine that reads the answer, or the
//! worker when an answer comes back that nobody waits for any more.

/// Where the waiting coroutine is, from the worker's point of view.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Waiter {
    /// A coroutine waits on `sem`; the answer has not come back yet.
    Waiting,
    /// The answer came back and `sem` was posted (or the caller spun for it and reads it
    /// without waiting); the coroutine has not read it yet.
    Posted,
    /// Nobody waits any more (timeout, aborted request); free the task when it comes back.
    Gone,
    /// The worker is exiting and gave up on the answer: `sem` was posted without one. The
    /// coroutine learns it when it reads the result; an answer arriving first makes it Posted.
    Expired,
}

/// What happens to a waiting call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// The runtime's answer came back (popped from the done-queue). `caller_awake`: the
    /// caller is not asleep on its semaphore (it spins for the answer inside the call,
    /// `worker::wait_briefly`, or it reads a stream and is busy between two reads) and
    /// needs no post: it looks for the answer itself.
    Answered { caller_awake: bool },
    /// The coroutine reads the result (its semaphore was posted, or its spin saw the answer).
    Read,
    /// The coroutine read the answer and is done with it.
    Finished,
    /// The coroutine stopped waiting without the answer: timeout, or the wait failed.
    Abandoned,
    /// The request (and with it the coroutine) is being freed: client abort, ngx.exit, the
    /// end of a timer, a killed light thread's request ending.
    RequestFreed,
    /// The worker is exiting and its deadline for waiting calls passed.
    ExitDeadline,
}

/// What the worker does, in this order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    /// Post the task's semaphore: lua-nginx-module resumes the coroutine.
    PostSema,
    /// Take the semaphore off the task and give it back: reusable if `clean` (its post, if
    /// any, was consumed by its waiter), else to the reaper (a post may still be in flight).
    ReleaseSem { clean: bool },
    /// Take the task off its request's list (the request no longer answers for it).
    Unlink,
    /// Free the task: unlink it, give back its semaphore if it still has one (clean), free
    /// the slot and its answer.
    Free,
    /// Log that an answer came back for a task that already had one.
    ReportDuplicate,
    /// Tell the runtime the caller gave up: a queued task is answered "cancelled" by its
    /// queue, a taken one is announced to the runtime (`cancel_poll`, `task_cancelled`).
    Cancel,
}

/// The outcome of one event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Step {
    pub next: Waiter,
    pub actions: &'static [Action],
    /// For `Read` and `Abandoned`: the answer is there for the coroutine to read (then it
    /// must finish the task); false: there is none and the task is no longer the
    /// coroutine's.
    pub answer_readable: bool,
}

const fn to(next: Waiter, actions: &'static [Action], answer_readable: bool) -> Step {
    Step {
        next,
        actions,
        answer_readable,
    }
}

/// The one table of the waiter's life cycle.
pub const fn step(state: Waiter, event: Event) -> Step {
    use Action::*;
    use Event::*;
    use Waiter::*;
    match (state, event) {
        // The answer comes back.
        (Waiting, Answered { caller_awake: true }) => to(Posted, &[], false),
        (Waiting, Answered { caller_awake: false }) => to(Posted, &[PostSema], false),
        // Nobody waits: the worker frees it now.
        (Gone, Answered { .. }) => to(Gone, &[Free], false),
        // The exit deadline posted the semaphore already; the coroutine reads the answer.
        (Expired, Answered { .. }) => to(Posted, &[], false),
        (Posted, Answered { .. }) => to(Posted, &[ReportDuplicate], false),

        // The coroutine reads: the answer, or "worker exiting" (its post was consumed, so
        // the semaphore is clean; the task is left to be freed when the answer comes).
        (Posted, Read) => to(Posted, &[], true),
        (Expired, Read) => to(Gone, &[ReleaseSem { clean: true }, Unlink], false),
        (Waiting | Gone, Read) => to(state, &[], false),

        (Posted, Finished) => to(Posted, &[Free], false),
        (Waiting | Gone | Expired, Finished) => to(state, &[], false),

        // Timeout or a failed wait. The answer came in the same tick: read it after all;
        // the semaphore was posted and not consumed, so it is dirty.
        (Posted, Abandoned) => to(Posted, &[ReleaseSem { clean: false }], true),
        (Expired, Abandoned) => to(Gone, &[ReleaseSem { clean: false }, Unlink], false),
        (Waiting, Abandoned) => to(Gone, &[Unlink, Cancel], false),
        (Gone, Abandoned) => to(Gone, &[Unlink], false),

        // The request goes away with its coroutine.
        (Posted, RequestFreed) => to(Posted, &[ReleaseSem { clean: false }, Free], false),
        (Expired, RequestFreed) => to(Gone, &[ReleaseSem { clean: false }], false),
        (Waiting, RequestFreed) => to(Gone, &[Cancel], false),
        (Gone, RequestFreed) => to(Gone, &[], false),

        // The worker is exiting and stops waiting: the coroutine learns it on its post.
        (Waiting, ExitDeadline) => to(Expired, &[PostSema, Cancel], false),
        (Posted | Gone | Expired, ExitDeadline) => to(state, &[], false),
    }
}

#[cfg(test)]
mod tests {
    use super::Action::*;
    use super::Event::*;
    use super::Waiter::*;
    use super::*;

    fn check(state: Waiter, event: Event, next: Waiter, actions: &[Action], readable: bool) {
        let s = step(state, event);
        assert_eq!(
            (s.next, s.actions, s.answer_readable),
            (next, actions, readable),
            "{state:?} --{event:?}-->"
        );
    }

    const ANSWER: Event = Answered { caller_awake: false };
    const ANSWER_SPUN: Event = Answered { caller_awake: true };

    // ARCHITECTURE.md, "Where a waiter can vanish, and who frees the task", row by row.

    #[test]
    fn normal_answer_is_freed_by_lua() {
        check(Waiting, ANSWER, Posted, &[PostSema], false);
        check(Posted, Read, Posted, &[], true);
        check(Posted, Finished, Posted, &[Free], false);
    }

    #[test]
    fn answer_read_inside_the_call_needs_no_post() {
        check(Waiting, ANSWER_SPUN, Posted, &[], false);
        check(Posted, Read, Posted, &[], true);
    }

    #[test]
    fn timeout_before_the_answer_is_freed_when_it_comes() {
        check(Waiting, Abandoned, Gone, &[Unlink, Cancel], false);
        check(Gone, ANSWER, Gone, &[Free], false);
    }

    #[test]
    fn timeout_with_the_answer_in_the_same_tick_is_read_and_the_semaphore_is_dirty() {
        check(Posted, Abandoned, Posted, &[ReleaseSem { clean: false }], true);
        check(Posted, Finished, Posted, &[Free], false);
    }

    #[test]
    fn request_freed_marks_gone_or_frees_an_unread_answer() {
        check(Waiting, RequestFreed, Gone, &[Cancel], false);
        check(Gone, ANSWER, Gone, &[Free], false);
        check(Posted, RequestFreed, Posted, &[ReleaseSem { clean: false }, Free], false);
    }

    #[test]
    fn exit_deadline_ends_the_wait_and_a_late_answer_is_freed() {
        check(Waiting, ExitDeadline, Expired, &[PostSema, Cancel], false);
        check(Expired, Read, Gone, &[ReleaseSem { clean: true }, Unlink], false);
        check(Gone, ANSWER, Gone, &[Free], false);
    }

    #[test]
    fn exit_deadline_then_the_answer_is_read_as_usual() {
        check(Expired, ANSWER, Posted, &[], false);
        check(Posted, Read, Posted, &[], true);
    }

    #[test]
    fn exit_deadline_then_timeout_or_request_freed_leaves_a_dirty_semaphore() {
        check(Expired, Abandoned, Gone, &[ReleaseSem { clean: false }, Unlink], false);
        check(Expired, RequestFreed, Gone, &[ReleaseSem { clean: false }], false);
    }

    #[test]
    fn a_second_answer_is_reported_and_changes_nothing() {
        check(Posted, ANSWER, Posted, &[ReportDuplicate], false);
    }

    #[test]
    fn events_that_cannot_apply_change_nothing() {
        for state in [Waiting, Gone, Expired] {
            check(state, Finished, state, &[], false);
        }
        for state in [Posted, Gone, Expired] {
            check(state, ExitDeadline, state, &[], false);
        }
        check(Gone, Abandoned, Gone, &[Unlink], false);
        check(Gone, RequestFreed, Gone, &[], false);
    }

    #[test]
    fn the_runtime_hears_of_every_caller_that_gives_up_before_the_answer() {
        for ev in [Abandoned, RequestFreed, ExitDeadline] {
            assert!(step(Waiting, ev).actions.contains(&Cancel), "{ev:?}");
        }
        // Once answered (or already given up), nothing to cancel.
        for state in [Posted, Gone, Expired] {
            for ev in [Abandoned, RequestFreed, ExitDeadline] {
                assert!(!step(state, ev).actions.contains(&Cancel), "{state:?} {ev:?}");
            }
        }
    }

    #[test]
    fn every_path_frees_each_task_exactly_once() {
        // Walk every sequence of up to 6 events from Waiting; a task must be freed at most
        // once, never touched after it is freed, and freed whenever the answer came back
        // and nobody waits (Gone after an answer) or the coroutine finished.
        const EVENTS: [Event; 7] =
            [ANSWER, ANSWER_SPUN, Read, Finished, Abandoned, RequestFreed, ExitDeadline];
        fn walk(state: Waiter, answered: bool, freed: bool, depth: usize) {
            if depth == 0 {
                return;
            }
            for ev in EVENTS {
                let is_answer = matches!(ev, Answered { .. });
                if is_answer && answered {
                    // A runtime answers once; a second answer never reaches the waiter
                    // (the task's atomic state refuses it), except as the Posted row above.
                    continue;
                }
                if freed {
                    continue;
                }
                let s = step(state, ev);
                let frees = s.actions.iter().filter(|a| **a == Free).count();
                assert!(frees <= 1, "{state:?} --{ev:?}--> frees twice");
                if frees == 1 {
                    // Freed: either the coroutine finished an answer, or nobody waited.
                    assert!(
                        matches!(ev, Finished | RequestFreed) || state == Gone,
                        "{state:?} --{ev:?}--> frees unexpectedly"
                    );
                }
                walk(s.next, answered || is_answer, frees == 1, depth - 1);
            }
        }
        walk(Waiting, false, false, 6);
    }
}
