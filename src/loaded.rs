//! The worker's loaded runtimes, one per (lib, cfg), shared by every Lua VM of the worker.
//!
//! Usually a worker has one Lua VM. With `lua_code_cache off` every request has its own, and
//! each one's `load` must find the runtime already running instead of starting it again. So
//! the runtime lives here, not in a VM: a VM holds a counted reference (`Rc::into_raw`), and
//! the end of a VM (`ffi.gc`) only drops that reference. An explicit unload stops the runtime
//! for every VM (their calls then get "runtime unloaded"); worker exit stops them all.
//! Worker thread only.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_int, CStr};
use std::rc::Rc;
use std::sync::Arc;

use crate::queue::RequestQueue;
use crate::runtime::Runtime;

type Key = (String, Option<Vec<u8>>);

/// A loaded runtime as Lua VMs share it.
pub struct Loaded {
    key: Key,
    max_queue: usize,
    flags: c_int,
    queue: Arc<RequestQueue>,
    /// None once unloaded.
    runtime: RefCell<Option<Runtime>>,
}

thread_local! {
    static LOADED: RefCell<HashMap<Key, Rc<Loaded>>> = RefCell::new(HashMap::new());
}

impl Loaded {
    /// The runtime's queue (it refuses pushes once the runtime is unloaded).
    pub fn queue(&self) -> &Arc<RequestQueue> {
        &self.queue
    }
}

/// The running runtime for (lib, cfg), loading it if needed. Options must match the ones it
/// was loaded with.
pub fn load(lib: &str, cfg: Option<&CStr>, max_queue: usize, flags: c_int) -> Result<Rc<Loaded>, String> {
    let key: Key = (lib.to_string(), cfg.map(|c| c.to_bytes().to_vec()));
    if let Some(found) = LOADED.with(|m| m.borrow().get(&key).cloned()) {
        if found.max_queue != max_queue || found.flags != flags {
            return Err(format!(
                "runtime {lib} is loaded already with other options (a runtime is loaded once \
                 per worker, lib and cfg): load it with the same options, or unload it first"
            ));
        }
        return Ok(found);
    }
    let rt = Runtime::load(lib, cfg, max_queue, flags)?;
    let loaded = Rc::new(Loaded {
        key: key.clone(),
        max_queue,
        flags,
        queue: rt.queue().clone(),
        runtime: RefCell::new(Some(rt)),
    });
    LOADED.with(|m| m.borrow_mut().insert(key, loaded.clone()));
    Ok(loaded)
}

/// Stops the runtime for every VM; a later load of its (lib, cfg) starts a new one.
pub fn unload(loaded: &Rc<Loaded>) {
    let Some(rt) = loaded.runtime.borrow_mut().take() else {
        return;
    };
    LOADED.with(|m| {
        let mut m = m.borrow_mut();
        if m.get(&loaded.key).is_some_and(|l| Rc::ptr_eq(l, loaded)) {
            m.remove(&loaded.key);
        }
    });
    rt.unload();
}

/// The numbers of every loaded runtime, as `telemetry::write_text` writes them.
pub fn stats_text() -> Vec<u8> {
    LOADED.with(|m| {
        let m = m.borrow();
        let mut all: Vec<&Rc<Loaded>> = m.values().collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        crate::telemetry::write_text(all.iter().map(|l| {
            (
                l.key.0.as_bytes(),
                l.key.1.as_deref(),
                &l.queue.stats,
                l.queue.depth() as u64,
            )
        }))
    })
}

/// Worker exit: stops every runtime still loaded.
pub fn unload_all() {
    let all: Vec<Rc<Loaded>> = LOADED.with(|m| m.borrow_mut().drain().map(|(_, l)| l).collect());
    for loaded in &all {
        unload(loaded);
    }
}
