//! Loading weights takes `model_load_ms`: one load at a time (upstream's init lock), no job runs while one
//! is under way, and on the current server the first job loads what nothing has loaded yet, paying for it
//! while its task still reads as queued.

use std::sync::Arc;

use super::{Mode, Shared};

/// Waits until the models a job needs are loaded, loading them if nothing has.
pub(crate) async fn ready_for_job(shared: &Arc<Shared>) {
    let _one_at_a_time = shared.loader.lock().await;
    if shared.mode == Mode::Current && !shared.lock().models.initialized() {
        tracing::info!("lazy model initialization on the first job");
        tokio::time::sleep(shared.model_load).await;
        shared.lock().models.load_default();
    }
}

/// Runs `apply` on the models after a load's time has passed, holding off jobs and other loads meanwhile.
pub(crate) async fn load<T>(
    shared: &Arc<Shared>,
    apply: impl FnOnce(&mut super::models::Models) -> T,
) -> T {
    let _one_at_a_time = shared.loader.lock().await;
    tokio::time::sleep(shared.model_load).await;
    apply(&mut shared.lock().models)
}
